// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===- lowbit-opt.cpp - lowbit optimizer driver -------------------*- C++
//-*-===//

#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  mlir::bufferization::registerBufferizationPasses();
  mlir::registerLinalgPasses();
  mlir::registerConvertLinalgToLoopsPass();
  mlir::lowbit::registerLowbitPasses();
  mlir::DialectRegistry registry;
  mlir::lowbit::registerLowbitDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "lowbit optimizer driver\n", registry));
}
