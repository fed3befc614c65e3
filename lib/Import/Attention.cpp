//===- Attention.cpp - a decoder step's attention ------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Builders.h (buildAttention) and docs/Import.md: grouped-query
// attention over the KV cache, sliding windows, and the f16 cache's
// roundings (llama.cpp's default cache).
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "IRUtils.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::lowbit::importer;
using namespace mlir::lowbit::importer::ir;

Value mlir::lowbit::importer::buildRoundToF16(ImplicitLocOpBuilder &b,
                                              Value x) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  auto rank = unsigned(type.getRank());
  SmallVector<int> dims;
  for (unsigned i = 0; i < rank; ++i)
    dims.push_back(int(i));
  Value init = tensor::EmptyOp::create(b, type.getShape(), b.getF16Type());
  return generic(
      b, {x}, init, {mapOf(ctx, rank, dims), mapOf(ctx, rank, dims)},
      SmallVector<IteratorType>(rank, kPar),
      [](ImplicitLocOpBuilder &ib, ValueRange a) {
        return arith::TruncFOp::create(ib, ib.getF16Type(), a[0]).getResult();
      });
}

/// x (3-D f32) rounded to f16 and back to f32, elementwise.
static Value roundThroughF16(ImplicitLocOpBuilder &b, Value x) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  return generic(
      b, {x}, empty(b, type),
      {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1, 2})}, {kPar, kPar, kPar},
      [](ImplicitLocOpBuilder &ib, ValueRange a) {
        Value h = arith::TruncFOp::create(ib, ib.getF16Type(), a[0]);
        return arith::ExtFOp::create(ib, ib.getF32Type(), h).getResult();
      });
}

/// x (f16) as f32 (exact): a `linalg.copy`, which elementwise fusion
/// leaves apart from its consumer, so that the conversion is one
/// vectorized loop rather than a step of the consumer's reduction.
static Value copyToF32(ImplicitLocOpBuilder &b, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  Value init = empty(b, f32Type(b, type.getShape()));
  return linalg::CopyOp::create(b, x, init).getResult(0);
}

/// x (3-D) times the f32 scalar `scale`, elementwise.
static Value scaleBy(ImplicitLocOpBuilder &b, Value x, Value scale) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  return generic(b, {x}, empty(b, type),
                 {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1, 2})},
                 {kPar, kPar, kPar},
                 [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                   return arith::MulFOp::create(ib, a[0], scale).getResult();
                 });
}

Value mlir::lowbit::importer::buildAttention(ImplicitLocOpBuilder &b,
                                             const StepValues &v, Value q,
                                             Value keys, Value values,
                                             int64_t heads, int64_t kvHeads,
                                             int64_t headDim, int64_t window,
                                             bool scaleQueriesFirst) {
  MLIRContext *ctx = b.getContext();
  int64_t group = heads / kvHeads, hd = headDim;
  auto keysType = cast<RankedTensorType>(keys.getType());
  int64_t tokens = keysType.getDimSize(0);
  // An f16 cache: the dot products' other operands (q, then the
  // probabilities) rounded to f16 too, all operands then exact in f32, so
  // that the products are those of f16 operands and the sums f32.
  bool half = keysType.getElementType().isF16();
  bool scaleScores = !(half && scaleQueriesFirst);
  if (half) {
    // q rounded before the reshape, which keeps the rounding out of the
    // scores' loop (elementwise fusion).
    q = roundThroughF16(b, scaleScores ? q : scaleBy(b, q, v.scale));
    keys = copyToF32(b, keys);
    values = copyToF32(b, values);
  }
  // q as [KV heads, group, hd]: head h = g * group + r uses KV head g.
  Value q2 = collapseShape(b, q, {{0, 1}, {2}});
  Value q3 = expandShape(b, q2, {kvHeads, group, hd}, {{0, 1}, {2}});
  RankedTensorType sType = f32Type(b, {kvHeads, group, tokens}),
                   mType = f32Type(b, {kvHeads, group});
  auto dotBody = [](ImplicitLocOpBuilder &ib, ValueRange a) {
    Value m = arith::MulFOp::create(ib, a[0], a[1]);
    return arith::AddFOp::create(ib, a[2], m).getResult();
  };
  Value sInit = fill(b, v.zero, empty(b, sType));
  Value s = generic(b, {q3, keys}, sInit,
                    {mapOf(ctx, 4, {0, 1, 3}), mapOf(ctx, 4, {2, 0, 3}),
                     mapOf(ctx, 4, {0, 1, 2})},
                    {kPar, kPar, kPar, kRed}, dotBody);
  // Position t is attended when t <= pos and, with a window, when
  // t > pos - window (the last `window` positions).
  Value cWindow = window > 0
                      ? arith::ConstantIndexOp::create(b, window).getResult()
                      : Value();
  auto masked = [&](ImplicitLocOpBuilder &ib, Value t) -> Value {
    Value late = arith::CmpIOp::create(ib, arith::CmpIPredicate::ugt, t, v.pos);
    if (!cWindow)
      return late;
    Value reach = arith::AddIOp::create(ib, t, cWindow);
    Value early =
        arith::CmpIOp::create(ib, arith::CmpIPredicate::ule, reach, v.pos);
    return arith::OrIOp::create(ib, late, early);
  };
  // Scale, and mask the positions not attended.
  Value sm =
      generic(b, {}, s, {mapOf(ctx, 3, {0, 1, 2})}, {kPar, kPar, kPar},
              [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                Value t = linalg::IndexOp::create(ib, uint64_t(2));
                Value sc =
                    scaleScores
                        ? arith::MulFOp::create(ib, a[0], v.scale).getResult()
                        : a[0];
                return arith::SelectOp::create(ib, masked(ib, t), v.negInf, sc)
                    .getResult();
              });
  Value mEmpty = empty(b, mType);
  Value mInit = fill(b, v.negInf, mEmpty);
  Value mx =
      generic(b, {sm}, mInit, {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1})},
              {kPar, kPar, kRed}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
                return arith::MaximumFOp::create(ib, a[1], a[0]).getResult();
              });
  Value pInit = empty(b, sType);
  Value pr =
      generic(b, {sm, mx}, pInit,
              {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1}),
               mapOf(ctx, 3, {0, 1, 2})},
              {kPar, kPar, kPar}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
                Value d = arith::SubFOp::create(ib, a[0], a[1]);
                return math::ExpOp::create(ib, d).getResult();
              });
  Value sumInit = fill(b, v.zero, mEmpty);
  Value sum = generic(
      b, {pr}, sumInit, {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1})},
      {kPar, kPar, kRed}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
        return arith::AddFOp::create(ib, a[1], a[0]).getResult();
      });
  if (half) {
    // llama.cpp's softmax: the probabilities times 1 / sum, rounded to f16
    // for the product with the values.
    Value one = arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f));
    pr = generic(
        b, {pr, sum}, empty(b, sType),
        {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1}),
         mapOf(ctx, 3, {0, 1, 2})},
        {kPar, kPar, kPar}, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value r = arith::DivFOp::create(ib, one, a[1]);
          Value p = arith::MulFOp::create(ib, a[0], r);
          Value h = arith::TruncFOp::create(ib, ib.getF16Type(), p);
          return arith::ExtFOp::create(ib, ib.getF32Type(), h).getResult();
        });
  }
  RankedTensorType oType = f32Type(b, {kvHeads, group, hd});
  Value oEmpty = empty(b, oType);
  Value oInit = fill(b, v.zero, oEmpty);
  // With an f16 cache the positions are the third loop and the head's
  // elements the innermost, which reads the values contiguously (the same
  // sums, in the same order).
  int tDim = half ? 2 : 3, dDim = half ? 3 : 2;
  Value o =
      generic(b, {pr, values}, oInit,
              {mapOf(ctx, 4, {0, 1, tDim}), mapOf(ctx, 4, {tDim, 0, dDim}),
               mapOf(ctx, 4, {0, 1, dDim})},
              {kPar, kPar, half ? kRed : kPar, half ? kPar : kRed},
              [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                // Positions not attended add nothing, whatever the cache holds
                // there (0 * NaN would not be 0).
                Value t = linalg::IndexOp::create(ib, uint64_t(tDim));
                Value m = arith::MulFOp::create(ib, a[0], a[1]);
                Value mm =
                    arith::SelectOp::create(ib, masked(ib, t), v.zero, m);
                return arith::AddFOp::create(ib, a[2], mm).getResult();
              });
  if (half) // normalized before the product
    return expandShape(b, collapseShape(b, o, {{0, 1, 2}}), {1, heads * hd},
                       {{0, 1}});
  Value on =
      generic(b, {o, sum}, oEmpty,
              {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1}),
               mapOf(ctx, 3, {0, 1, 2})},
              {kPar, kPar, kPar}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
                return arith::DivFOp::create(ib, a[0], a[1]).getResult();
              });
  Value flat = collapseShape(b, on, {{0, 1, 2}});
  return expandShape(b, flat, {1, heads * hd}, {{0, 1}});
}
