//===- PanelWeights.cpp - W8A8 weights in int8 panels ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The W8A8 panel kernel reads int8 panels of 16 channels x 4 inputs: from
// constants that lowbit-pack-weights packed (`layout = int8_panels`, the
// choice getCPUWeightLayouts makes for it) or from function arguments
// marked `lowbit.packed` (docs/CodegenCPU.md). Nothing is packed here.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Problem.h"

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Conversion/WeightLayouts.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

static constexpr StringLiteral kPackedArgAttr =
    LowbitDialect::PackedAttrHelper::getNameStr();

FailureOr<WeightLayoutChooser>
mlir::lowbit::getCPUWeightLayouts(StringRef targetCpu, std::string &error) {
  FailureOr<CpuTarget> target = CpuTarget::get(targetCpu, error);
  if (failed(target))
    return failure();
  return WeightLayoutChooser(
      [target = *target](QMatmulOp op) -> std::optional<CodesLayout> {
        if (describeInt8Matmul(op, target))
          return CodesLayout::Int8Panels;
        return std::nullopt;
      });
}

/// Arguments marked lowbit.packed: only W8A8 qmatmuls that the panel
/// kernel takes may read them, with whole panels.
static LogicalResult collectPackedArguments(func::FuncOp fn,
                                            const CpuTarget &target,
                                            PanelWeights &panels) {
  if (fn.isExternal())
    return success();
  for (BlockArgument arg : fn.getArguments()) {
    if (!fn.getArgAttr(arg.getArgNumber(), kPackedArgAttr))
      continue;
    for (Operation *user : arg.getUsers()) {
      auto mm = dyn_cast<QMatmulOp>(user);
      std::optional<KernelProblem> p;
      if (mm && mm.getRhs() == arg)
        p = describeInt8Matmul(mm, target);
      if (!p)
        return user->emitError("weights marked ")
               << kPackedArgAttr << " (argument " << arg.getArgNumber()
               << ") must be the weights of W8A8 qmatmuls with transpose_b "
                  "that the int8 panel kernel takes: only it reads that "
                  "layout (docs/CodegenCPU.md)";
      if (p->n % 16 || p->k % 4)
        return user->emitError("weights marked ")
               << kPackedArgAttr << " need N % 16 == 0 and K % 4 == 0 (the "
               << "panels' bytes travel in the [N, K] codes part), got N = "
               << p->n << ", K = " << p->k;
      panels.matmuls[mm] = {};
    }
  }
  return success();
}

/// Constants with a layout: only the panel kernel reads one (int8 panels);
/// their parts become arith.constants right after them.
static LogicalResult collectPackedConstants(func::FuncOp fn,
                                            const CpuTarget &target,
                                            PanelWeights &panels) {
  SmallVector<ConstantOp> constants;
  fn.walk([&](ConstantOp c) {
    if (c.getLayout())
      constants.push_back(c);
  });
  for (ConstantOp c : constants) {
    if (c->use_empty()) {
      c->erase();
      continue;
    }
    CodesLayout layout = *c.getLayout();
    if (layout != CodesLayout::Int8Panels)
      return c.emitOpError("has layout ")
             << stringifyCodesLayout(layout)
             << ", which no CPU kernel reads (the GPU's 4-bit mma kernels "
                "take it through lowbit-offload-to-gpu)";
    for (Operation *user : c->getUsers()) {
      auto mm = dyn_cast<QMatmulOp>(user);
      if (!mm || mm.getRhs() != c.getResult() ||
          !describeInt8Matmul(mm, target))
        return user->emitError("weights in layout int8_panels must be the "
                               "weights of W8A8 qmatmuls with transpose_b "
                               "that the int8 panel kernel takes on this "
                               "target: only it reads that layout "
                               "(docs/CodegenCPU.md)");
    }
    OpBuilder b(c->getContext());
    b.setInsertionPointAfter(c);
    SmallVector<Value> parts = createConstantParts(b, c);
    for (Operation *user : c->getUsers())
      panels.matmuls[user] = parts;
    panels.constants[c] = std::move(parts);
  }
  return success();
}

LogicalResult cpu::collectPanelWeights(ModuleOp module, const CpuTarget &target,
                                       PanelWeights &panels) {
  WalkResult r = module.walk([&](func::FuncOp fn) {
    if (failed(collectPackedArguments(fn, target, panels)) ||
        failed(collectPackedConstants(fn, target, panels)))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}
