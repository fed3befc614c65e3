//===- MmaBWeights.cpp - which weights the 4-bit mma kernels read ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-mma kernels read their weights as mma-b tiles
// (numerics::packInt4MmaB, docs/CodegenGPU.md): lowbit-pack-weights packs
// the constant weights of the ops lowbit-lower-to-gpu gave such a kernel,
// and lowbit-offload-to-gpu hands the packed codes to the launch.
//
//===----------------------------------------------------------------------===//

#include "Registry.h"

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Conversion/WeightLayouts.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

bool mlir::lowbit::hasGPUKernel(Operation *op) {
  return op->hasAttr(gpunames::kKernelAttr);
}

WeightLayoutChooser mlir::lowbit::getNVPTXWeightLayouts() {
  return [](QMatmulOp op) -> std::optional<CodesLayout> {
    auto kernel = op->getAttrOfType<SymbolRefAttr>(gpunames::kKernelAttr);
    if (!kernel)
      return std::nullopt;
    KernelOperands operands =
        getKernelOperands(kernel.getLeafReference().getValue());
    if (operands == KernelOperands::MmaBWeights ||
        operands == KernelOperands::MmaBWeightsAndTensorScale)
      return CodesLayout::MmaB;
    return std::nullopt;
  };
}
