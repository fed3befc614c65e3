//===- PTXRounding.cpp - rounding ops as PTX instructions -----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The kernels' PTX is not linked with libdevice (docs/CodegenGPU.md): the
// rounding ops of the shared encoders become inline PTX before
// lowbit-gpu-to-ptx lowers the kernels to NVVM.
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"
#include "Steps.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

void nvptx::replaceRoundingByPTX(gpu::GPUModuleOp module) {
  auto cvt = [](ImplicitLocOpBuilder &b, StringRef mode, Value x) {
    return LLVM::InlineAsmOp::create(
               b, b.getF32Type(), ValueRange{x},
               ("cvt." + mode + ".f32.f32 $0, $1;").str(), "=f,f",
               /*has_side_effects=*/false, /*is_align_stack=*/false,
               LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
               ArrayAttr())
        .getResult(0);
  };
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isa<math::RoundEvenOp, math::RoundOp>(op) &&
        op->getResult(0).getType().isF32())
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    ImplicitLocOpBuilder b(op->getLoc(), op);
    Value x = op->getOperand(0), r;
    if (isa<math::RoundEvenOp>(op)) {
      r = cvt(b, "rni", x);
    } else {
      Type i32 = b.getI32Type(), f32 = b.getF32Type();
      Value t = cvt(b, "rzi", x);
      Value d = arith::SubFOp::create(b, x, t);
      Value bits = arith::BitcastOp::create(b, i32, d);
      Value ad = arith::BitcastOp::create(
          b, f32,
          arith::AndIOp::create(
              b, bits,
              arith::ConstantOp::create(b, b.getI32IntegerAttr(0x7FFFFFFF))));
      Value half = arith::CmpFOp::create(b, arith::CmpFPredicate::OGE, ad,
                                         f32c(b, 0.5f));
      Value one = arith::BitcastOp::create(
          b, f32,
          arith::OrIOp::create(
              b,
              arith::AndIOp::create(
                  b, arith::BitcastOp::create(b, i32, x),
                  arith::ConstantOp::create(
                      b, b.getI32IntegerAttr(int32_t(0x80000000u)))),
              arith::ConstantOp::create(b, b.getI32IntegerAttr(0x3F800000))));
      r = arith::SelectOp::create(b, half, arith::AddFOp::create(b, t, one), t);
    }
    op->getResult(0).replaceAllUsesWith(r);
    op->erase();
  }
}
