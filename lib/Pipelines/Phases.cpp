//===- Phases.cpp - code generation by phase ------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The code generation phases of docs/Design.md ("Pipelines in phases"):
// lower (weights packed for the target, lowbit ops to kernels or the
// reference lowering), bufferize, llvm. Every tool builds its pipeline here,
// so that any of them can stop after any phase.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Pipelines/Pipelines.h"

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

std::optional<Phase> lowbit::parsePhase(StringRef name) {
  return llvm::StringSwitch<std::optional<Phase>>(name)
      .Case("lower", Phase::Lower)
      .Case("bufferize", Phase::Bufferize)
      .Case("llvm", Phase::LLVM)
      .Default(std::nullopt);
}

StringRef lowbit::getPhaseName(Phase phase) {
  switch (phase) {
  case Phase::Lower:
    return "lower";
  case Phase::Bufferize:
    return "bufferize";
  case Phase::LLVM:
    return "llvm";
  }
  llvm_unreachable("unknown phase");
}

void lowbit::buildGPUToPTXPipeline(OpPassManager &pm) {
  OpPassManager &k = pm.nest<gpu::GPUModuleOp>();
  k.addPass(createSCFToControlFlowPass());
  k.addPass(createConvertNVGPUToNVVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.useBarePtrCallConv = true; // kernels take plain device pointers
  k.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  k.addPass(createCanonicalizerPass());
  k.addPass(createCSEPass());
  k.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions bin;
  bin.compilationTarget = "isa"; // PTX text, no CUDA toolkit needed
  pm.addPass(createGpuModuleToBinaryPass(bin));
}

void lowbit::addLowerPhase(OpPassManager &pm, const CodegenOptions &options) {
  if (options.backend == Backend::Reference) {
    pm.addPass(createLowbitLowerToLinalg());
    return;
  }
  // Constant weights in the layouts the kernels read (lowbit-pack-weights,
  // docs/CodegenCPU.md, docs/CodegenGPU.md).
  LowbitPackWeightsOptions pack;
  pack.targetCpu = options.targetCpu;
  if (options.backend == Backend::NVPTX) {
    // GPU kernels for what they cover, chosen on [N, K] weights; then the
    // weights packed for the kernels chosen (mma-b tiles, the host's int8
    // panels), their PTX, and lowbit.launch ops in the host code
    // (docs/Compile.md); the rest as on the CPU.
    LowbitPackWeightsOptions transpose;
    transpose.kernelLayouts = false;
    pm.addPass(createLowbitPackWeights(transpose));
    LowbitLowerToGPUOptions kernels;
    kernels.chip = options.chip;
    pm.addPass(createLowbitLowerToGPU(kernels));
    pack.target = PackTarget::NVPTX;
    pack.chip = options.chip;
    pm.addPass(createLowbitPackWeights(pack));
    buildGPUToPTXPipeline(pm);
    pm.addPass(createLowbitOffloadToGPU());
  } else {
    pm.addPass(createLowbitPackWeights(pack));
  }
  LowbitLowerToCPUOptions cpu;
  cpu.targetCpu = options.targetCpu;
  pm.addPass(createLowbitLowerToCPU(cpu));
}

/// Whether the lowered code has kernels whose scf.forall loops run on
/// OpenMP threads.
static bool usesThreads(const CodegenOptions &options) {
  return options.backend != Backend::Reference;
}

void lowbit::addBufferizePhase(OpPassManager &pm,
                               const CodegenOptions &options) {
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCSEPass());
  // A prefill step's row-wise ops (norms, RoPE, activations) on threads.
  if (usesThreads(options))
    pm.addNestedPass<func::FuncOp>(createLowbitParallelizeRows());
  bufferization::OneShotBufferizePassOptions bufOpts;
  bufOpts.bufferizeFunctionBoundaries = true;
  bufOpts.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufOpts));
  // Kernels write their destination argument in place: once the loops that
  // carry it fold away, the result equal to it is dropped.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  if (options.barePtrABI) {
    // Arguments updated in place and returned (a KV cache) stop being
    // results; the other results become caller-provided buffers, written
    // in place.
    pm.addPass(createLowbitTieInplaceResults());
    bufferization::BufferResultsToOutParamsPassOptions outOpts;
    outOpts.hoistStaticAllocs = true;
    outOpts.modifyPublicFunctions = true;
    pm.addPass(bufferization::createBufferResultsToOutParamsPass(outOpts));
  }
  bool openMP = usesThreads(options);
  bufferization::BufferDeallocationPipelineOptions deallocOpts;
  if (openMP) // the kernels' scf.forall over output channels
    pm.addPass(createForallToParallelLoopPass());
  bufferization::buildBufferDeallocationPipeline(pm, deallocOpts);
  // Temporaries freed after their last use rather than at the end of the
  // function (a prefill step's peak memory).
  pm.addNestedPass<func::FuncOp>(createLowbitFreeAfterLastUse());
  if (openMP) {
    pm.addPass(createConvertSCFToOpenMPPass());
    // Inlines the memref.alloca_scope it wraps loop bodies in (they hold no
    // allocas), which scf-to-cf could not split into blocks.
    pm.addPass(createCanonicalizerPass());
  }
}

void lowbit::addLLVMPhase(OpPassManager &pm, const CodegenOptions &options) {
  bool openMP = usesThreads(options);
  pm.addPass(createLowbitExpandIntrinsicCalls());
  // GPU launches of the nvptx target become runtime calls (after buffer
  // deallocation, which does not know llvm.call).
  pm.addPass(createLowbitLowerLaunches());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  // exp as arithmetic that vectorizes, not a libm call per element (the
  // reference lowering keeps math.exp).
  if (options.backend != Backend::Reference)
    pm.addPass(createLowbitApproximateExp());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  ConvertFuncToLLVMPassOptions funcOpts;
  funcOpts.useBarePtrCallConv = options.barePtrABI;
  pm.addPass(createConvertFuncToLLVMPass(funcOpts));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  // After func-to-llvm: this pass also converts functions, with the default
  // (descriptor) calling convention.
  if (openMP)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void lowbit::addPhase(OpPassManager &pm, Phase phase,
                      const CodegenOptions &options) {
  switch (phase) {
  case Phase::Lower:
    return addLowerPhase(pm, options);
  case Phase::Bufferize:
    return addBufferizePhase(pm, options);
  case Phase::LLVM:
    return addLLVMPhase(pm, options);
  }
}

void lowbit::buildCodegenPipeline(OpPassManager &pm,
                                  const CodegenOptions &options,
                                  Phase stopAfter) {
  for (Phase phase : {Phase::Lower, Phase::Bufferize, Phase::LLVM}) {
    addPhase(pm, phase, options);
    if (phase == stopAfter)
      return;
  }
}

void lowbit::buildReferenceToLLVMPipeline(
    OpPassManager &pm, const ReferenceToLLVMOptions &options) {
  CodegenOptions codegen;
  codegen.backend = Backend::Reference;
  buildCodegenPipeline(pm, codegen, options.stopAfter);
}

void lowbit::buildCPUToLLVMPipeline(OpPassManager &pm,
                                    const CPUToLLVMOptions &options) {
  CodegenOptions codegen;
  codegen.backend = Backend::CPU;
  codegen.targetCpu = options.targetCpu;
  codegen.barePtrABI = options.barePtrABI;
  buildCodegenPipeline(pm, codegen, options.stopAfter);
}
