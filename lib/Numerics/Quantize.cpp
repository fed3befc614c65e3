//===- Quantize.cpp - scaled block quantization and named formats ---------===//
//
// One implementation of docs/Spec.md section 5 for every scheme with scales
// (integers, minifloats with f32/E8M0/E4M3 scales, ternary) plus element
// casts and GGUF rows. A block is a product of per-dimension block sizes;
// the tensor is walked row by row (last axis contiguous), so every block
// layout shares three passes: statistics, scales, codes.
//
//===----------------------------------------------------------------------===//

#include "MiniFloatImpl.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace lowbit::numerics {

namespace {

int64_t product(const std::vector<int64_t> &v) {
  int64_t p = 1;
  for (int64_t d : v)
    p *= d;
  return p;
}

std::string shapeString(const std::vector<int64_t> &v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i)
    os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}

/// Multi-index of flat row-major position `flat`.
std::vector<int64_t> unflatten(int64_t flat,
                               const std::vector<int64_t> &shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return idx;
}

inline float roundF(float v, Rounding r) {
  return r == Rounding::NearestEven ? detail::roundEvenSmall(v) : std::round(v);
}

bool packs(unsigned bits) { return bits == 2 || bits == 4; }

/// Bytes per row of packed codes for a last axis of `n` elements.
int64_t rowBytes(const Scheme &s, int64_t n) {
  if (s.kind == ElementKind::GGUF)
    return n / ggufBlockSize(s.gguf) * ggufBlockBytes(s.gguf);
  unsigned w = s.codeBits();
  return packs(w) ? (n * w + 7) / 8 : n;
}

unsigned scaleBytes(ScaleType t) {
  switch (t) {
  case ScaleType::None:
    return 0;
  case ScaleType::F32:
    return 4;
  case ScaleType::F16:
  case ScaleType::BF16:
    return 2;
  case ScaleType::E8M0:
  case ScaleType::E4M3:
    return 1;
  }
  return 0;
}

/// Rounds an fp32 scale to the storage type and writes it; returns the
/// value the codes are computed with (the stored scale, decoded). f16/bf16
/// storage saturates (a scale beyond the type's range stores its largest
/// finite value) and never turns a non-zero scale into zero (it stores the
/// smallest subnormal instead): a block's codes never divide by 0 or Inf.
float storeScale(ScaleType t, float v, uint8_t *p) {
  switch (t) {
  case ScaleType::F32:
    std::memcpy(p, &v, 4);
    return v;
  case ScaleType::F16:
  case ScaleType::BF16: {
    const MiniFloatFormat &f = t == ScaleType::F16 ? kF16 : kBF16;
    uint32_t h = encodeMiniFloat(f, v, /*saturate=*/true);
    if ((h & 0x7FFFu) == 0 && v != 0.0f)
      h = (h & 0x8000u) | 1u;
    p[0] = uint8_t(h), p[1] = uint8_t(h >> 8);
    return decodeMiniFloat(f, h);
  }
  default:
    return v; // E8M0/E4M3 are computed as codes by the caller
  }
}

enum class StatKind { AbsMax, AbsMaxNaN, MinMax, AbsSum };

StatKind statKind(const Scheme &s) {
  if (!s.symmetric)
    return StatKind::MinMax;
  if (s.kind == ElementKind::Ternary)
    return StatKind::AbsSum;
  if (s.isMX())
    return StatKind::AbsMaxNaN;
  return StatKind::AbsMax;
}

/// Walks the tensor row by row, giving each row's first block index and
/// the block stride along the last axis.
struct BlockWalker {
  std::vector<int64_t> shape, blocks, counts, countStrides;
  int64_t rows = 0, cols = 0, lastBlock = 1;

  BlockWalker(const std::vector<int64_t> &shape,
              const std::vector<int64_t> &blocks)
      : shape(shape), blocks(blocks) {
    size_t n = shape.size();
    counts.resize(n);
    countStrides.assign(n, 1);
    for (size_t d = 0; d < n; ++d)
      counts[d] = blocks[d] ? shape[d] / blocks[d] : 0;
    for (size_t d = n; d-- > 1;)
      countStrides[d - 1] = countStrides[d] * counts[d];
    cols = n ? shape[n - 1] : 1;
    rows = n ? product(shape) / (cols ? cols : 1) : 1;
    if (n && cols == 0)
      rows = 0;
    lastBlock = n ? blocks[n - 1] : 1;
  }
  int64_t numBlocks() const { return product(counts); }
  /// Block index of element (row, 0).
  int64_t rowBase(int64_t row) const {
    int64_t base = 0;
    for (size_t d = shape.empty() ? 0 : shape.size() - 1; d-- > 0;) {
      int64_t i = row % shape[d];
      row /= shape[d];
      base += (i / blocks[d]) * countStrides[d];
    }
    return base;
  }
};

const MiniFloatFormat &elemFormat(const Scheme &s) {
  return *miniFloatFormat(s.minifloat);
}

void putCode(uint8_t *row, int64_t c, unsigned w, uint32_t code) {
  if (w == 4) {
    row[c >> 1] |= uint8_t((code & 0xF) << ((c & 1) * 4));
  } else if (w == 2) {
    row[c >> 2] |= uint8_t((code & 0x3) << ((c & 3) * 2));
  } else {
    row[c] = uint8_t(code & ((1u << w) - 1));
  }
}

uint32_t getCode(const uint8_t *row, int64_t c, unsigned w) {
  if (w == 4)
    return (row[c >> 1] >> ((c & 1) * 4)) & 0xF;
  if (w == 2)
    return (row[c >> 2] >> ((c & 3) * 2)) & 0x3;
  return row[c] & ((1u << w) - 1);
}

bool formatHoldsNaN(const Scheme &s) {
  if (s.kind == ElementKind::MiniFloat)
    return s.isMX() || elemFormat(s).hasNaN();
  if (s.kind == ElementKind::Int)
    return s.isMX();
  return false;
}

bool formatHoldsInf(const Scheme &s) {
  // Element casts saturate or keep Inf; MX gives the block a NaN scale.
  return s.isMX() ||
         (s.kind == ElementKind::MiniFloat && s.scale == ScaleType::None);
}

/// What the per-element code loop needs, by value: held in registers (a
/// store through the uint8_t code pointer could otherwise alias, and force
/// reloads of, anything reached through a reference).
struct CodeParams {
  detail::MiniFloatEncoder enc{kF4E2M1FN, true, Rounding::NearestEven};
  bool isFloat = false, mxInt = false, symmetric = true, saturate = true;
  Rounding rounding = Rounding::NearestEven;
  int32_t qmin = 0, qmax = 0;
  uint32_t mask = 0;
  int64_t lastBlock = 1;
};

/// Codes of one row. `recip` (MX only) holds 1/scale: the scales are powers
/// of two, so multiplying by the exact reciprocal rounds identically to the
/// division (both are one correctly rounded operation on the same exact
/// value). W is the code width class: 4, 2 (packed) or 8 (a byte each).
template <bool IsFloat, unsigned W>
void encodeRow(const float *xr, uint8_t *row, int64_t cols, int64_t base,
               const float *scaleVal, const float *recip, const int32_t *zps,
               const CodeParams p) {
  for (int64_t c = 0, b = base, end = 0; c < cols; ++c) {
    if (c == end) // next block along the last axis (no division per element)
      b = base + c / p.lastBlock, end = c + p.lastBlock;
    float v = recip ? xr[c] * recip[b] : xr[c] / scaleVal[b];
    uint32_t code;
    if (IsFloat) {
      code = p.enc.encode(v);
    } else {
      if (p.mxInt)
        v = v * float(1 << kMXInt8FracBits);
      float q = roundF(v, p.rounding);
      const float zpF = zps ? float(zps[b]) : 0.0f;
      q = q + zpF;
      if (std::isnan(q))
        q = zpF;
      q = q < float(p.qmin) ? float(p.qmin) : q;
      q = q > float(p.qmax) ? float(p.qmax) : q;
      code = uint32_t(int32_t(q)) & p.mask;
    }
    if (W == 4)
      row[c >> 1] |= uint8_t((code & 0xF) << ((c & 1) * 4));
    else if (W == 2)
      row[c >> 2] |= uint8_t((code & 0x3) << ((c & 3) * 2));
    else
      row[c] = uint8_t(code);
  }
}

/// Strict mode: the first value `s` cannot hold (NaN or Inf), by index.
Status checkRepresentable(const float *x, const std::vector<int64_t> &shape,
                          const Scheme &s) {
  const bool nanOk = formatHoldsNaN(s), infOk = formatHoldsInf(s);
  const int64_t n = product(shape);
  for (int64_t i = 0; i < n; ++i) {
    bool isNaN = std::isnan(x[i]), isInf = std::isinf(x[i]);
    if ((isNaN && !nanOk) || (isInf && !infOk))
      return Status::error("element " + shapeString(unflatten(i, shape)) +
                           " is " + (isNaN ? "NaN" : "infinite") +
                           ", which this format cannot represent");
  }
  return Status::success();
}

/// Pass 3 of every scaled scheme: the codes of `x` given each block's
/// scale value (`scaleVal`, decoded from storage) and `out`'s zero points.
void encodeCodes(const float *x, const Scheme &s, const BlockWalker &bw,
                 const float *scaleVal, QTensor &out) {
  const int64_t cols = bw.cols, rows = bw.rows, nb = bw.numBlocks();
  const int64_t rb = rowBytes(s, cols);
  const unsigned w = s.codeBits();
  std::vector<float> recipVal;
  const float *recip = nullptr;
  if (s.isMX()) {
    recipVal.resize(size_t(nb));
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t e = out.scales[size_t(b)];
      recipVal[size_t(b)] = e == kE8M0NaN
                                ? std::numeric_limits<float>::quiet_NaN()
                                : detail::pow2f(int(kE8M0Bias) - int(e));
    }
    recip = recipVal.data();
  }
  CodeParams p;
  p.isFloat = s.kind == ElementKind::MiniFloat;
  if (p.isFloat)
    p.enc = detail::MiniFloatEncoder(elemFormat(s), s.saturate, s.rounding);
  p.mxInt = s.kind == ElementKind::Int && s.isMX();
  p.symmetric = s.symmetric;
  p.saturate = s.saturate;
  p.rounding = s.rounding;
  p.qmin = p.isFloat ? 0 : s.qmin();
  p.qmax = p.isFloat ? 0 : s.qmax();
  p.mask = (1u << w) - 1;
  p.lastBlock = bw.lastBlock;
  const int32_t *zps = s.symmetric ? nullptr : out.zeroPoints.data();
  auto rowFn = p.isFloat ? (w == 4   ? encodeRow<true, 4>
                            : w == 2 ? encodeRow<true, 2>
                                     : encodeRow<true, 8>)
                         : (w == 4   ? encodeRow<false, 4>
                            : w == 2 ? encodeRow<false, 2>
                                     : encodeRow<false, 8>);
  for (int64_t r = 0; r < rows; ++r)
    rowFn(x + r * cols, out.codes.data() + r * rb, cols, bw.rowBase(r),
          scaleVal, recip, zps, p);
}

} // namespace

int32_t Scheme::qmin() const {
  if (kind == ElementKind::Ternary)
    return -1;
  if (!isSigned)
    return 0;
  int32_t q = (1 << (bits - 1)) - 1;
  if (isMX() || (symmetric && !fullRange))
    return -q;
  return -q - 1;
}

int32_t Scheme::qmax() const {
  if (kind == ElementKind::Ternary)
    return 1;
  if (!isSigned)
    return (1 << bits) - 1;
  return (1 << (bits - 1)) - 1;
}

unsigned Scheme::codeBits() const {
  switch (kind) {
  case ElementKind::Int:
    return bits;
  case ElementKind::Ternary:
    return 2;
  case ElementKind::MiniFloat:
    return elementBits(minifloat);
  case ElementKind::GGUF:
    return 0;
  }
  return 0;
}

int64_t QTensor::numElements() const { return product(shape); }

std::vector<int64_t> QTensor::scaleShape() const {
  std::vector<int64_t> s;
  if (scheme.scale == ScaleType::None)
    return s;
  for (size_t d = 0; d < shape.size(); ++d)
    s.push_back(scheme.blockSizes[d] ? shape[d] / scheme.blockSizes[d] : 0);
  return s;
}

std::vector<int64_t> QTensor::codesShape() const {
  std::vector<int64_t> s(shape.begin(), shape.end());
  if (s.empty())
    return {int64_t(codes.size())};
  s.back() = rowBytes(scheme, shape.back());
  return s;
}

float QTensor::scaleAt(int64_t i) const {
  switch (scheme.scale) {
  case ScaleType::None:
    return 1.0f;
  case ScaleType::F32: {
    float v;
    std::memcpy(&v, &scales[4 * i], 4);
    return v;
  }
  case ScaleType::F16:
    return halfBitsToFloat(uint16_t(scales[2 * i] | (scales[2 * i + 1] << 8)));
  case ScaleType::BF16:
    return bfloat16BitsToFloat(
        uint16_t(scales[2 * i] | (scales[2 * i + 1] << 8)));
  case ScaleType::E8M0:
    return decodeE8M0(scales[i]);
  case ScaleType::E4M3:
    return decodeMiniFloat(kF8E4M3FN, scales[i]) * tensorScale;
  }
  return 1.0f;
}

Status verifyScheme(const Scheme &s, const std::vector<int64_t> &shape) {
  // Sizes: every dimension >= 0, and the element count (times the 8 bits
  // of the widest code) far from int64 overflow.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return Status::error("negative dimension in shape " + shapeString(shape));
    if (d && n > (int64_t(1) << 56) / d)
      return Status::error("shape " + shapeString(shape) + " is too large");
    n *= d;
  }
  if (shape.size() > 64)
    return Status::error("rank " + std::to_string(shape.size()) +
                         " exceeds 64");
  // The scheme-level rules of docs/Spec.md (LB-S*), as the IR verifier
  // states them for #lowbit.scheme.
  if (s.kind == ElementKind::Int && !s.isSigned && s.symmetric)
    return Status::error("[LB-S4] unsigned integers need an asymmetric "
                         "scheme");
  if (s.fullRange &&
      (s.kind != ElementKind::Int || !s.isSigned || !s.symmetric))
    return Status::error("[LB-S5] full_range only for symmetric signed "
                         "integers");
  if (!s.saturate && !(s.kind == ElementKind::MiniFloat &&
                       (s.minifloat == ElementType::F8E4M3FN ||
                        s.minifloat == ElementType::F8E5M2)))
    return Status::error("[LB-S11] no_saturate only for f8E4M3FN and f8E5M2");
  if (s.scale == ScaleType::E4M3 && !(s.kind == ElementKind::MiniFloat &&
                                      s.minifloat == ElementType::F4E2M1FN))
    return Status::error("[LB-S8] E4M3 block scales with a tensor scale are "
                         "NVFP4: f4E2M1FN elements only");
  if (s.scale != ScaleType::None && s.kind != ElementKind::GGUF &&
      shape.empty())
    return Status::error("[LB-T1] a scheme with scales needs rank >= 1");
  switch (s.kind) {
  case ElementKind::Int:
    if (s.bits < 2 || s.bits > 8)
      return Status::error("integer width must be 2..8 bits, got " +
                           std::to_string(s.bits));
    break;
  case ElementKind::MiniFloat:
    if (s.minifloat == ElementType::F16 || s.minifloat == ElementType::BF16 ||
        s.minifloat == ElementType::F8E8M0FNU)
      return Status::error(std::string("element type ") +
                           elementTypeName(s.minifloat) +
                           " cannot be a quantized element");
    break;
  case ElementKind::Ternary:
    if (!s.symmetric || s.scale != ScaleType::F32)
      return Status::error("ternary is symmetric with f32 scales");
    break;
  case ElementKind::GGUF:
    if (!ggufSupported(s.gguf))
      return Status::error(std::string("GGUF ") + ggufName(s.gguf) +
                           " is not implemented (supported: q4_0 q4_1 q5_0 "
                           "q5_1 q8_0 q4_k q6_k gguf_mxfp4)");
    if (shape.empty())
      return Status::error("GGUF formats need an array of rank >= 1");
    if (shape.back() % ggufBlockSize(s.gguf))
      return Status::error("last axis has " + std::to_string(shape.back()) +
                           " elements, not a multiple of the " +
                           ggufName(s.gguf) + " block (" +
                           std::to_string(ggufBlockSize(s.gguf)) + ")");
    return Status::success();
  }
  if (s.scale == ScaleType::None) {
    if (s.kind != ElementKind::MiniFloat)
      return Status::error("only float elements can be cast without scales");
    return Status::success();
  }
  if (s.scale == ScaleType::E8M0 &&
      !(s.kind == ElementKind::MiniFloat ||
        (s.kind == ElementKind::Int && s.bits == 8 && s.isSigned &&
         s.symmetric)))
    return Status::error("E8M0 scales need float elements or signed 8-bit "
                         "symmetric integers (MXINT8)");
  if ((s.scale == ScaleType::E4M3) != s.tensorScale)
    return Status::error("E4M3 scales come with a tensor scale (NVFP4)");
  if ((s.scale == ScaleType::E8M0 || s.scale == ScaleType::E4M3) &&
      !s.symmetric)
    return Status::error("8-bit float scales need a symmetric scheme");
  if (!s.symmetric && s.kind != ElementKind::Int)
    return Status::error("asymmetric schemes need integer elements");
  if (s.blockSizes.size() != shape.size())
    return Status::error("scheme has " + std::to_string(s.blockSizes.size()) +
                         " block sizes for an array of rank " +
                         std::to_string(shape.size()));
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t b = s.blockSizes[d];
    if (b < 1 || shape[d] % b)
      return Status::error(
          "axis " + std::to_string(d) + " has " + std::to_string(shape[d]) +
          " elements, not a multiple of the block size " + std::to_string(b));
  }
  return Status::success();
}

Status quantize(const float *x, const std::vector<int64_t> &shape,
                const Scheme &s, QTensor &out, bool strict) {
  Status st = verifyScheme(s, shape);
  if (!st.ok())
    return st;
  const int64_t n = product(shape);
  if (strict) {
    st = checkRepresentable(x, shape, s);
    if (!st.ok())
      return st;
  }
  out.scheme = s;
  out.shape = shape;
  out.scales.clear();
  out.zeroPoints.clear();
  out.tensorScale = 1.0f;
  const int64_t cols = shape.empty() ? 1 : shape.back();
  const int64_t rows = cols ? n / cols : 0;
  const int64_t rb = rowBytes(s, cols);
  out.codes.assign(size_t(rows * rb), 0);

  if (s.kind == ElementKind::GGUF) {
    for (int64_t r = 0; r < rows; ++r)
      ggufQuantizeRow(s.gguf, x + r * cols, out.codes.data() + r * rb, cols);
    return Status::success();
  }
  const unsigned w = s.codeBits();
  if (s.scale == ScaleType::None) {
    const detail::MiniFloatEncoder enc(elemFormat(s), s.saturate, s.rounding);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t *row = out.codes.data() + r * rb;
      const float *xr = x + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        putCode(row, c, w, enc.encode(xr[c]));
    }
    return Status::success();
  }

  // NVFP4 second-level scale: S = amax(tensor) / (6 * 448), 1 if zero.
  if (s.tensorScale) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i)
      if (std::fabs(x[i]) > amax)
        amax = std::fabs(x[i]);
    float ts = amax / kNVFP4TensorScaleDivisor;
    out.tensorScale = ts == 0.0f ? 1.0f : ts;
  }

  // Pass 1: statistics per block.
  BlockWalker bw(shape, s.blockSizes);
  const int64_t nb = bw.numBlocks();
  const StatKind kind = statKind(s);
  std::vector<float> stat0(size_t(nb), 0.0f), stat1;
  if (kind == StatKind::MinMax)
    stat1.assign(size_t(nb), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    const int64_t base = bw.rowBase(r);
    for (int64_t c = 0, b = base, end = 0; c < cols; ++c) {
      if (c == end) // next block along the last axis (no division per element)
        b = base + c / bw.lastBlock, end = c + bw.lastBlock;
      const float v = xr[c];
      float &a = stat0[size_t(b)];
      switch (kind) {
      case StatKind::AbsMax: // maxnum: NaN ignored
        if (std::fabs(v) > a)
          a = std::fabs(v);
        break;
      case StatKind::AbsMaxNaN: // maximum: NaN propagates
        if (std::isnan(v))
          a = v;
        else if (std::fabs(v) > a)
          a = std::fabs(v);
        break;
      case StatKind::MinMax: // minnum/maxnum from 0: range includes zero
        if (v < a)
          a = v;
        if (v > stat1[size_t(b)])
          stat1[size_t(b)] = v;
        break;
      case StatKind::AbsSum:
        a += std::fabs(v);
        break;
      }
    }
  }

  // Pass 2: scales (stored encoding + the value codes are computed with).
  const unsigned sb = scaleBytes(s.scale);
  out.scales.assign(size_t(nb * sb), 0);
  if (!s.symmetric)
    out.zeroPoints.assign(size_t(nb), 0);
  std::vector<float> scaleVal(static_cast<size_t>(nb));
  const int64_t blockElems = product(s.blockSizes);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t *p = out.scales.data() + b * sb;
    const float a = stat0[size_t(b)];
    if (s.scale == ScaleType::E8M0) {
      // shared_exp = ilogb(amax) - emax_elem, clamped; 0 -> 0x00;
      // NaN/Inf -> 0xFF.
      uint8_t code;
      if (!std::isfinite(a)) {
        code = kE8M0NaN;
      } else if (a == 0.0f) {
        code = 0;
      } else {
        int emax =
            s.kind == ElementKind::Int ? kMXInt8Emax : elemFormat(s).emax;
        int e = exactIlogb(a) - emax;
        e = e < -127 ? -127 : (e > 127 ? 127 : e);
        code = uint8_t(e + int(kE8M0Bias));
      }
      p[0] = code;
      scaleVal[size_t(b)] = decodeE8M0(code);
      continue;
    }
    if (s.scale == ScaleType::E4M3) {
      // ModelOpt: s_b = e4m3(amax_b / (6 * S)); zero block -> 1.0; a
      // non-zero block whose scale underflows uses code 1 (2^-9).
      float sbv = a / (6.0f * out.tensorScale);
      if (sbv == 0.0f)
        sbv = 1.0f;
      uint32_t code = encodeMiniFloat(kF8E4M3FN, sbv, /*saturate=*/true);
      if (code == 0 && a != 0.0f)
        code = 1;
      p[0] = uint8_t(code);
      scaleVal[size_t(b)] = decodeMiniFloat(kF8E4M3FN, code) * out.tensorScale;
      continue;
    }
    if (!s.symmetric) {
      const float mn = a, mx = stat1[size_t(b)];
      const int32_t qmin = s.qmin(), qmax = s.qmax();
      float sc = (mx - mn) / float(qmax - qmin);
      if (sc == 0.0f)
        sc = 1.0f;
      const float scF = storeScale(s.scale, sc, p);
      float z = roundF(-mn / scF, s.rounding) + float(qmin);
      if (std::isnan(z)) // only from non-finite input; keep it defined
        z = float(qmin);
      z = z < float(qmin) ? float(qmin) : (z > float(qmax) ? float(qmax) : z);
      out.zeroPoints[size_t(b)] = int32_t(z);
      scaleVal[size_t(b)] = scF;
      continue;
    }
    float sc;
    if (s.kind == ElementKind::Ternary) {
      sc = a / float(blockElems);
      sc = std::isnan(sc) ? sc : (sc < 1e-5f ? 1e-5f : sc);
    } else {
      const float qmax = s.kind == ElementKind::Int ? float(s.qmax())
                                                    : elemFormat(s).maxFinite();
      sc = a / qmax;
      if (sc == 0.0f)
        sc = 1.0f;
    }
    scaleVal[size_t(b)] = storeScale(s.scale, sc, p);
  }

  // Pass 3: codes.
  encodeCodes(x, s, bw, scaleVal.data(), out);
  return Status::success();
}

Status quantizeStatic(const float *x, QTensor &q, bool strict) {
  const Scheme &s = q.scheme;
  Status st = verifyScheme(s, q.shape);
  if (!st.ok())
    return st;
  if (s.kind == ElementKind::GGUF || s.scale == ScaleType::None)
    return Status::error("static quantization needs a scheme with scales");
  if (strict) {
    st = checkRepresentable(x, q.shape, s);
    if (!st.ok())
      return st;
  }
  BlockWalker bw(q.shape, s.blockSizes);
  const int64_t nb = bw.numBlocks();
  if (int64_t(q.scales.size()) != nb * int64_t(scaleBytes(s.scale)))
    return Status::error("scales hold " + std::to_string(q.scales.size()) +
                         " bytes, expected " +
                         std::to_string(nb * scaleBytes(s.scale)));
  if (!s.symmetric && int64_t(q.zeroPoints.size()) != nb)
    return Status::error("expected " + std::to_string(nb) + " zero points");
  std::vector<float> scaleVal(static_cast<size_t>(nb));
  for (int64_t b = 0; b < nb; ++b)
    scaleVal[size_t(b)] = q.scaleAt(b);
  q.codes.assign(size_t(bw.rows * rowBytes(s, bw.cols)), 0);
  encodeCodes(x, s, bw, scaleVal.data(), q);
  return Status::success();
}

Status dequantize(const QTensor &q, float *out) {
  const Scheme &s = q.scheme;
  Status st = verifyScheme(s, q.shape);
  if (!st.ok())
    return st;
  const int64_t n = product(q.shape);
  const int64_t cols = q.shape.empty() ? 1 : q.shape.back();
  const int64_t rows = cols ? n / cols : 0;
  const int64_t rb = rowBytes(s, cols);
  if (int64_t(q.codes.size()) != rows * rb)
    return Status::error("codes hold " + std::to_string(q.codes.size()) +
                         " bytes, expected " + std::to_string(rows * rb));
  if (s.kind == ElementKind::GGUF) {
    for (int64_t r = 0; r < rows; ++r)
      ggufDequantizeRow(s.gguf, q.codes.data() + r * rb, out + r * cols, cols);
    return Status::success();
  }
  const unsigned w = s.codeBits();
  if (s.scale == ScaleType::None) {
    const MiniFloatFormat &f = elemFormat(s);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *row = q.codes.data() + r * rb;
      for (int64_t c = 0; c < cols; ++c)
        out[r * cols + c] =
            detail::decodeMiniFloatInline(f, getCode(row, c, w));
    }
    return Status::success();
  }
  BlockWalker bw(q.shape, s.blockSizes);
  const int64_t nb = bw.numBlocks();
  if (int64_t(q.scales.size()) != nb * int64_t(scaleBytes(s.scale)))
    return Status::error("scales hold " + std::to_string(q.scales.size()) +
                         " bytes, expected " +
                         std::to_string(nb * scaleBytes(s.scale)));
  if (!s.symmetric && int64_t(q.zeroPoints.size()) != nb)
    return Status::error("expected " + std::to_string(nb) + " zero points");
  std::vector<float> scaleVal(static_cast<size_t>(nb));
  for (int64_t b = 0; b < nb; ++b)
    scaleVal[size_t(b)] = q.scaleAt(b);
  const bool isFloat = s.kind == ElementKind::MiniFloat;
  const MiniFloatFormat *fmt = isFloat ? &elemFormat(s) : nullptr;
  const bool isSigned = s.kind == ElementKind::Ternary || s.isSigned;
  const bool mxInt = s.kind == ElementKind::Int && s.isMX();
  const uint32_t signBit = 1u << (w - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *row = q.codes.data() + r * rb;
    const int64_t base = bw.rowBase(r);
    for (int64_t c = 0, b = base, end = 0; c < cols; ++c) {
      if (c == end) // next block along the last axis (no division per element)
        b = base + c / bw.lastBlock, end = c + bw.lastBlock;
      const uint32_t code = getCode(row, c, w);
      float v;
      if (isFloat) {
        v = detail::decodeMiniFloatInline(*fmt, code) * scaleVal[size_t(b)];
      } else {
        int32_t ci = isSigned ? int32_t(code ^ signBit) - int32_t(signBit)
                              : int32_t(code);
        if (!s.symmetric)
          ci -= q.zeroPoints[size_t(b)];
        float f = float(ci);
        if (mxInt)
          f = f * (1.0f / float(1 << kMXInt8FracBits));
        v = f * scaleVal[size_t(b)];
      }
      out[r * cols + c] = v;
    }
  }
  return Status::success();
}

Status fakeQuant(const float *x, const std::vector<int64_t> &shape,
                 const Scheme &scheme, float *out, bool strict) {
  QTensor q;
  Status st = quantize(x, shape, scheme, q, strict);
  if (!st.ok())
    return st;
  return dequantize(q, out);
}

//===----------------------------------------------------------------------===//
// Named formats
//===----------------------------------------------------------------------===//

namespace {
struct NamedFormat {
  const char *name;
  const char *help;
};
const NamedFormat kFormats[] = {
    {"f8e4m3fn", "FP8 E4M3 element cast (RNE, saturating), no scale"},
    {"f8e5m2", "FP8 E5M2 element cast (RNE, saturating), no scale"},
    {"f6e2m3fn", "FP6 E2M3 element cast, no scale"},
    {"f6e3m2fn", "FP6 E3M2 element cast, no scale"},
    {"f4e2m1fn", "FP4 E2M1 element cast, no scale"},
    {"mxfp8_e4m3", "OCP MX: 32 x E4M3 + E8M0 scale"},
    {"mxfp8_e5m2", "OCP MX: 32 x E5M2 + E8M0 scale"},
    {"mxfp6_e2m3", "OCP MX: 32 x E2M3 + E8M0 scale"},
    {"mxfp6_e3m2", "OCP MX: 32 x E3M2 + E8M0 scale"},
    {"mxfp4", "OCP MX: 32 x E2M1 + E8M0 scale (RNE)"},
    {"mxint8", "OCP MX: 32 x int8 (2^-6 units) + E8M0 scale"},
    {"nvfp4", "NVFP4: 16 x E2M1 + E4M3 scale + f32 tensor scale"},
    {"int8", "8-bit integer, f32 scale per row or --group-size"},
    {"int4", "4-bit integer, f32 scale per row or --group-size"},
    {"ternary", "BitNet b1.58 {-1,0,1}, absmean f32 scale per row or group"},
    {"q4_0", "GGUF Q4_0 (llama.cpp block_q4_0, 32 per block)"},
    {"q4_1", "GGUF Q4_1 (block_q4_1, 32 per block)"},
    {"q5_0", "GGUF Q5_0 (block_q5_0, 32 per block)"},
    {"q5_1", "GGUF Q5_1 (block_q5_1, 32 per block)"},
    {"q8_0", "GGUF Q8_0 (block_q8_0, 32 per block)"},
    {"q4_k", "GGUF Q4_K (block_q4_K, 256 per block)"},
    {"q6_k", "GGUF Q6_K (block_q6_K, 256 per block)"},
    {"gguf_mxfp4", "GGUF MXFP4 (block_mxfp4: log2f exponent, ties toward 0)"},
};
} // namespace

const std::vector<std::string> &formatNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const NamedFormat &f : kFormats)
      v.push_back(f.name);
    return v;
  }();
  return names;
}

std::string describeFormat(const std::string &name) {
  for (const NamedFormat &f : kFormats)
    if (name == f.name)
      return f.help;
  return "";
}

Status checkFormatName(const std::string &name) {
  if (!describeFormat(name).empty())
    return Status::success();
  std::string all;
  for (const std::string &n : formatNames())
    all += (all.empty() ? "" : " ") + n;
  return Status::error("unknown format '" + name + "' (known: " + all + ")");
}

Status schemeForFormat(const std::string &name,
                       const std::vector<int64_t> &shape,
                       const FormatOptions &options, Scheme &out) {
  Status known = checkFormatName(name);
  if (!known.ok())
    return known;
  const bool grouped = name == "int8" || name == "int4" || name == "ternary";
  const bool asymOk = name == "int8" || name == "int4";
  if (options.groupSize != 0 && !grouped)
    return Status::error("--group-size applies to int8, int4 and ternary, "
                         "not " +
                         name);
  if (options.groupSize < 0)
    return Status::error("--group-size must be >= 0");
  if (options.asymmetric && !asymOk)
    return Status::error("--asymmetric applies to int8 and int4, not " + name);
  if (options.noSaturate && name != "f8e4m3fn" && name != "f8e5m2")
    return Status::error("--no-saturate applies to f8e4m3fn and f8e5m2, not " +
                         name);
  if (shape.empty())
    return Status::error("format " + name + " needs an array of rank >= 1");
  Scheme s;
  const int64_t cols = shape.back();
  auto lastAxisBlocks = [&](int64_t block) {
    s.blockSizes.assign(shape.size(), 1);
    s.blockSizes.back() = block;
  };
  auto blockCheck = [&](int64_t block) -> Status {
    if (cols % block)
      return Status::error("last axis has " + std::to_string(cols) +
                           " elements, not a multiple of the " + name +
                           " block (" + std::to_string(block) + ")");
    return Status::success();
  };
  static const struct {
    const char *name;
    ElementType type;
  } kElems[] = {{"f8e4m3fn", ElementType::F8E4M3FN},
                {"f8e5m2", ElementType::F8E5M2},
                {"f6e2m3fn", ElementType::F6E2M3FN},
                {"f6e3m2fn", ElementType::F6E3M2FN},
                {"f4e2m1fn", ElementType::F4E2M1FN},
                {"mxfp8_e4m3", ElementType::F8E4M3FN},
                {"mxfp8_e5m2", ElementType::F8E5M2},
                {"mxfp6_e2m3", ElementType::F6E2M3FN},
                {"mxfp6_e3m2", ElementType::F6E3M2FN},
                {"mxfp4", ElementType::F4E2M1FN}};
  for (size_t i = 0; i < sizeof(kElems) / sizeof(kElems[0]); ++i) {
    if (name != kElems[i].name)
      continue;
    s.kind = ElementKind::MiniFloat;
    s.minifloat = kElems[i].type;
    if (i < 5) {
      s.scale = ScaleType::None;
      s.saturate = !options.noSaturate;
    } else {
      s.scale = ScaleType::E8M0;
      Status st = blockCheck(32);
      if (!st.ok())
        return st;
      lastAxisBlocks(32);
    }
    out = s;
    return Status::success();
  }
  if (name == "mxint8") {
    s.kind = ElementKind::Int;
    s.bits = 8;
    s.scale = ScaleType::E8M0;
    Status st = blockCheck(32);
    if (!st.ok())
      return st;
    lastAxisBlocks(32);
  } else if (name == "nvfp4") {
    s.kind = ElementKind::MiniFloat;
    s.minifloat = ElementType::F4E2M1FN;
    s.scale = ScaleType::E4M3;
    s.tensorScale = true;
    Status st = blockCheck(16);
    if (!st.ok())
      return st;
    lastAxisBlocks(16);
  } else if (grouped) {
    s.kind = name == "ternary" ? ElementKind::Ternary : ElementKind::Int;
    s.bits = name == "int8" ? 8 : (name == "int4" ? 4 : 2);
    s.symmetric = !options.asymmetric;
    s.isSigned = !options.asymmetric;
    int64_t g = options.groupSize ? options.groupSize : (cols ? cols : 1);
    Status st = blockCheck(g);
    if (!st.ok())
      return st;
    lastAxisBlocks(g);
  } else {
    s.kind = ElementKind::GGUF;
    for (GGUFKind k :
         {GGUFKind::Q4_0, GGUFKind::Q4_1, GGUFKind::Q5_0, GGUFKind::Q5_1,
          GGUFKind::Q8_0, GGUFKind::Q4_K, GGUFKind::Q6_K, GGUFKind::MXFP4})
      if (name == ggufName(k))
        s.gguf = k;
    s.scale = ScaleType::None;
    Status st = blockCheck(ggufBlockSize(s.gguf));
    if (!st.ok())
      return st;
  }
  out = s;
  return Status::success();
}

Status transposeMatrix(const QTensor &in, QTensor &out) {
  const Scheme &s = in.scheme;
  if (in.shape.size() != 2)
    return Status::error("transposeMatrix: rank " +
                         std::to_string(in.shape.size()) + ", not 2");
  if (s.kind == ElementKind::GGUF)
    return Status::error("transposeMatrix: GGUF blocks run along rows and "
                         "cannot be transposed");
  const int64_t rows = in.shape[0], cols = in.shape[1];
  const unsigned w = s.codeBits();
  const int64_t inRow = rowBytes(s, cols);
  if (int64_t(in.codes.size()) != rows * inRow)
    return Status::error("transposeMatrix: codes size does not match shape");
  QTensor t;
  t.scheme = s;
  if (s.blockSizes.size() == 2)
    t.scheme.blockSizes = {s.blockSizes[1], s.blockSizes[0]};
  t.shape = {cols, rows};
  t.tensorScale = in.tensorScale;
  const int64_t outRow = rowBytes(s, rows);
  t.codes.assign(size_t(cols * outRow), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      putCode(&t.codes[size_t(c * outRow)], r, w,
              getCode(&in.codes[size_t(r * inRow)], c, w));
  std::vector<int64_t> ss = in.scaleShape();
  if (!ss.empty()) {
    const unsigned sb = scaleBytes(s.scale);
    const int64_t sr = ss[0], sc = ss[1];
    if (int64_t(in.scales.size()) != sr * sc * sb)
      return Status::error("transposeMatrix: scales size does not match");
    t.scales.resize(in.scales.size());
    for (int64_t r = 0; r < sr; ++r)
      for (int64_t c = 0; c < sc; ++c)
        std::memcpy(&t.scales[size_t((c * sr + r) * sb)],
                    &in.scales[size_t((r * sc + c) * sb)], sb);
    if (!in.zeroPoints.empty()) {
      if (int64_t(in.zeroPoints.size()) != sr * sc)
        return Status::error("transposeMatrix: zero points size mismatch");
      t.zeroPoints.resize(in.zeroPoints.size());
      for (int64_t r = 0; r < sr; ++r)
        for (int64_t c = 0; c < sc; ++c)
          t.zeroPoints[size_t(c * sr + r)] = in.zeroPoints[size_t(r * sc + c)];
    }
  }
  out = std::move(t);
  return Status::success();
}

int64_t panelBytes(int64_t n, int64_t k) {
  return (n + kPanelChannels - 1) / kPanelChannels *
         ((k + kPanelDepth - 1) / kPanelDepth) * kPanelChannels * kPanelDepth;
}

Status packInt8Panels(const QTensor &in, std::vector<uint8_t> &out) {
  const Scheme &s = in.scheme;
  if (in.shape.size() != 2)
    return Status::error("packInt8Panels: rank " +
                         std::to_string(in.shape.size()) + ", not 2");
  if (s.kind != ElementKind::Int || s.bits != 8 || !s.isSigned)
    return Status::error("packInt8Panels: codes are not signed 8-bit "
                         "integers");
  const int64_t n = in.shape[0], k = in.shape[1];
  if (int64_t(in.codes.size()) != n * k)
    return Status::error("packInt8Panels: codes size does not match shape");
  const int64_t quads = (k + kPanelDepth - 1) / kPanelDepth;
  const int64_t panel = quads * kPanelChannels * kPanelDepth;
  out.assign(size_t(panelBytes(n, k)), 128);
  for (int64_t r = 0; r < n; ++r) {
    uint8_t *dst = &out[size_t(r / kPanelChannels * panel +
                               r % kPanelChannels * kPanelDepth)];
    const uint8_t *src = &in.codes[size_t(r * k)];
    for (int64_t c = 0; c < k; ++c)
      dst[c / kPanelDepth * kPanelChannels * kPanelDepth + c % kPanelDepth] =
          uint8_t(src[c] ^ 0x80);
  }
  return Status::success();
}

Status packInt4MmaB(const QTensor &in, std::vector<uint8_t> &out) {
  const Scheme &s = in.scheme;
  if (in.shape.size() != 2)
    return Status::error("packInt4MmaB: rank " +
                         std::to_string(in.shape.size()) + ", not 2");
  const bool int4 = s.kind == ElementKind::Int && s.bits == 4 && s.isSigned;
  const bool e2m1 =
      s.kind == ElementKind::MiniFloat && s.minifloat == ElementType::F4E2M1FN;
  if (!int4 && !e2m1)
    return Status::error("packInt4MmaB: codes are neither signed 4-bit "
                         "integers nor E2M1");
  const int64_t n = in.shape[0], k = in.shape[1];
  if (k % 32)
    return Status::error("packInt4MmaB: K = " + std::to_string(k) +
                         " is not a multiple of 32");
  if (int64_t(in.codes.size()) != n * (k / 2))
    return Status::error("packInt4MmaB: codes size does not match shape");
  const int64_t nb = (n + 31) / 32, kb = k / 32;
  out.assign(size_t(nb * kb * 512), 0);
  for (int64_t c = 0; c < n; ++c) {
    const int64_t tileN = c / 32, ni = c % 32 / 8, g = c % 8;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int64_t tileK = kk / 32, r = kk % 32;
      const int64_t ks = r / 16, j = r % 16 / 8, t = r % 8 / 2, odd = r % 2;
      const int64_t pos = 2 * ks + j + 4 * odd; // nibble in the word
      uint8_t code = getCode(&in.codes[size_t(c * (k / 2))], kk, 4);
      size_t at = size_t((tileN * kb + tileK) * 512 + 16 * (4 * g + t) +
                         4 * ni + pos / 2);
      out[at] |= uint8_t((code & 0xF) << (4 * (pos % 2)));
    }
  }
  return Status::success();
}

} // namespace lowbit::numerics
