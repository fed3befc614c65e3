//===- Pipelines.h - lowbit pipelines and registration ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Registration of lowbit's dialects, passes and named pipelines, and the
// pipeline builders every tool uses (lowbit-opt, lowbit-compile, Python):
// code generation by phase (Phases.cpp), quantization (Quantization.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_PIPELINES_PIPELINES_H
#define LOWBIT_PIPELINES_PIPELINES_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"

#include <optional>
#include <string>

namespace mlir::lowbit {

/// The dialects lowbit's tools accept as input and produce.
void registerLowbitDialects(DialectRegistry &registry);

/// Registers every lowbit pass and the named pipelines below.
void registerLowbitPasses();

/// The code generation phases every pipeline is built from (docs/Design.md,
/// "Pipelines in phases"); quantization (a named pipeline) comes before,
/// lowbit-compile's object emission after.
enum class Phase {
  /// Weights packed for the target; lowbit ops to kernels (CPU, GPU) or to
  /// the reference lowering's linalg.
  Lower,
  /// One-shot bufferization, results to out-parameters (bare-pointer ABI),
  /// deallocation, kernels' loops on OpenMP threads.
  Bufferize,
  /// Everything to the LLVM dialect.
  LLVM,
};
/// "lower", "bufferize", "llvm"; nullopt for another name.
std::optional<Phase> parsePhase(StringRef name);
StringRef getPhaseName(Phase phase);
/// The phases' names as command-line values (`stop-after=`).
inline auto phaseValues() {
  return llvm::cl::values(
      clEnumValN(Phase::Lower, "lower", "after lowering lowbit ops"),
      clEnumValN(Phase::Bufferize, "bufferize", "after bufferization"),
      clEnumValN(Phase::LLVM, "llvm", "the LLVM dialect (all phases)"));
}

/// Where the code of the lower phase goes.
enum class Backend {
  /// The reference lowering (scalar loops): the numerics' definition.
  Reference,
  /// CPU vector kernels for what they cover, the reference for the rest.
  CPU,
  /// GPU kernels (PTX, launched from the host) for what they cover, then
  /// as CPU.
  NVPTX,
};

/// Typed options of the code generation phases.
struct CodegenOptions {
  Backend backend = Backend::CPU;
  /// CPU whose features the kernels may use (lowbit-lower-to-cpu).
  std::string targetCpu = "host";
  /// (NVPTX) the compute capability (lowbit-lower-to-gpu).
  std::string chip = "sm_80";
  /// Plain C entry points: tensor results become trailing output buffers,
  /// every buffer a bare pointer (static shapes only).
  bool barePtrABI = false;
};

/// The passes of one phase.
void addPhase(OpPassManager &pm, Phase phase, const CodegenOptions &options);
void addLowerPhase(OpPassManager &pm, const CodegenOptions &options);
void addBufferizePhase(OpPassManager &pm, const CodegenOptions &options);
void addLLVMPhase(OpPassManager &pm, const CodegenOptions &options);

/// The phases from `lower` through `stopAfter`.
void buildCodegenPipeline(OpPassManager &pm, const CodegenOptions &options,
                          Phase stopAfter = Phase::LLVM);

/// Options of `lowbit-reference-to-llvm`.
struct ReferenceToLLVMOptions
    : public PassPipelineOptions<ReferenceToLLVMOptions> {
  Option<Phase> stopAfter{*this, "stop-after",
                          llvm::cl::desc("Last code generation phase"),
                          llvm::cl::init(Phase::LLVM), phaseValues()};
};

/// Reference lowering: lowbit ops -> linalg on tensors
/// (`lowbit-lower-to-linalg`) -> buffers -> loops -> LLVM dialect, ready for
/// mlir-runner or translation to LLVM IR. Registered as
/// `lowbit-reference-to-llvm`.
void buildReferenceToLLVMPipeline(OpPassManager &pm,
                                  const ReferenceToLLVMOptions &options = {});

/// Options of `lowbit-cpu-to-llvm`.
struct CPUToLLVMOptions : public PassPipelineOptions<CPUToLLVMOptions> {
  Option<std::string> targetCpu{
      *this, "target-cpu",
      llvm::cl::desc("CPU whose features the kernels may use (see "
                     "lowbit-lower-to-cpu)"),
      llvm::cl::init("host")};
  Option<bool> barePtrABI{
      *this, "bare-ptr-abi",
      llvm::cl::desc(
          "Plain C entry points: tensor results become trailing output "
          "buffers, every buffer a bare pointer (static shapes only)"),
      llvm::cl::init(false)};
  Option<Phase> stopAfter{*this, "stop-after",
                          llvm::cl::desc("Last code generation phase"),
                          llvm::cl::init(Phase::LLVM), phaseValues()};
};

/// CPU code generation (docs/CodegenCPU.md): `lowbit-lower-to-cpu` (vector
/// kernels for the qmatmuls it covers, the reference lowering for the rest),
/// then the same path to the LLVM dialect. Registered as
/// `lowbit-cpu-to-llvm`.
void buildCPUToLLVMPipeline(OpPassManager &pm, const CPUToLLVMOptions &options);

/// lowbit-gpu-to-ptx: inside every gpu.module, scf -> cf, gpu -> NVVM with
/// bare-pointer kernel parameters, then gpu-module-to-binary{format=isa}
/// (PTX text objects).
void buildGPUToPTXPipeline(OpPassManager &pm);

/// Options of the quantization pipelines (docs/Passes.md, "Pipelines").
struct QuantPipelineOptions : public PassPipelineOptions<QuantPipelineOptions> {
  Option<std::string> calibration{
      *this, "calibration",
      llvm::cl::desc("Statistics directory of lowbit-calibrate")};
  Option<double> alpha{*this, "alpha",
                       llvm::cl::desc("SmoothQuant migration strength"),
                       llvm::cl::init(0.5)};
  Option<int64_t> group{*this, "group",
                        llvm::cl::desc("Group size along the input channels"),
                        llvm::cl::init(128)};
  Option<bool> actOrder{*this, "act-order",
                        llvm::cl::desc("GPTQ: act-order with static groups"),
                        llvm::cl::init(false)};
};

/// The named quantization pipelines; each ends with quantized constants and
/// `lowbit.qmatmul`, ready for the reference lowering or code generation:
/// - w8a8-smoothquant: SmoothQuant, then int8 per-channel weights and int8
///   per-token activations;
/// - w4a16-gptq: GPTQ int4 weights in groups, f32 activations;
/// - w4a8: int4 grouped weights (RTN), int8 per-token activations;
/// - mxfp4: OCP MXFP4 weights;
/// - fp8: E4M3 per-channel weights and per-tensor activations.
void buildW8A8SmoothQuantPipeline(OpPassManager &pm,
                                  const QuantPipelineOptions &options);
void buildW4A16GPTQPipeline(OpPassManager &pm,
                            const QuantPipelineOptions &options);
void buildW4A8Pipeline(OpPassManager &pm, const QuantPipelineOptions &options);
void buildMXFP4Pipeline(OpPassManager &pm, const QuantPipelineOptions &options);
void buildFP8Pipeline(OpPassManager &pm, const QuantPipelineOptions &options);

} // namespace mlir::lowbit

#endif // LOWBIT_PIPELINES_PIPELINES_H
