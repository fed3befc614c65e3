//===- Emitters.h - vector building blocks of the CPU kernels ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Small emitters every CPU kernel family shares: constants, LLVM intrinsic
// declarations, AVX2's replacement for vpdpbusd, 512-bit halves, scales.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_EMITTERS_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_EMITTERS_H

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <utility>

namespace mlir::lowbit::cpu {

/// The attribute of an intrinsic's declaration (a private func.func) that
/// names the LLVM intrinsic; `lowbit-expand-intrinsic-calls` reads it.
inline constexpr StringLiteral kLLVMIntrinsicAttr =
    LowbitDialect::LlvmIntrinsicAttrHelper::getNameStr();

inline Value idx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
inline Value add(ImplicitLocOpBuilder &b, Value v, int64_t c) {
  return c ? arith::AddIOp::create(b, v, idx(b, c)).getResult() : v;
}
inline Value splat(ImplicitLocOpBuilder &b, VectorType t, Attribute v) {
  return arith::ConstantOp::create(b, t, DenseElementsAttr::get(t, v));
}

/// The declaration through which kernels call an LLVM intrinsic: a private
/// func.func marked `lowbit.llvm_intrinsic`, whose calls
/// `lowbit-expand-intrinsic-calls` turns into llvm.call_intrinsic once
/// buffers are deallocated (the deallocation passes reject ops of unknown
/// memory effects such as llvm.call_intrinsic). `b` must be inside a
/// function of the module.
func::FuncOp getIntrinsicDecl(ImplicitLocOpBuilder &b, StringRef intrinsic,
                              FunctionType type);

/// The two 256-bit halves of a 512-bit vector, and back.
std::pair<Value, Value> splitHalves(ImplicitLocOpBuilder &b, Value v);
Value concatHalves(ImplicitLocOpBuilder &b, Value lo, Value hi);

/// vpdpbusd on AVX2: acc + per 32-bit lane the sum of 4 byte products, as
/// vpmaddubsw (pairs to i16) and vpmaddwd by ones (pairs to i32) on the
/// 256-bit halves. `dot(u, x)`: u unsigned, exact while u <= 127.
/// `dotSigned(w, x)`: signed w, as |w| . (x * sign(w)) (vpsignb), exact
/// while |w| <= 127.
struct Avx2Dot {
  func::FuncOp maddubs, maddwd, psign;
  Value ones16;

  explicit Avx2Dot(ImplicitLocOpBuilder &b);
  Value dot(ImplicitLocOpBuilder &b, Value acc, Value u, Value x,
            bool signedFirst = false) const;
};

/// A scale from a scales part of any rank: row `row` of a per-row part,
/// else the single value; as f32.
Value extractScale(ImplicitLocOpBuilder &b, Value part, bool perRow, Value row);

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_CONVERSION_LOWBITTOCPU_EMITTERS_H
