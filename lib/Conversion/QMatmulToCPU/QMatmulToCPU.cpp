//===- QMatmulToCPU.cpp - quantized matmuls to CPU vector code ------------===//
//
// The CPU lowering of docs/CodegenCPU.md. It is the reference lowering's 1:N
// conversion (every qtensor becomes its parts, every lowbit op is lowered)
// with kernel patterns of higher benefit: a qmatmul that a kernel covers
// becomes a call to a generated function (scf loops and vector ops, lowered
// by LLVM for the target's vector width); every other op keeps its
// reference lowering. Weights may be constants or function arguments: the
// kernel reads the parts the conversion hands it.
//
// Kernels so far, for int4 weights stored per output channel (transpose_b,
// groups of a multiple of 32 along K, f32/f16/bf16 scales), f32 result:
// - W4A32: f32 activations, dequantized in registers, FMA;
// - W4A8: int8 activations (one scale per row or tensor), integer dot
//   products with AVX-512 VNNI (vpdpbusd), targets with avx512vnni only.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Transforms/NumericsBridge.h"

#include "../LowbitToLinalg/Codecs.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERTOCPU
#define GEN_PASS_DEF_LOWBITEXPANDINTRINSICCALLS
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

static constexpr StringLiteral kLLVMIntrinsicAttr = "lowbit.llvm_intrinsic";

namespace {

/// What the kernels may use, from `target-cpu` (docs/CodegenCPU.md).
struct CpuTarget {
  bool avx2 = false, avx512 = false, vnni = false;

  static FailureOr<CpuTarget> get(StringRef cpu) {
    CpuTarget t;
    if (cpu == "host") {
      llvm::StringMap<bool> f = llvm::sys::getHostCPUFeatures();
      t.avx2 = f.lookup("avx2");
      t.avx512 = f.lookup("avx512f") && f.lookup("avx512bw");
      t.vnni = t.avx512 && f.lookup("avx512vnni");
      return t;
    }
    t.avx2 = true;
    if (cpu == "x86-64-v3")
      return t;
    if (cpu == "x86-64-v4") {
      t.avx512 = true;
      return t;
    }
    if (cpu == "znver4" || cpu == "znver5" || cpu == "sapphirerapids" ||
        cpu == "icelake-server" || cpu == "cascadelake") {
      t.avx512 = t.vnni = true;
      return t;
    }
    return failure();
  }
};

/// One W4 problem: Y[m, n] = sx[m] * sum_k X[m, k] * s[n, k / g] * q[n, k],
/// X f32 (sx = 1) or int8 codes with a scale per row or per tensor.
struct W4Problem {
  int64_t m, n, k, g;
  Type scaleType;            // weight scales: f32, f16, bf16 (int4), E8M0
  bool e2m1 = false;         // FP4 codes: MXFP4 (E8M0 scales) or NVFP4
  bool nvfp4 = false;        // E4M3 scales and an f32 tensor scale
  bool int8Act = false;      // X is an int8 qtensor
  RankedTensorType xScales;  // its scales part (int8Act)
  bool xScalePerRow = false; // xScales has one element per row
  bool w8 = false;           // int8 weights, one scale per channel/tensor
  bool wScalePerRow = false; // (w8) the scales part has one per channel
  RankedTensorType wScales;  // (w8) the weight scales part
  RankedTensorType tensorScaleType; // (nvfp4) the tensor scale part
  // W4A16 (float path): X's element type, the weights' expressed type
  // (dequantized weights are rounded to it, as the reference does) and
  // Y's element type; f32 elsewhere (null means f32).
  Type xElem, expressed, yElem;
  bool q4_0 = false;       // GGUF q4_0 blocks read as stored (llama.cpp layout)
  bool q8_0 = false;       // GGUF q8_0 blocks read as stored
  bool q4_k = false;       // GGUF q4_K super-blocks read as stored
  bool q4_1 = false;       // GGUF q4_1 blocks read as stored, f32 X
  bool ternary = false;    // ternary codes (2 bits), f32 scales
  bool emulateDot = false; // no VNNI: vpdpbusd as vpmaddubsw + vpmaddwd
  bool avx512 = true;      // 512-bit byte shuffles (vpshufb zmm) available
  bool f8 = false;         // FP8 E4M3 weights, one scale per channel/tensor
  bool f8Act = false;      // (f8) X is an FP8 E4M3 qtensor
  bool panels = false;     // (w8) weights in the int8 panel layout
};

/// Symmetric int8 activations [M, K] with an f32 scale per row or per
/// tensor, on a VNNI target: fills p.m and the activation fields.
/// Without VNNI the dot products run on AVX2 (vpmaddubsw), exact while no
/// pair of products reaches 2^15: `fullU8` (the weights' operand may be
/// 128 in magnitude) then requires activations of at most 127 in magnitude
/// (not full_range).
static bool matchInt8Activations(QMatmulOp op, W4Problem &p,
                                 const CpuTarget &target, bool fullU8 = false) {
  auto xq = dyn_cast<QTensorType>(op.getLhs().getType());
  if (!(target.vnni || target.avx2) || !xq || xq.getShape().size() != 2 ||
      ShapedType::isDynamicShape(xq.getShape()))
    return false;
  if (!target.vnni && fullU8 && xq.getScheme().getFullRange())
    return false;
  p.emulateDot = !target.vnni;
  p.avx512 = target.avx512;
  SchemeAttr xs = xq.getScheme();
  auto xStorage = dyn_cast<IntegerType>(xs.getStorageType());
  if (!xStorage || xStorage.getWidth() != 8 || xStorage.isUnsigned() ||
      !xs.getSymmetric() || xs.getTernary() || !xs.getScaleType() ||
      !xs.getScaleType().isF32() || xs.getTensorScale() ||
      !xs.getExpressedType().isF32())
    return false;
  SmallVector<int64_t> xBlocks = xq.getBlockSizes();
  int64_t m = xq.getShape()[0];
  if (xBlocks.size() != 2 || xBlocks[1] != p.k ||
      (xBlocks[0] != 1 && xBlocks[0] != m))
    return false;
  p.m = m;
  p.int8Act = true;
  p.xScales = xq.getScalesType();
  p.xScalePerRow = xBlocks[0] == 1 && m > 1;
  return true;
}

static bool isFloat32or16(Type t) {
  return isa<Float32Type, Float16Type, BFloat16Type>(t);
}

/// The weights of a qmatmul the kernels can take: a static [N, K]
/// qtensor with `transpose_b`, a rank-2 result of f32 (or, with
/// `halfResult`, f16/bf16).
static QTensorType matchWeights(QMatmulOp op, bool halfResult = false) {
  auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
  auto yt = op.getResult().getType();
  Type ye = yt.getElementType();
  if (!wt || !op.getTransposeB() || wt.getShape().size() != 2 ||
      ShapedType::isDynamicShape(wt.getShape()) || yt.getRank() != 2 ||
      !(ye.isF32() || (halfResult && isFloat32or16(ye))))
    return {};
  return wt;
}

std::optional<W4Problem> matchW4(QMatmulOp op, const CpuTarget &target) {
  QTensorType wt = matchWeights(op, /*halfResult=*/true);
  if (!wt)
    return std::nullopt;
  auto yt = op.getResult().getType();
  SchemeAttr s = wt.getScheme();
  if (s.isGGUF()) // matchGGUF
    return std::nullopt;
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  Type st = s.getScaleType();
  bool fp4 = isa<Float4E2M1FNType>(s.getStorageType()) && st;
  bool mx = fp4 && isa<Float8E8M0FNUType>(st) && !s.getTensorScale();
  bool nv = fp4 && isa<Float8E4M3FNType>(st) && s.getTensorScale();
  bool tern = s.getTernary() && st && st.isF32() && !s.getTensorScale();
  bool int4 = !tern && storage && storage.getWidth() == 4 &&
              !storage.isUnsigned() && st &&
              isa<Float32Type, Float16Type, BFloat16Type>(st) &&
              !s.getTensorScale();
  if ((!int4 && !mx && !nv && !tern) || !s.getSymmetric() ||
      !isFloat32or16(s.getExpressedType()))
    return std::nullopt;
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  int64_t n = wt.getShape()[0], k = wt.getShape()[1];
  // One scale per group along K; ternary also per tensor.
  bool perTensor =
      tern && blocks.size() == 2 && blocks[0] == n && blocks[1] == k;
  if (blocks.size() != 2 || (blocks[0] != 1 && !perTensor) ||
      blocks[1] % 8 != 0)
    return std::nullopt;
  // int4/FP4 scales are read as [N, K / g] (per_group<[1 : g]>); one scale
  // per row or per tensor (rank < 2) is left to the reference lowering.
  if (!tern && (!wt.getScalesType() || wt.getScalesType().getRank() != 2 ||
                wt.getScalesType().getDimSize(0) != n))
    return std::nullopt;
  W4Problem p{0, n, k, blocks[1], st, mx || nv};
  p.nvfp4 = nv;
  p.ternary = tern;
  if (tern)
    p.wScales = wt.getScalesType();
  if (nv)
    p.tensorScaleType = wt.getTensorScaleType();
  if (auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType())) {
    // NVFP4 and ternary x f32 have no kernel yet (the reference lowering
    // runs).
    if (nv || tern || p.g % 32 != 0 || xt.getRank() != 2 ||
        !xt.hasStaticShape() || !isFloat32or16(xt.getElementType()))
      return std::nullopt;
    p.m = xt.getDimSize(0);
    p.xElem = xt.getElementType();
    p.expressed = s.getExpressedType();
    p.yElem = yt.getElementType();
    return p;
  }
  if (!yt.getElementType().isF32() || !s.getExpressedType().isF32() ||
      !matchInt8Activations(op, p, target))
    return std::nullopt;
  // A lane (4 bytes: 4 cpb inputs) of a chunk (64 bytes: 64 cpb inputs)
  // must lie in one group.
  int64_t cpb = tern ? 4 : 2;
  if (p.g % (4 * cpb) != 0 || ((64 * cpb) % p.g != 0 && p.g % (64 * cpb) != 0))
    return std::nullopt;
  return p;
}

/// W8A8: int8 weights [N, K] with a scale per output channel or per tensor
/// times int8 activations (a scale per row or per tensor).
std::optional<W4Problem> matchW8(QMatmulOp op, const CpuTarget &target) {
  QTensorType wt = matchWeights(op);
  if (!wt)
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  if (s.isGGUF()) // matchGGUF
    return std::nullopt;
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  Type st = s.getScaleType();
  if (!storage || storage.getWidth() != 8 || storage.isUnsigned() || !st ||
      !isa<Float32Type, Float16Type, BFloat16Type>(st) || !s.getSymmetric() ||
      s.getTernary() || s.getTensorScale() || !s.getExpressedType().isF32())
    return std::nullopt;
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  int64_t n = wt.getShape()[0], k = wt.getShape()[1];
  if (blocks.size() != 2 || blocks[1] != k ||
      (blocks[0] != 1 && blocks[0] != n))
    return std::nullopt;
  // int32 sums of K products (w + 128) * x, |.| <= 255 * 128, must not
  // overflow.
  if (k > (int64_t(1) << 31) / (255 * 128))
    return std::nullopt;
  W4Problem p{0, n, k, k, st};
  p.w8 = true;
  p.wScalePerRow = blocks[0] == 1 && n > 1;
  p.wScales = wt.getScalesType();
  // Without VNNI: w . x = |w| . (x * sign(w)) with vpmaddubsw, exact while
  // pairs of products stay below 2^15 (full_range weights need activations
  // of at most 127 in magnitude).
  if (!matchInt8Activations(op, p, target, /*fullU8=*/s.getFullRange()))
    return std::nullopt;
  return p;
}

/// GGUF weights [N, K] read as stored, times int8 activations: q4_0
/// (llama.cpp's block_q4_0: an f16 scale d, then 16 bytes whose low nibbles
/// are the block's first 16 codes and high nibbles the last 16; value
/// (nibble - 8) * d) and q8_0 (d, then 32 int8 codes; value q * d).
std::optional<W4Problem> matchGGUF(QMatmulOp op, const CpuTarget &target) {
  QTensorType wt = matchWeights(op);
  // q4_1 (block_q4_1: f16 d and m, then 16 bytes of nibbles laid out as in
  // q4_0; value q * d + m, q in 0..15) times f32 activations: the
  // W4A32 kernel reading the blocks.
  if (wt && wt.getScheme().getGguf() == GGUFKind::Q4_1 &&
      wt.getScheme().getExpressedType().isF32()) {
    auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
    if (!xt || xt.getRank() != 2 || !xt.hasStaticShape() ||
        !xt.getElementType().isF32() || wt.getShape()[1] % 32 != 0)
      return std::nullopt;
    W4Problem p{xt.getDimSize(0), wt.getShape()[0], wt.getShape()[1], 32,
                Float16Type::get(op.getContext())};
    p.q4_1 = true;
    return p;
  }
  if (!wt ||
      (wt.getScheme().getGguf() != GGUFKind::Q4_0 &&
       wt.getScheme().getGguf() != GGUFKind::Q8_0 &&
       wt.getScheme().getGguf() != GGUFKind::Q4_K) ||
      !wt.getScheme().getExpressedType().isF32())
    return std::nullopt;
  W4Problem p{0, wt.getShape()[0], wt.getShape()[1], 32,
              Float16Type::get(op.getContext())};
  p.q4_0 = wt.getScheme().getGguf() == GGUFKind::Q4_0;
  p.q4_k = wt.getScheme().getGguf() == GGUFKind::Q4_K;
  p.q8_0 = !p.q4_0 && !p.q4_k;
  if (p.k % (p.q4_k ? 256 : 32) != 0 ||
      !matchInt8Activations(op, p, target, /*fullU8=*/p.q8_0))
    return std::nullopt;
  return p;
}

/// FP8 E4M3 weights [N, K] with a scale per output channel or per tensor
/// times f32 activations, or FP8 E4M3 activations with an f32 scale per row
/// or per tensor (what `lowbit-fp8` produces).
std::optional<W4Problem> matchF8(QMatmulOp op) {
  QTensorType wt = matchWeights(op);
  if (!wt)
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  if (s.isGGUF()) // matchGGUF
    return std::nullopt;
  Type st = s.getScaleType();
  if (!isa<Float8E4M3FNType>(s.getStorageType()) || !st ||
      !isa<Float32Type, Float16Type, BFloat16Type>(st) || s.getTensorScale() ||
      !s.getExpressedType().isF32())
    return std::nullopt;
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  int64_t n = wt.getShape()[0], k = wt.getShape()[1];
  if (blocks.size() != 2 || blocks[1] != k ||
      (blocks[0] != 1 && blocks[0] != n))
    return std::nullopt;
  W4Problem p{0, n, k, k, st};
  p.f8 = true;
  p.wScalePerRow = blocks[0] == 1 && n > 1;
  p.wScales = wt.getScalesType();
  if (auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType())) {
    if (xt.getRank() != 2 || !xt.hasStaticShape() ||
        !xt.getElementType().isF32())
      return std::nullopt;
    p.m = xt.getDimSize(0);
    return p;
  }
  auto xq = dyn_cast<QTensorType>(op.getLhs().getType());
  if (!xq || xq.getShape().size() != 2 ||
      ShapedType::isDynamicShape(xq.getShape()))
    return std::nullopt;
  SchemeAttr xs = xq.getScheme();
  SmallVector<int64_t> xBlocks = xq.getBlockSizes();
  int64_t m = xq.getShape()[0];
  if (!isa<Float8E4M3FNType>(xs.getStorageType()) || !xs.getScaleType() ||
      !xs.getScaleType().isF32() || xs.getTensorScale() ||
      !xs.getExpressedType().isF32() || xBlocks.size() != 2 ||
      xBlocks[1] != k || (xBlocks[0] != 1 && xBlocks[0] != m))
    return std::nullopt;
  p.m = m;
  p.f8Act = true;
  p.xScales = xq.getScalesType();
  p.xScalePerRow = xBlocks[0] == 1 && m > 1;
  return p;
}

static Type scalePartType(const W4Problem &p) {
  if (p.e2m1) // E8M0 / E4M3 bits
    return IntegerType::get(p.scaleType.getContext(), 8);
  return p.scaleType;
}

static Value idx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
static Value add(ImplicitLocOpBuilder &b, Value v, int64_t c) {
  return c ? arith::AddIOp::create(b, v, idx(b, c)).getResult() : v;
}
static Value splat(ImplicitLocOpBuilder &b, VectorType t, Attribute v) {
  return arith::ConstantOp::create(b, t, DenseElementsAttr::get(t, v));
}

/// The declaration through which kernels call an LLVM intrinsic: a private
/// func.func marked `lowbit.llvm_intrinsic`, whose calls
/// `lowbit-expand-intrinsic-calls` turns into llvm.call_intrinsic once
/// buffers are deallocated (the deallocation passes reject ops of unknown
/// memory effects such as llvm.call_intrinsic). `b` must be inside a
/// function of the module.
static func::FuncOp getIntrinsicDecl(ImplicitLocOpBuilder &b,
                                     StringRef intrinsic, FunctionType type) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  std::string name = "__lowbit_intrinsic_" + intrinsic.str();
  std::replace(name.begin(), name.end(), '.', '_');
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto fn = func::FuncOp::create(b, name, type);
  fn.setPrivate();
  fn->setAttr(kLLVMIntrinsicAttr, b.getStringAttr(intrinsic));
  return fn;
}

/// E4M3 bits (a vector of i8) -> f32, exactly, without f32 denormals (so
/// it holds under FTZ/DAZ too): normal codes as f32 bits (e + 120, m),
/// subnormal ones (e = 0) as m * 2^-9, then the sign bit; NaN for
/// S.1111.111.
static Value decodeE4M3(ImplicitLocOpBuilder &b, Value bits) {
  auto vt = cast<VectorType>(bits.getType());
  auto vi = VectorType::get(vt.getShape(), b.getI32Type());
  auto vf = VectorType::get(vt.getShape(), b.getF32Type());
  auto ci = [&](int32_t v) { return splat(b, vi, b.getI32IntegerAttr(v)); };
  Value x = arith::ExtUIOp::create(b, vi, bits);
  Value em = arith::AndIOp::create(b, x, ci(0x7F));
  Value normal = arith::AddIOp::create(b, arith::ShLIOp::create(b, em, ci(20)),
                                       ci(120 << 23));
  Value sub = arith::BitcastOp::create(
      b, vi,
      arith::MulFOp::create(
          b, arith::SIToFPOp::create(b, vf, em),
          splat(b, vf, b.getF32FloatAttr(std::ldexp(1.0f, -9)))));
  Value isSub = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, em, ci(8));
  Value mag = arith::SelectOp::create(b, isSub, sub, normal);
  Value sign =
      arith::ShLIOp::create(b, arith::AndIOp::create(b, x, ci(0x80)), ci(24));
  Value f = arith::BitcastOp::create(b, vf, arith::OrIOp::create(b, mag, sign));
  Value nan = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, em, ci(0x7F));
  return arith::SelectOp::create(
      b, nan,
      splat(b, vf, b.getF32FloatAttr(std::numeric_limits<float>::quiet_NaN())),
      f);
}

/// E8M0 bits -> 2^(e - 127) as f32 (e = 0: 2^-127, a subnormal; e = 255:
/// NaN), exactly.
static Value decodeE8M0(ImplicitLocOpBuilder &cb, Value bits) {
  auto vt = cast<VectorType>(bits.getType());
  auto vi = VectorType::get(vt.getShape(), cb.getI32Type());
  auto vf = VectorType::get(vt.getShape(), cb.getF32Type());
  Value e = arith::ExtUIOp::create(cb, vi, bits);
  Value f = arith::BitcastOp::create(
      cb, vf,
      arith::ShLIOp::create(cb, e, splat(cb, vi, cb.getI32IntegerAttr(23))));
  auto isE = [&](int32_t v) {
    return arith::CmpIOp::create(cb, arith::CmpIPredicate::eq, e,
                                 splat(cb, vi, cb.getI32IntegerAttr(v)));
  };
  f = arith::SelectOp::create(
      cb, isE(0), splat(cb, vf, cb.getF32FloatAttr(std::ldexp(1.0f, -127))), f);
  return arith::SelectOp::create(
      cb, isE(255),
      splat(cb, vf,
            cb.getF32FloatAttr(std::numeric_limits<float>::quiet_NaN())),
      f);
}

/// The two 256-bit halves of a 512-bit vector, and back.
static std::pair<Value, Value> splitHalves(ImplicitLocOpBuilder &b, Value v) {
  int64_t n = cast<VectorType>(v.getType()).getNumElements();
  SmallVector<int64_t> lo, hi;
  for (int64_t i = 0; i < n / 2; ++i) {
    lo.push_back(i);
    hi.push_back(n / 2 + i);
  }
  return {vector::ShuffleOp::create(b, v, v, lo),
          vector::ShuffleOp::create(b, v, v, hi)};
}
static Value concatHalves(ImplicitLocOpBuilder &b, Value lo, Value hi) {
  int64_t n = cast<VectorType>(lo.getType()).getNumElements();
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < 2 * n; ++i)
    all.push_back(i);
  return vector::ShuffleOp::create(b, lo, hi, all);
}

/// vpdpbusd on AVX2: acc + per 32-bit lane the sum of 4 byte products, as
/// vpmaddubsw (pairs to i16) and vpmaddwd by ones (pairs to i32) on the
/// 256-bit halves. `dot(u, x)`: u unsigned, exact while u <= 127.
/// `dotSigned(w, x)`: signed w, as |w| . (x * sign(w)) (vpsignb), exact
/// while |w| <= 127.
struct Avx2Dot {
  func::FuncOp maddubs, maddwd, psign;
  Value ones16;

  explicit Avx2Dot(ImplicitLocOpBuilder &b) {
    auto v32i8 = VectorType::get({32}, b.getI8Type());
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    ones16 = splat(b, v16i16, b.getI16IntegerAttr(1));
    maddubs = getIntrinsicDecl(
        b, "llvm.x86.avx2.pmadd.ub.sw",
        FunctionType::get(b.getContext(), {v32i8, v32i8}, {v16i16}));
    maddwd = getIntrinsicDecl(
        b, "llvm.x86.avx2.pmadd.wd",
        FunctionType::get(b.getContext(), {v16i16, v16i16}, {v8i32}));
    psign = getIntrinsicDecl(
        b, "llvm.x86.avx2.psign.b",
        FunctionType::get(b.getContext(), {v32i8, v32i8}, {v32i8}));
  }

  Value dot(ImplicitLocOpBuilder &b, Value acc, Value u, Value x,
            bool signedFirst = false) const {
    auto [u0, u1] = splitHalves(b, u);
    auto [x0, x1] = splitHalves(b, x);
    auto half = [&](Value uh, Value xh) {
      if (signedFirst) {
        xh = func::CallOp::create(b, psign, ValueRange{xh, uh}).getResult(0);
        uh = math::AbsIOp::create(b, uh);
      }
      Value t =
          func::CallOp::create(b, maddubs, ValueRange{uh, xh}).getResult(0);
      return func::CallOp::create(b, maddwd, ValueRange{t, ones16})
          .getResult(0);
    };
    return arith::AddIOp::create(b, acc,
                                 concatHalves(b, half(u0, x0), half(u1, x1)));
  }
};

/// A scale from a scales part of any rank: row `row` of a per-row part,
/// else the single value; as f32.
static Value extractScale(ImplicitLocOpBuilder &b, Value part, bool perRow,
                          Value row) {
  auto t = cast<RankedTensorType>(part.getType());
  SmallVector<Value> at;
  for (int64_t d = 0; d < t.getRank(); ++d)
    at.push_back(perRow && d == 0 ? row : idx(b, 0));
  Value v = tensor::ExtractOp::create(b, part, at);
  return v.getType().isF32() ? v : arith::ExtFOp::create(b, b.getF32Type(), v);
}

/// The loops common to every kernel: outputs in tiles of MR rows of X by NR
/// output channels, N tiles outermost so that each weight byte is read from
/// memory once, static tails for M % MR and N % NR. Subclasses emit a tile.
class TiledKernel {
public:
  TiledKernel(ImplicitLocOpBuilder &b, const W4Problem &p, int64_t mr,
              int64_t nr)
      : b(b), p(p), mr(mr), nr(nr) {}
  virtual ~TiledKernel() = default;

  /// Writes every element of `y` (the destination) and returns it.
  /// GEMV (M <= MR): N tiles, then the M tile. GEMM: blocks of output
  /// channels whose weights fit half of a 1 MiB L2 (`rowBytes` per
  /// channel), then M tiles (X's tile stays in L1), then the block's N
  /// tiles, so that X is read from L2 once per block rather than once per
  /// N tile.
  Value build(Value y, int64_t rowBytes) {
    bool gemm = p.m > mr;
    // The unit of parallel work: GEMM, a block of output channels whose
    // weights fill half of a 1 MiB L2; GEMV, 16 N tiles.
    int64_t unit =
        gemm ? std::max<int64_t>(
                   nr, (512 * 1024 / std::max<int64_t>(rowBytes, 1)) / nr * nr)
             : 16 * nr;
    int64_t units = p.n / unit;
    if (units >= 1) {
      // scf.forall over the units (threads: scf.parallel -> OpenMP), each
      // writing its own columns of Y through a slice.
      auto forall = scf::ForallOp::create(
          b, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(units)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)}, ValueRange{y},
          std::nullopt, [&](OpBuilder &ob, Location l, ValueRange args) {
            ImplicitLocOpBuilder fb(l, ob);
            Value n0 = arith::MulIOp::create(fb, args[0], idx(fb, unit));
            SmallVector<OpFoldResult> offsets{fb.getIndexAttr(0), n0},
                sizes{fb.getIndexAttr(p.m), fb.getIndexAttr(unit)},
                strides{fb.getIndexAttr(1), fb.getIndexAttr(1)};
            Value slice = tensor::ExtractSliceOp::create(fb, args[1], offsets,
                                                         sizes, strides);
            outBase = n0;
            slice = span(fb, slice, n0, unit, gemm);
            outBase = nullptr;
            auto par = scf::InParallelOp::create(fb);
            fb.setInsertionPointToStart(par.getBody());
            tensor::ParallelInsertSliceOp::create(fb, slice, args[1], offsets,
                                                  sizes, strides);
          });
      y = forall.getResult(0);
    } else {
      units = 0;
    }
    if (p.n > units * unit)
      y = span(b, y, idx(b, units * unit), p.n - units * unit, gemm);
    return y;
  }

protected:
  /// Outputs [m0, m0 + tm) x [n0, n0 + tn), inserted into `y`.
  virtual Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0,
                     int64_t tm, int64_t tn) = 0;

  using StepFn = function_ref<Value(ImplicitLocOpBuilder &, Value /*y*/,
                                    Value /*start*/, int64_t /*size*/)>;

  /// Steps of `step` over [lo, lo + count) (an scf.for), then one step of
  /// the remainder; each gets its start and static size.
  Value forTiles(ImplicitLocOpBuilder &lb, Value y, Value lo, int64_t count,
                 int64_t step, StepFn body) {
    int64_t main = count / step * step;
    if (main) {
      auto f = scf::ForOp::create(
          lb, lo, add(lb, lo, main), idx(lb, step), ValueRange{y},
          [&](OpBuilder &ob, Location l, Value iv, ValueRange it) {
            ImplicitLocOpBuilder ib(l, ob);
            scf::YieldOp::create(ib, body(ib, it[0], iv, step));
          });
      y = f.getResult(0);
    }
    if (count > main)
      y = body(lb, y, add(lb, lo, main), count - main);
    return y;
  }
  /// Output channels [n0, n0 + count): GEMV N tiles (the M tile inside);
  /// GEMM M tiles (X's tile stays in L1), the N tiles inside.
  Value span(ImplicitLocOpBuilder &lb, Value y, Value n0, int64_t count,
             bool gemm) {
    if (!gemm)
      return nTiles(
          lb, y, n0, count,
          [&](ImplicitLocOpBuilder &nb, Value yy, Value t0, int64_t tn) {
            return mTiles(
                nb, yy, t0, tn,
                [&](ImplicitLocOpBuilder &tb, Value y3, Value m0, int64_t tm) {
                  return tile(tb, y3, m0, t0, tm, tn);
                });
          });
    return mTiles(
        lb, y, nullptr, 0,
        [&](ImplicitLocOpBuilder &mb, Value yy, Value m0, int64_t tm) {
          return nTiles(
              mb, yy, n0, count,
              [&](ImplicitLocOpBuilder &tb, Value y3, Value t0, int64_t tn) {
                return tile(tb, y3, m0, t0, tm, tn);
              });
        });
  }

  /// y[m, n] = v, for output channel n (the columns of a forall unit's
  /// slice start at outBase).
  Value store(ImplicitLocOpBuilder &tb, Value y, Value v, Value m, Value n) {
    if (outBase)
      n = arith::SubIOp::create(tb, n, outBase);
    return tensor::InsertOp::create(tb, v, y, ValueRange{m, n});
  }

  Value nTiles(ImplicitLocOpBuilder &lb, Value y, Value n0, int64_t n,
               StepFn body) {
    return forTiles(lb, y, n0, n, nr, body);
  }
  Value mTiles(ImplicitLocOpBuilder &lb, Value y, Value, int64_t, StepFn body) {
    return forTiles(lb, y, idx(lb, 0), p.m, mr, body);
  }

  ImplicitLocOpBuilder &b;
  const W4Problem &p;
  int64_t mr, nr;
  Value outBase; // set while a forall unit's body is emitted
};

/// Output channels per tile. GEMV: one, so that the weights are a single
/// sequential stream (hardware prefetchers keep it near DRAM bandwidth;
/// four interleaved row streams reached half of it), unless an f32 row of X
/// no longer fits half of a 32 KiB L1 (then 4 channels share each load and
/// shuffle of X; measured on Zen 4, docs/Performance.md).
static int64_t tileRows(const W4Problem &p) {
  if (p.m != 1)
    return 2;
  return p.int8Act || p.k * 4 <= 16 * 1024 ? 1 : 4;
}

/// W4A32. Per 32 inputs, NR x 16 bytes of codes are split into low/high
/// nibbles by shifts (sign-extending), converted to f32 and multiplied with
/// X's even/odd elements (so no byte interleave is needed). With MR = 1
/// (GEMV) each group's sum of q * x is scaled once; with MR > 1 the decoded
/// weights are scaled once and shared by the MR rows.
class W4F32Kernel : public TiledKernel {
public:
  W4F32Kernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value x, Value codes,
              Value scales)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), x(x), codes(codes),
        scales(scales) {
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    v16f = VectorType::get({16}, f32);
    v16i = VectorType::get({16}, i8);
    v32f = VectorType::get({32}, f32);
    zero = splat(b, v16f, b.getF32FloatAttr(0.f));
    four = splat(b, v16i, b.getI8IntegerAttr(4));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    // Low nibbles pair with X's even inputs and high ones with the odd
    // (lowbit's packing); in a q4_1 block with the first and last 16.
    for (int64_t i = 0; i < 16; ++i) {
      even.push_back(p.q4_1 ? i : 2 * i);
      odd.push_back(p.q4_1 ? 16 + i : 2 * i + 1);
    }
    if (p.e2m1) {
      // MXFP4: codes decoded to 2 * value (exact int8) by vpshufb; the
      // factor 0.5 goes on the sum.
      static const int8_t kTwiceE2M1[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                            0, -1, -2, -3, -4, -6, -8, -12};
      SmallVector<Attribute> t;
      for (int8_t v : kTwiceE2M1)
        t.push_back(b.getI8IntegerAttr(v));
      twiceE2M1 =
          arith::ConstantOp::create(b, v16i, DenseElementsAttr::get(v16i, t));
      low4 = splat(b, v16i, b.getI8IntegerAttr(0x0F));
      pshufbFn = getIntrinsicDecl(
          b, "llvm.x86.ssse3.pshuf.b.128",
          FunctionType::get(b.getContext(), {v16i, v16i}, {v16i}));
    }
  }

protected:
  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    // GEMV sums q * x per group and scales once; weights expressed in
    // f16/bf16 must each be rounded to it first (as the reference
    // dequantizes), so they are scaled per element.
    bool roundW = p.expressed && !p.expressed.isF32();
    // q4_1 decodes each weight (q * d + m, one FMA) before the products.
    bool scaleSums = tm == 1 && !roundW && !p.q4_1;
    // q4_1: the low and high nibbles' products go to two accumulators (two
    // independent FMA chains instead of one of twice the length).
    int64_t chains = p.q4_1 ? 2 : 1;
    int64_t na = tm * tn * chains;
    SmallVector<Value> init(na, zero);
    auto groups = scf::ForOp::create(
        tb, idx(tb, 0), idx(tb, p.k / p.g), idx(tb, 1), init,
        [&](OpBuilder &ob, Location l, Value gi, ValueRange acc) {
          ImplicitLocOpBuilder gb(l, ob);
          SmallVector<Value> s, mins;
          for (int64_t r = 0; r < tn; ++r) {
            if (p.q4_1) { // the block's f16 d and m, its first 4 bytes
              Value dm = vector::TransferReadOp::create(
                  gb, VectorType::get({4}, gb.getI8Type()), codes,
                  ValueRange{add(gb, n0, r),
                             arith::MulIOp::create(gb, gi, idx(gb, 20))},
                  padI8, ArrayRef<bool>{true});
              dm = vector::BitCastOp::create(
                  gb, VectorType::get({2}, gb.getF16Type()), dm);
              dm = arith::ExtFOp::create(
                  gb, VectorType::get({2}, gb.getF32Type()), dm);
              for (int64_t j = 0; j < 2; ++j) {
                Value v =
                    vector::ExtractOp::create(gb, dm, ArrayRef<int64_t>{j});
                (j ? mins : s)
                    .push_back(vector::BroadcastOp::create(gb, v16f, v));
              }
              continue;
            }
            Value sc = tensor::ExtractOp::create(
                gb, scales, ValueRange{add(gb, n0, r), gi});
            if (p.e2m1) { // E8M0 bits; halved: the table gives 2 * value
              Value v = vector::FromElementsOp::create(
                  gb, VectorType::get({1}, gb.getI8Type()), ValueRange{sc});
              sc = vector::ExtractOp::create(gb, decodeE8M0(gb, v),
                                             ArrayRef<int64_t>{0});
              sc = arith::MulFOp::create(
                  gb, sc,
                  arith::ConstantOp::create(gb, gb.getF32FloatAttr(0.5f)));
            } else if (!sc.getType().isF32()) {
              sc = arith::ExtFOp::create(gb, gb.getF32Type(), sc);
            }
            s.push_back(vector::BroadcastOp::create(gb, v16f, sc));
          }
          Value kg = arith::MulIOp::create(gb, gi, idx(gb, p.g));
          SmallVector<Value> chunkInit = scaleSums
                                             ? SmallVector<Value>(na, zero)
                                             : SmallVector<Value>(acc);
          auto chunks = scf::ForOp::create(
              gb, idx(gb, 0), idx(gb, p.g / 32), idx(gb, 1), chunkInit,
              [&](OpBuilder &cob, Location cl, Value ci, ValueRange a) {
                ImplicitLocOpBuilder cb(cl, cob);
                Value k0 = arith::AddIOp::create(
                    cb, kg, arith::MulIOp::create(cb, ci, idx(cb, 32)));
                // q4_1: the block's 16 bytes of nibbles after d and m.
                Value kb =
                    p.q4_1
                        ? add(cb, arith::MulIOp::create(cb, gi, idx(cb, 20)), 4)
                        : arith::DivUIOp::create(cb, k0, idx(cb, 2))
                              .getResult();
                SmallVector<Value> lo, hi;
                for (int64_t r = 0; r < tn; ++r) {
                  Value bytes = vector::TransferReadOp::create(
                      cb, v16i, codes, ValueRange{add(cb, n0, r), kb}, padI8,
                      ArrayRef<bool>{true});
                  Value l, h;
                  if (p.q4_1) { // unsigned nibbles q in 0..15
                    Value low4v = splat(cb, v16i, cb.getI8IntegerAttr(0x0F));
                    l = arith::AndIOp::create(cb, bytes, low4v);
                    h = arith::ShRUIOp::create(cb, bytes, four);
                  } else if (p.e2m1) { // 2 * E2M1 value by table, as int8
                    Value low = arith::AndIOp::create(cb, bytes, low4);
                    Value high = arith::AndIOp::create(
                        cb, arith::ShRUIOp::create(cb, bytes, four), low4);
                    l = func::CallOp::create(cb, pshufbFn,
                                             ValueRange{twiceE2M1, low})
                            .getResult(0);
                    h = func::CallOp::create(cb, pshufbFn,
                                             ValueRange{twiceE2M1, high})
                            .getResult(0);
                  } else { // sign-extended nibbles
                    l = arith::ShRSIOp::create(
                        cb, arith::ShLIOp::create(cb, bytes, four), four);
                    h = arith::ShRSIOp::create(cb, bytes, four);
                  }
                  Value lf = arith::SIToFPOp::create(cb, v16f, l);
                  Value hf = arith::SIToFPOp::create(cb, v16f, h);
                  if (p.q4_1) {
                    lf = vector::FMAOp::create(cb, lf, s[r], mins[r]);
                    hf = vector::FMAOp::create(cb, hf, s[r], mins[r]);
                  } else if (!scaleSums) {
                    lf = arith::MulFOp::create(cb, lf, s[r]);
                    hf = arith::MulFOp::create(cb, hf, s[r]);
                  }
                  if (roundW) {
                    auto ve = VectorType::get({16}, p.expressed);
                    lf = arith::ExtFOp::create(
                        cb, v16f,
                        arith::TruncFOp::create(cb, ve, lf).getResult());
                    hf = arith::ExtFOp::create(
                        cb, v16f,
                        arith::TruncFOp::create(cb, ve, hf).getResult());
                  }
                  lo.push_back(lf);
                  hi.push_back(hf);
                }
                SmallVector<Value> out(a);
                for (int64_t i = 0; i < tm; ++i) {
                  Value xv = readX(cb, add(cb, m0, i), k0);
                  Value xe = vector::ShuffleOp::create(cb, xv, xv, even);
                  Value xo = vector::ShuffleOp::create(cb, xv, xv, odd);
                  for (int64_t r = 0; r < tn; ++r) {
                    Value &o = out[(i * tn + r) * chains];
                    o = vector::FMAOp::create(cb, lo[r], xe, o);
                    Value &oh = out[(i * tn + r) * chains + chains - 1];
                    oh = vector::FMAOp::create(cb, hi[r], xo, oh);
                  }
                }
                scf::YieldOp::create(cb, out);
              });
          SmallVector<Value> next(chunks.getResults());
          if (scaleSums)
            for (int64_t r = 0; r < tn; ++r)
              next[r] = vector::FMAOp::create(gb, next[r], s[r], acc[r]);
          scf::YieldOp::create(gb, next);
        });
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t r = 0; r < tn; ++r) {
        Value v = groups.getResult((i * tn + r) * chains);
        if (chains == 2)
          v = arith::AddFOp::create(
              tb, v, groups.getResult((i * tn + r) * chains + 1));
        Value sum = vector::ReductionOp::create(
            tb, vector::CombiningKind::ADD, v, arith::FastMathFlags::reassoc);
        if (p.yElem && !p.yElem.isF32())
          sum = arith::TruncFOp::create(tb, p.yElem, sum);
        y = store(tb, y, sum, add(tb, m0, i), add(tb, n0, r));
      }
    return y;
  }

  /// 32 elements of X's row m from k0, as f32 (f16/bf16 extended exactly).
  Value readX(ImplicitLocOpBuilder &cb, Value m, Value k0) {
    Type xe = p.xElem ? p.xElem : cb.getF32Type();
    if (xe.isF32())
      return vector::TransferReadOp::create(cb, v32f, x, ValueRange{m, k0},
                                            padF, ArrayRef<bool>{true});
    Value pad = arith::ConstantOp::create(cb, cb.getFloatAttr(xe, 0));
    Value v = vector::TransferReadOp::create(cb, VectorType::get({32}, xe), x,
                                             ValueRange{m, k0}, pad,
                                             ArrayRef<bool>{true});
    return arith::ExtFOp::create(cb, v32f, v);
  }

  Value x, codes, scales;
  VectorType v16f, v16i, v32f;
  Value zero, four, padI8, padF, low4, twiceE2M1;
  SmallVector<int64_t> even, odd;
  func::FuncOp pshufbFn;
};

/// f32 X [M, K] times f32 W [N, K] transposed, added to Y (a linalg.matmul
/// with transposed-B maps, e.g. an fp32 model's projections): FMA over 16
/// lanes, GEMV with 4 independent accumulators per channel (64 inputs a
/// step) so the FMA latency does not bound one weight stream; the K tail by
/// 16 lanes, then a masked read. Within fp32 reassociation of the reference
/// lowering (scalar loops: 68 ms a token for SmolLM2-135M's matmuls).
class F32Kernel : public TiledKernel {
public:
  F32Kernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value x, Value w)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), x(x), w(w) {
    v16f = VectorType::get({16}, b.getF32Type());
    zero = splat(b, v16f, b.getF32FloatAttr(0.f));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
  }

protected:
  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    // Accumulators per (row, channel); GEMV tiles get 4 chains each.
    int64_t chains = tm == 1 ? 4 : 1, na = tm * tn * chains;
    auto step = [&](ImplicitLocOpBuilder &cb, Value k0, ValueRange acc,
                    int64_t chain, bool inBounds) {
      SmallVector<Value> out(acc);
      SmallVector<Value> wv;
      for (int64_t r = 0; r < tn; ++r)
        wv.push_back(vector::TransferReadOp::create(
            cb, v16f, w, ValueRange{add(cb, n0, r), k0}, padF,
            ArrayRef<bool>{inBounds}));
      for (int64_t i = 0; i < tm; ++i) {
        Value xv = vector::TransferReadOp::create(
            cb, v16f, x, ValueRange{add(cb, m0, i), k0}, padF,
            ArrayRef<bool>{inBounds});
        for (int64_t r = 0; r < tn; ++r) {
          Value &o = out[(i * tn + r) * chains + chain];
          o = vector::FMAOp::create(cb, xv, wv[r], o);
        }
      }
      return out;
    };
    SmallVector<Value> acc(na, zero);
    int64_t wide = 16 * chains, main = p.k / wide * wide;
    if (main) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, main), idx(tb, wide), acc,
          [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            SmallVector<Value> cur(a);
            for (int64_t c = 0; c < chains; ++c)
              cur = step(cb, add(cb, k0, 16 * c), cur, c, true);
            scf::YieldOp::create(cb, cur);
          });
      acc.assign(loop.getResults().begin(), loop.getResults().end());
    }
    int64_t full = p.k / 16 * 16;
    for (int64_t k0 = main; k0 < full; k0 += 16)
      acc = step(tb, idx(tb, k0), acc, (k0 - main) / 16 % chains, true);
    if (full < p.k)
      acc = step(tb, idx(tb, full), acc, 0, false);
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t r = 0; r < tn; ++r) {
        Value v = acc[(i * tn + r) * chains];
        for (int64_t c = 1; c < chains; ++c)
          v = arith::AddFOp::create(tb, v, acc[(i * tn + r) * chains + c]);
        Value sum = vector::ReductionOp::create(
            tb, vector::CombiningKind::ADD, v, arith::FastMathFlags::reassoc);
        Value m = add(tb, m0, i), n = add(tb, n0, r);
        // linalg.matmul accumulates into its destination.
        Value init = tensor::ExtractOp::create(
            tb, y,
            ValueRange{m, outBase ? arith::SubIOp::create(tb, n, outBase) : n});
        sum = arith::AddFOp::create(tb, init, sum);
        y = store(tb, y, sum, m, n);
      }
    return y;
  }

  Value x, w;
  VectorType v16f;
  Value zero, padF;
};

/// W4A8 with AVX-512 VNNI. Work goes in chunks of 128 inputs (64 bytes of
/// codes per output channel). A prologue rearranges each row of X's int8
/// codes into [64 even | 64 odd] per chunk and keeps, per chunk, 16 int32
/// lane sums c = 8 * (sum of the 8 inputs a lane covers). In the tile loop
/// a chunk's codes become biased nibbles u = q + 8 in 0..15 (and, shift,
/// xor), two vpdpbusd (u8 x s8 -> i32, 4 products per lane) give per-lane
/// sums of u * x, minus c that is sum of q * x, exact in int32. Lane l holds
/// inputs 8l .. 8l + 7, so it belongs to group (128 * chunk + 8l) / g: the
/// lane sums are converted to f32 and multiplied by their group's scale,
/// accumulated in f32, reduced and multiplied by X's scale at the end. A
/// K tail (K % 128) is read with masked loads, padded with codes 0 (u = 8)
/// and inputs 0, which adds nothing.
class W4I8Kernel : public TiledKernel {
public:
  W4I8Kernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value xCodes,
             Value xScales, Value codes, Value scales, Value tensorScale)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), xCodes(xCodes),
        xScales(xScales), codes(codes), scales(scales),
        tensorScale(tensorScale) {
    Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
    cpb = p.ternary ? 4 : p.q8_0 ? 1 : 2;
    chunkIn = 64 * cpb;
    v64i8 = VectorType::get({64}, i8);
    vChunk = VectorType::get({chunkIn}, i8);
    v16i32 = VectorType::get({16}, i32);
    v16f = VectorType::get({16}, f32);
    zeroF = splat(b, v16f, b.getF32FloatAttr(0.f));
    zeroI = splat(b, v16i32, b.getI32IntegerAttr(0));
    low4 = splat(b, v64i8, b.getI8IntegerAttr(0x0F));
    // u = value + bias, unsigned: int4/q4_0 q + 8, E2M1 2v + 12, ternary
    // q + 2, q8_0 q + 128 (as the byte 0x80).
    // (q8_0 on AVX2: signed codes directly, no bias.)
    int64_t bias = p.e2m1      ? 12
                   : p.ternary ? 2
                   : p.q8_0    ? (p.emulateDot ? 0 : -128)
                               : 8;
    bias8 = splat(b, v64i8, b.getI8IntegerAttr(bias));
    three = splat(b, v64i8, b.getI8IntegerAttr(3));
    ones = splat(b, v64i8, b.getI8IntegerAttr(1));
    if (p.e2m1) {
      // u = 2 * e2m1(code) + 12 (0..24) for codes 0..15, in each 16-byte
      // lane of vpshufb's table.
      static const int8_t kTwiceE2M1Biased[16] = {
          12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};
      SmallVector<Attribute> t;
      for (int64_t i = 0; i < 64; ++i)
        t.push_back(b.getI8IntegerAttr(kTwiceE2M1Biased[i % 16]));
      e2m1Table =
          arith::ConstantOp::create(b, v64i8, DenseElementsAttr::get(v64i8, t));
      if (p.avx512) {
        pshufbFn = getIntrinsicDecl(
            b, "llvm.x86.avx512.pshuf.b.512",
            FunctionType::get(b.getContext(), {v64i8, v64i8}, {v64i8}));
      } else {
        auto v32i8 = VectorType::get({32}, i8);
        pshufbFn = getIntrinsicDecl(
            b, "llvm.x86.avx2.pshuf.b",
            FunctionType::get(b.getContext(), {v32i8, v32i8}, {v32i8}));
      }
    }
    four = splat(b, v64i8, b.getI8IntegerAttr(4));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    // Which inputs of a chunk segment j (the codes at position j of each
    // byte) meets: lowbit packing puts input cpb * i + j in byte i; q4_0
    // puts each 32-input block's first 16 in the low nibbles, the last 16
    // in the high ones; q8_0 is one code per byte.
    segments.resize(cpb);
    for (int64_t j = 0; j < cpb; ++j)
      for (int64_t i = 0; i < 64; ++i)
        segments[j].push_back(p.q4_0   ? 32 * (i / 16) + 16 * j + i % 16
                              : p.q4_k ? 64 * (i / 32) + 32 * j + i % 32
                                       : cpb * i + j);
    chunks = (p.k + chunkIn - 1) / chunkIn;
    fullChunks = p.k / chunkIn;
    // Lane l (4 bytes of each segment: 4 cpb consecutive inputs) -> its
    // group's index among the chunk's scales.
    for (int64_t l = 0; l < 16; ++l)
      laneGroup.push_back(p.g < chunkIn ? 4 * cpb * l / p.g : 0);
    scalesPerChunk = p.g < chunkIn ? chunkIn / p.g : 1;
    if (p.emulateDot) {
      avx2.emplace(b);
    } else {
      dpbusdFn = getIntrinsicDecl(
          b, "llvm.x86.avx512.vpdpbusd.512",
          FunctionType::get(b.getContext(), {v16i32, v64i8, v64i8}, {v16i32}));
    }
    prologue();
  }

protected:
  /// acc + per 32-bit lane the sum of 4 products u8 x s8 (vpdpbusd). Without
  /// VNNI: vpmaddubsw (pairs to i16; exact since u <= 127 here) and vpmaddwd
  /// by ones (pairs to i32) on the two 256-bit halves.
  Value dpbusd(ImplicitLocOpBuilder &cb, Value acc, Value u8, Value s8) {
    if (avx2)
      return avx2->dot(cb, acc, u8, s8, /*signedFirst=*/p.q8_0);
    return func::CallOp::create(cb, dpbusdFn, ValueRange{acc, u8, s8})
        .getResult(0);
  }

  /// xArranged[m, c chunkIn + 64 j + i] = segment j's i-th input of chunk
  /// c; laneSums[m, 16c + l] = bias * sum of lane l's inputs.
  void prologue() {
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    Value arranged = tensor::EmptyOp::create(
        b, ArrayRef<int64_t>{p.m, chunks * chunkIn}, i8);
    // Lane sums (i32, 16 per chunk); q4_K: sub-block sums (f32, 4 per
    // chunk).
    int64_t sumsPerChunk = p.q4_k ? 4 : 16;
    Value sums = tensor::EmptyOp::create(
        b, ArrayRef<int64_t>{p.m, chunks * sumsPerChunk},
        p.q4_k ? Type(b.getF32Type()) : i32);
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, p.m), idx(b, 1), ValueRange{arranged, sums},
        [&](OpBuilder &ob, Location l, Value m, ValueRange it) {
          ImplicitLocOpBuilder rb(l, ob);
          auto cs = scf::ForOp::create(
              rb, idx(rb, 0), idx(rb, chunks), idx(rb, 1), it,
              [&](OpBuilder &cob, Location cl, Value c, ValueRange ct) {
                ImplicitLocOpBuilder cb(cl, cob);
                Value k0 = arith::MulIOp::create(cb, c, idx(cb, chunkIn));
                Value xv = vector::TransferReadOp::create(
                    cb, vChunk, xCodes, ValueRange{m, k0}, padI8,
                    ArrayRef<bool>{p.k % chunkIn == 0});
                Value a = ct[0], sum = zeroI, sm = ct[1];
                SmallVector<Value> segSums;
                Value s0 = arith::MulIOp::create(cb, c, idx(cb, sumsPerChunk));
                for (int64_t j = 0; j < cpb; ++j) {
                  Value seg = cpb == 1 ? xv
                                       : vector::ShuffleOp::create(cb, xv, xv,
                                                                   segments[j])
                                             .getResult();
                  a = vector::TransferWriteOp::create(
                          cb, seg, a, ValueRange{m, add(cb, k0, 64 * j)},
                          ArrayRef<bool>{true})
                          .getResult();
                  if (p.q4_k) // sum of x per lane, per segment
                    segSums.push_back(dpbusd(cb, zeroI, ones, seg));
                  else
                    sum = dpbusd(cb, sum, bias8, seg);
                }
                if (p.q4_k) {
                  // Sums of x per sub-block of 32 (4 per chunk: segment 0
                  // lanes 0-7 and 8-15 hold sub-blocks 0 and 2, segment 1
                  // sub-blocks 1 and 3), as f32 [M, K / 32].
                  SmallVector<Value> sub;
                  for (int64_t q = 0; q < 4; ++q) {
                    SmallVector<int64_t> l;
                    for (int64_t i = 0; i < 8; ++i)
                      l.push_back(8 * (q / 2) + i);
                    Value part = vector::ShuffleOp::create(cb, segSums[q % 2],
                                                           segSums[q % 2], l);
                    sub.push_back(vector::ReductionOp::create(
                        cb, vector::CombiningKind::ADD, part));
                  }
                  Value v = vector::FromElementsOp::create(
                      cb, VectorType::get({4}, cb.getI32Type()), sub);
                  v = arith::SIToFPOp::create(
                      cb, VectorType::get({4}, cb.getF32Type()), v);
                  sm = vector::TransferWriteOp::create(
                           cb, v, sm,
                           ValueRange{m,
                                      arith::MulIOp::create(cb, c, idx(cb, 4))},
                           ArrayRef<bool>{true})
                           .getResult();
                } else {
                  sm = vector::TransferWriteOp::create(
                           cb, sum, sm, ValueRange{m, s0}, ArrayRef<bool>{true})
                           .getResult();
                }
                scf::YieldOp::create(cb, ValueRange{a, sm});
              });
          scf::YieldOp::create(rb, cs.getResults());
        });
    xArranged = rows.getResult(0);
    laneSums = rows.getResult(1);
  }

  /// Chunk `c` of GGUF row `row` (q4_0: 4 blocks of 18 bytes, q8_0: 2 of
  /// 34): the blocks' 64 bytes of codes (after each block's f16 scale d)
  /// and the d's, spread over the lanes of their blocks. Blocks past K
  /// (tail) read as zeros.
  void readGGUF(ImplicitLocOpBuilder &cb, Value row, Value c, bool full,
                Value &bytes, Value &sw) {
    Type f32 = cb.getF32Type(), f16 = cb.getF16Type();
    int64_t blocks = p.q8_0 ? 2 : 4, blockBytes = p.q8_0 ? 34 : 18,
            dataBytes = 64 / blocks;
    Value base = arith::MulIOp::create(cb, c, idx(cb, blocks * blockBytes));
    auto vData = VectorType::get({dataBytes}, cb.getI8Type());
    auto v2i8 = VectorType::get({2}, cb.getI8Type());
    SmallVector<Value> parts, d;
    for (int64_t j = 0; j < blocks; ++j) {
      Value off = add(cb, base, blockBytes * j);
      parts.push_back(vector::TransferReadOp::create(
          cb, vData, codes, ValueRange{row, add(cb, off, 2)}, padI8,
          ArrayRef<bool>{full}));
      Value h = vector::TransferReadOp::create(
          cb, v2i8, codes, ValueRange{row, off}, padI8, ArrayRef<bool>{full});
      h = vector::BitCastOp::create(cb, VectorType::get({1}, f16), h);
      h = arith::ExtFOp::create(cb, VectorType::get({1}, f32), h);
      d.push_back(vector::ExtractOp::create(cb, h, ArrayRef<int64_t>{0}));
    }
    // Concatenate the blocks' codes pairwise.
    while (parts.size() > 1) {
      SmallVector<Value> next;
      for (size_t i = 0; i < parts.size(); i += 2) {
        int64_t n = cast<VectorType>(parts[i].getType()).getNumElements();
        SmallVector<int64_t> both;
        for (int64_t e = 0; e < 2 * n; ++e)
          both.push_back(e);
        next.push_back(
            vector::ShuffleOp::create(cb, parts[i], parts[i + 1], both));
      }
      parts = next;
    }
    bytes = parts[0];
    Value ds =
        vector::FromElementsOp::create(cb, VectorType::get({blocks}, f32), d);
    sw = vector::ShuffleOp::create(cb, ds, ds, laneGroup);
  }

  /// The chunk's codes of row `row` as unsigned u = value + bias, one
  /// vector per segment.
  SmallVector<Value> decodeSegments(ImplicitLocOpBuilder &cb, Value bytes) {
    if (p.q8_0)
      return {arith::XOrIOp::create(cb, bytes, bias8)};
    if (p.ternary) {
      SmallVector<Value> u;
      for (int64_t j = 0; j < 4; ++j) {
        Value sh = splat(cb, v64i8, cb.getI8IntegerAttr(2 * j));
        Value c = j ? arith::ShRUIOp::create(cb, bytes, sh).getResult() : bytes;
        u.push_back(arith::XOrIOp::create(
            cb, arith::AndIOp::create(cb, c, three), bias8));
      }
      return u;
    }
    Value l = arith::AndIOp::create(cb, bytes, low4);
    Value h = arith::AndIOp::create(cb, arith::ShRUIOp::create(cb, bytes, four),
                                    low4);
    if (p.q4_0) // the nibble is already q + 8
      return {l, h};
    return {biased(cb, l), biased(cb, h)};
  }

  /// Codes 0..15 -> unsigned u = value + bias (int4: q + 8 = code ^ 8;
  /// E2M1: 2 * value + 12 by table lookup).
  Value biased(ImplicitLocOpBuilder &cb, Value nibbles) {
    if (!p.e2m1)
      return arith::XOrIOp::create(cb, nibbles, bias8);
    if (p.avx512)
      return func::CallOp::create(cb, pshufbFn, ValueRange{e2m1Table, nibbles})
          .getResult(0);
    // AVX2: the two 256-bit halves (the table repeats every 16 bytes).
    Value table = splitHalves(cb, e2m1Table).first;
    auto [lo, hi] = splitHalves(cb, nibbles);
    auto look = [&](Value h) {
      return func::CallOp::create(cb, pshufbFn, ValueRange{table, h})
          .getResult(0);
    };
    return concatHalves(cb, look(lo), look(hi));
  }

  /// The chunk loop body for outputs [m0, m0 + tm) x [n0, n0 + tn).
  SmallVector<Value> chunk(ImplicitLocOpBuilder &cb, Value c, ValueRange acc,
                           Value m0, Value n0, int64_t tm, int64_t tn,
                           bool full) {
    Value k0 = arith::MulIOp::create(cb, c, idx(cb, chunkIn));
    Value kb = arith::MulIOp::create(cb, c, idx(cb, 64));
    SmallVector<SmallVector<Value>> u;
    SmallVector<Value> sw;
    for (int64_t r = 0; r < tn; ++r) {
      Value row = add(cb, n0, r);
      if (p.q4_0 || p.q8_0) {
        Value bytes, s;
        readGGUF(cb, row, c, full, bytes, s);
        u.push_back(decodeSegments(cb, bytes));
        sw.push_back(s);
        continue;
      }
      Value bytes = vector::TransferReadOp::create(
          cb, v64i8, codes, ValueRange{row, kb}, padI8, ArrayRef<bool>{full});
      u.push_back(decodeSegments(cb, bytes));
      sw.push_back(chunkScales(cb, row, k0, full));
    }
    SmallVector<Value> out(acc);
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(cb, m0, i);
      SmallVector<Value> xs;
      for (int64_t j = 0; j < cpb; ++j)
        xs.push_back(vector::TransferReadOp::create(
            cb, v64i8, xArranged, ValueRange{m, add(cb, k0, 64 * j)}, padI8,
            ArrayRef<bool>{true}));
      Value cz = arith::ConstantOp::create(cb, cb.getI32IntegerAttr(0));
      Value corr = vector::TransferReadOp::create(
          cb, v16i32, laneSums,
          ValueRange{m, arith::MulIOp::create(cb, c, idx(cb, 16))}, cz,
          ArrayRef<bool>{true});
      for (int64_t r = 0; r < tn; ++r) {
        Value d = zeroI;
        for (int64_t j = 0; j < cpb; ++j)
          d = dpbusd(cb, d, u[r][j], xs[j]);
        Value q = arith::SubIOp::create(cb, d, corr);
        Value qf = arith::SIToFPOp::create(cb, v16f, q);
        Value &o = out[i * tn + r];
        o = vector::FMAOp::create(cb, qf, sw[r], o);
      }
    }
    return out;
  }

  /// The scales of chunk [k0, k0 + chunkIn) of row `row`, spread over the
  /// lanes of their groups (one scale per row or per tensor: broadcast).
  Value chunkScales(ImplicitLocOpBuilder &cb, Value row, Value k0, bool full) {
    Type f32 = cb.getF32Type();
    auto st = cast<RankedTensorType>(scales.getType());
    if (st.getRank() < 2) // one scale per row or per tensor
      return vector::BroadcastOp::create(
          cb, v16f,
          extractScale(cb, scales, st.getRank() == 1 && st.getDimSize(0) > 1,
                       row));
    Value g0 = arith::DivUIOp::create(cb, k0, idx(cb, p.g));
    Type part = scalePartType(p);
    auto vs = VectorType::get({scalesPerChunk}, part);
    Value pad = arith::ConstantOp::create(
        cb, p.e2m1 ? TypedAttr(cb.getI8IntegerAttr(0))
                   : TypedAttr(cb.getFloatAttr(part, 0)));
    // One row of scales (per tensor as per_group<[0 : N, 1 : g]>): row 0.
    Value srow = st.getDimSize(0) == 1 ? idx(cb, 0) : row;
    Value s = vector::TransferReadOp::create(
        cb, vs, scales, ValueRange{srow, g0}, pad,
        ArrayRef<bool>{full || p.g >= chunkIn});
    if (p.nvfp4)
      s = decodeE4M3(cb, s);
    else if (p.e2m1)
      s = decodeE8M0(cb, s);
    else if (!part.isF32())
      s = arith::ExtFOp::create(cb, VectorType::get({scalesPerChunk}, f32), s);
    return vector::ShuffleOp::create(cb, s, s, laneGroup);
  }

  /// q4_K super-block `sb` (256 inputs, 144 bytes: f16 d, f16 dmin, 12
  /// bytes of 6-bit scales and mins for 8 sub-blocks of 32, 128 bytes of
  /// nibbles; value d sc q - dmin m) for outputs [m0, m0 + tm) x [n0, n0 +
  /// tn): two 128-input halves, each 64 bytes whose low nibbles are
  /// sub-blocks 4h and 4h + 2, high nibbles 4h + 1 and 4h + 3. Sums of q x
  /// and of x are exact per lane; the scales and mins apply per segment.
  SmallVector<Value> superBlock(ImplicitLocOpBuilder &cb, Value sb,
                                ValueRange acc, Value m0, Value n0, int64_t tm,
                                int64_t tn) {
    Type f32 = cb.getF32Type(), i32 = cb.getI32Type();
    Value base = arith::MulIOp::create(cb, sb, idx(cb, 144));
    auto vf8 = VectorType::get({8}, f32);
    // Per output channel: the 8 scales d sc and mins dmin m.
    SmallVector<Value> sc8, mn8;
    for (int64_t r = 0; r < tn; ++r) {
      Value row = add(cb, n0, r);
      Value hd = vector::TransferReadOp::create(
          cb, VectorType::get({4}, cb.getI8Type()), codes,
          ValueRange{row, base}, padI8, ArrayRef<bool>{true});
      Value dd = arith::ExtFOp::create(
          cb, VectorType::get({2}, f32),
          vector::BitCastOp::create(cb, VectorType::get({2}, cb.getF16Type()),
                                    hd)
              .getResult());
      Value d = vector::ExtractOp::create(cb, dd, ArrayRef<int64_t>{0});
      Value dmin = vector::ExtractOp::create(cb, dd, ArrayRef<int64_t>{1});
      Value raw = vector::TransferReadOp::create(
          cb, VectorType::get({12}, cb.getI8Type()), codes,
          ValueRange{row, add(cb, base, 4)}, padI8, ArrayRef<bool>{true});
      auto v4 = VectorType::get({4}, i32);
      Value w = arith::ExtUIOp::create(cb, VectorType::get({12}, i32), raw);
      auto part = [&](int64_t from) {
        return vector::ShuffleOp::create(
            cb, w, w, ArrayRef<int64_t>{from, from + 1, from + 2, from + 3});
      };
      auto c = [&](int32_t v) {
        return splat(cb, v4, cb.getI32IntegerAttr(v));
      };
      Value a = part(0), bm = part(4), cc = part(8);
      auto hi2 = [&](Value v) { // (v >> 6) << 4
        return arith::ShLIOp::create(cb, arith::ShRUIOp::create(cb, v, c(6)),
                                     c(4));
      };
      Value scLo = arith::AndIOp::create(cb, a, c(63));
      Value mLo = arith::AndIOp::create(cb, bm, c(63));
      Value scHi = arith::OrIOp::create(
          cb, arith::AndIOp::create(cb, cc, c(15)), hi2(a));
      Value mHi = arith::OrIOp::create(cb, arith::ShRUIOp::create(cb, cc, c(4)),
                                       hi2(bm));
      SmallVector<int64_t> cat{0, 1, 2, 3, 4, 5, 6, 7};
      Value sc = arith::SIToFPOp::create(
          cb, vf8, vector::ShuffleOp::create(cb, scLo, scHi, cat));
      Value mn = arith::SIToFPOp::create(
          cb, vf8, vector::ShuffleOp::create(cb, mLo, mHi, cat));
      sc8.push_back(arith::MulFOp::create(
          cb, sc, vector::BroadcastOp::create(cb, vf8, d)));
      // Negated: the min term is subtracted.
      mn8.push_back(
          arith::MulFOp::create(cb, mn,
                                vector::BroadcastOp::create(
                                    cb, vf8, arith::NegFOp::create(cb, dmin))));
    }
    SmallVector<Value> out(acc);
    for (int64_t h = 0; h < 2; ++h) {
      Value c = add(cb, arith::MulIOp::create(cb, sb, idx(cb, 2)), h);
      Value k0 = arith::MulIOp::create(cb, c, idx(cb, 128));
      // Lanes 0-7 of segment j: sub-block 4h + j; lanes 8-15: 4h + 2 + j.
      auto lanes = [&](int64_t j) {
        SmallVector<int64_t> l;
        for (int64_t i = 0; i < 16; ++i)
          l.push_back(4 * h + j + (i < 8 ? 0 : 2));
        return l;
      };
      SmallVector<SmallVector<Value>> u;
      SmallVector<std::array<Value, 2>> sw; // d sc on segments 0 and 1
      for (int64_t r = 0; r < tn; ++r) {
        Value bytes = vector::TransferReadOp::create(
            cb, v64i8, codes,
            ValueRange{add(cb, n0, r), add(cb, base, 16 + 64 * h)}, padI8,
            ArrayRef<bool>{true});
        Value l = arith::AndIOp::create(cb, bytes, low4);
        Value hi = arith::AndIOp::create(
            cb, arith::ShRUIOp::create(cb, bytes, four), low4);
        u.push_back({l, hi});
        sw.push_back({vector::ShuffleOp::create(cb, sc8[r], sc8[r], lanes(0)),
                      vector::ShuffleOp::create(cb, sc8[r], sc8[r], lanes(1))});
      }
      for (int64_t i = 0; i < tm; ++i) {
        Value m = add(cb, m0, i);
        SmallVector<Value> xs;
        for (int64_t j = 0; j < 2; ++j)
          xs.push_back(vector::TransferReadOp::create(
              cb, v64i8, xArranged, ValueRange{m, add(cb, k0, 64 * j)}, padI8,
              ArrayRef<bool>{true}));
        for (int64_t r = 0; r < tn; ++r) {
          Value &o = out[i * tn + r];
          for (int64_t j = 0; j < 2; ++j) {
            Value q = arith::SIToFPOp::create(
                cb, v16f, dpbusd(cb, zeroI, u[r][j], xs[j]));
            o = vector::FMAOp::create(cb, q, sw[r][j], o);
          }
        }
      }
    }
    // The min term, once per super-block: (-dmin m) . (sum of x) over its 8
    // sub-blocks, into the second half of the accumulators.
    int64_t na = tm * tn;
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(cb, m0, i);
      Value padF32 = arith::ConstantOp::create(cb, cb.getF32FloatAttr(0.f));
      Value xs8 = vector::TransferReadOp::create(
          cb, vf8, laneSums,
          ValueRange{m, arith::MulIOp::create(cb, sb, idx(cb, 8))}, padF32,
          ArrayRef<bool>{true});
      for (int64_t r = 0; r < tn; ++r) {
        Value &o = out[na + i * tn + r];
        o = vector::FMAOp::create(cb, mn8[r], xs8, o);
      }
    }
    return out;
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    SmallVector<Value> acc(tm * tn, zeroF);
    if (p.q4_k) {
      // Then the 8-wide min-term accumulators.
      acc.append(tm * tn, splat(tb, VectorType::get({8}, tb.getF32Type()),
                                tb.getF32FloatAttr(0.f)));
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, p.k / 256), idx(tb, 1), acc,
          [&](OpBuilder &ob, Location l, Value sb, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, superBlock(cb, sb, a, m0, n0, tm, tn));
          });
      acc = SmallVector<Value>(loop.getResults());
    } else if (fullChunks) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, fullChunks), idx(tb, 1), acc,
          [&](OpBuilder &ob, Location l, Value c, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, chunk(cb, c, a, m0, n0, tm, tn, true));
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    if (!p.q4_k && chunks > fullChunks)
      acc = chunk(tb, idx(tb, fullChunks), acc, m0, n0, tm, tn, false);
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = extractScale(tb, xScales, p.xScalePerRow, m);
      for (int64_t r = 0; r < tn; ++r) {
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                acc[i * tn + r],
                                                arith::FastMathFlags::reassoc);
        if (p.q4_k)
          sum = arith::AddFOp::create(
              tb, sum,
              vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                          acc[tm * tn + i * tn + r],
                                          arith::FastMathFlags::reassoc));
        sum = arith::MulFOp::create(tb, sum, sx);
        if (p.e2m1) // u - 12 is twice the E2M1 value
          sum = arith::MulFOp::create(
              tb, sum, arith::ConstantOp::create(tb, tb.getF32FloatAttr(0.5f)));
        if (p.nvfp4)
          sum = arith::MulFOp::create(tb, sum, tensorScaleValue(tb));
        y = store(tb, y, sum, m, add(tb, n0, r));
      }
    }
    return y;
  }

  Value xCodes, xScales, codes, scales;
  VectorType v64i8, vChunk, v16i32, v16f;
  Value zeroF, zeroI, low4, bias8, four, three, ones, padI8, padF;
  SmallVector<SmallVector<int64_t>> segments;
  SmallVector<int64_t> laneGroup;
  int64_t cpb, chunkIn, chunks, fullChunks, scalesPerChunk;
  /// NVFP4's tensor scale (a one-element tensor of any rank).
  Value tensorScaleValue(ImplicitLocOpBuilder &tb) {
    auto t = cast<RankedTensorType>(tensorScale.getType());
    SmallVector<Value> at(t.getRank(), idx(tb, 0));
    return tensor::ExtractOp::create(tb, tensorScale, at);
  }

  Value tensorScale;
  Value xArranged, laneSums, e2m1Table;
  func::FuncOp dpbusdFn, pshufbFn;
  std::optional<Avx2Dot> avx2;
};

/// W8A8 with AVX-512 VNNI: one int32 accumulator vector per output over
/// all of K. Weights are made unsigned (w + 128, an xor) and multiplied
/// with X's signed codes by vpdpbusd, 64 inputs per step, so that the
/// correction is per row of X: sum (w + 128) x = sum w x + 128 sum x, with
/// sum x computed once per call. The exact int32 result is converted to f32
/// and multiplied by the two scales. A K tail (K % 64) is read with masked
/// loads padded with 0, which adds nothing.
class W8I8Kernel : public TiledKernel {
public:
  W8I8Kernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value xCodes,
             Value xScales, Value codes, Value scales)
      : W8I8Kernel(b, p, xCodes, xScales, codes, scales, p.m == 1 ? 1 : 6,
                   p.m == 1 ? 1 : 4) {}

protected:
  W8I8Kernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value xCodes,
             Value xScales, Value codes, Value scales, int64_t mr, int64_t nr)
      : TiledKernel(b, p, mr, nr), xCodes(xCodes), xScales(xScales),
        codes(codes), scales(scales) {
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    v64i8 = VectorType::get({64}, i8);
    v16i32 = VectorType::get({16}, i32);
    zeroI = splat(b, v16i32, b.getI32IntegerAttr(0));
    signBit = splat(b, v64i8, b.getI8IntegerAttr(-128));
    ones = splat(b, v64i8, b.getI8IntegerAttr(1));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    fullChunks = p.k / 64;
    chunks = (p.k + 63) / 64;
    if (p.emulateDot) {
      // AVX2: signed products directly, no bias and no correction.
      avx2.emplace(b);
      return;
    }
    dpbusdFn = getIntrinsicDecl(
        b, "llvm.x86.avx512.vpdpbusd.512",
        FunctionType::get(b.getContext(), {v16i32, v64i8, v64i8}, {v16i32}));
    // xSums[m] = sum over K of X's codes.
    Value sums = tensor::EmptyOp::create(b, ArrayRef<int64_t>{p.m}, i32);
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, p.m), idx(b, 1), ValueRange{sums},
        [&](OpBuilder &ob, Location l, Value m, ValueRange it) {
          ImplicitLocOpBuilder rb(l, ob);
          Value acc = chunkLoop(
              rb, ValueRange{zeroI},
              [&](ImplicitLocOpBuilder &cb, Value k0, bool full, ValueRange a) {
                Value xv = vector::TransferReadOp::create(
                    cb, v64i8, this->xCodes, ValueRange{m, k0}, padI8,
                    ArrayRef<bool>{full});
                return SmallVector<Value>{dpbusd(cb, a[0], ones, xv)};
              })[0];
          Value sum =
              vector::ReductionOp::create(rb, vector::CombiningKind::ADD, acc);
          scf::YieldOp::create(
              rb, tensor::InsertOp::create(rb, sum, it[0], ValueRange{m})
                      .getResult());
        });
    xSums = rows.getResult(0);
  }

  using ChunkFn = function_ref<SmallVector<Value>(
      ImplicitLocOpBuilder &, Value /*k0*/, bool /*full*/, ValueRange)>;

  /// The full 64-input chunks in an scf.for, then the tail chunk.
  SmallVector<Value> chunkLoop(ImplicitLocOpBuilder &lb, ValueRange init,
                               ChunkFn body) {
    SmallVector<Value> acc(init);
    if (fullChunks) {
      auto loop = scf::ForOp::create(
          lb, idx(lb, 0), idx(lb, fullChunks * 64), idx(lb, 64), acc,
          [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, body(cb, k0, true, a));
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    if (chunks > fullChunks)
      acc = body(lb, idx(lb, fullChunks * 64), false, acc);
    return acc;
  }

  Value dpbusd(ImplicitLocOpBuilder &cb, Value acc, Value u8, Value s8) {
    return func::CallOp::create(cb, dpbusdFn, ValueRange{acc, u8, s8})
        .getResult(0);
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    SmallVector<Value> init(tm * tn, zeroI);
    SmallVector<Value> acc = chunkLoop(
        tb, init,
        [&](ImplicitLocOpBuilder &cb, Value k0, bool full, ValueRange a) {
          SmallVector<Value> w;
          for (int64_t r = 0; r < tn; ++r) {
            Value bytes = vector::TransferReadOp::create(
                cb, v64i8, codes, ValueRange{add(cb, n0, r), k0}, padI8,
                ArrayRef<bool>{full});
            w.push_back(
                p.emulateDot
                    ? bytes
                    : arith::XOrIOp::create(cb, bytes, signBit).getResult());
          }
          SmallVector<Value> out(a);
          for (int64_t i = 0; i < tm; ++i) {
            Value xv = vector::TransferReadOp::create(
                cb, v64i8, xCodes, ValueRange{add(cb, m0, i), k0}, padI8,
                ArrayRef<bool>{full});
            for (int64_t r = 0; r < tn; ++r)
              out[i * tn + r] = avx2 ? avx2->dot(cb, out[i * tn + r], w[r], xv,
                                                 /*signedFirst=*/true)
                                     : dpbusd(cb, out[i * tn + r], w[r], xv);
          }
          return out;
        });
    Type f32 = tb.getF32Type();
    auto scaleAt = [&](Value part, bool perRow, Value row) {
      return extractScale(tb, part, perRow, row);
    };
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = scaleAt(xScales, p.xScalePerRow, m);
      Value bias =
          p.emulateDot
              ? arith::ConstantOp::create(tb, tb.getI32IntegerAttr(0))
                    .getResult()
              : arith::MulIOp::create(
                    tb, tensor::ExtractOp::create(tb, xSums, ValueRange{m}),
                    arith::ConstantOp::create(tb, tb.getI32IntegerAttr(128)))
                    .getResult();
      for (int64_t r = 0; r < tn; ++r) {
        Value n = add(tb, n0, r);
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                acc[i * tn + r]);
        sum = arith::SubIOp::create(tb, sum, bias);
        Value f = arith::SIToFPOp::create(tb, f32, sum);
        Value sw = scaleAt(scales, p.wScalePerRow, n);
        f = arith::MulFOp::create(tb, f, arith::MulFOp::create(tb, sx, sw));
        y = store(tb, y, f, m, n);
      }
    }
    return y;
  }

  Value xCodes, xScales, codes, scales;
  VectorType v64i8, v16i32;
  Value zeroI, signBit, ones, padI8, xSums;
  int64_t fullChunks, chunks;
  func::FuncOp dpbusdFn;
  std::optional<Avx2Dot> avx2;
};

/// The panel GEMM tile: 6 rows x 64 channels, or 12 x 32 where 64
/// channels' panels (64 K bytes) would crowd a 1 MiB L2; GEMV: 1 x 16.
static bool narrowPanels(const W4Problem &p) { return p.k * 64 > 512 * 1024; }
static int64_t panelRows(const W4Problem &p) {
  return p.m == 1 ? 1 : narrowPanels(p) ? 12 : 6;
}
static int64_t panelChannels(const W4Problem &p) {
  return p.m == 1 ? 16 : narrowPanels(p) ? 32 : 64;
}

/// W8A8 on weights in the panel layout (numerics::packInt8Panels, packed at
/// compile time): per quad of inputs, NV 64-byte loads of 16 channels'
/// biased codes meet one broadcast of 4 activation bytes per row of X in
/// `vpdpbusd`, so each accumulator holds 16 outputs (no horizontal sums)
/// and a step loads NV + MR values for MR x NV dot products. GEMM: MR = 6,
/// NV = 4 (24 accumulators, 64 channels); GEMV: one panel with K unrolled
/// by 4 into separate accumulators, one sequential weight stream.
class W8PanelKernel : public W8I8Kernel {
public:
  W8PanelKernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value xCodes,
                Value xScales, Value panels, Value scales)
      : W8I8Kernel(b, p, xCodes, xScales, panels, scales, panelRows(p),
                   panelChannels(p)) {
    fullQuads = p.k / 4;
    v4i8 = VectorType::get({4}, b.getI8Type());
    v16f32 = VectorType::get({16}, b.getF32Type());
    if (p.wScalePerRow) {
      // [N] or [N, 1]: 16 channels' scales are one vector read.
      rowScales = scales;
      auto st = cast<RankedTensorType>(scales.getType());
      if (st.getRank() == 2)
        rowScales = tensor::CollapseShapeOp::create(
            b, RankedTensorType::get({p.n}, st.getElementType()), scales,
            ArrayRef<ReassociationIndices>{{0, 1}});
    }
  }

protected:
  /// 4 bytes of row m of X at quad q, broadcast to the 16 lanes.
  Value broadcastX(ImplicitLocOpBuilder &cb, Value m, Value q, bool full) {
    Value k = arith::MulIOp::create(cb, q, idx(cb, 4));
    Value xq = vector::TransferReadOp::create(
        cb, v4i8, xCodes, ValueRange{m, k}, padI8, ArrayRef<bool>{full});
    Value x32 = vector::BitCastOp::create(
        cb, VectorType::get({1}, cb.getI32Type()), xq);
    Value s = vector::ExtractOp::create(cb, x32, ArrayRef<int64_t>{0});
    return vector::BitCastOp::create(
        cb, v64i8, vector::BroadcastOp::create(cb, v16i32, s));
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    int64_t nv = (tn + 15) / 16;
    // GEMV: 4 independent chains over consecutive quads.
    int64_t ku = p.m == 1 ? 4 : 1;
    Value panel0 = arith::DivUIOp::create(tb, n0, idx(tb, 16));
    auto at = [&](int64_t u, int64_t i, int64_t j) {
      return (u * tm + i) * nv + j;
    };
    // One quad into the accumulators of chain u.
    auto quad = [&](ImplicitLocOpBuilder &cb, MutableArrayRef<Value> acc,
                    Value q, int64_t u, bool full) {
      SmallVector<Value> w;
      for (int64_t j = 0; j < nv; ++j) {
        Value bytes = vector::TransferReadOp::create(
            cb, v64i8, codes, ValueRange{add(cb, panel0, j), q, idx(cb, 0)},
            padI8, ArrayRef<bool>{true});
        // AVX2: back to the signed codes for the sign trick.
        w.push_back(avx2 ? arith::XOrIOp::create(cb, bytes, signBit).getResult()
                         : bytes);
      }
      for (int64_t i = 0; i < tm; ++i) {
        Value xb = broadcastX(cb, add(cb, m0, i), q, full);
        for (int64_t j = 0; j < nv; ++j) {
          Value &a = acc[at(u, i, j)];
          a = avx2 ? avx2->dot(cb, a, w[j], xb, /*signedFirst=*/true)
                   : dpbusd(cb, a, w[j], xb);
        }
      }
    };
    SmallVector<Value> acc(ku * tm * nv, zeroI);
    int64_t main = fullQuads / ku * ku;
    if (main) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, main), idx(tb, ku), acc,
          [&](OpBuilder &ob, Location l, Value q0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            SmallVector<Value> out(a);
            for (int64_t u = 0; u < ku; ++u)
              quad(cb, out, add(cb, q0, u), u, true);
            scf::YieldOp::create(cb, out);
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    for (int64_t q = main; q < fullQuads; ++q)
      quad(tb, acc, idx(tb, q), q - main, true);
    if (p.k % 4) // the last quad, X padded with 0
      quad(tb, acc, idx(tb, fullQuads), 0, false);

    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = extractScale(tb, xScales, p.xScalePerRow, m);
      Value bias =
          avx2 ? arith::ConstantOp::create(tb, tb.getI32IntegerAttr(0))
                     .getResult()
               : arith::MulIOp::create(
                     tb, tensor::ExtractOp::create(tb, xSums, ValueRange{m}),
                     arith::ConstantOp::create(tb, tb.getI32IntegerAttr(128)))
                     .getResult();
      Value biasV = vector::BroadcastOp::create(tb, v16i32, bias);
      Value sxV = vector::BroadcastOp::create(tb, v16f32, sx);
      for (int64_t j = 0; j < nv; ++j) {
        Value n = add(tb, n0, 16 * j);
        bool full = tn - 16 * j >= 16;
        Value sum = acc[at(0, i, j)];
        for (int64_t u = 1; u < ku; ++u)
          sum = arith::AddIOp::create(tb, sum, acc[at(u, i, j)]);
        sum = arith::SubIOp::create(tb, sum, biasV);
        Value f = arith::SIToFPOp::create(tb, v16f32, sum);
        Value sw;
        if (rowScales) {
          auto et =
              cast<RankedTensorType>(rowScales.getType()).getElementType();
          Value pad = arith::ConstantOp::create(tb, tb.getZeroAttr(et));
          sw = vector::TransferReadOp::create(tb, VectorType::get({16}, et),
                                              rowScales, ValueRange{n}, pad,
                                              ArrayRef<bool>{full});
          if (!et.isF32())
            sw = arith::ExtFOp::create(tb, v16f32, sw);
        } else {
          sw = vector::BroadcastOp::create(
              tb, v16f32, extractScale(tb, scales, false, Value()));
        }
        f = arith::MulFOp::create(tb, f, arith::MulFOp::create(tb, sxV, sw));
        // A partial vector is the last of Y's columns: the write stops at
        // the tensor's end.
        Value col =
            outBase ? arith::SubIOp::create(tb, n, outBase).getResult() : n;
        y = vector::TransferWriteOp::create(tb, f, y, ValueRange{m, col},
                                            ArrayRef<bool>{full})
                .getResult();
      }
    }
    return y;
  }

  int64_t fullQuads;
  VectorType v4i8, v16f32;
  Value rowScales;
};

/// FP8 E4M3 weights: 16 codes per step decoded exactly to f32
/// (decodeE4M3), FMA with X in f32, one accumulator per output over all of
/// K, scaled once at the end. FP8 activations are decoded to f32 once per
/// call by a prologue. A K tail (K % 16) is read with masked loads padded
/// with 0 (code 0 is +0.0).
class F8Kernel : public TiledKernel {
public:
  F8Kernel(ImplicitLocOpBuilder &b, const W4Problem &p, Value x, Value xScales,
           Value codes, Value scales)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), x(x),
        xScales(xScales), codes(codes), scales(scales) {
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    v16f = VectorType::get({16}, f32);
    v16i8 = VectorType::get({16}, i8);
    zero = splat(b, v16f, b.getF32FloatAttr(0.f));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    fullSteps = p.k / 16;
    steps = (p.k + 15) / 16;
    if (p.f8Act)
      this->x = decodeActivations(x);
  }

protected:
  /// X's codes [M, K] -> f32 [M, K].
  Value decodeActivations(Value xCodes) {
    Value out =
        tensor::EmptyOp::create(b, ArrayRef<int64_t>{p.m, p.k}, b.getF32Type());
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, p.m), idx(b, 1), ValueRange{out},
        [&](OpBuilder &ob, Location l, Value m, ValueRange it) {
          ImplicitLocOpBuilder rb(l, ob);
          auto ks = scf::ForOp::create(
              rb, idx(rb, 0), idx(rb, steps * 16), idx(rb, 16), it,
              [&](OpBuilder &kob, Location kl, Value k0, ValueRange kt) {
                ImplicitLocOpBuilder kb(kl, kob);
                bool full = p.k % 16 == 0;
                Value c = vector::TransferReadOp::create(
                    kb, v16i8, xCodes, ValueRange{m, k0}, padI8,
                    ArrayRef<bool>{full});
                Value w = vector::TransferWriteOp::create(
                              kb, decodeE4M3(kb, c), kt[0], ValueRange{m, k0},
                              ArrayRef<bool>{full})
                              .getResult();
                scf::YieldOp::create(kb, w);
              });
          scf::YieldOp::create(rb, ks.getResults());
        });
    return rows.getResult(0);
  }

  SmallVector<Value> step(ImplicitLocOpBuilder &cb, Value k0, ValueRange acc,
                          Value m0, Value n0, int64_t tm, int64_t tn,
                          bool full) {
    SmallVector<Value> w;
    for (int64_t r = 0; r < tn; ++r) {
      Value c = vector::TransferReadOp::create(cb, v16i8, codes,
                                               ValueRange{add(cb, n0, r), k0},
                                               padI8, ArrayRef<bool>{full});
      w.push_back(decodeE4M3(cb, c));
    }
    SmallVector<Value> out(acc);
    for (int64_t i = 0; i < tm; ++i) {
      Value xv = vector::TransferReadOp::create(cb, v16f, x,
                                                ValueRange{add(cb, m0, i), k0},
                                                padF, ArrayRef<bool>{full});
      for (int64_t r = 0; r < tn; ++r)
        out[i * tn + r] = vector::FMAOp::create(cb, w[r], xv, out[i * tn + r]);
    }
    return out;
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    SmallVector<Value> acc(tm * tn, zero);
    if (fullSteps) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, fullSteps * 16), idx(tb, 16), acc,
          [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, step(cb, k0, a, m0, n0, tm, tn, true));
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    if (steps > fullSteps)
      acc = step(tb, idx(tb, fullSteps * 16), acc, m0, n0, tm, tn, false);
    auto scaleAt = [&](Value part, bool perRow, Value row) {
      return extractScale(tb, part, perRow, row);
    };
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = p.f8Act ? scaleAt(xScales, p.xScalePerRow, m) : Value();
      for (int64_t r = 0; r < tn; ++r) {
        Value n = add(tb, n0, r);
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                acc[i * tn + r],
                                                arith::FastMathFlags::reassoc);
        Value sc = scaleAt(scales, p.wScalePerRow, n);
        if (sx)
          sc = arith::MulFOp::create(tb, sx, sc);
        y = store(tb, y, arith::MulFOp::create(tb, sum, sc), m, n);
      }
    }
    return y;
  }

  Value x, xScales, codes, scales;
  VectorType v16f, v16i8;
  Value zero, padI8, padF;
  int64_t fullSteps, steps;
};

/// How many run-time parts the weights have: codes and scales; GGUF blocks
/// carry their scales; NVFP4 adds the tensor scale.
static unsigned expectedWeightParts(const W4Problem &p) {
  if (p.q4_0 || p.q8_0 || p.q4_k || p.q4_1)
    return 1;
  return p.nvfp4 ? 3 : 2;
}

/// Bytes of one row of GGUF blocks.
static int64_t ggufRowBytes(const W4Problem &p) {
  if (p.q4_k)
    return p.k / 256 * 144;
  if (p.q4_1)
    return p.k / 32 * 20;
  return p.k / 32 * (p.q4_0 ? 18 : 34);
}

static std::string typeName(Type t) {
  if (!t)
    return "f32";
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// The kernel function of one problem, created once per module. Its
/// arguments are X (f32, or the int8 codes and scales of the qtensor), the
/// weight codes and scales, and the destination Y, written in place.
func::FuncOp getOrCreateW4Kernel(OpBuilder &rewriter, ModuleOp module,
                                 const W4Problem &p, Location loc) {
  std::string st;
  llvm::raw_string_ostream os(st);
  p.scaleType.print(os);
  std::string name = std::string(p.q4_1      ? "__lowbit_q4_1_"
                                 : p.q4_k    ? "__lowbit_q4_k_"
                                 : p.q4_0    ? "__lowbit_q4_0_"
                                 : p.q8_0    ? "__lowbit_q8_0_"
                                 : p.ternary ? "__lowbit_ternary_"
                                 : p.f8      ? "__lowbit_f8_"
                                 : p.panels  ? "__lowbit_w8p_"
                                 : p.w8      ? "__lowbit_w8_"
                                 : p.nvfp4   ? "__lowbit_nvfp4_"
                                 : p.e2m1    ? "__lowbit_mxfp4_"
                                             : "__lowbit_w4_") +
                     (p.int8Act ? "i8_"
                      : p.f8Act ? "f8_"
                                : typeName(p.xElem) + "_") +
                     std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                     std::to_string(p.k) +
                     (p.w8 || p.f8 ? "" : "_g" + std::to_string(p.g)) + "_" +
                     st;
  // W4A16 variants: the expressed and result types when not f32.
  if (p.expressed && !p.expressed.isF32())
    name += "_e" + typeName(p.expressed);
  if (p.yElem && !p.yElem.isF32())
    name += "_y" + typeName(p.yElem);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToEnd(module.getBody());
  ImplicitLocOpBuilder b(loc, rewriter);
  Type f32 = b.getF32Type();
  SmallVector<Type> args;
  if (p.int8Act || p.f8Act)
    args = {RankedTensorType::get({p.m, p.k}, b.getI8Type()), p.xScales};
  else
    args = {RankedTensorType::get({p.m, p.k}, p.xElem ? p.xElem : f32)};
  auto yt = RankedTensorType::get({p.m, p.n}, p.yElem ? p.yElem : f32);
  if (p.panels)
    args.append({RankedTensorType::get({(p.n + 15) / 16, (p.k + 3) / 4, 64},
                                       b.getI8Type()),
                 p.wScales, yt});
  else if (p.w8 || p.f8)
    args.append(
        {RankedTensorType::get({p.n, p.k}, b.getI8Type()), p.wScales, yt});
  else if (p.q4_0 || p.q8_0 || p.q4_k || p.q4_1)
    args.append(
        {RankedTensorType::get({p.n, ggufRowBytes(p)}, b.getI8Type()), yt});
  else if (p.ternary)
    args.append(
        {RankedTensorType::get({p.n, p.k / 4}, b.getI8Type()), p.wScales, yt});
  else if (p.nvfp4)
    args.append({RankedTensorType::get({p.n, p.k / 2}, b.getI8Type()),
                 RankedTensorType::get({p.n, p.k / p.g}, scalePartType(p)),
                 p.tensorScaleType, yt});
  else
    args.append({RankedTensorType::get({p.n, p.k / 2}, b.getI8Type()),
                 RankedTensorType::get({p.n, p.k / p.g}, scalePartType(p)),
                 yt});
  // Problems of one shape may differ in their scales' granularity (per row
  // or per tensor): reuse a kernel only if its signature matches.
  auto type = FunctionType::get(b.getContext(), args, {yt});
  for (int suffix = 0;; ++suffix) {
    std::string candidate =
        suffix ? name + "_v" + std::to_string(suffix) : name;
    auto f = module.lookupSymbol<func::FuncOp>(candidate);
    if (!f) {
      name = candidate;
      break;
    }
    if (f.getFunctionType() == type)
      return f;
  }
  auto fn = func::FuncOp::create(b, name, type);
  fn.setPrivate();
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  auto arg = [&](unsigned i) { return entry->getArgument(i); };
  Value y;
  if (p.q4_1)
    y = W4F32Kernel(b, p, arg(0), arg(1), Value())
            .build(arg(2), ggufRowBytes(p));
  else if (p.q4_0 || p.q8_0 || p.q4_k)
    y = W4I8Kernel(b, p, arg(0), arg(1), arg(2), Value(), Value())
            .build(arg(3), ggufRowBytes(p));
  else if (p.ternary)
    y = W4I8Kernel(b, p, arg(0), arg(1), arg(2), arg(3), Value())
            .build(arg(4), p.k / 4);
  else if (p.f8 && p.f8Act)
    y = F8Kernel(b, p, arg(0), arg(1), arg(2), arg(3)).build(arg(4), p.k);
  else if (p.f8)
    y = F8Kernel(b, p, arg(0), Value(), arg(1), arg(2)).build(arg(3), p.k);
  else if (p.panels)
    y = W8PanelKernel(b, p, arg(0), arg(1), arg(2), arg(3)).build(arg(4), p.k);
  else if (p.w8)
    y = W8I8Kernel(b, p, arg(0), arg(1), arg(2), arg(3)).build(arg(4), p.k);
  else if (p.int8Act)
    y = p.nvfp4 ? W4I8Kernel(b, p, arg(0), arg(1), arg(2), arg(3), arg(4))
                      .build(arg(5), p.k / 2)
                : W4I8Kernel(b, p, arg(0), arg(1), arg(2), arg(3), Value())
                      .build(arg(4), p.k / 2);
  else
    y = W4F32Kernel(b, p, arg(0), arg(1), arg(2)).build(arg(3), p.k / 2);
  func::ReturnOp::create(b, y);
  return fn;
}

/// Where the W8A8 panel kernel gets its weights (docs/CodegenCPU.md): a
/// constant packed at compile time (the value, created before the
/// conversion), or a function argument marked `lowbit.packed` whose codes
/// part already holds the panels' bytes (a null value).
using PanelWeights = DenseMap<Operation *, Value>;

struct W4MatmulLowering : OpConversionPattern<QMatmulOp> {
  W4MatmulLowering(const TypeConverter &tc, MLIRContext *ctx,
                   const CpuTarget &target, const PanelWeights &panels)
      : OpConversionPattern(tc, ctx, /*benefit=*/10), target(target),
        panels(panels) {}
  LogicalResult
  matchAndRewrite(QMatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::optional<W4Problem> p = matchW4(op, target);
    if (!p)
      p = matchW8(op, target);
    if (!p)
      p = matchF8(op);
    if (!p)
      p = matchGGUF(op, target);
    if (!p)
      return rewriter.notifyMatchFailure(op, "no CPU kernel for this qmatmul");
    ValueRange x = adaptor.getLhs(), w = adaptor.getRhs();
    if (x.size() != (p->int8Act || p->f8Act ? 2u : 1u) ||
        w.size() != expectedWeightParts(*p))
      return failure();
    SmallVector<Value> weights(w);
    if (auto it = panels.find(op); it != panels.end()) {
      p->panels = true;
      Value packed = it->second;
      if (!packed) {
        // An argument marked lowbit.packed: its [N, K] bytes are the
        // panels (N % 16 == 0, K % 4 == 0, checked by the pass).
        Location loc = op.getLoc();
        Type i8 = rewriter.getI8Type();
        Value flat = tensor::CollapseShapeOp::create(
            rewriter, loc, RankedTensorType::get({p->n * p->k}, i8), w[0],
            ArrayRef<ReassociationIndices>{{0, 1}});
        packed = tensor::ExpandShapeOp::create(
            rewriter, loc, RankedTensorType::get({p->n / 16, p->k / 4, 64}, i8),
            flat, ArrayRef<ReassociationIndices>{{0, 1, 2}});
      }
      weights[0] = packed;
    }
    func::FuncOp fn = getOrCreateW4Kernel(
        rewriter, op->getParentOfType<ModuleOp>(), *p, op.getLoc());
    Value dest = tensor::EmptyOp::create(
        rewriter, op.getLoc(), ArrayRef<int64_t>{p->m, p->n},
        p->yElem ? p->yElem : rewriter.getF32Type());
    SmallVector<Value> args(x);
    args.append(weights);
    args.push_back(dest);
    auto call = func::CallOp::create(rewriter, op.getLoc(), fn, args);
    rewriter.replaceOp(op, call.getResults());
    return success();
  }
  CpuTarget target;
  const PanelWeights &panels;
};

/// Dynamic quantization of f32 [M, K] to symmetric int8 with an f32 scale
/// per row or per tensor (the integer kernels' activations), 16 lanes at a
/// time with the reference lowering's operations (docs/Spec.md section 5),
/// so codes and scales are bit-identical to it: amax = maxnum of |x| from
/// 0, s = amax / 127 (1 when that is 0), q = clamp(round(x / s), qmin,
/// 127), NaN -> 0. The reference's linalg code took 1 ms of a 16 ms W8A8
/// GEMM at M = 128, K = 4096.
struct ActivationQuantizeLowering : OpConversionPattern<QuantizeOp> {
  ActivationQuantizeLowering(const TypeConverter &tc, MLIRContext *ctx)
      : OpConversionPattern(tc, ctx, /*benefit=*/10) {}

  LogicalResult
  matchAndRewrite(QuantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto in = dyn_cast<RankedTensorType>(op.getInput().getType());
    QTensorType t = op.getType();
    SchemeAttr s = t.getScheme();
    auto storage = dyn_cast<IntegerType>(s.getStorageType());
    if (!op.isDynamic() || !in || in.getRank() != 2 || !in.hasStaticShape() ||
        !in.getElementType().isF32() || !storage || storage.getWidth() != 8 ||
        storage.isUnsigned() || !s.getSymmetric() || s.getTernary() ||
        !s.getScaleType() || !s.getScaleType().isF32() || s.getTensorScale() ||
        !s.getExpressedType().isF32() || adaptor.getInput().size() != 1)
      return rewriter.notifyMatchFailure(op, "not int8 activations");
    int64_t m = in.getShape()[0], k = in.getShape()[1];
    SmallVector<int64_t> blocks = t.getBlockSizes();
    if (blocks.size() != 2 || blocks[1] != k ||
        (blocks[0] != 1 && blocks[0] != m))
      return rewriter.notifyMatchFailure(op, "not per row or per tensor");
    bool perRow = blocks[0] == 1;
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value x = adaptor.getInput()[0];
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    auto v16f32 = VectorType::get({16}, f32);
    auto v16i8 = VectorType::get({16}, i8);
    auto v16i32 = VectorType::get({16}, b.getI32Type());
    Value zeroF = codecs::constF32(b, 0.f);
    Value zeroV = splat(b, v16f32, b.getF32FloatAttr(0.f));
    RankedTensorType scalesType = t.getScalesType();
    Value codes = tensor::EmptyOp::create(b, ArrayRef<int64_t>{m, k}, i8);
    Value scales = tensor::EmptyOp::create(b, scalesType.getShape(), f32);
    int64_t full = k / 16 * 16;
    // body(builder, k0, inBounds, acc) over 16-lane chunks of a row.
    auto chunks =
        [&](ImplicitLocOpBuilder &lb, Value init,
            function_ref<Value(ImplicitLocOpBuilder &, Value, bool, Value)>
                body) {
          Value acc = init;
          if (full)
            acc =
                scf::ForOp::create(
                    lb, idx(lb, 0), idx(lb, full), idx(lb, 16), ValueRange{acc},
                    [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
                      ImplicitLocOpBuilder cb(l, ob);
                      scf::YieldOp::create(cb, body(cb, k0, true, a[0]));
                    })
                    .getResult(0);
          if (k > full)
            acc = body(lb, idx(lb, full), false, acc);
          return acc;
        };
    auto load = [&](ImplicitLocOpBuilder &cb, Value row, Value k0, bool inb) {
      return vector::TransferReadOp::create(cb, v16f32, x, ValueRange{row, k0},
                                            zeroF, ArrayRef<bool>{inb})
          .getResult();
    };
    // amax of row `row` (lanes from 0, maxnum as the reference).
    auto rowAmax = [&](ImplicitLocOpBuilder &rb, Value row) {
      Value acc = chunks(
          rb, zeroV,
          [&](ImplicitLocOpBuilder &cb, Value k0, bool inb, Value a) -> Value {
            Value v = math::AbsFOp::create(cb, load(cb, row, k0, inb));
            return arith::MaxNumFOp::create(cb, a, v);
          });
      return vector::ReductionOp::create(rb, vector::CombiningKind::MAXNUMF,
                                         acc)
          .getResult();
    };
    auto scaleOf = [&](ImplicitLocOpBuilder &rb, Value amax) {
      Value sc = arith::DivFOp::create(rb, amax, codecs::constF32(rb, 127.f));
      Value isZero = arith::CmpFOp::create(rb, arith::CmpFPredicate::OEQ, sc,
                                           codecs::constF32(rb, 0.f));
      return arith::SelectOp::create(rb, isZero, codecs::constF32(rb, 1.f), sc)
          .getResult();
    };
    float qmin = float(s.getQMin());
    auto encodeRow = [&](ImplicitLocOpBuilder &rb, Value row, Value sc,
                         Value out) {
      Value scV = vector::BroadcastOp::create(rb, v16f32, sc);
      Value lo = splat(rb, v16f32, rb.getF32FloatAttr(qmin));
      Value hi = splat(rb, v16f32, rb.getF32FloatAttr(127.f));
      return chunks(
          rb, out,
          [&](ImplicitLocOpBuilder &cb, Value k0, bool inb, Value o) -> Value {
            Value v = arith::DivFOp::create(cb, load(cb, row, k0, inb), scV);
            Value r = codecs::roundF32(cb, v, s.getRounding());
            Value nan =
                arith::CmpFOp::create(cb, arith::CmpFPredicate::UNO, r, r);
            r = arith::SelectOp::create(cb, nan, zeroV, r);
            r = arith::MaximumFOp::create(cb, r, lo);
            r = arith::MinimumFOp::create(cb, r, hi);
            Value q = arith::TruncIOp::create(
                cb, v16i8, arith::FPToSIOp::create(cb, v16i32, r));
            return vector::TransferWriteOp::create(
                       cb, q, o, ValueRange{row, k0}, ArrayRef<bool>{inb})
                .getResult();
          });
    };
    auto scaleAt = [&](ImplicitLocOpBuilder &rb, Value row) {
      SmallVector<Value> at;
      for (int64_t d = 0; d < scalesType.getRank(); ++d)
        at.push_back(perRow && d == 0 ? row : idx(rb, 0));
      return at;
    };
    Value tensorSc;
    if (!perRow) {
      Value amax =
          scf::ForOp::create(
              b, idx(b, 0), idx(b, m), idx(b, 1), ValueRange{zeroF},
              [&](OpBuilder &ob, Location l, Value row, ValueRange a) {
                ImplicitLocOpBuilder rb(l, ob);
                scf::YieldOp::create(
                    rb, arith::MaxNumFOp::create(rb, a[0], rowAmax(rb, row))
                            .getResult());
              })
              .getResult(0);
      tensorSc = scaleOf(b, amax);
      scales =
          tensor::InsertOp::create(b, tensorSc, scales, scaleAt(b, Value()));
    }
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, m), idx(b, 1), ValueRange{codes, scales},
        [&](OpBuilder &ob, Location l, Value row, ValueRange a) {
          ImplicitLocOpBuilder rb(l, ob);
          Value sc = tensorSc;
          Value sOut = a[1];
          if (perRow) {
            sc = scaleOf(rb, rowAmax(rb, row));
            sOut = tensor::InsertOp::create(rb, sc, sOut, scaleAt(rb, row));
          }
          scf::YieldOp::create(rb,
                               ValueRange{encodeRow(rb, row, sc, a[0]), sOut});
        });
    rewriter.replaceOpWithMultiple(
        op, {SmallVector<Value>{rows.getResult(0), rows.getResult(1)}});
    return success();
  }
};

static constexpr StringLiteral kPackedArgAttr = "lowbit.packed";

/// The W8A8 matmuls that get the panel kernel: constant
/// weights are packed now (numerics::packInt8Panels) into an arith.constant
/// before the op; arguments marked `lowbit.packed` are checked (only such
/// qmatmuls may use them, N % 16 == 0, K % 4 == 0).
static LogicalResult collectPanelWeights(ModuleOp module,
                                         const CpuTarget &target,
                                         PanelWeights &panels) {
  namespace nx = ::lowbit::numerics;
  WalkResult r = module.walk([&](func::FuncOp fn) {
    for (BlockArgument arg : fn.getArguments()) {
      if (!fn.getArgAttr(arg.getArgNumber(), kPackedArgAttr))
        continue;
      if (fn.isExternal())
        continue;
      for (Operation *user : arg.getUsers()) {
        auto mm = dyn_cast<QMatmulOp>(user);
        std::optional<W4Problem> p;
        if (mm && mm.getRhs() == arg)
          p = matchW8(mm, target);
        if (!p) {
          user->emitError("weights marked ")
              << kPackedArgAttr << " (argument " << arg.getArgNumber()
              << ") must be the weights of W8A8 qmatmuls with transpose_b "
                 "that the int8 panel kernel takes: only it reads that "
                 "layout (docs/CodegenCPU.md)";
          return WalkResult::interrupt();
        }
        if (p->n % 16 || p->k % 4) {
          user->emitError("weights marked ")
              << kPackedArgAttr << " need N % 16 == 0 and K % 4 == 0 (the "
              << "panels' bytes travel in the [N, K] codes part), got N = "
              << p->n << ", K = " << p->k;
          return WalkResult::interrupt();
        }
        panels[mm] = Value();
      }
    }
    // One packed copy per constant, placed right after it (it dominates
    // every use).
    DenseMap<Operation *, Value> packedOf;
    WalkResult inner = fn.walk([&](QMatmulOp mm) {
      auto c = mm.getRhs().getDefiningOp<ConstantOp>();
      std::optional<W4Problem> p;
      if (c)
        p = matchW8(mm, target);
      if (!p)
        return WalkResult::advance();
      Value &packed = packedOf[c];
      if (!packed) {
        FailureOr<nx::QTensor> q = readQuantizedConstant(
            c, [&] { return c.emitOpError("packing int8 panels: "); });
        if (failed(q))
          return WalkResult::interrupt();
        std::vector<uint8_t> bytes;
        nx::Status st = nx::packInt8Panels(*q, bytes);
        if (!st.ok()) {
          c.emitOpError("packing int8 panels: ") << st.message();
          return WalkResult::interrupt();
        }
        packed = createBytesConstantAfter(
            c,
            RankedTensorType::get({(p->n + 15) / 16, (p->k + 3) / 4, 64},
                                  IntegerType::get(c.getContext(), 8)),
            bytes, "panels");
      }
      panels[mm] = packed;
      return WalkResult::advance();
    });
    if (inner.wasInterrupted())
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

/// Every f32 linalg.matmul with transposed-B maps, y[m, n] += x[m, k] *
/// w[n, k], static shapes, becomes a call of the F32Kernel of its shape.
static void lowerF32Matmuls(ModuleOp module) {
  SmallVector<linalg::MatmulOp> ops;
  module.walk([&](linalg::MatmulOp op) { ops.push_back(op); });
  for (linalg::MatmulOp op : ops) {
    if (op.getInputs().size() != 2 || op.getOutputs().size() != 1 ||
        !op.hasPureTensorSemantics())
      continue;
    auto xt = dyn_cast<RankedTensorType>(op.getInputs()[0].getType());
    auto wt = dyn_cast<RankedTensorType>(op.getInputs()[1].getType());
    auto yt = dyn_cast<RankedTensorType>(op.getOutputs()[0].getType());
    if (!xt || !wt || !yt || !xt.hasStaticShape() || !wt.hasStaticShape() ||
        !yt.hasStaticShape() || xt.getRank() != 2 || wt.getRank() != 2 ||
        !xt.getElementType().isF32() || !wt.getElementType().isF32() ||
        !yt.getElementType().isF32())
      continue;
    MLIRContext *ctx = op.getContext();
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {m, k}, ctx),
                                   AffineMap::get(3, 0, {n, k}, ctx),
                                   AffineMap::get(3, 0, {m, n}, ctx)};
    if (op.getIndexingMapsArray() != maps)
      continue;
    W4Problem p{};
    p.m = xt.getDimSize(0);
    p.k = xt.getDimSize(1);
    p.n = wt.getDimSize(0);
    p.g = p.k;
    if (p.m < 1 || p.n < 1 || p.k < 1)
      continue;
    std::string name = "__lowbit_f32_" + std::to_string(p.m) + "x" +
                       std::to_string(p.n) + "x" + std::to_string(p.k);
    auto fn = module.lookupSymbol<func::FuncOp>(name);
    if (!fn) {
      OpBuilder mb(ctx);
      mb.setInsertionPointToEnd(module.getBody());
      ImplicitLocOpBuilder b(op.getLoc(), mb);
      fn = func::FuncOp::create(b, name,
                                FunctionType::get(ctx, {xt, wt, yt}, {yt}));
      fn.setPrivate();
      Block *entry = fn.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Value y = F32Kernel(b, p, entry->getArgument(0), entry->getArgument(1))
                    .build(entry->getArgument(2), p.k * 4);
      func::ReturnOp::create(b, y);
    }
    OpBuilder b(op);
    auto call = func::CallOp::create(
        b, op.getLoc(), fn,
        ValueRange{op.getInputs()[0], op.getInputs()[1], op.getOutputs()[0]});
    op->getResult(0).replaceAllUsesWith(call.getResult(0));
    op->erase();
  }
}

struct LowbitLowerToCPUPass
    : mlir::lowbit::impl::LowbitLowerToCPUBase<LowbitLowerToCPUPass> {
  using Base::Base;
  void runOnOperation() override {
    FailureOr<CpuTarget> target = CpuTarget::get(targetCpu);
    if (failed(target)) {
      getOperation().emitError()
          << "unknown target-cpu '" << targetCpu
          << "' (host, x86-64-v3, x86-64-v4, znver4, znver5, "
             "sapphirerapids, icelake-server, cascadelake)";
      return signalPassFailure();
    }
    lowerF32Matmuls(getOperation());
    PanelWeights panels;
    if (failed(collectPanelWeights(getOperation(), *target, panels)))
      return signalPassFailure();
    auto handled = [&](Operation *op) {
      auto mm = dyn_cast<QMatmulOp>(op);
      return mm && matchGGUF(mm, *target).has_value();
    };
    if (failed(lowerLowbitOps(
            getOperation(),
            [&](TypeConverter &converter, RewritePatternSet &patterns) {
              patterns.add<W4MatmulLowering>(converter, patterns.getContext(),
                                             *target, panels);
              patterns.add<ActivationQuantizeLowering>(converter,
                                                       patterns.getContext());
            },
            handled)))
      signalPassFailure();
  }
};

} // namespace

namespace {
struct LowbitExpandIntrinsicCallsPass
    : mlir::lowbit::impl::LowbitExpandIntrinsicCallsBase<
          LowbitExpandIntrinsicCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> decls;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(kLLVMIntrinsicAttr))
        decls.push_back(fn);
    for (func::FuncOp fn : decls) {
      auto intrinsic = fn->getAttrOfType<StringAttr>(kLLVMIntrinsicAttr);
      std::optional<SymbolTable::UseRange> uses = fn.getSymbolUses(module);
      if (!uses) {
        fn.emitError("unexpected uses of an intrinsic declaration");
        return signalPassFailure();
      }
      for (const SymbolTable::SymbolUse &use : *uses) {
        auto call = dyn_cast<func::CallOp>(use.getUser());
        if (!call) {
          use.getUser()->emitError("intrinsic ")
              << intrinsic << " used other than by func.call";
          return signalPassFailure();
        }
        OpBuilder b(call);
        auto op = LLVM::CallIntrinsicOp::create(b, call.getLoc(),
                                                call.getResultTypes()[0],
                                                intrinsic, call.getOperands());
        call.replaceAllUsesWith(op->getResults());
        call.erase();
      }
      fn.erase();
    }
  }
};
} // namespace
