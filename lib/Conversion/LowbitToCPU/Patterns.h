//===- Patterns.h - the CPU lowering's patterns and steps -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What lowbit-lower-to-cpu is made of (LowerToCPU.cpp): kernel calls for
// qmatmuls and f32 matmuls, vector code for activation quantization, and
// the int8 panels of W8A8 weights that lowbit-pack-weights packed.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_PATTERNS_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_PATTERNS_H

#include "Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::lowbit::cpu {

/// Where the W8A8 panel kernel gets its weights (docs/CodegenCPU.md).
struct PanelWeights {
  /// The qmatmuls that get the panel kernel -> their weights' parts:
  /// those of a constant in layout int8_panels (panels first), or none
  /// for an argument marked `lowbit.packed` (its [N, K] codes part holds
  /// the panels' bytes).
  DenseMap<Operation *, SmallVector<Value>> matmuls;
  /// Constants in layout int8_panels -> their parts, arith.constants
  /// created before the conversion.
  DenseMap<Operation *, SmallVector<Value>> constants;
};

/// The W8A8 matmuls that get the panel kernel: constants in layout
/// int8_panels (packed by lowbit-pack-weights; any other layout, or a
/// user other than such a qmatmul, is an error) and arguments marked
/// `lowbit.packed` (only such qmatmuls may use them, N % 16 == 0,
/// K % 4 == 0). Unused constants with a layout are erased.
LogicalResult collectPanelWeights(ModuleOp module, const CpuTarget &target,
                                  PanelWeights &panels);

/// Every f32 linalg.matmul with transposed-B maps, y[m, n] += x[m, k] *
/// w[n, k], static shapes, becomes a call of the f32 family's kernel.
void lowerF32Matmuls(ModuleOp module);

/// qmatmuls that a kernel family computes become calls of its kernel (of
/// higher benefit than the reference lowering's patterns).
void populateQMatmulKernelPatterns(const TypeConverter &converter,
                                   RewritePatternSet &patterns,
                                   const CpuTarget &target,
                                   const PanelWeights &panels);

/// Dynamic int8 quantization of f32 activations (per row or tensor) as
/// vector code, bit-identical to the reference lowering.
void populateActivationQuantizePatterns(const TypeConverter &converter,
                                        RewritePatternSet &patterns);

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_CONVERSION_LOWBITTOCPU_PATTERNS_H
