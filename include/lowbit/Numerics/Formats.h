//===- Formats.h - element format descriptors -------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Plain C++ (no MLIR/LLVM): the bit-level description of every element and
// scale format lowbit knows. The reference lowering, the numerics library and
// code generation all read these tables; docs/Spec.md ("Element formats")
// states the same facts.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_NUMERICS_FORMATS_H
#define LOWBIT_NUMERICS_FORMATS_H

#include <cmath>
#include <cstdint>

namespace lowbit {

/// A small IEEE-like float format: sign, `ebits` exponent bits with `bias`,
/// `mbits` mantissa bits, subnormals.
struct MiniFloatFormat {
  const char *name;
  unsigned ebits;
  unsigned mbits;
  int bias;
  /// Largest finite magnitude code (sign bit clear).
  uint32_t maxCode;
  /// Magnitude code of +Inf, or 0 when the format has no Inf.
  uint32_t infCode;
  /// Magnitude code a NaN encodes to, or 0 when the format has no NaN
  /// (then NaN encodes as ml_dtypes does: a zero whose sign bit is the
  /// inverse of the NaN's sign bit).
  uint32_t nanCode;
  /// floor(log2(max finite)): emax of the element in OCP MX terms.
  int emax;

  unsigned totalBits() const { return 1 + ebits + mbits; }
  int minNormalExp() const { return 1 - bias; }
  bool hasNaN() const { return nanCode != 0; }
  bool hasInf() const { return infCode != 0; }
  /// Largest finite value.
  float maxFinite() const {
    int e = int(maxCode >> mbits) - bias;
    float m = 1.0f + float(maxCode & ((1u << mbits) - 1)) / float(1u << mbits);
    return std::ldexp(m, e);
  }
  /// True when `mag` (sign bit clear) encodes NaN.
  bool isNaNCode(uint32_t mag) const {
    if (!hasNaN())
      return false;
    if (hasInf()) // IEEE-style: all-ones exponent, non-zero mantissa.
      return (mag >> mbits) == ((1u << ebits) - 1) &&
             (mag & ((1u << mbits) - 1));
    return mag == nanCode;
  }
};

inline constexpr MiniFloatFormat kF8E4M3FN{"f8E4M3FN", 4, 3,    7,
                                           0x7E,       0, 0x7F, 8};
inline constexpr MiniFloatFormat kF8E5M2{"f8E5M2", 5,    2,    15,
                                         0x7B,     0x7C, 0x7E, 15};
inline constexpr MiniFloatFormat kF6E2M3FN{"f6E2M3FN", 2, 3, 1, 0x1F, 0, 0, 2};
inline constexpr MiniFloatFormat kF6E3M2FN{"f6E3M2FN", 3, 2, 3, 0x1F, 0, 0, 4};
inline constexpr MiniFloatFormat kF4E2M1FN{"f4E2M1FN", 2, 1, 1, 0x7, 0, 0, 2};

/// IEEE half and bfloat16 in the same form (element casts, GGUF's fp16
/// block scales, f16/bf16 scale storage).
inline constexpr MiniFloatFormat kF16{"f16",  5,      10,     15,
                                      0x7BFF, 0x7C00, 0x7E00, 15};
inline constexpr MiniFloatFormat kBF16{"bf16", 8,      7,      127,
                                       0x7F7F, 0x7F80, 0x7FC0, 127};

/// E8M0 (OCP MX scale): value 2^(code - 127), code 0xFF is NaN.
inline constexpr uint32_t kE8M0Bias = 127;
inline constexpr uint32_t kE8M0NaN = 0xFF;

/// OCP MXINT8: element value = int8 * 2^-6, so emax = 0.
inline constexpr int kMXInt8Emax = 0;
inline constexpr int kMXInt8FracBits = 6;

/// NVFP4 second-level scale: tensor amax / (6 * 448).
inline constexpr float kNVFP4TensorScaleDivisor = 6.0f * 448.0f;

} // namespace lowbit

#endif // LOWBIT_NUMERICS_FORMATS_H
