//===- PartsLowering.cpp - lowbit.constant, pack and unpack ---------------===//
//
// The ops that move a quantized tensor's run-time parts as they are:
// lowbit.constant becomes one arith.constant per part, lowbit.pack and
// lowbit.unpack become the lowered parts themselves (f8 scales bitcast to
// and from their i8 storage).
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::reference;

namespace {

/// lowbit.constant -> one arith.constant per part.
struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    QTensorType t = op.getType();
    SmallVector<Type> types;
    getLoweredPartTypes(t, types);
    SmallVector<Value> values;
    size_t i = 0;
    for (std::optional<ElementsAttr> attr :
         {std::optional<ElementsAttr>(op.getCodes()), op.getScales(),
          op.getZeroPoints(), op.getTensorScale()}) {
      if (!attr)
        continue;
      auto want = cast<RankedTensorType>(types[i++]);
      TypedAttr value = cast<TypedAttr>(*attr);
      if (attr->getType() != want) {
        // f8 scales travel as bytes: reinterpret the same storage.
        if (auto dense = dyn_cast<DenseElementsAttr>(*attr))
          value = dense.bitcast(want.getElementType());
        else if (auto res = dyn_cast<DenseResourceElementsAttr>(*attr))
          value = DenseResourceElementsAttr::get(want, res.getRawHandle());
        else
          return op.emitOpError("scales must be dense or dense_resource");
      }
      values.push_back(arith::ConstantOp::create(b, value));
    }
    rewriter.replaceOpWithMultiple(op, {values});
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

void mlir::lowbit::reference::populatePartsLoweringPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<ConstantLowering, UnpackLowering, PackLowering>(
      converter, patterns.getContext());
}
