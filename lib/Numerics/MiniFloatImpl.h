//===- MiniFloatImpl.h - inline minifloat encode/decode ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Numerics: the one implementation of float element casts,
// inline so that the block quantizers' inner loops do not pay a call per
// element. Cast.cpp exports it as encodeMiniFloat/decodeMiniFloat.
//
// Normal results round on the fp32 bits: rebias the exponent, add half a
// target quantum minus one plus the kept lowest bit (ties to even) or half
// a quantum (ties away), truncate; a carry moves into the exponent. Results
// in the target's subnormal range scale |x| by a power of two (exact) so
// that the quantum is 1 and round to an integer. Both assume the default
// floating-point environment (round to nearest, no flush-to-zero).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_NUMERICS_MINIFLOATIMPL_H
#define LOWBIT_LIB_NUMERICS_MINIFLOATIMPL_H

#include "lowbit/Numerics/Numerics.h"

#include <cmath>
#include <cstring>

namespace lowbit::numerics::detail {

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

/// 2^k for -149 <= k <= 127, exactly, without a libm call.
inline float pow2f(int k) {
  return k >= -126 ? floatOf(uint32_t(k + 127) << 23)
                   : floatOf(1u << (k + 149));
}

/// Round to the nearest integer, ties to even, for |v| < 2^22 (exact: v +
/// 1.5 * 2^23 has a quantum of 1); larger values are integers already or
/// are clamped by every caller.
inline float roundEvenSmall(float v) {
  const float magic = 12582912.0f;
  return std::fabs(v) < 4194304.0f ? (v + magic) - magic : v;
}

inline uint32_t encodeSpecial(const MiniFloatFormat &fmt, uint32_t sign,
                              uint32_t mag, bool saturate) {
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
  // Overflow or Inf.
  if (saturate)
    return signOut | fmt.maxCode;
  if (fmt.hasInf())
    return signOut | fmt.infCode;
  if (fmt.hasNaN())
    return signOut | fmt.nanCode;
  return signOut | fmt.maxCode; // fp4/fp6 always saturate
}

/// Encoder for one format and mode, with every per-format constant
/// computed once (hot loops build one and call encode() per element).
struct MiniFloatEncoder {
  MiniFloatFormat fmt;
  bool saturate;
  Rounding rounding;
  unsigned shift;             // 23 - mbits
  uint32_t minNormalBits;     // fp32 bits of the smallest normal
  uint32_t rebias;            // (bias - 127) << 23, modulo 2^32
  uint32_t half;              // half a quantum in fp32 fraction units
  float subScale1, subScale2; // 2^(mbits - minExp) as two exact factors

  MiniFloatEncoder(const MiniFloatFormat &f, bool sat, Rounding r)
      : fmt(f), saturate(sat), rounding(r), shift(23 - f.mbits),
        minNormalBits(uint32_t(1 - f.bias + 127) << 23),
        rebias(uint32_t(f.bias - 127) << 23), half(1u << (22 - f.mbits)) {
    // (Two factors: for bf16 the exponent, 133, exceeds fp32's range.)
    const int e = int(f.mbits) - (1 - f.bias);
    subScale1 = pow2f(e / 2);
    subScale2 = pow2f(e - e / 2);
  }

  uint32_t encode(float x) const {
    if (fmt.maxCode == 0x7)
      return encodeE2M1(x);
    return encodeBits(x);
  }

  /// fp4 (E2M1) by comparison with the 7 midpoints of its grid: the code
  /// is the number of midpoints below |x|, a tie moving up only to an even
  /// code (or always, for ties away). Same results as encodeBits, without
  /// its dependency chain (twice as fast in the MX/NVFP4 loops).
  uint32_t encodeE2M1(float x) const {
    const float a = std::fabs(x);
    const uint32_t sign = bitsOf(x) >> 31;
    if (a != a) // NaN: no fp4 code; ml_dtypes gives a zero of opposite sign
      return (sign ^ 1u) << 3;
    uint32_t code;
    if (rounding == Rounding::NearestEven)
      code = uint32_t(a > 0.25f) + uint32_t(a >= 0.75f) + uint32_t(a > 1.25f) +
             uint32_t(a >= 1.75f) + uint32_t(a > 2.5f) + uint32_t(a >= 3.5f) +
             uint32_t(a > 5.0f);
    else
      code = uint32_t(a >= 0.25f) + uint32_t(a >= 0.75f) +
             uint32_t(a >= 1.25f) + uint32_t(a >= 1.75f) + uint32_t(a >= 2.5f) +
             uint32_t(a >= 3.5f) + uint32_t(a >= 5.0f);
    return (sign << 3) | code;
  }

  uint32_t encodeBits(float x) const {
    const uint32_t bits = bitsOf(x);
    const uint32_t sign = bits >> 31;
    const uint32_t mag = bits & 0x7FFFFFFFu;
    if (mag >= 0x7F800000u)
      return encodeSpecial(fmt, sign, mag, saturate);
    uint32_t code;
    if (rounding == Rounding::NearestEven) {
      // Both candidates, then a select: random data makes the
      // subnormal/normal test unpredictable, so no branch on it. The
      // subnormal candidate is clamped below 2^22 where it is not used.
      float t = floatOf(mag) * subScale1 * subScale2;
      t = t < 4194304.0f ? t : 4194304.0f;
      const uint32_t sub = uint32_t((t + 12582912.0f) - 12582912.0f);
      const uint32_t norm =
          (mag + rebias + (half - 1) + ((mag >> shift) & 1u)) >> shift;
      code = mag < minNormalBits ? sub : norm;
    } else if (mag < minNormalBits) {
      code = uint32_t(std::round(floatOf(mag) * subScale1 * subScale2));
    } else {
      code = (mag + rebias + half) >> shift;
    }
    if (code > fmt.maxCode)
      return encodeSpecial(fmt, sign, 0x7F800000u, saturate);
    return (sign << (fmt.ebits + fmt.mbits)) | code;
  }
};

inline uint32_t encodeMiniFloatInline(const MiniFloatFormat &fmt, float x,
                                      bool saturate, Rounding rounding) {
  return MiniFloatEncoder(fmt, saturate, rounding).encode(x);
}

inline float decodeMiniFloatInline(const MiniFloatFormat &fmt, uint32_t code) {
  const unsigned w = fmt.ebits + fmt.mbits;
  const uint32_t signBit = ((code >> w) & 1u) << 31;
  const uint32_t mag = code & ((1u << w) - 1);
  const uint32_t eField = mag >> fmt.mbits;
  const uint32_t frac = mag & ((1u << fmt.mbits) - 1);
  if (eField == 0) {
    // Subnormal: frac quanta of 2^(minExp - mbits), exact.
    float v = float(frac) * pow2f(1 - fmt.bias - int(fmt.mbits));
    return floatOf(signBit | bitsOf(v));
  }
  if (fmt.hasInf() && mag == fmt.infCode)
    return floatOf(signBit | 0x7F800000u);
  if (fmt.isNaNCode(mag)) {
    if (fmt.mbits == 10 && fmt.ebits == 5) // numpy: payload kept
      return floatOf(signBit | 0x7F800000u | (frac << 13));
    return floatOf(signBit | 0x7FC00000u);
  }
  return floatOf(signBit | ((eField - fmt.bias + 127) << 23) |
                 (frac << (23 - fmt.mbits)));
}

} // namespace lowbit::numerics::detail

#endif // LOWBIT_LIB_NUMERICS_MINIFLOATIMPL_H
