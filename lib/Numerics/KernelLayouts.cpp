//===- KernelLayouts.cpp - codes re-laid out for the kernels --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Re-layouts of a quantized matrix for code generation: the transpose of
// codes, scales and zero points (transposeMatrix), the CPU kernels' int8
// panels (panelBytes, packInt8Panels, docs/CodegenCPU.md) and the GPU
// kernels' mma.sync B fragments of 4-bit codes (packInt4MmaB,
// docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "QTensorLayout.h"

#include <cstring>

namespace lowbit::numerics {

using detail::getCode;
using detail::putCode;
using detail::rowBytes;
using detail::scaleBytes;

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
