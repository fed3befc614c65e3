//===- Problem.cpp - one problem as the GPU kernels see it ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Reading a KernelProblem off a qmatmul or quantize: the operands' formats
// and layouts only; the kernel families decide what they compute.
//
//===----------------------------------------------------------------------===//

#include "Problem.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

/// The format of 4-bit weights: int4 with f16 scales, E2M1 with E8M0
/// scales (MXFP4) or with E4M3 scales and a tensor scale (NVFP4).
static std::optional<WeightFormat> getFourBitFormat(SchemeAttr s) {
  Type st = s.getScaleType();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  if (storage && storage.getWidth() == 4 && !storage.isUnsigned() &&
      s.getSymmetric() && !s.getTernary() && st && st.isF16() &&
      !s.getTensorScale())
    return WeightFormat::Int4;
  if (isa<Float4E2M1FNType>(s.getStorageType()) && st &&
      isa<Float8E8M0FNUType>(st) && !s.getTensorScale())
    return WeightFormat::MXFP4;
  if (isa<Float4E2M1FNType>(s.getStorageType()) && st &&
      isa<Float8E4M3FNType>(st) && s.getTensorScale())
    return WeightFormat::NVFP4;
  return std::nullopt;
}

namespace {
/// An 8-bit operand [rows, K] of a matmul.
struct EightBitOperand {
  /// E4M3 codes, else int8.
  bool fp8;
  int64_t rows, k;
  /// The scales part (rank 0, 1 or 2) and its granularity.
  RankedTensorType scales;
  ScaleGranularity granularity;
};
} // namespace

/// A symmetric int8 or E4M3 qtensor [R, K] with f32 scales per row or per
/// tensor (one row is per tensor), or nullopt.
static std::optional<EightBitOperand> describeEightBit(Type t) {
  auto q = dyn_cast<QTensorType>(t);
  if (!q || q.getShape().size() != 2 ||
      ShapedType::isDynamicShape(q.getShape()))
    return std::nullopt;
  SchemeAttr s = q.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  bool fp8 = isa<Float8E4M3FNType>(s.getStorageType());
  bool int8 = storage && storage.getWidth() == 8 && !storage.isUnsigned();
  if (s.isGGUF() || !(fp8 || int8) || !s.getSymmetric() || s.getTernary() ||
      !s.getScaleType() || !s.getScaleType().isF32() || s.getTensorScale())
    return std::nullopt;
  EightBitOperand o;
  o.fp8 = fp8;
  o.rows = q.getShape()[0];
  o.k = q.getShape()[1];
  SmallVector<int64_t> blocks = q.getBlockSizes();
  if (blocks.size() != 2 || blocks[1] != o.k ||
      (blocks[0] != 1 && blocks[0] != o.rows))
    return std::nullopt;
  o.granularity = blocks[0] == 1 && o.rows > 1 ? ScaleGranularity::PerRow
                                               : ScaleGranularity::PerTensor;
  o.scales = q.getScalesType();
  return o;
}

std::optional<KernelProblem> nvptx::describeQMatmul(QMatmulOp op,
                                                    const GpuTarget &target) {
  auto yt = dyn_cast<RankedTensorType>(op.getType());
  auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
  if (!op.getTransposeB() || !yt || !wt || wt.getShape().size() != 2 ||
      ShapedType::isDynamicShape(wt.getShape()) || wt.getScheme().isGGUF())
    return std::nullopt;
  KernelProblem p;
  p.kind = ProblemKind::Matmul;
  p.target = target;
  p.yElem = yt.getElementType();
  if (std::optional<WeightFormat> format = getFourBitFormat(wt.getScheme())) {
    // Float activations; scales per group along K.
    auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
    SmallVector<int64_t> blocks = wt.getBlockSizes();
    if (!xt || xt.getRank() != 2 || !xt.hasStaticShape() ||
        blocks.size() != 2 || blocks[0] != 1 ||
        wt.getShape()[1] != xt.getShape()[1])
      return std::nullopt;
    p.weights = *format;
    p.activations = ActivationFormat::Float;
    p.layout = WeightLayout::MmaB;
    p.xElem = xt.getElementType();
    p.m = xt.getShape()[0];
    p.k = xt.getShape()[1];
    p.n = wt.getShape()[0];
    p.g = blocks[1];
    p.wScales = wt.getScalesType();
    if (p.isNVFP4())
      p.tensorScale = wt.getTensorScaleType();
    return p;
  }
  std::optional<EightBitOperand> x = describeEightBit(op.getLhs().getType());
  std::optional<EightBitOperand> w = describeEightBit(wt);
  if (!x || !w || x->k != w->k)
    return std::nullopt;
  p.weights = w->fp8 ? WeightFormat::FP8E4M3 : WeightFormat::Int8;
  p.activations = x->fp8 ? ActivationFormat::FP8E4M3 : ActivationFormat::Int8;
  p.layout = WeightLayout::Rows;
  p.m = x->rows;
  p.n = w->rows;
  p.k = x->k;
  p.g = p.k;
  p.xScales = x->scales;
  p.xScaleGranularity = x->granularity;
  p.wScales = w->scales;
  p.wScaleGranularity = w->granularity;
  return p;
}

std::optional<KernelProblem> nvptx::describeQuantize(QuantizeOp op,
                                                     const GpuTarget &target) {
  auto in = dyn_cast<RankedTensorType>(op.getInput().getType());
  QTensorType t = op.getType();
  SchemeAttr s = t.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  bool int8 = storage && storage.getWidth() == 8 && !storage.isUnsigned();
  bool fp8 = isa<Float8E4M3FNType>(s.getStorageType());
  if (!op.isDynamic() || !in || in.getRank() != 2 || !in.hasStaticShape() ||
      !(int8 || fp8) || s.isGGUF() || !s.getSymmetric() || s.getTernary() ||
      !s.getScaleType() || !s.getScaleType().isF32() || s.getTensorScale())
    return std::nullopt;
  KernelProblem p;
  p.kind = ProblemKind::QuantizeRows;
  p.target = target;
  p.m = in.getShape()[0];
  p.k = in.getShape()[1];
  SmallVector<int64_t> blocks = t.getBlockSizes();
  if (blocks.size() != 2 || blocks[1] != p.k ||
      (blocks[0] != 1 && blocks[0] != p.m))
    return std::nullopt;
  p.xScaleGranularity =
      blocks[0] == 1 ? ScaleGranularity::PerRow : ScaleGranularity::PerTensor;
  p.activations = fp8 ? ActivationFormat::FP8E4M3 : ActivationFormat::Int8;
  p.xElem = in.getElementType();
  p.xScales = t.getScalesType();
  p.scheme = s;
  return p;
}
