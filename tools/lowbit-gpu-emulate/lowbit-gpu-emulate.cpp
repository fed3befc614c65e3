//===- lowbit-gpu-emulate.cpp - run lowbit's GPU kernels on the CPU -------===//
//
// Executes one `gpu.func` kernel of `lowbit-gpu-kernels`' output, before
// its lowering to NVVM, on the CPU: every thread of every block in lock
// step, op by op, with the PTX semantics of the ops the kernels use
// (docs/CodegenGPU.md, "Testing without a GPU"). Floats are IEEE through
// APFloat (f16, bf16, f32, E4M3), integers through APInt; warp-collective
// ops (gpu.shuffle, mma.sync) read the lanes of their warp; the fragment
// layouts of mma.sync are those of the PTX ISA. Lock step cannot expose a
// missing barrier, but it checks every index, decode, tail and reduction.
//
//   lowbit-gpu-emulate kernels.mlir --kernel NAME --grid X,Y,Z \
//       --arg a.bin --arg b.bin ... [--write I=out.bin]
//
// Buffers are raw little-endian bytes in row-major order of the kernel's
// parameter memrefs; workgroup memory starts as 0xCD bytes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APSInt.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>

using namespace mlir;
using llvm::APFloat;
using llvm::APInt;

namespace {

static llvm::cl::OptionCategory emulateCategory("lowbit-gpu-emulate options");

llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                     llvm::cl::desc("<kernels.mlir>"),
                                     llvm::cl::Required,
                                     llvm::cl::cat(emulateCategory));
llvm::cl::opt<std::string> kernelName("kernel", llvm::cl::Required,
                                      llvm::cl::desc("gpu.func to run"),
                                      llvm::cl::cat(emulateCategory));
llvm::cl::opt<std::string> gridOpt("grid", llvm::cl::Required,
                                   llvm::cl::desc("X,Y,Z blocks"),
                                   llvm::cl::cat(emulateCategory));
llvm::cl::list<std::string> argFiles("arg",
                                     llvm::cl::desc("a parameter's bytes"),
                                     llvm::cl::cat(emulateCategory));
llvm::cl::list<std::string>
    writes("write", llvm::cl::desc("I=FILE: parameter I's bytes afterwards"),
           llvm::cl::cat(emulateCategory));

[[noreturn]] void fatal(const Twine &msg) {
  llvm::errs() << "lowbit-gpu-emulate: " << msg << "\n";
  std::exit(1);
}

/// One SSA value in one thread: scalar (1 element) or vector (row-major
/// elements), each as its bits; memrefs hold a buffer index.
struct Val {
  SmallVector<uint64_t, 8> e;
};

struct Buffer {
  std::vector<uint8_t> bytes;
  MemRefType type;
  unsigned elemBytes;
};

unsigned bitWidth(Type t) {
  if (t.isIndex())
    return 64;
  return t.getIntOrFloatBitWidth();
}

const llvm::fltSemantics &semantics(Type t) {
  return cast<FloatType>(t).getFloatSemantics();
}

Type elementType(Type t) {
  if (auto v = dyn_cast<VectorType>(t))
    return v.getElementType();
  return t;
}

APFloat toFloat(Type t, uint64_t bits) {
  return APFloat(semantics(t), APInt(bitWidth(t), bits));
}
uint64_t fromFloat(const APFloat &f) {
  return f.bitcastToAPInt().getZExtValue();
}
APInt toInt(Type t, uint64_t bits) { return APInt(bitWidth(t), bits); }

struct Emulator {
  gpu::GPUFuncOp fn;
  std::vector<Buffer> buffers; // parameters, then workgroup attributions
  unsigned nThreads;
  unsigned block[3], grid[3], bid[3] = {0, 0, 0};
  std::vector<llvm::DenseMap<Value, Val>> env;
  bool trace = std::getenv("LOWBIT_GPU_EMULATE_TRACE") != nullptr;

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

  void run();
  /// Executes `block` for the active threads; returns the operands of its
  /// terminator (scf.yield) per thread.
  std::vector<Val> exec(Block &blk, ArrayRef<bool> active,
                        SmallVectorImpl<std::vector<Val>> *yields);
  void execOp(Operation *op, ArrayRef<bool> active);
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
  auto setAll = [&](Value r, const Val &v) {
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        env[t][r] = v;
  };
  Type rt = op->getNumResults() ? op->getResult(0).getType() : Type();
  Type et = rt ? elementType(rt) : Type();

  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    Val v;
    Attribute a = c.getValue();
    if (auto i = dyn_cast<IntegerAttr>(a))
      v.e.push_back(i.getValue().getZExtValue());
    else if (auto f = dyn_cast<FloatAttr>(a))
      v.e.push_back(fromFloat(f.getValue()));
    else if (auto d = dyn_cast<DenseElementsAttr>(a)) {
      if (isa<FloatType>(d.getElementType()))
        for (APFloat f : d.getValues<APFloat>())
          v.e.push_back(fromFloat(f));
      else
        for (APInt i : d.getValues<APInt>())
          v.e.push_back(i.getZExtValue());
    } else
      fatal("unsupported constant");
    setAll(op->getResult(0), v);
    return;
  }
  if (isa<gpu::ThreadIdOp, gpu::BlockIdOp, gpu::BlockDimOp>(op)) {
    gpu::Dimension d =
        isa<gpu::ThreadIdOp>(op)  ? cast<gpu::ThreadIdOp>(op).getDimension()
        : isa<gpu::BlockIdOp>(op) ? cast<gpu::BlockIdOp>(op).getDimension()
                                  : cast<gpu::BlockDimOp>(op).getDimension();
    unsigned di = unsigned(d);
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      uint64_t tid[3] = {t % block[0], (t / block[0]) % block[1],
                         t / (block[0] * block[1])};
      uint64_t v = isa<gpu::ThreadIdOp>(op)  ? tid[di]
                   : isa<gpu::BlockIdOp>(op) ? bid[di]
                                             : block[di];
      env[t][op->getResult(0)] = Val{{v}};
    }
    return;
  }
  if (isa<gpu::BarrierOp, nvgpu::DeviceAsyncCreateGroupOp,
          nvgpu::DeviceAsyncWaitOp, NVVM::CpAsyncWaitGroupOp, NVVM::SyncWarpOp>(
          op)) {
    // Lock step: every thread is here; async copies completed eagerly.
    if (auto g = dyn_cast<nvgpu::DeviceAsyncCreateGroupOp>(op))
      setAll(g.getResult(), Val{{0}});
    return;
  }

  // Integer arithmetic (index, i8, i32, vectors of them).
  auto intBin = [&](auto f) {
    unsigned w = bitWidth(et);
    elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      return f(APInt(w, in[0]), APInt(w, in[1])).getZExtValue();
    });
  };
  if (isa<arith::AddIOp>(op))
    return intBin([](APInt a, APInt b) { return a + b; });
  if (isa<arith::SubIOp>(op))
    return intBin([](APInt a, APInt b) { return a - b; });
  if (isa<arith::MulIOp>(op))
    return intBin([](APInt a, APInt b) { return a * b; });
  if (isa<arith::DivUIOp>(op))
    return intBin([](APInt a, APInt b) { return a.udiv(b); });
  if (isa<arith::RemUIOp>(op))
    return intBin([](APInt a, APInt b) { return a.urem(b); });
  if (isa<arith::AndIOp>(op))
    return intBin([](APInt a, APInt b) { return a & b; });
  if (isa<arith::OrIOp>(op))
    return intBin([](APInt a, APInt b) { return a | b; });
  if (isa<arith::XOrIOp>(op))
    return intBin([](APInt a, APInt b) { return a ^ b; });
  if (isa<arith::MaxUIOp>(op))
    return intBin([](APInt a, APInt b) { return a.ugt(b) ? a : b; });
  auto shift = [&](auto f) {
    unsigned w = bitWidth(et);
    elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APInt a(w, in[0]);
      uint64_t s = APInt(w, in[1]).getZExtValue();
      if (s >= w)
        fatal("shift amount " + Twine(s) + " >= bit width (poison)");
      return f(a, unsigned(s)).getZExtValue();
    });
  };
  if (isa<arith::ShLIOp>(op))
    return shift([](APInt a, unsigned s) { return a.shl(s); });
  if (isa<arith::ShRSIOp>(op))
    return shift([](APInt a, unsigned s) { return a.ashr(s); });
  if (isa<arith::ShRUIOp>(op))
    return shift([](APInt a, unsigned s) { return a.lshr(s); });
  if (auto c = dyn_cast<arith::CmpIOp>(op)) {
    Type it = elementType(c.getLhs().getType());
    unsigned w = bitWidth(it);
    auto pred = c.getPredicate();
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) -> uint64_t {
      APInt a(w, in[0]), b(w, in[1]);
      switch (pred) {
      case arith::CmpIPredicate::eq:
        return a == b;
      case arith::CmpIPredicate::ne:
        return a != b;
      case arith::CmpIPredicate::ult:
        return a.ult(b);
      case arith::CmpIPredicate::ule:
        return a.ule(b);
      case arith::CmpIPredicate::ugt:
        return a.ugt(b);
      case arith::CmpIPredicate::uge:
        return a.uge(b);
      case arith::CmpIPredicate::slt:
        return a.slt(b);
      case arith::CmpIPredicate::sle:
        return a.sle(b);
      case arith::CmpIPredicate::sgt:
        return a.sgt(b);
      case arith::CmpIPredicate::sge:
        return a.sge(b);
      }
      return 0;
    });
  }
  if (isa<arith::SelectOp>(op))
    return elementwise(op, active, [](ArrayRef<uint64_t> in) {
      return in[0] & 1 ? in[1] : in[2];
    });
  if (isa<arith::ExtUIOp>(op)) {
    unsigned w = bitWidth(elementType(op->getOperand(0).getType()));
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      return APInt(w, in[0]).getZExtValue();
    });
  }
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp>(op)) {
    unsigned wi = bitWidth(elementType(op->getOperand(0).getType()));
    unsigned wo = bitWidth(et);
    bool sext = isa<arith::IndexCastOp>(op);
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APInt a(wi, in[0]);
      return (sext ? a.sextOrTrunc(wo) : a.zextOrTrunc(wo)).getZExtValue();
    });
  }
  // Floats.
  auto fBin = [&](auto f) {
    elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]), b = toFloat(et, in[1]);
      f(a, b);
      return fromFloat(a);
    });
  };
  if (isa<arith::AddFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) {
      a.add(b, APFloat::rmNearestTiesToEven);
    });
  if (isa<arith::MulFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) {
      a.multiply(b, APFloat::rmNearestTiesToEven);
    });
  if (isa<arith::SubFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) {
      a.subtract(b, APFloat::rmNearestTiesToEven);
    });
  if (isa<arith::DivFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) {
      a.divide(b, APFloat::rmNearestTiesToEven);
    });
  if (isa<arith::MaxNumFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) { a = llvm::maxnum(a, b); });
  if (isa<arith::MaximumFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) { a = llvm::maximum(a, b); });
  if (isa<arith::MinimumFOp>(op))
    return fBin([](APFloat &a, const APFloat &b) { a = llvm::minimum(a, b); });
  if (isa<math::AbsFOp>(op))
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      return fromFloat(llvm::abs(toFloat(et, in[0])));
    });
  if (isa<math::RoundEvenOp, math::RoundOp>(op)) {
    auto mode = isa<math::RoundEvenOp>(op) ? APFloat::rmNearestTiesToEven
                                           : APFloat::rmNearestTiesToAway;
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]);
      a.roundToIntegral(mode);
      return fromFloat(a);
    });
  }
  if (auto c = dyn_cast<arith::CmpFOp>(op)) {
    Type ft = elementType(c.getLhs().getType());
    auto pred = c.getPredicate();
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) -> uint64_t {
      APFloat::cmpResult r = toFloat(ft, in[0]).compare(toFloat(ft, in[1]));
      bool unord = r == APFloat::cmpUnordered;
      switch (pred) {
      case arith::CmpFPredicate::OEQ:
        return r == APFloat::cmpEqual;
      case arith::CmpFPredicate::UNO:
        return unord;
      case arith::CmpFPredicate::ONE:
        return !unord && r != APFloat::cmpEqual;
      case arith::CmpFPredicate::UNE:
        return r != APFloat::cmpEqual;
      case arith::CmpFPredicate::OLT:
        return r == APFloat::cmpLessThan;
      case arith::CmpFPredicate::OGT:
        return r == APFloat::cmpGreaterThan;
      case arith::CmpFPredicate::OGE:
        return r == APFloat::cmpGreaterThan || r == APFloat::cmpEqual;
      case arith::CmpFPredicate::OLE:
        return r == APFloat::cmpLessThan || r == APFloat::cmpEqual;
      default:
        fatal("unsupported arith.cmpf predicate");
      }
    });
  }
  if (isa<arith::FPToSIOp>(op)) {
    Type ft = elementType(op->getOperand(0).getType());
    unsigned w = bitWidth(et);
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      llvm::APSInt r(w, /*isUnsigned=*/false);
      bool exact;
      if (toFloat(ft, in[0]).convertToInteger(r, APFloat::rmTowardZero,
                                              &exact) &
          APFloat::opInvalidOp)
        fatal("fptosi of a value out of range (poison)");
      return r.getZExtValue();
    });
  }
  if (isa<arith::TruncIOp>(op)) {
    unsigned w = bitWidth(et);
    Type it = elementType(op->getOperand(0).getType());
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      return toInt(it, in[0]).trunc(w).getZExtValue();
    });
  }
  if (isa<arith::NegFOp>(op))
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]);
      a.changeSign();
      return fromFloat(a);
    });
  if (isa<vector::FMAOp>(op))
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]);
      a.fusedMultiplyAdd(toFloat(et, in[1]), toFloat(et, in[2]),
                         APFloat::rmNearestTiesToEven);
      return fromFloat(a);
    });
  if (isa<arith::ExtFOp, arith::TruncFOp>(op)) {
    Type it = elementType(op->getOperand(0).getType());
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(it, in[0]);
      bool lost;
      a.convert(semantics(et), APFloat::rmNearestTiesToEven, &lost);
      return fromFloat(a);
    });
  }
  if (isa<arith::SIToFPOp>(op)) {
    Type it = elementType(op->getOperand(0).getType());
    return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
      APFloat a(semantics(et));
      a.convertFromAPInt(toInt(it, in[0]), /*isSigned=*/true,
                         APFloat::rmNearestTiesToEven);
      return fromFloat(a);
    });
  }
  if (isa<arith::BitcastOp>(op))
    return elementwise(op, active, [](ArrayRef<uint64_t> in) { return in[0]; });

  // Memory.
  if (auto x = dyn_cast<memref::ExtractAlignedPointerAsIndexOp>(op)) {
    // Workgroup buffers have shared-window addresses (what wgmma's
    // descriptors hold); parameters have none here.
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t]) {
        unsigned bi = unsigned(at(t, x.getSource()).e[0]);
        if (bi < fn.getNumArguments())
          fatal("extract_aligned_pointer_as_index of a parameter");
        env[t][x.getResult()] = Val{{sharedBase(bi)}};
      }
    return;
  }
  if (auto l = dyn_cast<memref::LoadOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &b = buffers[at(t, l.getMemRef()).e[0]];
      env[t][l.getResult()] =
          Val{{loadElem(b, offset(b, indices(t, l.getIndices()), op))}};
    }
    return;
  }
  if (auto s = dyn_cast<memref::StoreOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &b = buffers[at(t, s.getMemRef()).e[0]];
      storeElem(b, offset(b, indices(t, s.getIndices()), op),
                at(t, s.getValue()).e[0]);
    }
    return;
  }
  if (auto l = dyn_cast<vector::LoadOp>(op)) {
    int64_t n = l.getVectorType().getNumElements();
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &b = buffers[at(t, l.getBase()).e[0]];
      SmallVector<int64_t> idx = indices(t, l.getIndices());
      Val v;
      for (int64_t i = 0; i < n; ++i) {
        SmallVector<int64_t> ii(idx);
        ii.back() += i;
        v.e.push_back(loadElem(b, offset(b, ii, op)));
      }
      if (auto a = l.getAlignment())
        if (offset(b, idx, op) % *a)
          fatal("misaligned vector.load");
      env[t][l.getResult()] = v;
    }
    return;
  }
  if (auto s = dyn_cast<vector::StoreOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &b = buffers[at(t, s.getBase()).e[0]];
      SmallVector<int64_t> idx = indices(t, s.getIndices());
      const Val &v = at(t, s.getValueToStore());
      for (size_t i = 0; i < v.e.size(); ++i) {
        SmallVector<int64_t> ii(idx);
        ii.back() += int64_t(i);
        storeElem(b, offset(b, ii, op), v.e[i]);
      }
    }
    return;
  }
  if (auto c = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op)) {
    int64_t n = c.getDstElements().getZExtValue();
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &src = buffers[at(t, c.getSrc()).e[0]];
      Buffer &dst = buffers[at(t, c.getDst()).e[0]];
      SmallVector<int64_t> si = indices(t, c.getSrcIndices());
      SmallVector<int64_t> di = indices(t, c.getDstIndices());
      int64_t valid =
          c.getSrcElements() ? int64_t(at(t, c.getSrcElements()).e[0]) : n;
      if (offset(dst, di, op) % 16 || offset(src, si, op) % (n * src.elemBytes))
        fatal("misaligned cp.async");
      for (int64_t i = 0; i < n; ++i) {
        SmallVector<int64_t> dd(di);
        dd.back() += i;
        uint64_t v = 0;
        if (i < valid) {
          SmallVector<int64_t> ss(si);
          ss.back() += i;
          v = loadElem(src, offset(src, ss, op));
        }
        storeElem(dst, offset(dst, dd, op), v);
      }
      env[t][c.getAsyncToken()] = Val{{0}};
    }
    return;
  }

  // Vectors.
  if (auto fe = dyn_cast<vector::FromElementsOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t]) {
        Val r;
        for (Value v : fe.getElements())
          r.e.push_back(at(t, v).e[0]);
        env[t][fe.getResult()] = r;
      }
    return;
  }
  if (auto e = dyn_cast<vector::ExtractOp>(op)) {
    auto vt = cast<VectorType>(e.getSource().getType());
    ArrayRef<int64_t> pos = e.getStaticPosition();
    int64_t lin = 0, stride = vt.getNumElements();
    for (size_t d = 0; d < pos.size(); ++d) {
      stride /= vt.getShape()[d];
      lin += pos[d] * stride;
    }
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      const Val &s = at(t, e.getSource());
      Val r;
      r.e.assign(s.e.begin() + lin, s.e.begin() + lin + stride);
      env[t][e.getResult()] = r;
    }
    return;
  }
  if (auto ins = dyn_cast<vector::InsertOp>(op)) {
    auto vt = cast<VectorType>(ins.getDest().getType());
    ArrayRef<int64_t> pos = ins.getStaticPosition();
    int64_t lin = 0, stride = vt.getNumElements();
    for (size_t d = 0; d < pos.size(); ++d) {
      stride /= vt.getShape()[d];
      lin += pos[d] * stride;
    }
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Val r = at(t, ins.getDest());
      const Val &s = at(t, ins.getValueToStore());
      for (int64_t i = 0; i < stride; ++i)
        r.e[lin + i] = s.e[s.e.size() == 1 ? 0 : i];
      env[t][ins.getResult()] = r;
    }
    return;
  }
  if (auto b = dyn_cast<vector::BroadcastOp>(op)) {
    int64_t n = cast<VectorType>(b.getType()).getNumElements();
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        env[t][b.getResult()] =
            Val{SmallVector<uint64_t, 8>(n, at(t, b.getSource()).e[0])};
    return;
  }
  if (auto bc = dyn_cast<vector::BitCastOp>(op)) {
    unsigned wi = bitWidth(bc.getSourceVectorType().getElementType());
    unsigned wo = bitWidth(bc.getResultVectorType().getElementType());
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      const Val &s = at(t, bc.getSource());
      APInt all(unsigned(s.e.size()) * wi, 0);
      for (size_t i = 0; i < s.e.size(); ++i)
        all.insertBits(APInt(wi, s.e[i]), unsigned(i) * wi);
      Val r;
      for (unsigned i = 0; i < all.getBitWidth() / wo; ++i)
        r.e.push_back(all.extractBits(wo, i * wo).getZExtValue());
      env[t][bc.getResult()] = r;
    }
    return;
  }
  if (auto red = dyn_cast<vector::ReductionOp>(op)) {
    if (red.getKind() != vector::CombiningKind::ADD || !isa<FloatType>(et))
      fatal("unsupported vector.reduction");
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      const Val &s = at(t, red.getVector());
      APFloat acc = toFloat(et, s.e[0]);
      for (size_t i = 1; i < s.e.size(); ++i)
        acc.add(toFloat(et, s.e[i]), APFloat::rmNearestTiesToEven);
      env[t][red.getResult()] = Val{{fromFloat(acc)}};
    }
    return;
  }

  // Warp-collective ops.
  if (auto sh = dyn_cast<gpu::ShuffleOp>(op)) {
    if (sh.getMode() != gpu::ShuffleMode::XOR)
      fatal("unsupported shuffle mode");
    std::vector<Val> out(nThreads);
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      unsigned off = unsigned(at(t, sh.getOffset()).e[0]);
      unsigned src = (t & ~31u) | ((t & 31u) ^ off);
      if (!active[src])
        fatal("gpu.shuffle reads an inactive lane");
      out[t] = at(src, sh.getValue());
    }
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t]) {
        env[t][sh.getShuffleResult()] = out[t];
        env[t][sh.getValid()] = Val{{1}};
      }
    return;
  }
  if (isa<nvgpu::MmaSyncOp>(op))
    return mma(op, active, "nvgpu");
  if (auto asmOp = dyn_cast<LLVM::InlineAsmOp>(op)) {
    StringRef text = asmOp.getAsmString();
    if (text.starts_with("cvt.rni.f32.f32") ||
        text.starts_with("cvt.rzi.f32.f32")) {
      auto mode = text.starts_with("cvt.rni") ? APFloat::rmNearestTiesToEven
                                              : APFloat::rmTowardZero;
      Type f32 = Float32Type::get(op->getContext());
      return elementwise(op, active, [&](ArrayRef<uint64_t> in) {
        APFloat a = toFloat(f32, in[0]);
        a.roundToIntegral(mode);
        return fromFloat(a);
      });
    }
    if (text.starts_with("fence.proxy.async") ||
        text.starts_with("wgmma.fence") ||
        text.starts_with("wgmma.commit_group") ||
        text.starts_with("wgmma.wait_group"))
      return; // lock step: every write is visible, every wgmma complete
    if (text.contains("wgmma.mma_async"))
      return wgmma(op, active, text);
    return mma(op, active, text);
  }
  if (auto ev = dyn_cast<LLVM::ExtractValueOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        env[t][ev.getResult()] =
            Val{{at(t, ev.getContainer()).e[ev.getPosition()[0]]}};
    return;
  }

  // Control flow.
  if (auto f = dyn_cast<scf::ForOp>(op)) {
    unsigned t0 = 0;
    while (t0 < nThreads && !active[t0])
      ++t0;
    if (t0 == nThreads)
      return;
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
    return;
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
    return;
  }

  std::string s;
  llvm::raw_string_ostream os(s);
  os << *op;
  fatal("unsupported op: " + s);
}

/// mma.sync with the PTX ISA's fragment layouts. Per lane l of a warp, g =
/// l / 4 and t = l % 4.
/// - m16n8k16 (f16 / bf16 operands, f32 accumulators): A registers a0..a3
///   hold (row g, k 2t..2t+1), (g + 8, 2t..), (g, 2t + 8..), (g + 8, 2t +
///   8..); B b0, b1 hold (k 2t..2t+1, col g), (k 2t + 8.., col g).
/// - m16n8k32 (s8 or e4m3): A (g, 4t..4t+3), (g + 8, 4t..), (g, 16 + 4t..),
///   (g + 8, 16 + 4t..); B (4t..4t+3, g), (16 + 4t.., g).
/// - C/D: c0, c1 at (g, 2t), (g, 2t + 1); c2, c3 at (g + 8, 2t..).
void Emulator::mma(Operation *op, ArrayRef<bool> active, StringRef kind) {
  bool viaAsm = kind != "nvgpu";
  int64_t k;
  Type elem; // operand element type
  bool intAcc = false;
  MLIRContext *ctx = op->getContext();
  if (viaAsm) {
    if (kind.contains("m16n8k32") && kind.contains("e4m3")) {
      k = 32;
      elem = Float8E4M3FNType::get(ctx);
    } else if (kind.contains("m16n8k16") && kind.contains("bf16")) {
      k = 16;
      elem = BFloat16Type::get(ctx);
    } else {
      fatal("unsupported inline asm: " + kind);
    }
  } else {
    auto m = cast<nvgpu::MmaSyncOp>(op);
    k = cast<IntegerAttr>(m.getMmaShape()[2]).getInt();
    elem = cast<VectorType>(m.getMatrixA().getType()).getElementType();
    intAcc = isa<IntegerType>(elem);
  }
  unsigned ew = bitWidth(elem);
  Type f32 = Float32Type::get(ctx);
  for (unsigned w = 0; w < nThreads; w += 32) {
    bool any = false;
    for (unsigned l = 0; l < 32; ++l)
      any |= active[w + l];
    if (!any)
      continue;
    for (unsigned l = 0; l < 32; ++l)
      if (!active[w + l])
        fatal("mma.sync with inactive lanes");
    // Gather A [16][k], B [k][8], C [16][8] as element bits / f32 bits.
    std::vector<uint64_t> A(16 * k), B(k * 8), C(16 * 8);
    for (unsigned l = 0; l < 32; ++l) {
      unsigned g = l / 4, t = l % 4, th = w + l;
      // Operand element bits in fragment order.
      auto elems = [&](Value v, bool regsAsWords) {
        SmallVector<uint64_t> r;
        const Val &x = at(th, v);
        if (!regsAsWords)
          return SmallVector<uint64_t>(x.e.begin(), x.e.end());
        for (uint64_t word : x.e) // 32-bit registers
          for (unsigned i = 0; i < 32 / ew; ++i)
            r.push_back((word >> (i * ew)) & ((1ull << ew) - 1));
        return r;
      };
      SmallVector<uint64_t> a, b, c;
      if (viaAsm) {
        for (unsigned i = 0; i < 4; ++i)
          a.append(elems(op->getOperand(i), true));
        for (unsigned i = 4; i < 6; ++i)
          b.append(elems(op->getOperand(i), true));
        for (unsigned i = 6; i < 10; ++i)
          c.push_back(at(th, op->getOperand(i)).e[0]);
      } else {
        a = elems(op->getOperand(0), false);
        b = elems(op->getOperand(1), false);
        c = elems(op->getOperand(2), false);
      }
      unsigned per = unsigned(k) / 8; // elements per register: 2 or 4
      for (unsigned r = 0; r < 4; ++r) {
        unsigned row = g + (r % 2) * 8;
        unsigned col0 = per * t + (r / 2) * (k / 2);
        for (unsigned i = 0; i < per; ++i)
          A[row * k + col0 + i] = a[r * per + i];
      }
      for (unsigned r = 0; r < 2; ++r) {
        unsigned k0 = per * t + r * (k / 2);
        for (unsigned i = 0; i < per; ++i)
          B[(k0 + i) * 8 + g] = b[r * per + i];
      }
      for (unsigned r = 0; r < 4; ++r)
        C[(g + (r / 2) * 8) * 8 + 2 * t + r % 2] = c[r];
    }
    std::vector<uint64_t> D(16 * 8);
    for (unsigned i = 0; i < 16; ++i)
      for (unsigned j = 0; j < 8; ++j) {
        if (intAcc) {
          int64_t s = int64_t(int32_t(uint32_t(C[i * 8 + j])));
          for (unsigned kk = 0; kk < k; ++kk)
            s += int64_t(int8_t(A[i * k + kk])) * int8_t(B[kk * 8 + j]);
          s = std::clamp<int64_t>(s, INT32_MIN, INT32_MAX); // satfinite
          D[i * 8 + j] = uint32_t(int32_t(s));
        } else {
          double s = toFloat(f32, C[i * 8 + j]).convertToDouble();
          for (unsigned kk = 0; kk < k; ++kk) {
            APFloat x = toFloat(elem, A[i * k + kk]);
            APFloat y = toFloat(elem, B[kk * 8 + j]);
            bool lost;
            x.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                      &lost);
            y.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                      &lost);
            s += x.convertToDouble() * y.convertToDouble();
          }
          D[i * 8 + j] = fromFloat(APFloat(float(s)));
        }
      }
    for (unsigned l = 0; l < 32; ++l) {
      unsigned g = l / 4, t = l % 4;
      Val d;
      for (unsigned r = 0; r < 4; ++r)
        d.e.push_back(D[(g + (r / 2) * 8) * 8 + 2 * t + r % 2]);
      env[w + l][op->getResult(0)] = d;
    }
  }
}

/// wgmma.mma_async m64nNk32 .f32.e4m3.e4m3 (sm_90a) for each warpgroup
/// (128 threads): A (64 x 32) and B (N x 32, K-major) from shared memory
/// through their descriptors, no swizzle: start address (bits 0-13) << 4;
/// element (r, k) at start + (r / 8) * SBO + (k / 16) * LBO + (r % 8) *
/// 16 + k % 16, LBO (bits 16-29) << 4, SBO (bits 32-45) << 4. D = A B^T +
/// (scale-d ? C : 0), products summed exactly (f64) and rounded to f32
/// once. Operands: the descriptors, scale-d, then the N / 2 accumulators
/// tied to the results; fragment of thread 32w + 4g + t: element 4j + r
/// is row 16w + g + 8 (r / 2), column 8j + 2t + r % 2.
void Emulator::wgmma(Operation *op, ArrayRef<bool> active, StringRef text) {
  size_t shapeAt = text.find(".m64n");
  if (shapeAt == StringRef::npos || !text.contains(".f32.e4m3.e4m3"))
    fatal("unsupported wgmma: " + text);
  unsigned n = 0;
  if (text.drop_front(shapeAt + 5)
          .take_while([](char c) { return c != 'k'; })
          .getAsInteger(10, n) ||
      !text.contains("k32") || n % 8 || op->getNumOperands() != 3 + n / 2)
    fatal("unsupported wgmma shape: " + text);
  MLIRContext *ctx = op->getContext();
  Type e4m3 = Float8E4M3FNType::get(ctx), f32 = Float32Type::get(ctx);
  for (unsigned w0 = 0; w0 < nThreads; w0 += 128) {
    bool any = false, all = true;
    for (unsigned l = 0; l < 128 && w0 + l < nThreads; ++l) {
      any |= active[w0 + l];
      all &= active[w0 + l];
    }
    if (!any)
      continue;
    if (!all || w0 + 128 > nThreads)
      fatal("wgmma without its whole warpgroup");
    uint64_t da = at(w0, op->getOperand(0)).e[0];
    uint64_t db = at(w0, op->getOperand(1)).e[0];
    bool scaleD = at(w0, op->getOperand(2)).e[0] & 0xFFFFFFFF;
    for (unsigned l = 1; l < 128; ++l)
      if (at(w0 + l, op->getOperand(0)).e[0] != da ||
          at(w0 + l, op->getOperand(1)).e[0] != db)
        fatal("wgmma descriptors differ across the warpgroup");
    auto element = [&](uint64_t desc, unsigned r, unsigned k) {
      if (desc >> 62)
        fatal("wgmma descriptor with swizzling (not emulated)");
      uint64_t start = (desc & 0x3FFF) << 4;
      uint64_t lbo = ((desc >> 16) & 0x3FFF) << 4;
      uint64_t sbo = ((desc >> 32) & 0x3FFF) << 4;
      return sharedByte(start + (r / 8) * sbo + (k / 16) * lbo + (r % 8) * 16 +
                        k % 16);
    };
    auto value = [&](uint8_t bits) {
      APFloat v = toFloat(e4m3, bits);
      bool lost;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      return v.convertToDouble();
    };
    std::vector<double> A(64 * 32), B(n * 32);
    for (unsigned r = 0; r < 64; ++r)
      for (unsigned k = 0; k < 32; ++k)
        A[r * 32 + k] = value(element(da, r, k));
    for (unsigned c = 0; c < n; ++c)
      for (unsigned k = 0; k < 32; ++k)
        B[c * 32 + k] = value(element(db, c, k));
    auto where = [](unsigned l, unsigned i, unsigned &row, unsigned &col) {
      unsigned w = l / 32, g = l % 32 / 4, t = l % 4, j = i / 4, r = i % 4;
      row = 16 * w + g + 8 * (r / 2);
      col = 8 * j + 2 * t + r % 2;
    };
    for (unsigned l = 0; l < 128; ++l) {
      Val d;
      for (unsigned i = 0; i < n / 2; ++i) {
        unsigned row, col;
        where(l, i, row, col);
        double sum = scaleD
                         ? toFloat(f32, at(w0 + l, op->getOperand(3 + i)).e[0])
                               .convertToDouble()
                         : 0.0;
        for (unsigned k = 0; k < 32; ++k)
          sum += A[row * 32 + k] * B[col * 32 + k];
        d.e.push_back(fromFloat(APFloat(float(sum))));
      }
      env[w0 + l][op->getResult(0)] = d;
    }
  }
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(emulateCategory);
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "run a lowbit GPU kernel on the CPU\n");
  DialectRegistry registry;
  lowbit::registerLowbitDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  llvm::SourceMgr sm;
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!file)
    fatal("cannot read " + inputFile);
  sm.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diag(sm, &ctx);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sm, &ctx);
  if (!module)
    return 1;
  Emulator em;
  module->walk([&](gpu::GPUFuncOp f) {
    if (f.getName() == kernelName)
      em.fn = f;
  });
  if (!em.fn)
    fatal("no gpu.func @" + kernelName);
  auto known = em.fn.getKnownBlockSizeAttr();
  if (!known)
    fatal("kernel without known_block_size");
  for (int i = 0; i < 3; ++i)
    em.block[i] = unsigned(known[i]);
  em.nThreads = em.block[0] * em.block[1] * em.block[2];
  SmallVector<StringRef> g;
  StringRef(gridOpt).split(g, ',');
  if (g.size() != 3)
    fatal("--grid needs X,Y,Z");
  for (int i = 0; i < 3; ++i)
    if (g[i].getAsInteger(10, em.grid[i]) || !em.grid[i])
      fatal("bad --grid");
  if (argFiles.size() != em.fn.getNumArguments())
    fatal("the kernel has " + Twine(em.fn.getNumArguments()) +
          " parameters, got " + Twine(argFiles.size()) + " --arg");
  auto addBuffer = [&](MemRefType t) {
    Buffer b;
    b.type = t;
    b.elemBytes = (bitWidth(t.getElementType()) + 7) / 8;
    b.bytes.assign(size_t(t.getNumElements()) * b.elemBytes, 0xCD);
    em.buffers.push_back(std::move(b));
  };
  for (auto [i, t] : llvm::enumerate(em.fn.getArgumentTypes())) {
    auto mt = dyn_cast<MemRefType>(t);
    if (!mt || !mt.hasStaticShape())
      fatal("parameter " + Twine(i) + " is not a static memref");
    addBuffer(mt);
    std::ifstream in(argFiles[i], std::ios::binary);
    std::vector<char> data((std::istreambuf_iterator<char>(in)), {});
    if (data.size() != em.buffers.back().bytes.size())
      fatal(argFiles[i] + ": " + Twine(data.size()) + " bytes, parameter " +
            Twine(i) + " needs " + Twine(em.buffers.back().bytes.size()));
    std::memcpy(em.buffers.back().bytes.data(), data.data(), data.size());
  }
  for (Value v : em.fn.getWorkgroupAttributions())
    addBuffer(cast<MemRefType>(v.getType()));
  // Workgroup attributions are block arguments after the parameters.
  em.run();
  for (const std::string &w : writes) {
    auto [idxStr, path] = StringRef(w).split('=');
    unsigned idx;
    if (idxStr.getAsInteger(10, idx) || idx >= em.fn.getNumArguments())
      fatal("bad --write " + w);
    std::ofstream out(path.str(), std::ios::binary);
    out.write(reinterpret_cast<const char *>(em.buffers[idx].bytes.data()),
              std::streamsize(em.buffers[idx].bytes.size()));
    if (!out)
      fatal("cannot write " + path);
  }
  return 0;
}
