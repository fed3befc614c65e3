//===- CodePacking.cpp - sub-byte packing of codes on tensors -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The run-time layout of 2- and 4-bit codes (docs/Spec.md, "Run-time
// layout"): codes along the last axis, low bits first, the last axis
// padded to whole bytes. `packCodes` turns one code per byte into that
// layout and `unpackCodes` back, as linalg.generic on tensors.
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "lowbit/Conversion/Codecs.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::codecs;
using namespace mlir::lowbit::reference;

static unsigned codesPerByte(SchemeAttr s) {
  unsigned w = s.getStorageWidth();
  return (w == 2 || w == 4) ? 8 / w : 1;
}

namespace {

/// The shapes both directions of sub-byte packing use: codes [..., L] are
/// viewed as [..., P, per] (L padded up to P * per) against bytes [..., P].
struct PackGeometry {
  unsigned per, width;
  SmallVector<int64_t> shape, expanded, packed;
  SmallVector<ReassociationIndices> splitLast;
  AffineMap byteMap; // [..., P, per] -> [..., P]
  bool padded;

  PackGeometry(ImplicitLocOpBuilder &b, QTensorType t)
      : per(codesPerByte(t.getScheme())),
        width(t.getScheme().getStorageWidth()), shape(t.getShape()) {
    int64_t n = shape.size();
    int64_t packedLast = (shape.back() + per - 1) / per;
    padded = packedLast * per != shape.back();
    packed = shape;
    packed.back() = packedLast;
    expanded = packed;
    expanded.push_back(per);
    for (int64_t i = 0; i < n - 1; ++i)
      splitLast.push_back({i});
    splitLast.push_back({n - 1, n});
    SmallVector<AffineExpr> e;
    for (int64_t i = 0; i < n; ++i)
      e.push_back(b.getAffineDimExpr(i));
    byteMap = AffineMap::get(n + 1, 0, e, b.getContext());
  }
  int64_t rank() const { return shape.size(); }
  /// The unpadded [..., L] window of a padded [..., P * per] tensor.
  void window(ImplicitLocOpBuilder &b, SmallVectorImpl<OpFoldResult> &offsets,
              SmallVectorImpl<OpFoldResult> &sizes,
              SmallVectorImpl<OpFoldResult> &strides) const {
    for (int64_t d : shape) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(d));
      strides.push_back(b.getIndexAttr(1));
    }
  }
  /// Bit offset of code `linalg.index rank()` within its byte.
  Value shift(ImplicitLocOpBuilder &ib) const {
    Value idx = arith::IndexCastOp::create(ib, ib.getI32Type(),
                                           linalg::IndexOp::create(ib, rank()));
    return arith::MulIOp::create(ib, idx, constI32(ib, width));
  }
  int64_t mask() const { return (int64_t(1) << width) - 1; }
};

} // namespace

Value mlir::lowbit::reference::packCodes(TensorBuilder &tb, Value codes,
                                         QTensorType t) {
  if (codesPerByte(t.getScheme()) == 1)
    return codes;
  ImplicitLocOpBuilder &b = tb.b;
  PackGeometry g(b, t);
  Type i8 = b.getI8Type();
  Value zero = arith::ConstantIntOp::create(b, i8, 0);
  if (g.padded) {
    SmallVector<int64_t> paddedShape(g.packed);
    paddedShape.back() *= g.per;
    SmallVector<OpFoldResult> offsets, sizes, strides;
    g.window(b, offsets, sizes, strides);
    codes = tensor::InsertSliceOp::create(
        b, codes, tb.filled(paddedShape, i8, zero), offsets, sizes, strides);
  }
  Value ex = tensor::ExpandShapeOp::create(
      b, RankedTensorType::get(g.expanded, i8), codes, g.splitLast);
  SmallVector<utils::IteratorType> iters = TensorBuilder::parallel(g.rank());
  iters.push_back(utils::IteratorType::reduction);
  return tb.generic({RankedTensorType::get(g.packed, i8)}, {ex},
                    {tb.filled(g.packed, i8, zero)},
                    {b.getMultiDimIdentityMap(g.rank() + 1), g.byteMap}, iters,
                    [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                      Value c = arith::AndIOp::create(ib, fromByte(ib, a[0]),
                                                      constI32(ib, g.mask()));
                      Value v = arith::ShLIOp::create(ib, c, g.shift(ib));
                      Value acc =
                          arith::OrIOp::create(ib, fromByte(ib, a[1]), v);
                      return SmallVector<Value>{toByte(ib, acc)};
                    })[0];
}

Value mlir::lowbit::reference::unpackCodes(TensorBuilder &tb, Value packed,
                                           QTensorType t) {
  if (codesPerByte(t.getScheme()) == 1)
    return packed;
  ImplicitLocOpBuilder &b = tb.b;
  PackGeometry g(b, t);
  Type i8 = b.getI8Type();
  Value ex = tb.generic(
      {RankedTensorType::get(g.expanded, i8)}, {packed},
      {tb.empty(g.expanded, i8)},
      {g.byteMap, b.getMultiDimIdentityMap(g.rank() + 1)},
      TensorBuilder::parallel(g.rank() + 1),
      [&](ImplicitLocOpBuilder &ib, ValueRange a) {
        Value v = arith::ShRUIOp::create(ib, fromByte(ib, a[0]), g.shift(ib));
        v = arith::AndIOp::create(ib, v, constI32(ib, g.mask()));
        return SmallVector<Value>{toByte(ib, v)};
      })[0];
  Value flat = tensor::CollapseShapeOp::create(b, ex, g.splitLast);
  if (!g.padded)
    return flat;
  SmallVector<OpFoldResult> offsets, sizes, strides;
  g.window(b, offsets, sizes, strides);
  return tensor::ExtractSliceOp::create(b, RankedTensorType::get(g.shape, i8),
                                        flat, offsets, sizes, strides);
}
