//===- Quantization.cpp - the named quantization pipelines ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The quantization pipelines of docs/Passes.md ("Pipelines"): each ends
// with quantized constants and lowbit.qmatmul, ready for code generation.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Pipelines/Pipelines.h"

#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;

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
