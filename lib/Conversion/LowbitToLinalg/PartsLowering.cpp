//===- PartsLowering.cpp - lowbit.constant, pack and unpack ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The ops that move a quantized tensor's run-time parts as they are:
// lowbit.constant becomes one arith.constant per part (createConstantParts,
// which the backends also use for constants in their kernels' layouts),
// lowbit.pack and lowbit.unpack become the lowered parts themselves (f8
// scales bitcast to and from their i8 storage).
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::reference;

namespace {

/// lowbit.constant -> one arith.constant per part. A constant in a kernel
/// layout (LB-C2) is not the reference's to read.
struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getLayout())
      return rewriter.notifyMatchFailure(op, "codes in a kernel layout");
    rewriter.replaceOpWithMultiple(op, {createConstantParts(rewriter, op)});
    return success();
  }
};

/// Values of types `from` as types `to`: f8 scales travel as bytes in the
/// lowered form, the same storage bitcast.
static SmallVector<Value> retype(ImplicitLocOpBuilder &b, ValueRange values,
                                 TypeRange to) {
  SmallVector<Value> out;
  for (auto [v, t] : llvm::zip(values, to))
    out.push_back(v.getType() == t ? v
                                   : Value(arith::BitcastOp::create(b, t, v)));
  return out;
}

/// lowbit.unpack -> the lowered parts themselves.
struct UnpackLowering : OpConversionPattern<UnpackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(UnpackOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    rewriter.replaceOp(op,
                       retype(b, adaptor.getInput(), op.getParts().getTypes()));
    return success();
  }
};

/// lowbit.pack -> its operands, as the lowered parts.
struct PackLowering : OpConversionPattern<PackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PackOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> parts;
    for (ValueRange v : adaptor.getParts())
      parts.append(v.begin(), v.end());
    SmallVector<Type> types;
    getLoweredPartTypes(op.getType(), types);
    rewriter.replaceOpWithMultiple(op, {retype(b, parts, types)});
    return success();
  }
};

} // namespace

SmallVector<Value> mlir::lowbit::createConstantParts(OpBuilder &b,
                                                     ConstantOp op) {
  SmallVector<Type> types;
  getLoweredPartTypes(op.getType(), types);
  SmallVector<Value> values;
  size_t i = 0;
  for (std::optional<ElementsAttr> attr :
       {std::optional<ElementsAttr>(op.getCodes()), op.getScales(),
        op.getZeroPoints(), op.getTensorScale()}) {
    if (!attr)
      continue;
    auto want = cast<RankedTensorType>(types[i++]);
    auto value = cast<TypedAttr>(*attr);
    // f8 scales travel as bytes: reinterpret the same storage. Codes in a
    // kernel layout keep their own type.
    if (attr->getType() != want && i != 1) {
      if (auto dense = dyn_cast<DenseElementsAttr>(*attr))
        value = dense.bitcast(want.getElementType());
      else if (auto res = dyn_cast<DenseResourceElementsAttr>(*attr))
        value = DenseResourceElementsAttr::get(want, res.getRawHandle());
    }
    values.push_back(arith::ConstantOp::create(b, op.getLoc(), value));
  }
  return values;
}

void mlir::lowbit::reference::populatePartsLoweringPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<ConstantLowering, UnpackLowering, PackLowering>(
      converter, patterns.getContext());
}
