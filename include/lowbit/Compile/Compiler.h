//===- Compiler.h - ahead-of-time compilation of lowbit modules -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-compile's engine (docs/Compile.md), shared by the tool and the
// Python package: a module with tensor entry points goes through an
// optional quantization pipeline and the CPU code generation pipeline to
// LLVM IR and an object file (optionally linked into a shared library);
// large constants (the weights) move into a separate blob that the binary
// maps at start; a C header declares plain entry points.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_COMPILE_COMPILER_H
#define LOWBIT_COMPILE_COMPILER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::lowbit {

/// Where compilation stops (--compile-to): the module (or text) after
/// that phase is what is printed.
enum class CompilePhase {
  Input,      // parsed and verified
  Quantized,  // after the quantization pipeline
  PTX,        // (nvptx) the GPU kernels' PTX
  Lowered,    // lowbit ops lowered to kernels / the reference (phase lower)
  Bufferized, // buffers, C entry-point ABI, threads (phase bufferize)
  LLVM,       // LLVM dialect, weights externalized, C entry points added
  LLVMIR,     // LLVM IR, optimized
  Assembly,   // target assembly
  Object,     // the full outputs (object or shared library, header, blob)
};
/// "input", "quantized", "ptx", "lowered", "bufferized", "llvm", "llvm-ir",
/// "asm", "object".
std::optional<CompilePhase> parseCompilePhase(StringRef name);

struct CompileOptions {
  /// "x86_64", or "nvptx": the ops GPU kernels cover run on the GPU
  /// (launched through lib/Runtime), the rest on the x86_64 host.
  std::string target = "x86_64";
  /// (nvptx) the compute capability the PTX is generated for.
  std::string sm = "sm_80";
  /// LLVM CPU name for code generation and the kernels' features (see
  /// lowbit-lower-to-cpu's target-cpu): "host" is this machine.
  std::string targetCpu = "host";
  /// Pass pipeline run before code generation: a registered pipeline
  /// ("lowbit-w4a8{group=32}") or a full "builtin.module(...)" string;
  /// empty runs none.
  std::string pipeline;
  /// Prefix of every C symbol and the header's macros (a C identifier).
  std::string prefix = "model";
  /// Constants of at least this many bytes go to the weights blob.
  int64_t weightThreshold = 256;
  bool sharedLibrary = false; // link OUT.so (else OUT.o)
  CompilePhase stopAfter = CompilePhase::Object;
};

/// A buffer of an entry point, as the header declares it.
struct BufferSignature {
  std::string cType;    // "float", "uint16_t" (f16/bf16 bits), "int8_t", ...
  std::string mlirType; // "tensor<4x64xf32>"
  std::vector<int64_t> shape;
  /// An integer argument's valid values [lo, hi] (`lowbit.range`): the C
  /// entry point checks every element and returns -2 outside it.
  std::optional<std::pair<int64_t, int64_t>> range;
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

struct EntryPoint {
  std::string name; // the MLIR function's name
  std::vector<BufferSignature> args, results;
  /// Per result: the argument it is, updated in place (a KV cache), or -1.
  /// Tied results are not parameters of the C function.
  std::vector<int64_t> tied;
  bool isUpdated(size_t arg) const {
    return llvm::is_contained(tied, int64_t(arg));
  }
};

struct CompileResult {
  std::vector<EntryPoint> entryPoints;
  std::vector<char> weights; // the blob, header included
  uint64_t fingerprint = 0;
  std::string header;       // the C header's text
  std::string manifest;     // the same in JSON (OUT.json), for bindings
  std::string phaseText;    // what --compile-to printed (phases before Object)
  std::vector<char> object; // relocatable object (Object phase)
  bool needsOpenMP = false; // the object calls libomp
  bool needsRunnerUtils = false;       // ... and MLIR's C runner utilities
  bool needsRuntime = false;           // ... and lib/Runtime (nvptx launches)
  std::vector<std::string> gpuKernels; // (nvptx) the kernels launched
};

/// Compiles `module` (modified in place). Diagnostics go to the context's
/// handler; failure after any of them.
LogicalResult compileModule(ModuleOp module, const CompileOptions &options,
                            CompileResult &result);

/// Links `objectPath` into the shared library `soPath` with the system's
/// C compiler driver (cc), adding libomp, MLIR's runner utilities and
/// lowbit's GPU runtime (static, with -ldl) when the object needs them. On
/// failure `error` says why.
LogicalResult linkSharedLibrary(const CompileResult &result,
                                StringRef objectPath, StringRef soPath,
                                std::string &error);

/// The weights blob: a 64-byte header then each constant at a 64-byte
/// aligned offset (docs/Compile.md).
constexpr char kWeightsMagic[8] = {'L', 'O', 'W', 'B', 'I', 'T', 'W', '1'};
constexpr uint64_t kWeightsAlign = 64;

} // namespace mlir::lowbit

#endif // LOWBIT_COMPILE_COMPILER_H
