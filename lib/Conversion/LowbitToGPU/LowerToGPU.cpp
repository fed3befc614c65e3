//===- LowerToGPU.cpp - lowbit-lower-to-gpu -------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// GPU code generation, first step (docs/CodegenGPU.md): every qmatmul and
// quantize whose problem a kernel family (Registry.h) computes on the chip
// gets a gpu.func kernel in `gpu.module @lowbit_gpu` (NVVM target), and
// the op records how to launch it (lowbit.gpu_kernel, .launch, .params).
//
//===----------------------------------------------------------------------===//

#include "Registry.h"
#include "Steps.h"

#include "lowbit/Conversion/Passes.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERTOGPU
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

namespace {

/// What a covered op gets: its problem, the family that computes it and
/// how.
struct Plan {
  Operation *op;
  KernelProblem problem;
  const KernelFamily *family;
  KernelConfig config;
};

struct LowbitLowerToGPUPass
    : mlir::lowbit::impl::LowbitLowerToGPUBase<LowbitLowerToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    std::string error;
    FailureOr<GpuTarget> target = GpuTarget::get(chip, error);
    if (failed(target)) {
      module.emitError() << "lowbit-lower-to-gpu: " << error;
      return signalPassFailure();
    }
    SmallVector<Plan, 0> plans;
    auto plan = [&](Operation *op, std::optional<KernelProblem> p) {
      if (!p)
        return;
      if (const KernelFamily *family = findKernelFamily(*p))
        plans.push_back(Plan{op, *p, family, family->configure(ctx, *p)});
    };
    // Quantizations first: the kernels' order in the gpu.module.
    module.walk(
        [&](QuantizeOp op) { plan(op, describeQuantize(op, *target)); });
    module.walk([&](QMatmulOp op) { plan(op, describeQMatmul(op, *target)); });
    if (plans.empty())
      return;

    ImplicitLocOpBuilder b(module.getLoc(), ctx);
    auto gpuModule =
        module.lookupSymbol<gpu::GPUModuleOp>(gpunames::kModuleName);
    if (!gpuModule) {
      b.setInsertionPointToEnd(module.getBody());
      // PTX ISA 8.0 (what sm_90a needs; CUDA 12.0 drivers JIT it); 8.4
      // only when a kernel needs it (mma.sync on FP8 operands, CUDA 12.4
      // drivers).
      bool ptx84 = llvm::any_of(
          plans, [](const Plan &pl) { return pl.config.needsPtx84; });
      auto nvvmTarget =
          NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda",
                                    chip, ptx84 ? "+ptx84" : "+ptx80");
      gpuModule = gpu::GPUModuleOp::create(b, gpunames::kModuleName,
                                           ArrayRef<Attribute>{nvvmTarget});
    }
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    for (Plan &pl : plans) {
      gpu::GPUFuncOp fn = getOrCreateKernel(
          b, gpuModule, *pl.family, pl.problem, pl.config, pl.op->getLoc());
      SmallVector<Attribute> params;
      for (Type t : fn.getFunctionType().getInputs())
        params.push_back(TypeAttr::get(t));
      const KernelConfig &c = pl.config;
      pl.op->setAttr(gpunames::kParamsAttr, b.getArrayAttr(params));
      pl.op->setAttr(
          gpunames::kKernelAttr,
          SymbolRefAttr::get(ctx, gpunames::kModuleName,
                             {FlatSymbolRefAttr::get(ctx, fn.getName())}));
      pl.op->setAttr(
          gpunames::kLaunchAttr,
          b.getDenseI64ArrayAttr({c.grid[0], c.grid[1], c.grid[2], c.block[0],
                                  c.block[1], c.block[2], 0}));
    }
    replaceRoundingByPTX(gpuModule);
  }
};

} // namespace
