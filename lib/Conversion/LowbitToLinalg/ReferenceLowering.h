//===- ReferenceLowering.h - what the lowering files share ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The pieces the files of the lowbit-to-linalg reference lowering share:
// the lowered part types, a quantized tensor's run-time parts (`Parts`),
// tensor-level builders (`TensorBuilder`), the quantize / dequantize
// emitters the patterns compose, and one `populate...Patterns` per op
// family. Private to lib/Conversion/LowbitToLinalg.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_CONVERSION_LOWBITTOLINALG_REFERENCELOWERING_H
#define LOWBIT_LIB_CONVERSION_LOWBITTOLINALG_REFERENCELOWERING_H

#include "lowbit/Conversion/Passes.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit::reference {

//===----------------------------------------------------------------------===//
// Type conversion (LowbitToLinalg.cpp)
//===----------------------------------------------------------------------===//

/// Scales with 8-bit float types travel as their bit patterns (i8).
Type getLoweredScaleElementType(SchemeAttr s);

/// Appends the lowered types of `t`'s run-time parts (codes, scales, zero
/// points, tensor scale; absent parts skipped) to `types`.
void getLoweredPartTypes(QTensorType t, SmallVectorImpl<Type> &types);

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

/// The run-time parts of one quantized tensor (absent parts are null).
struct Parts {
  Value codes, scales, zeroPoints, tensorScale;

  static Parts from(QTensorType t, ValueRange values) {
    Parts p;
    size_t i = 0;
    p.codes = values[i++];
    if (t.getScalesType())
      p.scales = values[i++];
    if (t.getZeroPointsType())
      p.zeroPoints = values[i++];
    if (t.getTensorScaleType())
      p.tensorScale = values[i++];
    return p;
  }
  SmallVector<Value> values() const {
    SmallVector<Value> v{codes};
    for (Value x : {scales, zeroPoints, tensorScale})
      if (x)
        v.push_back(x);
    return v;
  }
};

using BodyFn = function_ref<void(ImplicitLocOpBuilder &, ValueRange)>;

/// Tensor-level helpers on an ImplicitLocOpBuilder.
struct TensorBuilder {
  ImplicitLocOpBuilder &b;

  Value empty(ArrayRef<int64_t> shape, Type elem) {
    return tensor::EmptyOp::create(b, shape, elem);
  }
  Value filled(ArrayRef<int64_t> shape, Type elem, Value v) {
    return linalg::FillOp::create(b, ValueRange{v},
                                  ValueRange{empty(shape, elem)})
        .getResult(0);
  }

  /// A linalg.generic whose body is built by `body` (block arguments in,
  /// values to yield out).
  SmallVector<Value>
  generic(TypeRange resultTypes, ValueRange inputs, ValueRange outputs,
          ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iters,
          function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, ValueRange)>
              body) {
    auto op = linalg::GenericOp::create(
        b, resultTypes, inputs, outputs, maps, iters,
        [&](OpBuilder &nb, Location loc, ValueRange args) {
          ImplicitLocOpBuilder ib(loc, nb);
          SmallVector<Value> results = body(ib, args);
          linalg::YieldOp::create(ib, results);
        });
    return SmallVector<Value>(op.getResults());
  }

  static SmallVector<utils::IteratorType> parallel(int64_t n) {
    return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
  }

  /// Elementwise map over tensors of one shape.
  Value map(ValueRange inputs, Type resultElem,
            function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> fn) {
    auto shape = cast<RankedTensorType>(inputs[0].getType()).getShape();
    int64_t n = shape.size();
    SmallVector<AffineMap> maps(inputs.size() + 1, b.getMultiDimIdentityMap(n));
    return generic({RankedTensorType::get(shape, resultElem)}, inputs,
                   {empty(shape, resultElem)}, maps, parallel(n),
                   [&](ImplicitLocOpBuilder &ib, ValueRange args) {
                     return SmallVector<Value>{fn(ib, args.drop_back())};
                   })[0];
  }

  /// [d0, d1, ...] -> [d0/b0, b0, d1/b1, b1, ...].
  Value expandBlocked(Value x, ArrayRef<int64_t> blocks) {
    auto t = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape;
    SmallVector<ReassociationIndices> re;
    for (auto [i, d] : llvm::enumerate(t.getShape())) {
      shape.push_back(d / blocks[i]);
      shape.push_back(blocks[i]);
      re.push_back({int64_t(2 * i), int64_t(2 * i + 1)});
    }
    return tensor::ExpandShapeOp::create(
        b, RankedTensorType::get(shape, t.getElementType()), x, re);
  }
  Value collapseBlocked(Value xb) {
    auto t = cast<RankedTensorType>(xb.getType());
    SmallVector<ReassociationIndices> re;
    for (int64_t i = 0; i < t.getRank() / 2; ++i)
      re.push_back({2 * i, 2 * i + 1});
    return tensor::CollapseShapeOp::create(b, xb, re);
  }
  /// Reshape between the canonical scale shape of `t` and the per-dimension
  /// block-count shape ([d_i / b_i]).
  Value scalesToBlockCounts(Value s, QTensorType t) {
    SmallVector<int64_t> counts = blockCounts(t);
    auto st = cast<RankedTensorType>(s.getType());
    if (st.getShape() == ArrayRef<int64_t>(counts))
      return s;
    SmallVector<ReassociationIndices> re;
    if (st.getRank() == 1)
      re.push_back(llvm::to_vector(llvm::seq<int64_t>(0, counts.size())));
    return tensor::ExpandShapeOp::create(
        b, RankedTensorType::get(counts, st.getElementType()), s, re);
  }
  Value scalesFromBlockCounts(Value s, QTensorType t) {
    SmallVector<int64_t> canon = t.getScaleShape();
    auto st = cast<RankedTensorType>(s.getType());
    if (st.getShape() == ArrayRef<int64_t>(canon))
      return s;
    SmallVector<ReassociationIndices> re;
    if (!canon.empty())
      re.push_back(llvm::to_vector(llvm::seq<int64_t>(0, st.getRank())));
    return tensor::CollapseShapeOp::create(
        b, RankedTensorType::get(canon, st.getElementType()), s, re);
  }
  static SmallVector<int64_t> blockCounts(QTensorType t) {
    SmallVector<int64_t> blocks = t.getBlockSizes(), counts;
    for (auto [d, bs] : llvm::zip_equal(t.getShape(), blocks))
      counts.push_back(d / bs);
    return counts;
  }

  /// Maps of the blocked iteration space (2n dims): identity, the block
  /// counts (even dims) and a scalar.
  AffineMap blockedIdentity(int64_t n) {
    return b.getMultiDimIdentityMap(2 * n);
  }
  AffineMap evenDims(int64_t n) {
    SmallVector<AffineExpr> e;
    for (int64_t i = 0; i < n; ++i)
      e.push_back(b.getAffineDimExpr(2 * i));
    return AffineMap::get(2 * n, 0, e, b.getContext());
  }
  AffineMap scalarMap(int64_t dims) {
    return AffineMap::get(dims, 0, {}, b.getContext());
  }
  static SmallVector<utils::IteratorType> blockedReduction(int64_t n) {
    SmallVector<utils::IteratorType> it;
    for (int64_t i = 0; i < n; ++i) {
      it.push_back(utils::IteratorType::parallel);
      it.push_back(utils::IteratorType::reduction);
    }
    return it;
  }

  /// Elementwise bitcast of a tensor.
  Value bitcast(Value x, Type elem) {
    if (cast<RankedTensorType>(x.getType()).getElementType() == elem)
      return x;
    return map({x}, elem, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
      return Value(arith::BitcastOp::create(ib, elem, a[0]));
    });
  }
};

//===----------------------------------------------------------------------===//
// Emitters
//===----------------------------------------------------------------------===//

/// One code per byte (low bits) -> packed codes (CodePacking.cpp).
Value packCodes(TensorBuilder &tb, Value codes, QTensorType t);

/// Packed codes -> one code per byte (low bits, high bits zero)
/// (CodePacking.cpp).
Value unpackCodes(TensorBuilder &tb, Value packed, QTensorType t);

/// quantize: float tensor -> lowered parts. `given` holds static parameters
/// (lowered types, canonical shapes) or nulls (QuantizeLowering.cpp).
Parts emitQuantize(TensorBuilder &tb, Value x, QTensorType t, Parts given);

/// dequantize: lowered parts -> tensor of the expressed type
/// (QuantizeLowering.cpp; GGUF block formats through emitGGUFDequantize).
Value emitDequantize(TensorBuilder &tb, Parts p, QTensorType t);

/// dequantize of a GGUF block format: its codes (llama.cpp's block
/// structs, row by row) -> tensor of the expressed type, bit for bit the
/// numerics library's dequantizer (GGUFDequantize.cpp).
Value emitGGUFDequantize(TensorBuilder &tb, Value codes, QTensorType t);

//===----------------------------------------------------------------------===//
// Patterns, per op family
//===----------------------------------------------------------------------===//

/// lowbit.quantize, lowbit.dequantize, lowbit.requantize.
void populateQuantizeLoweringPatterns(TypeConverter &converter,
                                      RewritePatternSet &patterns);

/// lowbit.qmatmul.
void populateQMatmulLoweringPatterns(TypeConverter &converter,
                                     RewritePatternSet &patterns);

/// lowbit.constant, lowbit.pack, lowbit.unpack.
void populatePartsLoweringPatterns(TypeConverter &converter,
                                   RewritePatternSet &patterns);

} // namespace mlir::lowbit::reference

#endif // LOWBIT_LIB_CONVERSION_LOWBITTOLINALG_REFERENCELOWERING_H
