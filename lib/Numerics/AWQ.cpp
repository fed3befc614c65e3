//===- AWQ.cpp - activation-aware weight quantization ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// mit-han-lab/llm-awq on one linear layer Y = X W^T: the grid search of
// auto_scale.py (per input channel s = mean|x|^alpha, normalised, the
// alpha whose fake-quantized W diag(s) diag(s)^-1 gives the smallest
// output error on the calibration rows), then the clipping search of
// auto_clip.py (per output row and group, the clip of the scaled weight
// whose fake-quantized partial products on the scaled activations are
// closest to the originals), then round-to-nearest of the clipped, scaled
// weight in the scheme's own layout. Products go through OpenBLAS sgemm.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Algorithms.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lowbit::numerics {

namespace {

/// Tokens per sgemm chunk of the output-error sums (bounds the scratch).
constexpr int64_t kChunk = 2048;

/// sum over tokens t and rows r of (X D^T)[t][r]^2, X [tokens][cols], D
/// [rows][cols], in chunks of tokens.
double outputErrorSum(const float *x, int64_t tokens, int64_t cols,
                      const float *d, int64_t rows, std::vector<float> &e) {
  double sum = 0;
  for (int64_t t0 = 0; t0 < tokens; t0 += kChunk) {
    const int64_t tk = std::min(kChunk, tokens - t0);
    e.resize(size_t(tk * rows));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(tk),
                blasint(rows), blasint(cols), 1.0f, x + t0 * cols,
                blasint(cols), d, blasint(cols), 0.0f, e.data(), blasint(rows));
    for (float v : e)
      sum += double(v) * double(v);
  }
  return sum;
}

} // namespace

Status awq(const float *w, int64_t rows, int64_t cols, const float *x,
           int64_t tokens, const float *xMeanAbs, const Scheme &scheme,
           const AWQOptions &opt, QTensor &out, std::vector<float> &scales,
           AWQInfo *info) {
  if (rows <= 0 || cols <= 0)
    return Status::error("AWQ needs a non-empty weight");
  if (tokens <= 0)
    return Status::error("AWQ needs at least one calibration token");
  if (scheme.kind == ElementKind::GGUF || scheme.scale == ScaleType::None)
    return Status::error("AWQ needs a scheme with per-block scales (not GGUF "
                         "or an element cast)");
  const std::vector<int64_t> shape{rows, cols};
  Status st = verifyScheme(scheme, shape);
  if (!st.ok())
    return st;
  if (scheme.blockSizes[0] != 1)
    return Status::error("AWQ blocks run along the input axis: the block size "
                         "along rows must be 1");
  if (opt.scaleGrid < 1 || opt.clipGrid < 1)
    return Status::error("AWQ grids need at least one point");
  if (!(opt.maxShrink >= 0.0 && opt.maxShrink < 1.0))
    return Status::error("AWQ max_shrink must be in [0, 1)");
  if (opt.clipTokens < 1)
    return Status::error("AWQ clip_tokens must be >= 1");
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return Status::error("AWQ: weight element [" + std::to_string(i / cols) +
                           ", " + std::to_string(i % cols) + "] is not finite");
  for (int64_t i = 0; i < tokens * cols; ++i)
    if (!std::isfinite(x[i]))
      return Status::error("AWQ: activation element [" +
                           std::to_string(i / cols) + ", " +
                           std::to_string(i % cols) + "] is not finite");

  // s_x: mean |x| per input channel (auto_scale's get_act_scale).
  std::vector<float> sx(static_cast<size_t>(cols));
  if (xMeanAbs) {
    for (int64_t c = 0; c < cols; ++c) {
      if (!std::isfinite(xMeanAbs[c]) || xMeanAbs[c] < 0.0f)
        return Status::error("AWQ: mean |x| of channel " + std::to_string(c) +
                             " is negative or not finite");
      sx[size_t(c)] = xMeanAbs[c];
    }
  } else {
    std::vector<double> acc(static_cast<size_t>(cols), 0.0);
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t c = 0; c < cols; ++c)
        acc[size_t(c)] += std::fabs(double(x[t * cols + c]));
    for (int64_t c = 0; c < cols; ++c)
      sx[size_t(c)] = float(acc[size_t(c)] / double(tokens));
  }

  const size_t n = size_t(rows * cols);
  std::vector<float> ws(n), qd(n), d(n), e;
  std::vector<float> s(static_cast<size_t>(cols), 1.0f);
  // s = clamp(s_x^alpha, 1e-4); s /= sqrt(max(s) min(s)).
  auto scalesFor = [&](float alpha, std::vector<float> &out) {
    out.resize(size_t(cols));
    float mx = 0.0f, mn = std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cols; ++c) {
      // In double, then rounded: the same fp32 value whatever the libm.
      float v = float(std::pow(double(sx[size_t(c)]), double(alpha)));
      v = v < 1e-4f ? 1e-4f : v;
      out[size_t(c)] = v;
      mx = std::max(mx, v);
      mn = std::min(mn, v);
    }
    const float norm = std::sqrt(mx * mn);
    for (float &v : out)
      v = v / norm;
  };

  // Scale search: loss(alpha) = mean((X W^T - X (Q(W s) / s)^T)^2).
  if (info) {
    info->losses.clear();
    info->alpha = 0.0f;
  }
  if (opt.searchScale) {
    const double count = double(tokens) * double(rows);
    double bestLoss = std::numeric_limits<double>::infinity();
    bool found = false;
    std::vector<float> cand;
    for (int64_t i = 0; i < opt.scaleGrid; ++i) {
      const float alpha = float(double(i) / double(opt.scaleGrid));
      scalesFor(alpha, cand);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          ws[size_t(r * cols + c)] = w[r * cols + c] * cand[size_t(c)];
      st = fakeQuant(ws.data(), shape, scheme, qd.data());
      if (!st.ok())
        return st;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const size_t k = size_t(r * cols + c);
          d[k] = w[k] - qd[k] / cand[size_t(c)];
        }
      const double loss =
          outputErrorSum(x, tokens, cols, d.data(), rows, e) / count;
      if (info)
        info->losses.push_back(loss);
      if (loss < bestLoss) {
        bestLoss = loss;
        s = cand;
        found = true;
        if (info)
          info->alpha = alpha;
      }
    }
    if (!found)
      return Status::error("AWQ: the scale search found no finite loss (do "
                           "the activations overflow fp32 products?)");
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      ws[size_t(r * cols + c)] = w[r * cols + c] * s[size_t(c)];

  // Clip search (auto_clip): per (row, group), max_val = amax (1 - i /
  // clipGrid) for i < maxShrink * clipGrid; error = mean over sampled
  // tokens of (x_g . (w_g - Q(clip(w_g))))^2 on the scaled activations.
  const int64_t g = scheme.blockSizes[1], groups = cols / g;
  std::vector<float> amax(size_t(rows * groups), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float &a = amax[size_t(r * groups + c / g)];
      a = std::max(a, std::fabs(ws[size_t(r * cols + c)]));
    }
  std::vector<float> bestMax = amax;
  std::vector<int32_t> bestStep(size_t(rows * groups), 0);
  const int64_t steps = int64_t(opt.maxShrink * double(opt.clipGrid));
  if (opt.searchClip && steps > 0) {
    // Token sample: every (tokens / clipTokens)-th row (at least every row).
    const int64_t stride = std::max<int64_t>(1, tokens / opt.clipTokens);
    const int64_t ts = (tokens + stride - 1) / stride;
    std::vector<float> xs(size_t(ts * cols));
    for (int64_t t = 0; t < ts; ++t)
      for (int64_t c = 0; c < cols; ++c)
        xs[size_t(t * cols + c)] = x[t * stride * cols + c] / s[size_t(c)];
    std::vector<double> minErr(size_t(rows * groups),
                               std::numeric_limits<double>::infinity());
    std::vector<float> wc(n), mv(size_t(rows * groups));
    e.resize(size_t(ts * rows));
    for (int64_t i = 0; i < steps; ++i) {
      const float factor = float(1.0 - double(i) / double(opt.clipGrid));
      for (size_t k = 0; k < mv.size(); ++k)
        mv[k] = amax[k] * factor;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const size_t k = size_t(r * cols + c);
          const float m = mv[size_t(r * groups + c / g)];
          wc[k] = std::min(std::max(ws[k], -m), m);
        }
      st = fakeQuant(wc.data(), shape, scheme, qd.data());
      if (!st.ok())
        return st;
      for (size_t k = 0; k < n; ++k)
        d[k] = ws[k] - qd[k];
      for (int64_t gi = 0; gi < groups; ++gi) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(ts),
                    blasint(rows), blasint(g), 1.0f, xs.data() + gi * g,
                    blasint(cols), d.data() + gi * g, blasint(cols), 0.0f,
                    e.data(), blasint(rows));
        for (int64_t r = 0; r < rows; ++r) {
          double sum = 0;
          for (int64_t t = 0; t < ts; ++t) {
            const double v = e[size_t(t * rows + r)];
            sum += v * v;
          }
          const double err = sum / double(ts);
          const size_t k = size_t(r * groups + gi);
          if (err < minErr[k]) {
            minErr[k] = err;
            bestMax[k] = mv[k];
            bestStep[k] = int32_t(i);
          }
        }
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const size_t k = size_t(r * cols + c);
        const float m = bestMax[size_t(r * groups + c / g)];
        ws[k] = std::min(std::max(ws[k], -m), m);
      }
  }
  if (info) {
    info->clipSteps = bestStep;
    info->clipMax = bestMax;
  }

  QTensor q;
  st = quantize(ws.data(), shape, scheme, q);
  if (!st.ok())
    return st;
  out = std::move(q);
  scales = std::move(s);
  return Status::success();
}

} // namespace lowbit::numerics
