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

namespace mlir::lowbit {

#define GEN_PASS_DECL
#include "lowbit/Transforms/Passes.h.inc"

/// Parses a scheme body ("i8, per_axis<out>") for a tensor of `shape` used
/// as operand of a contraction over axis `inAxis`; `in`, `out` and `last`
/// name axes. Returns null and reports through `emitError` on bad input.
SchemeAttr parseSchemeForOperand(MLIRContext *ctx, StringRef text,
                                 int64_t inAxis, int64_t outAxis, int64_t rank,
                                 function_ref<InFlightDiagnostic()> emitError);

/// `lowbit.quantize` of `v` (dynamic scales) with the scheme body `text`
/// resolved for an operand whose contracted axis is `inAxis` and output
/// axis `outAxis`; diagnostics go to `op`, prefixed with `passName`.
FailureOr<Value> quantizeOperand(OpBuilder &b, Operation *op, Value v,
                                 StringRef text, int64_t inAxis,
                                 int64_t outAxis, StringRef passName);

#define GEN_PASS_REGISTRATION
#include "lowbit/Transforms/Passes.h.inc"

} // namespace mlir::lowbit

#endif // LOWBIT_TRANSFORMS_PASSES_H
