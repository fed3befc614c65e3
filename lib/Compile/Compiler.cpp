//===- Compiler.cpp - ahead-of-time compilation of lowbit modules ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// compileModule: the phases in order (input, quantized, lowered (with the
// PTX on nvptx), bufferized, llvm, then Emit.cpp's llvm-ir, asm, object),
// stopping after the one --compile-to names. The steps it runs live in
// the files beside it (Engine.h); see Compiler.h and docs/Compile.md.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compile/Compiler.h"

#include "Engine.h"

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::compiler;

std::optional<CompilePhase> mlir::lowbit::parseCompilePhase(StringRef name) {
  return llvm::StringSwitch<std::optional<CompilePhase>>(name)
      .Case("input", CompilePhase::Input)
      .Case("quantized", CompilePhase::Quantized)
      .Case("ptx", CompilePhase::PTX)
      .Case("lowered", CompilePhase::Lowered)
      .Case("bufferized", CompilePhase::Bufferized)
      .Case("llvm", CompilePhase::LLVM)
      .Case("llvm-ir", CompilePhase::LLVMIR)
      .Case("asm", CompilePhase::Assembly)
      .Case("object", CompilePhase::Object)
      .Default(std::nullopt);
}

/// The module's text, for --compile-to.
static std::string printOp(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

LogicalResult mlir::lowbit::compileModule(ModuleOp module,
                                          const CompileOptions &options,
                                          CompileResult &result) {
  MLIRContext *ctx = module.getContext();
  registerLowbitPasses();
  bool gpu = options.target == "nvptx";
  if (options.target != "x86_64" && !gpu)
    return module.emitError()
           << "unknown target '" << options.target << "' (x86_64 or nvptx)";
  if (options.stopAfter == CompilePhase::PTX && !gpu)
    return module.emitError() << "phase 'ptx' needs --target=nvptx";
  if (!isCIdentifier(options.prefix))
    return module.emitError()
           << "prefix '" << options.prefix << "' is not a C identifier";
  if (failed(verify(module)))
    return failure();
  if (options.stopAfter == CompilePhase::Input) {
    result.phaseText = printOp(module);
    return success();
  }

  if (!options.pipeline.empty()) {
    std::string text = options.pipeline;
    if (!StringRef(text).starts_with("builtin.module("))
      text = "builtin.module(" + text + ")";
    std::string err;
    llvm::raw_string_ostream es(err);
    FailureOr<OpPassManager> parsed = parsePassPipeline(text, es);
    if (failed(parsed))
      return module.emitError()
             << "bad pipeline '" << options.pipeline << "': " << err;
    PassManager pm(ctx);
    static_cast<OpPassManager &>(pm) = std::move(*parsed);
    if (failed(pm.run(module)))
      return failure();
  }
  if (failed(collectEntryPoints(module, result.entryPoints)))
    return failure();
  if (options.stopAfter == CompilePhase::Quantized) {
    result.phaseText = printOp(module);
    return success();
  }

  // Code generation by phase (lib/Pipelines, docs/Design.md): lower, then
  // bufferize, then llvm; --compile-to may stop after any of them.
  CodegenOptions codegen;
  codegen.backend = gpu ? Backend::NVPTX : Backend::CPU;
  codegen.targetCpu = options.targetCpu;
  codegen.chip = options.sm;
  codegen.barePtrABI = true;
  auto runPhase = [&](Phase phase) {
    PassManager pm(ctx);
    addPhase(pm, phase, codegen);
    return pm.run(module);
  };
  if (failed(runPhase(Phase::Lower)))
    return failure();
  if (gpu) {
    // The PTX of the GPU kernels (docs/Compile.md), and the kernels the
    // host code launches.
    // lowbit-offload-to-gpu has moved it from the gpu.binary into a global.
    std::string ptx;
    if (auto global = module.lookupSymbol<LLVM::GlobalOp>(gpunames::kPtxSymbol))
      if (auto text = dyn_cast_or_null<StringAttr>(global.getValueOrNull()))
        ptx = text.getValue().rtrim('\0').str();
    if (options.stopAfter == CompilePhase::PTX) {
      if (ptx.empty())
        return module.emitError()
               << "no GPU kernel covers an op of this module (no PTX)";
      result.phaseText = std::move(ptx);
      return success();
    }
    module.walk([&](LaunchOp op) {
      std::string k = op.getKernel().getLeafReference().getValue().str();
      if (!llvm::is_contained(result.gpuKernels, k))
        result.gpuKernels.push_back(k);
    });
    if (result.gpuKernels.empty())
      return module.emitError()
             << "--target=nvptx: no GPU kernel covers an op of this module "
                "(docs/CodegenGPU.md lists the kernels; use --target=x86_64)";
    result.needsRuntime = true;
  }
  if (options.stopAfter == CompilePhase::Lowered) {
    result.phaseText = printOp(module);
    return success();
  }
  if (failed(runPhase(Phase::Bufferize)))
    return failure();
  if (options.stopAfter == CompilePhase::Bufferized) {
    result.phaseText = printOp(module);
    return success();
  }
  if (failed(runPhase(Phase::LLVM)))
    return failure();
  externalizeWeights(module, options, result);
  if (failed(addCEntryPoints(module, options, result)))
    return failure();
  if (failed(verify(module)))
    return failure();
  result.header = makeHeader(options, result);
  result.manifest = makeManifest(options, result);
  if (options.stopAfter == CompilePhase::LLVM) {
    result.phaseText = printOp(module);
    return success();
  }

  // LLVM IR, optimized, then assembly or the object (Emit.cpp).
  return emitObject(module, options, result);
}
