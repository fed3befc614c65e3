//===- SmoothQuant.cpp - migrate activation outliers into weights ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "ActivationScale.h"
#include "Contractions.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITSMOOTHACTIVATIONS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;
namespace cal = ::lowbit::calibration;

namespace {

struct Site {
  Contraction c;
  std::string name;
};

struct LowbitSmoothActivationsPass
    : mlir::lowbit::impl::LowbitSmoothActivationsBase<
          LowbitSmoothActivationsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (calibration.empty()) {
      module.emitError() << "lowbit-smooth-activations: needs calibration=DIR "
                            "(statistics of lowbit-calibrate)";
      return signalPassFailure();
    }
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      module.emitError()
          << "lowbit-smooth-activations: alpha must be in [0, 1]";
      return signalPassFailure();
    }
    std::vector<cal::SiteStats> stats;
    nx::Status st = cal::readStatistics(calibration, stats, false);
    if (!st.ok()) {
      module.emitError() << "lowbit-smooth-activations: " << st.message();
      return signalPassFailure();
    }
    // Sites with a constant f32 2-D weight, grouped by their activation.
    llvm::MapVector<Value, SmallVector<Site>> groups;
    forEachSite(module, [&](Contraction &c, StringRef name) {
      if (c.rank != 2 || !matchPattern(c.rhs, m_Constant()) ||
          !cast<RankedTensorType>(c.lhs.getType()).hasStaticShape() ||
          !cast<RankedTensorType>(c.rhs.getType()).getElementType().isF32() ||
          !cast<RankedTensorType>(c.lhs.getType()).getElementType().isF32())
        return;
      groups[c.lhs].push_back({c, name.str()});
    });
    for (auto &[x, sites] : groups)
      if (failed(smooth(x, sites, stats)))
        return signalPassFailure();
  }

  LogicalResult smooth(Value x, SmallVectorImpl<Site> &sites,
                       const std::vector<cal::SiteStats> &stats) {
    const int64_t k = cast<RankedTensorType>(x.getType()).getShape().back();
    // max |X_j| over the group's statistics (they all see X).
    std::vector<float> xmax(static_cast<size_t>(k), 0.0f);
    for (Site &s : sites) {
      const cal::SiteStats *found = nullptr;
      for (const cal::SiteStats &st : stats)
        if (st.name == s.name)
          found = &st;
      if (!found || found->channels == 0)
        return s.c.op->emitOpError("lowbit-smooth-activations (site '")
               << s.name << "'): no calibration statistics in " << calibration;
      if (found->channels != k)
        return s.c.op->emitOpError("lowbit-smooth-activations (site '")
               << s.name << "'): statistics have " << found->channels
               << " channels, the activation " << k;
      for (int64_t j = 0; j < k; ++j)
        xmax[size_t(j)] = std::fmax(xmax[size_t(j)], found->absmax[size_t(j)]);
    }
    // Weights and max |W_j| over all of them.
    std::vector<std::vector<float>> weights;
    std::vector<float> wmax(static_cast<size_t>(k), 0.0f);
    for (Site &s : sites) {
      ElementsAttr attr;
      (void)matchPattern(s.c.rhs, m_Constant(&attr));
      auto emitError = [&]() {
        return s.c.op->emitOpError("lowbit-smooth-activations (site '")
               << s.name << "'): ";
      };
      FailureOr<std::vector<float>> w = readFloatElements(attr, emitError);
      if (failed(w))
        return failure();
      auto shape = cast<RankedTensorType>(s.c.rhs.getType()).getShape();
      const int64_t n = shape[s.c.outAxis()];
      for (int64_t j = 0; j < k; ++j)
        for (int64_t o = 0; o < n; ++o) {
          float v = s.c.transposeB ? (*w)[size_t(o * k + j)]
                                   : (*w)[size_t(j * n + o)];
          wmax[size_t(j)] = std::fmax(wmax[size_t(j)], std::fabs(v));
        }
      weights.push_back(std::move(*w));
    }
    std::vector<float> scale = nx::smoothQuantScales(xmax, wmax, float(alpha));
    // Weights: input channel j times s_j.
    for (auto [s, w] : llvm::zip(sites, weights)) {
      auto type = cast<RankedTensorType>(s.c.rhs.getType());
      const int64_t n = type.getShape()[s.c.outAxis()];
      for (int64_t j = 0; j < k; ++j)
        for (int64_t o = 0; o < n; ++o) {
          float &v =
              s.c.transposeB ? w[size_t(o * k + j)] : w[size_t(j * n + o)];
          v = v * scale[size_t(j)];
        }
      OpBuilder b(s.c.op);
      Value c =
          makeF32Constant(b, s.c.rhs.getLoc(), type, w, s.name + "_smoothed");
      Operation *old = s.c.rhs.getDefiningOp();
      s.c.op->setOperand(1, c);
      if (old && old->use_empty())
        old->erase();
    }
    // Activation: X / s, folded into a norm's weight when that is safe.
    SmallVector<Operation *> ops;
    for (Site &site : sites)
      ops.push_back(site.c.op);
    divideActivation(x, ops, scale, sites.front().name);
    return success();
  }
};

} // namespace
