//===- Pipelines.cpp - lowbit pipelines and registration ----------*- C++
//-*-===//

#include "lowbit/Pipelines/Pipelines.h"

#include <mutex>

#include "lowbit/Conversion/Passes.h"
#include "lowbit/LowbitDialect.h"
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

/// From lowbit-free tensor IR to the LLVM dialect.
static void buildTensorsToLLVM(OpPassManager &pm, bool barePtrABI,
                               bool openMP = false) {
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCSEPass());
  bufferization::OneShotBufferizePassOptions bufOpts;
  bufOpts.bufferizeFunctionBoundaries = true;
  bufOpts.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufOpts));
  // Kernels write their destination argument in place: once the loops that
  // carry it fold away, the result equal to it is dropped.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  if (barePtrABI) {
    // Arguments updated in place and returned (a KV cache) stop being
    // results; the other results become caller-provided buffers, written
    // in place.
    pm.addPass(lowbit::createLowbitTieInplaceResults());
    bufferization::BufferResultsToOutParamsPassOptions outOpts;
    outOpts.hoistStaticAllocs = true;
    outOpts.modifyPublicFunctions = true;
    pm.addPass(bufferization::createBufferResultsToOutParamsPass(outOpts));
  }
  bufferization::BufferDeallocationPipelineOptions deallocOpts;
  if (openMP) // the kernels' scf.forall over output channels
    pm.addPass(createForallToParallelLoopPass());
  bufferization::buildBufferDeallocationPipeline(pm, deallocOpts);
  if (openMP) {
    pm.addPass(createConvertSCFToOpenMPPass());
    // Inlines the memref.alloca_scope it wraps loop bodies in (they hold no
    // allocas), which scf-to-cf could not split into blocks.
    pm.addPass(createCanonicalizerPass());
  }
  pm.addPass(lowbit::createLowbitExpandIntrinsicCalls());
  // GPU launches of the nvptx target become runtime calls (after buffer
  // deallocation, which does not know llvm.call).
  pm.addPass(lowbit::createLowbitLowerLaunches());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
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
  funcOpts.useBarePtrCallConv = barePtrABI;
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

void lowbit::buildReferenceToLLVMPipeline(OpPassManager &pm) {
  pm.addPass(lowbit::createLowbitLowerToLinalg());
  buildTensorsToLLVM(pm, /*barePtrABI=*/false);
}

void lowbit::buildCPUToLLVMPipeline(OpPassManager &pm,
                                    const CPUToLLVMOptions &options) {
  pm.addPass(lowbit::createLowbitPackWeights());
  lowbit::LowbitLowerToCPUOptions cpuOpts;
  cpuOpts.targetCpu = options.targetCpu;
  pm.addPass(lowbit::createLowbitLowerToCPU(cpuOpts));
  buildTensorsToLLVM(pm, options.barePtrABI, /*openMP=*/true);
}

namespace {
std::string groupScheme(const char *element, int64_t group,
                        const char *extra = "") {
  return std::string(element) + ", per_group<[in : " + std::to_string(group) +
         "]>" + extra;
}

void addQuantizeMatmuls(OpPassManager &pm, std::string weights,
                        std::string activations) {
  lowbit::LowbitQuantizeMatmulsOptions o;
  o.weightScheme = std::move(weights);
  o.activationScheme = std::move(activations);
  pm.addNestedPass<func::FuncOp>(lowbit::createLowbitQuantizeMatmuls(o));
  pm.addPass(lowbit::createLowbitFoldConstantQuantize());
}

void addQuantizeWeights(OpPassManager &pm, std::string scheme,
                        std::string method = "rtn",
                        const lowbit::QuantPipelineOptions *options = nullptr) {
  lowbit::LowbitQuantizeWeightsOptions o;
  o.scheme = std::move(scheme);
  o.method = std::move(method);
  if (options) {
    o.calibration = options->calibration;
    o.actOrder = options->actOrder;
    o.staticGroups = options->actOrder;
  }
  pm.addPass(lowbit::createLowbitQuantizeWeights(o));
  pm.addNestedPass<func::FuncOp>(lowbit::createLowbitFuseDequantMatmul());
}
} // namespace

void lowbit::buildW8A8SmoothQuantPipeline(OpPassManager &pm,
                                          const QuantPipelineOptions &options) {
  LowbitSmoothQuantOptions sq;
  sq.alpha = options.alpha;
  sq.calibration = options.calibration;
  pm.addPass(createLowbitSmoothQuant(sq));
  addQuantizeMatmuls(pm, "i8, per_axis<out>", "i8, per_axis<out>");
}

void lowbit::buildW4A16GPTQPipeline(OpPassManager &pm,
                                    const QuantPipelineOptions &options) {
  addQuantizeWeights(pm, groupScheme("i4", options.group), "gptq", &options);
}

void lowbit::buildW4A8Pipeline(OpPassManager &pm,
                               const QuantPipelineOptions &options) {
  addQuantizeMatmuls(pm, groupScheme("i4", options.group), "i8, per_axis<out>");
}

void lowbit::buildMXFP4Pipeline(OpPassManager &pm,
                                const QuantPipelineOptions &) {
  addQuantizeWeights(pm, groupScheme("f4E2M1FN", 32, ", scale = f8E8M0FNU"));
}

void lowbit::buildFP8Pipeline(OpPassManager &pm, const QuantPipelineOptions &) {
  addQuantizeMatmuls(pm, "f8E4M3FN, per_axis<out>", "f8E4M3FN, per_tensor");
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
  PassPipelineRegistration<>(
      "lowbit-reference-to-llvm",
      "Reference lowering of lowbit ops down to the LLVM dialect (CPU, "
      "scalar loops), for mlir-runner",
      [](OpPassManager &pm) { buildReferenceToLLVMPipeline(pm); });
  PassPipelineRegistration<>(
      "lowbit-gpu-to-ptx",
      "The kernels of lowbit-gpu-kernels to PTX: gpu.module -> NVVM (bare "
      "pointers) -> gpu.binary holding the NVPTX backend's PTX",
      [](OpPassManager &pm) { buildGPUToPTXPipeline(pm); });
  PassPipelineRegistration<CPUToLLVMOptions>(
      "lowbit-cpu-to-llvm",
      "CPU code generation down to the LLVM dialect: vector kernels for the "
      "quantized matmuls they cover (lowbit-lower-to-cpu), the reference "
      "lowering for every other op",
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
