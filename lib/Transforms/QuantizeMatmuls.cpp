//===- QuantizeMatmuls.cpp - linalg.matmul -> lowbit.qmatmul ----*- C++ -*-===//
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
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITQUANTIZEMATMULS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

FailureOr<Value> mlir::lowbit::quantizeOperand(OpBuilder &b, Operation *op,
                                               Value v, const OperandScheme &s,
                                               int64_t inAxis, int64_t outAxis,
                                               StringRef passName) {
  auto t = cast<RankedTensorType>(v.getType());
  auto emitError = [&] { return op->emitOpError(passName) << ": "; };
  SchemeAttr scheme = s.resolve(op->getContext(), t.getElementType(), inAxis,
                                outAxis, t.getRank(), emitError);
  if (!scheme)
    return failure();
  auto qt = QTensorType::getChecked(emitError, op->getContext(), t.getShape(),
                                    scheme);
  if (!qt)
    return failure();
  return QuantizeOp::create(b, op->getLoc(), qt, v, Value(), Value(), Value())
      .getResult();
}

namespace {
struct LowbitQuantizeMatmulsPass
    : mlir::lowbit::impl::LowbitQuantizeMatmulsBase<LowbitQuantizeMatmulsPass> {
  using Base::Base;

  /// The schemes as values, when a pipeline built the pass from them;
  /// otherwise the options' text is parsed where it is used, so that
  /// errors point at a site.
  std::optional<OperandScheme> weights, activations;

  FailureOr<OperandScheme> schemeOf(const std::optional<OperandScheme> &value,
                                    StringRef text, Operation *op,
                                    StringRef prefix) {
    if (value)
      return *value;
    return OperandScheme::parse(op->getContext(), text, [&] {
      return op->emitOpError(prefix) << ": ";
    });
  }

  std::vector<::lowbit::calibration::SiteStats> stats;

  /// Activations quantized with a static per-tensor range from the
  /// calibration statistics: the scale (and zero point) are what the
  /// library computes for a tensor holding just [lo, hi].
  FailureOr<Value> quantizeStatic(OpBuilder &b, Operation *op, Value x,
                                  StringRef name) {
    const char *pass = "lowbit-quantize-matmuls";
    auto emitError = [&]() {
      return op->emitOpError(pass) << " (site '" << name << "'): ";
    };
    FailureOr<OperandScheme> scheme =
        schemeOf(activations, activationScheme, op, pass);
    if (failed(scheme))
      return failure();
    FailureOr<Value> dyn = quantizeOperand(b, op, x, *scheme, 1, 0, pass);
    if (failed(dyn))
      return failure();
    auto q = dyn->getDefiningOp<QuantizeOp>();
    QTensorType qt = q.getResult().getType();
    if (qt.getScheme().getGranularity() != Granularity::PerTensor) {
      emitError() << "static activation ranges need a per_tensor activation "
                     "scheme";
      return failure();
    }
    const ::lowbit::calibration::SiteStats *site = nullptr;
    for (const auto &st : stats)
      if (st.name == name)
        site = &st;
    if (!site) {
      emitError() << "no calibration statistics in " << activationCalibration;
      return failure();
    }
    ::lowbit::calibration::RangeMethod m;
    if (activationRange == "minmax")
      m = ::lowbit::calibration::RangeMethod::MinMax;
    else if (activationRange == "avg-minmax")
      m = ::lowbit::calibration::RangeMethod::AvgMinMax;
    else if (activationRange == "percentile")
      m = ::lowbit::calibration::RangeMethod::Percentile;
    else if (activationRange == "mse")
      m = ::lowbit::calibration::RangeMethod::MSE;
    else {
      emitError() << "activation-range is minmax, avg-minmax, percentile or "
                     "mse, not '"
                  << activationRange << "'";
      return failure();
    }
    unsigned bits =
        qt.getScheme().isInteger() ? qt.getScheme().getStorageWidth() : 8;
    float lo, hi;
    nx::Status st = ::lowbit::calibration::activationRange(*site, m, percentile,
                                                           bits, lo, hi);
    FailureOr<nx::Scheme> ns =
        st.ok() ? toNumericsScheme(
                      QTensorType::get(op->getContext(), {2}, qt.getScheme()),
                      emitError)
                : FailureOr<nx::Scheme>(failure());
    if (!st.ok()) {
      emitError() << st.message();
      return failure();
    }
    if (failed(ns))
      return failure();
    float range[2] = {lo, hi};
    nx::QTensor params;
    st = nx::quantize(range, {2}, *ns, params);
    if (!st.ok()) {
      emitError() << st.message();
      return failure();
    }
    // The rank-0 scale (and zero point) as constants of the part types.
    Location loc = op->getLoc();
    RankedTensorType scaleType = qt.getScalesType();
    Value scale = arith::ConstantOp::create(
        b, loc, scaleType,
        DenseElementsAttr::getFromRawBuffer(
            scaleType,
            ArrayRef<char>(reinterpret_cast<const char *>(params.scales.data()),
                           params.scales.size())));
    Value zp;
    if (RankedTensorType zt = qt.getZeroPointsType())
      zp = arith::ConstantOp::create(
          b, loc, zt, DenseElementsAttr::get(zt, params.zeroPoints[0]));
    Value r = QuantizeOp::create(b, loc, qt, x, scale, zp, Value()).getResult();
    q.erase();
    return r;
  }

  void runOnOperation() override {
    if (!activationCalibration.empty()) {
      nx::Status st = ::lowbit::calibration::readStatistics(
          activationCalibration, stats, /*withGram=*/false);
      if (!st.ok()) {
        getOperation().emitError()
            << "lowbit-quantize-matmuls: " << st.message();
        return signalPassFailure();
      }
    }
    // Every site with a constant weight: matmul, transposed-B matmul and
    // batch_matmul (activations of batched sites stay in float: their
    // per-token scheme would need two axes).
    bool failedAny = false;
    forEachSiteInFunction(getOperation(), [&](Contraction &c, StringRef name) {
      Operation *op = c.op;
      if (failedAny || !matchPattern(c.rhs, m_Constant()) ||
          !cast<RankedTensorType>(op->getResult(0).getType())
               .getElementType()
               .isF32())
        return;
      OpBuilder b(op);
      const std::string prefix =
          ("lowbit-quantize-matmuls (site '" + name + "')").str();
      FailureOr<Value> qw = failure();
      if (FailureOr<OperandScheme> w =
              schemeOf(weights, weightScheme, op, prefix);
          succeeded(w))
        qw = quantizeOperand(b, op, c.rhs, *w, c.inAxis(), c.outAxis(), prefix);
      if (failed(qw)) {
        failedAny = true;
        return;
      }
      Value lhs = c.lhs;
      if ((activations || !activationScheme.empty()) && c.rank == 2) {
        FailureOr<Value> qa = failure();
        if (!activationCalibration.empty()) {
          qa = quantizeStatic(b, op, lhs, name);
        } else if (FailureOr<OperandScheme> a =
                       schemeOf(activations, activationScheme, op, prefix);
                   succeeded(a)) {
          qa = quantizeOperand(b, op, lhs, *a, 1, 0, prefix);
        }
        if (failed(qa)) {
          failedAny = true;
          return;
        }
        lhs = *qa;
      }
      auto mm = QMatmulOp::create(b, op->getLoc(), op->getResultTypes()[0], lhs,
                                  *qw, c.transposeB);
      op->replaceAllUsesWith(mm);
      op->erase();
    });
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace

std::unique_ptr<Pass> mlir::lowbit::createLowbitQuantizeMatmuls(
    const OperandScheme &weights, std::optional<OperandScheme> activations,
    LowbitQuantizeMatmulsOptions options) {
  options.weightScheme = weights.str();
  options.activationScheme = activations ? activations->str() : "";
  auto pass = std::make_unique<LowbitQuantizeMatmulsPass>(options);
  pass->weights = weights;
  pass->activations = std::move(activations);
  return pass;
}
