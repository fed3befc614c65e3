//===- PanelWeights.cpp - W8A8 weights in int8 panels ---------------------===//
//
// Constant int8 weights of the W8A8 kernels are packed into panels of 16
// channels x 4 inputs at compile time; function arguments marked
// `lowbit.packed` arrive packed (docs/CodegenCPU.md).
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Problem.h"

#include "lowbit/Numerics/Numerics.h"
#include "lowbit/Transforms/NumericsBridge.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

static constexpr StringLiteral kPackedArgAttr =
    LowbitDialect::PackedAttrHelper::getNameStr();

LogicalResult cpu::collectPanelWeights(ModuleOp module, const CpuTarget &target,
                                       PanelWeights &panels) {
  namespace nx = ::lowbit::numerics;
  WalkResult r = module.walk([&](func::FuncOp fn) {
    for (BlockArgument arg : fn.getArguments()) {
      if (!fn.getArgAttr(arg.getArgNumber(), kPackedArgAttr))
        continue;
      if (fn.isExternal())
        continue;
      for (Operation *user : arg.getUsers()) {
        auto mm = dyn_cast<QMatmulOp>(user);
        std::optional<KernelProblem> p;
        if (mm && mm.getRhs() == arg)
          p = describeInt8Matmul(mm, target);
        if (!p) {
          user->emitError("weights marked ")
              << kPackedArgAttr << " (argument " << arg.getArgNumber()
              << ") must be the weights of W8A8 qmatmuls with transpose_b "
                 "that the int8 panel kernel takes: only it reads that "
                 "layout (docs/CodegenCPU.md)";
          return WalkResult::interrupt();
        }
        if (p->n % 16 || p->k % 4) {
          user->emitError("weights marked ")
              << kPackedArgAttr << " need N % 16 == 0 and K % 4 == 0 (the "
              << "panels' bytes travel in the [N, K] codes part), got N = "
              << p->n << ", K = " << p->k;
          return WalkResult::interrupt();
        }
        panels[mm] = Value();
      }
    }
    // One packed copy per constant, placed right after it (it dominates
    // every use).
    DenseMap<Operation *, Value> packedOf;
    WalkResult inner = fn.walk([&](QMatmulOp mm) {
      auto c = mm.getRhs().getDefiningOp<ConstantOp>();
      std::optional<KernelProblem> p;
      if (c)
        p = describeInt8Matmul(mm, target);
      if (!p)
        return WalkResult::advance();
      Value &packed = packedOf[c];
      if (!packed) {
        FailureOr<nx::QTensor> q = readQuantizedConstant(
            c, [&] { return c.emitOpError("packing int8 panels: "); });
        if (failed(q))
          return WalkResult::interrupt();
        std::vector<uint8_t> bytes;
        nx::Status st = nx::packInt8Panels(*q, bytes);
        if (!st.ok()) {
          c.emitOpError("packing int8 panels: ") << st.message();
          return WalkResult::interrupt();
        }
        packed = createBytesConstantAfter(
            c,
            RankedTensorType::get({(p->n + 15) / 16, (p->k + 3) / 4, 64},
                                  IntegerType::get(c.getContext(), 8)),
            bytes, "panels");
      }
      panels[mm] = packed;
      return WalkResult::advance();
    });
    if (inner.wasInterrupted())
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}
