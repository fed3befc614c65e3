//===- PrequantizedLinear.cpp - linear layers of pre-quantized weights ----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Builders.h (buildPrequantizedLinear) and docs/Import.md: a matrix of
// a GPTQ, AWQ or compressed-tensors checkpoint (Prequantized.cpp) as a
// `lowbit.constant` of its own codes, scales and zero points, times x by
// `lowbit.qmatmul {transpose_b}`.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <vector>

using namespace mlir;
using namespace mlir::lowbit::importer;
namespace lb = mlir::lowbit;

/// A parallel 2-D linalg.generic over [rows, n] with `input` read through
/// maps[0]; `body` returns the yielded value.
static Value
generic(ImplicitLocOpBuilder &b, Value input, Value init,
        ArrayRef<AffineMap> maps,
        function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> body) {
  auto par = utils::IteratorType::parallel;
  auto op = linalg::GenericOp::create(
      b, TypeRange{init.getType()}, ValueRange{input}, ValueRange{init}, maps,
      ArrayRef<utils::IteratorType>{par, par},
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        ImplicitLocOpBuilder ib(loc, nb);
        linalg::YieldOp::create(ib, body(ib, args));
      });
  return op.getResult(0);
}

/// The `!lowbit.qtensor` of a pre-quantized checkpoint's matrix [out, in]
/// (docs/Import.md): its element, f32 expressed, the checkpoint's scale
/// type, per group / channel / tensor as its blocks say.
static lb::QTensorType prequantizedType(MLIRContext *ctx, int64_t out,
                                        int64_t in, const QuantizedWeight &q) {
  Builder b(ctx);
  Type storage;
  bool symmetric = q.zeroPoints.empty();
  switch (q.element) {
  case QuantizedWeight::Element::UInt4:
    storage = IntegerType::get(ctx, 4, IntegerType::Unsigned);
    break;
  case QuantizedWeight::Element::UInt8:
    storage = IntegerType::get(ctx, 8, IntegerType::Unsigned);
    break;
  case QuantizedWeight::Element::Int4:
    storage = b.getIntegerType(4);
    break;
  case QuantizedWeight::Element::Int8:
    storage = b.getIntegerType(8);
    break;
  case QuantizedWeight::Element::F8E4M3FN:
    storage = b.getType<Float8E4M3FNType>();
    break;
  }
  Type scale = q.scale == QuantizedWeight::Scale::F16    ? b.getF16Type()
               : q.scale == QuantizedWeight::Scale::BF16 ? b.getBF16Type()
                                                         : b.getF32Type();
  // Signed codes use the whole range (compressed-tensors' -2^(b-1)).
  bool fullRange = symmetric && (q.element == QuantizedWeight::Element::Int4 ||
                                 q.element == QuantizedWeight::Element::Int8);
  lb::Granularity granularity = lb::Granularity::PerGroup;
  SmallVector<int64_t> axes{1}, sizes{q.blockCols};
  if (q.blockRows == out && q.blockCols == in) {
    granularity = lb::Granularity::PerTensor;
    axes.clear();
    sizes.clear();
  } else if (q.blockCols == in) {
    granularity = lb::Granularity::PerAxis;
    axes.clear();
    sizes.clear();
  }
  auto scheme = lb::SchemeAttr::get(
      ctx, storage, b.getF32Type(), granularity, 0, axes, sizes, symmetric,
      fullRange, /*ternary=*/false, scale, /*tensorScale=*/false,
      lb::Rounding::NearestEven, /*saturate=*/true, lb::GGUFKind::None);
  return lb::QTensorType::get(ctx, {out, in}, scheme);
}

Value mlir::lowbit::importer::buildPrequantizedLinear(ImplicitLocOpBuilder &b,
                                                      WeightConstants &w,
                                                      Value x, StringRef name,
                                                      const Weight &wt,
                                                      Location site) {
  MLIRContext *ctx = b.getContext();
  const QuantizedWeight &q = *wt.quant;
  int64_t out = wt.shape[0], in = wt.shape[1];
  int64_t rows = cast<RankedTensorType>(x.getType()).getDimSize(0);
  lb::QTensorType type = prequantizedType(ctx, out, in, q);
  auto part = [&](StringRef suffix, RankedTensorType t, const void *data,
                  size_t bytes, size_t align) -> ElementsAttr {
    // The parts live in the weight's QuantizedWeight: no copy.
    return w.blob((name + suffix).str(), t,
                  ArrayRef<char>((const char *)data, bytes), align,
                  /*copy=*/false, wt.quant);
  };
  ElementsAttr codes =
      part(".codes", type.getCodesType(), q.codes.data(), q.codes.size(), 1);
  // One scale (per tensor) is inline: passes read it as a scalar.
  RankedTensorType scalesType = type.getScalesType();
  ElementsAttr scales =
      scalesType.getRank() == 0
          ? ElementsAttr(DenseElementsAttr::getFromRawBuffer(
                scalesType,
                ArrayRef<char>((const char *)q.scales.data(), q.scales.size())))
          : part(".scales", scalesType, q.scales.data(), q.scales.size(), 4);
  ElementsAttr zeros;
  if (!q.zeroPoints.empty())
    zeros = part(".zero_points", type.getZeroPointsType(), q.zeroPoints.data(),
                 q.zeroPoints.size() * 4, 4);
  Value wq =
      lb::ConstantOp::create(b, type, codes, scales, zeros, ElementsAttr());
  // Act-order: column j holds input inputOrder[j], so x is permuted alike.
  if (!q.inputOrder.empty()) {
    std::vector<int32_t> order(q.inputOrder.begin(), q.inputOrder.end());
    Value perm = arith::ConstantOp::create(
        b, w.blob((name + ".input_order").str(),
                  RankedTensorType::get({in}, b.getI32Type()),
                  ArrayRef<char>((const char *)order.data(), in * 4), 4,
                  /*copy=*/true));
    AffineMap j = AffineMap::get(2, 0, {b.getAffineDimExpr(1)}, ctx);
    Value init =
        tensor::EmptyOp::create(b, ArrayRef<int64_t>{rows, in}, b.getF32Type());
    Value src = x;
    x = generic(b, perm, init, {j, b.getMultiDimIdentityMap(2)},
                [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                  Value i =
                      arith::IndexCastOp::create(ib, ib.getIndexType(), a[0]);
                  Value r = linalg::IndexOp::create(ib, uint64_t(0));
                  return tensor::ExtractOp::create(ib, src, ValueRange{r, i})
                      .getResult();
                });
  }
  return lb::QMatmulOp::create(
      b, site, RankedTensorType::get({rows, out}, b.getF32Type()), x, wq,
      /*transpose_b=*/true);
}
