//===- LowbitDialect.h - lowbit dialect -------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The lowbit dialect: quantization schemes, quantized tensor types and the
// ops on them. docs/Design.md explains the design, docs/Spec.md the numbered
// constraints that the verifiers quote.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBITDIALECT_H
#define LOWBIT_DIALECT_LOWBITDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "lowbit/Dialect/LowbitEnums.h.inc"

#include "lowbit/Dialect/LowbitDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/LowbitAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/LowbitTypes.h.inc"

#define GET_OP_CLASSES
#include "lowbit/Dialect/LowbitOps.h.inc"

namespace mlir::lowbit {

/// Elements per block and bytes per block of a GGUF block format.
int64_t getGGUFBlockElements(GGUFKind kind);
int64_t getGGUFBlockBytes(GGUFKind kind);

/// Verifies that `types` (codes, scales, zero points, tensor scale; absent
/// parts null) match the run-time parts of `type`; reports with `emitError`
/// prefixed by the constraint id.
LogicalResult verifyStaticParts(function_ref<InFlightDiagnostic()> emitError,
                                QTensorType type, Type scales, Type zeroPoints,
                                Type tensorScale);

} // namespace mlir::lowbit

#endif // LOWBIT_DIALECT_LOWBITDIALECT_H
