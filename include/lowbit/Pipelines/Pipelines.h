//===- Pipelines.h - lowbit pipelines and registration ------------*- C++
//-*-===//
//
// One place that registers lowbit's dialects, passes and pipelines, used by
// every tool (lowbit-opt now; lowbit-compile and Python later).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PIPELINES_PIPELINES_H
#define LOWBIT_PIPELINES_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::lowbit {

/// The dialects lowbit's tools accept as input and produce.
void registerLowbitDialects(DialectRegistry &registry);

/// Registers every lowbit pass and the named pipelines below.
void registerLowbitPasses();

/// Reference lowering: lowbit ops -> linalg on tensors
/// (`lowbit-lower-to-linalg`) -> buffers -> loops -> LLVM dialect, ready for
/// mlir-runner or translation to LLVM IR. Registered as
/// `lowbit-reference-to-llvm`.
void buildReferenceToLLVMPipeline(OpPassManager &pm);

} // namespace mlir::lowbit

#endif // LOWBIT_PIPELINES_PIPELINES_H
