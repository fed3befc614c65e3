//===- Cast.cpp - element casts, bit-exact with ml_dtypes -----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Every float element type is encoded and decoded by one routine
// (MiniFloatImpl.h, shared with the block quantizers); this file adds E8M0,
// the f16/bf16 descriptors and the element-type dispatch.
//
//===----------------------------------------------------------------------===//

#include "MiniFloatImpl.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace lowbit::numerics {

using detail::bitsOf;
using detail::floatOf;

int exactIlogb(float x) {
  uint32_t mag = bitsOf(x) & 0x7FFFFFFFu;
  uint32_t e = mag >> 23;
  if (e != 0)
    return int(e) - 127;
  // Subnormal: the leading one of the 23-bit fraction.
  return (31 - __builtin_clz(mag)) - 149;
}

uint32_t encodeMiniFloat(const MiniFloatFormat &fmt, float x, bool saturate,
                         Rounding rounding) {
  return detail::encodeMiniFloatInline(fmt, x, saturate, rounding);
}

float decodeMiniFloat(const MiniFloatFormat &fmt, uint32_t code) {
  return detail::decodeMiniFloatInline(fmt, code);
}

uint8_t encodeE8M0(float x, bool saturate) {
  const uint32_t bits = bitsOf(x);
  const uint32_t mag = bits & 0x7FFFFFFFu;
  if (mag > 0x7F800000u)
    return 0xFF; // NaN
  if (mag == 0)
    return saturate ? 0x00 : 0xFF;
  if (bits >> 31)
    return 0xFF; // negative: no sign bit to saturate to
  if (mag == 0x7F800000u)
    return saturate ? 0xFE : 0xFF;
  // fp32 subnormals: the same rule as normal inputs. Within [2^-127,
  // 2^-126) the half point is 1.5 * 2^-127 (0x00600000); anything below
  // 2^-127 is nearest to 2^-127, the smallest E8M0 value (code 0).
  if ((mag >> 23) == 0)
    return mag >= 0x00600000u ? 0x01 : 0x00;
  // Normal: floor(log2 x), then round the significand half up.
  int e = exactIlogb(x);
  bool up = (mag >> 22) & 1u;
  int code = e + int(up) + int(kE8M0Bias);
  if (code > 254)
    return saturate ? 0xFE : 0xFF;
  return uint8_t(code);
}

float decodeE8M0(uint8_t code) {
  if (code == kE8M0NaN)
    return std::numeric_limits<float>::quiet_NaN();
  return detail::pow2f(int(code) - int(kE8M0Bias));
}

const MiniFloatFormat *miniFloatFormat(ElementType type) {
  switch (type) {
  case ElementType::F16:
    return &kF16;
  case ElementType::BF16:
    return &kBF16;
  case ElementType::F8E4M3FN:
    return &kF8E4M3FN;
  case ElementType::F8E5M2:
    return &kF8E5M2;
  case ElementType::F6E2M3FN:
    return &kF6E2M3FN;
  case ElementType::F6E3M2FN:
    return &kF6E3M2FN;
  case ElementType::F4E2M1FN:
    return &kF4E2M1FN;
  case ElementType::F8E8M0FNU:
    return nullptr;
  }
  return nullptr;
}

unsigned elementBits(ElementType type) {
  if (const MiniFloatFormat *f = miniFloatFormat(type))
    return f->totalBits();
  return 8;
}

const char *elementTypeName(ElementType type) {
  switch (type) {
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  case ElementType::F8E4M3FN:
    return "f8e4m3fn";
  case ElementType::F8E5M2:
    return "f8e5m2";
  case ElementType::F6E2M3FN:
    return "f6e2m3fn";
  case ElementType::F6E3M2FN:
    return "f6e3m2fn";
  case ElementType::F4E2M1FN:
    return "f4e2m1fn";
  case ElementType::F8E8M0FNU:
    return "f8e8m0fnu";
  }
  return "?";
}

const std::vector<ElementType> &allElementTypes() {
  static const std::vector<ElementType> all = {
      ElementType::F16,      ElementType::BF16,     ElementType::F8E4M3FN,
      ElementType::F8E5M2,   ElementType::F6E2M3FN, ElementType::F6E3M2FN,
      ElementType::F4E2M1FN, ElementType::F8E8M0FNU};
  return all;
}

bool parseElementType(const std::string &name, ElementType &out) {
  std::string lower;
  for (char c : name)
    lower += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (ElementType t : allElementTypes())
    if (lower == elementTypeName(t)) {
      out = t;
      return true;
    }
  return false;
}

uint32_t encodeElement(ElementType type, float x, bool saturate,
                       Rounding rounding) {
  if (const MiniFloatFormat *f = miniFloatFormat(type))
    return encodeMiniFloat(*f, x, saturate, rounding);
  return encodeE8M0(x, saturate);
}

float decodeElement(ElementType type, uint32_t code) {
  if (const MiniFloatFormat *f = miniFloatFormat(type))
    return decodeMiniFloat(*f, code);
  return decodeE8M0(uint8_t(code));
}

uint16_t floatToHalfBits(float x) {
  return uint16_t(encodeMiniFloat(kF16, x, /*saturate=*/false));
}
float halfBitsToFloat(uint16_t h) { return decodeMiniFloat(kF16, h); }
uint16_t floatToBFloat16Bits(float x) {
  return uint16_t(encodeMiniFloat(kBF16, x, /*saturate=*/false));
}
float bfloat16BitsToFloat(uint16_t h) { return floatOf(uint32_t(h) << 16); }

} // namespace lowbit::numerics
