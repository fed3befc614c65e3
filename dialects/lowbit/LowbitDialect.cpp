//===- LowbitDialect.cpp - lowbit dialect registration ----------*- C++ -*-===//

#include "lowbit/LowbitDialect.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/LowbitDialect.cpp.inc"
#include "lowbit/LowbitEnums.cpp.inc"

void LowbitDialect::initialize() {
  registerAttributesAndTypes();
  addOperations<
#define GET_OP_LIST
#include "lowbit/LowbitOps.cpp.inc"
      >();
}
