//===- LowbitDialect.cpp - lowbit dialect registration ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/Dialect/LowbitDialect.cpp.inc"
#include "lowbit/Dialect/LowbitEnums.cpp.inc"

void LowbitDialect::initialize() {
  registerAttributesAndTypes();
  addOperations<
#define GET_OP_LIST
#include "lowbit/Dialect/LowbitOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Discardable attributes (docs/Spec.md, LB-A1 to LB-A6)
//===----------------------------------------------------------------------===//

static LogicalResult unknownAttribute(Operation *op, NamedAttribute attr,
                                      StringRef where) {
  return op->emitOpError("unknown lowbit attribute '")
         << attr.getName().getValue() << "' " << where;
}

LogicalResult LowbitDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == TiedResultsAttrHelper::getNameStr()) {
    auto fn = dyn_cast<FunctionOpInterface>(op);
    auto tied = dyn_cast<ArrayAttr>(attr.getValue());
    if (!fn || !tied)
      return op->emitOpError("[LB-A2] ")
             << name << " is an array of integers on a function";
    for (Attribute a : tied) {
      auto i = dyn_cast<IntegerAttr>(a);
      if (!i || i.getInt() < -1 || i.getInt() >= int64_t(fn.getNumArguments()))
        return op->emitOpError("[LB-A2] ")
               << name << " entries are -1 or an argument index, got " << a;
    }
    return success();
  }
  if (name == LlvmIntrinsicAttrHelper::getNameStr()) {
    auto fn = dyn_cast<FunctionOpInterface>(op);
    auto intrinsic = dyn_cast<StringAttr>(attr.getValue());
    if (!fn || !fn.isExternal() || !intrinsic ||
        !intrinsic.getValue().starts_with("llvm."))
      return op->emitOpError("[LB-A4] ")
             << name << " names an LLVM intrinsic (\"llvm.*\") on a function "
             << "declaration";
    return success();
  }
  if (name == CalibrationSitesAttrHelper::getNameStr()) {
    auto sites = dyn_cast<ArrayAttr>(attr.getValue());
    if (!isa<ModuleOp>(op) || !sites ||
        !llvm::all_of(sites, [](Attribute a) { return isa<StringAttr>(a); }))
      return op->emitOpError("[LB-A5] ")
             << name << " is an array of strings on a module";
    return success();
  }
  if (name == NotASiteAttrHelper::getNameStr()) {
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitOpError("[LB-A6] ") << name << " is a unit attribute";
    return success();
  }
  if (name == RangeAttrHelper::getNameStr() ||
      name == PackedAttrHelper::getNameStr())
    return op->emitOpError("[LB-A1, LB-A3] ")
           << name << " belongs on a function argument";
  if (name == GpuKernelAttrHelper::getNameStr()) {
    auto kernel = dyn_cast<SymbolRefAttr>(attr.getValue());
    if (!kernel || kernel.getNestedReferences().size() != 1)
      return op->emitOpError("[LB-A7] ")
             << name << " is the kernel's @module::@name";
    return success();
  }
  if (name == GpuLaunchAttrHelper::getNameStr()) {
    auto launch = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!launch || launch.size() != 7 ||
        llvm::any_of(launch.asArrayRef().take_front(6),
                     [](int64_t v) { return v < 1; }) ||
        launch[6] < 0)
      return op->emitOpError("[LB-A8] ")
             << name << " is array<i64: grid x, y, z, block x, y, z, shared "
             << "bytes> (sizes >= 1, bytes >= 0)";
    return success();
  }
  if (name == GpuParamsAttrHelper::getNameStr()) {
    auto params = dyn_cast<ArrayAttr>(attr.getValue());
    if (!params ||
        !llvm::all_of(params, [](Attribute a) { return isa<TypeAttr>(a); }))
      return op->emitOpError("[LB-A9] ")
             << name << " is an array of the kernel's parameter types";
    return success();
  }
  return unknownAttribute(op, attr, "on an operation");
}

LogicalResult LowbitDialect::verifyRegionArgAttribute(Operation *op,
                                                      unsigned regionIndex,
                                                      unsigned argIndex,
                                                      NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  auto fn = dyn_cast<FunctionOpInterface>(op);
  Type type = fn && argIndex < fn.getNumArguments()
                  ? fn.getArgumentTypes()[argIndex]
                  : Type();
  if (name == RangeAttrHelper::getNameStr()) {
    auto range = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    auto shaped = dyn_cast_or_null<ShapedType>(type);
    // Lowered to LLVM, the buffer is a pointer (lowbit-compile reads the
    // range before that and drops it after).
    bool pointer = type && type.getDialect().getNamespace() == "llvm";
    if (!range || range.size() != 2 || range[0] > range[1] ||
        (!pointer && (!shaped || !shaped.getElementType().isSignlessInteger())))
      return op->emitOpError("[LB-A1] ")
             << name << " of argument " << argIndex
             << " is array<i64: lo, hi> (lo <= hi) on a tensor or memref of "
                "integers";
    if (pointer)
      return success();
    unsigned width = shaped.getElementType().getIntOrFloatBitWidth();
    if (width < 64 && (range[0] < -(int64_t(1) << (width - 1)) ||
                       range[1] >= (int64_t(1) << (width - 1))))
      return op->emitOpError("[LB-A1] ")
             << name << " of argument " << argIndex << " exceeds i" << width;
    return success();
  }
  if (name == PackedAttrHelper::getNameStr()) {
    auto q = dyn_cast_or_null<QTensorType>(type);
    auto storage = q ? dyn_cast<IntegerType>(q.getScheme().getStorageType())
                     : IntegerType();
    if (!isa<UnitAttr>(attr.getValue()) || !storage ||
        storage.getWidth() != 8 || q.getShape().size() != 2)
      return op->emitOpError("[LB-A3] ")
             << name << " marks a rank-2 qtensor argument of 8-bit integers "
             << "(argument " << argIndex << ")";
    return success();
  }
  return unknownAttribute(op, attr, "on a region argument");
}

LogicalResult LowbitDialect::verifyRegionResultAttribute(Operation *op,
                                                         unsigned regionIndex,
                                                         unsigned resultIndex,
                                                         NamedAttribute attr) {
  return unknownAttribute(op, attr, "on a result");
}
