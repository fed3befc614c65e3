//===- Codecs.cpp - element and scale encode/decode emitters --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The IR form of docs/Spec.md's element rules (Codecs.h).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Codecs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::lowbit;
using ::lowbit::MiniFloatFormat;

const MiniFloatFormat &codecs::getFormat(Type type) {
  if (isa<Float8E4M3FNType>(type))
    return ::lowbit::kF8E4M3FN;
  if (isa<Float8E5M2Type>(type))
    return ::lowbit::kF8E5M2;
  if (isa<Float6E2M3FNType>(type))
    return ::lowbit::kF6E2M3FN;
  if (isa<Float6E3M2FNType>(type))
    return ::lowbit::kF6E3M2FN;
  assert(isa<Float4E2M1FNType>(type) && "not a minifloat element type");
  return ::lowbit::kF4E2M1FN;
}

Value codecs::constI32(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIntOp::create(b, b.getI32Type(), v);
}

Value codecs::constF32(ImplicitLocOpBuilder &b, float v) {
  return arith::ConstantFloatOp::create(b, b.getF32Type(), APFloat(v));
}

/// Exact 2^e for e in [-149, 127].
static float pow2f(int e) { return std::ldexp(1.0f, e); }

Value codecs::roundF32(ImplicitLocOpBuilder &b, Value x, Rounding rounding) {
  if (rounding == Rounding::NearestAway)
    return math::RoundOp::create(b, x);
  return math::RoundEvenOp::create(b, x);
}

Value codecs::encodeMiniFloat(ImplicitLocOpBuilder &b, Value x,
                              const MiniFloatFormat &fmt, Rounding rounding,
                              bool saturate) {
  Type i32 = b.getI32Type();
  Value bits = arith::BitcastOp::create(b, i32, x);
  Value sign = arith::ShRUIOp::create(b, bits, constI32(b, 31));
  Value a = arith::AndIOp::create(b, bits, constI32(b, 0x7fffffff));
  Value absX = arith::BitcastOp::create(b, b.getF32Type(), a);
  unsigned m = fmt.mbits;
  unsigned sh = 23 - m;
  // Normal range: round the f32 bits at the target mantissa width, then
  // re-bias the exponent.
  Value rounded;
  if (rounding == Rounding::NearestAway) {
    rounded = arith::AddIOp::create(b, a, constI32(b, 1 << (sh - 1)));
  } else {
    Value lsb = arith::AndIOp::create(
        b, arith::ShRUIOp::create(b, a, constI32(b, sh)), constI32(b, 1));
    rounded = arith::AddIOp::create(
        b, arith::AddIOp::create(b, a, constI32(b, (1 << (sh - 1)) - 1)), lsb);
  }
  Value normCode = arith::SubIOp::create(
      b, arith::ShRUIOp::create(b, rounded, constI32(b, sh)),
      constI32(b, int64_t(127 - fmt.bias) << m));
  // Subnormal range of the target: an exact power-of-two scaling, then an
  // integer rounding.
  int emin = fmt.minNormalExp();
  Value scaled =
      arith::MulFOp::create(b, absX, constF32(b, pow2f(int(m) - emin)));
  Value subCode =
      arith::FPToSIOp::create(b, i32, roundF32(b, scaled, rounding));
  int64_t minNormalBits = int64_t(emin + 127) << 23;
  Value isSub = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, a,
                                      constI32(b, minNormalBits));
  Value code = arith::SelectOp::create(b, isSub, subCode, normCode);
  // Overflow and infinities.
  Value maxCode = constI32(b, fmt.maxCode);
  Value isInf = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, a,
                                      constI32(b, 0x7f800000));
  Value over =
      arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, code, maxCode);
  over = arith::OrIOp::create(b, over, isInf);
  Value overCode = maxCode;
  if (!saturate)
    overCode = constI32(b, fmt.hasInf() ? fmt.infCode : fmt.nanCode);
  code = arith::SelectOp::create(b, over, overCode, code);
  // NaN.
  Value isNaN = arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, a,
                                      constI32(b, 0x7f800000));
  unsigned signShift = fmt.ebits + fmt.mbits;
  Value signed_ = arith::OrIOp::create(
      b, code, arith::ShLIOp::create(b, sign, constI32(b, signShift)));
  Value nanCode;
  if (fmt.hasNaN()) {
    nanCode = arith::OrIOp::create(
        b, constI32(b, fmt.nanCode),
        arith::ShLIOp::create(b, sign, constI32(b, signShift)));
  } else {
    // ml_dtypes: NaN becomes a zero whose sign is the NaN's sign inverted.
    Value inv = arith::XOrIOp::create(b, sign, constI32(b, 1));
    nanCode = arith::ShLIOp::create(b, inv, constI32(b, signShift));
  }
  return arith::SelectOp::create(b, isNaN, nanCode, signed_);
}

Value codecs::decodeMiniFloat(ImplicitLocOpBuilder &b, Value code,
                              const MiniFloatFormat &fmt) {
  unsigned m = fmt.mbits;
  unsigned signShift = fmt.ebits + fmt.mbits;
  Value c =
      arith::AndIOp::create(b, code, constI32(b, (1 << fmt.totalBits()) - 1));
  Value sign = arith::ShRUIOp::create(b, c, constI32(b, signShift));
  Value mag = arith::AndIOp::create(b, c, constI32(b, (1 << signShift) - 1));
  Value e = arith::ShRUIOp::create(b, mag, constI32(b, m));
  Value man = arith::AndIOp::create(b, mag, constI32(b, (1 << m) - 1));
  Value normBits = arith::OrIOp::create(
      b,
      arith::ShLIOp::create(
          b, arith::AddIOp::create(b, e, constI32(b, 127 - fmt.bias)),
          constI32(b, 23)),
      arith::ShLIOp::create(b, man, constI32(b, 23 - m)));
  Value subVal =
      arith::MulFOp::create(b, arith::SIToFPOp::create(b, b.getF32Type(), man),
                            constF32(b, pow2f(fmt.minNormalExp() - int(m))));
  Value subBits = arith::BitcastOp::create(b, b.getI32Type(), subVal);
  Value isSub =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, constI32(b, 0));
  Value bits = arith::SelectOp::create(b, isSub, subBits, normBits);
  if (fmt.hasInf()) {
    Value isInf = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, mag,
                                        constI32(b, fmt.infCode));
    bits = arith::SelectOp::create(b, isInf, constI32(b, 0x7f800000), bits);
    Value expAll = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e,
                                         constI32(b, (1 << fmt.ebits) - 1));
    Value manNZ =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ne, man, constI32(b, 0));
    Value isNaN = arith::AndIOp::create(b, expAll, manNZ);
    bits = arith::SelectOp::create(b, isNaN, constI32(b, 0x7fc00000), bits);
  } else if (fmt.hasNaN()) {
    Value isNaN = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, mag,
                                        constI32(b, fmt.nanCode));
    bits = arith::SelectOp::create(b, isNaN, constI32(b, 0x7fc00000), bits);
  }
  bits = arith::OrIOp::create(b, bits,
                              arith::ShLIOp::create(b, sign, constI32(b, 31)));
  return arith::BitcastOp::create(b, b.getF32Type(), bits);
}

Value codecs::ilogb(ImplicitLocOpBuilder &b, Value a) {
  Value bits =
      arith::AndIOp::create(b, arith::BitcastOp::create(b, b.getI32Type(), a),
                            constI32(b, 0x7fffffff));
  Value e = arith::ShRUIOp::create(b, bits, constI32(b, 23));
  Value normal = arith::SubIOp::create(b, e, constI32(b, 127));
  Value man = arith::AndIOp::create(b, bits, constI32(b, 0x7fffff));
  Value clz = math::CountLeadingZerosOp::create(b, man);
  Value sub = arith::SubIOp::create(b, constI32(b, -118), clz);
  Value isSub =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, constI32(b, 0));
  return arith::SelectOp::create(b, isSub, sub, normal);
}

/// `v` (an integer or float scalar or vector) -> the same shape of `elem`.
static Type withElement(Value v, Type elem) {
  if (auto vt = dyn_cast<VectorType>(v.getType()))
    return VectorType::get(vt.getShape(), elem);
  return elem;
}

/// A constant of type `t` (a scalar or a vector splat).
static Value constLike(ImplicitLocOpBuilder &b, Type t, Attribute v) {
  if (auto vt = dyn_cast<VectorType>(t))
    return arith::ConstantOp::create(b, vt, DenseElementsAttr::get(vt, v));
  return arith::ConstantOp::create(b, cast<TypedAttr>(v));
}

/// An integer code widened to i32 (zero-extended), keeping its shape.
static Value codeToI32(ImplicitLocOpBuilder &b, Value code) {
  Type i32 = withElement(code, b.getI32Type());
  if (getElementTypeOrSelf(code.getType()).getIntOrFloatBitWidth() < 32)
    return arith::ExtUIOp::create(b, i32, code);
  return code;
}

Value codecs::decodeE8M0(ImplicitLocOpBuilder &b, Value code) {
  Value e = codeToI32(b, code);
  Type i32 = e.getType(), f32 = withElement(e, b.getF32Type());
  auto c = [&](int32_t v) { return constLike(b, i32, b.getI32IntegerAttr(v)); };
  Value normal = arith::ShLIOp::create(b, e, c(23));
  Value isZero = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, c(0));
  Value bits = arith::SelectOp::create(b, isZero, c(0x00400000), normal);
  Value isNaN = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e,
                                      c(::lowbit::kE8M0NaN));
  bits = arith::SelectOp::create(b, isNaN, c(0x7fc00000), bits);
  return arith::BitcastOp::create(b, f32, bits);
}

Value codecs::decodeE4M3(ImplicitLocOpBuilder &b, Value code) {
  Value x = codeToI32(b, code);
  Type i32 = x.getType(), f32 = withElement(x, b.getF32Type());
  auto c = [&](int32_t v) { return constLike(b, i32, b.getI32IntegerAttr(v)); };
  Value em = arith::AndIOp::create(b, x, c(0x7F));
  Value normal = arith::AddIOp::create(b, arith::ShLIOp::create(b, em, c(20)),
                                       c(120 << 23));
  Value sub = arith::BitcastOp::create(
      b, i32,
      arith::MulFOp::create(
          b, arith::SIToFPOp::create(b, f32, em),
          constLike(b, f32, b.getF32FloatAttr(std::ldexp(1.0f, -9)))));
  Value isSub = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, em, c(8));
  Value mag = arith::SelectOp::create(b, isSub, sub, normal);
  Value sign =
      arith::ShLIOp::create(b, arith::AndIOp::create(b, x, c(0x80)), c(24));
  Value f =
      arith::BitcastOp::create(b, f32, arith::OrIOp::create(b, mag, sign));
  Value nan = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, em, c(0x7F));
  return arith::SelectOp::create(
      b, nan,
      constLike(b, f32,
                b.getF32FloatAttr(std::numeric_limits<float>::quiet_NaN())),
      f);
}

Value codecs::toByte(ImplicitLocOpBuilder &b, Value v) {
  return arith::TruncIOp::create(b, b.getI8Type(), v);
}

Value codecs::fromByte(ImplicitLocOpBuilder &b, Value v) {
  return arith::ExtUIOp::create(b, b.getI32Type(), v);
}

Value codecs::toF32(ImplicitLocOpBuilder &b, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, b.getF32Type(), v);
}

Value codecs::fromF32(ImplicitLocOpBuilder &b, Value v, Type t) {
  if (t.isF32())
    return v;
  return arith::TruncFOp::create(b, t, v);
}

Value codecs::storeScale(ImplicitLocOpBuilder &b, Value v, Type t) {
  if (t.isF32())
    return v;
  // docs/Spec.md section 5: f16/bf16 scales saturate, and a non-zero scale
  // never rounds to zero (smallest subnormal instead).
  const llvm::fltSemantics &sem = cast<FloatType>(t).getFloatSemantics();
  auto constT = [&](const APFloat &x) {
    return arith::ConstantOp::create(b, t, b.getFloatAttr(t, x)).getResult();
  };
  Value r = arith::TruncFOp::create(b, t, v);
  Value absR = math::AbsFOp::create(b, r);
  Value inf = constT(APFloat::getInf(sem));
  Value isInf = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, absR, inf);
  Value maxF = math::CopySignOp::create(b, constT(APFloat::getLargest(sem)), r);
  r = arith::SelectOp::create(b, isInf, maxF, r);
  Value zeroT = constT(APFloat::getZero(sem));
  Value zeroF =
      arith::ConstantOp::create(b, b.getF32Type(), b.getF32FloatAttr(0.0f));
  Value under = arith::AndIOp::create(
      b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, r, zeroT),
      arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, v, zeroF));
  Value minSub =
      math::CopySignOp::create(b, constT(APFloat::getSmallest(sem)), r);
  return arith::SelectOp::create(b, under, minSub, r);
}
