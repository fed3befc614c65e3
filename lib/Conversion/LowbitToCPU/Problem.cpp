//===- Problem.cpp - reading a kernel problem off the IR ------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Which qmatmuls a CPU kernel may compute (docs/CodegenCPU.md): static
// [N, K] weights with transpose_b, a rank-2 f32 result (f16/bf16 for float
// activations), and per format the scale layouts the kernels read.
//
//===----------------------------------------------------------------------===//

#include "Problem.h"

#include "lowbit/Numerics/Numerics.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

Type KernelProblem::scalePartType() const {
  if (isFP4()) // E8M0 / E4M3 bits
    return IntegerType::get(scaleType.getContext(), 8);
  return scaleType;
}

/// The GGUF block formats the kernels read, by the dialect's (and the
/// numerics library's) GGUFKind.
static constexpr std::pair<WeightFormat, GGUFKind> kGGUFFormats[] = {
    {WeightFormat::GGUFQ4_0, GGUFKind::Q4_0},
    {WeightFormat::GGUFQ4_1, GGUFKind::Q4_1},
    {WeightFormat::GGUFQ5_0, GGUFKind::Q5_0},
    {WeightFormat::GGUFQ5_1, GGUFKind::Q5_1},
    {WeightFormat::GGUFQ8_0, GGUFKind::Q8_0},
    {WeightFormat::GGUFMXFP4, GGUFKind::MXFP4},
    {WeightFormat::GGUFQ2_K, GGUFKind::Q2_K},
    {WeightFormat::GGUFQ3_K, GGUFKind::Q3_K},
    {WeightFormat::GGUFQ4_K, GGUFKind::Q4_K},
    {WeightFormat::GGUFQ5_K, GGUFKind::Q5_K},
    {WeightFormat::GGUFQ6_K, GGUFKind::Q6_K},
    {WeightFormat::GGUFTQ1_0, GGUFKind::TQ1_0},
    {WeightFormat::GGUFTQ2_0, GGUFKind::TQ2_0},
    {WeightFormat::GGUFIQ4_NL, GGUFKind::IQ4_NL},
    {WeightFormat::GGUFIQ4_XS, GGUFKind::IQ4_XS},
};

std::optional<GGUFKind> KernelProblem::ggufKind() const {
  for (auto [format, kind] : kGGUFFormats)
    if (format == weights)
      return kind;
  return std::nullopt;
}

/// The weight format of GGUF blocks of `kind`, or nullopt.
static std::optional<WeightFormat> ggufWeightFormat(GGUFKind kind) {
  for (auto [format, k] : kGGUFFormats)
    if (k == kind)
      return format;
  return std::nullopt;
}

int64_t KernelProblem::rowBytes() const {
  if (std::optional<GGUFKind> kind = ggufKind()) {
    // The numerics library numbers GGUF formats as the dialect does.
    auto nk = ::lowbit::numerics::GGUFKind(int(*kind));
    return k / ::lowbit::numerics::ggufBlockSize(nk) *
           ::lowbit::numerics::ggufBlockBytes(nk);
  }
  switch (weights) {
  case WeightFormat::Int4:
  case WeightFormat::MXFP4:
  case WeightFormat::NVFP4:
    return k / 2;
  case WeightFormat::Ternary:
    return k / 4;
  case WeightFormat::Int8:
  case WeightFormat::FP8E4M3:
    return k;
  case WeightFormat::F32:
    return k * (wElem && !wElem.isF32() ? 2 : 4);
  default:
    llvm_unreachable("GGUF formats: above");
  }
}

unsigned KernelProblem::weightParts() const {
  if (isGGUF() || weights == WeightFormat::F32)
    return 1;
  return isNVFP4() ? 3 : 2;
}

static bool isFloat32or16(Type t) {
  return isa<Float32Type, Float16Type, BFloat16Type>(t);
}

/// Symmetric int8 activations [M, K] with an f32 scale per row or per
/// tensor, or with `perBlock` also a scale per block of a row
/// (`per_group<[1 : xg]>`, xg a multiple of 32 dividing K, f32/f16/bf16
/// scales): fills p.m and the activation fields. Without VNNI the dot
/// products run on AVX2 (vpmaddubsw), exact while no pair of products
/// reaches 2^15: `fullU8` (the weights' operand may be 128 in magnitude)
/// then requires activations of at most 127 in magnitude (not full_range).
static bool matchInt8Activations(QMatmulOp op, KernelProblem &p,
                                 const CpuTarget &target, bool fullU8 = false,
                                 bool perBlock = false) {
  auto xq = dyn_cast<QTensorType>(op.getLhs().getType());
  if (!target.hasAvx2() || !xq || xq.getShape().size() != 2 ||
      ShapedType::isDynamicShape(xq.getShape()))
    return false;
  if (!target.hasVnni() && fullU8 && xq.getScheme().getFullRange())
    return false;
  p.isa = target.isa;
  SchemeAttr xs = xq.getScheme();
  auto xStorage = dyn_cast<IntegerType>(xs.getStorageType());
  if (!xStorage || xStorage.getWidth() != 8 || xStorage.isUnsigned() ||
      !xs.getSymmetric() || xs.getTernary() || !xs.getScaleType() ||
      xs.getTensorScale() || !xs.getExpressedType().isF32())
    return false;
  SmallVector<int64_t> xBlocks = xq.getBlockSizes();
  int64_t m = xq.getShape()[0];
  if (xBlocks.size() != 2)
    return false;
  // (A block of a whole row with f16/bf16 scales counts as blocks too.)
  if (perBlock && xBlocks[0] == 1 &&
      (xBlocks[1] < p.k || !xs.getScaleType().isF32()) &&
      xBlocks[1] % 32 == 0 && p.k % xBlocks[1] == 0 &&
      isFloat32or16(xs.getScaleType()))
    p.xg = xBlocks[1];
  else if (!xs.getScaleType().isF32() || xBlocks[1] != p.k ||
           (xBlocks[0] != 1 && xBlocks[0] != m))
    return false;
  p.m = m;
  p.activations = ActivationFormat::Int8;
  p.xScales = xq.getScalesType();
  p.xScaleGranularity = xBlocks[0] == 1 && m > 1 ? ScaleGranularity::PerRow
                                                 : ScaleGranularity::PerTensor;
  return true;
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

/// A problem of `weights` over [n, k] with `g` inputs per scale.
static KernelProblem makeProblem(WeightFormat weights, int64_t n, int64_t k,
                                 int64_t g, Type scaleType) {
  KernelProblem p;
  p.weights = weights;
  p.n = n;
  p.k = k;
  p.g = g;
  p.scaleType = scaleType;
  return p;
}

/// int4, MXFP4, NVFP4 and ternary weights per group (per tensor too for
/// ternary) times float activations (int4, MXFP4) or int8 ones.
static std::optional<KernelProblem> match4Bit(QMatmulOp op,
                                              const CpuTarget &target) {
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
              !storage.isUnsigned() && st && isFloat32or16(st) &&
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
  WeightFormat format = tern ? WeightFormat::Ternary
                        : nv ? WeightFormat::NVFP4
                        : mx ? WeightFormat::MXFP4
                             : WeightFormat::Int4;
  KernelProblem p = makeProblem(format, n, k, blocks[1], st);
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

std::optional<KernelProblem>
mlir::lowbit::cpu::describeInt8Matmul(QMatmulOp op, const CpuTarget &target) {
  QTensorType wt = matchWeights(op);
  if (!wt)
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  if (s.isGGUF()) // matchGGUF
    return std::nullopt;
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  Type st = s.getScaleType();
  if (!storage || storage.getWidth() != 8 || storage.isUnsigned() || !st ||
      !isFloat32or16(st) || !s.getSymmetric() || s.getTernary() ||
      s.getTensorScale() || !s.getExpressedType().isF32())
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
  KernelProblem p = makeProblem(WeightFormat::Int8, n, k, k, st);
  p.wScaleGranularity = blocks[0] == 1 && n > 1 ? ScaleGranularity::PerRow
                                                : ScaleGranularity::PerTensor;
  p.wScales = wt.getScalesType();
  // Without VNNI: w . x = |w| . (x * sign(w)) with vpmaddubsw, exact while
  // pairs of products stay below 2^15 (full_range weights need activations
  // of at most 127 in magnitude).
  if (!matchInt8Activations(op, p, target, /*fullU8=*/s.getFullRange()))
    return std::nullopt;
  return p;
}

/// GGUF weights [N, K] read as stored. Times int8 activations: q4_0
/// (llama.cpp's block_q4_0: an f16 scale d, then 16 bytes whose low nibbles
/// are the block's first 16 codes and high nibbles the last 16; value
/// (nibble - 8) * d), q8_0 (d, then 32 int8 codes; value q * d) and q4_K.
/// Times f32 or int8 activations: q4_1 (block_q4_1: f16 d and m, then 16
/// bytes of nibbles laid out as in q4_0; value q * d + m, q in 0..15). q5_0
/// (block_q5_0: f16 d, a 32-bit qh whose bit j is code j's fifth bit, then
/// nibbles as in q4_0; value (q - 16) * d) and q6_K (block_q6_K: 256
/// inputs, low nibbles ql, high 2 bits qh, int8 scales per 16, f16 d;
/// value d sc (q - 32)) and tq2_0 (block_tq2_0: 256 inputs, 2-bit codes
/// four per byte, f16 d; value (q - 1) d) and iq4_nl (block_iq4_nl: f16
/// d, nibbles laid out as in q4_0; value d kvalues_iq4nl[nibble]) times
/// int8 activations too.
static std::optional<KernelProblem> matchGGUF(QMatmulOp op,
                                              const CpuTarget &target) {
  QTensorType wt = matchWeights(op);
  if (!wt || !wt.getScheme().getExpressedType().isF32())
    return std::nullopt;
  Type f16 = Float16Type::get(op.getContext());
  int64_t n = wt.getShape()[0], k = wt.getShape()[1];
  std::optional<GGUFKind> kind = wt.getScheme().getGguf();
  auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
  if (kind == GGUFKind::Q4_1 && xt) {
    if (xt.getRank() != 2 || !xt.hasStaticShape() ||
        !xt.getElementType().isF32() || k % 32 != 0)
      return std::nullopt;
    KernelProblem p = makeProblem(WeightFormat::GGUFQ4_1, n, k, 32, f16);
    p.m = xt.getDimSize(0);
    return p;
  }
  std::optional<WeightFormat> known =
      kind ? ggufWeightFormat(*kind) : std::optional<WeightFormat>();
  if (!known)
    return std::nullopt;
  WeightFormat format = *known;
  // One scale per 32 inputs, or per 256 (tq2_0's single d a block).
  bool tq =
      format == WeightFormat::GGUFTQ2_0 || format == WeightFormat::GGUFTQ1_0;
  // (q2_K, q3_K: a scale per 16 inputs, four 2-bit segments a chunk.)
  bool q2 =
      format == WeightFormat::GGUFQ2_K || format == WeightFormat::GGUFQ3_K;
  KernelProblem p = makeProblem(format, n, k, tq ? 256 : q2 ? 16 : 32, f16);
  bool superBlocks = p.superBlockLoop() || tq;
  if (p.k % (superBlocks || p.isIQ4XS() ? 256 : 32) != 0 ||
      !matchInt8Activations(op, p, target,
                            /*fullU8=*/p.isQ8_0() || p.hasIQ4Values(),
                            /*perBlock=*/true))
    return std::nullopt;
  // Activation blocks: a lane of a chunk (W4Int8Kernel.h) must lie in one.
  // The formats of 32-input blocks lay each block's inputs in the same
  // lanes of every segment, so any multiple of 32 will do; the others' (and
  // q4_K's sub-block sums) need blocks of whole chunks (128 inputs, tq2_0
  // 256).
  int64_t chunkIn = tq || q2 ? 256 : p.isQ8_0() ? 64 : 128;
  if (p.xPerBlock() && superBlocks && p.xg % chunkIn != 0)
    return std::nullopt;
  if (p.xPerBlock() && !superBlocks && p.xg % chunkIn != 0 &&
      chunkIn % p.xg != 0)
    return std::nullopt;
  return p;
}

/// FP8 E4M3 weights [N, K] with a scale per output channel or per tensor
/// times f32 activations, or FP8 E4M3 activations with an f32 scale per row
/// or per tensor (what `lowbit-fp8` produces).
static std::optional<KernelProblem> matchFP8(QMatmulOp op) {
  QTensorType wt = matchWeights(op);
  if (!wt)
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  if (s.isGGUF()) // matchGGUF
    return std::nullopt;
  Type st = s.getScaleType();
  if (!isa<Float8E4M3FNType>(s.getStorageType()) || !st || !isFloat32or16(st) ||
      s.getTensorScale() || !s.getExpressedType().isF32())
    return std::nullopt;
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  int64_t n = wt.getShape()[0], k = wt.getShape()[1];
  if (blocks.size() != 2 || blocks[1] != k ||
      (blocks[0] != 1 && blocks[0] != n))
    return std::nullopt;
  KernelProblem p = makeProblem(WeightFormat::FP8E4M3, n, k, k, st);
  p.wScaleGranularity = blocks[0] == 1 && n > 1 ? ScaleGranularity::PerRow
                                                : ScaleGranularity::PerTensor;
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
  p.activations = ActivationFormat::FP8E4M3;
  p.xScales = xq.getScalesType();
  p.xScaleGranularity = xBlocks[0] == 1 && m > 1 ? ScaleGranularity::PerRow
                                                 : ScaleGranularity::PerTensor;
  return p;
}

std::optional<KernelProblem>
mlir::lowbit::cpu::describeQMatmul(QMatmulOp op, const CpuTarget &target) {
  if (std::optional<KernelProblem> p = match4Bit(op, target))
    return p;
  if (std::optional<KernelProblem> p = describeInt8Matmul(op, target))
    return p;
  if (std::optional<KernelProblem> p = matchFP8(op))
    return p;
  return matchGGUF(op, target);
}

bool mlir::lowbit::cpu::hasGGUFKernel(QMatmulOp op, const CpuTarget &target) {
  return matchGGUF(op, target).has_value();
}
