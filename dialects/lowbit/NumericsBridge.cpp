//===- NumericsBridge.cpp - lowbit IR <-> numerics library ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// `#lowbit.scheme` to numerics::Scheme, float elements attributes to
// floats, and `lowbit.constant` to and from numerics::QTensor (parts as
// inline or dense_resource elements). See NumericsBridge.h.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/NumericsBridge.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

FailureOr<nx::Scheme>
mlir::lowbit::toNumericsElement(SchemeAttr s,
                                function_ref<InFlightDiagnostic()> emitError) {
  nx::Scheme out;
  Type storage = s.getStorageType();
  if (s.isGGUF()) {
    out.kind = nx::ElementKind::GGUF;
    out.gguf = nx::GGUFKind(int(s.getGguf())); // same values (static_assert
                                               // in LowbitAttrs.cpp)
    out.scale = nx::ScaleType::None;
    return out;
  }
  if (s.getTernary()) {
    out.kind = nx::ElementKind::Ternary;
    out.bits = 2;
  } else if (auto it = dyn_cast<IntegerType>(storage)) {
    out.kind = nx::ElementKind::Int;
    out.bits = it.getWidth();
    out.isSigned = !it.isUnsigned();
  } else {
    out.kind = nx::ElementKind::MiniFloat;
    if (isa<Float8E4M3FNType>(storage))
      out.minifloat = nx::ElementType::F8E4M3FN;
    else if (isa<Float8E5M2Type>(storage))
      out.minifloat = nx::ElementType::F8E5M2;
    else if (isa<Float6E2M3FNType>(storage))
      out.minifloat = nx::ElementType::F6E2M3FN;
    else if (isa<Float6E3M2FNType>(storage))
      out.minifloat = nx::ElementType::F6E3M2FN;
    else if (isa<Float4E2M1FNType>(storage))
      out.minifloat = nx::ElementType::F4E2M1FN;
    else {
      emitError() << "element type " << storage
                  << " is not known to the numerics library";
      return failure();
    }
  }
  if (!s.hasScales()) {
    out.scale = nx::ScaleType::None;
  } else {
    Type st = s.getScaleType();
    if (st.isF32())
      out.scale = nx::ScaleType::F32;
    else if (st.isF16())
      out.scale = nx::ScaleType::F16;
    else if (st.isBF16())
      out.scale = nx::ScaleType::BF16;
    else if (isa<Float8E8M0FNUType>(st))
      out.scale = nx::ScaleType::E8M0;
    else if (isa<Float8E4M3FNType>(st))
      out.scale = nx::ScaleType::E4M3;
    else {
      emitError() << "scale type " << st
                  << " is not known to the numerics library";
      return failure();
    }
  }
  out.tensorScale = s.getTensorScale();
  out.symmetric = s.getSymmetric();
  out.fullRange = s.getFullRange();
  out.saturate = s.getSaturate();
  out.rounding = s.getRounding() == Rounding::NearestAway
                     ? nx::Rounding::NearestAway
                     : nx::Rounding::NearestEven;
  return out;
}

SchemeAttr mlir::lowbit::getSchemeAttr(
    function_ref<InFlightDiagnostic()> emitError, MLIRContext *ctx,
    const nx::Scheme &element, Type expressed, Granularity granularity,
    int64_t axis, ArrayRef<int64_t> groupAxes, ArrayRef<int64_t> groupSizes) {
  Type storage;
  switch (element.kind) {
  case nx::ElementKind::GGUF:
    return SchemeAttr::getChecked(
        emitError, ctx, IntegerType::get(ctx, 8), expressed, Granularity::None,
        0, {}, {}, true, false, false, Type(), false, Rounding::NearestEven,
        true, GGUFKind(int(element.gguf)));
  case nx::ElementKind::Ternary:
    storage = IntegerType::get(ctx, 2);
    break;
  case nx::ElementKind::Int:
    storage = IntegerType::get(ctx, element.bits,
                               element.isSigned ? IntegerType::Signless
                                                : IntegerType::Unsigned);
    break;
  case nx::ElementKind::MiniFloat:
    switch (element.minifloat) {
    case nx::ElementType::F8E4M3FN:
      storage = Float8E4M3FNType::get(ctx);
      break;
    case nx::ElementType::F8E5M2:
      storage = Float8E5M2Type::get(ctx);
      break;
    case nx::ElementType::F6E2M3FN:
      storage = Float6E2M3FNType::get(ctx);
      break;
    case nx::ElementType::F6E3M2FN:
      storage = Float6E3M2FNType::get(ctx);
      break;
    case nx::ElementType::F4E2M1FN:
      storage = Float4E2M1FNType::get(ctx);
      break;
    default:
      emitError() << nx::elementTypeName(element.minifloat)
                  << " cannot be a quantized element";
      return {};
    }
    break;
  }
  Type scale;
  switch (element.scale) {
  case nx::ScaleType::None:
    break;
  case nx::ScaleType::F32:
    scale = Float32Type::get(ctx);
    break;
  case nx::ScaleType::F16:
    scale = Float16Type::get(ctx);
    break;
  case nx::ScaleType::BF16:
    scale = BFloat16Type::get(ctx);
    break;
  case nx::ScaleType::E8M0:
    scale = Float8E8M0FNUType::get(ctx);
    break;
  case nx::ScaleType::E4M3:
    scale = Float8E4M3FNType::get(ctx);
    break;
  }
  // A granularity without a scale type has the default (f32) scales.
  if (granularity != Granularity::None && !scale)
    scale = Float32Type::get(ctx);
  return SchemeAttr::getChecked(
      emitError, ctx, storage, expressed, granularity, axis, groupAxes,
      groupSizes, element.symmetric, element.fullRange,
      element.kind == nx::ElementKind::Ternary, scale, element.tensorScale,
      element.rounding == nx::Rounding::NearestAway ? Rounding::NearestAway
                                                    : Rounding::NearestEven,
      element.saturate, GGUFKind::None);
}

FailureOr<nx::Scheme>
mlir::lowbit::toNumericsScheme(QTensorType type,
                               function_ref<InFlightDiagnostic()> emitError) {
  SchemeAttr s = type.getScheme();
  FailureOr<nx::Scheme> out = toNumericsElement(s, emitError);
  if (failed(out))
    return failure();
  if (s.isGGUF()) {
    if (!nx::ggufSupported(out->gguf)) {
      emitError() << "GGUF " << stringifyGGUFKind(s.getGguf())
                  << " has no quantizer in the numerics library yet";
      return failure();
    }
    return out;
  }
  if (s.hasScales()) {
    SmallVector<int64_t> blocks = type.getBlockSizes();
    out->blockSizes.assign(blocks.begin(), blocks.end());
  }
  nx::Status st =
      nx::verifyScheme(*out, std::vector<int64_t>(type.getShape().begin(),
                                                  type.getShape().end()));
  if (!st.ok()) {
    emitError() << st.message();
    return failure();
  }
  return out;
}

FailureOr<std::vector<float>>
mlir::lowbit::readFloatElements(ElementsAttr attr,
                                function_ref<InFlightDiagnostic()> emitError) {
  auto type = cast<ShapedType>(attr.getType());
  Type elem = type.getElementType();
  if (!elem.isF32() && !elem.isF16() && !elem.isBF16()) {
    emitError() << "weights of element type " << elem
                << " cannot be quantized (f32, f16 or bf16 expected)";
    return failure();
  }
  int64_t n = type.getNumElements();
  std::vector<float> out(static_cast<size_t>(n));
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    ArrayRef<char> raw = res.getData();
    size_t width = elem.isF32() ? 4 : 2;
    if (raw.size() != size_t(n) * width) {
      emitError() << "dense_resource blob holds " << raw.size()
                  << " bytes, expected " << size_t(n) * width
                  << " (missing or truncated resource)";
      return failure();
    }
    for (int64_t i = 0; i < n; ++i) {
      const char *p = raw.data() + i * width;
      if (width == 4) {
        std::memcpy(&out[i], p, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, p, 2);
        out[i] =
            elem.isF16() ? nx::halfBitsToFloat(h) : nx::bfloat16BitsToFloat(h);
      }
    }
    return out;
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    int64_t i = 0;
    if (elem.isF32()) {
      for (float v : dense.getValues<float>())
        out[i++] = v;
    } else {
      for (APFloat v : dense.getValues<APFloat>()) {
        bool lost;
        v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
        out[i++] = v.convertToFloat();
      }
    }
    return out;
  }
  emitError() << "weights must be dense or dense_resource constants";
  return failure();
}

ElementsAttr mlir::lowbit::createElementsAttr(RankedTensorType type,
                                              ArrayRef<char> bytes,
                                              StringRef name,
                                              size_t inlineLimit) {
  if (bytes.size() > inlineLimit) {
    size_t align = std::max<size_t>(1, type.getElementTypeBitWidth() / 8);
    return DenseResourceElementsAttr::get(
        type, name,
        HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, align));
  }
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

Value mlir::lowbit::createBytesConstantAfter(Operation *after,
                                             RankedTensorType type,
                                             ArrayRef<uint8_t> bytes,
                                             StringRef name) {
  OpBuilder b(after);
  b.setInsertionPointAfter(after);
  ElementsAttr attr = createElementsAttr(
      type,
      ArrayRef<char>(reinterpret_cast<const char *>(bytes.data()),
                     bytes.size()),
      name);
  return arith::ConstantOp::create(b, after->getLoc(), cast<TypedAttr>(attr));
}

ConstantOp mlir::lowbit::createQuantizedConstant(OpBuilder &b, Location loc,
                                                 QTensorType type,
                                                 const nx::QTensor &q,
                                                 StringRef name,
                                                 size_t inlineLimit) {
  auto bytes = [](const auto &v) {
    return ArrayRef<char>(reinterpret_cast<const char *>(v.data()),
                          v.size() * sizeof(v[0]));
  };
  ElementsAttr codes = createElementsAttr(type.getCodesType(), bytes(q.codes),
                                          name, inlineLimit);
  ElementsAttr scales, zps, ts;
  if (RankedTensorType st = type.getScalesType())
    scales = createElementsAttr(st, bytes(q.scales), (name + "_scales").str(),
                                inlineLimit);
  if (RankedTensorType zt = type.getZeroPointsType())
    zps = createElementsAttr(zt, bytes(q.zeroPoints),
                             (name + "_zero_points").str(), inlineLimit);
  if (RankedTensorType tt = type.getTensorScaleType())
    ts = DenseElementsAttr::get(tt, q.tensorScale);
  return ConstantOp::create(b, loc, type, codes, scales, zps, ts);
}

namespace {
/// The little-endian bytes of one run-time part of a `lowbit.constant`
/// (dense, splat or dense_resource), checked against its type.
FailureOr<std::vector<char>>
readPartBytes(ElementsAttr attr, function_ref<InFlightDiagnostic()> emitError) {
  auto type = cast<ShapedType>(attr.getType());
  size_t width = (type.getElementTypeBitWidth() + 7) / 8;
  size_t n = size_t(type.getNumElements());
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    ArrayRef<char> raw = res.getData();
    if (raw.size() != n * width) {
      emitError() << "dense_resource blob holds " << raw.size()
                  << " bytes, expected " << n * width
                  << " (missing or truncated resource)";
      return failure();
    }
    return std::vector<char>(raw.begin(), raw.end());
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense || type.getElementTypeBitWidth() % 8 != 0) {
    emitError() << "quantized constant parts must be dense or dense_resource "
                   "attributes of whole bytes";
    return failure();
  }
  ArrayRef<char> raw = dense.getRawData();
  if (dense.isSplat()) {
    std::vector<char> out;
    out.reserve(n * width);
    for (size_t i = 0; i < n; ++i)
      out.insert(out.end(), raw.begin(), raw.begin() + width);
    return out;
  }
  return std::vector<char>(raw.begin(), raw.end());
}
} // namespace

FailureOr<nx::QTensor> mlir::lowbit::readQuantizedConstant(
    ConstantOp op, function_ref<InFlightDiagnostic()> emitError) {
  QTensorType type = op.getResult().getType();
  FailureOr<nx::Scheme> scheme = toNumericsScheme(type, emitError);
  if (failed(scheme))
    return failure();
  nx::QTensor q;
  q.scheme = *scheme;
  q.shape.assign(type.getShape().begin(), type.getShape().end());
  FailureOr<std::vector<char>> codes = readPartBytes(op.getCodes(), emitError);
  if (failed(codes))
    return failure();
  q.codes.assign(codes->begin(), codes->end());
  if (op.getScales()) {
    FailureOr<std::vector<char>> scales =
        readPartBytes(*op.getScales(), emitError);
    if (failed(scales))
      return failure();
    q.scales.assign(scales->begin(), scales->end());
  }
  if (op.getZeroPoints()) {
    FailureOr<std::vector<char>> zps =
        readPartBytes(*op.getZeroPoints(), emitError);
    if (failed(zps))
      return failure();
    q.zeroPoints.resize(zps->size() / 4);
    std::memcpy(q.zeroPoints.data(), zps->data(), q.zeroPoints.size() * 4);
  }
  if (op.getTensorScale()) {
    auto ts = dyn_cast<DenseElementsAttr>(*op.getTensorScale());
    if (!ts) {
      emitError() << "tensor scale must be a dense constant";
      return failure();
    }
    q.tensorScale = *ts.getValues<float>().begin();
  }
  return q;
}
