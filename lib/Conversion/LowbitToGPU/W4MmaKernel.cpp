//===- W4MmaKernel.cpp - 4-bit weights on mma.sync ------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-mma family: int4 (f16 scales), MXFP4 and NVFP4 weights in "mma-b"
// tiles times f16/bf16 activations, for every M, on warp-level tensor
// cores (mma.sync m16n8k16), sm_80+ (docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"
#include "Registry.h"

#include "lowbit/Conversion/Codecs.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

namespace {
/// The 4-bit kernel's configuration: warps along M (1 or 2), m16 tiles per
/// warp (1 or 2), warps along N (each 32 channels wide) and warps that
/// split K.
struct MmaTiling {
  int64_t warpsM, tilesM, warpsN, warpsK;
  int64_t rows() const { return 16 * tilesM * warpsM; }
  int64_t cols() const { return 32 * warpsN; }
  int64_t threads() const { return 32 * warpsM * warpsN * warpsK; }
};
} // namespace

/// M <= 16 (decode): 8 warps share one 32-channel weight column, each
/// taking every 8th K step (split K; their partial sums meet in shared
/// memory at the end), so N / 32 blocks of 8 warps keep many weight loads
/// in flight. Else 2 x 2 warps of 32 x 32 outputs.
static MmaTiling getMmaTiling(const KernelProblem &p) {
  return p.isDecode() ? MmaTiling{1, 1, 1, 8} : MmaTiling{2, 2, 2, 1};
}

/// W4A16 on tensor cores (mma.sync m16n8k16, f16 or bf16 operands, f32
/// accumulators, sm_80+) for every M, with the weights in the "mma-b"
/// layout (numerics::packInt4MmaB, docs/CodegenGPU.md): tiles of 32
/// channels x 32 inputs, 512 bytes, in which lane 4g + t's 16 bytes are
/// exactly its B fragments for the tile's 4 n8-tiles and 2 k16-steps. So a
/// warp reads its weights with one coalesced 16-byte load per lane and K
/// step, and dequantizes them in registers: per fragment half, the codes
/// (biased by an xor) become the mantissa of 1024 + u (bf16: 128 + u),
/// minus 1032 (136) gives q exactly, times the group's scale in the
/// operand type (q * s rounded once, the reference lowering's dequantized
/// weight when expressed in f16). X's tile goes to shared memory by
/// cp.async (rows padded to 80 bytes, zero-filled beyond M).
static void buildW4Mma(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                       const KernelProblem &p) {
  MmaTiling tiling = getMmaTiling(p);
  const int64_t bm = tiling.rows(), bn = tiling.cols(), kb = p.k / 32;
  const int64_t nb = (p.n + 31) / 32;
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  bool fp4 = p.isFP4();
  bool nv = p.isNVFP4();
  Value x = entry.getArgument(0), codes = entry.getArgument(1),
        scales = entry.getArgument(2),
        y = entry.getArgument(fn.getNumArguments() - 1);
  Value xs = fn.getWorkgroupAttributions()[0];
  Type h = p.xElem, f32 = b.getF32Type(), i32 = b.getI32Type();
  bool bf16 = h.isBF16();
  // FP4: weights as f32 products rounded once, like bf16.
  bool viaF32 = bf16 || fp4;
  auto v2h = VectorType::get({2}, h);
  auto v2f32 = VectorType::get({2}, f32);
  auto v1i32 = VectorType::get({1}, i32);
  auto v4i32 = VectorType::get({4}, i32);
  auto aType = VectorType::get({4, 2}, h);
  auto bType = VectorType::get({2, 2}, h);
  auto cType = VectorType::get({2, 2}, f32);
  auto ci32 = [&](ImplicitLocOpBuilder &ib, int64_t v) {
    return arith::ConstantOp::create(ib, ib.getI32IntegerAttr(int32_t(v)))
        .getResult();
  };
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value m0 = arith::MulIOp::create(
      b, gpu::BlockIdOp::create(b, gpu::Dimension::y), idx(b, bm));
  Value n0 = arith::MulIOp::create(
      b, gpu::BlockIdOp::create(b, gpu::Dimension::x), idx(b, bn));
  Value warpAll = arith::DivUIOp::create(b, tid, idx(b, 32));
  Value lane = arith::RemUIOp::create(b, tid, idx(b, 32));
  Value g = arith::DivUIOp::create(b, lane, idx(b, 4));
  Value t = arith::RemUIOp::create(b, lane, idx(b, 4));
  Value t2 = arith::MulIOp::create(b, t, idx(b, 2));
  int64_t warpsN = tiling.warpsN, warpsK = tiling.warpsK;
  bool splitK = warpsK > 1;
  // Warp = (wk, wm, wn): its K slice and its output tile.
  Value warp =
      arith::RemUIOp::create(b, warpAll, idx(b, tiling.warpsM * warpsN));
  Value wk = arith::DivUIOp::create(b, warpAll, idx(b, tiling.warpsM * warpsN));
  Value wm =
      arith::MulIOp::create(b, arith::DivUIOp::create(b, warp, idx(b, warpsN)),
                            idx(b, 16 * tiling.tilesM));
  Value wn = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, warp, idx(b, warpsN)), idx(b, 32));
  // This warp's 32 channels: weight tile column nbw (beyond the padded
  // N: no weights, zeros).
  Value chan0 = arith::AddIOp::create(b, n0, wn);
  Value nbw = arith::DivUIOp::create(b, chan0, idx(b, 32));
  Value hasW =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, nbw, idx(b, nb));
  Value nbSafe = arith::SelectOp::create(b, hasW, nbw, idx(b, 0));
  Value lane4 = arith::MulIOp::create(b, lane, idx(b, 4));
  // Per n8-tile: its channel for this lane, in range, and the safe index.
  SmallVector<Value> chanIn, chanSafe;
  for (int64_t ni = 0; ni < 4; ++ni) {
    Value c = arith::AddIOp::create(b, add(b, chan0, 8 * ni), g);
    Value in =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, c, idx(b, p.n));
    chanIn.push_back(in);
    chanSafe.push_back(arith::SelectOp::create(b, in, c, idx(b, 0)));
  }
  // 1024 + u (f16) or 128 + u (bf16) in each half; minus 1032 / 136.
  Value magic = ci32(b, bf16 ? 0x43004300 : 0x64006400);
  Value mask = ci32(b, 0x000F000F);
  Value bias = ci32(b, int64_t(0x88888888));
  Value offset = arith::ConstantOp::create(
      b, v2h,
      DenseElementsAttr::get(v2h, b.getFloatAttr(h, bf16 ? 136 : 1032)));
  Value zeroC = arith::ConstantOp::create(
      b, cType, DenseElementsAttr::get(cType, b.getF32FloatAttr(0.f)));
  Value zeroH = arith::ConstantOp::create(b, b.getFloatAttr(h, 0.0));
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
  // NVFP4's tensor scale (the scale is s_b * ts in f32, as the reference
  // lowering's); FP4 pairs, decoded as f16 values 2^-14 times theirs, are
  // scaled back by 2^14 exactly in f32.
  Value tensorScale;
  if (nv) {
    auto tt = cast<MemRefType>(entry.getArgument(3).getType());
    SmallVector<Value> at(tt.getRank(), idx(b, 0));
    tensorScale = memref::LoadOp::create(b, entry.getArgument(3), at);
  }
  Value pow14 = arith::ConstantOp::create(
      b, v2f32, DenseElementsAttr::get(v2f32, b.getF32FloatAttr(16384.f)));
  Value m7 = ci32(b, 0x00070007), m8 = ci32(b, 0x00080008);
  int64_t tiles = tiling.tilesM * 4;
  SmallVector<Value> init(tiles, zeroC);
  // Split K: warp wk takes K steps wk, wk + warpsK, ...; the step runs
  // only where it exists (warp-uniform), syncing its own X tile by
  // bar.warp.sync. Otherwise all warps take every step, with barriers.
  int64_t steps = (kb + warpsK - 1) / warpsK;
  int64_t copiers = splitK ? 32 : tiling.threads();
  Value copier = splitK ? lane : tid;
  auto sync = [&](ImplicitLocOpBuilder &sb) {
    if (splitK)
      NVVM::SyncWarpOp::create(sb, ci32(sb, -1));
    else
      gpu::BarrierOp::create(sb);
  };
  // The warp's weights of step kt: one 16-byte load per lane (zeros where
  // the warp has no weight column or the step does not exist). Loaded one
  // step ahead, so that a step's load is in flight during the previous
  // step's work.
  auto loadWords = [&](ImplicitLocOpBuilder &wb0, Value kt) {
    Value ok = arith::AndIOp::create(
        wb0, hasW,
        arith::CmpIOp::create(wb0, arith::CmpIPredicate::ult, kt,
                              idx(wb0, kb)));
    return scf::IfOp::create(
               wb0, ok,
               [&](OpBuilder &tb0, Location tl) {
                 ImplicitLocOpBuilder tb(tl, tb0);
                 Value v = vector::LoadOp::create(
                     tb, v4i32, codes, ValueRange{nbSafe, kt, lane4},
                     /*nontemporal=*/false, llvm::MaybeAlign(16));
                 scf::YieldOp::create(tb, v);
               },
               [&](OpBuilder &eb0, Location el) {
                 ImplicitLocOpBuilder eb(el, eb0);
                 Value z = arith::ConstantOp::create(
                     eb, v4i32,
                     DenseElementsAttr::get(v4i32, eb.getI32IntegerAttr(0)));
                 scf::YieldOp::create(eb, z);
               })
        .getResult(0);
  };
  init.push_back(loadWords(b, splitK ? wk : idx(b, 0)));
  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, steps), idx(b, 1), init,
      [&](OpBuilder &ob0, Location l0, Value step, ValueRange accW) {
        ImplicitLocOpBuilder ob(l0, ob0);
        ValueRange acc0 = accW.drop_back();
        Value cur = accW.back();
        Value kt =
            splitK
                ? arith::AddIOp::create(
                      ob, arith::MulIOp::create(ob, step, idx(ob, warpsK)), wk)
                      .getResult()
                : step;
        Value next = loadWords(ob, add(ob, kt, warpsK));
        Value has = arith::CmpIOp::create(ob, arith::CmpIPredicate::ult, kt,
                                          idx(ob, kb));
        auto ifStep = scf::IfOp::create(
            ob, has,
            [&](OpBuilder &lb0, Location l) {
              ImplicitLocOpBuilder lb(l, lb0);
              ValueRange acc = acc0;
              Value k0 = arith::MulIOp::create(lb, kt, idx(lb, 32));
              // X: bm rows x 64 bytes, chunks of 16 bytes.
              for (int64_t c0 = 0; c0 < bm * 4; c0 += copiers) {
                Value c = add(lb, copier, c0);
                Value row = arith::DivUIOp::create(lb, c, idx(lb, 4));
                Value col = arith::MulIOp::create(
                    lb, arith::RemUIOp::create(lb, c, idx(lb, 4)), idx(lb, 8));
                Value gr = arith::AddIOp::create(lb, m0, row);
                Value in = arith::CmpIOp::create(lb, arith::CmpIPredicate::ult,
                                                 gr, idx(lb, p.m));
                if (bm * 4 < c0 + copiers) // fewer chunks than threads
                  in = arith::AndIOp::create(
                      lb, in,
                      arith::CmpIOp::create(lb, arith::CmpIPredicate::ult, c,
                                            idx(lb, bm * 4)));
                auto ifC = scf::IfOp::create(
                    lb,
                    bm * 4 < c0 + copiers
                        ? arith::CmpIOp::create(lb, arith::CmpIPredicate::ult,
                                                c, idx(lb, bm * 4))
                              .getResult()
                        : arith::ConstantOp::create(lb, lb.getBoolAttr(true))
                              .getResult(),
                    [&](OpBuilder &cb0, Location cl) {
                      ImplicitLocOpBuilder cb(cl, cb0);
                      Value srow =
                          arith::SelectOp::create(cb, in, gr, idx(cb, 0));
                      Value elems = arith::SelectOp::create(cb, in, idx(cb, 8),
                                                            idx(cb, 0));
                      auto copy = nvgpu::DeviceAsyncCopyOp::create(
                          cb, nvgpu::DeviceAsyncTokenType::get(cb.getContext()),
                          xs, ValueRange{wk, row, col}, x,
                          ValueRange{srow, arith::AddIOp::create(cb, k0, col)},
                          cb.getIndexAttr(8), elems, cb.getUnitAttr());
                      // Committed now, waited for after the weights are loaded
                      // and dequantized (the two latencies overlap).
                      nvgpu::DeviceAsyncCreateGroupOp::create(
                          cb, nvgpu::DeviceAsyncTokenType::get(cb.getContext()),
                          ValueRange{copy.getAsyncToken()});
                      scf::YieldOp::create(cb);
                    });
                (void)ifC;
              }
              Value words = cur;
              // B fragments, dequantized in registers.
              SmallVector<Value> bs(8); // [ni][ks]
              for (int64_t ni = 0; ni < 4; ++ni) {
                Value w =
                    vector::ExtractOp::create(lb, words, ArrayRef<int64_t>{ni});
                if (!fp4)
                  w = arith::XOrIOp::create(lb, w, bias);
                for (int64_t ks = 0; ks < 2; ++ks) {
                  // The group's scale for these 16 inputs.
                  // Scales [N, K / g], or [N] (one group per row).
                  SmallVector<Value> sat{chanSafe[ni]};
                  if (p.wScales.getRank() == 2)
                    sat.push_back(arith::DivUIOp::create(
                        lb, add(lb, k0, 16 * ks), idx(lb, p.g)));
                  Value raw = memref::LoadOp::create(lb, scales, sat);
                  // f16 int4: q * s in f16 is the exact product rounded once;
                  // bf16 and FP4: the product in f32 (exact), rounded once.
                  Value sv;
                  if (fp4) {
                    Value byte = arith::ExtUIOp::create(lb, i32, raw);
                    sv = nv ? codecs::decodeE4M3(lb, byte)
                            : codecs::decodeE8M0(lb, byte);
                    if (nv)
                      sv = arith::MulFOp::create(lb, sv, tensorScale);
                  } else {
                    sv = viaF32
                             ? arith::ExtFOp::create(lb, f32, raw).getResult()
                             : raw;
                  }
                  sv = arith::SelectOp::create(lb, chanIn[ni], sv,
                                               viaF32 ? zeroF : zeroH);
                  Value s2 =
                      vector::BroadcastOp::create(lb, viaF32 ? v2f32 : v2h, sv);
                  Value frag = arith::ConstantOp::create(
                      lb, bType,
                      DenseElementsAttr::get(bType, lb.getFloatAttr(h, 0)));
                  for (int64_t j = 0; j < 2; ++j) {
                    int64_t pidx = 2 * ks + j;
                    Value sh =
                        pidx ? arith::ShRUIOp::create(lb, w, ci32(lb, 4 * pidx))
                                   .getResult()
                             : w;
                    Value q;
                    if (fp4) {
                      // E2M1 u = s e e m at 0..3 of each half -> the f16 bits
                      // s << 15 | e e m << 9: the value times 2^-14, exactly.
                      Value hh = arith::AndIOp::create(lb, sh, mask);
                      Value bits = arith::OrIOp::create(
                          lb,
                          arith::ShLIOp::create(
                              lb, arith::AndIOp::create(lb, hh, m7),
                              ci32(lb, 9)),
                          arith::ShLIOp::create(
                              lb, arith::AndIOp::create(lb, hh, m8),
                              ci32(lb, 12)));
                      Value pair = vector::BitCastOp::create(
                          lb, VectorType::get({2}, lb.getF16Type()),
                          vector::BroadcastOp::create(lb, v1i32, bits));
                      q = arith::MulFOp::create(
                          lb, arith::ExtFOp::create(lb, v2f32, pair), pow14);
                    } else {
                      Value bits = arith::OrIOp::create(
                          lb, arith::AndIOp::create(lb, sh, mask), magic);
                      Value pair = vector::BitCastOp::create(
                          lb, v2h,
                          vector::BroadcastOp::create(lb, v1i32, bits));
                      q = arith::SubFOp::create(lb, pair, offset);
                    }
                    // q is f32 already for FP4 (its exact value).
                    Value qf =
                        fp4 ? q
                        : viaF32
                            ? arith::ExtFOp::create(lb, v2f32, q).getResult()
                            : Value();
                    Value wv =
                        viaF32 ? arith::TruncFOp::create(
                                     lb, v2h, arith::MulFOp::create(lb, qf, s2))
                                     .getResult()
                               : arith::MulFOp::create(lb, q, s2).getResult();
                    frag = vector::InsertOp::create(lb, wv, frag,
                                                    ArrayRef<int64_t>{j});
                  }
                  bs[ni * 2 + ks] = frag;
                }
              }
              // This thread's X copies are complete, then everyone's.
              NVVM::CpAsyncWaitGroupOp::create(lb, 0);
              sync(lb);
              SmallVector<Value> out(acc);
              auto aFrag = [&](Value r, Value k) {
                return vector::LoadOp::create(lb, v2h, xs, ValueRange{wk, r, k},
                                              /*nontemporal=*/false,
                                              llvm::MaybeAlign(4))
                    .getResult();
              };
              for (int64_t ks = 0; ks < 2; ++ks) {
                Value ka = add(lb, t2, 16 * ks), kbb = add(lb, t2, 16 * ks + 8);
                for (int64_t mi = 0; mi < tiling.tilesM; ++mi) {
                  Value r = arith::AddIOp::create(lb, add(lb, wm, 16 * mi), g);
                  Value r8 = add(lb, r, 8);
                  Value a = arith::ConstantOp::create(
                      lb, aType,
                      DenseElementsAttr::get(aType, lb.getFloatAttr(h, 0)));
                  Value parts[4] = {aFrag(r, ka), aFrag(r8, ka), aFrag(r, kbb),
                                    aFrag(r8, kbb)};
                  for (int64_t jj = 0; jj < 4; ++jj)
                    a = vector::InsertOp::create(lb, parts[jj], a,
                                                 ArrayRef<int64_t>{jj});
                  for (int64_t ni = 0; ni < 4; ++ni) {
                    Value &o = out[mi * 4 + ni];
                    o = bf16
                            ? mmaInlineAsm(lb, a, bs[ni * 2 + ks], o,
                                           "m16n8k16.row.col.f32.bf16.bf16.f32")
                            : nvgpu::MmaSyncOp::create(
                                  lb, a, bs[ni * 2 + ks], o,
                                  ArrayRef<int64_t>{16, 8, 16})
                                  .getResult();
                  }
                }
              }
              // The next step's copies overwrite X's tile.
              sync(lb);
              scf::YieldOp::create(lb, out);
            },
            [&](OpBuilder &eb0, Location el) {
              scf::YieldOp::create(eb0, el, acc0);
            });
        SmallVector<Value> carried(ifStep.getResults());
        carried.push_back(next);
        scf::YieldOp::create(ob, carried);
      });
  if (splitK) {
    // Each warp's partial 16 x 32 tile to shared memory, then every thread
    // sums the warps' values of its outputs (in warp order) and stores.
    Value red = fn.getWorkgroupAttributions()[1];
    for (int64_t ni = 0; ni < 4; ++ni)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < 2; ++c) {
          Value row = add(b, g, 8 * r);
          Value col = arith::AddIOp::create(b, idx(b, 8 * ni + c), t2);
          Value v = vector::ExtractOp::create(b, loop.getResult(ni),
                                              ArrayRef<int64_t>{r, c});
          memref::StoreOp::create(b, v, red, ValueRange{wk, row, col});
        }
    gpu::BarrierOp::create(b);
    for (int64_t o0 = 0; o0 < 16 * 32; o0 += tiling.threads()) {
      Value o = add(b, tid, o0);
      Value row = arith::DivUIOp::create(b, o, idx(b, 32));
      Value col = arith::RemUIOp::create(b, o, idx(b, 32));
      Value gr = arith::AddIOp::create(b, m0, row);
      Value gc = arith::AddIOp::create(b, chan0, col);
      Value in = arith::AndIOp::create(
          b,
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, gr, idx(b, p.m)),
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, gc, idx(b, p.n)));
      auto ifIn = scf::IfOp::create(b, in, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifIn.thenBlock());
      Value sum =
          memref::LoadOp::create(b, red, ValueRange{idx(b, 0), row, col});
      for (int64_t w = 1; w < warpsK; ++w)
        sum = arith::AddFOp::create(
            b, sum,
            memref::LoadOp::create(b, red, ValueRange{idx(b, w), row, col}));
      if (!p.yElem.isF32())
        sum = arith::TruncFOp::create(b, p.yElem, sum);
      memref::StoreOp::create(b, sum, y, ValueRange{gr, gc});
    }
    gpu::ReturnOp::create(b);
    return;
  }
  for (int64_t mi = 0; mi < tiling.tilesM; ++mi)
    for (int64_t ni = 0; ni < 4; ++ni)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < 2; ++c) {
          Value row = arith::AddIOp::create(
              b, arith::AddIOp::create(b, m0, add(b, wm, 16 * mi + 8 * r)), g);
          Value col = arith::AddIOp::create(b, add(b, chan0, 8 * ni + c), t2);
          Value in = arith::AndIOp::create(
              b,
              arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row,
                                    idx(b, p.m)),
              arith::CmpIOp::create(b, arith::CmpIPredicate::ult, col,
                                    idx(b, p.n)));
          auto ifIn = scf::IfOp::create(b, in, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifIn.thenBlock());
          Value v = vector::ExtractOp::create(b, loop.getResult(mi * 4 + ni),
                                              ArrayRef<int64_t>{r, c});
          if (!p.yElem.isF32())
            v = arith::TruncFOp::create(b, p.yElem, v);
          memref::StoreOp::create(b, v, y, ValueRange{row, col});
        }
  gpu::ReturnOp::create(b);
}

static bool acceptsW4Mma(const KernelProblem &p) {
  if (!p.isMatmul() || !p.hasFourBitWeights() ||
      p.activations != ActivationFormat::Float ||
      !isa<Float16Type, BFloat16Type>(p.xElem) ||
      !isa<Float16Type, BFloat16Type, Float32Type>(p.yElem))
    return false;
  // Groups of a multiple of 32 (int4, MXFP4) or of 16 (NVFP4); K a
  // multiple of 32 (a lane's 16-byte chunk).
  if (p.m < 1 || p.g % 16 || p.k % 32 || (!p.isNVFP4() && p.g % 32))
    return false;
  // M tiles on grid.y.
  MmaTiling tiling = getMmaTiling(p);
  return p.target.hasMmaSync(p.xElem.isBF16() ? MmaOperands::BF16
                                              : MmaOperands::F16) &&
         (p.m + tiling.rows() - 1) / tiling.rows() <= kMaxGridY;
}

static KernelConfig configureW4Mma(MLIRContext *ctx, const KernelProblem &p) {
  MmaTiling tiling = getMmaTiling(p);
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  KernelConfig c;
  c.method = p.isDecode() ? "gemv" : "gemm";
  c.grid = {(p.n + tiling.cols() - 1) / tiling.cols(),
            (p.m + tiling.rows() - 1) / tiling.rows(), 1};
  c.block = {tiling.threads(), 1, 1};
  // X's tile per K-splitting warp (rows padded to 40 elements, 80 bytes);
  // with split K, the warps' partial 16 x 32 tiles.
  c.workgroup = {MemRefType::get({tiling.warpsK, tiling.rows(), 40}, p.xElem,
                                 nullptr, wg)};
  if (tiling.warpsK > 1)
    c.workgroup.push_back(MemRefType::get({tiling.warpsK, 16, 32},
                                          Float32Type::get(ctx), nullptr, wg));
  return c;
}

const KernelFamily &nvptx::getW4MmaFamily() {
  static const KernelFamily family{"w4-mma", acceptsW4Mma, configureW4Mma,
                                   buildW4Mma};
  return family;
}
