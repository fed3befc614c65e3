//===- SplitOutliers.cpp - LLM.int8() outlier splitting -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Contractions.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Transforms/OperandScheme.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITSPLITOUTLIERS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;
namespace cal = ::lowbit::calibration;

namespace {

constexpr const char *kPass = "lowbit-split-outliers";

/// A zero-filled f32 accumulator of `shape`.
Value zeroInit(OpBuilder &b, Location loc, ArrayRef<int64_t> shape) {
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value e = tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
  return linalg::FillOp::create(b, loc, zero, e).getResult(0);
}

/// x where keep[j] (a per-last-dimension i1 vector), else 0.
Value maskColumns(OpBuilder &b, Location loc, Value x, Value keep,
                  bool keepWhenTrue) {
  auto xt = cast<RankedTensorType>(x.getType());
  int64_t rank = xt.getRank();
  SmallVector<AffineMap> maps{
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1)),
      b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value init = tensor::EmptyOp::create(b, loc, xt.getShape(), b.getF32Type());
  return linalg::GenericOp::create(
             b, loc, TypeRange{xt}, ValueRange{x, keep}, ValueRange{init}, maps,
             iters,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value zero =
                   arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.0f));
               Value r =
                   keepWhenTrue
                       ? arith::SelectOp::create(nb, l, args[1], args[0], zero)
                       : arith::SelectOp::create(nb, l, args[1], zero, args[0]);
               linalg::YieldOp::create(nb, l, r);
             })
      .getResult(0);
}

struct LowbitSplitOutliersPass
    : mlir::lowbit::impl::LowbitSplitOutliersBase<LowbitSplitOutliersPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (mode != "static" && mode != "dynamic") {
      func.emitError() << kPass << ": mode is static or dynamic, not '" << mode
                       << "'";
      return signalPassFailure();
    }
    std::vector<cal::SiteStats> stats;
    if (mode == "static") {
      if (calibration.empty()) {
        func.emitError() << kPass << ": mode=static needs calibration=DIR";
        return signalPassFailure();
      }
      nx::Status st = cal::readStatistics(calibration, stats, false);
      if (!st.ok()) {
        func.emitError() << kPass << ": " << st.message();
        return signalPassFailure();
      }
    }
    bool failedAny = false;
    forEachSiteInFunction(func, [&](Contraction &c, StringRef name) {
      if (failedAny || c.rank != 2 || !matchPattern(c.rhs, m_Constant()) ||
          !cast<RankedTensorType>(c.lhs.getType()).hasStaticShape() ||
          !cast<RankedTensorType>(c.lhs.getType()).getElementType().isF32() ||
          !cast<RankedTensorType>(c.rhs.getType()).getElementType().isF32())
        return;
      if (failed(split(c, name, stats)))
        failedAny = true;
    });
    if (failedAny)
      signalPassFailure();
  }

  LogicalResult split(Contraction &c, StringRef name,
                      const std::vector<cal::SiteStats> &stats) {
    Operation *op = c.op;
    Location loc = op->getLoc();
    auto xt = cast<RankedTensorType>(c.lhs.getType());
    auto wt = cast<RankedTensorType>(c.rhs.getType());
    auto yt = cast<RankedTensorType>(op->getResult(0).getType());
    const int64_t tokens = xt.getDimSize(0), k = xt.getDimSize(1);
    const int64_t n = wt.getDimSize(c.outAxis());
    auto emitError = [&]() {
      return op->emitOpError(kPass) << " (site '" << name << "'): ";
    };
    ElementsAttr wAttr;
    (void)matchPattern(c.rhs, m_Constant(&wAttr));
    FailureOr<std::vector<float>> w = readFloatElements(wAttr, emitError);
    if (failed(w))
      return failure();
    auto wAt = [&](int64_t j, int64_t o) -> float & {
      return c.transposeB ? (*w)[size_t(o * k + j)] : (*w)[size_t(j * n + o)];
    };
    OpBuilder b(op);
    Value regular, outlier;
    if (mode == "static") {
      const cal::SiteStats *site = nullptr;
      for (const cal::SiteStats &s : stats)
        if (s.name == name)
          site = &s;
      if (!site || site->channels != k)
        return emitError() << "no calibration statistics with " << k
                           << " channels in " << calibration;
      SmallVector<int64_t> outliers;
      SmallVector<bool> keep;
      for (int64_t j = 0; j < k; ++j) {
        bool o = site->absmax[size_t(j)] >= float(threshold);
        keep.push_back(!o);
        if (o)
          outliers.push_back(j);
      }
      // Outlier part: gathered columns of X times the gathered rows of W.
      if (!outliers.empty()) {
        SmallVector<Value> cols;
        for (int64_t j : outliers)
          cols.push_back(tensor::ExtractSliceOp::create(
              b, loc, c.lhs,
              ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(j)},
              ArrayRef<OpFoldResult>{b.getIndexAttr(tokens), b.getIndexAttr(1)},
              ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)}));
        Value xo = cols.size() == 1
                       ? cols[0]
                       : tensor::ConcatOp::create(b, loc, 1, cols).getResult();
        std::vector<float> wo;
        for (int64_t j : outliers)
          for (int64_t o = 0; o < n; ++o)
            wo.push_back(wAt(j, o));
        auto wot = RankedTensorType::get({int64_t(outliers.size()), n},
                                         b.getF32Type());
        Value woc = arith::ConstantOp::create(
            b, loc, wot, DenseElementsAttr::get(wot, ArrayRef<float>(wo)));
        auto omm = linalg::MatmulOp::create(
            b, loc, TypeRange{yt}, ValueRange{xo, woc},
            ValueRange{zeroInit(b, loc, yt.getShape())});
        // The f32 outlier product is not a quantization site.
        omm->setAttr(kNotASite, b.getUnitAttr());
        outlier = omm.getResult(0);
        for (int64_t j : outliers)
          for (int64_t o = 0; o < n; ++o)
            wAt(j, o) = 0.0f;
      }
      auto mt = RankedTensorType::get({k}, b.getI1Type());
      Value mask = arith::ConstantOp::create(
          b, loc, mt, DenseElementsAttr::get(mt, ArrayRef<bool>(keep)));
      regular = maskColumns(b, loc, c.lhs, mask, /*keepWhenTrue=*/true);
    } else {
      // Dynamic: column max |X| over this call's tokens decides.
      auto ct = RankedTensorType::get({k}, b.getF32Type());
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
      Value colEmpty =
          tensor::EmptyOp::create(b, loc, ct.getShape(), b.getF32Type());
      Value colInit =
          linalg::FillOp::create(b, loc, zero, colEmpty).getResult(0);
      SmallVector<AffineMap> rmaps{b.getMultiDimIdentityMap(2),
                                   AffineMap::get(2, 0, b.getAffineDimExpr(1))};
      Value colMax =
          linalg::GenericOp::create(
              b, loc, TypeRange{ct}, ValueRange{c.lhs}, ValueRange{colInit},
              rmaps,
              {utils::IteratorType::reduction, utils::IteratorType::parallel},
              [](OpBuilder &nb, Location l, ValueRange args) {
                Value a = math::AbsFOp::create(nb, l, args[0]);
                Value m = arith::MaximumFOp::create(nb, l, args[1], a);
                linalg::YieldOp::create(nb, l, m);
              })
              .getResult(0);
      auto mt = RankedTensorType::get({k}, b.getI1Type());
      Value thr = arith::ConstantOp::create(
          b, loc, b.getF32FloatAttr(float(threshold)));
      Value isOut = linalg::GenericOp::create(
                        b, loc, TypeRange{mt}, ValueRange{colMax},
                        ValueRange{tensor::EmptyOp::create(
                            b, loc, mt.getShape(), b.getI1Type())},
                        SmallVector<AffineMap>{b.getMultiDimIdentityMap(1),
                                               b.getMultiDimIdentityMap(1)},
                        {utils::IteratorType::parallel},
                        [&](OpBuilder &nb, Location l, ValueRange args) {
                          Value ge = arith::CmpFOp::create(
                              nb, l, arith::CmpFPredicate::OGE, args[0], thr);
                          linalg::YieldOp::create(nb, l, ge);
                        })
                        .getResult(0);
      regular = maskColumns(b, loc, c.lhs, isOut, /*keepWhenTrue=*/false);
      Value xo = maskColumns(b, loc, c.lhs, isOut, /*keepWhenTrue=*/true);
      // The outlier product: the original contraction on the masked X.
      Value init = zeroInit(b, loc, yt.getShape());
      Operation *clone = b.clone(*op);
      clone->setOperand(0, xo);
      clone->setOperand(2, init);
      clone->setAttr(kNotASite, b.getUnitAttr());
      outlier = clone->getResult(0);
    }
    // Regular part: int8 product of the masked X and W (without the
    // outlier rows when they are known statically).
    Value wReg =
        mode == "static"
            ? arith::ConstantOp::create(
                  b, loc, wt, DenseElementsAttr::get(wt, ArrayRef<float>(*w)))
                  .getResult()
            : c.rhs;
    auto schemeError = [&] { return op->emitOpError(kPass) << ": "; };
    FailureOr<OperandScheme> xScheme =
        OperandScheme::parse(op->getContext(), activationScheme, schemeError);
    FailureOr<OperandScheme> wScheme =
        OperandScheme::parse(op->getContext(), weightScheme, schemeError);
    if (failed(xScheme) || failed(wScheme))
      return failure();
    FailureOr<Value> qx =
        quantizeOperand(b, op, regular, *xScheme, 1, 0, kPass);
    FailureOr<Value> qw =
        quantizeOperand(b, op, wReg, *wScheme, c.inAxis(), c.outAxis(), kPass);
    if (failed(qx) || failed(qw))
      return failure();
    Value y = QMatmulOp::create(b, loc, yt, *qx, *qw, c.transposeB).getResult();
    if (outlier)
      y = arith::AddFOp::create(b, loc, y, outlier);
    op->getResult(0).replaceAllUsesWith(y);
    Operation *old = c.rhs.getDefiningOp();
    op->erase();
    if (old && old->use_empty())
      old->erase();
    return success();
  }
};

} // namespace
