//===- Problem.h - one problem as the GPU kernels see it --------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// A typed description of what a GPU kernel may compute: a matmul
// Y[M, N] = X[M, K] . W[N, K]^T (the weights' and activations' formats,
// the weights' layout, the scales' granularity) or the dynamic
// quantization of activations per row, for a target chip. The describe*
// functions read it off the IR; the kernel registry (Registry.h) picks the
// family that computes it.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOGPU_PROBLEM_H
#define LOWBIT_CONVERSION_LOWBITTOGPU_PROBLEM_H

#include "Target.h"

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::lowbit::nvptx {

/// What the kernel computes.
enum class ProblemKind {
  /// Y = X . W^T (a lowbit.qmatmul with transpose_b).
  Matmul,
  /// X's codes and an f32 scale per row (a dynamic lowbit.quantize).
  QuantizeRows,
};

/// The weights' element format.
enum class WeightFormat {
  /// Signed int4 codes, f16 scales per group along K.
  Int4,
  /// OCP MXFP4: E2M1 codes, E8M0 scales per group.
  MXFP4,
  /// NVFP4: E2M1 codes, E4M3 scales per group and an f32 tensor scale.
  NVFP4,
  /// Signed int8 codes, an f32 scale per output channel or per tensor.
  Int8,
  /// FP8 E4M3 codes, an f32 scale per output channel or per tensor.
  FP8E4M3,
};

/// The activations' format: a matmul's X, or what a quantization makes of
/// X.
enum class ActivationFormat {
  /// f16, bf16 or f32 values (`xElem`).
  Float,
  /// Symmetric int8 codes with f32 scales (`xScales`).
  Int8,
  /// FP8 E4M3 codes with f32 scales (`xScales`).
  FP8E4M3,
};

/// How a kernel reads the weights' codes.
enum class WeightLayout {
  /// [N, K] rows, one per output channel (transpose_b).
  Rows,
  /// 4-bit codes in tiles of 32 channels x 32 inputs holding each lane's
  /// mma.sync B fragments (numerics::packInt4MmaB, docs/CodegenGPU.md),
  /// packed by lowbit-offload-to-gpu.
  MmaB,
};

/// Which rows share a scale of a per-matrix scales part.
enum class ScaleGranularity { PerTensor, PerRow };

/// One problem for a GPU kernel on `target`.
struct KernelProblem {
  ProblemKind kind = ProblemKind::Matmul;
  /// Y[M, N], X[M, K] (QuantizeRows: N is 0).
  int64_t m = 0, n = 0, k = 0;
  /// Inputs per weight scale along K (4-bit weights).
  int64_t g = 0;
  WeightFormat weights = WeightFormat::Int4;
  /// Matmul: X's format. QuantizeRows: the format X is quantized to.
  ActivationFormat activations = ActivationFormat::Float;
  WeightLayout layout = WeightLayout::Rows;
  GpuTarget target;
  /// X's element type when it is Float (f16, bf16; f32 for QuantizeRows).
  Type xElem;
  /// Y's element type (Matmul).
  Type yElem;
  /// The weights' scales part ([N, K / g] or [N] for 4-bit weights; rank
  /// 0, 1 or 2 for 8-bit weights) and its granularity (8-bit weights).
  RankedTensorType wScales;
  ScaleGranularity wScaleGranularity = ScaleGranularity::PerTensor;
  /// X's scales part (8-bit activations; the scales QuantizeRows writes)
  /// and its granularity.
  RankedTensorType xScales;
  ScaleGranularity xScaleGranularity = ScaleGranularity::PerTensor;
  /// NVFP4's tensor scale part.
  RankedTensorType tensorScale;
  /// QuantizeRows: the codes' scheme (code range, rounding, saturation).
  SchemeAttr scheme;

  bool isMatmul() const { return kind == ProblemKind::Matmul; }
  bool isQuantizeRows() const { return kind == ProblemKind::QuantizeRows; }
  /// 4-bit weights: int4, MXFP4 or NVFP4.
  bool hasFourBitWeights() const {
    return weights == WeightFormat::Int4 || weights == WeightFormat::MXFP4 ||
           weights == WeightFormat::NVFP4;
  }
  bool isFP4() const {
    return weights == WeightFormat::MXFP4 || weights == WeightFormat::NVFP4;
  }
  bool isNVFP4() const { return weights == WeightFormat::NVFP4; }
  bool xScalePerRow() const {
    return xScaleGranularity == ScaleGranularity::PerRow;
  }
  bool wScalePerRow() const {
    return wScaleGranularity == ScaleGranularity::PerRow;
  }
  /// M <= 16: the decode shape, one m16 tile of rows.
  bool isDecode() const { return m <= 16; }
};

/// The problem of a qmatmul with transpose_b, static shapes and weights
/// (and activations) of a format above, or nullopt. Whether a kernel
/// computes it is the registry's question.
std::optional<KernelProblem> describeQMatmul(QMatmulOp op,
                                             const GpuTarget &target);
/// The problem of a dynamic quantization of a static 2-D float tensor to
/// symmetric int8 or E4M3 codes with f32 scales per row or per tensor, or
/// nullopt.
std::optional<KernelProblem> describeQuantize(QuantizeOp op,
                                              const GpuTarget &target);

} // namespace mlir::lowbit::nvptx

#endif // LOWBIT_CONVERSION_LOWBITTOGPU_PROBLEM_H
