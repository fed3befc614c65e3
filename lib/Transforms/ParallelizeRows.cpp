//===- ParallelizeRows.cpp - row-wise linalg ops over threads -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-parallelize-rows (Passes.td): the linalg ops of a function body
// whose first loop is parallel and long enough, tiled into an scf.forall
// over blocks of rows with the TilingInterface (scf::tileUsingSCF).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITPARALLELIZEROWS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

struct LowbitParallelizeRowsPass
    : mlir::lowbit::impl::LowbitParallelizeRowsBase<LowbitParallelizeRowsPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    // The linalg ops' TilingInterface.
    linalg::registerTilingInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    func::FuncOp f = getOperation();
    if (f.isExternal() || tasks < 1)
      return;
    // Ops directly in the body: those in loops or kernels have their own
    // parallel structure (or run inside it).
    SmallVector<linalg::LinalgOp> ops;
    for (Operation &op : f.getBody().front())
      if (auto l = dyn_cast<linalg::LinalgOp>(&op))
        if (shouldSplit(l))
          ops.push_back(l);
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp l : ops) {
      int64_t rows = l.getStaticLoopRanges().front();
      int64_t block = llvm::divideCeil(rows, std::min<int64_t>(rows, tasks));
      SmallVector<int64_t> sizes(l.getNumLoops(), 0);
      sizes.front() = block;
      scf::SCFTilingOptions options;
      options.setTileSizes(getAsIndexOpFoldResult(&getContext(), sizes));
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      rewriter.setInsertionPoint(l);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(l.getOperation()), options);
      if (failed(tiled)) // left serial: the same results
        continue;
      rewriter.replaceOp(l, tiled->replacements);
    }
  }

  bool shouldSplit(linalg::LinalgOp l) const {
    if (!l.hasPureTensorSemantics() || l.getNumLoops() == 0 ||
        !isa<TilingInterface>(l.getOperation()) ||
        l.getIteratorTypesArray().front() != utils::IteratorType::parallel)
      return false;
    SmallVector<int64_t> ranges = l.getStaticLoopRanges();
    int64_t work = 1;
    for (int64_t r : ranges) {
      if (ShapedType::isDynamic(r))
        return false;
      work *= r;
    }
    return ranges.front() >= minRows && work >= minWork;
  }
};

} // namespace
