//===- Registry.h - the GPU kernel families ---------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// One registry of GPU kernel families. A family says which problems it
// computes, how it runs one (a configuration: grid, block, workgroup
// buffers) and emits the body of the kernel; the registry finds the family
// of a problem and creates the gpu.func (its name and parameters follow
// from the problem and the configuration alone). Adding a kernel family is
// one file that defines a KernelFamily and one line in Registry.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOGPU_REGISTRY_H
#define LOWBIT_CONVERSION_LOWBITTOGPU_REGISTRY_H

#include "Problem.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>

namespace mlir::lowbit::nvptx {

/// How a family runs one problem.
struct KernelConfig {
  /// How the kernel computes it, as its name says: "gemv" (the decode
  /// tiling), "gemm", "wgmma_gemm", "rows".
  StringRef method;
  /// The launch: grid x, y, z and block x, y, z.
  std::array<int64_t, 3> grid = {1, 1, 1}, block = {1, 1, 1};
  /// The kernel's workgroup (shared memory) buffers.
  SmallVector<Type> workgroup;
  /// The kernel needs PTX ISA 8.4 (mma.sync on FP8 operands), not 8.0.
  bool needsPtx84 = false;
};

/// A family of generated GPU kernels.
struct KernelFamily {
  /// A short name ("w4-mma", "gemm8-mma", ...), as docs/CodegenGPU.md
  /// lists them.
  StringRef name;
  /// Whether the family computes `p` on `p.target`.
  bool (*accepts)(const KernelProblem &p);
  /// How it runs `p`.
  KernelConfig (*configure)(MLIRContext *ctx, const KernelProblem &p);
  /// Emits the body of `fn`, `p`'s kernel with `configure`'s workgroup
  /// buffers, setting `b`'s insertion point into it. The parameters are
  /// the buffers getKernelType lists.
  void (*build)(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                const KernelProblem &p);
};

/// The families, one per file.
const KernelFamily &getW4MmaFamily();
const KernelFamily &getGemm8MmaFamily();
const KernelFamily &getFP8WgmmaFamily();
const KernelFamily &getQuantizeRowsFamily();

/// Every GPU kernel family, the preferred first.
ArrayRef<const KernelFamily *> getKernelFamilies();

/// The first family that computes `p`, or null.
const KernelFamily *findKernelFamily(const KernelProblem &p);

/// The kernel's parameters, plain device pointers (bare-pointer memrefs),
/// in order:
/// - 4-bit weights: X [M, K] (f16/bf16), the mma-b tiles
///   [N/32, K/32, 128] i32, the scales part (f16, or E8M0/E4M3 bytes as
///   i8), NVFP4's tensor scale (f32), Y [M, N];
/// - 8-bit: X codes [M, K] i8, X scales, W codes [N, K] i8, W scales, Y;
/// - QuantizeRows: X [M, K], codes [M, K] i8, scales (f32).
FunctionType getKernelType(MLIRContext *ctx, const KernelProblem &p);

/// The kernel of `p` (whose family must be `family`) in `module`, created
/// at `loc` once per name and signature: kernels are named after the
/// problem (`w4a16_gemv_1x8192x8192_g128_f16`, `w8a8_gemm_...`); another
/// problem of the same name but other parameter shapes gets a `_v<i>`
/// suffix.
gpu::GPUFuncOp getOrCreateKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                                 const KernelFamily &family,
                                 const KernelProblem &p,
                                 const KernelConfig &config, Location loc);

/// The operands a kernel takes, read off its name (what lowbit-offload-to-gpu
/// sees of a kernel).
enum class KernelOperands {
  /// X, the weights' mma-b tiles and scales (4-bit weights).
  MmaBWeights,
  /// The same and NVFP4's tensor scale.
  MmaBWeightsAndTensorScale,
  /// X's codes and scales, W's codes and scales (8-bit GEMMs).
  EightBitParts,
  /// X (activation quantization).
  QuantizeRows,
  /// Not a kernel of the registry.
  Unknown,
};
KernelOperands getKernelOperands(StringRef kernelName);

} // namespace mlir::lowbit::nvptx

#endif // LOWBIT_CONVERSION_LOWBITTOGPU_REGISTRY_H
