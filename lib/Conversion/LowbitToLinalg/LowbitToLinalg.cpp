//===- LowbitToLinalg.cpp - reference lowering of lowbit ops ------*- C++
//-*-===//
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
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Codecs.h"
#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERTOLINALG
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::codecs;

//===----------------------------------------------------------------------===//
// Type conversion
//===----------------------------------------------------------------------===//

/// Scales with 8-bit float types travel as their bit patterns (i8).
static Type getLoweredScaleElementType(SchemeAttr s) {
  Type t = s.getScaleType();
  if (isa<Float8E8M0FNUType, Float8E4M3FNType>(t))
    return IntegerType::get(t.getContext(), 8);
  return t;
}

static void getLoweredPartTypes(QTensorType t, SmallVectorImpl<Type> &types) {
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

namespace {

/// The run-time parts of one quantized tensor (absent parts are null).
struct Parts {
  Value codes, scales, zeroPoints, tensorScale;

  static Parts from(QTensorType t, ValueRange values) {
    Parts p;
    size_t i = 0;
    p.codes = values[i++];
    if (t.getScalesType())
      p.scales = values[i++];
    if (t.getZeroPointsType())
      p.zeroPoints = values[i++];
    if (t.getTensorScaleType())
      p.tensorScale = values[i++];
    return p;
  }
  SmallVector<Value> values() const {
    SmallVector<Value> v{codes};
    for (Value x : {scales, zeroPoints, tensorScale})
      if (x)
        v.push_back(x);
    return v;
  }
};

using BodyFn = function_ref<void(ImplicitLocOpBuilder &, ValueRange)>;

/// Tensor-level helpers on an ImplicitLocOpBuilder.
struct TensorBuilder {
  ImplicitLocOpBuilder &b;

  Value empty(ArrayRef<int64_t> shape, Type elem) {
    return tensor::EmptyOp::create(b, shape, elem);
  }
  Value filled(ArrayRef<int64_t> shape, Type elem, Value v) {
    return linalg::FillOp::create(b, ValueRange{v},
                                  ValueRange{empty(shape, elem)})
        .getResult(0);
  }

  /// A linalg.generic whose body is built by `body` (block arguments in,
  /// values to yield out).
  SmallVector<Value>
  generic(TypeRange resultTypes, ValueRange inputs, ValueRange outputs,
          ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iters,
          function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, ValueRange)>
              body) {
    auto op = linalg::GenericOp::create(
        b, resultTypes, inputs, outputs, maps, iters,
        [&](OpBuilder &nb, Location loc, ValueRange args) {
          ImplicitLocOpBuilder ib(loc, nb);
          SmallVector<Value> results = body(ib, args);
          linalg::YieldOp::create(ib, results);
        });
    return SmallVector<Value>(op.getResults());
  }

  static SmallVector<utils::IteratorType> parallel(int64_t n) {
    return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
  }

  /// Elementwise map over tensors of one shape.
  Value map(ValueRange inputs, Type resultElem,
            function_ref<Value(ImplicitLocOpBuilder &, ValueRange)> fn) {
    auto shape = cast<RankedTensorType>(inputs[0].getType()).getShape();
    int64_t n = shape.size();
    SmallVector<AffineMap> maps(inputs.size() + 1, b.getMultiDimIdentityMap(n));
    return generic({RankedTensorType::get(shape, resultElem)}, inputs,
                   {empty(shape, resultElem)}, maps, parallel(n),
                   [&](ImplicitLocOpBuilder &ib, ValueRange args) {
                     return SmallVector<Value>{fn(ib, args.drop_back())};
                   })[0];
  }

  /// [d0, d1, ...] -> [d0/b0, b0, d1/b1, b1, ...].
  Value expandBlocked(Value x, ArrayRef<int64_t> blocks) {
    auto t = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape;
    SmallVector<ReassociationIndices> re;
    for (auto [i, d] : llvm::enumerate(t.getShape())) {
      shape.push_back(d / blocks[i]);
      shape.push_back(blocks[i]);
      re.push_back({int64_t(2 * i), int64_t(2 * i + 1)});
    }
    return tensor::ExpandShapeOp::create(
        b, RankedTensorType::get(shape, t.getElementType()), x, re);
  }
  Value collapseBlocked(Value xb) {
    auto t = cast<RankedTensorType>(xb.getType());
    SmallVector<ReassociationIndices> re;
    for (int64_t i = 0; i < t.getRank() / 2; ++i)
      re.push_back({2 * i, 2 * i + 1});
    return tensor::CollapseShapeOp::create(b, xb, re);
  }
  /// Reshape between the canonical scale shape of `t` and the per-dimension
  /// block-count shape ([d_i / b_i]).
  Value scalesToBlockCounts(Value s, QTensorType t) {
    SmallVector<int64_t> counts = blockCounts(t);
    auto st = cast<RankedTensorType>(s.getType());
    if (st.getShape() == ArrayRef<int64_t>(counts))
      return s;
    SmallVector<ReassociationIndices> re;
    if (st.getRank() == 1)
      re.push_back(llvm::to_vector(llvm::seq<int64_t>(0, counts.size())));
    return tensor::ExpandShapeOp::create(
        b, RankedTensorType::get(counts, st.getElementType()), s, re);
  }
  Value scalesFromBlockCounts(Value s, QTensorType t) {
    SmallVector<int64_t> canon = t.getScaleShape();
    auto st = cast<RankedTensorType>(s.getType());
    if (st.getShape() == ArrayRef<int64_t>(canon))
      return s;
    SmallVector<ReassociationIndices> re;
    if (!canon.empty())
      re.push_back(llvm::to_vector(llvm::seq<int64_t>(0, st.getRank())));
    return tensor::CollapseShapeOp::create(
        b, RankedTensorType::get(canon, st.getElementType()), s, re);
  }
  static SmallVector<int64_t> blockCounts(QTensorType t) {
    SmallVector<int64_t> blocks = t.getBlockSizes(), counts;
    for (auto [d, bs] : llvm::zip_equal(t.getShape(), blocks))
      counts.push_back(d / bs);
    return counts;
  }

  /// Maps of the blocked iteration space (2n dims): identity, the block
  /// counts (even dims) and a scalar.
  AffineMap blockedIdentity(int64_t n) {
    return b.getMultiDimIdentityMap(2 * n);
  }
  AffineMap evenDims(int64_t n) {
    SmallVector<AffineExpr> e;
    for (int64_t i = 0; i < n; ++i)
      e.push_back(b.getAffineDimExpr(2 * i));
    return AffineMap::get(2 * n, 0, e, b.getContext());
  }
  AffineMap scalarMap(int64_t dims) {
    return AffineMap::get(dims, 0, {}, b.getContext());
  }
  static SmallVector<utils::IteratorType> blockedReduction(int64_t n) {
    SmallVector<utils::IteratorType> it;
    for (int64_t i = 0; i < n; ++i) {
      it.push_back(utils::IteratorType::parallel);
      it.push_back(utils::IteratorType::reduction);
    }
    return it;
  }

  /// Elementwise bitcast of a tensor.
  Value bitcast(Value x, Type elem) {
    if (cast<RankedTensorType>(x.getType()).getElementType() == elem)
      return x;
    return map({x}, elem, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
      return Value(arith::BitcastOp::create(ib, elem, a[0]));
    });
  }
};

//===----------------------------------------------------------------------===//
// Packing of sub-byte codes (docs/Spec.md, "Run-time layout")
//===----------------------------------------------------------------------===//

static unsigned codesPerByte(SchemeAttr s) {
  unsigned w = s.getStorageWidth();
  return (w == 2 || w == 4) ? 8 / w : 1;
}

/// The shapes both directions of sub-byte packing use: codes [..., L] are
/// viewed as [..., P, per] (L padded up to P * per) against bytes [..., P].
struct PackGeometry {
  unsigned per, width;
  SmallVector<int64_t> shape, expanded, packed;
  SmallVector<ReassociationIndices> splitLast;
  AffineMap byteMap; // [..., P, per] -> [..., P]
  bool padded;

  PackGeometry(ImplicitLocOpBuilder &b, QTensorType t)
      : per(codesPerByte(t.getScheme())),
        width(t.getScheme().getStorageWidth()), shape(t.getShape()) {
    int64_t n = shape.size();
    int64_t packedLast = (shape.back() + per - 1) / per;
    padded = packedLast * per != shape.back();
    packed = shape;
    packed.back() = packedLast;
    expanded = packed;
    expanded.push_back(per);
    for (int64_t i = 0; i < n - 1; ++i)
      splitLast.push_back({i});
    splitLast.push_back({n - 1, n});
    SmallVector<AffineExpr> e;
    for (int64_t i = 0; i < n; ++i)
      e.push_back(b.getAffineDimExpr(i));
    byteMap = AffineMap::get(n + 1, 0, e, b.getContext());
  }
  int64_t rank() const { return shape.size(); }
  /// The unpadded [..., L] window of a padded [..., P * per] tensor.
  void window(ImplicitLocOpBuilder &b, SmallVectorImpl<OpFoldResult> &offsets,
              SmallVectorImpl<OpFoldResult> &sizes,
              SmallVectorImpl<OpFoldResult> &strides) const {
    for (int64_t d : shape) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(d));
      strides.push_back(b.getIndexAttr(1));
    }
  }
  /// Bit offset of code `linalg.index rank()` within its byte.
  Value shift(ImplicitLocOpBuilder &ib) const {
    Value idx = arith::IndexCastOp::create(ib, ib.getI32Type(),
                                           linalg::IndexOp::create(ib, rank()));
    return arith::MulIOp::create(ib, idx, constI32(ib, width));
  }
  int64_t mask() const { return (int64_t(1) << width) - 1; }
};

/// One code per byte (low bits) -> packed codes.
static Value packCodes(TensorBuilder &tb, Value codes, QTensorType t) {
  if (codesPerByte(t.getScheme()) == 1)
    return codes;
  ImplicitLocOpBuilder &b = tb.b;
  PackGeometry g(b, t);
  Type i8 = b.getI8Type();
  Value zero = arith::ConstantIntOp::create(b, i8, 0);
  if (g.padded) {
    SmallVector<int64_t> paddedShape(g.packed);
    paddedShape.back() *= g.per;
    SmallVector<OpFoldResult> offsets, sizes, strides;
    g.window(b, offsets, sizes, strides);
    codes = tensor::InsertSliceOp::create(
        b, codes, tb.filled(paddedShape, i8, zero), offsets, sizes, strides);
  }
  Value ex = tensor::ExpandShapeOp::create(
      b, RankedTensorType::get(g.expanded, i8), codes, g.splitLast);
  SmallVector<utils::IteratorType> iters = TensorBuilder::parallel(g.rank());
  iters.push_back(utils::IteratorType::reduction);
  return tb.generic({RankedTensorType::get(g.packed, i8)}, {ex},
                    {tb.filled(g.packed, i8, zero)},
                    {b.getMultiDimIdentityMap(g.rank() + 1), g.byteMap}, iters,
                    [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                      Value c = arith::AndIOp::create(ib, fromByte(ib, a[0]),
                                                      constI32(ib, g.mask()));
                      Value v = arith::ShLIOp::create(ib, c, g.shift(ib));
                      Value acc =
                          arith::OrIOp::create(ib, fromByte(ib, a[1]), v);
                      return SmallVector<Value>{toByte(ib, acc)};
                    })[0];
}

/// Packed codes -> one code per byte (low bits, high bits zero).
static Value unpackCodes(TensorBuilder &tb, Value packed, QTensorType t) {
  if (codesPerByte(t.getScheme()) == 1)
    return packed;
  ImplicitLocOpBuilder &b = tb.b;
  PackGeometry g(b, t);
  Type i8 = b.getI8Type();
  Value ex = tb.generic(
      {RankedTensorType::get(g.expanded, i8)}, {packed},
      {tb.empty(g.expanded, i8)},
      {g.byteMap, b.getMultiDimIdentityMap(g.rank() + 1)},
      TensorBuilder::parallel(g.rank() + 1),
      [&](ImplicitLocOpBuilder &ib, ValueRange a) {
        Value v = arith::ShRUIOp::create(ib, fromByte(ib, a[0]), g.shift(ib));
        v = arith::AndIOp::create(ib, v, constI32(ib, g.mask()));
        return SmallVector<Value>{toByte(ib, v)};
      })[0];
  Value flat = tensor::CollapseShapeOp::create(b, ex, g.splitLast);
  if (!g.padded)
    return flat;
  SmallVector<OpFoldResult> offsets, sizes, strides;
  g.window(b, offsets, sizes, strides);
  return tensor::ExtractSliceOp::create(b, RankedTensorType::get(g.shape, i8),
                                        flat, offsets, sizes, strides);
}

//===----------------------------------------------------------------------===//
// Scalar rules (docs/Spec.md, "Quantization rules")
//===----------------------------------------------------------------------===//

enum class ScaleKind { None, Float, E8M0, E4M3TwoLevel };

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

/// Statistics a scheme's scale rule needs, per block.
enum class StatKind { AbsMax, AbsMaxNaN, MinMax, AbsSum };

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

/// quantize: float tensor -> lowered parts. `given` holds static parameters
/// (lowered types, canonical shapes) or nulls.
static Parts emitQuantize(TensorBuilder &tb, Value x, QTensorType t,
                          Parts given) {
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

/// dequantize: lowered parts -> tensor of the expressed type.
static Value emitDequantize(TensorBuilder &tb, Parts p, QTensorType t) {
  SchemeAttr s = t.getScheme();
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

/// Reports ops whose types use a scheme the reference lowering does not
/// cover yet (GGUF blocks); run before the conversion so that each such op
/// gets exactly one diagnostic.
/// GGUF blocks have no reference lowering (LB-L1) except as constants and
/// values passed around (their parts are plain bytes); `handled` exempts
/// ops that another pattern set (the CPU kernels) lowers.
static LogicalResult checkSupported(Operation *root,
                                    function_ref<bool(Operation *)> handled) {
  bool ok = true;
  root->walk([&](Operation *op) {
    if (!isa<LowbitDialect>(op->getDialect()) ||
        isa<ConstantOp, UnpackOp, PackOp>(op) || (handled && handled(op)))
      return;
    for (Type type : llvm::concat<const Type>(op->getOperandTypes(),
                                              op->getResultTypes())) {
      auto t = dyn_cast<QTensorType>(type);
      if (t && t.getScheme().isGGUF()) {
        op->emitOpError("reference lowering of GGUF block format ")
            << stringifyGGUFKind(t.getScheme().getGguf())
            << " is not implemented (docs/Spec.md, LB-L1)";
        ok = false;
        return;
      }
    }
  });
  return success(ok);
}

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

/// lowbit.constant -> one arith.constant per part.
struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    QTensorType t = op.getType();
    SmallVector<Type> types;
    getLoweredPartTypes(t, types);
    SmallVector<Value> values;
    size_t i = 0;
    for (std::optional<ElementsAttr> attr :
         {std::optional<ElementsAttr>(op.getCodes()), op.getScales(),
          op.getZeroPoints(), op.getTensorScale()}) {
      if (!attr)
        continue;
      auto want = cast<RankedTensorType>(types[i++]);
      TypedAttr value = cast<TypedAttr>(*attr);
      if (attr->getType() != want) {
        // f8 scales travel as bytes: reinterpret the same storage.
        if (auto dense = dyn_cast<DenseElementsAttr>(*attr))
          value = dense.bitcast(want.getElementType());
        else if (auto res = dyn_cast<DenseResourceElementsAttr>(*attr))
          value = DenseResourceElementsAttr::get(want, res.getRawHandle());
        else
          return op.emitOpError("scales must be dense or dense_resource");
      }
      values.push_back(arith::ConstantOp::create(b, value));
    }
    rewriter.replaceOpWithMultiple(op, {values});
    return success();
  }
};

/// Values of types `from` as types `to`: f8 scales travel as bytes in the
/// lowered form, the same storage bitcast.
static SmallVector<Value> retype(ImplicitLocOpBuilder &b, ValueRange values,
                                 TypeRange to) {
  SmallVector<Value> out;
  for (auto [v, t] : llvm::zip(values, to))
    out.push_back(v.getType() == t ? v
                                   : Value(arith::BitcastOp::create(b, t, v)));
  return out;
}

/// lowbit.unpack -> the lowered parts themselves.
struct UnpackLowering : OpConversionPattern<UnpackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(UnpackOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    rewriter.replaceOp(op,
                       retype(b, adaptor.getInput(), op.getParts().getTypes()));
    return success();
  }
};

/// lowbit.pack -> its operands, as the lowered parts.
struct PackLowering : OpConversionPattern<PackOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PackOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    SmallVector<Value> parts;
    for (ValueRange v : adaptor.getParts())
      parts.append(v.begin(), v.end());
    SmallVector<Type> types;
    getLoweredPartTypes(op.getType(), types);
    rewriter.replaceOpWithMultiple(op, {retype(b, parts, types)});
    return success();
  }
};

/// lowbit.qmatmul -> dequantize the quantized operands, then a linalg.generic
/// contraction accumulating in f32.
struct QMatmulLowering : OpConversionPattern<QMatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QMatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    for (Type t : op->getOperandTypes())
      if (auto qt = dyn_cast<QTensorType>(t); qt && qt.getScheme().isGGUF())
        return rewriter.notifyMatchFailure(op,
                                           "GGUF has no reference lowering");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    TensorBuilder tb{b};
    auto operand = [&](Value orig, ValueRange conv) -> Value {
      if (auto qt = dyn_cast<QTensorType>(orig.getType()))
        return emitDequantize(tb, Parts::from(qt, conv), qt);
      return conv[0];
    };
    Value lhs = operand(op.getLhs(), adaptor.getLhs());
    Value rhs = operand(op.getRhs(), adaptor.getRhs());
    auto resType = op.getType();
    int64_t r = resType.getRank();
    bool batch = r == 3;
    // Iteration space: [b,] m, n, k.
    int64_t nd = r + 1;
    auto d = [&](int64_t i) { return b.getAffineDimExpr(i); };
    int64_t o = batch ? 1 : 0;
    SmallVector<AffineExpr> ae, be, ce;
    if (batch) {
      ae.push_back(d(0));
      be.push_back(d(0));
      ce.push_back(d(0));
    }
    ae.append({d(o), d(o + 2)});
    if (op.getTransposeB())
      be.append({d(o + 1), d(o + 2)});
    else
      be.append({d(o + 2), d(o + 1)});
    ce.append({d(o), d(o + 1)});
    SmallVector<AffineMap> maps{AffineMap::get(nd, 0, ae, b.getContext()),
                                AffineMap::get(nd, 0, be, b.getContext()),
                                AffineMap::get(nd, 0, ce, b.getContext())};
    SmallVector<utils::IteratorType> iters = TensorBuilder::parallel(r);
    iters.push_back(utils::IteratorType::reduction);
    Type f32 = b.getF32Type();
    Value acc = tb.filled(resType.getShape(), f32, constF32(b, 0));
    Value y = tb.generic(
        {RankedTensorType::get(resType.getShape(), f32)}, {lhs, rhs}, {acc},
        maps, iters, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
          Value m = arith::MulFOp::create(ib, toF32(ib, a[0]), toF32(ib, a[1]));
          return SmallVector<Value>{arith::AddFOp::create(ib, a[2], m)};
        })[0];
    Type outElem = resType.getElementType();
    if (!outElem.isF32())
      y = tb.map({y}, outElem, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
        return fromF32(ib, a[0], outElem);
      });
    rewriter.replaceOp(op, y);
    return success();
  }
};

} // namespace

void mlir::lowbit::populateLowbitToLinalgConversionPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<QuantizeLowering, DequantizeLowering, RequantizeLowering,
               ConstantLowering, QMatmulLowering, UnpackLowering, PackLowering>(
      converter, patterns.getContext());
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
  // GPU launches (lowbit-gpu-offload) work on plain tensors and bufferize.
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
  return applyPartialConversion(module, target, std::move(patterns));
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
        if (fn.getArgAttr(i, "lowbit.packed")) {
          fn.emitError("argument ")
              << i
              << " is marked lowbit.packed (the CPU kernels' panel layout): "
                 "the reference lowering does not read it; use "
                 "lowbit-lower-to-cpu";
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    if (r.wasInterrupted() || failed(lowerLowbitOps(getOperation())))
      signalPassFailure();
  }
};
} // namespace
