//===- ExpandIntrinsicCalls.cpp - intrinsic calls to LLVM -----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Kernels call LLVM intrinsics through private func.func declarations
// marked `lowbit.llvm_intrinsic` (Emitters.h), which cross bufferization
// and deallocation as ordinary calls; this pass turns them into
// llvm.call_intrinsic afterwards.
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"

#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITEXPANDINTRINSICCALLS
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

namespace {
struct LowbitExpandIntrinsicCallsPass
    : mlir::lowbit::impl::LowbitExpandIntrinsicCallsBase<
          LowbitExpandIntrinsicCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> decls;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(kLLVMIntrinsicAttr))
        decls.push_back(fn);
    for (func::FuncOp fn : decls) {
      auto intrinsic = fn->getAttrOfType<StringAttr>(kLLVMIntrinsicAttr);
      std::optional<SymbolTable::UseRange> uses = fn.getSymbolUses(module);
      if (!uses) {
        fn.emitError("unexpected uses of an intrinsic declaration");
        return signalPassFailure();
      }
      for (const SymbolTable::SymbolUse &use : *uses) {
        auto call = dyn_cast<func::CallOp>(use.getUser());
        if (!call) {
          use.getUser()->emitError("intrinsic ")
              << intrinsic << " used other than by func.call";
          return signalPassFailure();
        }
        OpBuilder b(call);
        auto op = LLVM::CallIntrinsicOp::create(b, call.getLoc(),
                                                call.getResultTypes()[0],
                                                intrinsic, call.getOperands());
        call.replaceAllUsesWith(op->getResults());
        call.erase();
      }
      fn.erase();
    }
  }
};
} // namespace
