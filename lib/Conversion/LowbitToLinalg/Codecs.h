//===- Codecs.h - scalar encode/decode emitters -------------------*- C++
//-*-===//
//
// Emit arith/math ops that compute one element's code or value, used inside
// linalg.generic bodies by the reference lowering. Every rule here is stated
// in docs/Spec.md.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOLINALG_CODECS_H
#define LOWBIT_CONVERSION_LOWBITTOLINALG_CODECS_H

#include "lowbit/LowbitDialect.h"
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
/// E8M0 code (i32 0..255) -> f32 2^(code-127), NaN for 255.
Value decodeE8M0(ImplicitLocOpBuilder &b, Value code);

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

#endif // LOWBIT_CONVERSION_LOWBITTOLINALG_CODECS_H
