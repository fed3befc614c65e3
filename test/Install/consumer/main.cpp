//===- main.cpp - uses an installed lowbit --------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Loads the lowbit dialect, queries a parsed !lowbit.qtensor and runs
// lowbit-lower-to-linalg (registered by name) on a small module.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

static const char *kModule = R"mlir(
func.func @roundtrip(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}
)mlir";

int main() {
  MLIRContext ctx;
  ctx.loadDialect<lowbit::LowbitDialect, func::FuncDialect>();
  llvm::outs() << "loaded: " << ctx.getLoadedDialect("lowbit")->getNamespace()
               << "\n";

  Type type = parseType("!lowbit.qtensor<4x64xi8, per_axis<0>>", &ctx);
  auto qtensor = dyn_cast_or_null<lowbit::QTensorType>(type);
  if (!qtensor)
    return 1;
  llvm::outs() << "type: " << qtensor << "\n"
               << "codes: " << qtensor.getCodesType() << "\n"
               << "scales: " << qtensor.getScalesType() << "\n";

  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(kModule, &ctx);
  if (!module)
    return 2;

  lowbit::registerLowbitLowerToLinalg();
  PassManager pm(&ctx);
  if (failed(parsePassPipeline("lowbit-lower-to-linalg", pm)))
    return 3;
  if (failed(pm.run(*module)))
    return 4;

  int lowbitOps = 0, genericOps = 0;
  module->walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "lowbit")
      ++lowbitOps;
    if (op->getName().getStringRef() == "linalg.generic")
      ++genericOps;
  });
  llvm::outs() << "lowbit ops after lowering: " << lowbitOps << "\n"
               << "has linalg.generic: " << (genericOps > 0 ? "yes" : "no")
               << "\n";
  return 0;
}
