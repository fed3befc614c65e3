//===- Engine.h - what lowbit-compile's engine shares -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The steps of lowbit-compile's engine that compileModule (Compiler.cpp)
// runs in order, each in its own file: the entry points (EntryPoints.cpp),
// the weights blob (Weights.cpp), the C API functions (CEntryPoints.cpp),
// the C header and JSON manifest (CHeader.cpp), LLVM IR and object
// emission (Emit.cpp). Private to lib/Compile.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_COMPILE_ENGINE_H
#define LOWBIT_LIB_COMPILE_ENGINE_H

#include "lowbit/Compile/Compiler.h"

#include <string>
#include <vector>

namespace mlir::lowbit::compiler {

/// The internal global that holds the weights blob's address: the blob's
/// users load it (Weights.cpp), <prefix>_set_weights stores it
/// (CEntryPoints.cpp).
constexpr const char *kBaseSymbol = "__lowbit_weights";

//===----------------------------------------------------------------------===//
// Entry points (EntryPoints.cpp)
//===----------------------------------------------------------------------===//

/// Whether `s` is a C identifier (the prefix, entry point names).
bool isCIdentifier(StringRef s);

/// The entry points: public functions with bodies, every argument and
/// result a statically shaped tensor of a type C can name. Errors on the
/// functions that are not, and on a module without any.
LogicalResult collectEntryPoints(ModuleOp module,
                                 std::vector<EntryPoint> &entries);

//===----------------------------------------------------------------------===//
// The weights blob (Weights.cpp)
//===----------------------------------------------------------------------===//

/// Moves the large constant globals (at least options.weightThreshold
/// bytes) into result.weights, sets result.fingerprint, and rewrites each
/// address of one into base + offset, the base the global kBaseSymbol that
/// <prefix>_set_weights fills.
void externalizeWeights(ModuleOp module, const CompileOptions &options,
                        CompileResult &result);

//===----------------------------------------------------------------------===//
// C API functions (CEntryPoints.cpp)
//===----------------------------------------------------------------------===//

/// <prefix>_set_weights(ptr, size) -> i32 and, for each entry point,
/// <prefix>_<name>(buffers...) -> i32 calling the lowered function (now
/// internal): 0 on success, -1 when no weights are set; also
/// <prefix>_set_threads(n) and <prefix>_get_threads() (OpenMP's thread
/// count, kept for the model). Fills each entry point's tied results and
/// result.needsOpenMP. Runs after externalizeWeights.
LogicalResult addCEntryPoints(ModuleOp module, const CompileOptions &options,
                              CompileResult &result);

//===----------------------------------------------------------------------===//
// C header and manifest (CHeader.cpp)
//===----------------------------------------------------------------------===//

/// The C header's text: the entry points, the weights macros and the
/// header-only loader <prefix>_load_weights.
std::string makeHeader(const CompileOptions &options,
                       const CompileResult &result);

/// The entry points and the blob's identity in JSON: what the Python
/// package (lowbit.compile) loads instead of parsing the header.
std::string makeManifest(const CompileOptions &options,
                         const CompileResult &result);

//===----------------------------------------------------------------------===//
// LLVM IR, assembly, object (Emit.cpp)
//===----------------------------------------------------------------------===//

/// The phases after llvm: translates the LLVM-dialect `module` to LLVM IR,
/// optimizes it for options.targetCpu (result.phaseText for llvm-ir, with
/// needsOpenMP and needsRunnerUtils set), then emits target assembly
/// (result.phaseText) or the object (result.object).
LogicalResult emitObject(ModuleOp module, const CompileOptions &options,
                         CompileResult &result);

} // namespace mlir::lowbit::compiler

#endif // LOWBIT_LIB_COMPILE_ENGINE_H
