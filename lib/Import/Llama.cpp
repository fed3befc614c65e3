//===- Llama.cpp - MLIR for a Llama-architecture decoder ------------------===//
//
// See Llama.h and docs/Import.md. The weights become dense_resource blobs
// registered with the context first (pointing into the mapped file where
// it holds them as used, converted copies otherwise); the decode step is
// then written as MLIR text naming those blobs and parsed, which keeps
// the model's structure readable here and in --compile-to=input.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Llama.h"

#include "lowbit/Import/GGUF.h"
#include "lowbit/Import/Safetensors.h"
#include "lowbit/Numerics/Formats.h"
#include "lowbit/Numerics/Numerics.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Parser/Parser.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

/// A weight as the file holds it; shape row-major ([out, in] for
/// matrices).
struct Weight {
  enum Kind { F32, F16, BF16, GGUFBlocks } kind = F32;
  std::vector<int64_t> shape;
  nx::GGUFKind gguf = nx::GGUFKind::Q4_0;
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;
};

struct Source {
  LlamaConfig config;
  std::map<std::string, Weight> weights; // canonical (GGUF) names
  std::shared_ptr<const uint8_t> mapping;
};

/// GGUF's ggml type numbers of the block formats lowbit knows.
std::optional<nx::GGUFKind> ggufKindOf(uint32_t ggmlType) {
  switch (ggmlType) {
  case 2:
    return nx::GGUFKind::Q4_0;
  case 3:
    return nx::GGUFKind::Q4_1;
  case 6:
    return nx::GGUFKind::Q5_0;
  case 7:
    return nx::GGUFKind::Q5_1;
  case 8:
    return nx::GGUFKind::Q8_0;
  case 10:
    return nx::GGUFKind::Q2_K;
  case 11:
    return nx::GGUFKind::Q3_K;
  case 12:
    return nx::GGUFKind::Q4_K;
  case 13:
    return nx::GGUFKind::Q5_K;
  case 14:
    return nx::GGUFKind::Q6_K;
  case 39:
    return nx::GGUFKind::MXFP4;
  default:
    return std::nullopt;
  }
}

bool loadGGUF(const std::string &path, Source &src, std::string &error) {
  ::lowbit::gguf::File f;
  if (nx::Status s = ::lowbit::gguf::read(path, f); !s.ok()) {
    error = s.message();
    return false;
  }
  src.mapping = f.mapping;
  const ::lowbit::gguf::Value *arch = f.find("general.architecture");
  if (!arch || arch->type != ::lowbit::gguf::ValueType::String) {
    error = path + ": no general.architecture";
    return false;
  }
  if (arch->s != "llama" && arch->s != "mistral") {
    error = path + ": architecture '" + arch->s +
            "' is not a Llama-family decoder (llama, mistral)";
    return false;
  }
  auto integer = [&](const std::string &key, int64_t &out,
                     bool required) -> bool {
    const ::lowbit::gguf::Value *v = f.find(arch->s + "." + key);
    if (!v) {
      if (required)
        error = path + ": missing " + arch->s + "." + key;
      return !required;
    }
    using VT = ::lowbit::gguf::ValueType;
    switch (v->type) {
    case VT::UInt8:
    case VT::UInt16:
    case VT::UInt32:
    case VT::UInt64:
      out = int64_t(v->u);
      return v->u < (uint64_t(1) << 40) ||
             (error = path + ": " + key + " is absurd", false);
    case VT::Int8:
    case VT::Int16:
    case VT::Int32:
    case VT::Int64:
      out = v->i;
      return true;
    default:
      error = path + ": " + arch->s + "." + key + " is not an integer";
      return false;
    }
  };
  auto real = [&](const std::string &key, double &out) {
    const ::lowbit::gguf::Value *v = f.find(arch->s + "." + key);
    if (v && (v->type == ::lowbit::gguf::ValueType::Float32 ||
              v->type == ::lowbit::gguf::ValueType::Float64))
      out = v->f;
  };
  LlamaConfig &c = src.config;
  c.kvHeads = -1;
  int64_t ropeDims = -1;
  if (!integer("embedding_length", c.dim, true) ||
      !integer("block_count", c.layers, true) ||
      !integer("feed_forward_length", c.ffn, true) ||
      !integer("attention.head_count", c.heads, true) ||
      !integer("attention.head_count_kv", c.kvHeads, false) ||
      !integer("context_length", c.contextLength, true) ||
      !integer("rope.dimension_count", ropeDims, false))
    return false;
  if (c.kvHeads < 0)
    c.kvHeads = c.heads;
  real("attention.layer_norm_rms_epsilon", c.rmsEps);
  real("rope.freq_base", c.ropeTheta);
  c.ropeInterleaved = true;
  if (c.heads > 0)
    c.headDim = c.dim / c.heads;
  if (ropeDims >= 0 && ropeDims != c.headDim) {
    error = path + ": partial rotary embeddings (rope.dimension_count " +
            std::to_string(ropeDims) + " of head size " +
            std::to_string(c.headDim) + ") are not supported";
    return false;
  }
  for (const ::lowbit::gguf::TensorInfo &t : f.tensors) {
    Weight w;
    for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it)
      w.shape.push_back(*it);
    w.data = f.data() + f.dataOffset + t.offset;
    w.bytes = t.bytes;
    if (t.type == 0) {
      w.kind = Weight::F32;
    } else if (t.type == 1) {
      w.kind = Weight::F16;
    } else if (t.type == 30) {
      w.kind = Weight::BF16;
    } else if (std::optional<nx::GGUFKind> k = ggufKindOf(t.type)) {
      w.kind = Weight::GGUFBlocks;
      w.gguf = *k;
    } else {
      const char *name = "?";
      ::lowbit::gguf::ggmlTypeInfo(t.type, &name, nullptr, nullptr);
      error = path + ": tensor '" + t.name + "' has type " + name +
              ", which the importer does not read";
      return false;
    }
    src.weights[t.name] = w;
  }
  return true;
}

/// Hugging Face names of a Llama checkpoint -> GGUF's.
std::optional<std::string> canonicalName(StringRef hf) {
  if (hf == "model.embed_tokens.weight")
    return std::string("token_embd.weight");
  if (hf == "model.norm.weight")
    return std::string("output_norm.weight");
  if (hf == "lm_head.weight")
    return std::string("output.weight");
  if (!hf.consume_front("model.layers."))
    return std::nullopt;
  auto [layer, rest] = hf.split('.');
  static const std::pair<const char *, const char *> map[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (auto [from, to] : map)
    if (rest == from)
      return "blk." + layer.str() + "." + to;
  return std::nullopt;
}

bool loadSafetensors(const std::string &path, Source &src, std::string &error) {
  ::lowbit::safetensors::File f;
  if (nx::Status s = ::lowbit::safetensors::read(path, f); !s.ok()) {
    error = s.message();
    return false;
  }
  src.mapping = f.mapping;
  llvm::SmallString<256> cfgPath(llvm::sys::path::parent_path(path));
  llvm::sys::path::append(cfgPath, "config.json");
  auto buf = llvm::MemoryBuffer::getFile(cfgPath);
  if (!buf) {
    error = cfgPath.str().str() + ": " + buf.getError().message() +
            " (a safetensors model needs its config.json beside it)";
    return false;
  }
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buf)->getBuffer());
  if (!json) {
    error = cfgPath.str().str() + ": " + llvm::toString(json.takeError());
    return false;
  }
  const llvm::json::Object *o = json->getAsObject();
  if (!o) {
    error = cfgPath.str().str() + ": not a JSON object";
    return false;
  }
  if (const llvm::json::Array *archs = o->getArray("architectures")) {
    bool ok = false;
    for (const llvm::json::Value &a : *archs)
      if (auto s = a.getAsString())
        ok |= *s == "LlamaForCausalLM" || *s == "MistralForCausalLM";
    if (!ok) {
      error = cfgPath.str().str() +
              ": architectures name no LlamaForCausalLM or "
              "MistralForCausalLM";
      return false;
    }
  }
  LlamaConfig &c = src.config;
  auto integer = [&](const char *key, int64_t &out, bool required) {
    std::optional<int64_t> v = o->getInteger(key);
    if (!v) {
      if (required)
        error = cfgPath.str().str() + ": missing integer '" + key + "'";
      return !required;
    }
    out = *v;
    return true;
  };
  c.kvHeads = -1;
  c.headDim = -1;
  if (!integer("hidden_size", c.dim, true) ||
      !integer("num_hidden_layers", c.layers, true) ||
      !integer("intermediate_size", c.ffn, true) ||
      !integer("num_attention_heads", c.heads, true) ||
      !integer("num_key_value_heads", c.kvHeads, false) ||
      !integer("max_position_embeddings", c.contextLength, true) ||
      !integer("head_dim", c.headDim, false))
    return false;
  if (c.kvHeads < 0)
    c.kvHeads = c.heads;
  if (c.headDim < 0 && c.heads > 0)
    c.headDim = c.dim / c.heads;
  if (auto v = o->getNumber("rms_norm_eps"))
    c.rmsEps = *v;
  if (auto v = o->getNumber("rope_theta"))
    c.ropeTheta = *v;
  if (const llvm::json::Value *scaling = o->get("rope_scaling"))
    if (scaling->kind() != llvm::json::Value::Null) {
      error = cfgPath.str().str() + ": rope_scaling is not supported yet";
      return false;
    }
  c.ropeInterleaved = false;
  for (const ::lowbit::safetensors::TensorInfo &t : f.tensors) {
    std::optional<std::string> name = canonicalName(t.name);
    if (!name) {
      if (StringRef(t.name).ends_with("rotary_emb.inv_freq"))
        continue;
      error = path + ": tensor '" + t.name + "' is not part of a Llama decoder";
      return false;
    }
    Weight w;
    w.shape = t.shape;
    w.data = f.data() + f.dataOffset + t.begin;
    w.bytes = t.end - t.begin;
    using DT = ::lowbit::safetensors::DType;
    if (t.dtype == DT::F32)
      w.kind = Weight::F32;
    else if (t.dtype == DT::F16)
      w.kind = Weight::F16;
    else if (t.dtype == DT::BF16)
      w.kind = Weight::BF16;
    else {
      error = path + ": tensor '" + t.name + "' is " +
              ::lowbit::safetensors::dtypeName(t.dtype) +
              " (the importer reads F32, F16 and BF16)";
      return false;
    }
    src.weights[*name] = w;
  }
  return true;
}

/// Builds the decode step's text and its weights' blobs.
class LlamaBuilder {
public:
  LlamaBuilder(MLIRContext *ctx, Source &src, const LlamaImportOptions &options,
               int64_t maxSeq)
      : ctx(ctx), src(src), c(src.config), options(options), T(maxSeq) {}

  bool build(std::string &text, std::string &error);

private:
  MLIRContext *ctx;
  Source &src;
  const LlamaConfig &c;
  const LlamaImportOptions &options;
  int64_t T;
  std::string body;
  int next = 0;
  std::string error;

public:
  /// The weights by resource key, attached once the text is parsed.
  std::map<std::string, AsmResourceBlob> blobs;

private:
  std::string fresh() { return "%v" + std::to_string(next++); }
  void emit(const std::string &line) { body += "  " + line + "\n"; }

  /// A weight's blob key after registration, or empty (error set).
  std::string blob(const std::string &name, ArrayRef<char> data, size_t align,
                   bool copy);
  const Weight *weight(const std::string &name, ArrayRef<int64_t> shape);
  std::string f32Constant(const std::string &name, ArrayRef<int64_t> shape);
  std::string f32Type(ArrayRef<int64_t> shape);
  std::string rmsNorm(const std::string &x, const std::string &weightName);
  std::string linear(const std::string &x, const std::string &weightName,
                     int64_t out, int64_t in, const std::string &site);
  std::string rope(const std::string &x, int64_t heads, const std::string &posF,
                   const std::string &freqs);
  std::string add(const std::string &a, const std::string &b, int64_t n);

  /// One argument of the KV cache (f32 caches, or a quantized cache's
  /// parts and f32 window), threaded through the layers.
  struct CachePart {
    std::string arg, type, cur;
  };
  std::vector<CachePart> cache;
  void declareCache();
  /// Writes layer l's new keys (key) or values [1, KV, HD] at pos and
  /// returns the layer's [T, KV, HD] f32 view for attention.
  std::string cacheStep(bool key, const std::string &fresh3, int64_t l);
  void insertPart(size_t part, const std::string &v, const std::string &vt,
                  const std::string &offsets, const std::string &sizes);
  std::string extractPart(size_t part, const std::string &offsets,
                          const std::string &sizes, const std::string &rt);
};

static std::string tensorType(ArrayRef<int64_t> shape, StringRef elem) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + elem.str() + ">";
}

static std::string join(ArrayRef<int64_t> v) {
  std::string s;
  for (int64_t x : v)
    s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

/// KIVI's group of tokens (keys are quantized per channel over it).
constexpr int64_t kKiviGroup = 32;

void LlamaBuilder::declareCache() {
  int64_t L = c.layers, K = c.kvHeads, hd = c.headDim;
  const std::string &m = options.kvCache;
  auto part = [&](const std::string &name, ArrayRef<int64_t> shape,
                  StringRef elem) {
    cache.push_back({"%" + name, tensorType(shape, elem), "%" + name});
  };
  if (m == "f32") {
    part("k_cache", {L, T, K, hd}, "f32");
    part("v_cache", {L, T, K, hd}, "f32");
  } else if (m == "int8" || m == "fp8") {
    part("k_codes", {L, T, K, hd}, "i8");
    part("k_scales", {L, T, K, 1}, "f32");
    part("v_codes", {L, T, K, hd}, "i8");
    part("v_scales", {L, T, K, 1}, "f32");
  } else { // int4, int2 (KIVI)
    int64_t bits = m == "int4" ? 4 : 2, cb = hd * bits / 8;
    int64_t groups = T / kKiviGroup;
    part("k_codes", {L, T, K, cb}, "i8");
    part("k_scales", {L, groups, K, hd}, "f32");
    part("k_zero_points", {L, groups, K, hd}, "i32");
    part("k_window", {L, kKiviGroup, K, hd}, "f32");
    part("v_codes", {L, T, K, cb}, "i8");
    part("v_scales", {L, T, K, 1}, "f32");
    part("v_zero_points", {L, T, K, 1}, "i32");
    part("v_window", {L, kKiviGroup, K, hd}, "f32");
  }
}

void LlamaBuilder::insertPart(size_t i, const std::string &v,
                              const std::string &vt, const std::string &offsets,
                              const std::string &sizes) {
  std::string r = fresh();
  emit(r + " = tensor.insert_slice " + v + " into " + cache[i].cur + "[" +
       offsets + "] [" + sizes + "] [1, 1, 1, 1] : " + vt + " into " +
       cache[i].type);
  cache[i].cur = r;
}

std::string LlamaBuilder::extractPart(size_t i, const std::string &offsets,
                                      const std::string &sizes,
                                      const std::string &rt) {
  std::string r = fresh();
  emit(r + " = tensor.extract_slice " + cache[i].cur + "[" + offsets + "] [" +
       sizes + "] [1, 1, 1, 1] : " + cache[i].type + " to " + rt);
  return r;
}

std::string LlamaBuilder::cacheStep(bool key, const std::string &x3,
                                    int64_t l) {
  int64_t K = c.kvHeads, hd = c.headDim;
  std::string ls = std::to_string(l);
  std::string t1 = f32Type({1, K, hd}), tT = f32Type({T, K, hd});
  const std::string &m = options.kvCache;
  if (m == "f32") {
    size_t i = key ? 0 : 1;
    insertPart(i, x3, t1, ls + ", %pi, 0, 0", join({1, 1, K, hd}));
    return extractPart(i, ls + ", 0, 0, 0", join({1, T, K, hd}), tT);
  }
  if (m == "int8" || m == "fp8") {
    // Per token and head: blocks of one head's HD values.
    std::string elem = m == "int8" ? "i8" : "f8E4M3FN";
    auto qt = [&](int64_t n) {
      return "!lowbit.qtensor<" + std::to_string(n) + "x" + std::to_string(K) +
             "x" + std::to_string(hd) + "x" + elem +
             ", per_group<[2 : " + std::to_string(hd) + "]>>";
    };
    size_t ci = key ? 0 : 2, si = ci + 1;
    std::string q = fresh(), parts = fresh();
    emit(q + " = lowbit.quantize " + x3 + " : " + t1 + " -> " + qt(1));
    std::string ct = tensorType({1, K, hd}, "i8"),
                st = tensorType({1, K, 1}, "f32");
    emit(parts + ":2 = lowbit.unpack " + q + " : " + qt(1) + " -> " + ct +
         ", " + st);
    insertPart(ci, parts + "#0", ct, ls + ", %pi, 0, 0", join({1, 1, K, hd}));
    insertPart(si, parts + "#1", st, ls + ", %pi, 0, 0", join({1, 1, K, 1}));
    std::string codes = extractPart(ci, ls + ", 0, 0, 0", join({1, T, K, hd}),
                                    tensorType({T, K, hd}, "i8"));
    std::string scales = extractPart(si, ls + ", 0, 0, 0", join({1, T, K, 1}),
                                     tensorType({T, K, 1}, "f32"));
    std::string packed = fresh(), deq = fresh();
    emit(packed + " = lowbit.pack " + codes + ", " + scales + " : " +
         tensorType({T, K, hd}, "i8") + ", " + tensorType({T, K, 1}, "f32") +
         " -> " + qt(T));
    emit(deq + " = lowbit.dequantize " + packed + " : " + qt(T) + " -> " + tT);
    return deq;
  }
  // KIVI: the window holds the current group in f32; each step the
  // window is quantized into the group's slot (final once the group is
  // complete) and attention reads the dequantized cache with the window
  // over the current group.
  int64_t Gk = kKiviGroup, bits = m == "int4" ? 4 : 2, cb = hd * bits / 8;
  std::string elem = m == "int4" ? "i4" : "i2";
  size_t base = key ? 0 : 4;
  auto qt = [&](int64_t n) {
    std::string blocks = key ? "per_group<[0 : " + std::to_string(Gk) + "]>"
                             : "per_group<[2 : " + std::to_string(hd) + "]>";
    return "!lowbit.qtensor<" + std::to_string(n) + "x" + std::to_string(K) +
           "x" + std::to_string(hd) + "x" + elem + ", " + blocks +
           ", asymmetric>";
  };
  auto sshape = [&](int64_t n) -> SmallVector<int64_t> {
    if (key)
      return {n / Gk, K, hd};
    return {n, K, 1};
  };
  std::string tG = f32Type({Gk, K, hd});
  insertPart(base + 3, x3, t1, ls + ", %kv_r, 0, 0", join({1, 1, K, hd}));
  std::string win =
      extractPart(base + 3, ls + ", 0, 0, 0", join({1, Gk, K, hd}), tG);
  std::string q = fresh(), parts = fresh();
  std::string ct = tensorType({Gk, K, cb}, "i8");
  std::string st = tensorType(sshape(Gk), "f32"),
              zt = tensorType(sshape(Gk), "i32");
  emit(q + " = lowbit.quantize " + win + " : " + tG + " -> " + qt(Gk));
  emit(parts + ":3 = lowbit.unpack " + q + " : " + qt(Gk) + " -> " + ct + ", " +
       st + ", " + zt);
  insertPart(base, parts + "#0", ct, ls + ", %kv_g0, 0, 0",
             join({1, Gk, K, cb}));
  SmallVector<int64_t> ss = sshape(Gk);
  std::string sOff = key ? ls + ", %kv_gi, 0, 0" : ls + ", %kv_g0, 0, 0";
  insertPart(base + 1, parts + "#1", st, sOff, join({1, ss[0], ss[1], ss[2]}));
  insertPart(base + 2, parts + "#2", zt, sOff, join({1, ss[0], ss[1], ss[2]}));
  SmallVector<int64_t> sT = sshape(T);
  std::string codes = extractPart(base, ls + ", 0, 0, 0", join({1, T, K, cb}),
                                  tensorType({T, K, cb}, "i8"));
  std::string scales =
      extractPart(base + 1, ls + ", 0, 0, 0", join({1, sT[0], sT[1], sT[2]}),
                  tensorType(sT, "f32"));
  std::string zps =
      extractPart(base + 2, ls + ", 0, 0, 0", join({1, sT[0], sT[1], sT[2]}),
                  tensorType(sT, "i32"));
  std::string packed = fresh(), deq = fresh(), view = fresh();
  emit(packed + " = lowbit.pack " + codes + ", " + scales + ", " + zps + " : " +
       tensorType({T, K, cb}, "i8") + ", " + tensorType(sT, "f32") + ", " +
       tensorType(sT, "i32") + " -> " + qt(T));
  emit(deq + " = lowbit.dequantize " + packed + " : " + qt(T) + " -> " + tT);
  emit(view + " = tensor.insert_slice " + win + " into " + deq +
       "[%kv_g0, 0, 0] [" + join({Gk, K, hd}) + "] [1, 1, 1] : " + tG +
       " into " + tT);
  return view;
}

std::string LlamaBuilder::f32Type(ArrayRef<int64_t> shape) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + "f32>";
}

std::string LlamaBuilder::blob(const std::string &name, ArrayRef<char> data,
                               size_t align, bool copy) {
  AsmResourceBlob b;
  if (copy || !llvm::isAddrAligned(llvm::Align(align), data.data())) {
    b = HeapAsmResourceBlob::allocateAndCopyWithAlign(data, align,
                                                      /*mutable=*/false);
  } else {
    std::shared_ptr<const uint8_t> keep = src.mapping;
    b = UnmanagedAsmResourceBlob::allocateWithAlign(
        data, align, [keep](void *, size_t, size_t) {});
  }
  blobs.emplace(name, std::move(b));
  return name;
}

const Weight *LlamaBuilder::weight(const std::string &name,
                                   ArrayRef<int64_t> shape) {
  auto it = src.weights.find(name);
  if (it == src.weights.end()) {
    error = "the model has no tensor '" + name + "'";
    return nullptr;
  }
  if (ArrayRef<int64_t>(it->second.shape) != shape) {
    std::string got, want;
    for (int64_t d : it->second.shape)
      got += (got.empty() ? "" : "x") + std::to_string(d);
    for (int64_t d : shape)
      want += (want.empty() ? "" : "x") + std::to_string(d);
    error =
        "tensor '" + name + "' has shape " + got + ", the config says " + want;
    return nullptr;
  }
  return &it->second;
}

/// A weight as an f32 constant (converted or dequantized when the file
/// holds it otherwise).
std::string LlamaBuilder::f32Constant(const std::string &name,
                                      ArrayRef<int64_t> shape) {
  const Weight *w = weight(name, shape);
  if (!w)
    return "";
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  std::string key;
  if (w->kind == Weight::F32) {
    key = blob(name, ArrayRef<char>((const char *)w->data, n * 4), 4, false);
  } else {
    std::vector<float> f(n);
    if (w->kind == Weight::F16 || w->kind == Weight::BF16) {
      const auto &fmt =
          w->kind == Weight::F16 ? ::lowbit::kF16 : ::lowbit::kBF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, w->data + 2 * i, 2);
        f[i] = nx::decodeMiniFloat(fmt, bits);
      }
    } else {
      if (!nx::ggufSupported(w->gguf)) {
        error = "tensor '" + name + "' is GGUF " + nx::ggufName(w->gguf) +
                ", which lowbit cannot dequantize yet";
        return "";
      }
      int64_t row = shape.back(), rows = n / row;
      int64_t rowBytes =
          row / nx::ggufBlockSize(w->gguf) * nx::ggufBlockBytes(w->gguf);
      for (int64_t r = 0; r < rows; ++r)
        nx::ggufDequantizeRow(w->gguf, w->data + r * rowBytes,
                              f.data() + r * row, row);
    }
    key = blob(name, ArrayRef<char>((const char *)f.data(), n * 4), 4, true);
  }
  std::string v = fresh();
  emit(v + " = arith.constant dense_resource<" + key + "> : " + f32Type(shape));
  return v;
}

std::string LlamaBuilder::rmsNorm(const std::string &x,
                                  const std::string &weightName) {
  int64_t D = c.dim;
  std::string g = f32Constant(weightName, {D});
  if (g.empty())
    return "";
  std::string e1 = fresh(), z = fresh(), ss = fresh(), e2 = fresh(),
              y = fresh();
  emit(e1 + " = tensor.empty() : tensor<1xf32>");
  emit(z + " = linalg.fill ins(%zero : f32) outs(" + e1 +
       " : tensor<1xf32>) -> tensor<1xf32>");
  emit(ss +
       " = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, "
       "j)>, affine_map<(i, j) -> (i)>], iterator_types = "
       "[\"parallel\", \"reduction\"]} ins(" +
       x + " : " + f32Type({1, D}) + ") outs(" + z +
       " : tensor<1xf32>) {\n  ^bb0(%a: f32, %acc: f32):\n"
       "    %sq = arith.mulf %a, %a : f32\n"
       "    %s = arith.addf %acc, %sq : f32\n"
       "    linalg.yield %s : f32\n  } -> tensor<1xf32>");
  emit(e2 + " = tensor.empty() : " + f32Type({1, D}));
  emit(y +
       " = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, "
       "j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (j)>, "
       "affine_map<(i, j) -> (i, j)>], iterator_types = [\"parallel\", "
       "\"parallel\"]} ins(" +
       x + ", " + ss + ", " + g + " : " + f32Type({1, D}) +
       ", tensor<1xf32>, " + f32Type({D}) + ") outs(" + e2 + " : " +
       f32Type({1, D}) +
       ") {\n  ^bb0(%a: f32, %s: f32, %w: f32, %o: f32):\n"
       "    %mean = arith.divf %s, %dim : f32\n"
       "    %var = arith.addf %mean, %eps : f32\n"
       "    %r = math.rsqrt %var : f32\n"
       "    %n = arith.mulf %a, %r : f32\n"
       "    %y = arith.mulf %n, %w : f32\n"
       "    linalg.yield %y : f32\n  } -> " +
       f32Type({1, D}));
  return y;
}

std::string LlamaBuilder::linear(const std::string &x,
                                 const std::string &weightName, int64_t out,
                                 int64_t in, const std::string &site) {
  const Weight *w = weight(weightName, {out, in});
  if (!w)
    return "";
  std::string y = fresh();
  bool keep = options.keepGGUF && w->kind == Weight::GGUFBlocks &&
              (w->gguf == nx::GGUFKind::Q4_0 || w->gguf == nx::GGUFKind::Q8_0 ||
               w->gguf == nx::GGUFKind::Q4_K || w->gguf == nx::GGUFKind::Q4_1);
  // q4_1 has a kernel for f32 activations (the weights' own values, no
  // activation quantization); the others take int8 activations.
  bool f32Act = w->gguf == nx::GGUFKind::Q4_1;
  if (keep) {
    int64_t rowBytes =
        in / nx::ggufBlockSize(w->gguf) * nx::ggufBlockBytes(w->gguf);
    std::string key =
        blob(weightName + ".blocks",
             ArrayRef<char>((const char *)w->data, out * rowBytes), 1, false);
    std::string qt = llvm::formatv("!lowbit.qtensor<{0}x{1}xgguf<{2}>>", out,
                                   in, nx::ggufName(w->gguf));
    std::string xt =
        llvm::formatv("!lowbit.qtensor<1x{0}xi8, per_axis<0>>", in);
    std::string wv = fresh(), xq = fresh();
    emit(wv + " = lowbit.constant codes(dense_resource<" + key + "> : tensor<" +
         std::to_string(out) + "x" + std::to_string(rowBytes) +
         "xi8>) : " + qt);
    if (f32Act) {
      emit(y + " = lowbit.qmatmul " + x + ", " + wv +
           " {transpose_b} : " + f32Type({1, in}) + ", " + qt + " -> " +
           f32Type({1, out}) + " loc(\"" + site + "\")");
      return y;
    }
    emit(xq + " = lowbit.quantize " + x + " : " + f32Type({1, in}) + " -> " +
         xt);
    emit(y + " = lowbit.qmatmul " + xq + ", " + wv + " {transpose_b} : " + xt +
         ", " + qt + " -> " + f32Type({1, out}) + " loc(\"" + site + "\")");
    return y;
  }
  std::string wv = f32Constant(weightName, {out, in});
  if (wv.empty())
    return "";
  std::string e = fresh(), z = fresh();
  emit(e + " = tensor.empty() : " + f32Type({1, out}));
  emit(z + " = linalg.fill ins(%zero : f32) outs(" + e + " : " +
       f32Type({1, out}) + ") -> " + f32Type({1, out}));
  emit(y +
       " = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, "
       "k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> "
       "(m, n)>] ins(" +
       x + ", " + wv + " : " + f32Type({1, in}) + ", " + f32Type({out, in}) +
       ") outs(" + z + " : " + f32Type({1, out}) + ") -> " + f32Type({1, out}) +
       " loc(\"" + site + "\")");
  return y;
}

/// RoPE at position posF (f32) on x [1, heads * hd].
std::string LlamaBuilder::rope(const std::string &x, int64_t heads,
                               const std::string &cosSin, const std::string &) {
  int64_t hd = c.headDim, half = hd / 2;
  std::string x3 = fresh(), e = fresh(), y = fresh(), flat = fresh();
  std::string t3 = f32Type({1, heads, hd});
  emit(x3 + " = tensor.expand_shape " + x + " [[0], [1, 2]] output_shape [1, " +
       std::to_string(heads) + ", " + std::to_string(hd) +
       "] : " + f32Type({1, heads * hd}) + " into " + t3);
  emit(e + " = tensor.empty() : " + t3);
  // Pair of element j: (2i, 2i+1) interleaved, (i, i + hd/2) otherwise;
  // the first of a pair gets x_a cos - x_b sin, the second x_a cos + x_b
  // sin (x_a the element itself, x_b its partner).
  std::string pair = c.ropeInterleaved
                         ? "    %i = arith.divui %j, %c2 : index\n"
                           "    %p = arith.xori %j, %c1 : index\n"
                           "    %lo = arith.andi %j, %c1 : index\n"
                           "    %first = arith.cmpi eq, %lo, %c0 : index\n"
                         : "    %first = arith.cmpi ult, %j, %chalf : index\n"
                           "    %i = arith.remui %j, %chalf : index\n"
                           "    %pu = arith.addi %j, %chalf : index\n"
                           "    %pd = arith.subi %j, %chalf : index\n"
                           "    %p = arith.select %first, %pu, %pd : index\n";
  emit(y +
       " = linalg.generic {indexing_maps = [affine_map<(a, h, j) -> (a, "
       "h, j)>], iterator_types = [\"parallel\", \"parallel\", "
       "\"parallel\"]} outs(" +
       e + " : " + t3 +
       ") {\n  ^bb0(%o: f32):\n"
       "    %h = linalg.index 1 : index\n"
       "    %j = linalg.index 2 : index\n" +
       pair + "    %xa = tensor.extract " + x3 + "[%c0, %h, %j] : " + t3 +
       "\n    %xb = tensor.extract " + x3 + "[%c0, %h, %p] : " + t3 +
       "\n    %cs = tensor.extract " + cosSin +
       "[%c0, %i] : " + f32Type({2, half}) + "\n    %sn = tensor.extract " +
       cosSin + "[%c1, %i] : " + f32Type({2, half}) +
       "\n    %ac = arith.mulf %xa, %cs : f32\n"
       "    %bs = arith.mulf %xb, %sn : f32\n"
       "    %minus = arith.subf %ac, %bs : f32\n"
       "    %plus = arith.addf %ac, %bs : f32\n"
       "    %r = arith.select %first, %minus, %plus : f32\n"
       "    linalg.yield %r : f32\n  } -> " +
       t3);
  (void)flat;
  return y;
}

std::string LlamaBuilder::add(const std::string &a, const std::string &b,
                              int64_t n) {
  std::string e = fresh(), y = fresh();
  emit(e + " = tensor.empty() : " + f32Type({1, n}));
  emit(y + " = linalg.add ins(" + a + ", " + b + " : " + f32Type({1, n}) +
       ", " + f32Type({1, n}) + ") outs(" + e + " : " + f32Type({1, n}) +
       ") -> " + f32Type({1, n}));
  return y;
}

bool LlamaBuilder::build(std::string &text, std::string &errorOut) {
  int64_t D = c.dim, H = c.heads, K = c.kvHeads, hd = c.headDim, F = c.ffn;
  int64_t V = c.vocab, L = c.layers, G = H / K, half = hd / 2;
  auto fail = [&]() {
    errorOut = error;
    return false;
  };

  // Constants the bodies use.
  emit("%c0 = arith.constant 0 : index");
  emit("%c1 = arith.constant 1 : index");
  emit("%c2 = arith.constant 2 : index");
  emit("%chalf = arith.constant " + std::to_string(half) + " : index");
  emit("%zero = arith.constant 0.0 : f32");
  emit("%ninf = arith.constant 0xFF800000 : f32");
  emit(llvm::formatv("%dim = arith.constant {0:e} : f32", double(D)).str());
  emit(llvm::formatv("%eps = arith.constant {0:e} : f32", c.rmsEps).str());
  emit(llvm::formatv("%scale = arith.constant {0:e} : f32",
                     1.0 / std::sqrt(double(hd)))
           .str());
  // Token and position, clamped to the vocabulary and the cache.
  emit("%t32 = tensor.extract %token[%c0] : tensor<1xi32>");
  emit("%p32 = tensor.extract %pos[%c0] : tensor<1xi32>");
  emit("%i0 = arith.constant 0 : i32");
  emit("%tmax = arith.constant " + std::to_string(V - 1) + " : i32");
  emit("%pmax = arith.constant " + std::to_string(T - 1) + " : i32");
  emit("%t1 = arith.maxsi %t32, %i0 : i32");
  emit("%t2 = arith.minsi %t1, %tmax : i32");
  emit("%p1 = arith.maxsi %p32, %i0 : i32");
  emit("%p2 = arith.minsi %p1, %pmax : i32");
  emit("%ti = arith.index_cast %t2 : i32 to index");
  emit("%pi = arith.index_cast %p2 : i32 to index");
  emit("%pf = arith.sitofp %p2 : i32 to f32");

  // cos/sin of pos * theta^(-2i/hd), i < hd/2: [2, hd/2].
  std::vector<float> freqs(half);
  for (int64_t i = 0; i < half; ++i)
    freqs[i] = float(std::pow(c.ropeTheta, -2.0 * double(i) / double(hd)));
  std::string fkey = blob(
      "rope_freqs",
      ArrayRef<char>((const char *)freqs.data(), freqs.size() * 4), 4, true);
  emit("%freqs = arith.constant dense_resource<" + fkey +
       "> : " + f32Type({half}));
  emit("%cse = tensor.empty() : " + f32Type({2, half}));
  emit("%cossin = linalg.generic {indexing_maps = [affine_map<(r, i) -> (r, "
       "i)>], iterator_types = [\"parallel\", \"parallel\"]} outs(%cse : " +
       f32Type({2, half}) +
       ") {\n  ^bb0(%o: f32):\n"
       "    %r = linalg.index 0 : index\n"
       "    %i = linalg.index 1 : index\n"
       "    %f = tensor.extract %freqs[%i] : " +
       f32Type({half}) +
       "\n    %ang = arith.mulf %pf, %f : f32\n"
       "    %cv = math.cos %ang : f32\n"
       "    %sv = math.sin %ang : f32\n"
       "    %isc = arith.cmpi eq, %r, %c0 : index\n"
       "    %v = arith.select %isc, %cv, %sv : f32\n"
       "    linalg.yield %v : f32\n  } -> " +
       f32Type({2, half}));

  // Token embedding row: a GGUF q8_0 table kept as stored is decoded one
  // row per step (q * d, exact in f32, as llama.cpp's dequantize_row_q8_0),
  // from the same bytes the tied output head reads; anything else is an
  // f32 table.
  std::string x = fresh();
  auto embIt = src.weights.find("token_embd.weight");
  if (options.keepGGUF && embIt != src.weights.end() &&
      embIt->second.kind == Weight::GGUFBlocks &&
      embIt->second.gguf == nx::GGUFKind::Q8_0 && D % 32 == 0 &&
      ArrayRef<int64_t>(embIt->second.shape) == ArrayRef<int64_t>{V, D}) {
    int64_t nb = D / 32, rb = nb * 34;
    std::string key = blob(
        "token_embd.weight.blocks",
        ArrayRef<char>((const char *)embIt->second.data, V * rb), 1, false);
    std::string tb =
        "tensor<" + std::to_string(V) + "x" + std::to_string(rb) + "xi8>";
    std::string t1 = "tensor<1x" + std::to_string(rb) + "xi8>";
    std::string t3 = "tensor<1x" + std::to_string(nb) + "x34xi8>";
    std::string tq = "tensor<1x" + std::to_string(nb) + "x32xi8>";
    std::string td = "tensor<1x" + std::to_string(nb) + "x1xi8>";
    std::string tf = f32Type({1, nb, 32});
    std::string all = fresh(), row = fresh(), blk = fresh(), q = fresh(),
                lo = fresh(), hi = fresh(), e = fresh(), v = fresh();
    emit(all + " = arith.constant dense_resource<" + key + "> : " + tb);
    emit(row + " = tensor.extract_slice " + all + "[%ti, 0] [1, " +
         std::to_string(rb) + "] [1, 1] : " + tb + " to " + t1);
    emit(blk + " = tensor.expand_shape " + row +
         " [[0], [1, 2]] output_shape [1, " + std::to_string(nb) +
         ", 34] : " + t1 + " into " + t3);
    auto slice = [&](const std::string &out, int64_t at, int64_t n,
                     const std::string &type) {
      emit(out + " = tensor.extract_slice " + blk + "[0, 0, " +
           std::to_string(at) + "] [1, " + std::to_string(nb) + ", " +
           std::to_string(n) + "] [1, 1, 1] : " + t3 + " to " + type);
    };
    slice(lo, 0, 1, td);
    slice(hi, 1, 1, td);
    slice(q, 2, 32, tq);
    emit(e + " = tensor.empty() : " + tf);
    emit(v +
         " = linalg.generic {indexing_maps = [affine_map<(a, b, c) -> "
         "(a, b, c)>, affine_map<(a, b, c) -> (a, b, 0)>, "
         "affine_map<(a, b, c) -> (a, b, 0)>, affine_map<(a, b, c) -> "
         "(a, b, c)>], iterator_types = [\"parallel\", \"parallel\", "
         "\"parallel\"]} ins(" +
         q + ", " + lo + ", " + hi + " : " + tq + ", " + td + ", " + td +
         ") outs(" + e + " : " + tf +
         ") {\n"
         "  ^bb0(%eq: i8, %elo: i8, %ehi: i8, %eo: f32):\n"
         "    %el = arith.extui %elo : i8 to i16\n"
         "    %eh = arith.extui %ehi : i8 to i16\n"
         "    %e8 = arith.constant 8 : i16\n"
         "    %ehs = arith.shli %eh, %e8 : i16\n"
         "    %ebits = arith.ori %ehs, %el : i16\n"
         "    %edh = arith.bitcast %ebits : i16 to f16\n"
         "    %ed = arith.extf %edh : f16 to f32\n"
         "    %eqf = arith.sitofp %eq : i8 to f32\n"
         "    %ev = arith.mulf %eqf, %ed : f32\n"
         "    linalg.yield %ev : f32\n  } -> " +
         tf);
    emit(x + " = tensor.collapse_shape " + v + " [[0], [1, 2]] : " + tf +
         " into " + f32Type({1, D}));
  } else {
    std::string emb = f32Constant("token_embd.weight", {V, D});
    if (emb.empty())
      return fail();
    emit(x + " = tensor.extract_slice " + emb + "[%ti, 0] [1, " +
         std::to_string(D) + "] [1, 1] : " + f32Type({V, D}) + " to " +
         f32Type({1, D}));
  }

  declareCache();
  if (options.kvCache == "int4" || options.kvCache == "int2") {
    // KIVI: the current group, its first position, the slot in it.
    emit("%kv_grp = arith.constant " + std::to_string(kKiviGroup) + " : index");
    emit("%kv_gi = arith.divui %pi, %kv_grp : index");
    emit("%kv_r = arith.remui %pi, %kv_grp : index");
    emit("%kv_g0 = arith.muli %kv_gi, %kv_grp : index");
  }
  for (int64_t l = 0; l < L; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    std::string h = rmsNorm(x, p + "attn_norm.weight");
    if (h.empty())
      return fail();
    std::string q = linear(h, p + "attn_q.weight", H * hd, D, p + "attn_q");
    std::string k = linear(h, p + "attn_k.weight", K * hd, D, p + "attn_k");
    std::string v = linear(h, p + "attn_v.weight", K * hd, D, p + "attn_v");
    if (q.empty() || k.empty() || v.empty())
      return fail();
    std::string qr = rope(q, H, "%cossin", "");
    std::string kr = rope(k, K, "%cossin", "");
    // The cache: this token's keys and values at [l, pos]; the layer's
    // keys and values for attention.
    std::string v3 = fresh(), k3 = kr;
    emit(v3 + " = tensor.expand_shape " + v +
         " [[0], [1, 2]] output_shape [1, " + std::to_string(K) + ", " +
         std::to_string(hd) + "] : " + f32Type({1, K * hd}) + " into " +
         f32Type({1, K, hd}));
    std::string tkv = f32Type({T, K, hd});
    std::string kl = cacheStep(true, k3, l);
    std::string vl = cacheStep(false, v3, l);
    // q as [K, G, hd]: head h = g * G + r uses KV head g.
    std::string q2 = fresh(), q3 = fresh();
    emit(q2 + " = tensor.collapse_shape " + qr + " [[0, 1], [2]] : " +
         f32Type({1, H, hd}) + " into " + f32Type({H, hd}));
    emit(q3 + " = tensor.expand_shape " + q2 + " [[0, 1], [2]] output_shape [" +
         std::to_string(K) + ", " + std::to_string(G) + ", " +
         std::to_string(hd) + "] : " + f32Type({H, hd}) + " into " +
         f32Type({K, G, hd}));
    std::string tS = f32Type({K, G, T}), tM = f32Type({K, G});
    std::string se = fresh(), sz = fresh(), s = fresh();
    emit(se + " = tensor.empty() : " + tS);
    emit(sz + " = linalg.fill ins(%zero : f32) outs(" + se + " : " + tS +
         ") -> " + tS);
    emit(s +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, t, d) "
         "-> (g, r, d)>, affine_map<(g, r, t, d) -> (t, g, d)>, "
         "affine_map<(g, r, t, d) -> (g, r, t)>], iterator_types = "
         "[\"parallel\", \"parallel\", \"parallel\", \"reduction\"]} ins(" +
         q3 + ", " + kl + " : " + f32Type({K, G, hd}) + ", " + tkv + ") outs(" +
         sz + " : " + tS +
         ") {\n  ^bb0(%a: f32, %b: f32, %acc: f32):\n"
         "    %m = arith.mulf %a, %b : f32\n"
         "    %s = arith.addf %acc, %m : f32\n"
         "    linalg.yield %s : f32\n  } -> " +
         tS);
    // Scale, and mask the positions after pos.
    std::string sm = fresh();
    emit(sm +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, t) -> "
         "(g, r, t)>], iterator_types = [\"parallel\", \"parallel\", "
         "\"parallel\"]} outs(" +
         s + " : " + tS +
         ") {\n  ^bb0(%o: f32):\n"
         "    %t = linalg.index 2 : index\n"
         "    %late = arith.cmpi ugt, %t, %pi : index\n"
         "    %sc = arith.mulf %o, %scale : f32\n"
         "    %r = arith.select %late, %ninf, %sc : f32\n"
         "    linalg.yield %r : f32\n  } -> " +
         tS);
    std::string me = fresh(), mi = fresh(), mx = fresh();
    emit(me + " = tensor.empty() : " + tM);
    emit(mi + " = linalg.fill ins(%ninf : f32) outs(" + me + " : " + tM +
         ") -> " + tM);
    emit(mx +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, t) -> "
         "(g, r, t)>, affine_map<(g, r, t) -> (g, r)>], iterator_types "
         "= [\"parallel\", \"parallel\", \"reduction\"]} ins(" +
         sm + " : " + tS + ") outs(" + mi + " : " + tM +
         ") {\n  ^bb0(%a: f32, %acc: f32):\n"
         "    %m = arith.maximumf %acc, %a : f32\n"
         "    linalg.yield %m : f32\n  } -> " +
         tM);
    std::string pe = fresh(), pr = fresh();
    emit(pe + " = tensor.empty() : " + tS);
    emit(pr +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, t) -> "
         "(g, r, t)>, affine_map<(g, r, t) -> (g, r)>, affine_map<(g, "
         "r, t) -> (g, r, t)>], iterator_types = [\"parallel\", "
         "\"parallel\", \"parallel\"]} ins(" +
         sm + ", " + mx + " : " + tS + ", " + tM + ") outs(" + pe + " : " + tS +
         ") {\n  ^bb0(%a: f32, %m: f32, %o: f32):\n"
         "    %d = arith.subf %a, %m : f32\n"
         "    %e = math.exp %d : f32\n"
         "    linalg.yield %e : f32\n  } -> " +
         tS);
    std::string sumz = fresh(), sum = fresh();
    emit(sumz + " = linalg.fill ins(%zero : f32) outs(" + me + " : " + tM +
         ") -> " + tM);
    emit(sum +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, t) -> "
         "(g, r, t)>, affine_map<(g, r, t) -> (g, r)>], "
         "iterator_types = [\"parallel\", \"parallel\", "
         "\"reduction\"]} ins(" +
         pr + " : " + tS + ") outs(" + sumz + " : " + tM +
         ") {\n  ^bb0(%a: f32, %acc: f32):\n"
         "    %s = arith.addf %acc, %a : f32\n"
         "    linalg.yield %s : f32\n  } -> " +
         tM);
    std::string tO = f32Type({K, G, hd});
    std::string oe = fresh(), oz = fresh(), o = fresh(), on = fresh();
    emit(oe + " = tensor.empty() : " + tO);
    emit(oz + " = linalg.fill ins(%zero : f32) outs(" + oe + " : " + tO +
         ") -> " + tO);
    emit(o +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, d, t) "
         "-> (g, r, t)>, affine_map<(g, r, d, t) -> (t, g, d)>, "
         "affine_map<(g, r, d, t) -> (g, r, d)>], iterator_types = "
         "[\"parallel\", \"parallel\", \"parallel\", \"reduction\"]} ins(" +
         pr + ", " + vl + " : " + tS + ", " + tkv + ") outs(" + oz + " : " +
         tO +
         ") {\n  ^bb0(%a: f32, %b: f32, %acc: f32):\n"
         // Positions after pos add nothing, whatever the cache holds
         // there (0 * NaN would not be 0).
         "    %t = linalg.index 3 : index\n"
         "    %late = arith.cmpi ugt, %t, %pi : index\n"
         "    %m = arith.mulf %a, %b : f32\n"
         "    %mm = arith.select %late, %zero, %m : f32\n"
         "    %s = arith.addf %acc, %mm : f32\n"
         "    linalg.yield %s : f32\n  } -> " +
         tO);
    emit(on +
         " = linalg.generic {indexing_maps = [affine_map<(g, r, d) -> "
         "(g, r, d)>, affine_map<(g, r, d) -> (g, r)>, affine_map<(g, "
         "r, d) -> (g, r, d)>], iterator_types = [\"parallel\", "
         "\"parallel\", \"parallel\"]} ins(" +
         o + ", " + sum + " : " + tO + ", " + tM + ") outs(" + oe + " : " + tO +
         ") {\n  ^bb0(%a: f32, %s: f32, %out: f32):\n"
         "    %d = arith.divf %a, %s : f32\n"
         "    linalg.yield %d : f32\n  } -> " +
         tO);
    std::string of = fresh(), o2 = fresh();
    emit(of + " = tensor.collapse_shape " + on + " [[0, 1, 2]] : " + tO +
         " into " + f32Type({H * hd}));
    emit(o2 + " = tensor.expand_shape " + of + " [[0, 1]] output_shape [1, " +
         std::to_string(H * hd) + "] : " + f32Type({H * hd}) + " into " +
         f32Type({1, H * hd}));
    std::string att =
        linear(o2, p + "attn_output.weight", D, H * hd, p + "attn_output");
    if (att.empty())
      return fail();
    x = add(x, att, D);
    // SwiGLU MLP.
    std::string h2 = rmsNorm(x, p + "ffn_norm.weight");
    if (h2.empty())
      return fail();
    std::string gt = linear(h2, p + "ffn_gate.weight", F, D, p + "ffn_gate");
    std::string up = linear(h2, p + "ffn_up.weight", F, D, p + "ffn_up");
    if (gt.empty() || up.empty())
      return fail();
    std::string ae = fresh(), a = fresh();
    emit(ae + " = tensor.empty() : " + f32Type({1, F}));
    emit(a +
         " = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, "
         "j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, "
         "j)>], iterator_types = [\"parallel\", \"parallel\"]} ins(" +
         gt + ", " + up + " : " + f32Type({1, F}) + ", " + f32Type({1, F}) +
         ") outs(" + ae + " : " + f32Type({1, F}) +
         ") {\n  ^bb0(%g: f32, %u: f32, %o: f32):\n"
         "    %ng = arith.negf %g : f32\n"
         "    %e = math.exp %ng : f32\n"
         "    %one = arith.constant 1.0 : f32\n"
         "    %den = arith.addf %one, %e : f32\n"
         "    %silu = arith.divf %g, %den : f32\n"
         "    %y = arith.mulf %silu, %u : f32\n"
         "    linalg.yield %y : f32\n  } -> " +
         f32Type({1, F}));
    std::string down = linear(a, p + "ffn_down.weight", D, F, p + "ffn_down");
    if (down.empty())
      return fail();
    x = add(x, down, D);
  }
  std::string xn = rmsNorm(x, "output_norm.weight");
  if (xn.empty())
    return fail();
  std::string head = c.tiedEmbeddings ? "token_embd.weight" : "output.weight";
  std::string logits = linear(xn, head, V, D, "output");
  if (logits.empty())
    return fail();

  std::string args, types, rets, retTypes;
  for (const CachePart &p : cache) {
    args += ", " + p.arg + ": " + p.type;
    types += ", " + p.type;
    rets += ", " + p.cur;
  }
  text =
      "// A Llama-architecture decoder step, imported by lowbit (KV cache: " +
      options.kvCache +
      ").\n"
      "func.func @decode(%token: tensor<1xi32> {lowbit.range = array<i64: "
      "0, " +
      std::to_string(V - 1) +
      ">}, %pos: tensor<1xi32> {lowbit.range = array<i64: 0, " +
      std::to_string(T - 1) + ">}" + args + ") -> (" + f32Type({1, V}) + types +
      ") {\n" + body + "  return " + logits + rets + " : " + f32Type({1, V}) +
      types + "\n}\n";
  return true;
}

} // namespace

OwningOpRef<ModuleOp>
mlir::lowbit::importLlama(MLIRContext *ctx, const std::string &path,
                          const LlamaImportOptions &options,
                          LlamaConfig &config, std::string &error) {
  Source src;
  bool ok = StringRef(path).ends_with(".safetensors")
                ? loadSafetensors(path, src, error)
                : loadGGUF(path, src, error);
  if (!ok)
    return nullptr;
  LlamaConfig &c = src.config;
  auto emb = src.weights.find("token_embd.weight");
  if (emb == src.weights.end() || emb->second.shape.size() != 2) {
    error = path + ": no token_embd.weight matrix";
    return nullptr;
  }
  c.vocab = emb->second.shape[0];
  c.tiedEmbeddings = !src.weights.count("output.weight");
  // The config must be self-consistent before any shape is trusted.
  auto bad = [&](const std::string &what) {
    error = path + ": " + what;
    return nullptr;
  };
  if (c.dim <= 0 || c.layers <= 0 || c.heads <= 0 || c.kvHeads <= 0 ||
      c.ffn <= 0 || c.vocab <= 0 || c.headDim <= 0)
    return bad("the model's dimensions must be positive");
  if (c.heads % c.kvHeads)
    return bad(llvm::formatv("{0} attention heads are not a multiple of {1} "
                             "KV heads",
                             c.heads, c.kvHeads)
                   .str());
  // Bounded before any product of them is formed (config values are
  // arbitrary 64-bit integers).
  if (c.heads > c.dim || c.headDim > c.dim || c.kvHeads > c.heads)
    return bad("heads, KV heads and head size must not exceed the model "
               "dimension");
  if (c.headDim % 2 || c.headDim * c.heads != c.dim)
    return bad("head size " + std::to_string(c.headDim) +
               " x heads must be the model dimension and even");
  if (c.dim > (1 << 16) || c.ffn > (1 << 18) || c.layers > 1024 ||
      c.vocab > (1 << 22))
    return bad("dimensions beyond what the importer accepts");
  int64_t T = options.maxSeq > 0
                  ? options.maxSeq
                  : std::min<int64_t>(
                        c.contextLength > 0 ? c.contextLength : 2048, 2048);
  if (T <= 0 || T > (1 << 20))
    return bad("bad KV cache length " + std::to_string(T));
  if (!std::isfinite(c.rmsEps) || c.rmsEps <= 0 || c.rmsEps > 1 ||
      !std::isfinite(c.ropeTheta) || c.ropeTheta <= 1 || c.ropeTheta > 1e12)
    return bad("RMSNorm epsilon must be in (0, 1] and the RoPE base in (1, "
               "1e12]");
  const std::string &kv = options.kvCache;
  if (kv != "f32" && kv != "int8" && kv != "fp8" && kv != "int4" &&
      kv != "int2")
    return bad("unknown KV cache '" + kv + "' (f32, int8, fp8, int4, int2)");
  if ((kv == "int4" && c.headDim % 2) || (kv == "int2" && c.headDim % 4))
    return bad("a " + kv + " KV cache packs whole bytes of a head: head size " +
               std::to_string(c.headDim) + " is not a multiple of " +
               (kv == "int4" ? "2" : "4"));
  if ((kv == "int4" || kv == "int2") && T % kKiviGroup)
    return bad("a KIVI cache (" + kv +
               ") needs a cache length that is a "
               "multiple of " +
               std::to_string(kKiviGroup) + ", not " + std::to_string(T));
  config = c;
  LlamaBuilder b(ctx, src, options, T);
  std::string text;
  if (!b.build(text, error)) {
    error = path + ": " + error;
    return nullptr;
  }
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      text, ParserConfig(ctx), path + " (imported)");
  if (!module) {
    error = path + ": the imported module does not parse (importer bug)";
    return nullptr;
  }
  // The parser made an empty resource per key (renamed key_N when the
  // context already had one of that name): attach each blob to its entry.
  bool missing = false;
  module->walk([&](Operation *op) {
    op->getAttrDictionary().walk([&](DenseResourceElementsAttr a) {
      DenseResourceElementsHandle h = a.getRawHandle();
      if (h.getBlob())
        return;
      StringRef key = h.getKey();
      auto it = b.blobs.find(key.str());
      if (it == b.blobs.end()) {
        auto [stem, suffix] = key.rsplit('_');
        if (!suffix.empty() && llvm::all_of(suffix, llvm::isDigit))
          it = b.blobs.find(stem.str());
      }
      if (it == b.blobs.end()) {
        missing = true;
        return;
      }
      ArrayRef<char> d = it->second.getData();
      h.getResource()->setBlob(UnmanagedAsmResourceBlob::allocateWithAlign(
          d, it->second.getDataAlignment()));
    });
  });
  if (missing) {
    error = path + ": a weight of the imported module has no data "
                   "(importer bug)";
    return nullptr;
  }
  // The blobs' owners (mapping, converted copies) live as long as the
  // context: moved into an entry of their own.
  auto &manager = DenseResourceElementsHandle::getManagerInterface(ctx);
  for (auto &[key, blob] : b.blobs)
    manager.getBlobManager().insert("__lowbit_import_storage." + key,
                                    std::move(blob));
  return module;
}
