//===- QMatmulLowering.cpp - lowbit.qmatmul to a linalg contraction -------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The reference lowering of lowbit.qmatmul: the quantized operands
// dequantized (emitDequantize), then one linalg.generic contraction
// accumulating in f32 over [batch,] m, n, k, B optionally transposed.
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "lowbit/Conversion/Codecs.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::codecs;
using namespace mlir::lowbit::reference;

namespace {

/// lowbit.qmatmul -> dequantize the quantized operands, then a linalg.generic
/// contraction accumulating in f32.
struct QMatmulLowering : OpConversionPattern<QMatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QMatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    TensorBuilder tb{b};
    auto operand = [&](Value orig, ValueRange conv) -> Value {
      if (auto qt = dyn_cast<QTensorType>(orig.getType()))
        return emitDequantize(tb, Parts::from(qt, conv), qt);
      return conv[0];
    };
    Value lhs = operand(op.getLhs(), adaptor.getLhs());
    Value rhs = operand(op.getRhs(), adaptor.getRhs());
    auto resType = op.getType();
    int64_t r = resType.getRank();
    bool batch = r == 3;
    // Iteration space: [b,] m, n, k.
    int64_t nd = r + 1;
    auto d = [&](int64_t i) { return b.getAffineDimExpr(i); };
    int64_t o = batch ? 1 : 0;
    SmallVector<AffineExpr> ae, be, ce;
    if (batch) {
      ae.push_back(d(0));
      be.push_back(d(0));
      ce.push_back(d(0));
    }
    ae.append({d(o), d(o + 2)});
    if (op.getTransposeB())
      be.append({d(o + 1), d(o + 2)});
    else
      be.append({d(o + 2), d(o + 1)});
    ce.append({d(o), d(o + 1)});
    SmallVector<AffineMap> maps{AffineMap::get(nd, 0, ae, b.getContext()),
                                AffineMap::get(nd, 0, be, b.getContext()),
                                AffineMap::get(nd, 0, ce, b.getContext())};
    SmallVector<utils::IteratorType> iters = TensorBuilder::parallel(r);
    iters.push_back(utils::IteratorType::reduction);
    Type f32 = b.getF32Type();
    Value acc = tb.filled(resType.getShape(), f32, constF32(b, 0));
    Value y = tb.generic(
        {RankedTensorType::get(resType.getShape(), f32)}, {lhs, rhs}, {acc},
        maps, iters, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value m = arith::MulFOp::create(ib, toF32(ib, a[0]), toF32(ib, a[1]));
          return SmallVector<Value>{arith::AddFOp::create(ib, a[2], m)};
        })[0];
    Type outElem = resType.getElementType();
    if (!outElem.isF32())
      y = tb.map({y}, outElem, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
        return fromF32(ib, a[0], outElem);
      });
    rewriter.replaceOp(op, y);
    return success();
  }
};

} // namespace

void mlir::lowbit::reference::populateQMatmulLoweringPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<QMatmulLowering>(converter, patterns.getContext());
}
