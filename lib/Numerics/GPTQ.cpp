//===- GPTQ.cpp - GPTQ weight quantization --------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The loop of IST-DASLab/gptq (gptq.py, fasterquant) with lowbit's scale
// rules: Cholesky of the damped Hessian, the upper Cholesky factor of its
// inverse, then columns in lazy batches, each quantized with the current
// group's scale and its error spread over the remaining columns.
//
//===----------------------------------------------------------------------===//

#include "QTensorLayout.h"
#include "lowbit/Numerics/Algorithms.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace lowbit::numerics {

namespace {

/// Upper Cholesky factor U of H^-1 (H^-1 = U^T U), column-major n x n, for
/// H (column-major, overwritten). Fails if H is not positive definite.
bool inverseCholeskyUpper(std::vector<float> &h, int64_t n) {
  lapack_int ln = lapack_int(n);
  if (LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', ln, h.data(), ln) != 0)
    return false;
  if (LAPACKE_spotri(LAPACK_COL_MAJOR, 'L', ln, h.data(), ln) != 0)
    return false;
  // Mirror the lower triangle of H^-1 to the upper one, then factor it.
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = j + 1; i < n; ++i)
      h[size_t(j + i * n)] = h[size_t(i + j * n)];
  if (LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', ln, h.data(), ln) != 0)
    return false;
  for (int64_t j = 0; j < n; ++j) // clear the unused lower part
    for (int64_t i = j + 1; i < n; ++i)
      h[size_t(i + j * n)] = 0.0f;
  return true;
}

} // namespace

void accumulateGram(const float *x, int64_t tokens, int64_t cols, float *h) {
  if (tokens <= 0 || cols <= 0)
    return;
  // Upper triangle (row-major) of h += x^T x, then mirrored.
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(cols),
              blasint(tokens), 1.0f, x, blasint(cols), 1.0f, h, blasint(cols));
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = i + 1; j < cols; ++j)
      h[size_t(j * cols + i)] = h[size_t(i * cols + j)];
}

Status gptq(const float *w, int64_t rows, int64_t cols, const float *h,
            const Scheme &scheme, const GPTQOptions &opt, QTensor &out) {
  if (rows <= 0 || cols <= 0)
    return Status::error("GPTQ needs a non-empty weight");
  if (scheme.kind == ElementKind::GGUF || scheme.scale == ScaleType::None ||
      scheme.tensorScale)
    return Status::error("GPTQ needs a scheme with per-block scales (not "
                         "GGUF, an element cast or a tensor scale)");
  const std::vector<int64_t> shape{rows, cols};
  Status st = verifyScheme(scheme, shape);
  if (!st.ok())
    return st;
  if (scheme.blockSizes[0] != 1)
    return Status::error("GPTQ scales are per output channel: the block "
                         "size along rows must be 1");
  const int64_t g = scheme.blockSizes[1];
  const int64_t groups = cols / g;
  if (opt.actOrder && groups > 1 && !opt.staticGroups)
    return Status::error("act_order with groups needs static groups (dynamic "
                         "groups in permuted order are not contiguous "
                         "blocks)");
  if (opt.blockSize < 1)
    return Status::error("GPTQ block size must be >= 1");
  for (int64_t i = 0; i < rows * cols; ++i)
    if (!std::isfinite(w[i]))
      return Status::error("GPTQ: weight element [" + std::to_string(i / cols) +
                           ", " + std::to_string(i % cols) + "] is not finite");
  for (int64_t i = 0; i < cols * cols; ++i)
    if (!std::isfinite(h[i]))
      return Status::error("GPTQ: the Hessian has a non-finite entry");

  // Working copies: W row-major [rows][cols]; H column-major (symmetric).
  std::vector<float> W(w, w + rows * cols);
  std::vector<float> H(h, h + cols * cols);
  for (int64_t j = 0; j < cols; ++j)
    if (H[size_t(j + j * cols)] == 0.0f) { // dead input: never active
      H[size_t(j + j * cols)] = 1.0f;
      for (int64_t r = 0; r < rows; ++r)
        W[size_t(r * cols + j)] = 0.0f;
    }

  // Static groups (and per-channel scales): parameters of the original
  // (dead-zeroed) weights, in natural column order.
  QTensor params;
  const bool upfront = opt.staticGroups || groups == 1;
  if (upfront) {
    st = quantize(W.data(), shape, scheme, params);
    if (!st.ok())
      return st;
  } else {
    params.scheme = scheme;
    params.shape = shape;
    params.scales.assign(
        size_t(rows * groups) * detail::scaleBytes(scheme.scale), 0);
    if (!scheme.symmetric)
      params.zeroPoints.assign(size_t(rows * groups), 0);
  }

  // Column order.
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return H[size_t(a + a * cols)] > H[size_t(b + b * cols)];
    });
  std::vector<float> Wp(W.size()), Hp(H.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      Wp[size_t(r * cols + j)] = W[size_t(r * cols + perm[size_t(j)])];
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < cols; ++i)
      Hp[size_t(i + j * cols)] =
          H[size_t(perm[size_t(i)] + perm[size_t(j)] * cols)];

  // Damped inverse Cholesky factor.
  double meanDiag = 0;
  for (int64_t j = 0; j < cols; ++j)
    meanDiag += Hp[size_t(j + j * cols)];
  meanDiag /= double(cols);
  std::vector<float> U;
  float damp = opt.damp;
  bool factored = false;
  for (int attempt = 0; attempt < 5 && !factored; ++attempt, damp *= 10) {
    U = Hp;
    for (int64_t j = 0; j < cols; ++j)
      U[size_t(j + j * cols)] += float(damp * meanDiag);
    factored = inverseCholeskyUpper(U, cols);
  }
  if (!factored)
    return Status::error("GPTQ: the Hessian stays singular after dampening "
                         "(is the calibration data degenerate?)");
  auto Uat = [&](int64_t i, int64_t j) { return U[size_t(i + j * cols)]; };

  // One column of codes: the values of column `c` (rows values, stride
  // cols in `src`) quantized with group `grp`'s parameters; returns the
  // dequantized values in `deq`.
  const size_t sb = detail::scaleBytes(scheme.scale);
  Scheme colScheme = scheme;
  colScheme.blockSizes = {1, 1};
  QTensor col;
  col.scheme = colScheme;
  col.shape = {rows, 1};
  col.scales.resize(size_t(rows) * sb);
  if (!scheme.symmetric)
    col.zeroPoints.resize(size_t(rows));
  std::vector<float> colIn(static_cast<size_t>(rows)),
      colOut(static_cast<size_t>(rows));
  auto quantizeColumn = [&](int64_t grp) -> Status {
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(&col.scales[size_t(r) * sb],
                  &params.scales[size_t(r * groups + grp) * sb], sb);
      if (!scheme.symmetric)
        col.zeroPoints[size_t(r)] = params.zeroPoints[size_t(r * groups + grp)];
    }
    Status s = quantizeStatic(colIn.data(), col);
    if (s.ok())
      s = dequantize(col, colOut.data());
    return s;
  };

  // Dynamic groups: parameters of W[:, j:j+g] as W stands at that point
  // (updated up to the start of the current lazy batch, as the reference
  // reads it).
  std::vector<float> groupIn;
  auto computeGroup = [&](int64_t j) -> Status {
    groupIn.resize(size_t(rows * g));
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(&groupIn[size_t(r * g)], &Wp[size_t(r * cols + j)],
                  size_t(g) * sizeof(float));
    QTensor gq;
    Status s = quantize(groupIn.data(), {rows, g}, scheme, gq);
    if (!s.ok())
      return s;
    const int64_t grp = j / g;
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(&params.scales[size_t(r * groups + grp) * sb],
                  &gq.scales[size_t(r) * sb], sb);
      if (!scheme.symmetric)
        params.zeroPoints[size_t(r * groups + grp)] = gq.zeroPoints[size_t(r)];
    }
    return Status::success();
  };

  std::vector<float> Q(W.size()); // dequantized, permuted order
  const int64_t bs = opt.blockSize;
  std::vector<float> W1, Err1, Ublock;
  for (int64_t i1 = 0; i1 < cols; i1 += bs) {
    const int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
    W1.assign(size_t(rows * count), 0.0f);
    Err1.assign(size_t(rows * count), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(&W1[size_t(r * count)], &Wp[size_t(r * cols + i1)],
                  size_t(count) * sizeof(float));
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i;
      int64_t grp;
      if (upfront) {
        grp = perm[size_t(j)] / g;
      } else {
        if (j % g == 0) {
          st = computeGroup(j);
          if (!st.ok())
            return st;
        }
        grp = j / g;
      }
      for (int64_t r = 0; r < rows; ++r)
        colIn[size_t(r)] = W1[size_t(r * count + i)];
      st = quantizeColumn(grp);
      if (!st.ok())
        return st;
      const float d = Uat(j, j);
      for (int64_t r = 0; r < rows; ++r) {
        const float wv = colIn[size_t(r)], qv = colOut[size_t(r)];
        Q[size_t(r * cols + j)] = qv;
        const float err = (wv - qv) / d;
        Err1[size_t(r * count + i)] = err;
        float *row = &W1[size_t(r * count)];
        for (int64_t k = i + 1; k < count; ++k)
          row[k] -= err * Uat(j, i1 + k);
      }
    }
    // W[:, i2:] -= Err1 . U[i1:i2, i2:]  (rows x count) x (count x rest).
    const int64_t rest = cols - i2;
    if (rest > 0) {
      Ublock.resize(size_t(count * rest));
      for (int64_t k = 0; k < count; ++k)
        for (int64_t m = 0; m < rest; ++m)
          Ublock[size_t(k * rest + m)] = Uat(i1 + k, i2 + m);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(rows),
                  blasint(rest), blasint(count), -1.0f, Err1.data(),
                  blasint(count), Ublock.data(), blasint(rest), 1.0f,
                  &Wp[size_t(i2)], blasint(cols));
    }
  }

  // Back to natural column order, then the codes under the chosen scales.
  std::vector<float> Qn(W.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      Qn[size_t(r * cols + perm[size_t(j)])] = Q[size_t(r * cols + j)];
  out = params;
  out.scheme = scheme;
  out.shape = shape;
  return quantizeStatic(Qn.data(), out);
}

std::vector<float> smoothQuantScales(const std::vector<float> &xmax,
                                     const std::vector<float> &wmax,
                                     float alpha) {
  std::vector<float> s(xmax.size());
  for (size_t j = 0; j < xmax.size(); ++j) {
    const float ws = std::fmax(wmax[j], 1e-5f);
    s[j] =
        std::fmax(std::pow(xmax[j], alpha) / std::pow(ws, 1.0f - alpha), 1e-5f);
  }
  return s;
}

void rotateWeightInputs(const float *r, int64_t k, float *w, int64_t n,
                        bool transposed) {
  std::vector<float> in(w, w + k * n);
  if (transposed) // [n][k] x [k][k]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n),
                blasint(k), blasint(k), 1.0f, in.data(), blasint(k), r,
                blasint(k), 0.0f, w, blasint(k));
  else // r^T [k][k] x [k][n]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(k), blasint(n),
                blasint(k), 1.0f, r, blasint(k), in.data(), blasint(n), 0.0f, w,
                blasint(n));
}

Status transpose2D(const QTensor &in, QTensor &out) {
  const Scheme &s = in.scheme;
  if (in.shape.size() != 2 || s.scale == ScaleType::None ||
      s.kind == ElementKind::GGUF || s.tensorScale)
    return Status::error("transpose2D needs a 2-D tensor with block scales");
  const int64_t rows = in.shape[0], cols = in.shape[1];
  std::vector<float> v(static_cast<size_t>(rows * cols)),
      t(static_cast<size_t>(rows * cols));
  Status st = dequantize(in, v.data());
  if (!st.ok())
    return st;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[size_t(c * rows + r)] = v[size_t(r * cols + c)];
  const int64_t br = rows / s.blockSizes[0], bc = cols / s.blockSizes[1];
  const size_t sb = detail::scaleBytes(s.scale);
  QTensor q;
  q.scheme = s;
  q.scheme.blockSizes = {s.blockSizes[1], s.blockSizes[0]};
  q.shape = {cols, rows};
  q.tensorScale = in.tensorScale;
  q.scales.resize(in.scales.size());
  if (!s.symmetric)
    q.zeroPoints.resize(in.zeroPoints.size());
  for (int64_t i = 0; i < br; ++i)
    for (int64_t j = 0; j < bc; ++j) {
      std::memcpy(&q.scales[size_t(j * br + i) * sb],
                  &in.scales[size_t(i * bc + j) * sb], sb);
      if (!s.symmetric)
        q.zeroPoints[size_t(j * br + i)] = in.zeroPoints[size_t(i * bc + j)];
    }
  st = quantizeStatic(t.data(), q);
  if (!st.ok())
    return st;
  out = std::move(q);
  return Status::success();
}

} // namespace lowbit::numerics
