//===- Architecture.cpp - what a decoder model computes -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Architecture.h. The architectures the importer knows are the
// descriptions in `kDescriptions` at the end: each names itself in GGUF
// (`general.architecture`) and in config.json (`architectures`), reads its
// hyper-parameters and recipe from either, and maps Hugging Face tensor
// names to GGUF's. What every architecture shares (metadata that must be
// off, the embedding table, consistency checks) is here once.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Architecture.h"

#include "MetadataKeys.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>
#include <cstring>

using namespace mlir::lowbit::importer;

namespace {

/// One architecture the importer knows.
struct Description {
  /// Its name in lowbit ("llama") and in errors ("a Llama decoder").
  const char *name;
  const char *decoderName;
  /// GGUF `general.architecture` values and config.json `architectures`
  /// (and `model_type`) values it reads.
  llvm::ArrayRef<llvm::StringLiteral> ggufNames, hfClasses, hfModelTypes;
  /// Reads the hyper-parameters and recipe; `error` set on failure.
  bool (*fromGGUF)(GGUFKeys &keys, Architecture &arch);
  bool (*fromConfig)(ConfigKeys &keys, Architecture &arch);
  /// A Hugging Face tensor name to GGUF's, or nullopt.
  std::optional<std::string> (*hfTensorName)(StringRef hf);
};

} // namespace

//===----------------------------------------------------------------------===//
// llama, mistral
//===----------------------------------------------------------------------===//

/// What every GGUF decoder states the same way (`{arch}.embedding_length`,
/// `block_count`, ...), with `recipe` for each layer. The head size is
/// `attention.key_length` when given (Qwen3's is not the width / heads),
/// else the width / heads.
static bool decoderFromGGUF(GGUFKeys &keys, Architecture &arch,
                            const LayerRecipe &recipe) {
  HyperParameters &c = arch.hp;
  c.kvHeads = -1;
  int64_t ropeDims = -1, keyLength = -1, valueLength = -1;
  if (!keys.integer("embedding_length", c.dim, true) ||
      !keys.integer("block_count", c.layers, true) ||
      !keys.integer("feed_forward_length", c.ffn, true) ||
      !keys.integer("attention.head_count", c.heads, true) ||
      !keys.integer("attention.head_count_kv", c.kvHeads, false) ||
      !keys.integer("context_length", c.contextLength, true) ||
      !keys.integer("rope.dimension_count", ropeDims, false) ||
      !keys.integer("attention.key_length", keyLength, false) ||
      !keys.integer("attention.value_length", valueLength, false))
    return false;
  if (c.kvHeads < 0)
    c.kvHeads = c.heads;
  keys.real("attention.layer_norm_rms_epsilon", c.rmsEps);
  keys.real("rope.freq_base", c.ropeTheta);
  if (keyLength >= 0)
    c.headDim = keyLength;
  else if (c.heads > 0)
    c.headDim = c.dim / c.heads;
  if (valueLength >= 0 && valueLength != c.headDim)
    return keys.fail("attention.value_length",
                     std::to_string(valueLength) +
                         ": a value head size other than the key head size (" +
                         std::to_string(c.headDim) + ") is not supported");
  if (ropeDims >= 0 && ropeDims != c.headDim) {
    keys.error = keys.src.path +
                 ": partial rotary embeddings (rope.dimension_count " +
                 std::to_string(ropeDims) + " of head size " +
                 std::to_string(c.headDim) + ") are not supported";
    return false;
  }
  arch.layers.assign(c.layers > 0 ? c.layers : 0, recipe);
  return true;
}

static bool llamaFromGGUF(GGUFKeys &keys, Architecture &arch) {
  return decoderFromGGUF(keys, arch, LayerRecipe{});
}

/// What every config.json decoder states the same way (`hidden_size`,
/// `num_hidden_layers`, ...), with `recipe` (RoPE on halves) for each
/// layer.
static bool decoderFromConfig(ConfigKeys &keys, Architecture &arch,
                              const LayerRecipe &recipe) {
  HyperParameters &c = arch.hp;
  c.kvHeads = -1;
  c.headDim = -1;
  if (!keys.integer("hidden_size", c.dim, true) ||
      !keys.integer("num_hidden_layers", c.layers, true) ||
      !keys.integer("intermediate_size", c.ffn, true) ||
      !keys.integer("num_attention_heads", c.heads, true) ||
      !keys.integer("num_key_value_heads", c.kvHeads, false) ||
      !keys.integer("max_position_embeddings", c.contextLength, true) ||
      !keys.integer("head_dim", c.headDim, false))
    return false;
  if (c.kvHeads < 0)
    c.kvHeads = c.heads;
  if (c.headDim < 0 && c.heads > 0)
    c.headDim = c.dim / c.heads;
  keys.real("rms_norm_eps", c.rmsEps);
  keys.real("rope_theta", c.ropeTheta);
  if (!readConfigRopeScaling(keys, c))
    return false;
  // What Hugging Face's decoders read that would change results.
  const bool gelu = recipe.mlp == MLPKind::GeGLU;
  for (const char *key : {"hidden_act", "hidden_activation"})
    if (std::optional<StringRef> act = keys.o.getString(key))
      if (*act != (gelu ? "gelu_pytorch_tanh" : "silu"))
        return keys.fail(
            std::string(key) + " '" + act->str() + "' is not supported (" +
            (gelu ? "GeGLU with gelu_pytorch_tanh" : "SwiGLU with silu") + ")");
  for (const char *cap : {"final_logit_softcapping", "attn_logit_softcapping"})
    if (keys.has(cap))
      return keys.fail(std::string(cap) + " is set: soft-capping is not "
                                          "supported");
  for (const char *bias : {"attention_bias", "mlp_bias"})
    if (keys.o.getBoolean(bias).value_or(false))
      return keys.fail(std::string(bias) +
                       " is true: projections with biases are not supported");
  if (std::optional<double> f = keys.o.getNumber("partial_rotary_factor"))
    if (*f != 1.0)
      return keys.fail("partial_rotary_factor " + number(*f) +
                       ": partial rotary embeddings are not supported");
  // Qwen2/Qwen3 state a window that is off unless use_sliding_window.
  if (keys.has("sliding_window") &&
      keys.o.getBoolean("use_sliding_window").value_or(true)) {
    if (!keys.integer("sliding_window", arch.slidingWindow, true))
      return false;
    arch.slidingWindowKey = "sliding_window";
  }
  arch.layers.assign(c.layers > 0 ? c.layers : 0, recipe);
  return true;
}

static bool llamaFromConfig(ConfigKeys &keys, Architecture &arch) {
  LayerRecipe recipe;
  recipe.rope = RopeStyle::Halves;
  return decoderFromConfig(keys, arch, recipe);
}

//===----------------------------------------------------------------------===//
// qwen2 (Q, K, V biases), qwen3 (per-head Q and K norms)
//===----------------------------------------------------------------------===//

/// Qwen2 and Qwen3 rotate halves in GGUF too (llama.cpp's converter does
/// not permute their Q and K).
static LayerRecipe qwenRecipe(bool qwen3) {
  LayerRecipe recipe;
  recipe.rope = RopeStyle::Halves;
  recipe.qkvBias = !qwen3;
  recipe.qkNorm = qwen3;
  return recipe;
}

static bool qwen2FromGGUF(GGUFKeys &keys, Architecture &arch) {
  return decoderFromGGUF(keys, arch, qwenRecipe(false));
}
static bool qwen3FromGGUF(GGUFKeys &keys, Architecture &arch) {
  return decoderFromGGUF(keys, arch, qwenRecipe(true));
}
static bool qwen2FromConfig(ConfigKeys &keys, Architecture &arch) {
  return decoderFromConfig(keys, arch, qwenRecipe(false));
}
static bool qwen3FromConfig(ConfigKeys &keys, Architecture &arch) {
  return decoderFromConfig(keys, arch, qwenRecipe(true));
}

//===----------------------------------------------------------------------===//
// gemma3
//===----------------------------------------------------------------------===//

/// Gemma 3: norms around attention and MLP (before and after), per-head Q
/// and K norms, GeGLU, RoPE on halves, an embedding scaled by sqrt(width),
/// and every sixth layer global: the others attend locally (a window) with
/// their own RoPE base. `plusOne`: Hugging Face's (1 + w) norm weights
/// (GGUF stores w + 1).
static void gemma3Recipe(Architecture &arch, bool plusOne, int64_t pattern) {
  LayerRecipe recipe;
  recipe.norm = plusOne ? NormKind::RMSNormPlusOne : NormKind::RMSNorm;
  recipe.rope = RopeStyle::Halves;
  recipe.mlp = MLPKind::GeGLU;
  recipe.qkNorm = true;
  recipe.postNorms = true;
  recipe.scaleQueriesFirst = true;
  arch.finalNorm = recipe.norm;
  for (auto [l, r] : llvm::enumerate(arch.layers)) {
    r = recipe;
    r.local = pattern > 0 && (int64_t(l) + 1) % pattern != 0;
    r.windowed = r.local;
  }
  arch.hp.embeddingScale = std::sqrt(double(arch.hp.dim));
}

static bool gemma3FromGGUF(GGUFKeys &keys, Architecture &arch) {
  if (!decoderFromGGUF(keys, arch, LayerRecipe{}))
    return false;
  // llama.cpp fixes what GGUF does not state: six layers a period, the
  // local RoPE base 10000, scores scaled by 1 / sqrt(head size).
  gemma3Recipe(arch, /*plusOne=*/false, 6);
  arch.hp.ropeThetaLocal = 10000.0;
  return true;
}

static bool gemma3FromConfig(ConfigKeys &keys, Architecture &arch) {
  LayerRecipe base;
  base.mlp = MLPKind::GeGLU; // decoderFromConfig checks the activation
  if (!decoderFromConfig(keys, arch, base))
    return false;
  HyperParameters &c = arch.hp;
  int64_t pattern = 6;
  if (!keys.integer("sliding_window_pattern", pattern, false))
    return false;
  gemma3Recipe(arch, /*plusOne=*/true, pattern);
  // Newer configs list each layer's kind instead of a period.
  if (const llvm::json::Array *types = keys.o.getArray("layer_types")) {
    if (int64_t(types->size()) != c.layers)
      return keys.fail("layer_types must name each of the " +
                       std::to_string(c.layers) + " layers");
    for (auto [l, t] : llvm::enumerate(*types)) {
      std::optional<StringRef> kind = t.getAsString();
      if (!kind || (*kind != "sliding_attention" && *kind != "full_attention"))
        return keys.fail("layer_types holds something other than "
                         "sliding_attention and full_attention");
      arch.layers[l].local = *kind == "sliding_attention";
    }
  }
  c.ropeThetaLocal = 10000.0;
  keys.real("rope_local_base_freq", c.ropeThetaLocal);
  double scalar = double(c.headDim);
  keys.real("query_pre_attn_scalar", scalar);
  if (!(scalar > 0))
    return keys.fail("query_pre_attn_scalar must be positive");
  c.attentionScale = 1.0 / std::sqrt(scalar);
  return true;
}

//===----------------------------------------------------------------------===//
// phi3 (fused Q/K/V and gate/up matrices)
//===----------------------------------------------------------------------===//

static LayerRecipe phi3Recipe() {
  LayerRecipe recipe;
  recipe.rope = RopeStyle::Halves;
  recipe.fusedQKV = true;
  recipe.scaleQueriesFirst = true;
  recipe.mlp = MLPKind::FusedSwiGLU;
  return recipe;
}

static bool phi3FromGGUF(GGUFKeys &keys, Architecture &arch) {
  // The 128k-context models' long/short RoPE factors are not implemented.
  for (const char *t :
       {"rope_factors_long.weight", "rope_factors_short.weight"})
    if (keys.src.find(t)) {
      keys.error = keys.src.path + ": tensor '" + t +
                   "' (Phi-3's LongRoPE) is not supported";
      return false;
    }
  return decoderFromGGUF(keys, arch, phi3Recipe());
}
static bool phi3FromConfig(ConfigKeys &keys, Architecture &arch) {
  return decoderFromConfig(keys, arch, phi3Recipe());
}

//===----------------------------------------------------------------------===//
// Tensor names
//===----------------------------------------------------------------------===//

/// Hugging Face names of a Llama-family checkpoint -> GGUF's.
static std::optional<std::string> llamaTensorName(StringRef hf) {
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
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
  };
  for (auto [from, to] : map)
    if (rest == from)
      return "blk." + layer.str() + "." + to;
  return std::nullopt;
}

/// Gemma 3's Hugging Face names -> GGUF's: its four norms a layer, then as
/// Llama.
static std::optional<std::string> gemma3TensorName(StringRef hf) {
  StringRef rest = hf;
  if (rest.consume_front("model.layers.")) {
    auto [layer, part] = rest.split('.');
    static const std::pair<const char *, const char *> map[] = {
        {"post_attention_layernorm.weight", "post_attention_norm.weight"},
        {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
        {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    };
    for (auto [from, to] : map)
      if (part == from)
        return "blk." + layer.str() + "." + to;
  }
  return llamaTensorName(hf);
}

/// The architectures the importer knows; the first is assumed for a
/// config.json that names none. To add one: a description here, its
/// recipe's new kinds in Architecture.h and their blocks in Builders.h.
constexpr llvm::StringLiteral kLlamaNames[] = {"llama", "mistral"};
constexpr llvm::StringLiteral kLlamaClasses[] = {"LlamaForCausalLM",
                                                 "MistralForCausalLM"};
constexpr llvm::StringLiteral kQwen2Names[] = {"qwen2"};
constexpr llvm::StringLiteral kQwen2Classes[] = {"Qwen2ForCausalLM"};
constexpr llvm::StringLiteral kGemma3Names[] = {"gemma3"};
constexpr llvm::StringLiteral kGemma3Classes[] = {"Gemma3ForCausalLM"};
constexpr llvm::StringLiteral kGemma3Types[] = {"gemma3_text", "gemma3"};
constexpr llvm::StringLiteral kPhi3Names[] = {"phi3"};
constexpr llvm::StringLiteral kPhi3Classes[] = {"Phi3ForCausalLM"};
constexpr llvm::StringLiteral kQwen3Names[] = {"qwen3"};
constexpr llvm::StringLiteral kQwen3Classes[] = {"Qwen3ForCausalLM"};
static const Description kDescriptions[] = {
    {"llama", "a Llama decoder", kLlamaNames, kLlamaClasses, kLlamaNames,
     llamaFromGGUF, llamaFromConfig, llamaTensorName},
    {"qwen2", "a Qwen2 decoder", kQwen2Names, kQwen2Classes, kQwen2Names,
     qwen2FromGGUF, qwen2FromConfig, llamaTensorName},
    {"qwen3", "a Qwen3 decoder", kQwen3Names, kQwen3Classes, kQwen3Names,
     qwen3FromGGUF, qwen3FromConfig, llamaTensorName},
    {"phi3", "a Phi-3 decoder", kPhi3Names, kPhi3Classes, kPhi3Names,
     phi3FromGGUF, phi3FromConfig, llamaTensorName},
    {"gemma3", "a Gemma 3 decoder", kGemma3Names, kGemma3Classes, kGemma3Types,
     gemma3FromGGUF, gemma3FromConfig, gemma3TensorName},
};

//===----------------------------------------------------------------------===//
// What every architecture shares
//===----------------------------------------------------------------------===//

namespace {
/// GGUF `{arch}.` keys that change what a model computes, none of which
/// the importer implements: accepted only with a value that means "off".
struct InertKey {
  const char *key, *what;
  double off, alsoOff;
};
} // namespace

static const InertKey kInertGGUFKeys[] = {
    {"expert_count", "mixture of experts", 0, 0},
    {"expert_used_count", "mixture of experts", 0, 0},
    {"logit_scale", "scaled logits", 1, 1},
    {"embedding_scale", "scaled embeddings", 1, 1},
    {"residual_scale", "scaled residuals", 1, 1},
    {"attention.clamp_kqv", "clamped Q, K and V", 0, 0},
    {"attn_logit_softcapping", "attention logit soft-capping", 0, 0},
    {"final_logit_softcapping", "logit soft-capping", 0, 0},
};

static bool checkGGUFKeys(GGUFKeys &keys, Architecture &arch) {
  if (!readGGUFRopeScaling(keys, arch.hp))
    return false;
  for (const InertKey &k : kInertGGUFKeys)
    if (std::optional<double> v = keys.number(k.key))
      if (*v != k.off && *v != k.alsoOff)
        return keys.fail(k.key,
                         number(*v) + ": " + k.what + " is not supported");
  if (keys.find("attention.layer_norm_epsilon"))
    return keys.fail("attention.layer_norm_epsilon",
                     "is set: LayerNorm is not supported (RMSNorm only)");
  if (keys.find("attention.sliding_window")) {
    if (!keys.integer("attention.sliding_window", arch.slidingWindow, true))
      return false;
    arch.slidingWindowKey = keys.name("attention.sliding_window");
  }
  return true;
}

static bool describeGGUF(WeightSource &src, Architecture &arch,
                         std::string &error) {
  const gg::Value *name = src.ggufFile.find("general.architecture");
  if (!name || name->type != gg::ValueType::String) {
    error = src.path + ": no general.architecture";
    return false;
  }
  std::vector<std::string> known;
  for (const Description &d : kDescriptions) {
    for (StringRef n : d.ggufNames) {
      if (n != name->s) {
        known.push_back(n.str());
        continue;
      }
      arch.name = d.name;
      GGUFKeys keys(src, name->s, error);
      return d.fromGGUF(keys, arch) && checkGGUFKeys(keys, arch);
    }
  }
  error = src.path + ": architecture '" + name->s +
          "' is not a decoder the importer knows (" + llvm::join(known, ", ") +
          ")";
  return false;
}

static bool describeConfig(WeightSource &src, Architecture &arch,
                           std::string &error) {
  ConfigKeys keys(src, error);
  const Description *found = nullptr;
  if (const llvm::json::Array *archs = keys.o.getArray("architectures")) {
    std::vector<std::string> known;
    for (const Description &d : kDescriptions)
      for (StringRef c : d.hfClasses) {
        known.push_back(c.str());
        for (const llvm::json::Value &a : *archs)
          if (!found && a.getAsString() == c)
            found = &d;
      }
    if (!found)
      return keys.fail("architectures name no " + llvm::join(known, " or "));
  } else if (std::optional<StringRef> type = keys.o.getString("model_type")) {
    for (const Description &d : kDescriptions)
      if (!found && llvm::is_contained(d.hfModelTypes, *type))
        found = &d;
    if (!found)
      return keys.fail("model_type '" + type->str() +
                       "' is not a decoder the importer knows");
  } else {
    found = &kDescriptions[0];
  }
  arch.name = found->name;
  if (!found->fromConfig(keys, arch))
    return false;
  if (!src.rename(
          found->hfTensorName,
          [](StringRef name) {
            // Derived from rope_theta and rope_scaling, read above.
            return name.ends_with("rotary_emb.inv_freq");
          },
          found->decoderName, error))
    return false;
  // Hugging Face ties the head to the embedding by this flag, whatever
  // the checkpoint holds.
  if (std::optional<bool> tied = keys.o.getBoolean("tie_word_embeddings")) {
    const Weight *head = src.find("output.weight");
    bool hasHead = head;
    if (*tied && head) {
      // A checkpoint may store the tied matrix twice; then it is the same.
      const Weight *emb = src.find("token_embd.weight");
      if (!emb || emb->kind != head->kind || emb->shape != head->shape ||
          emb->bytes != head->bytes ||
          std::memcmp(emb->data, head->data, head->bytes))
        return keys.fail("tie_word_embeddings is true but the checkpoint's "
                         "lm_head.weight differs from its embedding");
    }
    if (!*tied && !hasHead)
      return keys.fail("tie_word_embeddings is false but the checkpoint has "
                       "no lm_head.weight");
  }
  return true;
}

bool mlir::lowbit::importer::describeArchitecture(WeightSource &src,
                                                  Architecture &arch,
                                                  std::string &error) {
  if (!(src.format == WeightSource::Format::GGUF
            ? describeGGUF(src, arch, error)
            : describeConfig(src, arch, error)))
    return false;
  HyperParameters &c = arch.hp;
  const Weight *emb = src.find("token_embd.weight");
  if (!emb || emb->shape.size() != 2) {
    error = src.path + ": no token_embd.weight matrix";
    return false;
  }
  c.vocab = emb->shape[0];
  arch.tiedHead = !src.find("output.weight");
  // The hyper-parameters must be self-consistent before any shape is
  // trusted.
  auto bad = [&](const std::string &what) {
    error = src.path + ": " + what;
    return false;
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
  if (c.dim > (1 << 16) || c.ffn > (1 << 18) || c.layers > 1024 ||
      c.vocab > (1 << 22) || c.heads * c.headDim > (1 << 18))
    return bad("dimensions beyond what the importer accepts");
  if (c.headDim % 2)
    return bad("head size " + std::to_string(c.headDim) + " must be even");
  if (!std::isfinite(c.rmsEps) || c.rmsEps <= 0 || c.rmsEps > 1 ||
      !std::isfinite(c.ropeTheta) || c.ropeTheta <= 1 || c.ropeTheta > 1e12)
    return bad("RMSNorm epsilon must be in (0, 1] and the RoPE base in (1, "
               "1e12]");
  if (int64_t(arch.layers.size()) != c.layers)
    return bad("importer bug: a recipe per layer expected");
  if (arch.slidingWindow < 0)
    return bad(arch.slidingWindowKey + " must not be negative");
  // A window the description gave no layers to is every layer's
  // (Mistral).
  if (arch.slidingWindow > 0 &&
      llvm::none_of(arch.layers,
                    [](const LayerRecipe &r) { return r.windowed; }))
    for (LayerRecipe &r : arch.layers)
      r.windowed = true;
  return true;
}
