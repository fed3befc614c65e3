// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===- QuantInterop.cpp - upstream quant <-> lowbit ---------------*- C++
//-*-===//
//
// lowbit-convert-from-quant and lowbit-convert-to-quant. Upstream's sub-channel
// block sizes default to the whole dimension for unlisted axes, lowbit's
// per_group to 1; both directions translate explicitly (docs/Spec.md,
// "Interop").
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITCONVERTFROMQUANT
#define GEN_PASS_DEF_LOWBITCONVERTTOQUANT
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// True when `op` or the producer of one of its operands is in `reported`:
/// an op whose conversion failed was already diagnosed once, and so were
/// the uses it leaves behind.
bool alreadyReported(Operation *op,
                     const llvm::SmallPtrSetImpl<Operation *> &reported) {
  if (reported.contains(op))
    return true;
  return llvm::any_of(op->getOperands(), [&](Value v) {
    Operation *def = v.getDefiningOp();
    return def && reported.contains(def);
  });
}

/// The static parameters of an upstream uniform type, as lowbit sees them.
struct Translated {
  QTensorType type;
  DenseElementsAttr scales, zeroPoints;
};

/// Translates `tensor<SHAPE x !quant.uniform...>` or reports why not.
FailureOr<Translated> translateFromQuant(Operation *op, RankedTensorType t) {
  auto qt = dyn_cast<quant::UniformQuantizedType>(t.getElementType());
  auto at = dyn_cast<quant::UniformQuantizedPerAxisType>(t.getElementType());
  auto st = dyn_cast<quant::UniformQuantizedSubChannelType>(t.getElementType());
  auto base = dyn_cast<quant::QuantizedType>(t.getElementType());
  if (!qt && !at && !st)
    return op->emitOpError("lowbit-convert-from-quant: ")
           << t.getElementType() << " is not a uniform quantized type";
  MLIRContext *ctx = op->getContext();
  auto storage = dyn_cast<IntegerType>(base.getStorageType());
  if (!storage || storage.getWidth() < 2 || storage.getWidth() > 8)
    return op->emitOpError("lowbit-convert-from-quant: storage type ")
           << base.getStorageType()
           << " is not representable (lowbit takes integers of 2 to 8 bits)";
  unsigned w = storage.getWidth();
  bool isSigned = base.isSigned();
  int64_t full = int64_t(1) << (w - 1);
  int64_t smin = base.getStorageTypeMin(), smax = base.getStorageTypeMax();
  bool fullRange = isSigned ? (smin == -full && smax == full - 1)
                            : (smin == 0 && smax == (int64_t(1) << w) - 1);
  bool narrow = isSigned && smin == -(full - 1) && smax == full - 1;
  if (!fullRange && !narrow)
    return op->emitOpError("lowbit-convert-from-quant: storage range [")
           << smin << ", " << smax << "] of " << t.getElementType()
           << " is not representable (lowbit takes the full range, or the "
              "symmetric narrow range of signed types)";

  SmallVector<double> scales;
  SmallVector<int64_t> zps;
  SmallVector<int64_t> scaleShape;
  Granularity gran;
  int64_t axis = 0;
  SmallVector<int64_t> groupAxes, groupSizes;
  if (qt) {
    gran = Granularity::PerTensor;
    scales.push_back(qt.getScale());
    zps.push_back(qt.getZeroPoint());
  } else if (at) {
    gran = Granularity::PerAxis;
    axis = at.getQuantizedDimension();
    llvm::append_range(scales, at.getScales());
    llvm::append_range(zps, at.getZeroPoints());
    scaleShape.push_back(scales.size());
  } else {
    gran = Granularity::PerGroup;
    SmallVector<int64_t> blocks(t.getShape());
    for (auto [d, bs] :
         llvm::zip_equal(st.getQuantizedDimensions(), st.getBlockSizes()))
      blocks[d] = bs;
    for (auto [i, bs] : llvm::enumerate(blocks)) {
      if (bs != 1) {
        groupAxes.push_back(i);
        groupSizes.push_back(bs);
      }
      scaleShape.push_back(t.getShape()[i] / bs);
    }
    if (groupAxes.empty()) {
      groupAxes.push_back(0);
      groupSizes.push_back(1);
    }
    for (APFloat v : st.getScales().getValues<APFloat>())
      scales.push_back(v.convertToDouble());
    for (APInt v : st.getZeroPoints().getValues<APInt>())
      zps.push_back(v.getSExtValue());
  }
  bool allZero = llvm::all_of(zps, [](int64_t z) { return z == 0; });
  bool symmetric = isSigned && allZero;
  if (narrow && !symmetric)
    return op->emitOpError(
        "lowbit-convert-from-quant: a narrow storage range with "
        "non-zero zero points is not representable");
  Type lbStorage = IntegerType::get(
      ctx, w, isSigned ? IntegerType::Signless : IntegerType::Unsigned);
  auto emitError = [&] {
    return op->emitOpError("lowbit-convert-from-quant: ");
  };
  SchemeAttr scheme = SchemeAttr::getChecked(
      emitError, ctx, lbStorage, base.getExpressedType(), gran, axis,
      ArrayRef<int64_t>(groupAxes), ArrayRef<int64_t>(groupSizes), symmetric,
      symmetric && fullRange,
      /*ternary=*/false, Type(Float32Type::get(ctx)), /*tensorScale=*/false,
      Rounding::NearestEven, /*saturate=*/true, GGUFKind::None);
  if (!scheme)
    return failure();
  QTensorType type =
      QTensorType::getChecked(emitError, ctx, t.getShape(), scheme);
  if (!type)
    return failure();
  Translated r;
  r.type = type;
  SmallVector<float> fs(scales.begin(), scales.end());
  r.scales = DenseElementsAttr::get(
      RankedTensorType::get(scaleShape, Float32Type::get(ctx)),
      ArrayRef<float>(fs));
  if (!symmetric) {
    SmallVector<int32_t> zs(zps.begin(), zps.end());
    r.zeroPoints = DenseElementsAttr::get(
        RankedTensorType::get(scaleShape, IntegerType::get(ctx, 32)),
        ArrayRef<int32_t>(zs));
  }
  return r;
}

struct LowbitConvertFromQuantPass
    : mlir::lowbit::impl::LowbitConvertFromQuantBase<
          LowbitConvertFromQuantPass> {
  void runOnOperation() override {
    SmallVector<quant::QuantizeCastOp> casts;
    getOperation()->walk(
        [&](quant::QuantizeCastOp op) { casts.push_back(op); });
    bool failedAny = false;
    llvm::SmallPtrSet<Operation *, 8> reported;
    for (quant::QuantizeCastOp op : casts) {
      auto t = dyn_cast<RankedTensorType>(op.getType());
      if (!t) {
        op.emitOpError(
            "lowbit-convert-from-quant: only ranked tensors are supported");
        failedAny = true;
        reported.insert(op);
        continue;
      }
      FailureOr<Translated> tr = translateFromQuant(op, t);
      if (failed(tr)) {
        failedAny = true;
        reported.insert(op);
        continue;
      }
      bool badUse = false;
      for (Operation *user : op->getUsers())
        if (!isa<quant::DequantizeCastOp>(user) &&
            reported.insert(user).second) {
          user->emitOpError(
              "lowbit-convert-from-quant: cannot convert a use of a "
              "quantized value other than quant.dcast");
          badUse = true;
        }
      if (badUse) {
        failedAny = true;
        reported.insert(op);
        continue;
      }
      OpBuilder b(op);
      Value scales = arith::ConstantOp::create(b, op.getLoc(), tr->scales);
      Value zps;
      if (tr->zeroPoints)
        zps = arith::ConstantOp::create(b, op.getLoc(), tr->zeroPoints);
      auto q = QuantizeOp::create(b, op.getLoc(), tr->type, op.getInput(),
                                  scales, zps, Value());
      for (Operation *user : llvm::make_early_inc_range(op->getUsers())) {
        auto d = cast<quant::DequantizeCastOp>(user);
        OpBuilder ub(d);
        auto deq = DequantizeOp::create(ub, d.getLoc(), d.getType(), q);
        d.replaceAllUsesWith(deq.getResult());
        d.erase();
      }
      op.erase();
    }
    // Anything quantized that is left cannot be represented.
    getOperation()->walk([&](Operation *op) {
      if (alreadyReported(op, reported))
        return;
      for (Type t : llvm::concat<const Type>(op->getOperandTypes(),
                                             op->getResultTypes()))
        if (auto rt = dyn_cast<ShapedType>(t))
          if (isa<quant::QuantizedType>(rt.getElementType())) {
            op->emitOpError(
                "lowbit-convert-from-quant: cannot convert an op on ")
                << t;
            failedAny = true;
            return;
          }
    });
    if (failedAny)
      signalPassFailure();
  }
};

/// lowbit.quantize with constant f32 scales and an integer scheme ->
/// the upstream element type.
FailureOr<Type> translateToQuant(QuantizeOp op) {
  QTensorType t = op.getType();
  SchemeAttr s = t.getScheme();
  if (!s.isInteger() || s.getTernary() || !isa<Float32Type>(s.getScaleType()))
    return op.emitOpError(
        "lowbit-convert-to-quant: only integer schemes with f32 "
        "scales have an upstream equivalent");
  if (s.getRounding() != Rounding::NearestEven)
    return op.emitOpError(
        "lowbit-convert-to-quant: upstream quant has no rounding "
        "mode; only round = nearest_even converts");
  DenseElementsAttr scales, zps;
  if (!op.getScales() || !matchPattern(op.getScales(), m_Constant(&scales)))
    return op.emitOpError("lowbit-convert-to-quant: scales must be constants "
                          "(upstream quant has no dynamic scales)");
  if (op.getZeroPoints() && !matchPattern(op.getZeroPoints(), m_Constant(&zps)))
    return op.emitOpError(
        "lowbit-convert-to-quant: zero points must be constants");
  MLIRContext *ctx = op.getContext();
  auto storage = cast<IntegerType>(s.getStorageType());
  bool isSigned = !storage.isUnsigned();
  unsigned flags = isSigned ? quant::QuantizationFlags::Signed : 0;
  Type qStorage = IntegerType::get(ctx, storage.getWidth());
  Type expressed = s.getExpressedType();
  int64_t qmin = s.getQMin(), qmax = s.getQMax();
  SmallVector<double> sc;
  for (APFloat v : scales.getValues<APFloat>())
    sc.push_back(v.convertToDouble());
  SmallVector<int64_t> zp(sc.size(), 0);
  if (zps) {
    zp.clear();
    for (APInt v : zps.getValues<APInt>())
      zp.push_back(v.getSExtValue());
  }
  switch (s.getGranularity()) {
  case Granularity::PerTensor:
    return Type(quant::UniformQuantizedType::get(flags, qStorage, expressed,
                                                 sc[0], zp[0], qmin, qmax));
  case Granularity::PerAxis:
    return Type(quant::UniformQuantizedPerAxisType::get(
        flags, qStorage, expressed, sc, zp, s.getAxis(), qmin, qmax));
  case Granularity::PerGroup: {
    SmallVector<int32_t> dims;
    SmallVector<int64_t> blocks = t.getBlockSizes();
    for (int64_t i = 0; i < t.getRank(); ++i)
      dims.push_back(i);
    DenseElementsAttr zpAttr =
        zps ? zps
            : DenseElementsAttr::get(
                  RankedTensorType::get(t.getScaleShape(),
                                        IntegerType::get(ctx, 32)),
                  APInt(32, 0));
    return Type(quant::UniformQuantizedSubChannelType::get(
        flags, qStorage, expressed, scales, zpAttr, dims, blocks, qmin, qmax));
  }
  default:
    break;
  }
  return op.emitOpError(
      "lowbit-convert-to-quant: scheme has no upstream equivalent");
}

struct LowbitConvertToQuantPass
    : mlir::lowbit::impl::LowbitConvertToQuantBase<LowbitConvertToQuantPass> {
  void runOnOperation() override {
    bool failedAny = false;
    llvm::SmallPtrSet<Operation *, 8> reported;
    SmallVector<QuantizeOp> ops;
    getOperation()->walk([&](QuantizeOp op) { ops.push_back(op); });
    for (QuantizeOp op : ops) {
      FailureOr<Type> et = translateToQuant(op);
      if (failed(et)) {
        failedAny = true;
        reported.insert(op);
        continue;
      }
      bool badUse = false;
      for (Operation *user : op->getUsers())
        if (!isa<DequantizeOp>(user) && reported.insert(user).second) {
          user->emitOpError(
              "lowbit-convert-to-quant: only lowbit.dequantize uses of "
              "a converted value are supported");
          badUse = true;
        }
      if (badUse) {
        failedAny = true;
        reported.insert(op);
        continue;
      }
      OpBuilder b(op);
      auto qType = RankedTensorType::get(op.getType().getShape(), *et);
      auto qc =
          quant::QuantizeCastOp::create(b, op.getLoc(), qType, op.getInput());
      for (Operation *user : llvm::make_early_inc_range(op->getUsers())) {
        auto d = cast<DequantizeOp>(user);
        OpBuilder ub(d);
        auto dc = quant::DequantizeCastOp::create(ub, d.getLoc(), d.getType(),
                                                  qc.getResult());
        d.replaceAllUsesWith(dc.getResult());
        d.erase();
      }
      op.erase();
    }
    getOperation()->walk([&](Operation *op) {
      if (isa_and_nonnull<LowbitDialect>(op->getDialect()) &&
          !alreadyReported(op, reported)) {
        op->emitOpError("lowbit-convert-to-quant: no upstream equivalent");
        failedAny = true;
      }
    });
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
