//===- Algorithms.h - weight quantization algorithms ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Algorithms that choose codes (and scales) better than round-to-nearest,
// on float arrays, without MLIR: GPTQ, AWQ and HQQ. Each returns
// a numerics::QTensor in the scheme's own layout, so whatever algorithm
// chose the numbers, storage and decoding are the library's
// (docs/Numerics.md); docs/Passes.md says how the passes use them.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_ALGORITHMS_H
#define LOWBIT_NUMERICS_ALGORITHMS_H

#include "lowbit/Numerics/Numerics.h"

namespace lowbit::numerics {

struct GPTQOptions {
  /// Columns per lazy batch (the reference's blocksize).
  int64_t blockSize = 128;
  /// Dampening: this fraction of mean(diag(H)) is added to the diagonal.
  float damp = 0.01f;
  /// Quantize columns in order of decreasing diag(H).
  bool actOrder = false;
  /// Group scales from the original weights, before any update (needed
  /// with actOrder and groups: the groups stay contiguous blocks).
  bool staticGroups = false;
};

/// h += x^T x for `tokens` rows of `x` [tokens][cols] (row-major): the
/// input Hessian GPTQ needs, accumulated chunk by chunk over calibration
/// data (OpenBLAS ssyrk; `h` is cols x cols, both triangles written).
void accumulateGram(const float *x, int64_t tokens, int64_t cols, float *h);

/// GPTQ (Frantar et al. 2022, IST-DASLab/gptq `fasterquant`) of the weight
/// `w` [rows = output channels][cols = input features] (row-major) given the
/// input Hessian `h` = sum over tokens of x x^T (cols x cols, symmetric, any
/// positive scale). `scheme` is for the [rows, cols] weight with blocks
/// {1, g} (g | cols; g = cols is per output channel); no tensor scale.
/// Scales and zero points follow the scheme's rules (docs/Spec.md section
/// 5) on the error-updated weights when each group starts (the reference's
/// dynamic groups) or on the original weights (`staticGroups`); codes are
/// chosen column by column with GPTQ's error feedback. Columns whose
/// diag(H) is 0 are dead: weight 0, H_ii = 1. If H + damp is not positive
/// definite, the dampening is multiplied by 10 up to 4 times before it
/// fails. Uses OpenBLAS/LAPACKE.
Status gptq(const float *w, int64_t rows, int64_t cols, const float *h,
            const Scheme &scheme, const GPTQOptions &options, QTensor &out);

/// SmoothQuant's per-input-channel migration scales (mit-han-lab
/// smoothquant `smooth.py`): s_j = xmax_j^alpha / max(wmax_j, 1e-5)^(1 -
/// alpha), at least 1e-5, from the activations' and weights' per-channel
/// max |.|. Weights are multiplied by s, activations divided by it.
std::vector<float> smoothQuantScales(const std::vector<float> &xmax,
                                     const std::vector<float> &wmax,
                                     float alpha);

/// A Hadamard matrix of order n (entries +-1, H H^T = n I), row-major, for
/// n = K * 2^m with K in {1, 12, 20, 28, 36, 40, 44, 60, 108, 140, ...}
/// (Paley I/II constructions, Sylvester doubling); empty when no
/// construction covers n (e.g. K = 52, 156, 172).
std::vector<int8_t> hadamardMatrix(int64_t n);

/// The orthogonal rotation R = H D / sqrt(n), D a diagonal of random signs
/// drawn from `seed` (QuaRot's randomised Hadamard), row-major n x n; empty
/// if hadamardMatrix(n) is.
std::vector<float> hadamardRotation(int64_t n, uint64_t seed);

/// Rotates a weight's input channels by the orthogonal `r` (k x k), so
/// that (x r)(rotated w) = x w: w [k][n] becomes r^T w, or, with
/// `transposed`, w [n][k] becomes w r (OpenBLAS sgemm).
void rotateWeightInputs(const float *r, int64_t k, float *w, int64_t n,
                        bool transposed);

/// The transpose of a 2-D quantized tensor with scales: the same codes,
/// scales and zero points, transposed (block sizes swapped); exact.
Status transpose2D(const QTensor &in, QTensor &out);

//===----------------------------------------------------------------------===//
// HQQ (half-quadratic quantization)
//===----------------------------------------------------------------------===//

struct HQQOptions {
  /// Refits (the reference's `iters`); every iterate, RTN's included, is
  /// evaluated and the best one is kept.
  int64_t iters = 20;
  /// p of the l_p error being minimised (the reference's `lp_norm`), in
  /// (0, 1].
  float lpNorm = 0.7f;
  /// Half-quadratic penalty, multiplied by `kappa` after every refit.
  float beta = 10.0f;
  float kappa = 1.01f;
  /// Stop at the first iterate whose mean |W - W_r| does not improve (the
  /// reference's early stop).
  bool earlyStop = true;
  /// Refit the scale too (lowbit's default; docs/Numerics.md "Weight
  /// algorithms"). Without it only the zero point is refitted, rounded to a
  /// code each time, which stays at RTN's grid.
  bool optimizeScale = true;
};

struct HQQInfo {
  /// mean |W - W_r| of each evaluated iterate; errors[0] is RTN's.
  std::vector<double> errors;
  /// The index (into errors) of the iterate returned.
  int64_t best = 0;
};

/// HQQ (Badri & Shaji 2023; mobiusml/hqq core/optimize.py,
/// optimize_weights_proximal_legacy) of `w` [rows = output channels][cols =
/// input features]: no calibration data; minimises the l_p (p < 1)
/// reconstruction error of each group by half-quadratic splitting, starting
/// from the scheme's RTN scale and zero point. `scheme` must be an
/// asymmetric integer scheme (f32/f16/bf16 scales) with blocks {1, g}.
/// Each iteration: W_q = clamp(round(W / s) + z); W_r = (W_q - z) s;
/// W_e = sign(e) relu(|e| - |e|^(p-1) / beta) with e = W - W_r;
/// z = round(mean(W_q - (W - W_e) / s)) (HQQ's zero-point step, rounded to
/// a code); with optimizeScale, s = <W - W_e, W_q - z> / <W_q - z, W_q -
/// z> (the same quadratic sub-problem solved for the scale), rounded to
/// the scale's storage type; beta *= kappa. The result holds the best
/// iterate's scales and zero points, and its codes come from
/// quantizeStatic.
Status hqq(const float *w, int64_t rows, int64_t cols, const Scheme &scheme,
           const HQQOptions &options, QTensor &out, HQQInfo *info = nullptr);

//===----------------------------------------------------------------------===//
// AWQ (activation-aware weight quantization)
//===----------------------------------------------------------------------===//

struct AWQOptions {
  /// Scale search: alpha = i / scaleGrid, i = 0 .. scaleGrid - 1
  /// (auto_scale's n_grid).
  int64_t scaleGrid = 20;
  bool searchScale = true;
  /// Clip search: max_val = amax (1 - i / clipGrid) for i = 0 ..
  /// int(maxShrink * clipGrid) - 1 (auto_clip's n_grid and max_shrink).
  bool searchClip = true;
  int64_t clipGrid = 20;
  double maxShrink = 0.5;
  /// The clip search reads every (tokens / clipTokens)-th calibration row
  /// (auto_clip's n_sample_token; every row when there are fewer).
  int64_t clipTokens = 512;
};

struct AWQInfo {
  /// The chosen alpha (0 without the scale search).
  float alpha = 0.0f;
  /// The scale search's loss for each alpha of the grid.
  std::vector<double> losses;
  /// Per (row, group), row-major [rows][cols / g]: the chosen clip step i
  /// and the clip value amax (1 - i / clipGrid) on the scaled weight.
  std::vector<int32_t> clipSteps;
  std::vector<float> clipMax;
};

/// AWQ (Lin et al. 2023; mit-han-lab/llm-awq auto_scale.py + auto_clip.py)
/// of one linear layer y = x W^T, `w` [rows = out][cols = in] row-major,
/// with calibration activations `x` [tokens][cols] and, optionally, their
/// mean |x| per input channel `xMeanAbs` (cols values; computed from `x`
/// when null). `scheme` has per-block scales with blocks {1, g} along the
/// input axis (no GGUF, no element cast).
///
/// 1. Scale search: for each alpha of the grid, s = clamp(s_x^alpha, 1e-4),
///    s /= sqrt(max(s) min(s)), loss = mean((x W^T - x (Q(W diag s) /
///    s)^T)^2) over the calibration rows, Q the scheme's round-to-nearest
///    fake quantization; the first smallest loss wins.
/// 2. Clip search on W' = W diag(s) and x' = x / s: per output row and
///    group, the clip max_val = amax (1 - i / clipGrid) minimising the mean
///    over sampled tokens of (x'_g . (W'_g - Q(clamp(W'_g, +-max_val))))^2.
/// 3. `out` is RTN of the clipped W' in the scheme's layout and `scales` is
///    s (cols values): the layer computes (x / s) Q^T, so the caller folds
///    1/s into the activation's producer, as with SmoothQuant.
/// Uses OpenBLAS sgemm.
Status awq(const float *w, int64_t rows, int64_t cols, const float *x,
           int64_t tokens, const float *xMeanAbs, const Scheme &scheme,
           const AWQOptions &options, QTensor &out, std::vector<float> &scales,
           AWQInfo *info = nullptr);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_ALGORITHMS_H
