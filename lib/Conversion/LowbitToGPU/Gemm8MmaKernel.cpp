//===- Gemm8MmaKernel.cpp - int8 and FP8 GEMMs on mma.sync ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The gemm8-mma family: int8 (sm_80+) or FP8 E4M3 (sm_89+) X and W with
// f32 scales per row or per tensor, on warp-level tensor cores
// (docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"
#include "GemmTiles.h"
#include "Registry.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

/// W8A8 GEMM on int8 tensor cores (mma.sync m16n8k32 s8 -> s32, sm_80+;
/// with E4M3 codes, E4M3 -> f32, sm_89+): per K step, the block's 64 x
/// 64-byte tiles of X and W go to shared memory with cp.async (16 bytes
/// per thread and copy; rows or K beyond the matrix are zero-filled), then
/// each warp loads its fragments with 32-bit shared loads (the PTX
/// fragment layout: A rows g and g + 8 at bytes 4t and 16 + 4t; B column
/// g at the same bytes) and issues 2 x 4 mma per 32 inputs. The exact
/// int32 sums are scaled by sx[m] sw[n] once.
static void buildGemm8Mma(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                          const KernelProblem &p) {
  bool fp8 = p.weights == WeightFormat::FP8E4M3;
  GemmThread th(b, fn);
  Value xq = th.xq, sx = th.sx, wq = th.wq, sw = th.sw, y = th.y,
        smem = th.smem, tid = th.tid, m0 = th.m0, n0 = th.n0, warp = th.warp,
        g = th.g, t = th.t;
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
  auto v4i8 = VectorType::get({4}, i8);
  auto aType = VectorType::get({4, 4}, i8);
  auto bType = VectorType::get({2, 4}, i8);
  auto cType = VectorType::get({2, 2}, fp8 ? f32 : i32);
  Value t4 = arith::MulIOp::create(b, t, idx(b, 4));
  Value wm = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, warp, idx(b, 2)), idx(b, 32));
  Value wn = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, warp, idx(b, 2)), idx(b, 32));
  Value zeroC = arith::ConstantOp::create(
      b, cType,
      DenseElementsAttr::get(cType, fp8 ? Attribute(b.getF32FloatAttr(0.f))
                                        : Attribute(b.getI32IntegerAttr(0))));
  SmallVector<Value> init(8, zeroC);
  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, p.k), idx(b, kTileK), init,
      [&](OpBuilder &ob, Location l, Value kt, ValueRange acc) {
        ImplicitLocOpBuilder lb(l, ob);
        // cp.async: 256 chunks of 16 bytes per tile, 2 per thread, into
        // rows padded to kSmemRow bytes.
        copyTilesAsync(lb, p, smem, xq, wq, tid, m0, n0, kt,
                       [&](int64_t which, Value row, Value col) {
                         return SmallVector<Value>{idx(lb, which), row, col};
                       });
        gpu::BarrierOp::create(lb);
        // FP8: each K tile's mma chain starts from zero and is added to
        // the f32 accumulators here, so that no more than 64 products pass
        // through the tensor cores' accumulator (which may keep fewer than
        // 24 mantissa bits for FP8 on sm_89/sm_90).
        SmallVector<Value> out =
            fp8 ? SmallVector<Value>(8, zeroC) : SmallVector<Value>(acc);
        auto frag = [&](int64_t which, Value r, Value k) {
          return vector::LoadOp::create(
                     lb, v4i8, smem, ValueRange{idx(lb, which), r, k},
                     /*nontemporal=*/false, llvm::MaybeAlign(4))
              .getResult();
        };
        for (int64_t ks = 0; ks < kTileK; ks += 32) {
          Value ka = add(lb, t4, ks), kb = add(lb, t4, ks + 16);
          SmallVector<Value> as, bs;
          for (int64_t mi = 0; mi < 2; ++mi) {
            Value r = arith::AddIOp::create(lb, add(lb, wm, 16 * mi), g);
            Value r8 = add(lb, r, 8);
            Value a = arith::ConstantOp::create(
                lb, aType,
                DenseElementsAttr::get(aType, lb.getI8IntegerAttr(0)));
            Value parts[4] = {frag(0, r, ka), frag(0, r8, ka), frag(0, r, kb),
                              frag(0, r8, kb)};
            for (int64_t j = 0; j < 4; ++j)
              a = vector::InsertOp::create(lb, parts[j], a,
                                           ArrayRef<int64_t>{j});
            as.push_back(a);
          }
          for (int64_t ni = 0; ni < 4; ++ni) {
            Value c = arith::AddIOp::create(lb, add(lb, wn, 8 * ni), g);
            Value bv = arith::ConstantOp::create(
                lb, bType,
                DenseElementsAttr::get(bType, lb.getI8IntegerAttr(0)));
            bv = vector::InsertOp::create(lb, frag(1, c, ka), bv,
                                          ArrayRef<int64_t>{0});
            bv = vector::InsertOp::create(lb, frag(1, c, kb), bv,
                                          ArrayRef<int64_t>{1});
            bs.push_back(bv);
          }
          for (int64_t mi = 0; mi < 2; ++mi)
            for (int64_t ni = 0; ni < 4; ++ni)
              out[mi * 4 + ni] =
                  fp8 ? mmaInlineAsm(lb, as[mi], bs[ni], out[mi * 4 + ni],
                                     "m16n8k32.row.col.f32.e4m3.e4m3.f32")
                      : nvgpu::MmaSyncOp::create(lb, as[mi], bs[ni],
                                                 out[mi * 4 + ni],
                                                 ArrayRef<int64_t>{16, 8, 32})
                            .getResult();
        }
        if (fp8)
          for (int64_t i = 0; i < 8; ++i)
            out[i] = arith::AddFOp::create(lb, acc[i], out[i]);
        // The next step's copies overwrite the tiles.
        gpu::BarrierOp::create(lb);
        scf::YieldOp::create(lb, out);
      });
  // Epilogue: element (r, c) of tile (mi, ni) is output row
  // wm + 16 mi + g + 8 r, column wn + 8 ni + 2 t + c.
  Value t2 = arith::MulIOp::create(b, t, idx(b, 2));
  for (int64_t mi = 0; mi < 2; ++mi)
    for (int64_t ni = 0; ni < 4; ++ni)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < 2; ++c) {
          Value row = arith::AddIOp::create(
              b, arith::AddIOp::create(b, m0, add(b, wm, 16 * mi + 8 * r)), g);
          Value col = arith::AddIOp::create(
              b, arith::AddIOp::create(b, n0, add(b, wn, 8 * ni + c)), t2);
          storeScaled(b, p,
                      vector::ExtractOp::create(b, loop.getResult(mi * 4 + ni),
                                                ArrayRef<int64_t>{r, c}),
                      row, col, sx, sw, y);
        }
  gpu::ReturnOp::create(b);
}

static bool acceptsGemm8Mma(const KernelProblem &p) {
  return isGemm8Problem(p) &&
         p.target.hasMmaSync(p.weights == WeightFormat::FP8E4M3
                                 ? MmaOperands::FP8E4M3
                                 : MmaOperands::Int8);
}

static KernelConfig configureGemm8Mma(MLIRContext *ctx,
                                      const KernelProblem &p) {
  KernelConfig c;
  c.method = "gemm";
  setGemm8Launch(p, c.grid, c.block);
  // X's and W's tiles, rows padded to kSmemRow bytes.
  c.workgroup = {MemRefType::get(
      {2, kTileM, kSmemRow}, IntegerType::get(ctx, 8), nullptr,
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup))};
  // mma.sync on FP8 operands needs PTX ISA 8.4 (CUDA 12.4 drivers).
  c.needsPtx84 = p.weights == WeightFormat::FP8E4M3;
  return c;
}

const KernelFamily &nvptx::getGemm8MmaFamily() {
  static const KernelFamily family{"gemm8-mma", acceptsGemm8Mma,
                                   configureGemm8Mma, buildGemm8Mma};
  return family;
}
