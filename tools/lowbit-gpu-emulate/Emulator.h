//===- Emulator.h - lock-step CPU emulator of gpu.func kernels --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What the parts of lowbit-gpu-emulate share: a thread's values (`Val`),
// the kernel's buffers, the bit-level helpers on MLIR types, and the
// `Emulator` that runs every thread of a block in lock step. The executor
// (Emulator.cpp) walks blocks and control flow; the op semantics live in
// ScalarOps.cpp (arith, math, gpu ids), MemoryOps.cpp (memref, vector,
// cp.async) and WarpOps.cpp (shuffle, mma.sync, wgmma, inline PTX).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TOOLS_GPU_EMULATE_EMULATOR_H
#define LOWBIT_TOOLS_GPU_EMULATE_EMULATOR_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace mlir::lowbit::emulate {

using llvm::APFloat;
using llvm::APInt;

/// Prints `msg` prefixed with the tool's name and exits with status 1.
[[noreturn]] void fatal(const Twine &msg);

/// One SSA value in one thread: scalar (1 element) or vector (row-major
/// elements), each as its bits; memrefs hold a buffer index.
struct Val {
  SmallVector<uint64_t, 8> e;
};

/// A kernel parameter or workgroup attribution: its bytes, row-major.
struct Buffer {
  std::vector<uint8_t> bytes;
  MemRefType type;
  unsigned elemBytes;
};

/// Bits of `t` (index: 64).
inline unsigned bitWidth(Type t) {
  if (t.isIndex())
    return 64;
  return t.getIntOrFloatBitWidth();
}

/// The APFloat semantics of float type `t`.
inline const llvm::fltSemantics &semantics(Type t) {
  return cast<FloatType>(t).getFloatSemantics();
}

/// The element type of a vector, or `t` itself.
inline Type elementType(Type t) {
  if (auto v = dyn_cast<VectorType>(t))
    return v.getElementType();
  return t;
}

/// The float of type `t` with bit pattern `bits`, and back.
inline APFloat toFloat(Type t, uint64_t bits) {
  return APFloat(semantics(t), APInt(bitWidth(t), bits));
}
inline uint64_t fromFloat(const APFloat &f) {
  return f.bitcastToAPInt().getZExtValue();
}
/// The integer of type `t` with bit pattern `bits`.
inline APInt toInt(Type t, uint64_t bits) { return APInt(bitWidth(t), bits); }

/// One kernel launch: the kernel, its buffers, and every thread's values
/// for the block being run.
struct Emulator {
  gpu::GPUFuncOp fn;
  std::vector<Buffer> buffers; // parameters, then workgroup attributions
  unsigned nThreads;
  unsigned block[3], grid[3], bid[3] = {0, 0, 0};
  std::vector<llvm::DenseMap<Value, Val>> env;
  bool trace = std::getenv("LOWBIT_GPU_EMULATE_TRACE") != nullptr;

  /// The value of `v` in thread `t` (fatal if not yet defined).
  Val &at(unsigned t, Value v) {
    auto it = env[t].find(v);
    if (it == env[t].end())
      fatal("value used before definition in thread " + Twine(t));
    return it->second;
  }

  /// Byte offset of `idx` in buffer `b` (row-major, bounds-checked).
  size_t offset(Buffer &b, ArrayRef<int64_t> idx, Operation *op) {
    ArrayRef<int64_t> shape = b.type.getShape();
    size_t lin = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (idx[d] < 0 || idx[d] >= shape[d]) {
        std::string s;
        llvm::raw_string_ostream os(s);
        os << *op;
        fatal("out-of-bounds access (dim " + Twine(d) + " index " +
              Twine(idx[d]) + " of " + Twine(shape[d]) + ") at " + s);
      }
      lin = lin * shape[d] + idx[d];
    }
    return lin * b.elemBytes;
  }
  uint64_t loadElem(Buffer &b, size_t off) {
    uint64_t v = 0;
    std::memcpy(&v, &b.bytes[off], b.elemBytes);
    return v;
  }
  void storeElem(Buffer &b, size_t off, uint64_t v) {
    std::memcpy(&b.bytes[off], &v, b.elemBytes);
  }
  SmallVector<int64_t> indices(unsigned t, ValueRange idx) {
    SmallVector<int64_t> r;
    for (Value v : idx)
      r.push_back(int64_t(at(t, v).e[0]));
    return r;
  }

  /// Elementwise op on 1 or 2 operands of the same shape.
  template <typename F>
  void elementwise(Operation *op, ArrayRef<bool> active, F f) {
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Val r;
      size_t n = at(t, op->getOperand(0)).e.size();
      for (size_t i = 0; i < n; ++i) {
        SmallVector<uint64_t, 3> in;
        for (Value o : op->getOperands())
          in.push_back(at(t, o).e[at(t, o).e.size() == 1 ? 0 : i]);
        r.e.push_back(f(in));
      }
      env[t][op->getResult(0)] = r;
    }
  }

  /// Runs every block of the grid, one after another.
  void run();
  /// Executes `block` for the active threads; returns the operands of its
  /// terminator (scf.yield) per thread.
  std::vector<Val> exec(Block &blk, ArrayRef<bool> active,
                        SmallVectorImpl<std::vector<Val>> *yields);
  /// Executes one op for the active threads (fatal if unsupported).
  void execOp(Operation *op, ArrayRef<bool> active);
  /// The semantics of one op family each; false when `op` is not theirs.
  bool execScalarOp(Operation *op, ArrayRef<bool> active);
  bool execMemoryOp(Operation *op, ArrayRef<bool> active);
  bool execWarpOp(Operation *op, ArrayRef<bool> active);
  bool execControlFlowOp(Operation *op, ArrayRef<bool> active);
  /// mma.sync (nvgpu, or inline PTX named by `kind`) and a block of
  /// wgmma.mma_async from wgmma.fence to wait_group 0 (inline PTX `text`)
  /// for whole warps / warpgroups.
  void mma(Operation *op, ArrayRef<bool> active, StringRef kind);
  void wgmma(Operation *op, ArrayRef<bool> active, StringRef text);

  /// The shared-window address of workgroup buffer `bi`: the attributions
  /// one after another, each 1024-byte aligned.
  uint64_t sharedBase(unsigned bi) {
    uint64_t at = 0;
    for (unsigned i = fn.getNumArguments(); i < bi; ++i)
      at = (at + buffers[i].bytes.size() + 1023) / 1024 * 1024;
    return at;
  }
  /// The byte of shared memory at address `a`.
  uint8_t sharedByte(uint64_t a) {
    for (unsigned i = fn.getNumArguments(); i < buffers.size(); ++i) {
      uint64_t b = sharedBase(i);
      if (a >= b && a < b + buffers[i].bytes.size())
        return buffers[i].bytes[a - b];
    }
    fatal("wgmma reads shared address " + Twine(a) +
          ", outside every workgroup buffer");
  }
};

} // namespace mlir::lowbit::emulate

#endif // LOWBIT_TOOLS_GPU_EMULATE_EMULATOR_H
