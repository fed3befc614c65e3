//===- Problem.h - one matmul as the CPU kernels see it ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// A typed description of a matmul Y[M, N] = X[M, K] . W[N, K]^T that a CPU
// kernel family may compute: the weights' and activations' formats, the
// weights' layout, the scales' granularity and the vector ISA. The
// describe* functions read it off the IR; the kernel registry
// (Registry.h) picks the family that computes it.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_PROBLEM_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_PROBLEM_H

#include "Target.h"

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::lowbit::cpu {

/// The weights' element format as the kernel reads it.
enum class WeightFormat {
  /// Signed int4 codes, two per byte, f32/f16/bf16 scales per group.
  Int4,
  /// OCP MXFP4: E2M1 codes, E8M0 scales per group.
  MXFP4,
  /// NVFP4: E2M1 codes, E4M3 scales per group and an f32 tensor scale.
  NVFP4,
  /// Ternary (BitNet b1.58) codes, four per byte, f32 scales.
  Ternary,
  /// Signed int8 codes, a scale per output channel or per tensor.
  Int8,
  /// FP8 E4M3 codes, a scale per output channel or per tensor.
  FP8E4M3,
  /// GGUF blocks read as stored, in llama.cpp's bytes.
  GGUFQ4_0,
  GGUFQ4_1,
  GGUFQ5_0,
  GGUFQ5_1,
  GGUFQ8_0,
  GGUFQ2_K,
  GGUFQ3_K,
  GGUFQ4_K,
  GGUFQ5_K,
  GGUFQ6_K,
  GGUFTQ1_0,
  GGUFTQ2_0,
  GGUFIQ4_NL,
  GGUFIQ4_XS,
  GGUFMXFP4,
  /// Plain float weights (linalg.matmul): f32, or f16 / bf16 (`wElem`)
  /// widened exactly to f32 as they are read.
  F32,
};

/// The activations' format.
enum class ActivationFormat {
  /// f32, f16 or bf16 values (`xElem`).
  Float,
  /// Symmetric int8 codes with f32 scales (`xScales`).
  Int8,
  /// FP8 E4M3 codes with f32 scales (`xScales`).
  FP8E4M3,
};

/// How the weights' codes are laid out in memory.
enum class WeightLayout {
  /// [N, K] rows, one per output channel (`transpose_b`), or GGUF blocks
  /// per row.
  Rows,
  /// int8 panels of 16 channels x 4 inputs (numerics::packInt8Panels).
  Int8Panels,
};

/// Which rows share a scale of a per-matrix scales part.
enum class ScaleGranularity { PerTensor, PerRow };

/// One matmul problem: Y[m, n] = sum_k X[m, k] W[n, k] with the formats
/// below.
struct KernelProblem {
  int64_t m = 0, n = 0, k = 0;
  /// Inputs per weight scale along K (K when one scale spans a row).
  int64_t g = 0;
  WeightFormat weights = WeightFormat::F32;
  ActivationFormat activations = ActivationFormat::Float;
  WeightLayout layout = WeightLayout::Rows;
  VectorIsa isa = VectorIsa::Avx512Vnni;
  /// Weight scales' type: f32, f16 or bf16; f8E8M0FNU (MXFP4) or
  /// f8E4M3FN (NVFP4); f16 for GGUF blocks.
  Type scaleType;
  /// The activations' scales part and granularity (Int8, FP8E4M3).
  RankedTensorType xScales;
  ScaleGranularity xScaleGranularity = ScaleGranularity::PerTensor;
  /// Int8 activations with a scale per block of `xg` inputs of a row
  /// (`per_group<[1 : xg]>`, f32, f16 or bf16 scales: llama.cpp's q8_0 and
  /// q8_K activations); 0: per row or per tensor (f32 scales).
  int64_t xg = 0;
  /// The weight scales part and granularity (Int8, FP8E4M3, Ternary).
  RankedTensorType wScales;
  ScaleGranularity wScaleGranularity = ScaleGranularity::PerTensor;
  /// NVFP4's tensor scale part.
  RankedTensorType tensorScaleType;
  /// Float activations: X's element type, the weights' expressed type
  /// (dequantized weights are rounded to it, as the reference does) and
  /// Y's element type; null means f32.
  Type xElem, expressed, yElem;
  /// Float weights (WeightFormat::F32): their element type; null means
  /// f32.
  Type wElem;

  bool isFP4() const {
    return weights == WeightFormat::MXFP4 || weights == WeightFormat::NVFP4;
  }
  bool isNVFP4() const { return weights == WeightFormat::NVFP4; }
  bool isTernary() const { return weights == WeightFormat::Ternary; }
  bool isInt8() const { return weights == WeightFormat::Int8; }
  bool isFP8() const { return weights == WeightFormat::FP8E4M3; }
  bool isQ4_0() const { return weights == WeightFormat::GGUFQ4_0; }
  bool isQ4_1() const { return weights == WeightFormat::GGUFQ4_1; }
  bool isQ5_0() const { return weights == WeightFormat::GGUFQ5_0; }
  bool isQ5_1() const { return weights == WeightFormat::GGUFQ5_1; }
  /// q4_1 and q5_1: value q d + m, a min m per block of 32.
  bool hasBlockMins() const { return isQ4_1() || isQ5_1(); }
  /// A min term (mins times sums of x) apart from the codes' products.
  bool hasMinTerm() const { return hasKMins() || hasBlockMins() || isQ2K(); }
  /// The kernel loops over super-blocks of 256 (W4Int8SuperBlocks.cpp).
  bool superBlockLoop() const {
    return hasKMins() || isQ6K() || isQ2K() || isQ3K();
  }
  /// Biased codes whose segments have scales of their own: the lane sums
  /// to subtract are kept per segment (q6_K, q3_K).
  bool segmentSums() const { return isQ6K() || isQ3K(); }
  /// q5_0 and q5_1: a 32-bit qh of fifth bits per block of 32.
  bool hasFifthBits() const { return isQ5_0() || isQ5_1(); }
  bool isQ8_0() const { return weights == WeightFormat::GGUFQ8_0; }
  bool isQ2K() const { return weights == WeightFormat::GGUFQ2_K; }
  bool isQ3K() const { return weights == WeightFormat::GGUFQ3_K; }
  bool isQ4K() const { return weights == WeightFormat::GGUFQ4_K; }
  bool isQ5K() const { return weights == WeightFormat::GGUFQ5_K; }
  /// q4_K and q5_K: 6-bit scales and mins per 32, nibbles laid out alike
  /// (q5_K adds a fifth bit per code).
  bool hasKMins() const { return isQ4K() || isQ5K(); }
  bool isQ6K() const { return weights == WeightFormat::GGUFQ6_K; }
  bool isTQ1_0() const { return weights == WeightFormat::GGUFTQ1_0; }
  bool isTQ2_0() const { return weights == WeightFormat::GGUFTQ2_0; }
  /// tq1_0 and tq2_0: ternary codes q + 1 in 0..2, one f16 d per 256.
  bool isTernaryGGUF() const { return isTQ1_0() || isTQ2_0(); }
  bool isIQ4NL() const { return weights == WeightFormat::GGUFIQ4_NL; }
  bool isIQ4XS() const { return weights == WeightFormat::GGUFIQ4_XS; }
  bool isGGUFMXFP4() const { return weights == WeightFormat::GGUFMXFP4; }
  /// E2M1 codes read as twice their value (OCP MXFP4, NVFP4, GGUF mxfp4):
  /// the sums are halved at the end.
  bool twiceE2M1() const { return isFP4() || isGGUFMXFP4(); }
  /// iq4_nl and iq4_xs: nibbles index llama.cpp's kvalues_iq4nl.
  bool hasIQ4Values() const { return isIQ4NL() || isIQ4XS(); }
  /// GGUF blocks read as stored: their GGUFKind (nullopt otherwise).
  std::optional<GGUFKind> ggufKind() const;
  bool isGGUF() const { return ggufKind().has_value(); }
  bool hasInt8Activations() const {
    return activations == ActivationFormat::Int8;
  }
  bool hasFP8Activations() const {
    return activations == ActivationFormat::FP8E4M3;
  }
  bool hasPanels() const { return layout == WeightLayout::Int8Panels; }
  bool xPerBlock() const { return xg != 0; }
  bool xScalePerRow() const {
    return xScaleGranularity == ScaleGranularity::PerRow;
  }
  bool wScalePerRow() const {
    return wScaleGranularity == ScaleGranularity::PerRow;
  }
  /// No VNNI: vpdpbusd as vpmaddubsw + vpmaddwd.
  bool emulatesDot() const { return isa != VectorIsa::Avx512Vnni; }
  /// 512-bit byte shuffles (vpshufb zmm) available.
  bool hasZmm() const {
    return isa == VectorIsa::Avx512 || isa == VectorIsa::Avx512Vnni;
  }
  /// The element type of the weight scales part as the kernel reads it
  /// (8-bit float scales travel as their bytes).
  Type scalePartType() const;
  /// Bytes of one output channel's weights.
  int64_t rowBytes() const;
  /// How many run-time parts the weights have: codes and scales; GGUF
  /// blocks carry their scales; NVFP4 adds the tensor scale.
  unsigned weightParts() const;
};

/// The problem of a qmatmul that some CPU kernel may compute on `target`,
/// or nullopt.
std::optional<KernelProblem> describeQMatmul(QMatmulOp op,
                                             const CpuTarget &target);
/// The problem of a W8A8 qmatmul (int8 weights per channel or tensor times
/// int8 activations), or nullopt: the weights that the panel layout may
/// hold.
std::optional<KernelProblem> describeInt8Matmul(QMatmulOp op,
                                                const CpuTarget &target);
/// Whether a GGUF qmatmul has a CPU kernel on `target` (GGUF has no
/// reference lowering).
bool hasGGUFKernel(QMatmulOp op, const CpuTarget &target);

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_CONVERSION_LOWBITTOCPU_PROBLEM_H
