//===- Attention.cpp - a decoder step's attention ------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Builders.h (buildAttention) and docs/Import.md: grouped-query
// attention over the filled blocks of the KV cache, sliding windows, and
// the f16 cache's roundings (llama.cpp's default cache).
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "IRUtils.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>

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

/// A tensor of f32 of `sizes`, some of them values.
static Value emptyF32(ImplicitLocOpBuilder &b, ArrayRef<OpFoldResult> sizes) {
  return tensor::EmptyOp::create(b, sizes, b.getF32Type());
}

/// The attention of KV head `head`'s group of query heads, q [R, G, hd]
/// for the step's R rows at positions pos + r, over layer `layer` of
/// `cache` (buildAttention): [R, G, hd].
static Value attendHead(ImplicitLocOpBuilder &b, const StepValues &v, Value q,
                        KVCache &cache, int64_t layer, Value head,
                        int64_t group, int64_t hd, int64_t window, bool half,
                        bool scaleScores) {
  MLIRContext *ctx = b.getContext();
  int64_t bs = cache.blockSize(), rows = v.rows;
  // Position t is attended by row r when t <= pos + r and, with a window,
  // when t > pos + r - window (the last `window` positions).
  Value cWindow = window > 0
                      ? arith::ConstantIndexOp::create(b, window).getResult()
                      : Value();
  auto masked = [&](ImplicitLocOpBuilder &ib, Value t, Value r) -> Value {
    Value at = arith::AddIOp::create(ib, v.pos, r);
    Value late = arith::CmpIOp::create(ib, arith::CmpIPredicate::ugt, t, at);
    if (!cWindow)
      return late;
    Value reach = arith::AddIOp::create(ib, t, cWindow);
    Value early =
        arith::CmpIOp::create(ib, arith::CmpIPredicate::ule, reach, at);
    return arith::OrIOp::create(ib, late, early);
  };
  // The blocks that hold attended positions: [first, end), multiples of
  // the block size (the first row's first to the last row's last). The
  // positions outside a row's own would add exact zeros to its sums below
  // and leave its maximum as it is: every row gets what a decode step at
  // its position computes.
  Value cB = arith::ConstantIndexOp::create(b, bs);
  Value lowest = v.c0;
  if (cWindow) {
    Value n = arith::AddIOp::create(b, v.pos, v.c1);
    Value over =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, n, cWindow);
    Value past = arith::SubIOp::create(b, n, cWindow);
    lowest = arith::SelectOp::create(b, over, past, v.c0);
  }
  Value first =
      cWindow ? arith::MulIOp::create(
                    b, arith::DivUIOp::create(b, lowest, cB).getResult(), cB)
              : v.c0;
  Value last = v.pos;
  if (rows > 1)
    last = arith::AddIOp::create(
        b, v.pos, arith::ConstantIndexOp::create(b, rows - 1).getResult());
  Value end = arith::MulIOp::create(
      b,
      arith::AddIOp::create(b, arith::DivUIOp::create(b, last, cB), v.c1)
          .getResult(),
      cB);
  Value count = arith::SubIOp::create(b, end, first);
  OpFoldResult cR = b.getIndexAttr(rows), cG = b.getIndexAttr(group),
               cBs = b.getIndexAttr(bs), zero = b.getIndexAttr(0),
               one = b.getIndexAttr(1);

  // Scores, a block of keys at a time, scaled and masked, into a buffer of
  // the attended blocks' positions.
  RankedTensorType blockType = f32Type(b, {rows, group, bs});
  auto dotBody = [](ImplicitLocOpBuilder &ib, ValueRange a) {
    Value m = arith::MulFOp::create(ib, a[0], a[1]);
    return arith::AddFOp::create(ib, a[2], m).getResult();
  };
  Value scoresInit = emptyF32(b, {cR, cG, count});
  auto scores = scf::ForOp::create(
      b, first, end, cB, ValueRange{scoresInit},
      [&](OpBuilder &ob, Location loc, Value start, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, ob);
        Value keys = cache.block(ib, /*key=*/true, layer, start, head);
        // The block's scores computed in place in the buffer (no copy).
        Value at = arith::SubIOp::create(ib, start, first);
        Value slot = tensor::ExtractSliceOp::create(
            ib, blockType, iter[0], ArrayRef<OpFoldResult>{zero, zero, at},
            ArrayRef<OpFoldResult>{cR, cG, cBs},
            ArrayRef<OpFoldResult>{one, one, one});
        Value sInit = fill(ib, v.zero, slot);
        // Loops (row, group, head element, position): each score's sum
        // over the head in order, the block's positions innermost and
        // contiguous (keys [1, HD, B]), so that they vectorize; the rows
        // share each block of keys.
        Value s = generic(ib, {q, keys}, sInit,
                          {mapOf(ctx, 4, {0, 1, 2}), mapOf(ctx, 4, {-1, 2, 3}),
                           mapOf(ctx, 4, {0, 1, 3})},
                          {kPar, kPar, kRed, kPar}, dotBody);
        Value sm = generic(
            ib, {}, s, {mapOf(ctx, 3, {0, 1, 2})}, {kPar, kPar, kPar},
            [&](ImplicitLocOpBuilder &gb, ValueRange a) {
              Value r = linalg::IndexOp::create(gb, uint64_t(0));
              Value t = arith::AddIOp::create(
                  gb, start, linalg::IndexOp::create(gb, uint64_t(2)));
              Value sc =
                  scaleScores
                      ? arith::MulFOp::create(gb, a[0], v.scale).getResult()
                      : a[0];
              return arith::SelectOp::create(gb, masked(gb, t, r), v.negInf, sc)
                  .getResult();
            });
        Value filled = tensor::InsertSliceOp::create(
            ib, sm, iter[0], ArrayRef<OpFoldResult>{zero, zero, at},
            ArrayRef<OpFoldResult>{cR, cG, cBs},
            ArrayRef<OpFoldResult>{one, one, one});
        scf::YieldOp::create(ib, filled);
      });
  Value sm = scores.getResult(0);

  // Softmax over the attended blocks' positions.
  RankedTensorType mType = f32Type(b, {rows, group});
  Value mEmpty = empty(b, mType);
  Value mInit = fill(b, v.negInf, mEmpty);
  Value mx =
      generic(b, {sm}, mInit, {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1})},
              {kPar, kPar, kRed}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
                return arith::MaximumFOp::create(ib, a[1], a[0]).getResult();
              });
  Value pr =
      generic(b, {sm, mx}, emptyF32(b, {cR, cG, count}),
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
    Value oneF = arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f));
    pr = generic(
        b, {pr, sum}, emptyF32(b, {cR, cG, count}),
        {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1}),
         mapOf(ctx, 3, {0, 1, 2})},
        {kPar, kPar, kPar}, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value r = arith::DivFOp::create(ib, oneF, a[1]);
          Value p = arith::MulFOp::create(ib, a[0], r);
          Value h = arith::TruncFOp::create(ib, ib.getF16Type(), p);
          return arith::ExtFOp::create(ib, ib.getF32Type(), h).getResult();
        });
  }

  // The values' weighted sum, a block of values at a time, each position's
  // term added in order: the positions are the third loop and the head's
  // elements the innermost, which reads the values contiguously and
  // vectorizes.
  RankedTensorType oType = f32Type(b, {rows, group, hd});
  Value oEmpty = empty(b, oType);
  Value oInit = fill(b, v.zero, oEmpty);
  int tDim = 2, dDim = 3;
  auto weighted = scf::ForOp::create(
      b, first, end, cB, ValueRange{oInit},
      [&](OpBuilder &ob, Location loc, Value start, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, ob);
        Value values = cache.block(ib, /*key=*/false, layer, start, head);
        Value at = arith::SubIOp::create(ib, start, first);
        Value p = tensor::ExtractSliceOp::create(
            ib, blockType, pr, ArrayRef<OpFoldResult>{zero, zero, at},
            ArrayRef<OpFoldResult>{cR, cG, cBs},
            ArrayRef<OpFoldResult>{one, one, one});
        Value o = generic(
            ib, {p, values}, iter[0],
            {mapOf(ctx, 4, {0, 1, tDim}), mapOf(ctx, 4, {tDim, -1, dDim}),
             mapOf(ctx, 4, {0, 1, dDim})},
            {kPar, kPar, kRed, kPar},
            [&](ImplicitLocOpBuilder &gb, ValueRange a) {
              // Positions not attended add nothing, whatever the cache
              // holds there (0 * NaN would not be 0).
              Value r = linalg::IndexOp::create(gb, uint64_t(0));
              Value t = arith::AddIOp::create(
                  gb, start, linalg::IndexOp::create(gb, uint64_t(tDim)));
              Value m = arith::MulFOp::create(gb, a[0], a[1]);
              Value mm =
                  arith::SelectOp::create(gb, masked(gb, t, r), v.zero, m);
              return arith::AddFOp::create(gb, a[2], mm).getResult();
            });
        scf::YieldOp::create(ib, o);
      });
  Value o = weighted.getResult(0);
  if (half) // normalized before the product
    return o;
  Value on =
      generic(b, {o, sum}, oEmpty,
              {mapOf(ctx, 3, {0, 1, 2}), mapOf(ctx, 3, {0, 1}),
               mapOf(ctx, 3, {0, 1, 2})},
              {kPar, kPar, kPar}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
                return arith::DivFOp::create(ib, a[0], a[1]).getResult();
              });
  return on;
}

Value mlir::lowbit::importer::buildAttention(ImplicitLocOpBuilder &b,
                                             const StepValues &v, Value q,
                                             KVCache &cache, int64_t layer,
                                             int64_t heads, int64_t kvHeads,
                                             int64_t headDim, int64_t window,
                                             bool scaleQueriesFirst) {
  int64_t group = heads / kvHeads, hd = headDim;
  // An f16 cache: the dot products' other operands (q, then the
  // probabilities) rounded to f16 too, all operands then exact in f32, so
  // that the products are those of f16 operands and the sums f32.
  bool half = cache.isHalf();
  bool scaleScores = !(half && scaleQueriesFirst);
  if (half) {
    // q rounded before the reshape, which keeps the rounding out of the
    // scores' loop (elementwise fusion).
    q = roundThroughF16(b, scaleScores ? q : scaleBy(b, q, v.scale));
  }
  // q as [rows, KV heads, group, hd]: head h = g * group + r uses KV
  // head g.
  int64_t rows = v.rows;
  Value q4 = expandShape(b, q, {rows, kvHeads, group, hd}, {{0}, {1, 2}, {3}});
  // The KV heads' attention, and a prefill step's blocks of rows, on
  // threads (scf.forall, then OpenMP): each task reads only its head's
  // keys and values. The results go to [KV, row blocks, rows of a block,
  // group, hd], where each task's part is contiguous.
  int64_t rowBlock = 1;
  for (int64_t d = std::min<int64_t>(rows, 16); d >= 1; --d)
    if (rows % d == 0) {
      rowBlock = d;
      break;
    }
  int64_t rowBlocks = rows / rowBlock;
  RankedTensorType oType =
      f32Type(b, {kvHeads, rowBlocks, rowBlock, group, hd});
  auto forall = scf::ForallOp::create(
      b, ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(kvHeads),
                             b.getIndexAttr(rowBlocks)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)},
      ValueRange{empty(b, oType)}, std::nullopt,
      [&](OpBuilder &ob, Location loc, ValueRange args) {
        ImplicitLocOpBuilder fb(loc, ob);
        Value head = args[0];
        OpFoldResult zero = fb.getIndexAttr(0), one = fb.getIndexAttr(1);
        // This block's rows: rowBlock rows from row r0, at positions
        // pos + r0...
        Value r0 = args[1];
        StepValues bv = v;
        bv.rows = rowBlock;
        if (rowBlocks > 1) {
          r0 = arith::MulIOp::create(
              fb, args[1], arith::ConstantIndexOp::create(fb, rowBlock));
          bv.pos = arith::AddIOp::create(fb, v.pos, r0);
        }
        Value qh = tensor::ExtractSliceOp::create(
            fb, f32Type(fb, {rowBlock, group, hd}), q4,
            ArrayRef<OpFoldResult>{r0, head, zero, zero},
            ArrayRef<OpFoldResult>{fb.getIndexAttr(rowBlock), one,
                                   fb.getIndexAttr(group), fb.getIndexAttr(hd)},
            SmallVector<OpFoldResult>(4, one));
        Value o = attendHead(fb, bv, qh, cache, layer, head, group, hd, window,
                             half, scaleScores);
        auto par = scf::InParallelOp::create(fb);
        fb.setInsertionPointToStart(par.getBody());
        tensor::ParallelInsertSliceOp::create(
            fb, o, args[2],
            ArrayRef<OpFoldResult>{head, args[1], zero, zero, zero},
            ArrayRef<OpFoldResult>{one, one, fb.getIndexAttr(rowBlock),
                                   fb.getIndexAttr(group), fb.getIndexAttr(hd)},
            SmallVector<OpFoldResult>(5, one));
      });
  Value out = forall.getResult(0);
  if (rows == 1) // [KV, 1, 1, group, hd] is [1, H * hd] already
    return expandShape(b, collapseShape(b, out, {{0, 1, 2, 3, 4}}),
                       {1, heads * hd}, {{0, 1}});
  Value byRow =
      linalg::TransposeOp::create(
          b, out,
          empty(b, f32Type(b, {rowBlocks, rowBlock, kvHeads, group, hd})),
          ArrayRef<int64_t>{1, 2, 0, 3, 4})
          .getResult()[0];
  return collapseShape(b, byRow, {{0, 1}, {2, 3, 4}});
}
