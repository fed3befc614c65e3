//===- NumericsBridge.h - lowbit IR <-> numerics library --------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What passes need to hand weights to the numerics library (plain C++,
// include/lowbit/Numerics) and to put its results back into IR: the
// library's view of a `!lowbit.qtensor` type, the float values of a
// constant, and a `lowbit.constant` built from a numerics::QTensor.
// Its own library (LowbitNumericsBridge: the dialect + Numerics) that the
// quantization passes and weight packing link without linking each other.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_NUMERICSBRIDGE_H
#define LOWBIT_DIALECT_NUMERICSBRIDGE_H

#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Numerics/Numerics.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributeInterfaces.h"

#include <vector>

namespace mlir::lowbit {

/// The element format, scale type and options of `scheme` as a
/// numerics::Scheme without block sizes (those need a shape).
FailureOr<::lowbit::numerics::Scheme>
toNumericsElement(SchemeAttr scheme,
                  function_ref<InFlightDiagnostic()> emitError);

/// The inverse of toNumericsElement: the `#lowbit.scheme` with `element`'s
/// format, scale type and options, expressed type `expressed` and the
/// given granularity (a granularity with ScaleType::None takes f32
/// scales); null after reporting through `emitError` when the dialect
/// rejects it.
SchemeAttr getSchemeAttr(function_ref<InFlightDiagnostic()> emitError,
                         MLIRContext *ctx,
                         const ::lowbit::numerics::Scheme &element,
                         Type expressed, Granularity granularity,
                         int64_t axis = 0, ArrayRef<int64_t> groupAxes = {},
                         ArrayRef<int64_t> groupSizes = {});

/// The numerics::Scheme of `type` (its shape fixes the block sizes).
FailureOr<::lowbit::numerics::Scheme>
toNumericsScheme(QTensorType type,
                 function_ref<InFlightDiagnostic()> emitError);

/// The values of a float elements attribute (f32, f16 or bf16; dense or
/// dense_resource), row-major, as f32.
FailureOr<std::vector<float>>
readFloatElements(ElementsAttr attr,
                  function_ref<InFlightDiagnostic()> emitError);

/// An elements attribute of `type` over little-endian `bytes`: inline when
/// at most `inlineLimit` bytes, else a dense_resource blob named `name`.
ElementsAttr createElementsAttr(RankedTensorType type, ArrayRef<char> bytes,
                                StringRef name, size_t inlineLimit = 1024);

/// An arith.constant of `type` holding `bytes` (a layout packed at compile
/// time: int8 panels, mma-b tiles), created right after `after` so that it
/// dominates every use of `after`'s result.
Value createBytesConstantAfter(Operation *after, RankedTensorType type,
                               ArrayRef<uint8_t> bytes, StringRef name);

/// A `lowbit.constant` of type `type` holding the parts of `q` (which must
/// have been quantized with toNumericsScheme(type)). Parts larger than
/// `inlineLimit` bytes become dense_resource blobs named `name`,
/// `name`_scales, ...; smaller ones stay inline.
ConstantOp createQuantizedConstant(OpBuilder &b, Location loc, QTensorType type,
                                   const ::lowbit::numerics::QTensor &q,
                                   StringRef name, size_t inlineLimit = 1024);

/// The numerics::QTensor of a `lowbit.constant` (parts dense, splat or
/// dense_resource), the inverse of createQuantizedConstant.
FailureOr<::lowbit::numerics::QTensor>
readQuantizedConstant(ConstantOp op,
                      function_ref<InFlightDiagnostic()> emitError);

} // namespace mlir::lowbit

#endif // LOWBIT_DIALECT_NUMERICSBRIDGE_H
