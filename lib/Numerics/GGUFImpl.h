//===- GGUFImpl.h - shared pieces of the GGUF block formats -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Numerics: the rounding and storage helpers that llama.cpp's
// reference quantizers share (ggml-quants.c), and the per-format block
// functions that GGUF.cpp dispatches to. GGUF.cpp holds the 32-element
// formats, GGUFKQuants.cpp the K-quants and GGUFIQuants.cpp the non-linear
// (iq4) and ternary (tq) formats. All are compiled without FMA contraction.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_NUMERICS_GGUFIMPL_H
#define LOWBIT_LIB_NUMERICS_GGUFIMPL_H

#include "MiniFloatImpl.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace lowbit::numerics::gguf_detail {

constexpr int kQK = 32;
constexpr int kQKK = 256;

/// ggml's GROUP_MAX_EPS: a (sub-)block whose largest |x| is below it counts
/// as all zero.
constexpr float kGroupMaxEps = 1e-15f;

// IEEE half: ggml's GGML_FP32_TO_FP16 rounds to nearest even (and
// overflows to Inf), as the non-saturating encoder does.

inline void storeHalf(uint8_t *p, float x) {
  static const detail::MiniFloatEncoder enc(kF16, /*sat=*/false,
                                            Rounding::NearestEven);
  uint32_t h = enc.encode(x);
  p[0] = uint8_t(h);
  p[1] = uint8_t(h >> 8);
}
inline float loadHalf(const uint8_t *p) {
  return detail::decodeMiniFloatInline(kF16, uint32_t(p[0] | (p[1] << 8)));
}

/// llama.cpp's nearest_int: round to nearest even through the magic
/// constant 1.5 * 2^23 (valid for |f| <= 2^22 - 1; outside that, the same
/// bit manipulation as the reference, whose assert is compiled out).
inline int nearestInt(float f) {
  float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007FFFFF) - 0x00400000;
}

/// llama.cpp's (int8_t)f and (uint8_t)f as x86-64 evaluates them
/// (cvttss2si to int32, keep the low byte; NaN and values beyond int32 give
/// INT32_MIN). C leaves out-of-range conversions undefined; they happen in
/// the reference for blocks whose 1/d overflows (subnormal d), and
/// llama.cpp's bytes there are x86's, so lowbit computes them explicitly.
inline uint8_t lowByteOfTrunc(float f) {
  int32_t i = (f != f || f >= 2147483648.0f || f < -2147483648.0f) ? INT32_MIN
                                                                   : int32_t(f);
  return uint8_t(uint32_t(i) & 0xFFu);
}
inline int8_t toInt8(float f) { return int8_t(lowByteOfTrunc(f)); }
inline uint8_t toUInt8(float f) { return lowByteOfTrunc(f); }

/// `(int)lroundf(f)` as glibc on x86-64 gives it: ties away from zero; NaN,
/// +-Inf and |f| >= 2^63 give LONG_MIN, whose low 32 bits are 0 (the tq
/// formats meet these when 1/d overflows).
inline int lroundToInt(float f) {
  if (!(std::fabs(f) < 9223372036854775808.0f))
    return 0;
  return int(uint32_t(uint64_t(int64_t(std::round(f)))));
}

inline int imin(int a, int b) { return a < b ? a : b; }
inline int imax(int a, int b) { return a > b ? a : b; }

/// Block functions: `x` one block of values, `y` one block struct.
void quantizeQ2_K(const float *x, uint8_t *y);
void quantizeQ3_K(const float *x, uint8_t *y);
void quantizeQ4_K(const float *x, uint8_t *y);
void quantizeQ5_K(const float *x, uint8_t *y);
void quantizeQ6_K(const float *x, uint8_t *y);
void dequantizeQ2_K(const uint8_t *b, float *y);
void dequantizeQ3_K(const uint8_t *b, float *y);
void dequantizeQ4_K(const uint8_t *b, float *y);
void dequantizeQ5_K(const uint8_t *b, float *y);
void dequantizeQ6_K(const uint8_t *b, float *y);

/// IQ4_NL quantizes a whole row of `nblocks` blocks: an all-zero block
/// repeats the codes of the block before it (see GGUFIQuants.cpp).
void quantizeIQ4_NLRow(const float *x, uint8_t *y, int64_t nblocks);
void quantizeIQ4_XS(const float *x, uint8_t *y);
void quantizeTQ1_0(const float *x, uint8_t *y);
void quantizeTQ2_0(const float *x, uint8_t *y);
void dequantizeIQ4_NL(const uint8_t *b, float *y);
void dequantizeIQ4_XS(const uint8_t *b, float *y);
void dequantizeTQ1_0(const uint8_t *b, float *y);
void dequantizeTQ2_0(const uint8_t *b, float *y);

} // namespace lowbit::numerics::gguf_detail

#endif // LOWBIT_LIB_NUMERICS_GGUFIMPL_H
