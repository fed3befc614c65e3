//===- OperandScheme.cpp - a scheme before its operand is known -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See OperandScheme.h. The text form is read by the dialect's own scheme
// parser: the axis names become placeholder dimensions, which the parsed
// attribute's axes are mapped back from.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/OperandScheme.h"

#include "lowbit/Dialect/NumericsBridge.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <numeric>

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {
/// Placeholder dimensions of the axis names while the dialect parses the
/// text; ordered out < in < last so that `per_group<[out : 1, in : 32]>`
/// is in the dialect's increasing order.
constexpr int64_t kRoleBase = int64_t(1) << 40;
constexpr std::pair<const char *, SchemeAxis::Role> kRoles[] = {
    {"out", SchemeAxis::Role::Out},
    {"in", SchemeAxis::Role::In},
    {"last", SchemeAxis::Role::Last}};

SchemeAxis fromPlaceholder(int64_t axis) {
  if (axis < kRoleBase)
    return SchemeAxis::at(axis);
  return {kRoles[axis - kRoleBase].second, 0};
}

/// The MLIR spelling of a float element or scale format.
const char *mlirName(nx::ElementType type) {
  switch (type) {
  case nx::ElementType::F16:
    return "f16";
  case nx::ElementType::BF16:
    return "bf16";
  case nx::ElementType::F8E4M3FN:
    return "f8E4M3FN";
  case nx::ElementType::F8E5M2:
    return "f8E5M2";
  case nx::ElementType::F6E2M3FN:
    return "f6E2M3FN";
  case nx::ElementType::F6E3M2FN:
    return "f6E3M2FN";
  case nx::ElementType::F4E2M1FN:
    return "f4E2M1FN";
  case nx::ElementType::F8E8M0FNU:
    return "f8E8M0FNU";
  }
  return "?";
}

void printAxis(llvm::raw_ostream &os, const SchemeAxis &axis) {
  switch (axis.role) {
  case SchemeAxis::Role::Index:
    os << axis.index;
    return;
  case SchemeAxis::Role::In:
    os << "in";
    return;
  case SchemeAxis::Role::Out:
    os << "out";
    return;
  case SchemeAxis::Role::Last:
    os << "last";
    return;
  }
}
} // namespace

int64_t SchemeAxis::resolve(int64_t inAxis, int64_t outAxis,
                            int64_t rank) const {
  switch (role) {
  case Role::Index:
    return index;
  case Role::In:
    return inAxis;
  case Role::Out:
    return outAxis;
  case Role::Last:
    return rank - 1;
  }
  return index;
}

nx::Scheme OperandScheme::intElement(unsigned bits) {
  nx::Scheme s;
  s.kind = nx::ElementKind::Int;
  s.bits = bits;
  s.scale = nx::ScaleType::F32;
  return s;
}

nx::Scheme OperandScheme::floatElement(nx::ElementType type) {
  nx::Scheme s;
  s.kind = nx::ElementKind::MiniFloat;
  s.minifloat = type;
  s.scale = nx::ScaleType::F32;
  return s;
}

OperandScheme OperandScheme::perTensor(nx::Scheme element) {
  OperandScheme s;
  s.element = std::move(element);
  s.granularity = Granularity::PerTensor;
  return s;
}

OperandScheme OperandScheme::perAxis(nx::Scheme element, SchemeAxis axis) {
  OperandScheme s = perTensor(std::move(element));
  s.granularity = Granularity::PerAxis;
  s.axes = {axis};
  return s;
}

OperandScheme OperandScheme::perGroup(nx::Scheme element, SchemeAxis axis,
                                      int64_t size) {
  OperandScheme s = perAxis(std::move(element), axis);
  s.granularity = Granularity::PerGroup;
  s.groupSizes = {size};
  return s;
}

FailureOr<OperandScheme>
OperandScheme::parse(MLIRContext *ctx, StringRef text,
                     function_ref<InFlightDiagnostic()> emitError) {
  // The axis names, wherever an axis may stand (after `<`, `[` or `,`),
  // become placeholder dimensions.
  std::string body;
  StringRef rest = text;
  while (!rest.empty()) {
    size_t pos = rest.find_first_of("<[,:");
    if (pos == StringRef::npos) {
      body += rest.str();
      break;
    }
    body += rest.take_front(pos + 1).str();
    rest = rest.drop_front(pos + 1);
    StringRef trimmed = rest.ltrim();
    body += std::string(rest.size() - trimmed.size(), ' ');
    rest = trimmed;
    for (auto [i, role] : llvm::enumerate(kRoles)) {
      StringRef name = role.first;
      if (rest.starts_with(name) &&
          (rest.size() == name.size() || !llvm::isAlnum(rest[name.size()]))) {
        body += std::to_string(kRoleBase + int64_t(i));
        rest = rest.drop_front(name.size());
        break;
      }
    }
  }
  std::string full = "#lowbit.scheme<" + body + ">";
  // The parser reports at a location inside the option string, not in the
  // IR: capture its message and attach it to the caller's diagnostic.
  std::string parserMessage;
  size_t numRead = 0;
  Attribute attr;
  {
    ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
      if (parserMessage.empty())
        parserMessage = diag.str();
      return success();
    });
    attr = parseAttribute(full, ctx, Type(), &numRead);
  }
  auto scheme = dyn_cast_or_null<SchemeAttr>(attr);
  auto fail = [&]() -> InFlightDiagnostic {
    InFlightDiagnostic diag = emitError();
    diag << "invalid scheme '" << text << "'";
    return diag;
  };
  if (!scheme || numRead != full.size()) {
    InFlightDiagnostic diag = fail();
    if (!parserMessage.empty())
      diag << ": " << parserMessage;
    return failure();
  }
  if (!isa<Float32Type>(scheme.getExpressedType())) {
    fail() << ": the expressed type is the operand's own, not part of a "
              "scheme option";
    return failure();
  }
  FailureOr<nx::Scheme> element = toNumericsElement(scheme, [&]() {
    InFlightDiagnostic diag = fail();
    diag << ": ";
    return diag;
  });
  if (failed(element))
    return failure();
  OperandScheme s;
  s.element = std::move(*element);
  s.granularity = scheme.getGranularity();
  if (s.granularity == Granularity::PerAxis)
    s.axes = {fromPlaceholder(scheme.getAxis())};
  for (int64_t axis : scheme.getGroupAxes())
    s.axes.push_back(fromPlaceholder(axis));
  s.groupSizes.assign(scheme.getGroupSizes().begin(),
                      scheme.getGroupSizes().end());
  return s;
}

SchemeAttr
OperandScheme::resolve(MLIRContext *ctx, Type expressed, int64_t inAxis,
                       int64_t outAxis, int64_t rank,
                       function_ref<InFlightDiagnostic()> emitError) const {
  int64_t axis = 0;
  SmallVector<int64_t> groupAxes, sizes;
  if (granularity == Granularity::PerAxis) {
    axis = axes.front().resolve(inAxis, outAxis, rank);
  } else if (granularity == Granularity::PerGroup) {
    // The dialect wants the group axes in increasing order.
    SmallVector<size_t> order(axes.size());
    std::iota(order.begin(), order.end(), 0);
    llvm::stable_sort(order, [&](size_t a, size_t b) {
      return axes[a].resolve(inAxis, outAxis, rank) <
             axes[b].resolve(inAxis, outAxis, rank);
    });
    for (size_t i : order) {
      groupAxes.push_back(axes[i].resolve(inAxis, outAxis, rank));
      sizes.push_back(groupSizes[i]);
    }
  }
  return getSchemeAttr(emitError, ctx, element, expressed, granularity, axis,
                       groupAxes, sizes);
}

std::string OperandScheme::str() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  switch (element.kind) {
  case nx::ElementKind::GGUF:
    os << "gguf<" << stringifyGGUFKind(GGUFKind(int(element.gguf))) << ">";
    break;
  case nx::ElementKind::Ternary:
    os << "ternary";
    break;
  case nx::ElementKind::Int:
    os << (element.isSigned ? "i" : "ui") << element.bits;
    break;
  case nx::ElementKind::MiniFloat:
    os << mlirName(element.minifloat);
    break;
  }
  switch (granularity) {
  case Granularity::None:
    break;
  case Granularity::PerTensor:
    os << ", per_tensor";
    break;
  case Granularity::PerAxis:
    os << ", per_axis<";
    printAxis(os, axes.front());
    os << ">";
    break;
  case Granularity::PerGroup:
    os << ", per_group<[";
    for (size_t i = 0; i < axes.size(); ++i) {
      os << (i ? ", " : "");
      printAxis(os, axes[i]);
      os << " : " << groupSizes[i];
    }
    os << "]>";
    break;
  }
  if (element.kind == nx::ElementKind::GGUF)
    return text;
  if (!element.symmetric)
    os << ", asymmetric";
  if (element.fullRange)
    os << ", full_range";
  switch (element.scale) {
  case nx::ScaleType::None:
  case nx::ScaleType::F32:
    break;
  case nx::ScaleType::F16:
    os << ", scale = f16";
    break;
  case nx::ScaleType::BF16:
    os << ", scale = bf16";
    break;
  case nx::ScaleType::E8M0:
    os << ", scale = f8E8M0FNU";
    break;
  case nx::ScaleType::E4M3:
    os << ", scale = f8E4M3FN";
    break;
  }
  if (element.tensorScale)
    os << ", tensor_scale";
  if (element.rounding == nx::Rounding::NearestAway)
    os << ", round = nearest_away";
  if (!element.saturate)
    os << ", no_saturate";
  return text;
}
