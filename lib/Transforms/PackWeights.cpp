//===- PackWeights.cpp - constant weights in the kernels' layout ----------===//
//
// Compile-time data layout for the CPU kernels (docs/CodegenCPU.md): a
// rank-2 `lowbit.qmatmul` whose constant weights are stored [K, N] (input
// channels outer) gets them transposed to [N, K] with `transpose_b`, so that
// each output channel's codes and scales are contiguous. The values are
// unchanged; the numerics library does the transposition.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/NumericsBridge.h"
#include "lowbit/Transforms/Passes.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITPACKWEIGHTS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

/// The scheme of the transposed matrix: axes 0 and 1 swapped.
SchemeAttr transposeScheme(SchemeAttr s) {
  int64_t axis = s.getAxis();
  if (s.getGranularity() == Granularity::PerAxis)
    axis = 1 - axis;
  SmallVector<std::pair<int64_t, int64_t>> groups;
  for (auto [a, g] : llvm::zip(s.getGroupAxes(), s.getGroupSizes()))
    groups.push_back({1 - a, g});
  llvm::sort(groups);
  SmallVector<int64_t> axes, sizes;
  for (auto [a, g] : groups) {
    axes.push_back(a);
    sizes.push_back(g);
  }
  return SchemeAttr::get(s.getContext(), s.getStorageType(),
                         s.getExpressedType(), s.getGranularity(), axis, axes,
                         sizes, s.getSymmetric(), s.getFullRange(),
                         s.getTernary(), s.getScaleType(), s.getTensorScale(),
                         s.getRounding(), s.getSaturate(), s.getGguf());
}

struct LowbitPackWeightsPass
    : mlir::lowbit::impl::LowbitPackWeightsBase<LowbitPackWeightsPass> {
  void runOnOperation() override {
    SmallVector<QMatmulOp> ops;
    getOperation().walk([&](QMatmulOp op) {
      auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
      if (!op.getTransposeB() && wt && wt.getShape().size() == 2 &&
          !wt.getScheme().isGGUF() && op.getRhs().getDefiningOp<ConstantOp>())
        ops.push_back(op);
    });
    int64_t index = 0;
    DenseMap<Operation *, ConstantOp> packed;
    for (QMatmulOp op : ops) {
      auto c = op.getRhs().getDefiningOp<ConstantOp>();
      ConstantOp &t = packed[c];
      if (!t) {
        auto emitError = [&]() {
          return c.emitOpError("lowbit-pack-weights: ");
        };
        FailureOr<nx::QTensor> q = readQuantizedConstant(c, emitError);
        if (failed(q))
          return signalPassFailure();
        nx::QTensor qt;
        nx::Status st = nx::transposeMatrix(*q, qt);
        if (!st.ok()) {
          emitError() << st.message();
          return signalPassFailure();
        }
        QTensorType type = c.getResult().getType();
        auto ttype = QTensorType::get(&getContext(),
                                      {type.getShape()[1], type.getShape()[0]},
                                      transposeScheme(type.getScheme()));
        OpBuilder b(c);
        t = createQuantizedConstant(b, c.getLoc(), ttype, qt,
                                    ("packed" + Twine(index++)).str());
      }
      OpBuilder b(op);
      auto mm = QMatmulOp::create(b, op.getLoc(), op.getType(), op.getLhs(),
                                  t.getResult(), /*transpose_b=*/true);
      op.getResult().replaceAllUsesWith(mm.getResult());
      op.erase();
    }
    for (auto [orig, t] : packed)
      if (orig->use_empty())
        orig->erase();
  }
};

} // namespace
