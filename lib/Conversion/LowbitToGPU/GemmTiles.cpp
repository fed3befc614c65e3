//===- GemmTiles.cpp - the 8-bit GEMMs' shared tiles ----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Staging by cp.async, the thread's place and the scaled epilogue of the
// 64 x 64-tile GEMMs.
//
//===----------------------------------------------------------------------===//

#include "GemmTiles.h"
#include "Emitters.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

bool nvptx::isGemm8Problem(const KernelProblem &p) {
  bool int8 = p.weights == WeightFormat::Int8 &&
              p.activations == ActivationFormat::Int8;
  bool fp8 = p.weights == WeightFormat::FP8E4M3 &&
             p.activations == ActivationFormat::FP8E4M3;
  return p.isMatmul() && (int8 || fp8) &&
         isa<Float16Type, Float32Type>(p.yElem) && p.k % 16 == 0 &&
         p.k < (int64_t(1) << 31) / (128 * 128) &&
         (p.m + kTileM - 1) / kTileM <= kMaxGridY;
}

void nvptx::setGemm8Launch(const KernelProblem &p, std::array<int64_t, 3> &grid,
                           std::array<int64_t, 3> &block) {
  grid = {(p.n + kTileN - 1) / kTileN, (p.m + kTileM - 1) / kTileM, 1};
  block = {128, 1, 1};
}

GemmThread::GemmThread(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn) {
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  xq = entry.getArgument(0);
  sx = entry.getArgument(1);
  wq = entry.getArgument(2);
  sw = entry.getArgument(3);
  y = entry.getArgument(4);
  smem = fn.getWorkgroupAttributions()[0];
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  m0 = arith::MulIOp::create(b, gpu::BlockIdOp::create(b, gpu::Dimension::y),
                             idx(b, kTileM));
  n0 = arith::MulIOp::create(b, gpu::BlockIdOp::create(b, gpu::Dimension::x),
                             idx(b, kTileN));
  warp = arith::DivUIOp::create(b, tid, idx(b, 32));
  Value lane = arith::RemUIOp::create(b, tid, idx(b, 32));
  g = arith::DivUIOp::create(b, lane, idx(b, 4));
  t = arith::RemUIOp::create(b, lane, idx(b, 4));
}

void nvptx::copyTilesAsync(
    ImplicitLocOpBuilder &lb, const KernelProblem &p, Value smem, Value xq,
    Value wq, Value tid, Value m0, Value n0, Value kt,
    function_ref<SmallVector<Value>(int64_t, Value, Value)> dst) {
  SmallVector<Value> tokens;
  for (int64_t i = 0; i < 2; ++i) {
    Value c = arith::AddIOp::create(lb, tid, idx(lb, 128 * i));
    Value row = arith::DivUIOp::create(lb, c, idx(lb, 4));
    Value col = arith::MulIOp::create(
        lb, arith::RemUIOp::create(lb, c, idx(lb, 4)), idx(lb, 16));
    Value gk = arith::AddIOp::create(lb, kt, col);
    Value kIn =
        arith::CmpIOp::create(lb, arith::CmpIPredicate::ult, gk, idx(lb, p.k));
    for (int64_t which = 0; which < 2; ++which) {
      Value base = which ? n0 : m0;
      int64_t bound = which ? p.n : p.m;
      Value gr = arith::AddIOp::create(lb, base, row);
      Value in = arith::AndIOp::create(
          lb, kIn,
          arith::CmpIOp::create(lb, arith::CmpIPredicate::ult, gr,
                                idx(lb, bound)));
      Value srow = arith::SelectOp::create(lb, in, gr, idx(lb, 0));
      Value scol = arith::SelectOp::create(lb, in, gk, idx(lb, 0));
      Value bytes = arith::SelectOp::create(lb, in, idx(lb, 16), idx(lb, 0));
      auto copy = nvgpu::DeviceAsyncCopyOp::create(
          lb, nvgpu::DeviceAsyncTokenType::get(lb.getContext()), smem,
          dst(which, row, col), which ? wq : xq, ValueRange{srow, scol},
          lb.getIndexAttr(16), bytes, lb.getUnitAttr());
      tokens.push_back(copy.getAsyncToken());
    }
  }
  Value group = nvgpu::DeviceAsyncCreateGroupOp::create(
      lb, nvgpu::DeviceAsyncTokenType::get(lb.getContext()), tokens);
  nvgpu::DeviceAsyncWaitOp::create(lb, group, IntegerAttr());
}

/// One element of a scales part: row `row` of a per-row part, else the
/// only one.
static Value loadScale(ImplicitLocOpBuilder &b, Value part, bool perRow,
                       Value row) {
  auto t = cast<MemRefType>(part.getType());
  SmallVector<Value> at;
  for (int64_t d = 0; d < t.getRank(); ++d)
    at.push_back(perRow && d == 0 ? row : idx(b, 0));
  return memref::LoadOp::create(b, part, at);
}

void nvptx::storeScaled(ImplicitLocOpBuilder &b, const KernelProblem &p,
                        Value v, Value row, Value col, Value sx, Value sw,
                        Value y) {
  Value in = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, idx(b, p.m)),
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, col, idx(b, p.n)));
  auto ifIn = scf::IfOp::create(b, in, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifIn.thenBlock());
  Value f = isa<FloatType>(v.getType())
                ? v
                : arith::SIToFPOp::create(b, b.getF32Type(), v).getResult();
  Value scale =
      arith::MulFOp::create(b, loadScale(b, sx, p.xScalePerRow(), row),
                            loadScale(b, sw, p.wScalePerRow(), col));
  f = arith::MulFOp::create(b, f, scale);
  if (!p.yElem.isF32())
    f = arith::TruncFOp::create(b, p.yElem, f);
  memref::StoreOp::create(b, f, y, ValueRange{row, col});
}
