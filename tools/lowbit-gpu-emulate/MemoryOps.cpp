//===- MemoryOps.cpp - semantics of memref, vector and cp.async -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Loads and stores (bounds- and alignment-checked against the buffers'
// static shapes), cp.async with its zero fill, and the vector ops that
// build, take apart, bitcast and reduce per-thread vectors.
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit::emulate;

bool Emulator::execMemoryOp(Operation *op, ArrayRef<bool> active) {
  Type rt = op->getNumResults() ? op->getResult(0).getType() : Type();
  Type et = rt ? elementType(rt) : Type();

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
    return true;
  }
  if (auto l = dyn_cast<memref::LoadOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &b = buffers[at(t, l.getMemRef()).e[0]];
      env[t][l.getResult()] =
          Val{{loadElem(b, offset(b, indices(t, l.getIndices()), op))}};
    }
    return true;
  }
  if (auto s = dyn_cast<memref::StoreOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      Buffer &b = buffers[at(t, s.getMemRef()).e[0]];
      storeElem(b, offset(b, indices(t, s.getIndices()), op),
                at(t, s.getValue()).e[0]);
    }
    return true;
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
    return true;
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
    return true;
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
    return true;
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
    return true;
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
    return true;
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
    return true;
  }
  if (auto b = dyn_cast<vector::BroadcastOp>(op)) {
    int64_t n = cast<VectorType>(b.getType()).getNumElements();
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        env[t][b.getResult()] =
            Val{SmallVector<uint64_t, 8>(n, at(t, b.getSource()).e[0])};
    return true;
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
    return true;
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
    return true;
  }
  return false;
}
