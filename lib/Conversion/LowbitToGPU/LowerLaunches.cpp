//===- LowerLaunches.cpp - lowbit-lower-launches --------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// After bufferization: every lowbit.launch becomes a call of lib/Runtime's
// lbrt_model_launch with the embedded PTX, the kernel's name, a constant
// launch descriptor and the buffers' addresses (docs/Compile.md).
//
//===----------------------------------------------------------------------===//

#include "Steps.h"

#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERLAUNCHES
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

/// The allocation behind a buffer, through views: a constant global's
/// `memref.get_global` makes the buffer a weight.
static bool isConstantGlobal(Value v, SymbolTableCollection &symbols) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto g = dyn_cast<memref::GetGlobalOp>(def)) {
      auto global = symbols.lookupNearestSymbolFrom<memref::GlobalOp>(
          def, g.getNameAttr());
      return global && global.getConstant();
    }
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return false;
    v = view.getViewSource();
  }
  return false;
}

namespace {

struct LowbitLowerLaunchesPass
    : mlir::lowbit::impl::LowbitLowerLaunchesBase<LowbitLowerLaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<LaunchOp> launches;
    module.walk([&](LaunchOp op) { launches.push_back(op); });
    if (launches.empty())
      return;
    if (!module.lookupSymbol<LLVM::GlobalOp>(gpunames::kPtxSymbol)) {
      launches.front().emitError("lowbit-lower-launches: no @")
          << gpunames::kPtxSymbol << " (run lowbit-offload-to-gpu)";
      return signalPassFailure();
    }
    OpBuilder mb(ctx);
    mb.setInsertionPointToEnd(module.getBody());
    auto ptrTy = LLVM::LLVMPointerType::get(ctx);
    Type i32 = mb.getI32Type(), i64 = mb.getI64Type();
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>("lbrt_model_launch");
    if (!callee)
      callee = LLVM::LLVMFuncOp::create(
          mb, module.getLoc(), "lbrt_model_launch",
          LLVM::LLVMFunctionType::get(i32, {ptrTy, ptrTy, ptrTy, ptrTy}));
    SymbolTableCollection symbols;
    llvm::StringMap<std::string> kernelNames; // kernel -> its string global
    for (auto [index, op] : llvm::enumerate(launches)) {
      if (op.getNumResults()) {
        op.emitError("lowbit-lower-launches: the launch is not bufferized");
        return signalPassFailure();
      }
      // One launch at a time per model call: not from parallel loops
      // (OpenMP threads have no model call of their own).
      if (op->getParentOfType<scf::ParallelOp>() ||
          op->getParentOfType<scf::ForallOp>() ||
          op->getParentOfType<omp::ParallelOp>()) {
        op.emitError("lowbit-lower-launches: a GPU launch inside a parallel "
                     "loop is not supported");
        return signalPassFailure();
      }
      Location loc = op.getLoc();
      StringRef kernel = op.getKernel().getLeafReference().getValue();
      std::string &nameSym = kernelNames[kernel];
      mb.setInsertionPointToEnd(module.getBody());
      if (nameSym.empty()) {
        nameSym = ("__lowbit_kernel_" + Twine(kernelNames.size() - 1)).str();
        createStringGlobal(mb, loc, nameSym, kernel);
      }
      // desc: launch (7), n, then bytes and kind per buffer.
      SmallVector<int64_t> desc(op.getLaunch());
      desc.push_back(op->getNumOperands());
      for (OpOperand &o : op->getOpOperands()) {
        auto t = cast<MemRefType>(o.get().getType());
        desc.push_back(getBufferBytes(t));
        // A weight only when its own (contiguous) buffer is passed: a
        // temporary copy lives for one call.
        bool weight =
            t.getLayout().isIdentity() && isConstantGlobal(o.get(), symbols);
        desc.push_back(op.isDpsInit(&o) ? 1 : weight ? 2 : 0);
      }
      std::string descSym = (gpunames::kLaunchDescPrefix + Twine(index)).str();
      auto descType = LLVM::LLVMArrayType::get(i64, desc.size());
      LLVM::GlobalOp::create(
          mb, loc, descType, /*isConstant=*/true, LLVM::Linkage::Internal,
          descSym,
          DenseElementsAttr::get(
              RankedTensorType::get({int64_t(desc.size())}, i64),
              ArrayRef<int64_t>(desc)),
          /*alignment=*/8);

      // The buffers' addresses, contiguous copies where needed.
      ImplicitLocOpBuilder b(loc, op);
      auto fn = op->getParentOfType<FunctionOpInterface>();
      OpBuilder eb(ctx);
      eb.setInsertionPointToStart(&fn.getFunctionBody().front());
      Value one =
          LLVM::ConstantOp::create(eb, loc, i64, eb.getI64IntegerAttr(1));
      auto arrTy = LLVM::LLVMArrayType::get(ptrTy, op->getNumOperands());
      Value arr = LLVM::AllocaOp::create(eb, loc, ptrTy, arrTy, one,
                                         /*alignment=*/8);
      SmallVector<std::pair<Value, Value>> copyBack; // (contiguous, original)
      SmallVector<Value> temps;
      for (auto [j, o] : llvm::enumerate(op->getOpOperands())) {
        Value m = o.get();
        auto t = cast<MemRefType>(m.getType());
        if (!t.getLayout().isIdentity()) {
          Value tmp = memref::AllocOp::create(
              b, MemRefType::get(t.getShape(), t.getElementType()));
          temps.push_back(tmp);
          if (op.isDpsInit(&o))
            copyBack.push_back({tmp, m});
          else
            memref::CopyOp::create(b, m, tmp);
          m = tmp;
        }
        Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, m);
        Value p = LLVM::IntToPtrOp::create(
            b, ptrTy, arith::IndexCastOp::create(b, i64, addr).getResult());
        Value slot = LLVM::GEPOp::create(b, ptrTy, arrTy, arr,
                                         ArrayRef<LLVM::GEPArg>{0, int32_t(j)});
        LLVM::StoreOp::create(b, p, slot, /*alignment=*/8);
      }
      Value ptx = LLVM::AddressOfOp::create(b, ptrTy, gpunames::kPtxSymbol);
      Value name = LLVM::AddressOfOp::create(b, ptrTy, nameSym);
      Value d = LLVM::AddressOfOp::create(b, ptrTy, descSym);
      // A failure is recorded by the runtime and reported by the entry
      // point (lbrt_model_end); the status here needs no check.
      LLVM::CallOp::create(b, callee, ValueRange{ptx, name, d, arr});
      for (auto [tmp, orig] : copyBack)
        memref::CopyOp::create(b, tmp, orig);
      // This runs after buffer deallocation: the temporaries are freed here.
      for (Value tmp : temps)
        memref::DeallocOp::create(b, tmp);
      op.erase();
    }
  }
};

} // namespace
