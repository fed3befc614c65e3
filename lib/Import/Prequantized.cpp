//===- Prequantized.cpp - pre-quantized safetensors checkpoints -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Prequantized.h and docs/Import.md. Every format becomes lowbit's
// [out, in] layout with the checkpoint's own codes, scales and zero
// points (no requantization):
// - GPTQ: qweight int32 [in/p, out] (p = 32/bits codes per word along the
//   inputs, code j at bits j*bits), qzeros int32 [groups, out/p] (along
//   the outputs), scales [groups, out], g_idx int32 [in] (the group of
//   each input). checkpoint_format `gptq` (v1) stores z - 1: the zero
//   point is (stored + 1) mod 2^bits, as AutoGPTQ's dequantization
//   computes it (`zeros + 1`, then the mask); `gptq_v2` stores z.
// - AWQ (GEMM): qweight int32 [in, out/8], qzeros int32 [groups, out/8],
//   nibble k of a word holding output 8c + [0, 2, 4, 6, 1, 3, 5, 7][k];
//   scales [groups, out]; w = (q - z) s.
// - compressed-tensors: pack-quantized (weight_packed int32 [out, in/p],
//   codes q + 2^(bits-1) at bits j*bits, weight_scale [out, groups |
//   1] or one, optional unpacked weight_zero_point) and float-quantized
//   FP8 (weight F8_E4M3 [out, in], weight_scale per channel or tensor).
//
//===----------------------------------------------------------------------===//

#include "Prequantized.h"

#include "lowbit/Numerics/Formats.h"
#include "lowbit/Numerics/Numerics.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cstring>

using namespace mlir::lowbit::importer;
namespace nx = ::lowbit::numerics;
namespace st = ::lowbit::safetensors;
using DT = st::DType;
using QW = QuantizedWeight;

//===----------------------------------------------------------------------===//
// QuantizedWeight
//===----------------------------------------------------------------------===//

int32_t QW::code(int64_t o, int64_t j, int64_t in) const {
  if (fourBit()) {
    int64_t rowBytes = (in + 1) / 2;
    uint8_t byte = codes[o * rowBytes + j / 2];
    int32_t n = (j % 2) ? byte >> 4 : byte & 15;
    return element == Element::Int4 && n >= 8 ? n - 16 : n;
  }
  uint8_t byte = codes[o * in + j];
  return element == Element::Int8 ? int32_t(int8_t(byte)) : int32_t(byte);
}

float QW::scaleAt(int64_t i) const {
  switch (scale) {
  case Scale::F32: {
    float f;
    std::memcpy(&f, scales.data() + 4 * i, 4);
    return f;
  }
  case Scale::F16:
  case Scale::BF16: {
    uint16_t bits;
    std::memcpy(&bits, scales.data() + 2 * i, 2);
    return nx::decodeMiniFloat(
        scale == Scale::F16 ? ::lowbit::kF16 : ::lowbit::kBF16, bits);
  }
  }
  return 0;
}

float QW::value(int64_t o, int64_t j, int64_t out, int64_t in) const {
  int64_t i = (o / blockRows) * (in / blockCols) + j / blockCols;
  int32_t q = code(o, j, in);
  if (element == Element::F8E4M3FN)
    return nx::decodeElement(nx::ElementType::F8E4M3FN, uint32_t(q)) *
           scaleAt(i);
  int32_t z = zeroPoints.empty() ? 0 : zeroPoints[i];
  return float(q - z) * scaleAt(i);
}

//===----------------------------------------------------------------------===//
// Reading the formats
//===----------------------------------------------------------------------===//

namespace {

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? " x " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

class Reader {
public:
  Reader(const llvm::json::Object &qc, const std::string &configPath,
         std::map<std::string, RawTensor> &tensors,
         std::map<std::string, Weight> &weights, std::string &error)
      : qc(qc), configPath(configPath), tensors(tensors), weights(weights),
        error(error) {}

  bool run();

private:
  bool keyError(llvm::StringRef key, const std::string &what) {
    error = configPath + ": quantization_config: '" + key.str() + "' " + what;
    return false;
  }
  bool tensorError(const std::string &name, const std::string &what) {
    error = "tensor '" + name + "' " + what;
    return false;
  }
  /// An integer key of `o` (`def` when absent); false on another type.
  bool intKey(const llvm::json::Object &o, llvm::StringRef key, int64_t def,
              int64_t &out);
  bool boolKey(const llvm::json::Object &o, llvm::StringRef key, bool def,
               bool &out);
  /// Tensor `name`, which must have one of `dtypes` and (unless empty)
  /// shape `shape`; null with the error set otherwise.
  const RawTensor *get(const std::string &name, std::vector<DT> dtypes,
                       const std::vector<int64_t> &shape,
                       const std::string &why);
  /// Stores `q` as weight `module`.weight [out, in] and drops the
  /// module's tensors `used`.
  void emit(const std::string &module, int64_t out, int64_t in,
            std::shared_ptr<QW> q, const std::vector<std::string> &used);
  bool scaleKind(const RawTensor &t, QW &q);
  /// compressed-tensors: module `m`'s `.weight_scale` (f16, bf16, f32),
  /// shaped as `strategy`'s blocks of rows x cols of [out, in] need; null
  /// with the error set otherwise (`why`: the quantization format).
  const RawTensor *blockScales(const std::string &m,
                               const std::string &strategy, int64_t rows,
                               int64_t cols, int64_t out, int64_t in,
                               const std::string &why);

  bool gptq();
  bool awq();
  bool gptqModule(const std::string &m, unsigned bits, int64_t groupSize,
                  bool descAct, bool v1);
  bool awqModule(const std::string &m, int64_t groupSize);
  bool compressed();
  bool packedModule(const std::string &m, const llvm::json::Object &wq);
  bool fp8Module(const std::string &m, const llvm::json::Object &wq);
  /// Module names with a tensor `module.suffix`.
  std::vector<std::string> modulesWith(llvm::StringRef suffix) const;

  const llvm::json::Object &qc;
  const std::string &configPath;
  std::map<std::string, RawTensor> &tensors;
  std::map<std::string, Weight> &weights;
  std::string &error;
  /// compressed-tensors: the key of the weights' scheme
  /// ("config_groups.NAME.weights.").
  std::string weightsKey;
};

int32_t i32At(const RawTensor &t, int64_t i) {
  int32_t v;
  std::memcpy(&v, t.data + 4 * i, 4);
  return v;
}

uint32_t u32At(const RawTensor &t, int64_t i) { return uint32_t(i32At(t, i)); }

} // namespace

bool Reader::intKey(const llvm::json::Object &o, llvm::StringRef key,
                    int64_t def, int64_t &out) {
  const llvm::json::Value *v = o.get(key);
  if (!v || v->kind() == llvm::json::Value::Null) {
    out = def;
    return true;
  }
  std::optional<int64_t> i = v->getAsInteger();
  if (!i)
    return keyError(key, "must be an integer");
  out = *i;
  return true;
}

bool Reader::boolKey(const llvm::json::Object &o, llvm::StringRef key, bool def,
                     bool &out) {
  const llvm::json::Value *v = o.get(key);
  if (!v || v->kind() == llvm::json::Value::Null) {
    out = def;
    return true;
  }
  std::optional<bool> b = v->getAsBoolean();
  if (!b)
    return keyError(key, "must be true or false");
  out = *b;
  return true;
}

const RawTensor *Reader::get(const std::string &name, std::vector<DT> dtypes,
                             const std::vector<int64_t> &shape,
                             const std::string &why) {
  auto it = tensors.find(name);
  if (it == tensors.end()) {
    tensorError(name, "is missing (" + why + ")");
    return nullptr;
  }
  const RawTensor &t = it->second;
  if (llvm::find(dtypes, t.dtype) == dtypes.end()) {
    std::string want;
    for (DT d : dtypes)
      want += std::string(want.empty() ? "" : " or ") + st::dtypeName(d);
    tensorError(name, std::string("is ") + st::dtypeName(t.dtype) + ", " + why +
                          " stores " + want);
    return nullptr;
  }
  if (!shape.empty() && t.shape != shape) {
    tensorError(name, "has shape " + shapeText(t.shape) + ", " + why +
                          " expects " + shapeText(shape));
    return nullptr;
  }
  return &t;
}

bool Reader::scaleKind(const RawTensor &t, QW &q) {
  q.scale = t.dtype == DT::F16    ? QW::Scale::F16
            : t.dtype == DT::BF16 ? QW::Scale::BF16
                                  : QW::Scale::F32;
  q.scales.assign(t.data, t.data + t.bytes);
  return true;
}

void Reader::emit(const std::string &module, int64_t out, int64_t in,
                  std::shared_ptr<QW> q, const std::vector<std::string> &used) {
  for (const std::string &s : used)
    tensors.erase(module + "." + s);
  Weight w;
  w.kind = Weight::Kind::Quantized;
  w.shape = {out, in};
  w.data = q->codes.data();
  w.bytes = q->codes.size();
  w.quant = std::move(q);
  weights[module + ".weight"] = std::move(w);
}

std::vector<std::string> Reader::modulesWith(llvm::StringRef suffix) const {
  std::vector<std::string> out;
  for (const auto &[name, t] : tensors)
    if (llvm::StringRef(name).ends_with("." + suffix.str()))
      out.push_back(name.substr(0, name.size() - suffix.size() - 1));
  return out;
}

/// Packs `codes` ([rows, cols] of 4-bit values, row-major) two per byte.
static std::vector<uint8_t> packNibbles(const std::vector<uint8_t> &codes,
                                        int64_t rows, int64_t cols) {
  int64_t rowBytes = (cols + 1) / 2;
  std::vector<uint8_t> out(rows * rowBytes, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[r * rowBytes + c / 2] |= (codes[r * cols + c] & 15) << (4 * (c % 2));
  return out;
}

bool Reader::gptqModule(const std::string &m, unsigned bits, int64_t groupSize,
                        bool descAct, bool v1) {
  const int64_t pack = 32 / bits;
  const uint32_t mask = (1u << bits) - 1;
  const RawTensor *qw = get(m + ".qweight", {DT::I32}, {}, "GPTQ");
  if (!qw)
    return false;
  if (qw->shape.size() != 2)
    return tensorError(m + ".qweight",
                       "must be [in / " + std::to_string(pack) + ", out]");
  const int64_t in = qw->shape[0] * pack, out = qw->shape[1];
  const int64_t g = groupSize < 0 ? in : groupSize;
  if (g <= 0 || in % g || out % pack)
    return tensorError(m + ".qweight",
                       "has " + std::to_string(in) + " inputs and " +
                           std::to_string(out) + " outputs: group_size " +
                           std::to_string(g) + " must divide the inputs and " +
                           std::to_string(pack) + " the outputs");
  const int64_t groups = in / g;
  const RawTensor *qz =
      get(m + ".qzeros", {DT::I32}, {groups, out / pack}, "GPTQ");
  const RawTensor *sc = qz ? get(m + ".scales", {DT::F16, DT::BF16, DT::F32},
                                 {groups, out}, "GPTQ")
                           : nullptr;
  if (!sc)
    return false;
  std::vector<std::string> used{"qweight", "qzeros", "scales"};
  // The group of each input: g_idx (act-order makes it non-monotone), else
  // contiguous.
  std::vector<int64_t> groupOf(in);
  for (int64_t i = 0; i < in; ++i)
    groupOf[i] = i / g;
  bool contiguous = true;
  if (tensors.count(m + ".g_idx")) {
    const RawTensor *gi = get(m + ".g_idx", {DT::I32}, {in}, "GPTQ");
    if (!gi)
      return false;
    used.push_back("g_idx");
    for (int64_t i = 0; i < in; ++i) {
      int32_t v = i32At(*gi, i);
      if (v < 0 || v >= groups)
        return tensorError(m + ".g_idx", "gives input " + std::to_string(i) +
                                             " group " + std::to_string(v) +
                                             ", not one of the " +
                                             std::to_string(groups));
      contiguous &= v == groupOf[i];
      groupOf[i] = v;
    }
  } else if (descAct) {
    return tensorError(m + ".g_idx", "is missing (desc_act is true)");
  }
  // Act-order: the inputs sorted by group (stably), which needs g inputs
  // in every group; column j of lowbit's matrix is input order[j].
  std::vector<int64_t> order;
  if (!contiguous) {
    order.resize(in);
    for (int64_t i = 0; i < in; ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return groupOf[a] < groupOf[b];
    });
    for (int64_t j = 0; j < in; ++j)
      if (groupOf[order[j]] != j / g)
        return tensorError(m + ".g_idx",
                           "does not give every group " + std::to_string(g) +
                               " inputs (group " +
                               std::to_string(groupOf[order[j]]) +
                               "): lowbit needs groups of group_size");
  }
  auto q = std::make_shared<QW>();
  q->format = "GPTQ";
  q->element = bits == 4 ? QW::Element::UInt4 : QW::Element::UInt8;
  q->blockRows = 1;
  q->blockCols = g;
  q->inputOrder = order;
  std::vector<uint8_t> codes(out * in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t j = 0; j < in; ++j) {
      int64_t i = order.empty() ? j : order[j];
      uint32_t word = u32At(*qw, (i / pack) * out + o);
      codes[o * in + j] = uint8_t((word >> (bits * (i % pack))) & mask);
    }
  q->codes = bits == 4 ? packNibbles(codes, out, in) : std::move(codes);
  // Scales and zero points [groups, out] to lowbit's [out, groups].
  std::vector<uint8_t> scales(sc->bytes);
  const int64_t es = sc->bytes / (groups * out);
  q->zeroPoints.resize(out * groups);
  for (int64_t gr = 0; gr < groups; ++gr)
    for (int64_t o = 0; o < out; ++o) {
      std::memcpy(&scales[(o * groups + gr) * es],
                  sc->data + (gr * out + o) * es, es);
      uint32_t word = u32At(*qz, gr * (out / pack) + o / pack);
      uint32_t z = word >> (bits * (o % pack));
      q->zeroPoints[o * groups + gr] = int32_t((v1 ? z + 1 : z) & mask);
    }
  scaleKind(*sc, *q);
  q->scales = std::move(scales);
  emit(m, out, in, std::move(q), used);
  return true;
}

bool Reader::gptq() {
  int64_t bits = 0, groupSize = 0;
  bool descAct, sym;
  if (!intKey(qc, "bits", -1, bits) ||
      !intKey(qc, "group_size", -1, groupSize) ||
      !boolKey(qc, "desc_act", false, descAct) ||
      !boolKey(qc, "sym", true, sym))
    return false;
  (void)sym; // The zero points are read either way.
  if (bits != 4 && bits != 8)
    return keyError("bits", "is " + std::to_string(bits) +
                                ": lowbit reads 4- and 8-bit GPTQ");
  if (groupSize == 0 || groupSize < -1)
    return keyError("group_size", "must be positive or -1");
  bool v1 = true;
  if (const llvm::json::Value *f = qc.get("checkpoint_format")) {
    std::optional<llvm::StringRef> s = f->getAsString();
    if (!s || (*s != "gptq" && *s != "gptq_v2"))
      return keyError("checkpoint_format",
                      "must be \"gptq\" or \"gptq_v2\" (lowbit does not read "
                      "other GPTQ formats)");
    v1 = *s == "gptq";
  }
  for (const std::string &m : modulesWith("qweight"))
    if (!gptqModule(m, unsigned(bits), groupSize, descAct, v1))
      return false;
  return true;
}

bool Reader::awqModule(const std::string &m, int64_t groupSize) {
  // Nibble k of a word holds output 8c + kOrder[k]; kAt[o % 8] is o's.
  static const int kAt[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  const RawTensor *qw = get(m + ".qweight", {DT::I32}, {}, "AWQ");
  if (!qw)
    return false;
  if (qw->shape.size() != 2)
    return tensorError(m + ".qweight", "must be [in, out / 8]");
  const int64_t in = qw->shape[0], out = qw->shape[1] * 8;
  const int64_t g = groupSize < 0 ? in : groupSize;
  if (g <= 0 || in % g)
    return tensorError(m + ".qweight", "has " + std::to_string(in) +
                                           " inputs, not a multiple of "
                                           "group_size " +
                                           std::to_string(g));
  const int64_t groups = in / g;
  const RawTensor *qz = get(m + ".qzeros", {DT::I32}, {groups, out / 8}, "AWQ");
  const RawTensor *sc = qz ? get(m + ".scales", {DT::F16, DT::BF16, DT::F32},
                                 {groups, out}, "AWQ")
                           : nullptr;
  if (!sc)
    return false;
  auto q = std::make_shared<QW>();
  q->format = "AWQ";
  q->element = QW::Element::UInt4;
  q->blockCols = g;
  std::vector<uint8_t> codes(out * in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      codes[o * in + i] =
          uint8_t((u32At(*qw, i * (out / 8) + o / 8) >> (4 * kAt[o % 8])) & 15);
  q->codes = packNibbles(codes, out, in);
  std::vector<uint8_t> scales(sc->bytes);
  const int64_t es = sc->bytes / (groups * out);
  q->zeroPoints.resize(out * groups);
  for (int64_t gr = 0; gr < groups; ++gr)
    for (int64_t o = 0; o < out; ++o) {
      std::memcpy(&scales[(o * groups + gr) * es],
                  sc->data + (gr * out + o) * es, es);
      q->zeroPoints[o * groups + gr] = int32_t(
          (u32At(*qz, gr * (out / 8) + o / 8) >> (4 * kAt[o % 8])) & 15);
    }
  scaleKind(*sc, *q);
  q->scales = std::move(scales);
  emit(m, out, in, std::move(q), {"qweight", "qzeros", "scales"});
  return true;
}

bool Reader::awq() {
  int64_t bits, groupSize;
  bool zeroPoint;
  llvm::StringRef bitsKey = qc.get("w_bit") ? "w_bit" : "bits";
  llvm::StringRef groupKey =
      qc.get("q_group_size") ? "q_group_size" : "group_size";
  if (!intKey(qc, bitsKey, 4, bits) || !intKey(qc, groupKey, -1, groupSize) ||
      !boolKey(qc, "zero_point", true, zeroPoint))
    return false;
  if (bits != 4)
    return keyError(bitsKey, "is " + std::to_string(bits) +
                                 ": AWQ's GEMM format "
                                 "packs 4-bit codes");
  if (!zeroPoint)
    return keyError("zero_point", "is false: lowbit reads AWQ with zero "
                                  "points");
  if (const llvm::json::Value *v = qc.get("version")) {
    std::optional<llvm::StringRef> s = v->getAsString();
    if (!s || s->lower() != "gemm")
      return keyError("version", "must be \"gemm\" (lowbit reads AWQ's GEMM "
                                 "layout only)");
  }
  if (groupSize == 0 || groupSize < -1)
    return keyError(groupKey, "must be positive or -1");
  for (const std::string &m : modulesWith("qweight"))
    if (!awqModule(m, groupSize))
      return false;
  return true;
}

/// The scale layout of `strategy` for [out, in]: its block and the shapes
/// a checkpoint may store its scales in.
static bool strategyBlocks(llvm::StringRef strategy, int64_t groupSize,
                           int64_t out, int64_t in, int64_t &rows,
                           int64_t &cols) {
  if (strategy == "group" && groupSize > 0 && in % groupSize == 0) {
    rows = 1;
    cols = groupSize;
  } else if (strategy == "channel") {
    rows = 1;
    cols = in;
  } else if (strategy == "tensor") {
    rows = out;
    cols = in;
  } else {
    return false;
  }
  return true;
}

/// Whether `t` holds `n` elements in a shape compressed-tensors writes for
/// scales of [out / rows, in / cols] (per tensor: [], [1] or [1, 1]).
static bool scaleShapeFits(const RawTensor &t, int64_t rows, int64_t cols,
                           int64_t out, int64_t in) {
  if (rows == out && cols == in)
    return product(t.shape) == 1 && t.shape.size() <= 2;
  return t.shape == std::vector<int64_t>{out / rows, in / cols};
}

const RawTensor *Reader::blockScales(const std::string &m,
                                     const std::string &strategy, int64_t rows,
                                     int64_t cols, int64_t out, int64_t in,
                                     const std::string &why) {
  const RawTensor *sc =
      get(m + ".weight_scale", {DT::F16, DT::BF16, DT::F32}, {}, why);
  if (sc && !scaleShapeFits(*sc, rows, cols, out, in)) {
    tensorError(m + ".weight_scale",
                "has shape " + shapeText(sc->shape) + ", strategy " + strategy +
                    " expects " + shapeText({out / rows, in / cols}));
    return nullptr;
  }
  return sc;
}

bool Reader::packedModule(const std::string &m, const llvm::json::Object &wq) {
  int64_t bits, groupSize;
  bool sym;
  if (!intKey(wq, "num_bits", -1, bits) ||
      !intKey(wq, "group_size", -1, groupSize) ||
      !boolKey(wq, "symmetric", true, sym))
    return false;
  if (bits != 4 && bits != 8)
    return keyError(weightsKey + "num_bits", "is " + std::to_string(bits) +
                                                 ": lowbit reads 4- and 8-bit "
                                                 "pack-quantized weights");
  const int64_t pack = 32 / bits;
  const uint32_t mask = (1u << bits) - 1;
  const int32_t offset = 1 << (bits - 1);
  const RawTensor *wp =
      get(m + ".weight_packed", {DT::I32}, {}, "pack-quantized");
  if (!wp)
    return false;
  if (wp->shape.size() != 2)
    return tensorError(m + ".weight_packed",
                       "must be [out, in / " + std::to_string(pack) + "]");
  const int64_t out = wp->shape[0];
  int64_t in = wp->shape[1] * pack;
  std::vector<std::string> used{"weight_packed", "weight_scale"};
  if (tensors.count(m + ".weight_shape")) {
    const RawTensor *ws =
        get(m + ".weight_shape", {DT::I32, DT::I64}, {2}, "pack-quantized");
    if (!ws)
      return false;
    int64_t dims[2];
    for (int k = 0; k < 2; ++k) {
      if (ws->dtype == DT::I64)
        std::memcpy(&dims[k], ws->data + 8 * k, 8);
      else
        dims[k] = i32At(*ws, k);
    }
    if (dims[0] != out || dims[1] <= 0 ||
        (dims[1] + pack - 1) / pack != wp->shape[1])
      return tensorError(m + ".weight_shape",
                         "is [" + std::to_string(dims[0]) + ", " +
                             std::to_string(dims[1]) + "], which " + m +
                             ".weight_packed " + shapeText(wp->shape) +
                             " does not hold");
    in = dims[1];
    used.push_back("weight_shape");
  }
  std::string strategy = wq.getString("strategy").value_or("").str();
  int64_t rows, cols;
  if (!strategyBlocks(strategy, groupSize, out, in, rows, cols))
    return keyError(weightsKey + "strategy",
                    "is '" + strategy + "' (group size " +
                        std::to_string(groupSize) + ", " + std::to_string(in) +
                        " inputs in " + m +
                        "): lowbit reads group (dividing the inputs), "
                        "channel and tensor");
  const RawTensor *sc =
      blockScales(m, strategy, rows, cols, out, in, "pack-quantized");
  if (!sc)
    return false;
  const int64_t nScales = (out / rows) * (in / cols);
  auto q = std::make_shared<QW>();
  q->format = "compressed-tensors pack-quantized";
  q->blockRows = rows;
  q->blockCols = cols;
  scaleKind(*sc, *q);
  const RawTensor *zp = nullptr;
  if (tensors.count(m + ".weight_zero_point")) {
    zp = get(m + ".weight_zero_point", {DT::I8, DT::I32}, {}, "pack-quantized");
    if (!zp)
      return false;
    if (!scaleShapeFits(*zp, rows, cols, out, in))
      return tensorError(m + ".weight_zero_point",
                         "has shape " + shapeText(zp->shape) +
                             ": lowbit reads zero points unpacked, shaped as "
                             "the scales " +
                             shapeText({out / rows, in / cols}));
    used.push_back("weight_zero_point");
    for (int64_t i = 0; i < nScales; ++i)
      q->zeroPoints.push_back(
          (zp->dtype == DT::I8 ? int32_t(int8_t(zp->data[i])) : i32At(*zp, i)) +
          offset);
  } else if (!sym) {
    return tensorError(m + ".weight_zero_point",
                       "is missing (symmetric is false)");
  }
  // Stored nibbles are q + offset; symmetric: signed q, else unsigned codes
  // with the zero point moved by the offset.
  q->element = zp ? (bits == 4 ? QW::Element::UInt4 : QW::Element::UInt8)
                  : (bits == 4 ? QW::Element::Int4 : QW::Element::Int8);
  std::vector<uint8_t> codes(out * in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      uint32_t n =
          (u32At(*wp, o * wp->shape[1] + i / pack) >> (bits * (i % pack))) &
          mask;
      codes[o * in + i] = uint8_t(zp ? n : uint32_t(int32_t(n) - offset));
    }
  q->codes = bits == 4 ? packNibbles(codes, out, in) : std::move(codes);
  emit(m, out, in, std::move(q), used);
  return true;
}

bool Reader::fp8Module(const std::string &m, const llvm::json::Object &wq) {
  const RawTensor *w = get(m + ".weight", {DT::F8E4M3}, {}, "float-quantized");
  if (!w)
    return false;
  if (w->shape.size() != 2)
    return tensorError(m + ".weight", "must be [out, in]");
  const int64_t out = w->shape[0], in = w->shape[1];
  std::string strategy = wq.getString("strategy").value_or("").str();
  int64_t rows, cols;
  if ((strategy != "channel" && strategy != "tensor") ||
      !strategyBlocks(strategy, 0, out, in, rows, cols))
    return keyError(weightsKey + "strategy",
                    "is '" + strategy +
                        "': lowbit reads FP8 weights per "
                        "channel or per tensor");
  const RawTensor *sc =
      blockScales(m, strategy, rows, cols, out, in, "float-quantized");
  if (!sc)
    return false;
  if (tensors.count(m + ".weight_zero_point"))
    return tensorError(m + ".weight_zero_point",
                       "is given: FP8 weights have no zero points");
  auto q = std::make_shared<QW>();
  q->format = "compressed-tensors float-quantized";
  q->element = QW::Element::F8E4M3FN;
  q->blockRows = rows;
  q->blockCols = cols;
  q->codes.assign(w->data, w->data + w->bytes);
  scaleKind(*sc, *q);
  emit(m, out, in, std::move(q), {"weight", "weight_scale"});
  return true;
}

bool Reader::compressed() {
  const llvm::json::Object *groups = qc.getObject("config_groups");
  if (!groups || groups->size() != 1)
    return keyError("config_groups",
                    "must hold exactly one group (lowbit does not match "
                    "several groups' targets)");
  const auto &[groupName, groupValue] = *groups->begin();
  const llvm::json::Object *group = groupValue.getAsObject();
  std::string key = "config_groups." + groupName.str();
  if (!group)
    return keyError(key, "must be an object");
  for (llvm::StringRef k : {"input_activations", "output_activations"})
    if (const llvm::json::Value *v = group->get(k);
        v && v->kind() != llvm::json::Value::Null)
      return keyError(key + "." + k.str(),
                      "quantizes activations, which the importer does not "
                      "implement (weight-only schemes)");
  for (llvm::StringRef k : {"kv_cache_scheme", "sparsity_config"})
    if (const llvm::json::Value *v = qc.get(k);
        v && v->kind() != llvm::json::Value::Null)
      return keyError(k, "is not implemented");
  if (std::optional<llvm::StringRef> s = qc.getString("quantization_status");
      s && *s != "compressed")
    return keyError("quantization_status", "is '" + s->str() +
                                               "': lowbit reads compressed "
                                               "checkpoints");
  weightsKey = key + ".weights.";
  const llvm::json::Object *wq = group->getObject("weights");
  if (!wq)
    return keyError(key + ".weights", "is missing");
  std::optional<llvm::StringRef> format = group->getString("format");
  if (!format)
    format = qc.getString("format");
  std::string type = wq->getString("type").value_or("int").str();
  bool dynamic;
  if (!boolKey(*wq, "dynamic", false, dynamic))
    return false;
  if (dynamic)
    return keyError(weightsKey + "dynamic", "is true: weights have static "
                                            "scales in a checkpoint");
  for (const auto &[name, t] : tensors)
    if (llvm::StringRef(name).ends_with(".weight_g_idx"))
      return tensorError(name, "gives an activation order, which lowbit does "
                               "not read for compressed-tensors");
  if (format && *format == "pack-quantized" && type == "int") {
    for (const std::string &m : modulesWith("weight_packed"))
      if (!packedModule(m, *wq))
        return false;
    return true;
  }
  if (format && *format == "float-quantized" && type == "float") {
    int64_t bits;
    if (!intKey(*wq, "num_bits", 8, bits))
      return false;
    if (bits != 8)
      return keyError(weightsKey + "num_bits",
                      "is " + std::to_string(bits) +
                          ": lowbit reads FP8 (E4M3) float-quantized weights");
    for (const std::string &m : modulesWith("weight_scale"))
      if (!fp8Module(m, *wq))
        return false;
    return true;
  }
  return keyError("format", "is '" + (format ? format->str() : "") +
                                "' with weights of type '" + type +
                                "': lowbit reads pack-quantized (int) and "
                                "float-quantized (FP8)");
}

bool Reader::run() {
  std::optional<llvm::StringRef> method = qc.getString("quant_method");
  if (!method)
    return keyError("quant_method", "is missing");
  if (*method == "gptq")
    return gptq();
  if (*method == "awq")
    return awq();
  if (*method == "compressed-tensors")
    return compressed();
  return keyError("quant_method",
                  "is '" + method->str() +
                      "': lowbit reads gptq, awq and compressed-tensors");
}

bool mlir::lowbit::importer::readPrequantized(
    const llvm::json::Object &config, const std::string &configPath,
    std::map<std::string, RawTensor> &tensors,
    std::map<std::string, Weight> &weights, std::string &error) {
  const llvm::json::Value *v = config.get("quantization_config");
  if (!v || v->kind() == llvm::json::Value::Null)
    return true;
  const llvm::json::Object *qc = v->getAsObject();
  if (!qc) {
    error = configPath + ": quantization_config must be an object";
    return false;
  }
  return Reader(*qc, configPath, tensors, weights, error).run();
}
