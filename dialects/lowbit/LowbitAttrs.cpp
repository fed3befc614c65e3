//===- LowbitAttrs.cpp - scheme attribute and qtensor type ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Parsing, printing and verification of #lowbit.scheme and !lowbit.qtensor.
// Constraint ids ([LB-S*], [LB-T*]) refer to docs/Spec.md.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Numerics/Numerics.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/LowbitAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/LowbitTypes.cpp.inc"

void LowbitDialect::registerAttributesAndTypes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "lowbit/Dialect/LowbitAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "lowbit/Dialect/LowbitTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// GGUF block geometry
//===----------------------------------------------------------------------===//

// The geometry is the numerics library's (one table); the two enums share
// their values.
static ::lowbit::numerics::GGUFKind toNumerics(GGUFKind kind) {
  static_assert(
      int(GGUFKind::Q4_0) == int(::lowbit::numerics::GGUFKind::Q4_0) &&
          int(GGUFKind::Q5_1) == int(::lowbit::numerics::GGUFKind::Q5_1) &&
          int(GGUFKind::Q4_K) == int(::lowbit::numerics::GGUFKind::Q4_K) &&
          int(GGUFKind::MXFP4) == int(::lowbit::numerics::GGUFKind::MXFP4) &&
          int(GGUFKind::IQ4_NL) == int(::lowbit::numerics::GGUFKind::IQ4_NL) &&
          int(GGUFKind::IQ4_XS) == int(::lowbit::numerics::GGUFKind::IQ4_XS) &&
          int(GGUFKind::TQ1_0) == int(::lowbit::numerics::GGUFKind::TQ1_0) &&
          int(GGUFKind::TQ2_0) == int(::lowbit::numerics::GGUFKind::TQ2_0),
      "lowbit::GGUFKind and numerics::GGUFKind must agree");
  return ::lowbit::numerics::GGUFKind(int(kind));
}

int64_t mlir::lowbit::getGGUFBlockElements(GGUFKind kind) {
  if (kind == GGUFKind::None)
    return 1;
  return ::lowbit::numerics::ggufBlockSize(toNumerics(kind));
}

int64_t mlir::lowbit::getGGUFBlockBytes(GGUFKind kind) {
  if (kind == GGUFKind::None)
    return 1;
  return ::lowbit::numerics::ggufBlockBytes(toNumerics(kind));
}

//===----------------------------------------------------------------------===//
// SchemeAttr
//===----------------------------------------------------------------------===//

static bool isElementFloat(Type t) {
  return isa<Float8E4M3FNType, Float8E5M2Type, Float6E2M3FNType,
             Float6E3M2FNType, Float4E2M1FNType>(t);
}

unsigned SchemeAttr::getStorageWidth() const {
  if (isGGUF())
    return 0;
  return getStorageType().getIntOrFloatBitWidth();
}

bool SchemeAttr::isInteger() const {
  return !isGGUF() && isa<IntegerType>(getStorageType());
}

bool SchemeAttr::isFloat() const {
  return !isGGUF() && isElementFloat(getStorageType());
}

SchemeAttr SchemeAttr::withExpressedType(Type expressed) const {
  return SchemeAttr::get(getContext(), getStorageType(), expressed,
                         getGranularity(), getAxis(), getGroupAxes(),
                         getGroupSizes(), getSymmetric(), getFullRange(),
                         getTernary(), getScaleType(), getTensorScale(),
                         getRounding(), getSaturate(), getGguf());
}

int64_t SchemeAttr::getQMin() const {
  auto it = cast<IntegerType>(getStorageType());
  unsigned w = it.getWidth();
  if (it.isUnsigned())
    return 0;
  int64_t qmax = (int64_t(1) << (w - 1)) - 1;
  if (getSymmetric() && !getFullRange())
    return -qmax;
  return -qmax - 1;
}

int64_t SchemeAttr::getQMax() const {
  auto it = cast<IntegerType>(getStorageType());
  unsigned w = it.getWidth();
  if (it.isUnsigned())
    return (int64_t(1) << w) - 1;
  return (int64_t(1) << (w - 1)) - 1;
}

LogicalResult SchemeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 Type storageType, Type expressedType,
                                 Granularity granularity, int64_t axis,
                                 ArrayRef<int64_t> groupAxes,
                                 ArrayRef<int64_t> groupSizes, bool symmetric,
                                 bool fullRange, bool ternary, Type scaleType,
                                 bool tensorScale, Rounding rounding,
                                 bool saturate, GGUFKind gguf) {
  if (!storageType)
    return emitError() << "[LB-S1] missing element format";
  bool isInt = isa<IntegerType>(storageType);
  bool isFlt = isElementFloat(storageType);
  if (gguf == GGUFKind::None) {
    if (isInt) {
      unsigned w = storageType.getIntOrFloatBitWidth();
      if (w < 2 || w > 8)
        return emitError() << "[LB-S1] integer element format must have 2 to "
                              "8 bits, got "
                           << storageType;
    } else if (!isFlt) {
      return emitError()
             << "[LB-S1] element format must be an integer of 2 to 8 bits or "
                "one of f8E4M3FN, f8E5M2, f6E2M3FN, f6E3M2FN, f4E2M1FN, got "
             << storageType;
    }
  }
  if (!expressedType ||
      !isa<Float32Type, Float16Type, BFloat16Type>(expressedType))
    return emitError()
           << "[LB-S2] expressed type must be f32, f16 or bf16, got "
           << expressedType;
  if (gguf != GGUFKind::None) {
    if (granularity != Granularity::None || !symmetric || fullRange ||
        ternary || scaleType || tensorScale || !saturate ||
        rounding != Rounding::NearestEven)
      return emitError() << "[LB-S10] a GGUF block format fixes its own "
                            "granularity, scales and rounding; only the "
                            "expressed type may be given";
    return success();
  }
  if (granularity == Granularity::None) {
    if (!isFlt)
      return emitError() << "[LB-S9] an integer element format needs a "
                            "granularity (per_tensor, per_axis or per_group)";
    if (!symmetric || fullRange || scaleType || tensorScale)
      return emitError() << "[LB-S9] an element cast without granularity has "
                            "no scales, zero points or tensor scale";
  } else {
    if (!scaleType || !isa<Float32Type, Float16Type, BFloat16Type,
                           Float8E8M0FNUType, Float8E4M3FNType>(scaleType))
      return emitError() << "[LB-S3] scale type must be f32, f16, bf16, "
                            "f8E8M0FNU or f8E4M3FN, got "
                         << scaleType;
    if (isa<Float8E8M0FNUType, Float8E4M3FNType>(scaleType)) {
      if (granularity != Granularity::PerGroup)
        return emitError() << "[LB-S3] scale type " << scaleType
                           << " requires per_group granularity";
      if (!symmetric)
        return emitError() << "[LB-S3] scale type " << scaleType
                           << " requires a symmetric scheme";
    }
    if (isa<Float8E8M0FNUType>(scaleType) && isInt &&
        (storageType.getIntOrFloatBitWidth() != 8 ||
         cast<IntegerType>(storageType).isUnsigned()))
      return emitError() << "[LB-S3] an E8M0 scale takes a float element "
                            "format or signed 8-bit integers (MXINT8)";
  }
  if (!symmetric && !isInt)
    return emitError() << "[LB-S4] asymmetric (zero points) requires an "
                          "integer element format";
  if (fullRange && (!isInt || !symmetric || ternary ||
                    cast<IntegerType>(storageType).isUnsigned()))
    return emitError() << "[LB-S5] full_range applies only to symmetric "
                          "signed integer schemes";
  if (ternary) {
    if (!isInt || storageType.getIntOrFloatBitWidth() != 2 || !symmetric)
      return emitError() << "[LB-S6] ternary is symmetric with 2-bit codes";
    if (!isa_and_nonnull<Float32Type>(scaleType))
      return emitError() << "[LB-S6] ternary takes f32 scales";
  }
  if (isInt && cast<IntegerType>(storageType).isUnsigned() && symmetric)
    return emitError() << "[LB-S4] unsigned integer codes require an "
                          "asymmetric scheme";
  if (granularity == Granularity::PerAxis && axis < 0)
    return emitError() << "[LB-S7] per_axis axis must be non-negative, got "
                       << axis;
  if (granularity == Granularity::PerGroup) {
    if (groupAxes.empty() || groupAxes.size() != groupSizes.size())
      return emitError() << "[LB-S7] per_group needs at least one axis : size";
    for (size_t i = 0; i < groupAxes.size(); ++i) {
      if (groupAxes[i] < 0 || (i > 0 && groupAxes[i] <= groupAxes[i - 1]))
        return emitError() << "[LB-S7] per_group axes must be non-negative "
                              "and strictly increasing";
      if (groupSizes[i] < 1)
        return emitError() << "[LB-S7] group size must be positive, got "
                           << groupSizes[i];
    }
  } else if (!groupAxes.empty() || !groupSizes.empty()) {
    return emitError() << "[LB-S7] group sizes given without per_group";
  }
  if (tensorScale && !isa_and_nonnull<Float8E4M3FNType>(scaleType))
    return emitError() << "[LB-S8] tensor_scale requires scale = f8E4M3FN";
  // The two-level rule (docs/Spec.md, NVFP4) divides by the E2M1 maximum 6
  // and needs the tensor scale: E4M3 block scales mean exactly NVFP4.
  if (isa_and_nonnull<Float8E4M3FNType>(scaleType) &&
      (!tensorScale || !isa<Float4E2M1FNType>(storageType)))
    return emitError() << "[LB-S8] scale = f8E4M3FN (two-level NVFP4 "
                          "scaling) requires element f4E2M1FN and "
                          "tensor_scale";
  if (!saturate && !isa<Float8E4M3FNType, Float8E5M2Type>(storageType))
    return emitError() << "[LB-S11] no_saturate applies only to f8E4M3FN and "
                          "f8E5M2 (other formats always saturate)";
  return success();
}

FailureOr<SchemeAttr> SchemeAttr::parseBody(AsmParser &p) {
  MLIRContext *ctx = p.getContext();
  SMLoc loc = p.getCurrentLocation();
  Type storage;
  GGUFKind gguf = GGUFKind::None;
  bool ternary = false;
  if (succeeded(p.parseOptionalKeyword("ternary"))) {
    storage = IntegerType::get(ctx, 2);
    ternary = true;
  } else if (succeeded(p.parseOptionalKeyword("gguf"))) {
    StringRef name;
    SMLoc nameLoc = p.getCurrentLocation();
    if (p.parseLess() || p.parseKeyword(&name) || p.parseGreater())
      return failure();
    std::optional<GGUFKind> kind = symbolizeGGUFKind(name);
    if (!kind || *kind == GGUFKind::None)
      return p.emitError(nameLoc)
             << "unknown GGUF block format '" << name << "'";
    gguf = *kind;
    storage = IntegerType::get(ctx, 8);
  } else if (p.parseType(storage)) {
    return failure();
  }
  Type expressed = Float32Type::get(ctx);
  if (succeeded(p.parseOptionalColon()) && p.parseType(expressed))
    return failure();

  Granularity granularity = Granularity::None;
  int64_t axis = 0;
  SmallVector<int64_t> groupAxes, groupSizes;
  bool symmetric = true, fullRange = false, tensorScale = false,
       saturate = true;
  Type scaleType;
  Rounding rounding = Rounding::NearestEven;
  llvm::StringSet<> seen;
  while (succeeded(p.parseOptionalComma())) {
    StringRef kw;
    SMLoc kwLoc = p.getCurrentLocation();
    if (p.parseKeyword(&kw))
      return failure();
    // Each option at most once; the three granularities count as one.
    StringRef key = kw.starts_with("per_") ? StringRef("granularity") : kw;
    if (!seen.insert(key).second)
      return p.emitError(kwLoc)
             << "scheme option '" << kw << "' repeats a "
             << (key == "granularity" ? "granularity" : "previous option");
    if (kw == "per_tensor") {
      granularity = Granularity::PerTensor;
    } else if (kw == "per_axis") {
      granularity = Granularity::PerAxis;
      if (p.parseLess() || p.parseInteger(axis) || p.parseGreater())
        return failure();
    } else if (kw == "per_group") {
      granularity = Granularity::PerGroup;
      if (p.parseLess() || p.parseLSquare())
        return failure();
      do {
        int64_t a = 0, s = 0;
        if (p.parseInteger(a) || p.parseColon() || p.parseInteger(s))
          return failure();
        groupAxes.push_back(a);
        groupSizes.push_back(s);
      } while (succeeded(p.parseOptionalComma()));
      if (p.parseRSquare() || p.parseGreater())
        return failure();
    } else if (kw == "asymmetric") {
      symmetric = false;
    } else if (kw == "full_range") {
      fullRange = true;
    } else if (kw == "tensor_scale") {
      tensorScale = true;
    } else if (kw == "no_saturate") {
      saturate = false;
    } else if (kw == "scale") {
      if (p.parseEqual() || p.parseType(scaleType))
        return failure();
    } else if (kw == "round") {
      StringRef mode;
      SMLoc modeLoc = p.getCurrentLocation();
      if (p.parseEqual() || p.parseKeyword(&mode))
        return failure();
      std::optional<Rounding> r = symbolizeRounding(mode);
      if (!r)
        return p.emitError(modeLoc)
               << "unknown rounding mode '" << mode
               << "' (expected nearest_even or nearest_away)";
      rounding = *r;
    } else {
      return p.emitError(kwLoc) << "unknown scheme option '" << kw << "'";
    }
  }
  if (granularity != Granularity::None && !scaleType)
    scaleType = Float32Type::get(ctx);
  auto emitError = [&] { return p.emitError(loc); };
  SchemeAttr attr = SchemeAttr::getChecked(
      emitError, ctx, storage, expressed, granularity, axis, groupAxes,
      groupSizes, symmetric, fullRange, ternary, scaleType, tensorScale,
      rounding, saturate, gguf);
  if (!attr)
    return failure();
  return attr;
}

void SchemeAttr::printBody(AsmPrinter &p) const {
  if (isGGUF())
    p << "gguf<" << stringifyGGUFKind(getGguf()) << ">";
  else if (getTernary())
    p << "ternary";
  else
    p << getStorageType();
  if (!isa<Float32Type>(getExpressedType()))
    p << " : " << getExpressedType();
  switch (getGranularity()) {
  case Granularity::None:
    break;
  case Granularity::PerTensor:
    p << ", per_tensor";
    break;
  case Granularity::PerAxis:
    p << ", per_axis<" << getAxis() << ">";
    break;
  case Granularity::PerGroup: {
    p << ", per_group<[";
    for (size_t i = 0; i < getGroupAxes().size(); ++i) {
      if (i)
        p << ", ";
      p << getGroupAxes()[i] << " : " << getGroupSizes()[i];
    }
    p << "]>";
    break;
  }
  }
  if (!getSymmetric())
    p << ", asymmetric";
  if (getFullRange())
    p << ", full_range";
  if (getScaleType() && !isa<Float32Type>(getScaleType()))
    p << ", scale = " << getScaleType();
  if (getTensorScale())
    p << ", tensor_scale";
  if (getRounding() != Rounding::NearestEven)
    p << ", round = " << stringifyRounding(getRounding());
  if (!getSaturate())
    p << ", no_saturate";
}

Attribute SchemeAttr::parse(AsmParser &p, Type) {
  if (p.parseLess())
    return {};
  FailureOr<SchemeAttr> attr = parseBody(p);
  if (failed(attr) || p.parseGreater())
    return {};
  return *attr;
}

void SchemeAttr::print(AsmPrinter &p) const {
  p << "<";
  printBody(p);
  p << ">";
}

//===----------------------------------------------------------------------===//
// QTensorType
//===----------------------------------------------------------------------===//

LogicalResult QTensorType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, SchemeAttr scheme) {
  if (!scheme)
    return emitError() << "missing scheme";
  if (shape.empty())
    return emitError() << "[LB-T1] a quantized tensor has rank >= 1";
  for (int64_t d : shape)
    if (ShapedType::isDynamic(d) || d < 1)
      return emitError() << "[LB-T1] every dimension must be static and at "
                            "least 1";
  int64_t rank = shape.size();
  if (scheme.getGranularity() == Granularity::PerAxis &&
      scheme.getAxis() >= rank)
    return emitError() << "[LB-T2] per_axis axis " << scheme.getAxis()
                       << " out of range for rank " << rank;
  if (scheme.getGranularity() == Granularity::PerGroup) {
    for (auto [a, g] :
         llvm::zip_equal(scheme.getGroupAxes(), scheme.getGroupSizes())) {
      if (a >= rank)
        return emitError() << "[LB-T3] group axis " << a
                           << " out of range for rank " << rank;
      if (shape[a] % g != 0)
        return emitError() << "[LB-T3] group size " << g
                           << " does not divide dimension " << a << " of size "
                           << shape[a];
    }
  }
  if (scheme.isGGUF()) {
    int64_t block = getGGUFBlockElements(scheme.getGguf());
    if (shape.back() % block != 0)
      return emitError() << "[LB-T4] GGUF "
                         << stringifyGGUFKind(scheme.getGguf())
                         << " needs the last dimension to be a multiple of "
                         << block << ", got " << shape.back();
  }
  return success();
}

Type QTensorType::parse(AsmParser &p) {
  SMLoc loc = p.getCurrentLocation();
  SmallVector<int64_t> shape;
  if (p.parseLess() || p.parseDimensionList(shape, /*allowDynamic=*/true,
                                            /*withTrailingX=*/true))
    return {};
  FailureOr<SchemeAttr> scheme = SchemeAttr::parseBody(p);
  if (failed(scheme) || p.parseGreater())
    return {};
  return QTensorType::getChecked([&] { return p.emitError(loc); },
                                 p.getContext(), shape, *scheme);
}

void QTensorType::print(AsmPrinter &p) const {
  p << "<";
  for (int64_t d : getShape())
    p << d << "x";
  getScheme().printBody(p);
  p << ">";
}

int64_t QTensorType::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : getShape())
    n *= d;
  return n;
}

SmallVector<int64_t> QTensorType::getBlockSizes() const {
  SchemeAttr s = getScheme();
  SmallVector<int64_t> blocks(getShape());
  switch (s.getGranularity()) {
  case Granularity::None:
    blocks.assign(getRank(), 1);
    break;
  case Granularity::PerTensor:
    break;
  case Granularity::PerAxis:
    blocks[s.getAxis()] = 1;
    break;
  case Granularity::PerGroup:
    blocks.assign(getRank(), 1);
    for (auto [a, g] : llvm::zip_equal(s.getGroupAxes(), s.getGroupSizes()))
      blocks[a] = g;
    break;
  }
  return blocks;
}

SmallVector<int64_t> QTensorType::getScaleShape() const {
  SchemeAttr s = getScheme();
  switch (s.getGranularity()) {
  case Granularity::None:
  case Granularity::PerTensor:
    return {};
  case Granularity::PerAxis:
    return {getShape()[s.getAxis()]};
  case Granularity::PerGroup: {
    SmallVector<int64_t> shape(getShape());
    for (auto [a, g] : llvm::zip_equal(s.getGroupAxes(), s.getGroupSizes()))
      shape[a] /= g;
    return shape;
  }
  }
  return {};
}

RankedTensorType QTensorType::getCodesType() const {
  SchemeAttr s = getScheme();
  SmallVector<int64_t> shape(getShape());
  int64_t last = shape.back();
  if (s.isGGUF()) {
    last = last / getGGUFBlockElements(s.getGguf()) *
           getGGUFBlockBytes(s.getGguf());
  } else {
    unsigned w = s.getStorageWidth();
    if (w == 1 || w == 2 || w == 4) {
      int64_t perByte = 8 / w;
      last = (last + perByte - 1) / perByte;
    }
  }
  shape.back() = last;
  return RankedTensorType::get(shape, IntegerType::get(getContext(), 8));
}

RankedTensorType QTensorType::getScalesType() const {
  if (!getScheme().hasScales())
    return {};
  return RankedTensorType::get(getScaleShape(), getScheme().getScaleType());
}

RankedTensorType QTensorType::getZeroPointsType() const {
  if (!getScheme().hasScales() || getScheme().getSymmetric())
    return {};
  return RankedTensorType::get(getScaleShape(),
                               IntegerType::get(getContext(), 32));
}

RankedTensorType QTensorType::getTensorScaleType() const {
  if (!getScheme().getTensorScale())
    return {};
  return RankedTensorType::get({}, Float32Type::get(getContext()));
}

void QTensorType::getPartTypes(SmallVectorImpl<Type> &types) const {
  types.push_back(getCodesType());
  if (RankedTensorType t = getScalesType())
    types.push_back(t);
  if (RankedTensorType t = getZeroPointsType())
    types.push_back(t);
  if (RankedTensorType t = getTensorScaleType())
    types.push_back(t);
}

RankedTensorType QTensorType::getExpressedTensorType() const {
  return RankedTensorType::get(getShape(), getScheme().getExpressedType());
}
