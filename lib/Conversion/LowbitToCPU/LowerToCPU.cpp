//===- LowerToCPU.cpp - quantized matmuls to CPU kernels ------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The CPU lowering of docs/CodegenCPU.md. It is the reference lowering's
// 1:N conversion (every qtensor becomes its parts, every lowbit op is
// lowered) with kernel patterns of higher benefit: a qmatmul that a kernel
// family (Registry.h) computes becomes a call to a generated function (scf
// loops and vector ops, lowered by LLVM for the target's vector width);
// every other op keeps its reference lowering. Weights may be constants or
// function arguments: the kernel reads the parts the conversion hands it.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Registry.h"

#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERTOCPU
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

void cpu::lowerF32Matmuls(ModuleOp module) {
  SmallVector<linalg::MatmulOp> ops;
  module.walk([&](linalg::MatmulOp op) { ops.push_back(op); });
  for (linalg::MatmulOp op : ops) {
    if (op.getInputs().size() != 2 || op.getOutputs().size() != 1 ||
        !op.hasPureTensorSemantics())
      continue;
    auto xt = dyn_cast<RankedTensorType>(op.getInputs()[0].getType());
    auto wt = dyn_cast<RankedTensorType>(op.getInputs()[1].getType());
    auto yt = dyn_cast<RankedTensorType>(op.getOutputs()[0].getType());
    if (!xt || !wt || !yt || !xt.hasStaticShape() || !wt.hasStaticShape() ||
        !yt.hasStaticShape() || xt.getRank() != 2 || wt.getRank() != 2 ||
        !xt.getElementType().isF32() ||
        !isa<Float32Type, Float16Type, BFloat16Type>(wt.getElementType()) ||
        !yt.getElementType().isF32())
      continue;
    MLIRContext *ctx = op.getContext();
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {m, k}, ctx),
                                   AffineMap::get(3, 0, {n, k}, ctx),
                                   AffineMap::get(3, 0, {m, n}, ctx)};
    if (op.getIndexingMapsArray() != maps)
      continue;
    KernelProblem p;
    p.weights = WeightFormat::F32;
    p.wElem = wt.getElementType();
    p.m = xt.getDimSize(0);
    p.k = xt.getDimSize(1);
    p.n = wt.getDimSize(0);
    p.g = p.k;
    if (p.m < 1 || p.n < 1 || p.k < 1)
      continue;
    OpBuilder mb(ctx);
    func::FuncOp fn = getOrCreateKernel(mb, module, p, op.getLoc());
    OpBuilder b(op);
    auto call = func::CallOp::create(
        b, op.getLoc(), fn,
        ValueRange{op.getInputs()[0], op.getInputs()[1], op.getOutputs()[0]});
    op->getResult(0).replaceAllUsesWith(call.getResult(0));
    op->erase();
  }
}

namespace {

/// A qmatmul that a kernel family computes -> a call of its kernel.
struct QMatmulKernelLowering : OpConversionPattern<QMatmulOp> {
  QMatmulKernelLowering(const TypeConverter &tc, MLIRContext *ctx,
                        const CpuTarget &target, const PanelWeights &panels)
      : OpConversionPattern(tc, ctx, /*benefit=*/10), target(target),
        panels(panels) {}
  LogicalResult
  matchAndRewrite(QMatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::optional<KernelProblem> p = describeQMatmul(op, target);
    if (!p || !findKernelFamily(*p))
      return rewriter.notifyMatchFailure(op, "no CPU kernel for this qmatmul");
    ValueRange x = adaptor.getLhs(), w = adaptor.getRhs();
    if (x.size() !=
            (p->hasInt8Activations() || p->hasFP8Activations() ? 2u : 1u) ||
        w.size() != p->weightParts())
      return failure();
    SmallVector<Value> weights(w);
    if (auto it = panels.matmuls.find(op); it != panels.matmuls.end()) {
      p->layout = WeightLayout::Int8Panels;
      if (!it->second.empty()) {
        // A constant in layout int8_panels: its parts, panels first.
        weights.assign(it->second.begin(), it->second.end());
      } else {
        // An argument marked lowbit.packed: its [N, K] bytes are the
        // panels (N % 16 == 0, K % 4 == 0, checked by the pass).
        Location loc = op.getLoc();
        Type i8 = rewriter.getI8Type();
        Value flat = tensor::CollapseShapeOp::create(
            rewriter, loc, RankedTensorType::get({p->n * p->k}, i8), w[0],
            ArrayRef<ReassociationIndices>{{0, 1}});
        weights[0] = tensor::ExpandShapeOp::create(
            rewriter, loc, RankedTensorType::get({p->n / 16, p->k / 4, 64}, i8),
            flat, ArrayRef<ReassociationIndices>{{0, 1, 2}});
      }
    }
    func::FuncOp fn = getOrCreateKernel(
        rewriter, op->getParentOfType<ModuleOp>(), *p, op.getLoc());
    Value dest = tensor::EmptyOp::create(
        rewriter, op.getLoc(), ArrayRef<int64_t>{p->m, p->n},
        p->yElem ? p->yElem : rewriter.getF32Type());
    SmallVector<Value> args(x);
    args.append(weights);
    args.push_back(dest);
    auto call = func::CallOp::create(rewriter, op.getLoc(), fn, args);
    rewriter.replaceOp(op, call.getResults());
    return success();
  }
  CpuTarget target;
  const PanelWeights &panels;
};

/// A constant in layout int8_panels -> the parts created before the
/// conversion (the panel kernel, its only reader, takes them as they are).
struct PanelConstantLowering : OpConversionPattern<ConstantOp> {
  PanelConstantLowering(const TypeConverter &tc, MLIRContext *ctx,
                        const PanelWeights &panels)
      : OpConversionPattern(tc, ctx, /*benefit=*/10), panels(panels) {}
  LogicalResult
  matchAndRewrite(ConstantOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto it = panels.constants.find(op);
    if (it == panels.constants.end())
      return rewriter.notifyMatchFailure(op, "not in layout int8_panels");
    rewriter.replaceOpWithMultiple(op, {it->second});
    return success();
  }
  const PanelWeights &panels;
};

struct LowbitLowerToCPUPass
    : mlir::lowbit::impl::LowbitLowerToCPUBase<LowbitLowerToCPUPass> {
  using Base::Base;
  void runOnOperation() override {
    std::string error;
    FailureOr<CpuTarget> target = CpuTarget::get(targetCpu, error);
    if (failed(target)) {
      getOperation().emitError() << error;
      return signalPassFailure();
    }
    lowerF32Matmuls(getOperation());
    PanelWeights panels;
    if (failed(collectPanelWeights(getOperation(), *target, panels)))
      return signalPassFailure();
    auto handled = [&](Operation *op) {
      auto mm = dyn_cast<QMatmulOp>(op);
      return mm && hasGGUFKernel(mm, *target);
    };
    if (failed(lowerLowbitOps(
            getOperation(),
            [&](TypeConverter &converter, RewritePatternSet &patterns) {
              populateQMatmulKernelPatterns(converter, patterns, *target,
                                            panels);
              populateActivationQuantizePatterns(converter, patterns);
            },
            handled)))
      signalPassFailure();
  }
};

} // namespace

void cpu::populateQMatmulKernelPatterns(const TypeConverter &converter,
                                        RewritePatternSet &patterns,
                                        const CpuTarget &target,
                                        const PanelWeights &panels) {
  patterns.add<QMatmulKernelLowering>(converter, patterns.getContext(), target,
                                      panels);
  patterns.add<PanelConstantLowering>(converter, patterns.getContext(), panels);
}
