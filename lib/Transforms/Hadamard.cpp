//===- Hadamard.cpp - randomised Hadamard rotation of contraction inputs -===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "ActivationScale.h"
#include "Contractions.h"
#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITAPPLYHADAMARD
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

struct LowbitApplyHadamardPass
    : mlir::lowbit::impl::LowbitApplyHadamardBase<LowbitApplyHadamardPass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::MapVector<Value, SmallVector<std::pair<Contraction, std::string>>>
        groups;
    forEachSite(getOperation(), [&](Contraction &c, StringRef name) {
      if (c.rank == 2 && matchPattern(c.rhs, m_Constant()) &&
          cast<RankedTensorType>(c.lhs.getType()).hasStaticShape() &&
          cast<RankedTensorType>(c.lhs.getType()).getElementType().isF32() &&
          cast<RankedTensorType>(c.rhs.getType()).getElementType().isF32())
        groups[c.lhs].push_back({c, name.str()});
    });
    for (auto &[x, sites] : groups)
      if (failed(rotate(x, sites)))
        return signalPassFailure();
  }

  LogicalResult
  rotate(Value x, SmallVectorImpl<std::pair<Contraction, std::string>> &sites) {
    auto xt = cast<RankedTensorType>(x.getType());
    const int64_t k = xt.getDimSize(1);
    std::vector<float> r = nx::hadamardRotation(k, seed);
    Operation *first = sites.front().first.op;
    if (r.empty()) {
      first->emitRemark("lowbit-apply-hadamard: no Hadamard matrix of order ")
          << k << "; site '" << sites.front().second << "' left alone";
      return success();
    }
    // Right after X's definition: it dominates every site.
    OpBuilder b(x.getContext());
    b.setInsertionPointAfterValue(x);
    Location loc = first->getLoc();
    auto rt = RankedTensorType::get({k, k}, b.getF32Type());
    Value rc =
        makeF32Constant(b, loc, rt, r, sites.front().second + "_rotation");
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value empty =
        tensor::EmptyOp::create(b, loc, xt.getShape(), b.getF32Type());
    Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    auto rot = linalg::MatmulOp::create(b, loc, TypeRange{xt},
                                        ValueRange{x, rc}, ValueRange{init});
    // The rotation itself is not a quantization site: it stays in float.
    rot->setAttr(kNotASite, b.getUnitAttr());
    Value xr = rot.getResult(0);
    for (auto &[c, name] : sites) {
      ElementsAttr attr;
      (void)matchPattern(c.rhs, m_Constant(&attr));
      auto emitError = [&, &name = name, &c = c]() {
        return c.op->emitOpError("lowbit-apply-hadamard (site '")
               << name << "'): ";
      };
      FailureOr<std::vector<float>> w = readFloatElements(attr, emitError);
      if (failed(w))
        return failure();
      auto wt = cast<RankedTensorType>(c.rhs.getType());
      const int64_t n = wt.getDimSize(c.outAxis());
      nx::rotateWeightInputs(r.data(), k, w->data(), n, c.transposeB);
      OpBuilder wb(c.op);
      Value wc = makeF32Constant(wb, c.rhs.getLoc(), wt, *w, name + "_rotated");
      Operation *old = c.rhs.getDefiningOp();
      c.op->setOperand(0, xr);
      c.op->setOperand(1, wc);
      if (old && old->use_empty())
        old->erase();
    }
    return success();
  }
};

} // namespace
