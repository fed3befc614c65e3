//===- Quantization.cpp - the named quantization pipelines ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The quantization pipelines of docs/Passes.md ("Pipelines"): each ends
// with quantized constants and lowbit.qmatmul, ready for code generation.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Pipelines/Pipelines.h"

#include "lowbit/Transforms/OperandScheme.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

namespace {
using Axis = mlir::lowbit::SchemeAxis;
using Scheme = mlir::lowbit::OperandScheme;
namespace nx = ::lowbit::numerics;

/// Signed integers of `bits` bits, symmetric, in groups of `group` along
/// the reduction axis.
Scheme intGroups(unsigned bits, int64_t group) {
  return Scheme::perGroup(Scheme::intElement(bits), Axis::in(), group);
}

/// Signed 8-bit integers, one scale per output channel (weights) or per
/// token (activations).
Scheme int8PerChannel() {
  return Scheme::perAxis(Scheme::intElement(8), Axis::out());
}

void addQuantizeMatmuls(OpPassManager &pm, const Scheme &weights,
                        const Scheme &activations) {
  pm.addNestedPass<func::FuncOp>(
      mlir::lowbit::createLowbitQuantizeMatmuls(weights, activations));
  pm.addPass(mlir::lowbit::createLowbitFoldConstantQuantize());
}

void addQuantizeWeights(
    OpPassManager &pm, const Scheme &scheme, std::string method = "rtn",
    const mlir::lowbit::QuantPipelineOptions *options = nullptr) {
  mlir::lowbit::LowbitQuantizeWeightsOptions o;
  o.method = std::move(method);
  if (options) {
    o.calibration = options->calibration;
    o.actOrder = options->actOrder;
    o.staticGroups = options->actOrder;
  }
  pm.addPass(mlir::lowbit::createLowbitQuantizeWeights(scheme, o));
  pm.addNestedPass<func::FuncOp>(mlir::lowbit::createLowbitFuseDequantMatmul());
}
} // namespace

void mlir::lowbit::buildW8A8SmoothQuantPipeline(
    OpPassManager &pm, const QuantPipelineOptions &options) {
  LowbitSmoothActivationsOptions sq;
  sq.alpha = options.alpha;
  sq.calibration = options.calibration;
  pm.addPass(createLowbitSmoothActivations(sq));
  addQuantizeMatmuls(pm, int8PerChannel(), int8PerChannel());
}

void mlir::lowbit::buildW4A16GPTQPipeline(OpPassManager &pm,
                                          const QuantPipelineOptions &options) {
  addQuantizeWeights(pm, intGroups(4, options.group), "gptq", &options);
}

void mlir::lowbit::buildW4A8Pipeline(OpPassManager &pm,
                                     const QuantPipelineOptions &options) {
  addQuantizeMatmuls(pm, intGroups(4, options.group), int8PerChannel());
}

void mlir::lowbit::buildMXFP4Pipeline(OpPassManager &pm,
                                      const QuantPipelineOptions &) {
  nx::Scheme fp4 = Scheme::floatElement(nx::ElementType::F4E2M1FN);
  fp4.scale = nx::ScaleType::E8M0;
  addQuantizeWeights(pm, Scheme::perGroup(fp4, Axis::in(), 32));
}

void mlir::lowbit::buildFP8Pipeline(OpPassManager &pm,
                                    const QuantPipelineOptions &) {
  nx::Scheme fp8 = Scheme::floatElement(nx::ElementType::F8E4M3FN);
  addQuantizeMatmuls(pm, Scheme::perAxis(fp8, Axis::out()),
                     Scheme::perTensor(fp8));
}
