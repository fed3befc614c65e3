//===- FreeAfterLastUse.cpp - deallocs moved up to the last use ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-free-after-last-use (Passes.td): each memref.dealloc moved to
// just after the last op of its block that uses the buffer or a view of
// it.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/BufferViewFlowAnalysis.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFREEAFTERLASTUSE
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

struct LowbitFreeAfterLastUsePass
    : mlir::lowbit::impl::LowbitFreeAfterLastUseBase<
          LowbitFreeAfterLastUsePass> {
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    if (f.isExternal())
      return;
    BufferViewFlowAnalysis aliases(f);
    SmallVector<memref::DeallocOp> deallocs;
    f.walk([&](memref::DeallocOp d) { deallocs.push_back(d); });
    for (memref::DeallocOp d : deallocs) {
      Block *block = d->getBlock();
      Value buffer = d.getMemref();
      // The latest op of the block that uses the buffer or a view of it;
      // the buffer's definition when nothing uses it.
      Operation *last = buffer.getDefiningOp();
      if (last && last->getBlock() != block)
        last = block->findAncestorOpInBlock(*last);
      bool movable = true;
      for (Value a : aliases.resolve(buffer)) {
        // A view defined in the block counts as a use of the buffer.
        SmallVector<Operation *> users(a.getUsers().begin(),
                                       a.getUsers().end());
        if (Operation *def = a.getDefiningOp())
          users.push_back(def);
        for (Operation *u : users) {
          if (u == d)
            continue;
          Operation *at = block->findAncestorOpInBlock(*u);
          if (!at) {
            movable = false; // used outside the block
            break;
          }
          if (at == d.getOperation())
            continue;
          if (!last || last->isBeforeInBlock(at))
            last = at;
        }
        if (!movable)
          break;
      }
      if (movable && last && last->isBeforeInBlock(d))
        d->moveAfter(last);
    }
  }
};

} // namespace
