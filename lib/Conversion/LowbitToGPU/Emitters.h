//===- Emitters.h - building blocks of the GPU kernels ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Small emitters every GPU kernel family shares: constants, index
// arithmetic, inline PTX (statements, mma.sync on the operand types MLIR
// 22's ops do not take).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOGPU_EMITTERS_H
#define LOWBIT_CONVERSION_LOWBITTOGPU_EMITTERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit::nvptx {

/// An index constant.
inline Value idx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
/// v + c (v itself when c is 0).
inline Value add(ImplicitLocOpBuilder &b, Value v, int64_t c) {
  return c ? arith::AddIOp::create(b, v, idx(b, c)).getResult() : v;
}
/// An f32 constant.
inline Value f32c(ImplicitLocOpBuilder &b, float v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
}

/// An mma.sync with f32 accumulators as inline PTX on the fragments' 32-bit
/// registers (A: 4, B: 2, C/D: 4 f32), for the operand types MLIR 22's
/// nvgpu/nvvm ops do not take: E4M3 (m16n8k32, sm_89+, the int8 fragment
/// layout) and bf16 (m16n8k16, the f16 layout). `shapeAndTypes` is e.g.
/// "m16n8k32.row.col.f32.e4m3.e4m3.f32". `a`, `bv` and `c` are the
/// fragments as nvgpu.mma.sync takes them; returns D in C's type.
Value mmaInlineAsm(ImplicitLocOpBuilder &b, Value a, Value bv, Value c,
                   StringRef shapeAndTypes);

/// An inline PTX statement without results (fences, wgmma group control).
void ptxStatement(ImplicitLocOpBuilder &b, StringRef text);

} // namespace mlir::lowbit::nvptx

#endif // LOWBIT_CONVERSION_LOWBITTOGPU_EMITTERS_H
