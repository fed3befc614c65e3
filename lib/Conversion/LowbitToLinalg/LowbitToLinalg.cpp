//===- LowbitToLinalg.cpp - reference lowering of lowbit ops --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The executable definition of lowbit's semantics (docs/Spec.md). Every
// !lowbit.qtensor becomes its run-time parts, every op becomes linalg.generic
// and arith/math on tensors. Quantization works on a "blocked" view of the
// tensor: dimension i of size d_i is expanded into (d_i / b_i, b_i) where b_i
// is the block size of the scheme along i, so that per-tensor, per-axis and
// per-group schemes (MX and NVFP4 included) share one code path: statistics
// reduce over the odd (in-block) dimensions, codes broadcast the scales over
// them.
//
// This file holds the type conversion, the pass and its entry points
// (`populateLowbitToLinalgConversionPatterns`, `lowerLowbitOps`); the
// patterns live in one file per op family: QuantizeLowering.cpp (quantize,
// dequantize, requantize), QMatmulLowering.cpp, PartsLowering.cpp
// (constant, pack, unpack), with the sub-byte packing of codes in
// CodePacking.cpp, the GGUF block formats' dequantize in GGUFDequantize.cpp
// and what they share in ReferenceLowering.h.
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "mlir/Dialect/Func/Transforms/FuncConversions.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERTOLINALG
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::reference;

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

Type mlir::lowbit::reference::getLoweredScaleElementType(SchemeAttr s) {
  Type t = s.getScaleType();
  if (isa<Float8E8M0FNUType, Float8E4M3FNType>(t))
    return IntegerType::get(t.getContext(), 8);
  return t;
}

void mlir::lowbit::reference::getLoweredPartTypes(
    QTensorType t, SmallVectorImpl<Type> &types) {
  size_t first = types.size();
  t.getPartTypes(types);
  if (!t.getScalesType())
    return;
  // Parts are ordered codes, scales, ...: retype the scales.
  auto scales = cast<RankedTensorType>(types[first + 1]);
  types[first + 1] = RankedTensorType::get(
      scales.getShape(), getLoweredScaleElementType(t.getScheme()));
}

QTensorTypeConverter::QTensorTypeConverter() {
  addConversion([](Type t) { return t; });
  addConversion([](QTensorType t, SmallVectorImpl<Type> &results) {
    getLoweredPartTypes(t, results);
    return success();
  });
}

//===----------------------------------------------------------------------===//
// Patterns and pass
//===----------------------------------------------------------------------===//

/// Reports ops the reference lowering does not cover: quantization into a
/// GGUF block format (LB-L1; llama.cpp's quantizers of the K-quants and the
/// iq4 formats are searches, left to the numerics library). Dequantizing
/// GGUF blocks (dequantize, qmatmul, requantize from GGUF) is lowered
/// (GGUFDequantize.cpp); GGUF constants and values passed around are plain
/// bytes. Runs before the conversion so that each such op gets exactly one
/// diagnostic; `handled` exempts ops that another pattern set (the CPU
/// kernels) lowers.
static LogicalResult checkSupported(Operation *root,
                                    function_ref<bool(Operation *)> handled) {
  bool ok = true;
  root->walk([&](Operation *op) {
    if (!isa<QuantizeOp, RequantizeOp>(op) || (handled && handled(op)))
      return;
    auto t = cast<QTensorType>(op->getResult(0).getType());
    if (!t.getScheme().isGGUF())
      return;
    op->emitOpError("reference lowering of quantization into GGUF block "
                    "format ")
        << stringifyGGUFKind(t.getScheme().getGguf())
        << " is not implemented (docs/Spec.md, LB-L1)";
    ok = false;
  });
  return success(ok);
}

void mlir::lowbit::populateLowbitToLinalgConversionPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  populateQuantizeLoweringPatterns(converter, patterns);
  populatePartsLoweringPatterns(converter, patterns);
  populateQMatmulLoweringPatterns(converter, patterns);
}

LogicalResult mlir::lowbit::lowerLowbitOps(
    ModuleOp module,
    function_ref<void(TypeConverter &, RewritePatternSet &)> addPatterns,
    function_ref<bool(Operation *)> handled) {
  MLIRContext *ctx = module.getContext();
  if (failed(checkSupported(module, handled)))
    return failure();
  QTensorTypeConverter converter;
  ConversionTarget target(*ctx);
  target.addIllegalDialect<LowbitDialect>();
  // GPU launches (lowbit-offload-to-gpu) work on plain tensors and bufferize.
  target.addLegalOp<LaunchOp>();
  target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                         math::MathDialect, tensor::TensorDialect>();
  target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
    return converter.isSignatureLegal(op.getFunctionType()) &&
           converter.isLegal(&op.getBody());
  });
  target.markUnknownOpDynamicallyLegal(
      [&](Operation *op) { return converter.isLegal(op); });
  RewritePatternSet patterns(ctx);
  populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                 converter);
  populateReturnOpTypeConversionPattern(patterns, converter);
  populateCallOpTypeConversionPattern(patterns, converter);
  populateLowbitToLinalgConversionPatterns(converter, patterns);
  if (addPatterns)
    addPatterns(converter, patterns);
  // The signature conversion replaces each qtensor argument or result by
  // its parts but leaves the attribute dictionaries where they were:
  // remember them and put each back on its value (a qtensor's own
  // attributes do not carry over to its parts).
  SmallVector<std::pair<func::FuncOp, SmallVector<DictionaryAttr>>> argAttrs,
      resultAttrs;
  auto remember = [&](func::FuncOp fn, TypeRange types, auto getAttrs,
                      auto &saved) {
    if (!llvm::any_of(types, [](Type t) { return isa<QTensorType>(t); }))
      return;
    SmallVector<DictionaryAttr> dicts;
    for (Type t : types) {
      DictionaryAttr d = getAttrs(dicts.size());
      SmallVector<Type> parts;
      if (auto q = dyn_cast<QTensorType>(t))
        getLoweredPartTypes(q, parts);
      else
        parts.push_back(t);
      for (size_t i = 0; i < parts.size(); ++i)
        dicts.push_back(isa<QTensorType>(t) ? DictionaryAttr() : d);
    }
    saved.push_back({fn, std::move(dicts)});
  };
  module.walk([&](func::FuncOp fn) {
    // Indices into the old signature while collecting the new one.
    unsigned arg = 0, result = 0;
    remember(
        fn, fn.getArgumentTypes(),
        [&](size_t) { return fn.getArgAttrDict(arg++); }, argAttrs);
    remember(
        fn, fn.getResultTypes(),
        [&](size_t) { return fn.getResultAttrDict(result++); }, resultAttrs);
  });
  if (failed(applyPartialConversion(module, target, std::move(patterns))))
    return failure();
  for (auto &[fn, dicts] : argAttrs)
    if (dicts.size() == fn.getNumArguments())
      fn.setAllArgAttrs(dicts);
  for (auto &[fn, dicts] : resultAttrs)
    if (dicts.size() == fn.getNumResults())
      fn.setAllResultAttrs(dicts);
  return success();
}

namespace {
struct LowbitLowerToLinalgPass
    : mlir::lowbit::impl::LowbitLowerToLinalgBase<LowbitLowerToLinalgPass> {
  void runOnOperation() override {
    // Weights handed over in the CPU panel layout (lowbit.packed,
    // docs/CodegenCPU.md) mean something else than their type says: only
    // lowbit-lower-to-cpu's kernel reads them.
    WalkResult r = getOperation().walk([](func::FuncOp fn) {
      for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
        if (fn.getArgAttr(i, LowbitDialect::PackedAttrHelper::getNameStr())) {
          fn.emitError("argument ")
              << i
              << " is marked lowbit.packed (the CPU kernels' panel layout): "
                 "the reference lowering does not read it; use "
                 "lowbit-lower-to-cpu";
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    // So do constants packed for a kernel (LB-C2, lowbit-pack-weights).
    if (!r.wasInterrupted())
      r = getOperation().walk([](ConstantOp c) {
        if (std::optional<CodesLayout> layout = c.getLayout()) {
          c.emitOpError("has layout ")
              << stringifyCodesLayout(*layout)
              << " (codes packed for a kernel, docs/Spec.md LB-C2): the "
                 "reference lowering reads only the run-time layout; use "
                 "the backend whose kernel reads it";
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
    if (r.wasInterrupted() || failed(lowerLowbitOps(getOperation())))
      signalPassFailure();
  }
};
} // namespace
