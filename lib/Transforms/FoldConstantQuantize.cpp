//===- FoldConstantQuantize.cpp - lowbit.quantize(constant) -> constant ---===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/IR/Matchers.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFOLDCONSTANTQUANTIZE
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

struct LowbitFoldConstantQuantizePass
    : mlir::lowbit::impl::LowbitFoldConstantQuantizeBase<
          LowbitFoldConstantQuantizePass> {
  void runOnOperation() override {
    SmallVector<QuantizeOp> ops;
    getOperation().walk([&](QuantizeOp op) { ops.push_back(op); });
    bool failedAny = false;
    int64_t index = 0;
    for (QuantizeOp op : ops) {
      ElementsAttr values;
      if (op.getScales() || op.getZeroPoints() || op.getTensorScale() ||
          !matchPattern(op.getInput(), m_Constant(&values)))
        continue;
      auto emitError = [&]() {
        return op.emitOpError("lowbit-fold-constant-quantize: ");
      };
      QTensorType type = op.getResult().getType();
      FailureOr<nx::Scheme> scheme = toNumericsScheme(type, emitError);
      FailureOr<std::vector<float>> w =
          failed(scheme) ? FailureOr<std::vector<float>>(failure())
                         : readFloatElements(values, emitError);
      if (failed(w)) {
        failedAny = true;
        continue;
      }
      nx::QTensor q;
      nx::Status st = nx::quantize(
          w->data(),
          std::vector<int64_t>(type.getShape().begin(), type.getShape().end()),
          *scheme, q, /*strict=*/true);
      if (!st.ok()) {
        emitError() << st.message();
        failedAny = true;
        continue;
      }
      OpBuilder b(op);
      ConstantOp c = createQuantizedConstant(
          b, op.getLoc(), type, q, ("quantized" + Twine(index++)).str());
      op.getResult().replaceAllUsesWith(c.getResult());
      Operation *input = op.getInput().getDefiningOp();
      op.erase();
      if (input && input->use_empty())
        input->erase();
    }
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
