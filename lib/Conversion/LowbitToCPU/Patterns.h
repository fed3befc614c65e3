//===- Patterns.h - the CPU lowering's patterns and steps -------*- C++ -*-===//
//
// What lowbit-lower-to-cpu is made of (LowerToCPU.cpp): kernel calls for
// qmatmuls and f32 matmuls, vector code for activation quantization, and
// the int8 panels of W8A8 weights packed before the conversion.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_PATTERNS_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_PATTERNS_H

#include "Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::lowbit::cpu {

/// Where the W8A8 panel kernel gets its weights (docs/CodegenCPU.md): a
/// constant packed at compile time (the value, created before the
/// conversion), or a function argument marked `lowbit.packed` whose codes
/// part already holds the panels' bytes (a null value).
using PanelWeights = DenseMap<Operation *, Value>;

/// The W8A8 matmuls that get the panel kernel: constant weights are packed
/// now (numerics::packInt8Panels) into an arith.constant after the
/// constant; arguments marked `lowbit.packed` are checked (only such
/// qmatmuls may use them, N % 16 == 0, K % 4 == 0).
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
