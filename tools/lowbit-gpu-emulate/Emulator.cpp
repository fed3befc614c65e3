//===- Emulator.cpp - lock-step execution of a gpu.func -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The executor: runs every block of the grid, every thread of a block in
// lock step through the kernel's ops, and the control flow (scf.for,
// scf.if) with a mask of active threads. Each op's semantics come from its
// family (ScalarOps.cpp, MemoryOps.cpp, WarpOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/Format.h"

using namespace mlir;
using namespace mlir::lowbit::emulate;

void mlir::lowbit::emulate::fatal(const Twine &msg) {
  llvm::errs() << "lowbit-gpu-emulate: " << msg << "\n";
  std::exit(1);
}

void Emulator::run() {
  for (bid[2] = 0; bid[2] < grid[2]; ++bid[2])
    for (bid[1] = 0; bid[1] < grid[1]; ++bid[1])
      for (bid[0] = 0; bid[0] < grid[0]; ++bid[0]) {
        env.assign(nThreads, llvm::DenseMap<Value, Val>());
        // Fresh workgroup memory per block.
        size_t params = fn.getNumArguments();
        for (size_t i = params; i < buffers.size(); ++i)
          std::fill(buffers[i].bytes.begin(), buffers[i].bytes.end(), 0xCD);
        Block &entry = fn.getBody().front();
        for (unsigned t = 0; t < nThreads; ++t)
          for (unsigned i = 0; i < entry.getNumArguments(); ++i)
            env[t][entry.getArgument(i)] = Val{{uint64_t(i)}};
        std::vector<bool> all(nThreads, true);
        SmallVector<bool> active(all.begin(), all.end());
        exec(entry, active, nullptr);
      }
}

std::vector<Val> Emulator::exec(Block &blk, ArrayRef<bool> active,
                                SmallVectorImpl<std::vector<Val>> *yields) {
  for (Operation &op : blk) {
    if (isa<scf::YieldOp>(op)) {
      if (yields)
        for (unsigned t = 0; t < nThreads; ++t) {
          if (!active[t])
            continue;
          std::vector<Val> vals;
          for (Value v : op.getOperands())
            vals.push_back(at(t, v));
          (*yields)[t] = vals;
        }
      break;
    }
    if (isa<gpu::ReturnOp>(op))
      break;
    execOp(&op, active);
    if (trace && active[0] && bid[0] == 0 && bid[1] == 0 && bid[2] == 0)
      for (Value r : op.getResults()) {
        llvm::errs() << "  ";
        r.printAsOperand(llvm::errs(), OpPrintingFlags());
        llvm::errs() << " =";
        for (uint64_t e : at(0, r).e)
          llvm::errs() << " " << llvm::format_hex(e, 10);
        llvm::errs() << "\n";
      }
  }
  return {};
}

void Emulator::execOp(Operation *op, ArrayRef<bool> active) {
  if (execScalarOp(op, active) || execMemoryOp(op, active) ||
      execWarpOp(op, active) || execControlFlowOp(op, active))
    return;
  std::string s;
  llvm::raw_string_ostream os(s);
  os << *op;
  fatal("unsupported op: " + s);
}

bool Emulator::execControlFlowOp(Operation *op, ArrayRef<bool> active) {
  // Control flow.
  if (auto f = dyn_cast<scf::ForOp>(op)) {
    unsigned t0 = 0;
    while (t0 < nThreads && !active[t0])
      ++t0;
    if (t0 == nThreads)
      return true;
    int64_t lb = int64_t(at(t0, f.getLowerBound()).e[0]);
    int64_t ub = int64_t(at(t0, f.getUpperBound()).e[0]);
    int64_t st = int64_t(at(t0, f.getStep()).e[0]);
    Block &body = *f.getBody();
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        for (auto [arg, init] :
             llvm::zip(f.getRegionIterArgs(), f.getInitArgs())) {
          // Copy first: inserting may move the map's storage.
          Val v = at(t, init);
          env[t][arg] = std::move(v);
        }
    for (int64_t iv = lb; iv < ub; iv += st) {
      SmallVector<std::vector<Val>> yields(nThreads);
      for (unsigned t = 0; t < nThreads; ++t)
        if (active[t])
          env[t][f.getInductionVar()] = Val{{uint64_t(iv)}};
      exec(body, active, &yields);
      for (unsigned t = 0; t < nThreads; ++t)
        if (active[t])
          for (auto [i, arg] : llvm::enumerate(f.getRegionIterArgs()))
            env[t][arg] = yields[t][i];
    }
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        for (auto [i, r] : llvm::enumerate(f.getResults())) {
          Val v = at(t, f.getRegionIterArgs()[i]);
          env[t][r] = std::move(v);
        }
    return true;
  }
  if (auto i = dyn_cast<scf::IfOp>(op)) {
    SmallVector<bool> thenMask(nThreads, false), elseMask(nThreads, false);
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t]) {
        bool c = at(t, i.getCondition()).e[0] & 1;
        (c ? thenMask : elseMask)[t] = true;
      }
    SmallVector<std::vector<Val>> yields(nThreads);
    exec(*i.thenBlock(), thenMask, &yields);
    if (i.elseBlock())
      exec(*i.elseBlock(), elseMask, &yields);
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        for (auto [k, r] : llvm::enumerate(i.getResults()))
          env[t][r] = yields[t][k];
    return true;
  }
  return false;
}
