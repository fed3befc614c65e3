//===- TieInplaceResults.cpp - results that are arguments written in place ===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITTIEINPLACERESULTS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

struct LowbitTieInplaceResultsPass
    : mlir::lowbit::impl::LowbitTieInplaceResultsBase<
          LowbitTieInplaceResultsPass> {
  void runOnOperation() override {
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      if (f.isPrivate() || f.isExternal() || f.getNumResults() == 0)
        continue;
      SmallVector<func::ReturnOp> returns;
      f.walk([&](func::ReturnOp r) { returns.push_back(r); });
      if (returns.size() != 1)
        continue;
      func::ReturnOp ret = returns.front();
      SmallVector<int64_t> tied;
      llvm::BitVector drop(f.getNumResults());
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        auto arg = dyn_cast<BlockArgument>(v);
        // Memref results only: a scalar result equal to an argument is a
        // value, not a buffer written in place.
        if (arg && arg.getOwner() == &f.getBody().front() &&
            isa<BaseMemRefType>(v.getType())) {
          tied.push_back(arg.getArgNumber());
          drop.set(i);
        } else {
          tied.push_back(-1);
        }
      }
      if (drop.none())
        continue;
      ret->eraseOperands(drop);
      if (failed(f.eraseResults(drop)))
        return signalPassFailure();
      f->setAttr(
          mlir::lowbit::LowbitDialect::TiedResultsAttrHelper::getNameStr(),
          OpBuilder(f).getI64ArrayAttr(tied));
    }
  }
};

} // namespace
