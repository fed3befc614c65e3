//===- PackWeights.cpp - constant weights in the kernels' layouts ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-pack-weights, the one place where constant weights are packed at
// compile time: [K, N] weights transposed to [N, K] with `transpose_b`,
// then the layouts the kernels read (int8 panels, mma-b tiles), recorded
// on the constant (docs/Spec.md, LB-C2). Which qmatmuls get which layout
// the backends say (WeightLayouts.h); the numerics library packs. It
// lives in lib/Conversion because it asks both backends (docs/Design.md,
// "Contracts between passes").
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Conversion/WeightLayouts.h"
#include "lowbit/Dialect/NumericsBridge.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITPACKWEIGHTS
#include "lowbit/Conversion/Passes.h.inc"
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

/// The weights of `op` if they are a constant in the run-time layout.
ConstantOp getPlainConstantWeights(QMatmulOp op) {
  auto c = op.getRhs().getDefiningOp<ConstantOp>();
  return c && !c.getLayout() ? c : ConstantOp();
}

struct LowbitPackWeightsPass
    : mlir::lowbit::impl::LowbitPackWeightsBase<LowbitPackWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(transpose()))
      return signalPassFailure();
    if (!kernelLayouts)
      return;
    std::string error;
    FailureOr<WeightLayoutChooser> cpu = getCPUWeightLayouts(targetCpu, error);
    if (failed(cpu)) {
      getOperation().emitError("lowbit-pack-weights: ") << error;
      return signalPassFailure();
    }
    WeightLayoutChooser choose = *cpu;
    if (target == PackTarget::NVPTX) {
      if (failed(checkChip()))
        return signalPassFailure();
      // The ops lowbit-lower-to-gpu took are the GPU's; the rest are the
      // host's.
      choose = [gpu = getNVPTXWeightLayouts(), cpu = *cpu](QMatmulOp op) {
        return hasGPUKernel(op) ? gpu(op) : cpu(op);
      };
    }
    if (failed(packLayouts(choose)))
      signalPassFailure();
  }

  /// The kernels must have been chosen for `chip`.
  LogicalResult checkChip() {
    auto gpuModule =
        getOperation().lookupSymbol<gpu::GPUModuleOp>(gpunames::kModuleName);
    ArrayAttr targets = gpuModule ? gpuModule.getTargetsAttr() : ArrayAttr();
    if (!targets)
      return success();
    for (Attribute a : targets)
      if (auto t = dyn_cast<NVVM::NVVMTargetAttr>(a); t && t.getChip() != chip)
        return gpuModule.emitError("lowbit-pack-weights: the kernels were "
                                   "chosen for ")
               << t.getChip() << ", not chip=" << chip;
    return success();
  }

  /// [K, N] constant weights -> [N, K] with transpose_b.
  LogicalResult transpose() {
    SmallVector<QMatmulOp> ops;
    getOperation().walk([&](QMatmulOp op) {
      auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
      if (!op.getTransposeB() && wt && wt.getShape().size() == 2 &&
          !wt.getScheme().isGGUF() && getPlainConstantWeights(op))
        ops.push_back(op);
    });
    int64_t index = 0;
    DenseMap<Operation *, ConstantOp> packed;
    for (QMatmulOp op : ops) {
      ConstantOp c = getPlainConstantWeights(op);
      ConstantOp &t = packed[c];
      if (!t) {
        auto emitError = [&]() {
          return c.emitOpError("lowbit-pack-weights: ");
        };
        FailureOr<nx::QTensor> q = readQuantizedConstant(c, emitError);
        if (failed(q))
          return failure();
        nx::QTensor qt;
        nx::Status st = nx::transposeMatrix(*q, qt);
        if (!st.ok())
          return emitError() << st.message();
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
    return success();
  }

  /// The constant `c` with its codes packed into `layout`, placed right
  /// after it.
  FailureOr<ConstantOp> createPacked(ConstantOp c, CodesLayout layout) {
    StringRef what =
        layout == CodesLayout::Int8Panels ? "int8 panels" : "mma-b tiles";
    auto emitError = [&]() {
      return c.emitOpError("lowbit-pack-weights: packing ") << what << ": ";
    };
    FailureOr<nx::QTensor> q = readQuantizedConstant(c, emitError);
    if (failed(q))
      return failure();
    std::vector<uint8_t> bytes;
    nx::Status st = layout == CodesLayout::Int8Panels
                        ? nx::packInt8Panels(*q, bytes)
                        : nx::packInt4MmaB(*q, bytes);
    if (!st.ok())
      return emitError() << st.message();
    QTensorType type = c.getType();
    RankedTensorType codesType = ConstantOp::getLayoutCodesType(type, layout);
    if (!codesType ||
        int64_t(bytes.size()) * 8 !=
            codesType.getNumElements() *
                codesType.getElementType().getIntOrFloatBitWidth())
      return emitError() << "the packed bytes do not fit the layout";
    StringRef name = layout == CodesLayout::Int8Panels ? "panels" : "mma_b";
    ElementsAttr codes = createElementsAttr(
        codesType,
        ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size()),
        name);
    OpBuilder b(c->getContext());
    b.setInsertionPointAfter(c);
    return ConstantOp::create(b, c.getLoc(), type, codes, c.getScalesAttr(),
                              c.getZeroPointsAttr(), c.getTensorScaleAttr(),
                              CodesLayoutAttr::get(c->getContext(), layout));
  }

  /// Constant weights whose kernel reads another layout get a copy in it
  /// (one per constant and layout).
  LogicalResult packLayouts(const WeightLayoutChooser &choose) {
    SmallVector<std::pair<QMatmulOp, CodesLayout>> ops;
    getOperation().walk([&](QMatmulOp op) {
      if (!op.getTransposeB() || !getPlainConstantWeights(op))
        return;
      if (std::optional<CodesLayout> layout = choose(op))
        ops.push_back({op, *layout});
    });
    DenseMap<std::pair<Operation *, unsigned>, ConstantOp> packed;
    llvm::SetVector<Operation *> originals;
    for (auto [op, layout] : ops) {
      ConstantOp c = getPlainConstantWeights(op);
      ConstantOp &p = packed[{c, unsigned(layout)}];
      if (!p) {
        FailureOr<ConstantOp> made = createPacked(c, layout);
        if (failed(made))
          return failure();
        p = *made;
        originals.insert(c);
      }
      op.getRhsMutable().assign(p.getResult());
    }
    for (Operation *c : originals)
      if (c->use_empty())
        c->erase();
    return success();
  }
};

} // namespace
