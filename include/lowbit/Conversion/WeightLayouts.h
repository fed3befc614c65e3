//===- WeightLayouts.h - which weights the kernels read packed --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What each backend tells lowbit-pack-weights (docs/Design.md, "Contracts
// between passes"): for a qmatmul with constant weights, the layout its
// kernel reads them in. The backends know their kernels; the pass packs
// (lib/Conversion/PackWeights), the kernels match on the recorded layout.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_WEIGHTLAYOUTS_H
#define LOWBIT_CONVERSION_WEIGHTLAYOUTS_H

#include "lowbit/Dialect/LowbitDialect.h"

#include <functional>
#include <optional>
#include <string>

namespace mlir::lowbit {

/// The layout in which the kernel of a qmatmul (transpose_b, constant
/// weights) reads its weights' codes; nullopt: the run-time layout.
using WeightLayoutChooser =
    std::function<std::optional<CodesLayout>(QMatmulOp)>;

/// lowbit-lower-to-cpu's kernels on `targetCpu` (LowbitToCPU/
/// PanelWeights.cpp): int8 panels for the W8A8 qmatmuls that the int8
/// panel kernel takes. Fails, with `error` set, for an unknown CPU.
FailureOr<WeightLayoutChooser> getCPUWeightLayouts(StringRef targetCpu,
                                                   std::string &error);

/// The kernels lowbit-lower-to-gpu chose (LowbitToGPU/MmaBWeights.cpp):
/// mma-b tiles for the ops it gave a 4-bit mma kernel. Ops it did not
/// annotate are not its to answer for (nullopt).
WeightLayoutChooser getNVPTXWeightLayouts();

/// Whether lowbit-lower-to-gpu gave `op` a kernel (the host does not run
/// it).
bool hasGPUKernel(Operation *op);

} // namespace mlir::lowbit

#endif // LOWBIT_CONVERSION_WEIGHTLAYOUTS_H
