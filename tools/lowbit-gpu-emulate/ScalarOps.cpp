//===- ScalarOps.cpp - semantics of arith, math and gpu ids ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Per-thread scalar and elementwise ops: constants, thread / block ids,
// barriers (no-ops in lock step), integer arithmetic through APInt, float
// arithmetic and conversions through APFloat with IEEE round-to-nearest-
// even, as PTX performs them.
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/APSInt.h"

using namespace mlir;
using namespace mlir::lowbit::emulate;

bool Emulator::execScalarOp(Operation *op, ArrayRef<bool> active) {
  auto each = [&](auto f) {
    elementwise(op, active, f);
    return true;
  };
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
    return true;
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
    return true;
  }
  if (isa<gpu::BarrierOp, nvgpu::DeviceAsyncCreateGroupOp,
          nvgpu::DeviceAsyncWaitOp, NVVM::CpAsyncWaitGroupOp, NVVM::SyncWarpOp>(
          op)) {
    // Lock step: every thread is here; async copies completed eagerly.
    if (auto g = dyn_cast<nvgpu::DeviceAsyncCreateGroupOp>(op))
      setAll(g.getResult(), Val{{0}});
    return true;
  }

  // Integer arithmetic (index, i8, i32, vectors of them).
  auto intBin = [&](auto f) {
    unsigned w = bitWidth(et);
    return each([&](ArrayRef<uint64_t> in) {
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
    return each([&](ArrayRef<uint64_t> in) {
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
    return each([&](ArrayRef<uint64_t> in) -> uint64_t {
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
    return each(
        [](ArrayRef<uint64_t> in) { return in[0] & 1 ? in[1] : in[2]; });
  if (isa<arith::ExtUIOp>(op)) {
    unsigned w = bitWidth(elementType(op->getOperand(0).getType()));
    return each(
        [&](ArrayRef<uint64_t> in) { return APInt(w, in[0]).getZExtValue(); });
  }
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp>(op)) {
    unsigned wi = bitWidth(elementType(op->getOperand(0).getType()));
    unsigned wo = bitWidth(et);
    bool sext = isa<arith::IndexCastOp>(op);
    return each([&](ArrayRef<uint64_t> in) {
      APInt a(wi, in[0]);
      return (sext ? a.sextOrTrunc(wo) : a.zextOrTrunc(wo)).getZExtValue();
    });
  }
  // Floats.
  auto fBin = [&](auto f) {
    return each([&](ArrayRef<uint64_t> in) {
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
    return each([&](ArrayRef<uint64_t> in) {
      return fromFloat(llvm::abs(toFloat(et, in[0])));
    });
  if (isa<math::RoundEvenOp, math::RoundOp>(op)) {
    auto mode = isa<math::RoundEvenOp>(op) ? APFloat::rmNearestTiesToEven
                                           : APFloat::rmNearestTiesToAway;
    return each([&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]);
      a.roundToIntegral(mode);
      return fromFloat(a);
    });
  }
  if (auto c = dyn_cast<arith::CmpFOp>(op)) {
    Type ft = elementType(c.getLhs().getType());
    auto pred = c.getPredicate();
    return each([&](ArrayRef<uint64_t> in) -> uint64_t {
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
    return each([&](ArrayRef<uint64_t> in) {
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
    return each([&](ArrayRef<uint64_t> in) {
      return toInt(it, in[0]).trunc(w).getZExtValue();
    });
  }
  if (isa<arith::NegFOp>(op))
    return each([&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]);
      a.changeSign();
      return fromFloat(a);
    });
  if (isa<vector::FMAOp>(op))
    return each([&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(et, in[0]);
      a.fusedMultiplyAdd(toFloat(et, in[1]), toFloat(et, in[2]),
                         APFloat::rmNearestTiesToEven);
      return fromFloat(a);
    });
  if (isa<arith::ExtFOp, arith::TruncFOp>(op)) {
    Type it = elementType(op->getOperand(0).getType());
    return each([&](ArrayRef<uint64_t> in) {
      APFloat a = toFloat(it, in[0]);
      bool lost;
      a.convert(semantics(et), APFloat::rmNearestTiesToEven, &lost);
      return fromFloat(a);
    });
  }
  if (isa<arith::SIToFPOp>(op)) {
    Type it = elementType(op->getOperand(0).getType());
    return each([&](ArrayRef<uint64_t> in) {
      APFloat a(semantics(et));
      a.convertFromAPInt(toInt(it, in[0]), /*isSigned=*/true,
                         APFloat::rmNearestTiesToEven);
      return fromFloat(a);
    });
  }
  if (isa<arith::BitcastOp>(op))
    return each([](ArrayRef<uint64_t> in) { return in[0]; });
  return false;
}
