//===- Algorithms.h - weight quantization algorithms ------------*- C++ -*-===//
//
// Algorithms that choose codes (and scales) better than round-to-nearest,
// on float arrays, without MLIR: GPTQ today (AWQ and HQQ next). Each returns
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

/// The transpose of a 2-D quantized tensor with scales: the same codes,
/// scales and zero points, transposed (block sizes swapped); exact.
Status transpose2D(const QTensor &in, QTensor &out);

} // namespace lowbit::numerics

#endif // LOWBIT_NUMERICS_ALGORITHMS_H
