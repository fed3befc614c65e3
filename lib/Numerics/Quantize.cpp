//===- Quantize.cpp - scaled block quantization ---------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// One implementation of docs/Spec.md section 5 for every scheme with scales
// (integers, minifloats with f32/E8M0/E4M3 scales, ternary) plus element
// casts and GGUF rows: quantize, quantizeStatic, dequantize, fakeQuant. A
// block is a product of per-dimension block sizes; the tensor is walked row
// by row (last axis contiguous), so every block layout shares three passes:
// statistics, scales (MX's shared exponent and NVFP4's two levels
// included), codes.
//
//===----------------------------------------------------------------------===//

#include "MiniFloatImpl.h"
#include "QTensorLayout.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace lowbit::numerics {

using detail::getCode;
using detail::product;
using detail::putCode;
using detail::rowBytes;
using detail::scaleBytes;
using detail::shapeString;

namespace {

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

/// `v` rounded to an integer by `r`.
inline float roundF(float v, Rounding r) {
  return r == Rounding::NearestEven ? detail::roundEvenSmall(v) : std::round(v);
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

} // namespace lowbit::numerics
