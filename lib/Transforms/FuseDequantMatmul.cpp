//===- FuseDequantMatmul.cpp - dequantize + contraction -> qmatmul --------===//

#include "Contractions.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFUSEDEQUANTMATMUL
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// The quantized value behind `v` when `v` is a lowbit.dequantize to f32
/// (qmatmul accumulates and returns f32), else `v` itself.
Value quantizedSource(Value v, bool &quantized) {
  auto dq = v.getDefiningOp<DequantizeOp>();
  quantized = dq && dq.getResult().getType().getElementType().isF32();
  return quantized ? dq.getInput() : v;
}

struct LowbitFuseDequantMatmulPass
    : mlir::lowbit::impl::LowbitFuseDequantMatmulBase<
          LowbitFuseDequantMatmulPass> {
  void runOnOperation() override {
    // Match each op when it is rewritten: fusing one site replaces values
    // (and erases ops) that a later site may use.
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (matchContraction(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      std::optional<Contraction> site = matchContraction(op);
      if (!site)
        continue;
      Contraction &c = *site;
      auto resultType = cast<RankedTensorType>(c.op->getResult(0).getType());
      if (!resultType.getElementType().isF32())
        continue;
      bool qa, qb;
      Value lhs = quantizedSource(c.lhs, qa);
      Value rhs = quantizedSource(c.rhs, qb);
      if (!qa && !qb)
        continue;
      // A float operand of qmatmul must be f32 too.
      if ((!qa &&
           !cast<RankedTensorType>(lhs.getType()).getElementType().isF32()) ||
          (!qb &&
           !cast<RankedTensorType>(rhs.getType()).getElementType().isF32()))
        continue;
      OpBuilder b(c.op);
      auto mm = QMatmulOp::create(b, c.op->getLoc(), resultType, lhs, rhs,
                                  c.transposeB);
      c.op->getResult(0).replaceAllUsesWith(mm.getResult());
      Value init = c.op.getDpsInits()[0];
      c.op->erase();
      for (Value v : {c.lhs, c.rhs, init}) {
        Operation *def = v.getDefiningOp();
        if (!def || !def->use_empty() ||
            !isa<DequantizeOp, linalg::FillOp>(def))
          continue;
        Operation *dest = isa<linalg::FillOp>(def)
                              ? def->getOperand(1).getDefiningOp()
                              : nullptr;
        def->erase();
        if (dest && dest->use_empty() && isa<tensor::EmptyOp>(dest))
          dest->erase();
      }
    }
  }
};

} // namespace
