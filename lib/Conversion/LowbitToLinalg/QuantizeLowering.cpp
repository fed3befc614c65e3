//===- QuantizeLowering.cpp - quantize, dequantize, requantize ------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The scalar rules of docs/Spec.md ("Quantization rules": scale kinds,
// element encode / decode), the per-block statistics and scales of dynamic
// quantization, the quantize / dequantize emitters on the blocked view,
// and the patterns of lowbit.quantize, lowbit.dequantize and
// lowbit.requantize built from them.
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "lowbit/Conversion/Codecs.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::codecs;
using namespace mlir::lowbit::reference;

//===----------------------------------------------------------------------===//
// Scalar rules (docs/Spec.md, "Quantization rules")
//===----------------------------------------------------------------------===//

namespace {
/// How a scheme stores its scales (and so how they decode).
enum class ScaleKind { None, Float, E8M0, E4M3TwoLevel };
} // namespace

static ScaleKind getScaleKind(SchemeAttr s) {
  if (!s.hasScales())
    return ScaleKind::None;
  if (isa<Float8E8M0FNUType>(s.getScaleType()))
    return ScaleKind::E8M0;
  if (isa<Float8E4M3FNType>(s.getScaleType()))
    return ScaleKind::E4M3TwoLevel;
  return ScaleKind::Float;
}

static bool isMXInt8(SchemeAttr s) {
  return s.isInteger() && getScaleKind(s) == ScaleKind::E8M0;
}

static Value selectF(ImplicitLocOpBuilder &b, Value c, Value t, Value f) {
  return arith::SelectOp::create(b, c, t, f);
}
static Value isZeroF(ImplicitLocOpBuilder &b, Value x) {
  return arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, x, constF32(b, 0));
}

/// The f32 value of a stored scale element (after the lowered-type bitcast).
static Value scaleValue(ImplicitLocOpBuilder &b, SchemeAttr s, Value stored,
                        Value tensorScale) {
  switch (getScaleKind(s)) {
  case ScaleKind::E8M0:
    return decodeE8M0(b, fromByte(b, stored));
  case ScaleKind::E4M3TwoLevel:
    return arith::MulFOp::create(
        b, decodeMiniFloat(b, fromByte(b, stored), ::lowbit::kF8E4M3FN),
        tensorScale);
  default:
    return toF32(b, stored);
  }
}

/// Code of one element given the f32 scale value and zero point.
static Value encodeElement(ImplicitLocOpBuilder &b, SchemeAttr s, Value x,
                           Value scale, Value zp) {
  x = toF32(b, x);
  if (!s.hasScales())
    return toByte(b, encodeMiniFloat(b, x, getFormat(s.getStorageType()),
                                     s.getRounding(), s.getSaturate()));
  Value v = arith::DivFOp::create(b, x, scale);
  if (s.isFloat())
    return toByte(b, encodeMiniFloat(b, v, getFormat(s.getStorageType()),
                                     s.getRounding(), s.getSaturate()));
  // Integers (MXINT8 included).
  int64_t qmin = s.getQMin(), qmax = s.getQMax();
  if (isMXInt8(s)) {
    v = arith::MulFOp::create(b, v,
                              constF32(b, 1 << ::lowbit::kMXInt8FracBits));
    qmin = -127;
  }
  Value r = roundF32(b, v, s.getRounding());
  Value zpF = zp ? Value(arith::SIToFPOp::create(b, b.getF32Type(), zp))
                 : constF32(b, 0);
  if (zp)
    r = arith::AddFOp::create(b, r, zpF);
  Value isNaN = arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, r, r);
  r = selectF(b, isNaN, zpF, r);
  r = arith::MaximumFOp::create(b, r, constF32(b, float(qmin)));
  r = arith::MinimumFOp::create(b, r, constF32(b, float(qmax)));
  Value q = arith::FPToSIOp::create(b, b.getI32Type(), r);
  unsigned w = s.getStorageWidth();
  q = arith::AndIOp::create(b, q, constI32(b, (int64_t(1) << w) - 1));
  return toByte(b, q);
}

/// f32 value of one element given its code byte, scale value and zero point.
static Value decodeElement(ImplicitLocOpBuilder &b, SchemeAttr s, Value code,
                           Value scale, Value zp) {
  Value c = fromByte(b, code);
  if (!s.hasScales())
    return decodeMiniFloat(b, c, getFormat(s.getStorageType()));
  if (s.isFloat())
    return arith::MulFOp::create(
        b, decodeMiniFloat(b, c, getFormat(s.getStorageType())), scale);
  unsigned w = s.getStorageWidth();
  c = arith::AndIOp::create(b, c, constI32(b, (int64_t(1) << w) - 1));
  if (!cast<IntegerType>(s.getStorageType()).isUnsigned()) {
    Value signBit = constI32(b, int64_t(1) << (w - 1));
    c = arith::SubIOp::create(b, arith::XOrIOp::create(b, c, signBit), signBit);
  }
  if (zp)
    c = arith::SubIOp::create(b, c, zp);
  Value f = arith::SIToFPOp::create(b, b.getF32Type(), c);
  if (isMXInt8(s))
    f = arith::MulFOp::create(
        b, f, constF32(b, 1.0f / float(1 << ::lowbit::kMXInt8FracBits)));
  return arith::MulFOp::create(b, f, scale);
}

//===----------------------------------------------------------------------===//
// quantize / dequantize on tensors
//===----------------------------------------------------------------------===//

namespace {
/// Statistics a scheme's scale rule needs, per block.
enum class StatKind { AbsMax, AbsMaxNaN, MinMax, AbsSum };
} // namespace

static StatKind getStatKind(SchemeAttr s) {
  if (!s.getSymmetric())
    return StatKind::MinMax;
  if (s.getTernary())
    return StatKind::AbsSum;
  if (getScaleKind(s) == ScaleKind::E8M0)
    return StatKind::AbsMaxNaN;
  return StatKind::AbsMax;
}

/// Dynamic scales: returns lowered (scales, zero points) in block-count shape.
static std::pair<Value, Value> computeScales(TensorBuilder &tb, Value xb,
                                             QTensorType t, Value tensorScale) {
  ImplicitLocOpBuilder &b = tb.b;
  SchemeAttr s = t.getScheme();
  int64_t n = t.getRank();
  SmallVector<int64_t> counts = TensorBuilder::blockCounts(t);
  Type f32 = b.getF32Type();
  StatKind kind = getStatKind(s);
  SmallVector<AffineMap> maps{tb.blockedIdentity(n), tb.evenDims(n)};
  Value stat0, stat1;
  if (kind == StatKind::MinMax) {
    Value zero = constF32(b, 0);
    maps.push_back(tb.evenDims(n));
    auto r = tb.generic(
        {RankedTensorType::get(counts, f32),
         RankedTensorType::get(counts, f32)},
        {xb}, {tb.filled(counts, f32, zero), tb.filled(counts, f32, zero)},
        maps, TensorBuilder::blockedReduction(n),
        [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value x = toF32(ib, a[0]);
          return SmallVector<Value>{arith::MinNumFOp::create(ib, a[1], x),
                                    arith::MaxNumFOp::create(ib, a[2], x)};
        });
    stat0 = r[0];
    stat1 = r[1];
  } else {
    stat0 = tb.generic({RankedTensorType::get(counts, f32)}, {xb},
                       {tb.filled(counts, f32, constF32(b, 0))}, maps,
                       TensorBuilder::blockedReduction(n),
                       [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                         Value x = math::AbsFOp::create(ib, toF32(ib, a[0]));
                         Value r;
                         if (kind == StatKind::AbsSum)
                           r = arith::AddFOp::create(ib, a[1], x);
                         else if (kind == StatKind::AbsMaxNaN)
                           r = arith::MaximumFOp::create(ib, a[1], x);
                         else
                           r = arith::MaxNumFOp::create(ib, a[1], x);
                         return SmallVector<Value>{r};
                       })[0];
  }

  Type scaleElem = getLoweredScaleElementType(s);
  int64_t blockElems = 1;
  for (int64_t bs : t.getBlockSizes())
    blockElems *= bs;
  SmallVector<Value> ins{stat0};
  if (stat1)
    ins.push_back(stat1);
  if (tensorScale)
    ins.push_back(tensorScale);
  SmallVector<Type> resTypes{RankedTensorType::get(counts, scaleElem)};
  SmallVector<Value> outs{tb.empty(counts, scaleElem)};
  if (!s.getSymmetric()) {
    resTypes.push_back(RankedTensorType::get(counts, b.getI32Type()));
    outs.push_back(tb.empty(counts, b.getI32Type()));
  }
  SmallVector<AffineMap> smaps;
  for (Value v : ins)
    smaps.push_back(v == tensorScale ? tb.scalarMap(n)
                                     : b.getMultiDimIdentityMap(n));
  for (size_t i = 0; i < outs.size(); ++i)
    smaps.push_back(b.getMultiDimIdentityMap(n));
  auto r = tb.generic(
      resTypes, ins, outs, smaps, TensorBuilder::parallel(n),
      [&](ImplicitLocOpBuilder &ib, ValueRange a) -> SmallVector<Value> {
        Value one = constF32(ib, 1.0f);
        switch (getScaleKind(s)) {
        case ScaleKind::E8M0: {
          // shared_exp = floor(log2(amax)) - emax_elem, clamped to
          // [-127, 127]; amax = 0 -> 0x00; NaN/Inf -> 0xFF.
          Value amax = a[0];
          int emax = s.isInteger() ? ::lowbit::kMXInt8Emax
                                   : getFormat(s.getStorageType()).emax;
          Value e =
              arith::SubIOp::create(ib, ilogb(ib, amax), constI32(ib, emax));
          e = arith::MaxSIOp::create(ib, e, constI32(ib, -127));
          e = arith::MinSIOp::create(ib, e, constI32(ib, 127));
          Value code = arith::AddIOp::create(ib, e, constI32(ib, 127));
          code = arith::SelectOp::create(ib, isZeroF(ib, amax), constI32(ib, 0),
                                         code);
          Value bits = arith::BitcastOp::create(ib, ib.getI32Type(), amax);
          Value nonFinite = arith::CmpIOp::create(
              ib, arith::CmpIPredicate::uge,
              arith::AndIOp::create(ib, bits, constI32(ib, 0x7fffffff)),
              constI32(ib, 0x7f800000));
          code =
              arith::SelectOp::create(ib, nonFinite, constI32(ib, 255), code);
          return {toByte(ib, code)};
        }
        case ScaleKind::E4M3TwoLevel: {
          // NVFP4 (ModelOpt): s_b = e4m3(amax_b / (6 * S)); a zero block
          // uses 1.0; a non-zero block whose scale underflows E4M3 uses the
          // smallest subnormal (2^-9) instead of zero.
          Value amax = a[0];
          Value ts = a[1];
          Value denom = arith::MulFOp::create(ib, constF32(ib, 6.0f), ts);
          Value sb = arith::DivFOp::create(ib, amax, denom);
          sb = selectF(ib, isZeroF(ib, sb), one, sb);
          Value code = encodeMiniFloat(ib, sb, ::lowbit::kF8E4M3FN,
                                       Rounding::NearestEven, true);
          Value under = arith::AndIOp::create(
              ib,
              arith::CmpIOp::create(ib, arith::CmpIPredicate::eq, code,
                                    constI32(ib, 0)),
              arith::CmpFOp::create(ib, arith::CmpFPredicate::ONE, amax,
                                    constF32(ib, 0)));
          code = arith::SelectOp::create(ib, under, constI32(ib, 1), code);
          return {toByte(ib, code)};
        }
        default:
          break;
        }
        if (!s.getSymmetric()) {
          // scale = (max - min) / (qmax - qmin) with min <= 0 <= max;
          // zp = clamp(qmin + round(-min / scale), qmin, qmax).
          Value mn = a[0], mx = a[1];
          int64_t qmin = s.getQMin(), qmax = s.getQMax();
          Value sc =
              arith::DivFOp::create(ib, arith::SubFOp::create(ib, mx, mn),
                                    constF32(ib, float(qmax - qmin)));
          sc = selectF(ib, isZeroF(ib, sc), one, sc);
          Value stored = storeScale(ib, sc, scaleElem);
          Value scF = toF32(ib, stored);
          Value z = roundF32(
              ib, arith::DivFOp::create(ib, arith::NegFOp::create(ib, mn), scF),
              s.getRounding());
          z = arith::AddFOp::create(ib, z, constF32(ib, float(qmin)));
          // A NaN zero point (only from non-finite input) becomes qmin, as
          // in the numerics library, rather than an undefined fptosi.
          z = selectF(
              ib, arith::CmpFOp::create(ib, arith::CmpFPredicate::UNO, z, z),
              constF32(ib, float(qmin)), z);
          z = arith::MaximumFOp::create(ib, z, constF32(ib, float(qmin)));
          z = arith::MinimumFOp::create(ib, z, constF32(ib, float(qmax)));
          return {stored, arith::FPToSIOp::create(ib, ib.getI32Type(), z)};
        }
        Value sc;
        if (s.getTernary()) {
          // BitNet b1.58: mean |x| over the block, at least 1e-5.
          sc = arith::DivFOp::create(ib, a[0], constF32(ib, float(blockElems)));
          sc = arith::MaximumFOp::create(ib, sc, constF32(ib, 1e-5f));
        } else {
          float qmax = s.isInteger()
                           ? float(s.getQMax())
                           : getFormat(s.getStorageType()).maxFinite();
          sc = arith::DivFOp::create(ib, a[0], constF32(ib, qmax));
          sc = selectF(ib, isZeroF(ib, sc), one, sc);
        }
        return {storeScale(ib, sc, scaleElem)};
      });
  return {r[0], s.getSymmetric() ? Value() : r[1]};
}

/// The f32 value of every block's scale (block-count shape), decoded once per
/// block rather than once per element.
static Value decodedScales(TensorBuilder &tb, SchemeAttr s, Value scales,
                           Value tensorScale) {
  ImplicitLocOpBuilder &b = tb.b;
  auto st = cast<RankedTensorType>(scales.getType());
  if (!tensorScale && st.getElementType().isF32())
    return scales;
  int64_t n = st.getRank();
  SmallVector<Value> ins{scales};
  SmallVector<AffineMap> maps{b.getMultiDimIdentityMap(n)};
  if (tensorScale) {
    ins.push_back(tensorScale);
    maps.push_back(tb.scalarMap(n));
  }
  maps.push_back(b.getMultiDimIdentityMap(n));
  Type f32 = b.getF32Type();
  return tb.generic({RankedTensorType::get(st.getShape(), f32)}, ins,
                    {tb.empty(st.getShape(), f32)}, maps,
                    TensorBuilder::parallel(n),
                    [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                      Value ts = tensorScale ? a[1] : Value();
                      return SmallVector<Value>{scaleValue(ib, s, a[0], ts)};
                    })[0];
}

Parts mlir::lowbit::reference::emitQuantize(TensorBuilder &tb, Value x,
                                            QTensorType t, Parts given) {
  ImplicitLocOpBuilder &b = tb.b;
  SchemeAttr s = t.getScheme();
  int64_t n = t.getRank();
  Type i8 = b.getI8Type();
  Parts out;
  if (!s.hasScales()) {
    Value codes = tb.map({x}, i8, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
      return encodeElement(ib, s, a[0], Value(), Value());
    });
    out.codes = packCodes(tb, codes, t);
    return out;
  }
  Value tensorScale = given.tensorScale;
  if (s.getTensorScale() && !given.scales) {
    // S = amax(tensor) / (6 * 448); an all-zero tensor uses 1.
    SmallVector<AffineExpr> none;
    Value amax = tb.generic(
        {RankedTensorType::get({}, b.getF32Type())}, {x},
        {tb.filled({}, b.getF32Type(), constF32(b, 0))},
        {b.getMultiDimIdentityMap(n), tb.scalarMap(n)},
        SmallVector<utils::IteratorType>(n, utils::IteratorType::reduction),
        [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value v = math::AbsFOp::create(ib, toF32(ib, a[0]));
          return SmallVector<Value>{arith::MaxNumFOp::create(ib, a[1], v)};
        })[0];
    tensorScale = tb.map(
        {amax}, b.getF32Type(), [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value sc = arith::DivFOp::create(
              ib, a[0], constF32(ib, ::lowbit::kNVFP4TensorScaleDivisor));
          return selectF(ib, isZeroF(ib, sc), constF32(ib, 1.0f), sc);
        });
  }
  Value xb = tb.expandBlocked(x, t.getBlockSizes());
  Value scales, zps;
  if (given.scales) {
    scales = tb.scalesToBlockCounts(given.scales, t);
    if (given.zeroPoints)
      zps = tb.scalesToBlockCounts(given.zeroPoints, t);
  } else {
    std::tie(scales, zps) = computeScales(tb, xb, t, tensorScale);
  }
  auto xbType = cast<RankedTensorType>(xb.getType());
  SmallVector<Value> ins{xb, decodedScales(tb, s, scales, tensorScale)};
  SmallVector<AffineMap> maps{tb.blockedIdentity(n), tb.evenDims(n)};
  if (zps) {
    ins.push_back(zps);
    maps.push_back(tb.evenDims(n));
  }
  maps.push_back(tb.blockedIdentity(n));
  Value codesB = tb.generic(
      {RankedTensorType::get(xbType.getShape(), i8)}, ins,
      {tb.empty(xbType.getShape(), i8)}, maps, TensorBuilder::parallel(2 * n),
      [&](ImplicitLocOpBuilder &ib, ValueRange a) {
        Value zp = zps ? a[2] : Value();
        return SmallVector<Value>{encodeElement(ib, s, a[0], a[1], zp)};
      })[0];
  out.codes = packCodes(tb, tb.collapseBlocked(codesB), t);
  out.scales = tb.scalesFromBlockCounts(scales, t);
  if (zps)
    out.zeroPoints = tb.scalesFromBlockCounts(zps, t);
  if (s.getTensorScale())
    out.tensorScale = tensorScale;
  return out;
}

Value mlir::lowbit::reference::emitDequantize(TensorBuilder &tb, Parts p,
                                              QTensorType t) {
  SchemeAttr s = t.getScheme();
  if (s.isGGUF())
    return emitGGUFDequantize(tb, p.codes, t);
  int64_t n = t.getRank();
  Type outElem = s.getExpressedType();
  Value codes = unpackCodes(tb, p.codes, t);
  if (!s.hasScales())
    return tb.map(
        {codes}, outElem, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          return fromF32(ib, decodeElement(ib, s, a[0], Value(), Value()),
                         outElem);
        });
  Value cb = tb.expandBlocked(codes, t.getBlockSizes());
  auto cbType = cast<RankedTensorType>(cb.getType());
  SmallVector<Value> ins{
      cb,
      decodedScales(tb, s, tb.scalesToBlockCounts(p.scales, t), p.tensorScale)};
  SmallVector<AffineMap> maps{tb.blockedIdentity(n), tb.evenDims(n)};
  if (p.zeroPoints) {
    ins.push_back(tb.scalesToBlockCounts(p.zeroPoints, t));
    maps.push_back(tb.evenDims(n));
  }
  maps.push_back(tb.blockedIdentity(n));
  Value yb =
      tb.generic({RankedTensorType::get(cbType.getShape(), outElem)}, ins,
                 {tb.empty(cbType.getShape(), outElem)}, maps,
                 TensorBuilder::parallel(2 * n),
                 [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                   Value zp = p.zeroPoints ? a[2] : Value();
                   return SmallVector<Value>{fromF32(
                       ib, decodeElement(ib, s, a[0], a[1], zp), outElem)};
                 })[0];
  return tb.collapseBlocked(yb);
}

/// Lowers static quantization parameters given as operands to their
/// lowered types.
static Parts loweredStaticParts(TensorBuilder &tb, QTensorType t,
                                ValueRange scales, ValueRange zps,
                                ValueRange tensorScale) {
  Parts p;
  if (!scales.empty())
    p.scales = tb.bitcast(scales[0], getLoweredScaleElementType(t.getScheme()));
  if (!zps.empty())
    p.zeroPoints = zps[0];
  if (!tensorScale.empty())
    p.tensorScale = tensorScale[0];
  return p;
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

/// lowbit.quantize -> statistics, scales and codes on tensors.
struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    TensorBuilder tb{b};
    QTensorType t = op.getType();
    Parts given =
        loweredStaticParts(tb, t, adaptor.getScales(), adaptor.getZeroPoints(),
                           adaptor.getTensorScale());
    Parts p = emitQuantize(tb, adaptor.getInput()[0], t, given);
    rewriter.replaceOpWithMultiple(op, {p.values()});
    return success();
  }
};

/// lowbit.dequantize -> unpack and decode on tensors.
struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    TensorBuilder tb{b};
    QTensorType t = op.getInput().getType();
    Value y = emitDequantize(tb, Parts::from(t, adaptor.getInput()), t);
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// lowbit.requantize -> dequantize then quantize (f32 in between).
struct RequantizeLowering : OpConversionPattern<RequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RequantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    TensorBuilder tb{b};
    QTensorType in = op.getInput().getType(), out = op.getType();
    Value y = emitDequantize(tb, Parts::from(in, adaptor.getInput()), in);
    Parts given =
        loweredStaticParts(tb, out, adaptor.getScales(),
                           adaptor.getZeroPoints(), adaptor.getTensorScale());
    rewriter.replaceOpWithMultiple(op,
                                   {emitQuantize(tb, y, out, given).values()});
    return success();
  }
};

} // namespace

void mlir::lowbit::reference::populateQuantizeLoweringPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<QuantizeLowering, DequantizeLowering, RequantizeLowering>(
      converter, patterns.getContext());
}
