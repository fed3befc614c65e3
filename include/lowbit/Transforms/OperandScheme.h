//===- OperandScheme.h - a scheme before its operand is known ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The typed form of the quantization passes' scheme options: what a
// pipeline asks for ("int4 in groups of 128 along the reduction axis")
// before the pass meets the operand it applies to, as values rather than
// scheme text. A pass resolves it per operand: the axis roles `in` (the
// reduction axis), `out` and `last` become that operand's dimensions and
// the expressed type becomes the operand's element type. Text (`i4,
// per_group<[in : 128]>`) is parsed once, at the command line.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_TRANSFORMS_OPERANDSCHEME_H
#define LOWBIT_TRANSFORMS_OPERANDSCHEME_H

#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Numerics/Numerics.h"

#include "mlir/IR/Diagnostics.h"

#include <string>

namespace mlir::lowbit {

/// A granularity axis: a fixed dimension, or a role resolved per operand.
struct SchemeAxis {
  enum class Role : uint8_t { Index, In, Out, Last };
  Role role = Role::Index;
  /// The dimension, for Role::Index.
  int64_t index = 0;

  static SchemeAxis at(int64_t index) { return {Role::Index, index}; }
  static SchemeAxis in() { return {Role::In, 0}; }
  static SchemeAxis out() { return {Role::Out, 0}; }
  static SchemeAxis last() { return {Role::Last, 0}; }

  /// The dimension this axis names in an operand of rank `rank` whose
  /// reduction axis is `inAxis` and output axis `outAxis`.
  int64_t resolve(int64_t inAxis, int64_t outAxis, int64_t rank) const;
  bool operator==(const SchemeAxis &o) const {
    return role == o.role && index == o.index;
  }
};

/// A quantization scheme for operands not known yet.
struct OperandScheme {
  /// Element format, scale type and options (blockSizes unused).
  ::lowbit::numerics::Scheme element;
  Granularity granularity = Granularity::None;
  /// PerAxis: the one axis. PerGroup: the group axes, with groupSizes.
  SmallVector<SchemeAxis, 2> axes;
  SmallVector<int64_t, 2> groupSizes;

  /// Signed integer codes of `bits` bits, symmetric, f32 scales.
  static ::lowbit::numerics::Scheme intElement(unsigned bits);
  /// A float element format, f32 scales.
  static ::lowbit::numerics::Scheme
  floatElement(::lowbit::numerics::ElementType type);

  static OperandScheme perTensor(::lowbit::numerics::Scheme element);
  static OperandScheme perAxis(::lowbit::numerics::Scheme element,
                               SchemeAxis axis);
  static OperandScheme perGroup(::lowbit::numerics::Scheme element,
                                SchemeAxis axis, int64_t size);

  /// Parses the text form: a `#lowbit.scheme` body whose axes may be the
  /// names `in`, `out` and `last`. Reports through `emitError` as
  /// "invalid scheme 'TEXT': <the dialect's message>".
  static FailureOr<OperandScheme>
  parse(MLIRContext *ctx, StringRef text,
        function_ref<InFlightDiagnostic()> emitError);

  /// The scheme of an operand of rank `rank` and element type `expressed`;
  /// per_group axes are ordered by dimension. Null after reporting through
  /// `emitError` when the dialect rejects the result.
  SchemeAttr resolve(MLIRContext *ctx, Type expressed, int64_t inAxis,
                     int64_t outAxis, int64_t rank,
                     function_ref<InFlightDiagnostic()> emitError) const;

  /// The text form, which parse() reads back to an equal scheme.
  std::string str() const;
};

} // namespace mlir::lowbit

#endif // LOWBIT_TRANSFORMS_OPERANDSCHEME_H
