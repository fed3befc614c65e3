//===- FP8WgmmaKernel.cpp - FP8 GEMM on Hopper's wgmma --------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The fp8-wgmma family: FP8 E4M3 X and W with f32 scales per row or per
// tensor on Hopper's warpgroup tensor cores, sm_90a (docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"
#include "GemmTiles.h"
#include "Registry.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <string>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

// wgmma's shared memory tiles without swizzle (K-major "interleave"): core
// matrices of 8 rows x 16 bytes stored contiguously (128 bytes); along K
// the next core matrix is kWgLBO bytes on, along M/N the next 8 rows
// kWgSBO bytes on. A 64 x 64-byte tile is 8 x 4 core matrices (4 KiB).
constexpr int64_t kWgLBO = 128, kWgSBO = 512, kWgTile = 4096;

/// FP8 E4M3 GEMM on Hopper's warpgroup tensor cores (sm_90a): one
/// warpgroup (4 warps, 128 threads) per 64 x 64 output tile, K in steps of
/// 64. Per step the X and W tiles go to shared memory by cp.async in the
/// core-matrix layout above (zero-filled beyond M, N, K), a proxy fence
/// makes them visible to the tensor cores' async proxy, and two
/// `wgmma.mma_async m64n64k32.f32.e4m3.e4m3` (shared memory descriptors
/// for both operands), in one asm block with the wgmma fence, commit and
/// wait, multiply them; as in the mma.sync kernel each step's chain
/// starts from zero (scale-d = 0) and is added to f32 accumulators outside, and
/// the exact-to-f32 sums are scaled by sx[m] sw[n] once. The accumulator
/// fragment (PTX ISA, wgmma D for m64nN): thread 32w + 4g + t holds, for n8
/// block j, rows 16w + g (+ 8) and columns 8j + 2t (+ 1).
static void buildFP8Wgmma(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                          const KernelProblem &p) {
  GemmThread th(b, fn);
  Value xq = th.xq, sx = th.sx, wq = th.wq, sw = th.sw, y = th.y,
        smem = th.smem, tid = th.tid, m0 = th.m0, n0 = th.n0, warp = th.warp,
        g = th.g, t = th.t;
  Type f32 = b.getF32Type();
  auto accType = VectorType::get({32}, f32);
  Value zeroAcc = arith::ConstantOp::create(
      b, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.f)));
  // The tiles' shared memory address, and a descriptor of the tile at
  // byte `off` from it: start address >> 4 (bits 0-13), LBO >> 4 (16-29),
  // SBO >> 4 (32-45), no swizzle (bits 62-63 zero).
  Value base = arith::IndexCastOp::create(
      b, b.getI64Type(),
      memref::ExtractAlignedPointerAsIndexOp::create(b, smem));
  auto c64 = [&](ImplicitLocOpBuilder &lb, int64_t v) {
    return arith::ConstantOp::create(lb, lb.getI64IntegerAttr(v)).getResult();
  };
  auto descriptor = [&](ImplicitLocOpBuilder &lb, int64_t off) {
    Value a = arith::AddIOp::create(lb, base, c64(lb, off));
    a = arith::ShRUIOp::create(
        lb, arith::AndIOp::create(lb, a, c64(lb, 0x3FFFF)), c64(lb, 4));
    return arith::OrIOp::create(
               lb, a, c64(lb, ((kWgLBO >> 4) << 16) | ((kWgSBO >> 4) << 32)))
        .getResult();
  };
  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, p.k), idx(b, kTileK), ValueRange{zeroAcc},
      [&](OpBuilder &ob, Location l, Value kt, ValueRange acc) {
        ImplicitLocOpBuilder lb(l, ob);
        copyTilesAsync(
            lb, p, smem, xq, wq, tid, m0, n0, kt,
            [&](int64_t which, Value row, Value col) {
              // ((row / 8) * 4 + col / 16) * 128 + (row % 8) * 16.
              Value core = arith::AddIOp::create(
                  lb,
                  arith::MulIOp::create(
                      lb, arith::DivUIOp::create(lb, row, idx(lb, 8)),
                      idx(lb, kWgSBO / kWgLBO)),
                  arith::DivUIOp::create(lb, col, idx(lb, 16)));
              Value off = arith::AddIOp::create(
                  lb, arith::MulIOp::create(lb, core, idx(lb, kWgLBO)),
                  arith::MulIOp::create(
                      lb, arith::RemUIOp::create(lb, row, idx(lb, 8)),
                      idx(lb, 16)));
              return SmallVector<Value>{
                  arith::AddIOp::create(lb, off, idx(lb, which * kWgTile))};
            });
        // cp.async wrote through the generic proxy; wgmma reads through
        // the async proxy.
        ptxStatement(lb, "fence.proxy.async.shared::cta;");
        gpu::BarrierOp::create(lb);
        // One asm block from wgmma.fence to wgmma.wait_group (PTX ISA,
        // wgmma.fence): the fence must come after every other access of
        // the accumulator registers and before the first wgmma.mma_async
        // that uses them, and no instruction may touch them until
        // wait_group. As separate statements LLVM materializes tied
        // accumulator inputs (and may schedule reads of the results)
        // between fence and wgmma, or before wait_group: registers the
        // async wgmma owns (ptxas 13 then injects warpgroup.arrive,
        // message C7519; a driver's JIT need not). Here the accumulators
        // are outputs only: the first wgmma has scale-d = 0 (D = A B, D's
        // old value unread), the next ones accumulate in the tensor core.
        // Early-clobber: the wgmmas write D while the block still reads
        // inputs. Operands: per wgmma its A and B descriptors and scale-d.
        auto reg = [](int64_t i) { return "$" + std::to_string(i); };
        std::string regs, cons,
            text = "{\n.reg .pred p;\nwgmma.fence.sync.aligned;\n";
        for (int64_t i = 0; i < 32; ++i) {
          regs += (i ? "," : "") + reg(i);
          cons += "=&f,";
        }
        SmallVector<Value> operands;
        for (int64_t ks = 0; ks < kTileK / 32; ++ks) {
          // k32: two core matrices along K.
          int64_t o = 32 + 3 * ks;
          operands.push_back(descriptor(lb, ks * 2 * kWgLBO));
          operands.push_back(descriptor(lb, kWgTile + ks * 2 * kWgLBO));
          operands.push_back(arith::ConstantOp::create(
              lb, lb.getI32IntegerAttr(ks == 0 ? 0 : 1)));
          text += "setp.ne.b32 p, " + reg(o + 2) +
                  ", 0;\nwgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 "
                  "{" +
                  regs + "}, " + reg(o) + ", " + reg(o + 1) + ", p, 1, 1;\n";
          cons += std::string(ks ? "," : "") + "l,l,r";
        }
        text += "wgmma.commit_group.sync.aligned;\n"
                "wgmma.wait_group.sync.aligned 0;\n}";
        auto st = LLVM::LLVMStructType::getLiteral(lb.getContext(),
                                                   SmallVector<Type>(32, f32));
        auto op = LLVM::InlineAsmOp::create(
            lb, st, operands, text, cons, /*has_side_effects=*/true,
            /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
            LLVM::AsmDialectAttr(), ArrayAttr());
        SmallVector<Value> d;
        for (int64_t i = 0; i < 32; ++i)
          d.push_back(LLVM::ExtractValueOp::create(lb, op.getResult(0),
                                                   ArrayRef<int64_t>{i}));
        Value sum = vector::FromElementsOp::create(lb, accType, d);
        Value next = arith::AddFOp::create(lb, acc[0], sum);
        // The next step's copies overwrite the tiles.
        gpu::BarrierOp::create(lb);
        scf::YieldOp::create(lb, next);
      });
  // Epilogue: element 4j + r is row 16w + g + 8 (r / 2), column 8j + 2t +
  // r % 2 of the tile.
  Value rowBase = arith::AddIOp::create(
      b, m0,
      arith::AddIOp::create(b, arith::MulIOp::create(b, warp, idx(b, 16)), g));
  Value colBase =
      arith::AddIOp::create(b, n0, arith::MulIOp::create(b, t, idx(b, 2)));
  for (int64_t i = 0; i < 32; ++i) {
    int64_t j = i / 4, r = i % 4;
    Value row = arith::AddIOp::create(b, rowBase, idx(b, 8 * (r / 2)));
    Value col = arith::AddIOp::create(b, colBase, idx(b, 8 * j + r % 2));
    storeScaled(
        b, p,
        vector::ExtractOp::create(b, loop.getResult(0), ArrayRef<int64_t>{i}),
        row, col, sx, sw, y);
  }
  gpu::ReturnOp::create(b);
}

static bool acceptsFP8Wgmma(const KernelProblem &p) {
  return isGemm8Problem(p) && p.weights == WeightFormat::FP8E4M3 &&
         p.target.hasWgmma();
}

static KernelConfig configureFP8Wgmma(MLIRContext *ctx,
                                      const KernelProblem &p) {
  KernelConfig c;
  c.method = "wgmma_gemm";
  setGemm8Launch(p, c.grid, c.block);
  // X's and W's tiles in the core-matrix layout, one after the other.
  c.workgroup = {MemRefType::get(
      {2 * kWgTile}, IntegerType::get(ctx, 8), nullptr,
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup))};
  c.needsPtx84 = true;
  return c;
}

const KernelFamily &nvptx::getFP8WgmmaFamily() {
  static const KernelFamily family{"fp8-wgmma", acceptsFP8Wgmma,
                                   configureFP8Wgmma, buildFP8Wgmma};
  return family;
}
