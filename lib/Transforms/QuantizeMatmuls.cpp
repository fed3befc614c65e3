//===- QuantizeMatmuls.cpp - linalg.matmul -> lowbit.qmatmul ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Contractions.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/AsmParser/AsmParser.h"
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

SchemeAttr mlir::lowbit::parseSchemeForOperand(
    MLIRContext *ctx, StringRef text, int64_t inAxis, int64_t outAxis,
    int64_t rank, function_ref<InFlightDiagnostic()> emitError) {
  // Resolve axis names, then parse as "#lowbit.scheme<...>".
  std::string body;
  StringRef rest = text;
  while (!rest.empty()) {
    size_t pos = rest.find_first_of("<[,:");
    if (pos == StringRef::npos) {
      body += rest.str();
      break;
    }
    body += rest.take_front(pos + 1).str();
    rest = rest.drop_front(pos + 1);
    StringRef trimmed = rest.ltrim();
    body += std::string(rest.size() - trimmed.size(), ' ');
    rest = trimmed;
    auto replace = [&](StringRef name, int64_t v) {
      if (rest.starts_with(name) &&
          (rest.size() == name.size() || !llvm::isAlnum(rest[name.size()]))) {
        body += std::to_string(v);
        rest = rest.drop_front(name.size());
        return true;
      }
      return false;
    };
    (void)(replace("in", inAxis) || replace("out", outAxis) ||
           replace("last", rank - 1));
  }
  std::string full = "#lowbit.scheme<" + body + ">";
  size_t numRead = 0;
  // The parser reports at a location inside the option string, not in the
  // IR: capture its message and attach it to the caller's diagnostic.
  std::string parserMessage;
  Attribute attr;
  {
    ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
      if (parserMessage.empty())
        parserMessage = diag.str();
      return success();
    });
    attr = parseAttribute(full, ctx, Type(), &numRead);
  }
  auto scheme = dyn_cast_or_null<SchemeAttr>(attr);
  if (!scheme || numRead != full.size()) {
    InFlightDiagnostic diag = emitError();
    diag << "invalid scheme '" << text << "'";
    if (!parserMessage.empty())
      diag << ": " << parserMessage;
    return {};
  }
  return scheme;
}

FailureOr<Value> mlir::lowbit::quantizeOperand(OpBuilder &b, Operation *op,
                                               Value v, StringRef text,
                                               int64_t inAxis, int64_t outAxis,
                                               StringRef passName) {
  auto t = cast<RankedTensorType>(v.getType());
  auto emitError = [&] { return op->emitOpError(passName) << ": "; };
  SchemeAttr scheme = parseSchemeForOperand(op->getContext(), text, inAxis,
                                            outAxis, t.getRank(), emitError);
  if (!scheme)
    return failure();
  if (scheme.getExpressedType() != t.getElementType())
    scheme = scheme.withExpressedType(t.getElementType());
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

  FailureOr<Value> quantize(OpBuilder &b, Operation *op, Value v,
                            StringRef text, int64_t inAxis, int64_t outAxis) {
    return quantizeOperand(b, op, v, text, inAxis, outAxis,
                           "lowbit-quantize-matmuls");
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
    FailureOr<Value> dyn = quantize(b, op, x, activationScheme, 1, 0);
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
      FailureOr<Value> qw = quantizeOperand(b, op, c.rhs, weightScheme,
                                            c.inAxis(), c.outAxis(), prefix);
      if (failed(qw)) {
        failedAny = true;
        return;
      }
      Value lhs = c.lhs;
      if (!activationScheme.empty() && c.rank == 2) {
        FailureOr<Value> qa =
            activationCalibration.empty()
                ? quantizeOperand(b, op, lhs, activationScheme, 1, 0, prefix)
                : quantizeStatic(b, op, lhs, name);
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
