//===- Registration.cpp - dialects, passes, pipelines ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// One place that registers lowbit's dialects, passes and named pipelines
// for every tool (lowbit-opt, lowbit-compile, the Python package).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Pipelines/Pipelines.h"

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
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
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/Extensions/AllExtensions.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#include <mutex>

using namespace mlir;

void lowbit::registerLowbitDialects(DialectRegistry &registry) {
  registry
      .insert<LowbitDialect, func::FuncDialect, arith::ArithDialect,
              linalg::LinalgDialect, tensor::TensorDialect, math::MathDialect,
              quant::QuantDialect, memref::MemRefDialect, scf::SCFDialect,
              affine::AffineDialect, bufferization::BufferizationDialect,
              cf::ControlFlowDialect, vector::VectorDialect, LLVM::LLVMDialect,
              omp::OpenMPDialect>();
  func::registerAllExtensions(registry);
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  arith::registerBufferDeallocationOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  memref::registerAllocationOpInterfaceExternalModels(registry);
  registerConvertMemRefToLLVMInterface(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  // GPU code generation (docs/CodegenGPU.md): kernels in gpu.module with
  // an NVVM target, serialized to PTX by LLVM's NVPTX backend.
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, nvgpu::NVGPUDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  vector::registerConvertVectorToLLVMInterface(registry);
}

namespace mlir::lowbit {
static void registerLowbitPassesOnce();
} // namespace mlir::lowbit

void lowbit::registerLowbitPasses() {
  // Idempotent: lowbit-opt, lowbit-compile's library and the Python
  // package may each ask, in one process.
  static std::once_flag once;
  std::call_once(once, registerLowbitPassesOnce);
}

void lowbit::registerLowbitPassesOnce() {
  registerLowbitConversionPasses();
  registerLowbitTransformsPasses();
  PassPipelineRegistration<ReferenceToLLVMOptions>(
      "lowbit-reference-to-llvm",
      "Reference lowering of lowbit ops down to the LLVM dialect (CPU, "
      "scalar loops), for mlir-runner; stop-after=lower|bufferize|llvm",
      buildReferenceToLLVMPipeline);
  PassPipelineRegistration<>(
      "lowbit-gpu-to-ptx",
      "The kernels of lowbit-lower-to-gpu to PTX: gpu.module -> NVVM (bare "
      "pointers) -> gpu.binary holding the NVPTX backend's PTX",
      [](OpPassManager &pm) { buildGPUToPTXPipeline(pm); });
  PassPipelineRegistration<CPUToLLVMOptions>(
      "lowbit-cpu-to-llvm",
      "CPU code generation down to the LLVM dialect: vector kernels for the "
      "quantized matmuls they cover (lowbit-lower-to-cpu), the reference "
      "lowering for every other op; stop-after=lower|bufferize|llvm",
      buildCPUToLLVMPipeline);
  PassPipelineRegistration<QuantPipelineOptions>(
      "lowbit-w8a8-smoothquant",
      "SmoothQuant (calibration=DIR, alpha), then int8 per-channel weights "
      "and int8 per-token activations",
      buildW8A8SmoothQuantPipeline);
  PassPipelineRegistration<QuantPipelineOptions>(
      "lowbit-w4a16-gptq",
      "GPTQ int4 weights in groups of `group` (calibration=DIR with Gram "
      "matrices), float activations",
      buildW4A16GPTQPipeline);
  PassPipelineRegistration<QuantPipelineOptions>(
      "lowbit-w4a8",
      "int4 weights in groups of `group`, int8 per-token activations",
      buildW4A8Pipeline);
  PassPipelineRegistration<QuantPipelineOptions>(
      "lowbit-mxfp4", "OCP MXFP4 weights (E2M1, E8M0 scales per 32 inputs)",
      buildMXFP4Pipeline);
  PassPipelineRegistration<QuantPipelineOptions>(
      "lowbit-fp8", "FP8 E4M3 per-channel weights and per-tensor activations",
      buildFP8Pipeline);
}
