//===- CEntryPoints.cpp - the C API's functions in LLVM IR ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The functions the C header declares, built in the LLVM dialect once
// the module is lowered: <prefix>_set_weights (checks the blob and sets
// its address), <prefix>_set_threads and <prefix>_get_threads (the
// OpenMP thread count of the parallel loops), <prefix>_last_error
// (nvptx), and one <prefix>_<name> per entry point that checks the
// weights and lowbit.range arguments, then calls the lowered function
// (on nvptx between the runtime's model begin and end).
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"

#include <cstring>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::compiler;

/// The PTX string of an nvptx model (lowbit-offload-to-gpu).
static constexpr StringLiteral kPtxSymbol = gpunames::kPtxSymbol;

/// The thread count <prefix>_set_threads stored (0: never set).
static constexpr StringLiteral kThreadsSymbol = "__lowbit_threads";

/// Whether the lowered module runs OpenMP parallel regions (the kernels'
/// scf.forall loops become omp.parallel; the translation to LLVM IR turns
/// them into libomp calls).
static bool usesOpenMP(ModuleOp module) {
  return module
      .walk([](Operation *op) {
        if (op->getDialect() && op->getDialect()->getNamespace() == "omp")
          return WalkResult::interrupt();
        if (auto f = dyn_cast<LLVM::LLVMFuncOp>(op))
          if (f.getName().starts_with("omp_") ||
              f.getName().starts_with("__kmpc_"))
            return WalkResult::interrupt();
        return WalkResult::advance();
      })
      .wasInterrupted();
}

/// <prefix>_set_weights(ptr, size) -> i32, <prefix>_set_threads(n) -> i32,
/// <prefix>_get_threads() -> i32 and, for each entry point,
/// <prefix>_<name>(buffers...) -> i32 calling the lowered function (now
/// internal): 0 on success, -1 when no weights are set.
LogicalResult compiler::addCEntryPoints(ModuleOp module,
                                        const CompileOptions &options,
                                        CompileResult &result) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = module.getLoc();
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto cst = [&](Type t, int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, v));
  };
  b.setInsertionPointToEnd(module.getBody());

  auto decl = [&](StringRef name, Type result, ArrayRef<Type> params) {
    if (auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
      return f;
    return LLVM::LLVMFuncOp::create(
        b, loc, name, LLVM::LLVMFunctionType::get(result, params));
  };

  // nvptx: the runtime's model calls, and <prefix>_last_error.
  bool gpu = options.target == "nvptx";
  LLVM::LLVMFuncOp beginFn, endFn, weightsChangedFn;
  if (gpu) {
    beginFn = decl("lbrt_model_begin", i32, {ptrTy});
    endFn = decl("lbrt_model_end", i32, {ptrTy});
    weightsChangedFn = decl("lbrt_model_weights_changed", i32, {ptrTy});
    LLVM::LLVMFuncOp lastError = decl("lbrt_last_error", ptrTy, {});
    auto fn = LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_last_error",
                                       LLVM::LLVMFunctionType::get(ptrTy, {}));
    b.setInsertionPointToStart(fn.addEntryBlock(b));
    LLVM::ReturnOp::create(
        b, loc,
        LLVM::CallOp::create(b, loc, lastError, ValueRange{}).getResult());
    b.setInsertionPointToEnd(module.getBody());
  }

  // set_weights: null -> -1, size -> -2, magic/fingerprint -> -3,
  // alignment -> -4.
  auto setFn =
      LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_set_weights",
                               LLVM::LLVMFunctionType::get(i32, {ptrTy, i64}));
  {
    Block *entry = setFn.addEntryBlock(b);
    Value p = entry->getArgument(0), n = entry->getArgument(1);
    auto fail = [&](Block *from, Value cond, int code) -> Block * {
      Block *bad = b.createBlock(&setFn.getBody());
      LLVM::ReturnOp::create(b, loc, cst(i32, code));
      Block *next = b.createBlock(&setFn.getBody());
      b.setInsertionPointToEnd(from);
      LLVM::CondBrOp::create(b, loc, cond, bad, next);
      b.setInsertionPointToStart(next);
      return next;
    };
    b.setInsertionPointToStart(entry);
    Value null = LLVM::ZeroOp::create(b, loc, ptrTy);
    Block *cur = fail(
        entry, LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, p, null),
        -1);
    Value want = cst(i64, int64_t(result.weights.size()));
    cur = fail(cur,
               LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, n, want),
               -2);
    Value pi = LLVM::PtrToIntOp::create(b, loc, i64, p);
    Value mis = LLVM::AndOp::create(b, loc, pi, cst(i64, kWeightsAlign - 1));
    cur = fail(
        cur,
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, mis, cst(i64, 0)),
        -4);
    uint64_t magic;
    std::memcpy(&magic, kWeightsMagic, 8);
    Value m = LLVM::LoadOp::create(b, loc, i64, p, /*alignment=*/8);
    cur = fail(cur,
               LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, m,
                                    cst(i64, int64_t(magic))),
               -3);
    Value fpAt = LLVM::GEPOp::create(b, loc, ptrTy, b.getI8Type(), p,
                                     ArrayRef<LLVM::GEPArg>{16});
    Value fp = LLVM::LoadOp::create(b, loc, i64, fpAt, /*alignment=*/8);
    cur = fail(cur,
               LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, fp,
                                    cst(i64, int64_t(result.fingerprint))),
               -3);
    Value baseAddr = LLVM::AddressOfOp::create(b, loc, ptrTy, kBaseSymbol);
    LLVM::StoreOp::create(b, loc, p, baseAddr, /*alignment=*/8);
    if (gpu) {
      // The device copies of the old weights are stale now.
      Value ptx = LLVM::AddressOfOp::create(b, loc, ptrTy, kPtxSymbol);
      LLVM::CallOp::create(b, loc, weightsChangedFn, ValueRange{ptx});
    }
    LLVM::ReturnOp::create(b, loc, cst(i32, 0));
  }

  // Threads. set_threads(n): -2 for n < 1; else keeps n and sets the
  // calling thread's OpenMP thread count (omp_set_num_threads); each entry
  // point sets the kept count again on the thread that calls it (an ICV is
  // per thread: this makes the count the model's, whichever thread runs
  // it). get_threads: the kept count, else omp_get_max_threads() of the
  // caller. Without parallel loops: set_threads only checks n, and
  // get_threads is 1.
  b.setInsertionPointToEnd(module.getBody());
  bool openmp = usesOpenMP(module);
  result.needsOpenMP = openmp; // the header and manifest say so
  Type voidTy = LLVM::LLVMVoidType::get(ctx);
  LLVM::LLVMFuncOp ompSet, ompMax;
  if (openmp) {
    ompSet = decl("omp_set_num_threads", voidTy, {i32});
    ompMax = decl("omp_get_max_threads", i32, {});
    LLVM::GlobalOp::create(b, loc, i32, /*isConstant=*/false,
                           LLVM::Linkage::Internal, kThreadsSymbol,
                           b.getI32IntegerAttr(0));
  }
  // The count the parallel regions get: the kept one, else the ICV's.
  auto threadCount = [&]() -> Value {
    Value at = LLVM::AddressOfOp::create(b, loc, ptrTy, kThreadsSymbol);
    Value kept = LLVM::LoadOp::create(
        b, loc, i32, at, /*alignment=*/4, /*isVolatile=*/false,
        /*isNonTemporal=*/false, /*isInvariant=*/false,
        /*isInvariantGroup=*/false, LLVM::AtomicOrdering::monotonic);
    Value max = LLVM::CallOp::create(b, loc, ompMax, ValueRange{}).getResult();
    Value set = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::sgt, kept,
                                     cst(i32, 0));
    return LLVM::SelectOp::create(b, loc, set, kept, max);
  };
  {
    auto fn = LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_set_threads",
                                       LLVM::LLVMFunctionType::get(i32, {i32}));
    Block *entry = fn.addEntryBlock(b);
    Value n = entry->getArgument(0);
    Block *bad = b.createBlock(&fn.getBody());
    LLVM::ReturnOp::create(b, loc, cst(i32, -2));
    Block *ok = b.createBlock(&fn.getBody());
    if (openmp) {
      Value at = LLVM::AddressOfOp::create(b, loc, ptrTy, kThreadsSymbol);
      LLVM::StoreOp::create(b, loc, n, at, /*alignment=*/4,
                            /*isVolatile=*/false, /*isNonTemporal=*/false,
                            /*isInvariantGroup=*/false,
                            LLVM::AtomicOrdering::monotonic);
      LLVM::CallOp::create(b, loc, ompSet, ValueRange{n});
    }
    LLVM::ReturnOp::create(b, loc, cst(i32, 0));
    b.setInsertionPointToEnd(entry);
    LLVM::CondBrOp::create(
        b, loc,
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt, n, cst(i32, 1)),
        bad, ok);
    b.setInsertionPointToEnd(module.getBody());
    auto get = LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_get_threads",
                                        LLVM::LLVMFunctionType::get(i32, {}));
    b.setInsertionPointToStart(get.addEntryBlock(b));
    LLVM::ReturnOp::create(b, loc, openmp ? threadCount() : cst(i32, 1));
    b.setInsertionPointToEnd(module.getBody());
  }
  // Before an entry point's lowered function: its caller's thread count.
  auto applyThreads = [&]() {
    if (openmp)
      LLVM::CallOp::create(b, loc, ompSet, ValueRange{threadCount()});
  };

  for (EntryPoint &e : result.entryPoints) {
    auto inner = module.lookupSymbol<LLVM::LLVMFuncOp>(e.name);
    e.tied.assign(e.results.size(), -1);
    if (inner)
      if (auto t = inner->getAttrOfType<ArrayAttr>("lowbit.tied_results"))
        if (t.size() == e.results.size())
          for (auto [i, a] : llvm::enumerate(t))
            e.tied[i] = cast<IntegerAttr>(a).getInt();
    if (inner) {
      // lowbit's own attributes stop here: LLVM IR has no place for them.
      inner->removeAttr("lowbit.tied_results");
      for (unsigned i = 0; i < inner.getNumArguments(); ++i)
        inner.removeArgAttr(i, b.getStringAttr("lowbit.range"));
    }
    size_t buffers = e.args.size();
    for (int64_t t : e.tied)
      buffers += t < 0;
    if (!inner || inner.getNumArguments() != buffers ||
        !isa<LLVM::LLVMVoidType>(inner.getFunctionType().getReturnType())) {
      module.emitError() << "entry point @" << e.name
                         << " did not lower to a function of " << buffers
                         << " buffers (a result that aliases an argument "
                            "without being that argument updated in place "
                            "is not supported)";
      return failure();
    }
    std::string innerName = "__lowbit_entry_" + e.name;
    if (failed(SymbolTable::replaceAllSymbolUses(
            inner, b.getStringAttr(innerName), module)))
      return failure();
    inner.setSymName(innerName);
    inner.setLinkage(LLVM::Linkage::Internal);
    b.setInsertionPointToEnd(module.getBody());
    SmallVector<Type> params(buffers, ptrTy);
    auto fn =
        LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_" + e.name,
                                 LLVM::LLVMFunctionType::get(i32, params));
    Block *entry = fn.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    Value baseAddr = LLVM::AddressOfOp::create(b, loc, ptrTy, kBaseSymbol);
    Value base = LLVM::LoadOp::create(b, loc, ptrTy, baseAddr, /*alignment=*/8);
    Value null = LLVM::ZeroOp::create(b, loc, ptrTy);
    Value unset =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, base, null);
    Block *bad = b.createBlock(&fn.getBody());
    LLVM::ReturnOp::create(b, loc, cst(i32, -1));
    Block *run = b.createBlock(&fn.getBody());
    // Arguments with a lowbit.range: every element inside it, else -2.
    // Up to 16 elements are compared unrolled, longer arguments (a prefill
    // step's tokens) in a loop.
    Block *rangeBad = nullptr;
    auto badRange = [&]() {
      if (!rangeBad) {
        OpBuilder::InsertionGuard guard(b);
        rangeBad = b.createBlock(&fn.getBody());
        LLVM::ReturnOp::create(b, loc, cst(i32, -2));
      }
      return rangeBad;
    };
    auto outsideOf = [&](const BufferSignature &arg, Type et, Value v) {
      Value lo = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt, v,
                                      cst(et, arg.range->first));
      Value hi = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::sgt, v,
                                      cst(et, arg.range->second));
      return LLVM::OrOp::create(b, loc, lo, hi).getResult();
    };
    Value outside;
    for (auto [i, arg] : llvm::enumerate(e.args)) {
      if (!arg.range)
        continue;
      Type et = arg.cType == "int64_t" ? i64 : i32;
      Value base = entry->getArgument(i);
      if (arg.numElements() <= 16) {
        for (int64_t k = 0; k < arg.numElements(); ++k) {
          Value at = LLVM::GEPOp::create(b, loc, ptrTy, et, base,
                                         ArrayRef<LLVM::GEPArg>{int32_t(k)});
          Value v = LLVM::LoadOp::create(b, loc, et, at);
          Value o = outsideOf(arg, et, v);
          outside = outside ? LLVM::OrOp::create(b, loc, outside, o) : o;
        }
        continue;
      }
      // for (k = 0; k < n; ++k) if (outside(a[k])) return -2;
      Block *from = b.getInsertionBlock();
      Block *head =
          b.createBlock(&fn.getBody(), fn.getBody().end(), {i64}, {loc});
      Block *body = b.createBlock(&fn.getBody());
      Block *done = b.createBlock(&fn.getBody());
      b.setInsertionPointToEnd(from);
      LLVM::BrOp::create(b, loc, ValueRange{cst(i64, 0)}, head);
      b.setInsertionPointToEnd(head);
      Value k = head->getArgument(0);
      LLVM::CondBrOp::create(b, loc,
                             LLVM::ICmpOp::create(b, loc,
                                                  LLVM::ICmpPredicate::slt, k,
                                                  cst(i64, arg.numElements())),
                             body, done);
      b.setInsertionPointToEnd(body);
      Value at = LLVM::GEPOp::create(b, loc, ptrTy, et, base, ValueRange{k});
      Value v = LLVM::LoadOp::create(b, loc, et, at);
      Value k1 = LLVM::AddOp::create(b, loc, k, cst(i64, 1));
      LLVM::CondBrOp::create(b, loc, outsideOf(arg, et, v), badRange(),
                             ValueRange{}, head, ValueRange{k1});
      b.setInsertionPointToStart(done);
    }
    if (outside) {
      Block *from = b.getInsertionBlock();
      Block *call = b.createBlock(&fn.getBody());
      b.setInsertionPointToEnd(from);
      LLVM::CondBrOp::create(b, loc, outside, badRange(), call);
      b.setInsertionPointToStart(call);
    }
    applyThreads();
    if (!gpu) {
      LLVM::CallOp::create(b, loc, inner, entry->getArguments());
      LLVM::ReturnOp::create(b, loc, cst(i32, 0));
    } else {
      // The GPU model's lock, driver and module first (-3 before anything
      // runs when they fail), then -3 if a launch failed.
      Block *cur = b.getInsertionBlock();
      Value ptx = LLVM::AddressOfOp::create(b, loc, ptrTy, kPtxSymbol);
      Value rc =
          LLVM::CallOp::create(b, loc, beginFn, ValueRange{ptx}).getResult();
      Value bad3 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, rc,
                                        cst(i32, 0));
      Block *gpuBad = b.createBlock(&fn.getBody());
      LLVM::ReturnOp::create(b, loc, cst(i32, -3));
      Block *call = b.createBlock(&fn.getBody());
      b.setInsertionPointToEnd(cur);
      LLVM::CondBrOp::create(b, loc, bad3, gpuBad, call);
      b.setInsertionPointToStart(call);
      LLVM::CallOp::create(b, loc, inner, entry->getArguments());
      Value rc2 =
          LLVM::CallOp::create(b, loc, endFn, ValueRange{ptx}).getResult();
      Value bad4 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, rc2,
                                        cst(i32, 0));
      Value r = LLVM::SelectOp::create(b, loc, bad4, cst(i32, -3), cst(i32, 0));
      LLVM::ReturnOp::create(b, loc, r);
    }
    b.setInsertionPointToEnd(entry);
    LLVM::CondBrOp::create(b, loc, unset, bad, run);
  }
  return success();
}
