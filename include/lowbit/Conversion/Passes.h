//===- Passes.h - lowbit conversion passes ----------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_PASSES_H
#define LOWBIT_CONVERSION_PASSES_H

#include "lowbit/Dialect/LowbitDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::lowbit {

/// The kernels lowbit-pack-weights packs constant weights for.
enum class PackTarget {
  /// lowbit-lower-to-cpu's kernels.
  CPU,
  /// The kernels lowbit-lower-to-gpu chose, and the CPU's for the rest.
  NVPTX,
};

#define GEN_PASS_DECL
#include "lowbit/Conversion/Passes.h.inc"

/// Names the GPU passes (lowbit-lower-to-gpu, lowbit-write-ptx,
/// lowbit-offload-to-gpu, lowbit-lower-launches) and lowbit-compile share
/// (docs/CodegenGPU.md, docs/Compile.md).
namespace gpunames {
/// The gpu.module (then gpu.binary) holding the kernels.
constexpr llvm::StringLiteral kModuleName = "lowbit_gpu";
/// On an op a kernel covers: the kernel, its launch, its parameters.
/// (Declared by the dialect: docs/Spec.md LB-A7 to LB-A9.)
constexpr llvm::StringLiteral kKernelAttr =
    LowbitDialect::GpuKernelAttrHelper::getNameStr();
constexpr llvm::StringLiteral kLaunchAttr =
    LowbitDialect::GpuLaunchAttrHelper::getNameStr();
constexpr llvm::StringLiteral kParamsAttr =
    LowbitDialect::GpuParamsAttrHelper::getNameStr();
/// The host module's global holding the PTX (NUL-terminated).
constexpr llvm::StringLiteral kPtxSymbol = "__lowbit_ptx";
/// The launch descriptors' globals: `kLaunchDescPrefix` + index.
constexpr llvm::StringLiteral kLaunchDescPrefix = "__lowbit_launch_";
} // namespace gpunames

/// Converts !lowbit.qtensor to its run-time parts (1:N): packed codes,
/// scales, zero points and tensor scale; every other type is kept.
class QTensorTypeConverter : public TypeConverter {
public:
  QTensorTypeConverter();
};

/// Patterns lowering every lowbit op to linalg/arith/math/tensor on the
/// converted parts.
void populateLowbitToLinalgConversionPatterns(TypeConverter &converter,
                                              RewritePatternSet &patterns);

/// Lowers every lowbit op in `module` with the 1:N type conversion: the
/// reference patterns above plus those `addPatterns` adds (the CPU lowering
/// adds its kernels with a higher benefit, so they win where they match).
/// `handled` names ops those patterns lower that the reference patterns
/// cannot (GGUF matmuls), so they are not rejected up front.
LogicalResult lowerLowbitOps(
    ModuleOp module,
    function_ref<void(TypeConverter &, RewritePatternSet &)> addPatterns = {},
    function_ref<bool(Operation *)> handled = {});

/// One arith.constant per part of `op`, of the lowered part types (8-bit
/// float scales as their bytes, i8), created at `b`'s insertion point; the
/// codes part as stored (in `op`'s layout when it has one).
SmallVector<Value> createConstantParts(OpBuilder &b, ConstantOp op);

#define GEN_PASS_REGISTRATION
#include "lowbit/Conversion/Passes.h.inc"

} // namespace mlir::lowbit

#endif // LOWBIT_CONVERSION_PASSES_H
