//===- Passes.h - lowbit transformation passes ------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TRANSFORMS_PASSES_H
#define LOWBIT_TRANSFORMS_PASSES_H

#include "lowbit/Dialect/LowbitDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

#include <optional>

namespace mlir::lowbit {

#define GEN_PASS_DECL
#include "lowbit/Transforms/Passes.h.inc"

struct OperandScheme; // lowbit/Transforms/OperandScheme.h

/// `lowbit.quantize` of `v` (dynamic scales) with `scheme` resolved for an
/// operand whose contracted axis is `inAxis` and output axis `outAxis`;
/// diagnostics go to `op`, prefixed with `passName`.
FailureOr<Value> quantizeOperand(OpBuilder &b, Operation *op, Value v,
                                 const OperandScheme &scheme, int64_t inAxis,
                                 int64_t outAxis, StringRef passName);

/// `lowbit-quantize-weights` with its scheme given as a value (the
/// `scheme` of `options` is replaced by its text form).
std::unique_ptr<Pass>
createLowbitQuantizeWeights(const OperandScheme &scheme,
                            LowbitQuantizeWeightsOptions options = {});

/// `lowbit-quantize-matmuls` with its schemes given as values; without
/// `activations`, activations stay in float.
std::unique_ptr<Pass>
createLowbitQuantizeMatmuls(const OperandScheme &weights,
                            std::optional<OperandScheme> activations,
                            LowbitQuantizeMatmulsOptions options = {});

#define GEN_PASS_REGISTRATION
#include "lowbit/Transforms/Passes.h.inc"

} // namespace mlir::lowbit

#endif // LOWBIT_TRANSFORMS_PASSES_H
