//===- Cast.cpp - element casts, bit-exact with ml_dtypes -----------------===//
//
// Every float element type is encoded by one routine working on the fp32
// bits: the value is the integer significand M times 2^k, the target's
// quantum at that magnitude is 2^ulpExp, and M is shifted right by the
// difference with round-to-nearest (ties even or away). A carry out of the
// significand moves into the exponent field for free because the code is
// computed as (exponent offset << mbits) + rounded significand.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Numerics.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace lowbit::numerics {

namespace {
inline uint32_t bitsOf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}
inline float floatOf(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

// IEEE half and bfloat16 in the same descriptor form as the small formats.
constexpr MiniFloatFormat kF16{"f16", 5, 10, 15, 0x7BFF, 0x7C00, 0x7E00, 15};
constexpr MiniFloatFormat kBF16{"bf16", 8, 7, 127, 0x7F7F, 0x7F80, 0x7FC0, 127};
} // namespace

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
  const uint32_t bits = bitsOf(x);
  const uint32_t sign = bits >> 31;
  const uint32_t mag = bits & 0x7FFFFFFFu;
  const unsigned w = fmt.ebits + fmt.mbits;
  const uint32_t signOut = sign << w;

  if (mag > 0x7F800000u) { // NaN
    if (!fmt.hasNaN())
      // fp4/fp6 (ml_dtypes): a zero whose sign is the NaN's sign inverted.
      return (sign ^ 1u) << w;
    if (fmt.mbits == 10 && fmt.ebits == 5) {
      // numpy's float16 keeps the top payload bits (quiet or not).
      uint32_t code = 0x7C00u | ((mag & 0x7FFFFFu) >> 13);
      return signOut | (code == 0x7C00u ? 0x7C01u : code);
    }
    return signOut | fmt.nanCode;
  }
  auto overflow = [&]() -> uint32_t {
    if (saturate)
      return signOut | fmt.maxCode;
    if (fmt.hasInf())
      return signOut | fmt.infCode;
    if (fmt.hasNaN())
      return signOut | fmt.nanCode;
    return signOut | fmt.maxCode; // fp4/fp6 always saturate
  };
  if (mag == 0x7F800000u)
    return overflow();
  if (mag == 0)
    return signOut;

  // |x| = M * 2^k, with e = floor(log2 |x|).
  uint64_t significand;
  int k, e;
  if ((mag >> 23) != 0) {
    significand = (mag & 0x7FFFFFu) | 0x800000u;
    k = int(mag >> 23) - 150;
    e = int(mag >> 23) - 127;
  } else {
    significand = mag;
    k = -149;
    e = exactIlogb(x);
  }
  const int minExp = 1 - fmt.bias;
  const int expUsed = e > minExp ? e : minExp;
  const int ulpExp = expUsed - int(fmt.mbits);
  const int shift = ulpExp - k; // >= 0: no target has more fraction bits
  uint64_t q;
  if (shift <= 0) {
    q = significand << -shift;
  } else if (shift > 40) {
    q = 0; // far below half a quantum
  } else {
    q = significand >> shift;
    uint64_t rem = significand & ((uint64_t(1) << shift) - 1);
    uint64_t half = uint64_t(1) << (shift - 1);
    if (rem > half ||
        (rem == half && (rounding == Rounding::NearestAway || (q & 1))))
      ++q;
  }
  uint64_t code = (uint64_t(expUsed - minExp) << fmt.mbits) + q;
  if (code > fmt.maxCode)
    return overflow();
  return signOut | uint32_t(code);
}

float decodeMiniFloat(const MiniFloatFormat &fmt, uint32_t code) {
  const unsigned w = fmt.ebits + fmt.mbits;
  const bool neg = (code >> w) & 1u;
  const uint32_t mag = code & ((1u << w) - 1);
  const uint32_t signBit = neg ? 0x80000000u : 0u;
  if (fmt.hasInf() && mag == fmt.infCode)
    return floatOf(signBit | 0x7F800000u);
  if (fmt.isNaNCode(mag)) {
    if (fmt.mbits == 10 && fmt.ebits == 5) // numpy: payload kept
      return floatOf(signBit | 0x7F800000u | ((mag & 0x3FFu) << 13));
    return floatOf(signBit | 0x7FC00000u);
  }
  const uint32_t eField = mag >> fmt.mbits;
  const uint32_t frac = mag & ((1u << fmt.mbits) - 1);
  float v;
  if (eField == 0)
    v = std::ldexp(float(frac), 1 - fmt.bias - int(fmt.mbits));
  else
    v = std::ldexp(float(frac | (1u << fmt.mbits)),
                   int(eField) - fmt.bias - int(fmt.mbits));
  return neg ? -v : v;
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
  // floor(log2 x), then round the significand half up (ml_dtypes).
  int e = exactIlogb(x);
  bool up;
  if ((mag >> 23) != 0) {
    up = (mag >> 22) & 1u;
  } else {
    int lead = 31 - __builtin_clz(mag);
    up = lead > 0 && ((mag >> (lead - 1)) & 1u);
  }
  int code = e + int(up) + int(kE8M0Bias);
  if (code < 0)
    return 0x00; // below 2^-127
  if (code > 254)
    return saturate ? 0xFE : 0xFF;
  return uint8_t(code);
}

float decodeE8M0(uint8_t code) {
  if (code == kE8M0NaN)
    return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, int(code) - int(kE8M0Bias));
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
