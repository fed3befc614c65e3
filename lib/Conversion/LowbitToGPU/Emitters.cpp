//===- Emitters.cpp - building blocks of the GPU kernels ------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Inline PTX for what MLIR 22's gpu, nvgpu and nvvm ops do not offer.
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

Value nvptx::mmaInlineAsm(ImplicitLocOpBuilder &b, Value a, Value bv, Value c,
                          StringRef shapeAndTypes) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto v1i32 = VectorType::get({1}, i32);
  SmallVector<Value> operands;
  auto words = [&](Value frag, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      Value bytes = vector::ExtractOp::create(b, frag, ArrayRef<int64_t>{j});
      Value w = vector::BitCastOp::create(b, v1i32, bytes);
      operands.push_back(vector::ExtractOp::create(b, w, ArrayRef<int64_t>{0}));
    }
  };
  words(a, 4);
  words(bv, 2);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t col = 0; col < 2; ++col)
      operands.push_back(
          vector::ExtractOp::create(b, c, ArrayRef<int64_t>{r, col}));
  auto st =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  auto asmOp = LLVM::InlineAsmOp::create(
      b, st, operands,
      ("mma.sync.aligned." + shapeAndTypes +
       " {$0,$1,$2,$3}, {$4,$5,$6,$7}, {$8,$9}, {$10,$11,$12,$13};")
          .str(),
      "=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f", /*has_side_effects=*/false,
      /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
      LLVM::AsmDialectAttr(), ArrayAttr());
  Value d = c;
  for (int64_t i = 0; i < 4; ++i) {
    Value v = LLVM::ExtractValueOp::create(b, asmOp.getResult(0),
                                           ArrayRef<int64_t>{i});
    d = vector::InsertOp::create(b, v, d, ArrayRef<int64_t>{i / 2, i % 2});
  }
  return d;
}

void nvptx::ptxStatement(ImplicitLocOpBuilder &b, StringRef text) {
  LLVM::InlineAsmOp::create(b, Type(), ValueRange(), text, "",
                            /*has_side_effects=*/true,
                            /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None,
                            LLVM::AsmDialectAttr(), ArrayAttr());
}
