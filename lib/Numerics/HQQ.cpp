//===- HQQ.cpp - half-quadratic weight quantization -----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The proximal solver of mobiusml/hqq (core/optimize.py,
// optimize_weights_proximal_legacy) on lowbit's asymmetric integer groups.
// HQQ splits || W - dequant(quant(W)) ||_p^p (p < 1) with an auxiliary
// error W_e: a shrinkage step gives W_e, then a closed-form quadratic step
// refits the quantizer's parameters to W - W_e, with the penalty beta
// growing by kappa each iteration. The reference refits a float zero point
// only; lowbit stores zero points as integer codes, and with the scale
// fixed an integer zero point only moves which multiples of the scale are
// representable (never the grid itself), so the rounded zero-point step
// alone stays at RTN. lowbit therefore also refits the scale, the one
// continuous parameter its layout stores (docs/Numerics.md, "Weight
// algorithms").
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Algorithms.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace lowbit::numerics {

namespace {

size_t scaleBytesOf(ScaleType t) {
  switch (t) {
  case ScaleType::F32:
    return 4;
  case ScaleType::F16:
  case ScaleType::BF16:
    return 2;
  default:
    return 1;
  }
}

/// Rounds `v` to the storage type `t` (f32, f16 or bf16) as quantize
/// stores scales (saturating; a non-zero value never becomes zero), writes
/// the bytes to `p` and returns the stored value.
float storeScaleValue(ScaleType t, float v, uint8_t *p) {
  if (t == ScaleType::F32) {
    std::memcpy(p, &v, 4);
    return v;
  }
  const MiniFloatFormat &f = *miniFloatFormat(
      t == ScaleType::F16 ? ElementType::F16 : ElementType::BF16);
  uint32_t h = encodeMiniFloat(f, v, /*saturate=*/true);
  if ((h & 0x7FFFu) == 0 && v != 0.0f)
    h = (h & 0x8000u) | 1u;
  p[0] = uint8_t(h), p[1] = uint8_t(h >> 8);
  return decodeMiniFloat(f, h);
}

inline float roundTo(float v, Rounding r) {
  return r == Rounding::NearestEven ? std::nearbyint(v) : std::round(v);
}

} // namespace

Status hqq(const float *w, int64_t rows, int64_t cols, const Scheme &scheme,
           const HQQOptions &opt, QTensor &out, HQQInfo *info) {
  if (rows <= 0 || cols <= 0)
    return Status::error("HQQ needs a non-empty weight");
  if (scheme.kind != ElementKind::Int || scheme.symmetric ||
      scheme.tensorScale ||
      !(scheme.scale == ScaleType::F32 || scheme.scale == ScaleType::F16 ||
        scheme.scale == ScaleType::BF16))
    return Status::error("HQQ needs an asymmetric integer scheme (zero points) "
                         "with f32, f16 or bf16 scales");
  const std::vector<int64_t> shape{rows, cols};
  Status st = verifyScheme(scheme, shape);
  if (!st.ok())
    return st;
  if (scheme.blockSizes[0] != 1)
    return Status::error("HQQ groups run along the input axis: the block "
                         "size along rows must be 1");
  if (opt.iters < 0)
    return Status::error("HQQ iterations must be >= 0");
  if (!(opt.lpNorm > 0.0f && opt.lpNorm <= 1.0f))
    return Status::error("HQQ lp_norm must be in (0, 1]");
  if (!(opt.beta > 0.0f) || !std::isfinite(opt.beta) || !(opt.kappa > 0.0f) ||
      !std::isfinite(opt.kappa))
    return Status::error("HQQ beta and kappa must be positive and finite");
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return Status::error("HQQ: weight element [" + std::to_string(i / cols) +
                           ", " + std::to_string(i % cols) + "] is not finite");

  // RTN start: the scheme's own scales and zero points.
  QTensor init;
  st = quantize(w, shape, scheme, init);
  if (!st.ok())
    return st;
  const int64_t g = scheme.blockSizes[1], groups = cols / g, nb = rows * groups;
  const float qmin = float(scheme.qmin()), qmax = float(scheme.qmax());
  const Rounding rnd = scheme.rounding;
  const size_t sb = scaleBytesOf(scheme.scale);
  std::vector<float> s(static_cast<size_t>(nb)), sNew(s.size()),
      bestS(s.size());
  std::vector<int32_t> z(static_cast<size_t>(nb)), zNew(z.size()),
      bestZ(z.size());
  for (int64_t b = 0; b < nb; ++b) {
    s[size_t(b)] = init.scaleAt(b);
    z[size_t(b)] = init.zeroPoints[size_t(b)];
  }
  bestS = s;
  bestZ = z;

  const float pm1 = opt.lpNorm - 1.0f;
  const double total = double(rows) * double(cols);
  double beta = opt.beta, bestErr = std::numeric_limits<double>::infinity();
  int64_t bestIter = 0;
  if (info)
    info->errors.clear();
  uint8_t scratch[4];
  // Iterate i (i = 0 is RTN) is evaluated, then (i < iters) refitted.
  for (int64_t it = 0; it <= opt.iters; ++it) {
    const bool update = it < opt.iters;
    const float invBeta = float(1.0 / beta);
    double errSum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t r = b / groups, c0 = (b % groups) * g;
      const float *wb = w + r * cols + c0;
      const float sc = s[size_t(b)];
      const float zp = float(z[size_t(b)]);
      // Sums for the closed-form refit: the zero point is the mean of
      // q - T / s (HQQ's step), rounded to a code; the scale is then the
      // least-squares fit of T by (q - z) s. T = W - W_e.
      double sumQ = 0, sumQ2 = 0, sumT = 0, sumTQ = 0, sumZ = 0, groupErr = 0;
      for (int64_t j = 0; j < g; ++j) {
        const float x = wb[j];
        float q = roundTo(x / sc, rnd) + zp;
        q = q < qmin ? qmin : (q > qmax ? qmax : q);
        const float wr = (q - zp) * sc;
        const float e = x - wr;
        const float ae = std::fabs(e);
        groupErr += double(ae);
        if (!update)
          continue;
        // shrink_lp: sign(e) relu(|e| - |e|^(p-1) / beta); the power in
        // double, rounded (the same fp32 value whatever the libm).
        float we = 0.0f;
        if (ae > 0.0f) {
          const float m =
              ae - invBeta * float(std::pow(double(ae), double(pm1)));
          we = m > 0.0f ? std::copysign(m, e) : 0.0f;
        }
        const float t = x - we;
        sumQ += double(q);
        sumQ2 += double(q) * double(q);
        sumT += double(t);
        sumTQ += double(t) * double(q);
        sumZ += double(q - t / sc);
      }
      errSum += groupErr;
      if (!update)
        continue;
      // Zero-point step (the reference's update, rounded to a code).
      float zf = roundTo(float(sumZ / double(g)), rnd);
      zf = zf < qmin ? qmin : (zf > qmax ? qmax : zf);
      if (!std::isfinite(zf))
        zf = zp;
      zNew[size_t(b)] = int32_t(zf);
      float scNew = sc;
      if (opt.optimizeScale) {
        // sum (q - z)^2 and sum T (q - z) with the new z.
        const double zd = double(zf);
        const double den = sumQ2 - 2.0 * zd * sumQ + double(g) * zd * zd;
        const double num = sumTQ - zd * sumT;
        if (den > 0.0) {
          const float cand = float(num / den);
          if (std::isfinite(cand) && cand > 0.0f) {
            const float stored = storeScaleValue(scheme.scale, cand, scratch);
            if (std::isfinite(stored) && stored > 0.0f)
              scNew = stored;
          }
        }
      }
      sNew[size_t(b)] = scNew;
    }
    const double err = errSum / total;
    if (info)
      info->errors.push_back(err);
    if (err < bestErr) {
      bestErr = err;
      bestS = s;
      bestZ = z;
      bestIter = it;
    } else if (opt.earlyStop) {
      break;
    }
    if (!update)
      break;
    s.swap(sNew);
    z.swap(zNew);
    beta *= double(opt.kappa);
  }
  if (info)
    info->best = bestIter;

  QTensor q;
  q.scheme = scheme;
  q.shape = shape;
  q.scales.assign(size_t(nb) * sb, 0);
  q.zeroPoints = bestZ;
  for (int64_t b = 0; b < nb; ++b)
    (void)storeScaleValue(scheme.scale, bestS[size_t(b)],
                          &q.scales[size_t(b) * sb]);
  st = quantizeStatic(w, q);
  if (!st.ok())
    return st;
  out = std::move(q);
  return Status::success();
}

} // namespace lowbit::numerics
