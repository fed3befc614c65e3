//===- Codecs.h - element and scale encode/decode emitters ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Emit arith/math ops that compute an element's code or value: the one
// implementation of each format's rules in IR, used by the reference
// lowering (inside linalg.generic bodies) and by the CPU and GPU kernels.
// Every rule here is stated in docs/Spec.md. The E8M0 and E4M3 decoders take
// scalars or vectors of any integer width up to 32 (codes zero-extended);
// the others take scalar i32/f32 values.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_CODECS_H
#define LOWBIT_CONVERSION_CODECS_H

#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Numerics/Formats.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit::codecs {

/// The descriptor of a builtin minifloat element type.
const ::lowbit::MiniFloatFormat &getFormat(Type type);

Value constI32(ImplicitLocOpBuilder &b, int64_t v);
Value constF32(ImplicitLocOpBuilder &b, float v);

/// f32 -> minifloat code in the low bits of an i32, RNE (or ties away),
/// saturating or not.
Value encodeMiniFloat(ImplicitLocOpBuilder &b, Value x,
                      const ::lowbit::MiniFloatFormat &fmt, Rounding rounding,
                      bool saturate);
/// Minifloat code (low bits of an i32) -> f32, exact.
Value decodeMiniFloat(ImplicitLocOpBuilder &b, Value code,
                      const ::lowbit::MiniFloatFormat &fmt);

/// floor(log2(|a|)) from the f32 exponent bits (subnormals included) for a
/// finite non-zero `a`; the result is unspecified for 0, Inf and NaN.
Value ilogb(ImplicitLocOpBuilder &b, Value a);
/// E8M0 code (0..255, an integer scalar or vector) -> f32 2^(code-127)
/// exactly (code 0: 2^-127, an f32 subnormal), NaN for 255.
Value decodeE8M0(ImplicitLocOpBuilder &b, Value code);
/// E4M3 (FN) code (an integer scalar or vector, the low 8 bits) -> f32,
/// exactly and without f32 subnormals (so under FTZ/DAZ too): normal codes
/// as f32 bits (exponent + 120), subnormal ones m * 2^-9, then the sign;
/// S.1111.111 is NaN.
Value decodeE4M3(ImplicitLocOpBuilder &b, Value code);

/// Round an f32 to an integral f32 with the given mode.
Value roundF32(ImplicitLocOpBuilder &b, Value x, Rounding rounding);

/// Truncate an i32 to i8 / widen an i8 to an i32 (zero-extended).
Value toByte(ImplicitLocOpBuilder &b, Value v);
Value fromByte(ImplicitLocOpBuilder &b, Value v);

/// Widen/narrow floats to/from f32 (RNE).
Value toF32(ImplicitLocOpBuilder &b, Value v);
Value fromF32(ImplicitLocOpBuilder &b, Value v, Type t);
/// An f32 scale rounded to its storage type `t` (f32, f16, bf16) as the
/// numerics library stores it: saturating, and a non-zero scale never
/// becomes zero (smallest subnormal instead).
Value storeScale(ImplicitLocOpBuilder &b, Value v, Type t);

} // namespace mlir::lowbit::codecs

#endif // LOWBIT_CONVERSION_CODECS_H
