//===- QMatmulToGPU.cpp - quantized matmuls to GPU kernels ----------------===//
//
// GPU code generation (docs/CodegenGPU.md): `lowbit-gpu-kernels` builds a
// gpu.func kernel per covered qmatmul problem in `gpu.module @lowbit_gpu`
// (NVVM target) and records on the op how to launch it; `lowbit-write-ptx`
// writes the PTX that `gpu-module-to-binary` made, with a manifest.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"

#include "lowbit/Conversion/Codecs.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITGPUKERNELS
#define GEN_PASS_DEF_LOWBITWRITEPTX
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

using gpunames::kKernelAttr;
using gpunames::kLaunchAttr;
using gpunames::kParamsAttr;
constexpr StringLiteral kGpuModuleName = gpunames::kModuleName;

/// Y[M, N] = X[M, K] (f16) * W[N, K]^T, W int4 in groups of g along K with
/// f16 scales.
struct W4A16Problem {
  int64_t m, n, k, g;
  Type yElem; // f16, bf16 or f32
  Type xElem; // f16 or bf16 activations
  /// The 4-bit codes: int4 (f16 scales), or E2M1 with E8M0 scales per 32
  /// (MXFP4) or E4M3 scales per 16 and an f32 tensor scale (NVFP4).
  enum Kind { Int4, MXFP4, NVFP4 } kind = Int4;
  RankedTensorType tensorScale; // (NVFP4) the tensor scale part
  RankedTensorType scales;      // the scales part: [N, K / g] or [N]
};

// The W8A8 tile: 64 x 64 outputs per block of 4 warps (2 x 2, each 32 x
// 32: 2 x 4 mma tiles of 16 x 8), K in steps of 64.
constexpr int64_t kTileM = 64, kTileN = 64, kTileK = 64;
// CUDA's largest grid.y (M tiles of the GEMMs) and grid.x.
constexpr int64_t kMaxGridY = 65535, kMaxGridX = 2147483647;

std::optional<W4A16Problem> matchW4A16(QMatmulOp op) {
  auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
  auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
  auto yt = dyn_cast<RankedTensorType>(op.getType());
  if (!op.getTransposeB() || !xt || !wt || !yt || xt.getRank() != 2 ||
      !xt.hasStaticShape() ||
      !isa<Float16Type, BFloat16Type>(xt.getElementType()) ||
      wt.getShape().size() != 2 || ShapedType::isDynamicShape(wt.getShape()) ||
      !isa<Float16Type, BFloat16Type, Float32Type>(yt.getElementType()))
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  Type st = s.getScaleType();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  W4A16Problem::Kind kind;
  if (storage && storage.getWidth() == 4 && !storage.isUnsigned() &&
      s.getSymmetric() && !s.getTernary() && st && st.isF16() &&
      !s.getTensorScale())
    kind = W4A16Problem::Int4;
  else if (isa<Float4E2M1FNType>(s.getStorageType()) && st &&
           isa<Float8E8M0FNUType>(st) && !s.getTensorScale())
    kind = W4A16Problem::MXFP4;
  else if (isa<Float4E2M1FNType>(s.getStorageType()) && st &&
           isa<Float8E4M3FNType>(st) && s.getTensorScale())
    kind = W4A16Problem::NVFP4;
  else
    return std::nullopt;
  if (s.isGGUF())
    return std::nullopt;
  int64_t m = xt.getShape()[0], k = xt.getShape()[1];
  int64_t n = wt.getShape()[0];
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  // Groups of a multiple of 32 (int4, MXFP4) or of 16 (NVFP4); K a
  // multiple of 32 (a lane's 16-byte chunk).
  if (m < 1 || wt.getShape()[1] != k || blocks.size() != 2 || blocks[0] != 1 ||
      blocks[1] % 16 || k % 32 ||
      (kind != W4A16Problem::NVFP4 && blocks[1] % 32))
    return std::nullopt;
  W4A16Problem p{m, n, k, blocks[1], yt.getElementType(), xt.getElementType()};
  p.kind = kind;
  p.scales = wt.getScalesType();
  if (kind == W4A16Problem::NVFP4)
    p.tensorScale = wt.getTensorScaleType();
  return p;
}

Value idx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
Value f32c(ImplicitLocOpBuilder &b, float v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
}

/// The kernel's parameters: X [M, K] f16, codes [N, K / 8] i32 (eight
/// 4-bit codes per word, code e of a word in bits 4e..4e+3, as the
/// qtensor's bytes are), scales [N, K / g] f16, Y [M, N].
FunctionType w4a16Signature(MLIRContext *ctx, const W4A16Problem &p) {
  Builder b(ctx);
  // The "mma-b" tiles (numerics::packInt4MmaB) of the tensor-core kernel.
  Type codes =
      MemRefType::get({(p.n + 31) / 32, p.k / 32, 128}, b.getI32Type());
  SmallVector<Type> in{
      MemRefType::get({p.m, p.k}, p.xElem), codes,
      // The qtensor's scales part; E8M0 / E4M3 scales travel as bytes.
      MemRefType::get(p.scales.getShape(), p.kind == W4A16Problem::Int4
                                               ? Type(b.getF16Type())
                                               : Type(b.getI8Type()))};
  if (p.kind == W4A16Problem::NVFP4)
    in.push_back(MemRefType::get(p.tensorScale.getShape(), b.getF32Type()));
  in.push_back(MemRefType::get({p.m, p.n}, p.yElem));
  return b.getFunctionType(in, {});
}

/// Y[M, N] = sx sw sum_k X[m, k] W[n, k]: int8 X with an f32 scale per
/// row or per tensor, int8 W [N, K] (transpose_b) with an f32 scale per
/// channel or per tensor.
struct W8A8Problem {
  int64_t m, n, k;
  bool fp8; // E4M3 codes (f32 accumulation) instead of int8
  RankedTensorType xScales, wScales; // the scales parts (rank 0, 1 or 2)
  bool xPerRow, wPerRow;
  Type yElem;
};

/// An int8 (or, with `fp8`, E4M3) symmetric qtensor [R, K] with f32
/// scales per row or per tensor: its scales part type and whether it is
/// per row.
static bool matchInt8Operand(Type t, int64_t &rows, int64_t &k,
                             RankedTensorType &scales, bool &perRow, bool fp8) {
  auto q = dyn_cast<QTensorType>(t);
  if (!q || q.getShape().size() != 2 ||
      ShapedType::isDynamicShape(q.getShape()))
    return false;
  SchemeAttr s = q.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  bool codesOk =
      fp8 ? isa<Float8E4M3FNType>(s.getStorageType())
          : storage && storage.getWidth() == 8 && !storage.isUnsigned();
  if (s.isGGUF() || !codesOk || !s.getSymmetric() || s.getTernary() ||
      !s.getScaleType() || !s.getScaleType().isF32() || s.getTensorScale())
    return false;
  rows = q.getShape()[0];
  k = q.getShape()[1];
  SmallVector<int64_t> blocks = q.getBlockSizes();
  if (blocks.size() != 2 || blocks[1] != k ||
      (blocks[0] != 1 && blocks[0] != rows))
    return false;
  perRow = blocks[0] == 1 && rows > 1;
  scales = q.getScalesType();
  return true;
}

std::optional<W8A8Problem> matchW8A8(QMatmulOp op, bool fp8) {
  auto yt = dyn_cast<RankedTensorType>(op.getType());
  W8A8Problem p;
  p.fp8 = fp8;
  int64_t k2;
  if (!op.getTransposeB() || !yt ||
      !isa<Float16Type, Float32Type>(yt.getElementType()) ||
      !matchInt8Operand(op.getLhs().getType(), p.m, p.k, p.xScales, p.xPerRow,
                        fp8) ||
      !matchInt8Operand(op.getRhs().getType(), p.n, k2, p.wScales, p.wPerRow,
                        fp8) ||
      k2 != p.k)
    return std::nullopt;
  // 16-byte rows for cp.async; exact int32 sums (|x w| <= 2^14).
  if (p.k % 16 || p.k >= (int64_t(1) << 31) / (128 * 128) ||
      (p.m + kTileM - 1) / kTileM > kMaxGridY)
    return std::nullopt;
  p.yElem = yt.getElementType();
  return p;
}

/// Parameters: X codes [M, K] i8, X scales, W codes [N, K] i8, W scales
/// (the qtensors' scales parts), Y [M, N].
FunctionType w8a8Signature(MLIRContext *ctx, const W8A8Problem &p) {
  Builder b(ctx);
  auto memref = [](RankedTensorType t) {
    return MemRefType::get(t.getShape(), t.getElementType());
  };
  return b.getFunctionType(
      {MemRefType::get({p.m, p.k}, b.getI8Type()), memref(p.xScales),
       MemRefType::get({p.n, p.k}, b.getI8Type()), memref(p.wScales),
       MemRefType::get({p.m, p.n}, p.yElem)},
      {});
}

// Shared rows padded to 80 bytes: the fragment loads of a warp (row g,
// word t) hit 32 different banks (stride 20 words), and rows stay 16-byte
// aligned for cp.async.
constexpr int64_t kSmemRow = 80;

/// One element of a scales part: row `row` of a per-row part, else the
/// only one.
Value loadScale(ImplicitLocOpBuilder &b, Value part, bool perRow, Value row) {
  auto t = cast<MemRefType>(part.getType());
  SmallVector<Value> at;
  for (int64_t d = 0; d < t.getRank(); ++d)
    at.push_back(perRow && d == 0 ? row : idx(b, 0));
  return memref::LoadOp::create(b, part, at);
}

/// An mma.sync with f32 accumulators as inline PTX on the fragments' 32-bit
/// registers (A: 4, B: 2, C/D: 4 f32), for the operand types MLIR 22's
/// nvgpu/nvvm ops do not take: E4M3 (m16n8k32, sm_89+, the int8 fragment
/// layout) and bf16 (m16n8k16, the f16 layout). `shapeAndTypes` is e.g.
/// "m16n8k32.row.col.f32.e4m3.e4m3.f32".
Value mmaInlineAsm(ImplicitLocOpBuilder &b, Value a, Value bv, Value c,
                   StringRef shapeAndTypes) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto v1i32 = VectorType::get({1}, i32);
  SmallVector<Value> operands;
  auto words = [&](Value frag, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      Value bytes = vector::ExtractOp::create(b, frag, ArrayRef<int64_t>{j});
      Value w = vector::BitCastOp::create(b, v1i32, bytes);
      operands.push_back(vector::ExtractOp::create(b, w, ArrayRef<int64_t>{0}));
    }
  };
  words(a, 4);
  words(bv, 2);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t col = 0; col < 2; ++col)
      operands.push_back(
          vector::ExtractOp::create(b, c, ArrayRef<int64_t>{r, col}));
  auto st =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  auto asmOp = LLVM::InlineAsmOp::create(
      b, st, operands,
      ("mma.sync.aligned." + shapeAndTypes +
       " {$0,$1,$2,$3}, {$4,$5,$6,$7}, {$8,$9}, {$10,$11,$12,$13};")
          .str(),
      "=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f", /*has_side_effects=*/false,
      /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
      LLVM::AsmDialectAttr(), ArrayAttr());
  Value d = c;
  for (int64_t i = 0; i < 4; ++i) {
    Value v = LLVM::ExtractValueOp::create(b, asmOp.getResult(0),
                                           ArrayRef<int64_t>{i});
    d = vector::InsertOp::create(b, v, d, ArrayRef<int64_t>{i / 2, i % 2});
  }
  return d;
}

/// Copies the block's 64 x 64-byte tiles of X (rows m0..) and W (rows
/// n0..) at K offset `kt` into shared memory with cp.async, 16 bytes per
/// thread and copy (rows or K beyond the matrix are zero-filled from a
/// valid address), and waits for them. `dst(which, row, col)` gives the
/// shared memory indices of a 16-byte chunk.
static void
copyTilesAsync(ImplicitLocOpBuilder &lb, const W8A8Problem &p, Value smem,
               Value xq, Value wq, Value tid, Value m0, Value n0, Value kt,
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

/// Y[row, col] = v * sx[row] * sw[col] (rounded to Y's type) if the
/// element is inside the matrix.
static void storeScaled(ImplicitLocOpBuilder &b, const W8A8Problem &p, Value v,
                        Value row, Value col, Value sx, Value sw, Value y) {
  Value in = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, idx(b, p.m)),
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, col, idx(b, p.n)));
  auto ifIn = scf::IfOp::create(b, in, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifIn.thenBlock());
  Value f = isa<FloatType>(v.getType())
                ? v
                : arith::SIToFPOp::create(b, b.getF32Type(), v).getResult();
  Value scale = arith::MulFOp::create(b, loadScale(b, sx, p.xPerRow, row),
                                      loadScale(b, sw, p.wPerRow, col));
  f = arith::MulFOp::create(b, f, scale);
  if (!p.yElem.isF32())
    f = arith::TruncFOp::create(b, p.yElem, f);
  memref::StoreOp::create(b, f, y, ValueRange{row, col});
}

/// What both 8-bit GEMM kernels start with: their parameters (X codes, X
/// scales, W codes, W scales, Y), the shared tiles, the thread's place
/// (warp, g = lane / 4, t = lane % 4) and the block's first row and
/// channel.
struct GemmThread {
  Value xq, sx, wq, sw, y, smem, tid, m0, n0, warp, g, t;
  GemmThread(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn) {
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
};

/// W8A8 GEMM on int8 tensor cores (mma.sync m16n8k32 s8 -> s32, sm_80+;
/// with `fp8`, E4M3 -> f32, sm_89+):
/// per K step, the block's 64 x 64-byte tiles of X and W go to shared
/// memory with cp.async (16 bytes per thread and copy; rows or K beyond the
/// matrix are zero-filled), then each warp loads its fragments with 32-bit
/// shared loads (the PTX fragment layout: A rows g and g + 8 at bytes 4t
/// and 16 + 4t; B column g at the same bytes) and issues 2 x 4 mma per 32
/// inputs. The exact int32 sums are scaled by sx[m] sw[n] once.
void buildW8A8Gemm(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                   const W8A8Problem &p) {
  GemmThread th(b, fn);
  Value xq = th.xq, sx = th.sx, wq = th.wq, sw = th.sw, y = th.y,
        smem = th.smem, tid = th.tid, m0 = th.m0, n0 = th.n0, warp = th.warp,
        g = th.g, t = th.t;
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), f32 = b.getF32Type();
  auto v4i8 = VectorType::get({4}, i8);
  auto aType = VectorType::get({4, 4}, i8);
  auto bType = VectorType::get({2, 4}, i8);
  auto cType = VectorType::get({2, 2}, p.fp8 ? f32 : i32);
  Value t4 = arith::MulIOp::create(b, t, idx(b, 4));
  Value wm = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, warp, idx(b, 2)), idx(b, 32));
  Value wn = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, warp, idx(b, 2)), idx(b, 32));
  auto add = [&](ImplicitLocOpBuilder &ib, Value v, int64_t c) {
    return c ? arith::AddIOp::create(ib, v, idx(ib, c)).getResult() : v;
  };
  Value zeroC = arith::ConstantOp::create(
      b, cType,
      DenseElementsAttr::get(cType, p.fp8 ? Attribute(b.getF32FloatAttr(0.f))
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
            p.fp8 ? SmallVector<Value>(8, zeroC) : SmallVector<Value>(acc);
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
                  p.fp8 ? mmaInlineAsm(lb, as[mi], bs[ni], out[mi * 4 + ni],
                                       "m16n8k32.row.col.f32.e4m3.e4m3.f32")
                        : nvgpu::MmaSyncOp::create(lb, as[mi], bs[ni],
                                                   out[mi * 4 + ni],
                                                   ArrayRef<int64_t>{16, 8, 32})
                              .getResult();
        }
        if (p.fp8)
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
  (void)i32;
}

/// An inline PTX statement without results (fences, wgmma group control).
static void ptxStatement(ImplicitLocOpBuilder &b, StringRef text) {
  LLVM::InlineAsmOp::create(b, Type(), ValueRange(), text, "",
                            /*has_side_effects=*/true,
                            /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None,
                            LLVM::AsmDialectAttr(), ArrayAttr());
}

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
/// for both operands) multiply them; as in the mma.sync kernel each step's
/// chain starts from zero (scale-d = 0) and is added to f32 accumulators
/// outside, and the exact-to-f32 sums are scaled by sx[m] sw[n] once. The
/// accumulator fragment (PTX ISA, wgmma D for m64nN): thread 32w + 4g + t
/// holds, for n8 block j, rows 16w + g (+ 8) and columns 8j + 2t (+ 1).
void buildFp8Wgmma(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                   const W8A8Problem &p) {
  GemmThread th(b, fn);
  Value xq = th.xq, sx = th.sx, wq = th.wq, sw = th.sw, y = th.y,
        smem = th.smem, tid = th.tid, m0 = th.m0, n0 = th.n0, warp = th.warp,
        g = th.g, t = th.t;
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  auto accType = VectorType::get({32}, f32);
  Value zeroAcc = arith::ConstantOp::create(
      b, accType, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.f)));
  // The tiles' shared memory address, and a descriptor of the tile at
  // byte `off` from it: start address >> 4 (bits 0-13), LBO >> 4 (16-29),
  // SBO >> 4 (32-45), no swizzle (bits 62-63 zero).
  Value base = arith::IndexCastOp::create(
      b, i64, memref::ExtractAlignedPointerAsIndexOp::create(b, smem));
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
        ptxStatement(lb, "wgmma.fence.sync.aligned;");
        SmallVector<Value> d(
            32, arith::ConstantOp::create(lb, lb.getF32FloatAttr(0.f)));
        for (int64_t ks = 0; ks < kTileK / 32; ++ks) {
          // k32: two core matrices along K.
          Value da = descriptor(lb, ks * 2 * kWgLBO);
          Value db = descriptor(lb, kWgTile + ks * 2 * kWgLBO);
          Value scaleD =
              arith::ConstantOp::create(lb, lb.getI32IntegerAttr(ks));
          std::string regs, cons;
          for (int64_t i = 0; i < 32; ++i) {
            regs += (i ? "," : "") + ("$" + std::to_string(i));
            cons += "=f,";
          }
          cons += "l,l,r";
          for (int64_t i = 0; i < 32; ++i)
            cons += "," + std::to_string(i);
          SmallVector<Value> operands{da, db, scaleD};
          operands.append(d);
          auto st = LLVM::LLVMStructType::getLiteral(
              lb.getContext(), SmallVector<Type>(32, f32));
          auto op = LLVM::InlineAsmOp::create(
              lb, st, operands,
              "{\n.reg .pred p;\nsetp.ne.b32 p, $34, 0;\n"
              "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {" +
                  regs + "}, $32, $33, p, 1, 1;\n}",
              cons, /*has_side_effects=*/true, /*is_align_stack=*/false,
              LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
              ArrayAttr());
          for (int64_t i = 0; i < 32; ++i)
            d[i] = LLVM::ExtractValueOp::create(lb, op.getResult(0),
                                                ArrayRef<int64_t>{i});
        }
        ptxStatement(lb, "wgmma.commit_group.sync.aligned;");
        ptxStatement(lb, "wgmma.wait_group.sync.aligned 0;");
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

/// The W4A16 tensor-core kernel's configuration: warps along M (1 or 2),
/// m16 tiles per warp (1 or 2); 4 warps, each 32 channels wide. M <= 16:
/// one 16-row tile, 128 channels per block (decode); else 64 x 64.
struct MmaTiling {
  int64_t warpsM, tilesM, warpsN, warpsK;
  int64_t rows() const { return 16 * tilesM * warpsM; }
  int64_t cols() const { return 32 * warpsN; }
  int64_t threads() const { return 32 * warpsM * warpsN * warpsK; }
};
/// M <= 16 (decode): 8 warps share one 32-channel weight column, each
/// taking every 8th K step (split K; their partial sums meet in shared
/// memory at the end), so N / 32 blocks of 8 warps keep many weight loads
/// in flight. Else 2 x 2 warps of 32 x 32 outputs.
MmaTiling mmaTiling(const W4A16Problem &p) {
  return p.m <= 16 ? MmaTiling{1, 1, 1, 8} : MmaTiling{2, 2, 2, 1};
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
void buildW4A16Mma(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                   const W4A16Problem &p) {
  MmaTiling tiling = mmaTiling(p);
  const int64_t bm = tiling.rows(), bn = tiling.cols(), kb = p.k / 32;
  const int64_t nb = (p.n + 31) / 32;
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  bool fp4 = p.kind != W4A16Problem::Int4;
  bool nv = p.kind == W4A16Problem::NVFP4;
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
  auto add = [&](ImplicitLocOpBuilder &ib, Value v, int64_t c) {
    return c ? arith::AddIOp::create(ib, v, idx(ib, c)).getResult() : v;
  };
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
                  if (p.scales.getRank() == 2)
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

/// Dynamic quantization of activations [M, K] (f16, bf16 or f32) to int8
/// or E4M3 with an f32 scale per row: what the W8A8 and FP8 GEMMs read.
struct QuantizeProblem {
  int64_t m, k;
  Type xElem;
  bool fp8;
  SchemeAttr scheme;
  RankedTensorType scales;
};

std::optional<QuantizeProblem> matchQuantize(QuantizeOp op) {
  auto in = dyn_cast<RankedTensorType>(op.getInput().getType());
  QTensorType t = op.getType();
  SchemeAttr s = t.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  bool i8 = storage && storage.getWidth() == 8 && !storage.isUnsigned();
  bool fp8 = isa<Float8E4M3FNType>(s.getStorageType());
  if (!op.isDynamic() || !in || in.getRank() != 2 || !in.hasStaticShape() ||
      !isa<Float16Type, BFloat16Type, Float32Type>(in.getElementType()) ||
      (!i8 && !fp8) || s.isGGUF() || !s.getSymmetric() || s.getTernary() ||
      !s.getScaleType() || !s.getScaleType().isF32() || s.getTensorScale())
    return std::nullopt;
  int64_t m = in.getShape()[0], k = in.getShape()[1];
  SmallVector<int64_t> blocks = t.getBlockSizes();
  // One scale per row (a block of [1, K]); M blocks on grid.x.
  if (blocks.size() != 2 || blocks[0] != 1 || blocks[1] != k || m < 1)
    return std::nullopt;
  return QuantizeProblem{m, k, in.getElementType(), fp8, s, t.getScalesType()};
}

FunctionType quantizeSignature(MLIRContext *ctx, const QuantizeProblem &p) {
  Builder b(ctx);
  return b.getFunctionType(
      {MemRefType::get({p.m, p.k}, p.xElem),
       MemRefType::get({p.m, p.k}, b.getI8Type()),
       MemRefType::get(p.scales.getShape(), b.getF32Type())},
      {});
}

/// One block of 128 threads per row: amax = maxnum of |x| (threads, then a
/// butterfly over each warp, then the 4 warps through shared memory), the
/// scale amax / qmax (1 when that is 0), then every element encoded with
/// the reference lowering's own emitters (docs/Spec.md section 5:
/// clamp(round(x / s)) with NaN -> 0 for int8; the E4M3 encoder with the
/// scheme's rounding and saturation), so codes and scales are
/// bit-identical to it.
void buildQuantizeRows(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                       const QuantizeProblem &p) {
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value x = entry.getArgument(0), codes = entry.getArgument(1),
        scales = entry.getArgument(2);
  Value wsum = fn.getWorkgroupAttributions()[0];
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getI8Type();
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(b, 32));
  Value lane = arith::RemUIOp::create(b, tid, idx(b, 32));
  int64_t steps = (p.k + 127) / 128;
  // Element k = 128 j + tid of this row, if it exists.
  auto forElems =
      [&](Value init,
          function_ref<Value(ImplicitLocOpBuilder &, Value, Value)> body) {
        return scf::ForOp::create(
                   b, idx(b, 0), idx(b, steps), idx(b, 1), ValueRange{init},
                   [&](OpBuilder &ob, Location l, Value j, ValueRange a) {
                     ImplicitLocOpBuilder lb(l, ob);
                     Value k = arith::AddIOp::create(
                         lb, arith::MulIOp::create(lb, j, idx(lb, 128)), tid);
                     Value in = arith::CmpIOp::create(
                         lb, arith::CmpIPredicate::ult, k, idx(lb, p.k));
                     auto ifIn = scf::IfOp::create(
                         lb, in,
                         [&](OpBuilder &tb0, Location tl) {
                           ImplicitLocOpBuilder tb(tl, tb0);
                           scf::YieldOp::create(tb, body(tb, k, a[0]));
                         },
                         [&](OpBuilder &eb0, Location el) {
                           scf::YieldOp::create(eb0, el, a[0]);
                         });
                     scf::YieldOp::create(lb, ifIn.getResult(0));
                   })
            .getResult(0);
      };
  auto load = [&](ImplicitLocOpBuilder &tb, Value k) {
    Value v = memref::LoadOp::create(tb, x, ValueRange{row, k});
    return v.getType().isF32() ? v : arith::ExtFOp::create(tb, f32, v);
  };
  Value zero = f32c(b, 0.f);
  // max(a, b) for a never NaN: b if b > a. NaN b is skipped, as maxnum
  // skips it (arith.maxnumf would be a libdevice call).
  auto maxKeep = [](ImplicitLocOpBuilder &mb, Value a, Value v) {
    return arith::SelectOp::create(
               mb, arith::CmpFOp::create(mb, arith::CmpFPredicate::OGT, v, a),
               v, a)
        .getResult();
  };
  Value amax = forElems(zero, [&](ImplicitLocOpBuilder &tb, Value k, Value a) {
    // |x| by clearing the sign bit (math.absf would be a libdevice call).
    Value bits = arith::AndIOp::create(
        tb, arith::BitcastOp::create(tb, i32, load(tb, k)),
        arith::ConstantOp::create(tb, tb.getI32IntegerAttr(0x7FFFFFFF)));
    return maxKeep(tb, a, arith::BitcastOp::create(tb, f32, bits));
  });
  for (int32_t off = 16; off >= 1; off /= 2)
    amax =
        maxKeep(b, amax,
                gpu::ShuffleOp::create(b, amax, off, 32, gpu::ShuffleMode::XOR)
                    .getShuffleResult());
  Value first =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, idx(b, 0));
  {
    auto ifFirst = scf::IfOp::create(b, first, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifFirst.thenBlock());
    memref::StoreOp::create(b, amax, wsum, ValueRange{warp});
  }
  gpu::BarrierOp::create(b);
  amax = memref::LoadOp::create(b, wsum, ValueRange{idx(b, 0)});
  for (int64_t w = 1; w < 4; ++w)
    amax = maxKeep(b, amax,
                   memref::LoadOp::create(b, wsum, ValueRange{idx(b, w)}));
  float qmax = p.fp8 ? 448.f : float(p.scheme.getQMax());
  Value sc = arith::DivFOp::create(b, amax, f32c(b, qmax));
  sc = arith::SelectOp::create(
      b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, sc, zero),
      f32c(b, 1.f), sc);
  {
    auto ifT0 = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, idx(b, 0)),
        /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifT0.thenBlock());
    SmallVector<Value> at;
    for (int64_t d = 0; d < p.scales.getRank(); ++d)
      at.push_back(d == 0 ? row : idx(b, 0));
    memref::StoreOp::create(b, sc, scales, at);
  }
  const ::lowbit::MiniFloatFormat *fmt =
      p.fp8 ? &codecs::getFormat(p.scheme.getStorageType()) : nullptr;
  forElems(zero, [&](ImplicitLocOpBuilder &tb, Value k, Value a) {
    Value v = arith::DivFOp::create(tb, load(tb, k), sc);
    Value code;
    if (p.fp8) {
      code = codecs::encodeMiniFloat(tb, v, *fmt, p.scheme.getRounding(),
                                     p.scheme.getSaturate());
    } else {
      Value r = codecs::roundF32(tb, v, p.scheme.getRounding());
      Value nan = arith::CmpFOp::create(tb, arith::CmpFPredicate::UNO, r, r);
      r = arith::SelectOp::create(tb, nan, f32c(tb, 0.f), r);
      // Clamp (no NaN left: compare and select, as maximumf/minimumf
      // would be libdevice calls).
      Value lo = f32c(tb, float(p.scheme.getQMin()));
      Value hi = f32c(tb, float(p.scheme.getQMax()));
      r = arith::SelectOp::create(
          tb, arith::CmpFOp::create(tb, arith::CmpFPredicate::OLT, r, lo), lo,
          r);
      r = arith::SelectOp::create(
          tb, arith::CmpFOp::create(tb, arith::CmpFPredicate::OGT, r, hi), hi,
          r);
      code = arith::FPToSIOp::create(tb, i32, r);
    }
    memref::StoreOp::create(tb, arith::TruncIOp::create(tb, i8, code), codes,
                            ValueRange{row, k});
    return a;
  });
  gpu::ReturnOp::create(b);
}

/// PTX has no libdevice linked in: the rounding ops that the shared
/// encoders (codecs::roundF32) emit, which convert-gpu-to-nvvm would turn
/// into libdevice calls, become their PTX instructions: math.roundeven is
/// cvt.rni; math.round (ties away) is cvt.rzi plus one step away from zero
/// where the dropped fraction is at least 1/2.
static void roundingToPTX(gpu::GPUModuleOp module) {
  auto cvt = [](ImplicitLocOpBuilder &b, StringRef mode, Value x) {
    return LLVM::InlineAsmOp::create(
               b, b.getF32Type(), ValueRange{x},
               ("cvt." + mode + ".f32.f32 $0, $1;").str(), "=f,f",
               /*has_side_effects=*/false, /*is_align_stack=*/false,
               LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
               ArrayAttr())
        .getResult(0);
  };
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isa<math::RoundEvenOp, math::RoundOp>(op) &&
        op->getResult(0).getType().isF32())
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    ImplicitLocOpBuilder b(op->getLoc(), op);
    Value x = op->getOperand(0), r;
    if (isa<math::RoundEvenOp>(op)) {
      r = cvt(b, "rni", x);
    } else {
      Type i32 = b.getI32Type(), f32 = b.getF32Type();
      Value t = cvt(b, "rzi", x);
      Value d = arith::SubFOp::create(b, x, t);
      Value bits = arith::BitcastOp::create(b, i32, d);
      Value ad = arith::BitcastOp::create(
          b, f32,
          arith::AndIOp::create(
              b, bits,
              arith::ConstantOp::create(b, b.getI32IntegerAttr(0x7FFFFFFF))));
      Value half = arith::CmpFOp::create(b, arith::CmpFPredicate::OGE, ad,
                                         f32c(b, 0.5f));
      Value one = arith::BitcastOp::create(
          b, f32,
          arith::OrIOp::create(
              b,
              arith::AndIOp::create(
                  b, arith::BitcastOp::create(b, i32, x),
                  arith::ConstantOp::create(
                      b, b.getI32IntegerAttr(int32_t(0x80000000u)))),
              arith::ConstantOp::create(b, b.getI32IntegerAttr(0x3F800000))));
      r = arith::SelectOp::create(b, half, arith::AddFOp::create(b, t, one), t);
    }
    op->getResult(0).replaceAllUsesWith(r);
    op->erase();
  }
}

std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

struct LowbitGPUKernelsPass
    : mlir::lowbit::impl::LowbitGPUKernelsBase<LowbitGPUKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    StringRef c = chip;
    if (!c.starts_with("sm_") || c.size() < 5 ||
        !llvm::all_of(
            c.drop_front(3).take_while([](char ch) { return ch != 'a'; }),
            llvm::isDigit)) {
      module.emitError() << "lowbit-gpu-kernels: chip '" << chip
                         << "' is not an NVIDIA compute capability such as "
                            "sm_80 or sm_90a";
      return signalPassFailure();
    }
    unsigned sm = 0;
    c.drop_front(3)
        .take_while([](char ch) { return ch != 'a'; })
        .getAsInteger(10, sm);
    // sm_90a: the architecture-specific features (wgmma).
    bool archSpecific = c.ends_with("a");
    // What each covered qmatmul gets: a kernel (name, signature, shared
    // memory, builder) and its launch.
    struct Plan {
      Operation *op;
      std::string name;
      FunctionType type;
      SmallVector<Type> workgroup;
      int64_t grid[3], block[3];
      std::function<void(ImplicitLocOpBuilder &, gpu::GPUFuncOp)> build;
    };
    SmallVector<Plan> plans;
    module.walk([&](QuantizeOp op) {
      std::optional<QuantizeProblem> p = matchQuantize(op);
      if (!p || p->m > kMaxGridX || (p->fp8 && sm < 89))
        return;
      QuantizeProblem q = *p;
      auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
      plans.push_back(
          Plan{op,
               std::string(q.fp8 ? "quantize_fp8_rows_" : "quantize_i8_rows_") +
                   std::to_string(q.m) + "x" + std::to_string(q.k) + "_" +
                   typeName(q.xElem),
               quantizeSignature(ctx, q),
               {MemRefType::get({4}, Float32Type::get(ctx), nullptr, wg)},
               {q.m, 1, 1},
               {128, 1, 1},
               [q](ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn) {
                 buildQuantizeRows(b, fn, q);
               }});
    });
    module.walk([&](QMatmulOp op) {
      if (std::optional<W4A16Problem> p = matchW4A16(op)) {
        // Tensor cores (f16/bf16 mma.sync m16n8k16): sm_80+; M tiles on
        // grid.y.
        MmaTiling tiling = mmaTiling(*p);
        if (sm < 80 || (p->m + tiling.rows() - 1) / tiling.rows() > kMaxGridY)
          return;
        W4A16Problem q = *p;
        auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
        plans.push_back(Plan{
            op,
            std::string(q.kind == W4A16Problem::MXFP4   ? "mxfp4"
                        : q.kind == W4A16Problem::NVFP4 ? "nvfp4"
                                                        : "w4a16") +
                (q.m <= 16 ? "_gemv_" : "_gemm_") + std::to_string(q.m) + "x" +
                std::to_string(q.n) + "x" + std::to_string(q.k) + "_g" +
                std::to_string(q.g) + (q.xElem.isBF16() ? "_xbf16_" : "_") +
                typeName(q.yElem),
            w4a16Signature(ctx, q),
            tiling.warpsK > 1
                ? SmallVector<Type>{MemRefType::get(
                                        {tiling.warpsK, tiling.rows(), 40},
                                        q.xElem, nullptr, wg),
                                    MemRefType::get({tiling.warpsK, 16, 32},
                                                    Float32Type::get(ctx),
                                                    nullptr, wg)}
                : SmallVector<Type>{MemRefType::get({1, tiling.rows(), 40},
                                                    q.xElem, nullptr, wg)},
            {(q.n + tiling.cols() - 1) / tiling.cols(),
             (q.m + tiling.rows() - 1) / tiling.rows(), 1},
            {tiling.threads(), 1, 1},
            [q](ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn) {
              buildW4A16Mma(b, fn, q);
            }});
      } else if (std::optional<W8A8Problem> p =
                     sm >= 80 ? matchW8A8(op, /*fp8=*/false) : std::nullopt;
                 p || (sm >= 89 && (p = matchW8A8(op, /*fp8=*/true)))) {
        // int8 mma.sync m16n8k32: sm_80+; E4M3: sm_89+, wgmma on sm_90a.
        W8A8Problem q = *p;
        auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
        if (q.fp8 && archSpecific && sm == 90) {
          plans.push_back(Plan{
              op,
              "fp8_wgmma_gemm_" + std::to_string(q.m) + "x" +
                  std::to_string(q.n) + "x" + std::to_string(q.k) +
                  (q.xPerRow ? "_xrow" : "_xt") +
                  (q.wPerRow ? "_wrow_" : "_wt_") + typeName(q.yElem),
              w8a8Signature(ctx, q),
              {MemRefType::get({2 * kWgTile}, IntegerType::get(ctx, 8), nullptr,
                               wg)},
              {(q.n + kTileN - 1) / kTileN, (q.m + kTileM - 1) / kTileM, 1},
              {128, 1, 1},
              [q](ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn) {
                buildFp8Wgmma(b, fn, q);
              }});
          return;
        }
        plans.push_back(
            Plan{op,
                 std::string(q.fp8 ? "fp8_gemm_" : "w8a8_gemm_") +
                     std::to_string(q.m) + "x" + std::to_string(q.n) + "x" +
                     std::to_string(q.k) + (q.xPerRow ? "_xrow" : "_xt") +
                     (q.wPerRow ? "_wrow_" : "_wt_") + typeName(q.yElem),
                 w8a8Signature(ctx, q),
                 {MemRefType::get({2, kTileM, kSmemRow},
                                  IntegerType::get(ctx, 8), nullptr, wg)},
                 {(q.n + kTileN - 1) / kTileN, (q.m + kTileM - 1) / kTileM, 1},
                 {128, 1, 1},
                 [q](ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn) {
                   buildW8A8Gemm(b, fn, q);
                 }});
      }
    });
    if (plans.empty())
      return;
    ImplicitLocOpBuilder b(module.getLoc(), ctx);
    auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(kGpuModuleName);
    if (!gpuModule) {
      b.setInsertionPointToEnd(module.getBody());
      // PTX ISA 8.0 (what sm_90a needs; CUDA 12.0 drivers JIT it); 8.4
      // only when there is an FP8 kernel (mma.sync on FP8 operands needs
      // it, and CUDA 12.4 drivers).
      bool fp8 = llvm::any_of(plans, [](const Plan &pl) {
        return StringRef(pl.name).starts_with("fp8_");
      });
      auto target =
          NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda",
                                    chip, fp8 ? "+ptx84" : "+ptx80");
      gpuModule = gpu::GPUModuleOp::create(b, kGpuModuleName,
                                           ArrayRef<Attribute>{target});
    }
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    for (Plan &plan : plans) {
      // Problems of one name may differ in their scales parts' shapes
      // ([M] or [M, 1], ...): reuse a kernel only if its signature matches.
      for (int suffix = 1;; ++suffix) {
        auto existing = gpuModule.lookupSymbol<gpu::GPUFuncOp>(plan.name);
        if (!existing || existing.getFunctionType() == plan.type)
          break;
        plan.name = (plan.name + "_v" + Twine(suffix)).str();
      }
      if (!gpuModule.lookupSymbol<gpu::GPUFuncOp>(plan.name)) {
        b.setInsertionPointToEnd(gpuModule.getBody());
        b.setLoc(plan.op->getLoc());
        auto fn =
            gpu::GPUFuncOp::create(b, plan.name, plan.type, plan.workgroup);
        fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
        fn.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
            {int32_t(plan.block[0]), int32_t(plan.block[1]),
             int32_t(plan.block[2])}));
        // cp.async writes 16 bytes at a time into shared memory.
        for (unsigned i = 0; i < plan.workgroup.size(); ++i)
          fn.setWorkgroupAttributionAttr(i,
                                         LLVM::LLVMDialect::getAlignAttrName(),
                                         b.getI64IntegerAttr(16));
        plan.build(b, fn);
      }
      SmallVector<Attribute> params;
      for (Type t : plan.type.getInputs())
        params.push_back(TypeAttr::get(t));
      plan.op->setAttr(kParamsAttr, b.getArrayAttr(params));
      plan.op->setAttr(
          kKernelAttr,
          SymbolRefAttr::get(ctx, kGpuModuleName,
                             {FlatSymbolRefAttr::get(ctx, plan.name)}));
      plan.op->setAttr(kLaunchAttr,
                       b.getDenseI64ArrayAttr(
                           {plan.grid[0], plan.grid[1], plan.grid[2],
                            plan.block[0], plan.block[1], plan.block[2], 0}));
    }
    roundingToPTX(gpuModule);
  }
};

/// "f16", "i32", ... and the shape of a kernel parameter.
llvm::json::Object describeParam(Type t) {
  llvm::json::Object o;
  auto mt = cast<MemRefType>(t);
  o["element"] = typeName(mt.getElementType());
  llvm::json::Array shape;
  for (int64_t d : mt.getShape())
    shape.push_back(d);
  o["shape"] = std::move(shape);
  // Kernels use 16-byte vector loads and cp.async on every buffer.
  o["align"] = 16;
  return o;
}

/// Writes `text` to `path` whole or not at all.
LogicalResult writeFile(Operation *op, StringRef path, StringRef text) {
  std::string err;
  auto out = openOutputFile(path, &err);
  if (!out) {
    op->emitError() << "cannot write " << path << ": " << err;
    return failure();
  }
  out->os() << text;
  out->os().flush();
  if (out->os().has_error()) {
    op->emitError() << "cannot write " << path;
    out->os().clear_error();
    return failure();
  }
  out->keep();
  return success();
}

struct LowbitWritePTXPass
    : mlir::lowbit::impl::LowbitWritePTXBase<LowbitWritePTXPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      module.emitError() << "cannot create " << dir << ": " << ec.message();
      return signalPassFailure();
    }
    bool any = false;
    llvm::json::Object files; // "<binary>.<chip>": its PTX file
    for (auto binary : module.getOps<gpu::BinaryOp>()) {
      any = true;
      for (Attribute a : binary.getObjects()) {
        auto obj = cast<gpu::ObjectAttr>(a);
        auto target = dyn_cast<NVVM::NVVMTargetAttr>(obj.getTarget());
        if (!target || obj.getFormat() != gpu::CompilationTarget::Assembly) {
          binary.emitError("lowbit-write-ptx: objects must be PTX (run "
                           "gpu-module-to-binary{format=isa})");
          return signalPassFailure();
        }
        SmallString<256> path(dir);
        llvm::sys::path::append(
            path, (binary.getName() + "." + target.getChip() + ".ptx").str());
        if (failed(writeFile(binary, path, obj.getObject().getValue())))
          return signalPassFailure();
        files[(binary.getName() + "." + target.getChip()).str()] =
            llvm::sys::path::filename(path).str();
      }
    }
    if (!any) {
      module.emitError("lowbit-write-ptx: no gpu.binary (run "
                       "lowbit-gpu-kernels and lowbit-gpu-to-ptx first)");
      return signalPassFailure();
    }
    // The manifest: every annotated launch, with the kernel's parameters
    // as lowbit-gpu-kernels recorded them (the gpu.module is gone).
    llvm::json::Array entries;
    module.walk([&](Operation *op) {
      auto kernel = op->getAttrOfType<SymbolRefAttr>(kKernelAttr);
      auto launch = op->getAttrOfType<DenseI64ArrayAttr>(kLaunchAttr);
      auto params = op->getAttrOfType<ArrayAttr>(kParamsAttr);
      if (!kernel || !launch)
        return;
      llvm::json::Object e;
      e["module"] = kernel.getRootReference().getValue().str();
      e["kernel"] = kernel.getLeafReference().getValue().str();
      llvm::json::Array l;
      for (int64_t v : launch.asArrayRef())
        l.push_back(v);
      e["grid"] = llvm::json::Array{l[0], l[1], l[2]};
      e["block"] = llvm::json::Array{l[3], l[4], l[5]};
      e["shared_bytes"] = l[6];
      llvm::json::Array ps;
      if (params)
        for (Attribute a : params)
          ps.push_back(describeParam(cast<TypeAttr>(a).getValue()));
      e["params"] = std::move(ps);
      entries.push_back(std::move(e));
    });
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                     {"ptx", std::move(files)},
                                     {"launches", std::move(entries)}}))
       << "\n";
    SmallString<256> path(dir);
    llvm::sys::path::append(path, "manifest.json");
    if (failed(writeFile(module, path, text)))
      return signalPassFailure();
  }
};

} // namespace
