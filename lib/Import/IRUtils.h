//===- IRUtils.h - small IR builders of the importer ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The linalg / tensor shorthands that Builders.cpp, Attention.cpp and
// KVCache.cpp build decoder steps with.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_IRUTILS_H
#define LOWBIT_LIB_IMPORT_IRUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/Support/FormatVariadic.h"

namespace mlir::lowbit::importer::ir {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

inline RankedTensorType f32Type(OpBuilder &b, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, b.getF32Type());
}

/// An affine map of `dims` dimensions onto `results` (dimension numbers;
/// -1 is the constant 0).
inline AffineMap mapOf(MLIRContext *ctx, unsigned dims, ArrayRef<int> results) {
  SmallVector<AffineExpr> exprs;
  for (int r : results)
    exprs.push_back(r < 0 ? getAffineConstantExpr(0, ctx)
                          : getAffineDimExpr(r, ctx));
  return AffineMap::get(dims, 0, exprs, ctx);
}

inline Value empty(ImplicitLocOpBuilder &b, RankedTensorType type) {
  return tensor::EmptyOp::create(b, type.getShape(), type.getElementType());
}

inline Value fill(ImplicitLocOpBuilder &b, Value value, Value init) {
  return linalg::FillOp::create(b, value, init).getResult(0);
}

/// A linalg.generic with one result of `init`'s type; `body` builds the
/// region from its block arguments and returns the yielded value.
inline Value
generic(ImplicitLocOpBuilder &b, ValueRange inputs, Value init,
        ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
        function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> body) {
  auto op = linalg::GenericOp::create(
      b, TypeRange{init.getType()}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        ImplicitLocOpBuilder ib(loc, nb);
        linalg::YieldOp::create(ib, body(ib, args));
      });
  return op.getResult(0);
}

inline Value expandShape(ImplicitLocOpBuilder &b, Value x,
                         ArrayRef<int64_t> shape,
                         ArrayRef<ReassociationIndices> groups) {
  auto type = RankedTensorType::get(
      shape, cast<RankedTensorType>(x.getType()).getElementType());
  return tensor::ExpandShapeOp::create(b, type, x, groups);
}

inline Value collapseShape(ImplicitLocOpBuilder &b, Value x,
                           ArrayRef<ReassociationIndices> groups) {
  return tensor::CollapseShapeOp::create(b, x, groups);
}

/// An f32 constant of `x` with 7 significant digits: the value the
/// importer has always given its scalar constants (it wrote them as text
/// with "%e"), kept so that imported modules compute what they did.
inline Value f32Scalar(ImplicitLocOpBuilder &b, double x) {
  std::string text = llvm::formatv("{0:e}", x).str();
  double parsed = 0;
  (void)StringRef(text).getAsDouble(parsed);
  return arith::ConstantOp::create(b, b.getF32FloatAttr(float(parsed)));
}

} // namespace mlir::lowbit::importer::ir

#endif // LOWBIT_LIB_IMPORT_IRUTILS_H
