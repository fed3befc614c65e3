//===- FuseDequantMatmul.cpp - dequantize + contraction -> qmatmul --------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Contractions.h"
#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"

#include <climits>
#include <cmath>
#include <cstring>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFUSEDEQUANTMATMUL
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

//===----------------------------------------------------------------------===//
// Raising the plain-IR dequantize other frontends emit
//===----------------------------------------------------------------------===//

/// A `linalg.generic` computing (float(codes) [- zp]) * scale from constant
/// operands, recognised as a lowbit scheme.
struct RawDequant {
  OpOperand *codes = nullptr, *scales = nullptr, *zeroPoints = nullptr;
  bool isUnsigned = false;
  /// An integer zero point converted with uitofp (read zero-extended).
  bool zpUnsigned = false;
};

/// The input operand of `g` whose block argument is `v`, if any.
OpOperand *inputOf(linalg::GenericOp g, Value v) {
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || arg.getOwner() != g.getBody() ||
      arg.getArgNumber() >= g.getNumDpsInputs())
    return nullptr;
  return g.getDpsInputOperand(arg.getArgNumber());
}

std::optional<RawDequant> matchRawDequant(linalg::GenericOp g) {
  if (g.getNumResults() != 1 || g.getNumParallelLoops() != g.getNumLoops() ||
      !g.getIndexingMapsArray().back().isIdentity() ||
      !cast<RankedTensorType>(g.getResultTypes()[0]).getElementType().isF32())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(g.getBody()->getTerminator());
  auto mul = yield.getOperand(0).getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  RawDequant r;
  for (auto [a, b] : {std::pair{mul.getLhs(), mul.getRhs()},
                      std::pair{mul.getRhs(), mul.getLhs()}}) {
    // The scale, possibly widened from f16/bf16 (exact).
    Value sv = b;
    if (auto ext = sv.getDefiningOp<arith::ExtFOp>())
      sv = ext.getIn();
    OpOperand *s = inputOf(g, sv);
    if (!s)
      continue;
    Value d = a;
    OpOperand *zp = nullptr;
    bool zpUnsigned = false;
    if (auto sub = d.getDefiningOp<arith::SubFOp>()) {
      Value z = sub.getRhs();
      if (auto cvt = z.getDefiningOp<arith::SIToFPOp>()) {
        z = cvt.getIn();
      } else if (auto cvt = z.getDefiningOp<arith::UIToFPOp>()) {
        z = cvt.getIn();
        zpUnsigned = true;
      }
      zp = inputOf(g, z);
      if (!zp)
        continue;
      d = sub.getLhs();
    }
    // Signedness as the IR computes it: the int-to-float op decides; an
    // extension before it must agree (zero-extension then a signed
    // conversion is still the unsigned value; sign-extension then an
    // unsigned conversion is not a plain code and is not raised).
    Value c;
    bool isUnsigned;
    if (auto cvt = d.getDefiningOp<arith::UIToFPOp>()) {
      c = cvt.getIn();
      isUnsigned = true;
    } else if (auto cvt = d.getDefiningOp<arith::SIToFPOp>()) {
      c = cvt.getIn();
      isUnsigned = false;
    } else {
      continue;
    }
    if (auto ext = c.getDefiningOp<arith::ExtUIOp>()) {
      c = ext.getIn();
      isUnsigned = true;
    } else if (auto ext = c.getDefiningOp<arith::ExtSIOp>()) {
      if (isUnsigned)
        continue;
      c = ext.getIn();
    }
    OpOperand *codes = inputOf(g, c);
    if (!codes || !g.getMatchingIndexingMap(codes).isIdentity())
      continue;
    r.codes = codes;
    r.scales = s;
    r.zeroPoints = zp;
    r.isUnsigned = isUnsigned;
    r.zpUnsigned = zpUnsigned;
    return r;
  }
  return std::nullopt;
}

/// Block sizes per dimension from a scale operand's indexing map: `dK`
/// gives 1, `dK floordiv c` gives c, an absent dimension its full size;
/// results must name dimensions in increasing order (so the scale tensor's
/// row-major order is lowbit's).
std::optional<SmallVector<int64_t>> blocksFromMap(AffineMap map,
                                                  ArrayRef<int64_t> shape) {
  SmallVector<int64_t> blocks(shape.begin(), shape.end());
  int64_t last = -1;
  for (AffineExpr e : map.getResults()) {
    int64_t dim, block = 1;
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      dim = d.getPosition();
    } else if (auto bin = dyn_cast<AffineBinaryOpExpr>(e);
               bin && bin.getKind() == AffineExprKind::FloorDiv &&
               isa<AffineDimExpr>(bin.getLHS()) &&
               isa<AffineConstantExpr>(bin.getRHS())) {
      dim = cast<AffineDimExpr>(bin.getLHS()).getPosition();
      block = cast<AffineConstantExpr>(bin.getRHS()).getValue();
    } else {
      return std::nullopt;
    }
    if (dim <= last || block < 1 || shape[dim] % block)
      return std::nullopt;
    last = dim;
    blocks[dim] = block;
  }
  return blocks;
}

/// Replaces a recognised raw dequantize of constants by lowbit.dequantize
/// of a lowbit.constant (the same values, bit for bit); returns true if it
/// did.
bool raiseRawDequant(linalg::GenericOp g) {
  std::optional<RawDequant> r = matchRawDequant(g);
  if (!r)
    return false;
  DenseIntElementsAttr codes;
  DenseElementsAttr scales, zps;
  if (!matchPattern(r->codes->get(), m_Constant(&codes)) ||
      !matchPattern(r->scales->get(), m_Constant(&scales)) ||
      (r->zeroPoints && !matchPattern(r->zeroPoints->get(), m_Constant(&zps))))
    return false;
  auto outType = cast<RankedTensorType>(g.getResultTypes()[0]);
  ArrayRef<int64_t> shape = outType.getShape();
  unsigned width = codes.getType().getElementTypeBitWidth();
  Type scaleElem = scales.getType().getElementType();
  if (width < 2 || width > 8 ||
      !(scaleElem.isF32() || scaleElem.isF16() || scaleElem.isBF16()))
    return false;
  AffineMap smap = g.getMatchingIndexingMap(r->scales);
  if (r->zeroPoints && g.getMatchingIndexingMap(r->zeroPoints) != smap)
    return false;
  std::optional<SmallVector<int64_t>> blocks = blocksFromMap(smap, shape);
  if (!blocks)
    return false;

  // Values: codes, scales, zero points (integral) as the raw IR reads them.
  std::vector<int32_t> c;
  for (APInt v : codes.getValues<APInt>())
    c.push_back(int32_t(r->isUnsigned ? v.getZExtValue() : v.getSExtValue()));
  auto floats = [](DenseElementsAttr a) {
    std::vector<float> out;
    for (APFloat v : a.getValues<APFloat>()) {
      bool lost;
      v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
      out.push_back(v.convertToFloat());
    }
    return out;
  };
  std::vector<float> s = floats(scales);
  std::vector<int32_t> z;
  if (zps) {
    if (isa<FloatType>(zps.getType().getElementType())) {
      for (float v : floats(zps)) {
        if (v != std::nearbyint(v) || std::fabs(v) > 65536)
          return false; // not an integer zero point
        z.push_back(int32_t(v));
      }
    } else {
      for (APInt v : zps.getValues<APInt>())
        z.push_back(
            int32_t(r->zpUnsigned ? v.getZExtValue() : v.getSExtValue()));
    }
  }
  int32_t lo = INT32_MAX;
  for (int32_t v : c)
    lo = std::min(lo, v);

  // The scheme: integer codes of the raw IR's width and signedness, the
  // granularity its scale map implies. One the dialect rejects just means
  // "not raised".
  nx::Scheme element;
  element.kind = nx::ElementKind::Int;
  element.bits = width;
  element.isSigned = !r->isUnsigned;
  element.symmetric = !(zps || r->isUnsigned);
  element.fullRange = element.symmetric && lo == -(1 << (width - 1));
  element.scale = scaleElem.isF16()    ? nx::ScaleType::F16
                  : scaleElem.isBF16() ? nx::ScaleType::BF16
                                       : nx::ScaleType::F32;
  Granularity granularity = Granularity::PerGroup;
  int64_t ones = 0, fulls = 0, axis = 0;
  SmallVector<int64_t> groupAxes, groupSizes;
  for (size_t d = 0; d < shape.size(); ++d) {
    if ((*blocks)[d] == 1) {
      ++ones;
      axis = int64_t(d);
    } else if ((*blocks)[d] == shape[d]) {
      ++fulls;
    }
    if ((*blocks)[d] > 1) {
      groupAxes.push_back(int64_t(d));
      groupSizes.push_back((*blocks)[d]);
    }
  }
  if (fulls == int64_t(shape.size()))
    granularity = Granularity::PerTensor;
  else if (ones == 1 && fulls == int64_t(shape.size()) - 1)
    granularity = Granularity::PerAxis;
  if (granularity != Granularity::PerGroup) {
    groupAxes.clear();
    groupSizes.clear();
  }
  auto noError = [&]() { return g.emitRemark("raw dequantize: "); };
  MLIRContext *ctx = g.getContext();
  SchemeAttr scheme;
  {
    ScopedDiagnosticHandler quiet(ctx, [](Diagnostic &) { return success(); });
    scheme = getSchemeAttr(
        noError, ctx, element, Float32Type::get(ctx), granularity,
        granularity == Granularity::PerAxis ? axis : 0, groupAxes, groupSizes);
  }
  if (!scheme)
    return false;
  auto qType = QTensorType::get(ctx, shape, scheme);

  // Quantized tensor with exactly these codes: static quantization of the
  // dequantized values under the given scales and zero points, checked.
  FailureOr<nx::Scheme> ns;
  {
    ScopedDiagnosticHandler quiet(ctx, [](Diagnostic &) { return success(); });
    ns = toNumericsScheme(qType, noError);
  }
  if (failed(ns))
    return false;
  nx::QTensor q;
  q.scheme = *ns;
  q.shape.assign(shape.begin(), shape.end());
  std::vector<int64_t> sshape = q.scaleShape();
  int64_t nb = 1;
  for (int64_t v : sshape)
    nb *= v;
  if (int64_t(s.size()) != nb || (zps && int64_t(z.size()) != nb))
    return false;
  for (float v : s) {
    uint8_t bytes[4];
    if (scaleElem.isF32()) {
      std::memcpy(bytes, &v, 4);
      q.scales.insert(q.scales.end(), bytes, bytes + 4);
    } else {
      uint16_t h = scaleElem.isF16() ? nx::floatToHalfBits(v)
                                     : nx::floatToBFloat16Bits(v);
      q.scales.push_back(uint8_t(h));
      q.scales.push_back(uint8_t(h >> 8));
    }
  }
  if (!element.symmetric)
    q.zeroPoints = zps ? z : std::vector<int32_t>(size_t(nb), 0);
  std::vector<float> values(c.size()), back(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    // Block of element i: row-major over the per-dimension block counts.
    int64_t rem = int64_t(i), b = 0, stride = 1;
    std::vector<int64_t> idx(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    for (size_t d = shape.size(); d-- > 0;) {
      b += (idx[d] / (*blocks)[d]) * stride;
      stride *= shape[d] / (*blocks)[d];
    }
    float zf = zps ? float(z[size_t(b)]) : 0.0f;
    values[i] = (float(c[i]) - zf) * q.scaleAt(b);
  }
  if (!nx::quantizeStatic(values.data(), q).ok() ||
      !nx::dequantize(q, back.data()).ok() ||
      std::memcmp(values.data(), back.data(), values.size() * sizeof(float)))
    return false; // not exactly representable: leave the IR as it is
  OpBuilder b(g);
  ConstantOp qc = createQuantizedConstant(b, g.getLoc(), qType, q, "raised");
  auto dq = DequantizeOp::create(b, g.getLoc(), outType, qc);
  g.getResult(0).replaceAllUsesWith(dq.getResult());
  g.erase();
  return true;
}

/// The quantized value behind `v` when `v` is a lowbit.dequantize to f32
/// (qmatmul accumulates and returns f32), else `v` itself.
Value quantizedSource(Value v, bool &quantized) {
  auto dq = v.getDefiningOp<DequantizeOp>();
  quantized = dq && dq.getResult().getType().getElementType().isF32();
  return quantized ? dq.getInput() : v;
}

struct LowbitFuseDequantMatmulPass
    : mlir::lowbit::impl::LowbitFuseDequantMatmulBase<
          LowbitFuseDequantMatmulPass> {
  void runOnOperation() override {
    // Plain-IR dequantization of constants (extui/uitofp/subf/mulf in a
    // linalg.generic) becomes lowbit.dequantize of a lowbit.constant first.
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp g) { generics.push_back(g); });
    for (linalg::GenericOp g : generics)
      (void)raiseRawDequant(g);

    // Match each op when it is rewritten: fusing one site replaces values
    // (and erases ops) that a later site may use.
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (matchContraction(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      std::optional<Contraction> site = matchContraction(op);
      if (!site)
        continue;
      Contraction &c = *site;
      auto resultType = cast<RankedTensorType>(c.op->getResult(0).getType());
      if (!resultType.getElementType().isF32())
        continue;
      bool qa, qb;
      Value lhs = quantizedSource(c.lhs, qa);
      Value rhs = quantizedSource(c.rhs, qb);
      if (!qa && !qb)
        continue;
      // A float operand of qmatmul must be f32 too.
      if ((!qa &&
           !cast<RankedTensorType>(lhs.getType()).getElementType().isF32()) ||
          (!qb &&
           !cast<RankedTensorType>(rhs.getType()).getElementType().isF32()))
        continue;
      OpBuilder b(c.op);
      auto mm = QMatmulOp::create(b, c.op->getLoc(), resultType, lhs, rhs,
                                  c.transposeB);
      c.op->getResult(0).replaceAllUsesWith(mm.getResult());
      Value init = c.op.getDpsInits()[0];
      c.op->erase();
      for (Value v : {c.lhs, c.rhs, init}) {
        Operation *def = v.getDefiningOp();
        if (!def || !def->use_empty() ||
            !isa<DequantizeOp, linalg::FillOp>(def))
          continue;
        Operation *dest = isa<linalg::FillOp>(def)
                              ? def->getOperand(1).getDefiningOp()
                              : nullptr;
        def->erase();
        if (dest && dest->use_empty() && isa<tensor::EmptyOp>(dest))
          dest->erase();
      }
    }
  }
};

} // namespace
