//===- Scheme.cpp - scheme rules and QTensor shapes -----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What a scheme means before any data is seen: its code range (qmin, qmax)
// and width, a QTensor's element count, scale and code shapes and scale
// values, and verifyScheme, the scheme-level rules of docs/Spec.md (LB-S*,
// LB-T1) as the IR verifier states them for #lowbit.scheme.
//
//===----------------------------------------------------------------------===//

#include "QTensorLayout.h"

#include <cstring>

namespace lowbit::numerics {

using detail::product;
using detail::rowBytes;
using detail::shapeString;

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
                           "q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k gguf_mxfp4 "
                           "iq4_nl iq4_xs tq1_0 tq2_0)");
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

} // namespace lowbit::numerics
