//===- EntryPoints.cpp - the entry points and their C signatures ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Which functions of a module are entry points of the compiled binary, and
// the C signature of each (element types, shapes, lowbit.range), checked
// before code generation: the C API's names must be C identifiers.
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/StringExtras.h"

#include <cstdint>
#include <set>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::compiler;

/// The C type of a buffer element; empty when the header cannot name it.
static std::string cTypeOf(Type t) {
  if (t.isF32())
    return "float";
  if (t.isF64())
    return "double";
  if (t.isF16() || t.isBF16())
    return "uint16_t"; // the bits
  if (auto i = dyn_cast<IntegerType>(t)) {
    unsigned w = i.getWidth();
    if (w != 8 && w != 16 && w != 32 && w != 64)
      return "";
    return (i.isUnsigned() ? "uint" : "int") + std::to_string(w) + "_t";
  }
  return "";
}

bool compiler::isCIdentifier(StringRef s) {
  if (s.empty() || !(llvm::isAlpha(s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(s, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

/// The entry points: public functions with bodies, every argument and
/// result a statically shaped tensor of a type C can name.
LogicalResult compiler::collectEntryPoints(ModuleOp module,
                                           std::vector<EntryPoint> &entries) {
  bool ok = true;
  std::set<std::string> upperNames;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isPrivate() || f.isExternal())
      continue;
    EntryPoint e;
    e.name = f.getSymName().str();
    if (!isCIdentifier(e.name) || e.name == "set_weights" ||
        e.name == "load_weights") {
      f.emitError() << "entry point @" << e.name
                    << ": the C API names it <prefix>_" << e.name
                    << ", so it must be a C identifier other than "
                       "set_weights and load_weights";
      ok = false;
      continue;
    }
    if (!upperNames.insert(StringRef(e.name).upper()).second) {
      f.emitError() << "entry point @" << e.name
                    << " differs from another only in letter case (the "
                       "header's macros would collide)";
      ok = false;
      continue;
    }
    auto sig = [&](Type t, const char *what, unsigned i, BufferSignature &out) {
      auto rt = dyn_cast<RankedTensorType>(t);
      if (!rt || !rt.hasStaticShape() || cTypeOf(rt.getElementType()).empty()) {
        f.emitError() << "entry point @" << e.name << " " << what << " " << i
                      << " is " << t
                      << ": ahead-of-time entry points take and return "
                         "statically shaped tensors of f32, f64, f16, bf16 "
                         "or 8 to 64-bit integers";
        ok = false;
        return;
      }
      out.cType = cTypeOf(rt.getElementType());
      llvm::raw_string_ostream os(out.mlirType);
      os << rt;
      out.shape.assign(rt.getShape().begin(), rt.getShape().end());
    };
    FunctionType ft = f.getFunctionType();
    e.args.resize(ft.getNumInputs());
    e.results.resize(ft.getNumResults());
    for (unsigned i = 0; i < ft.getNumInputs(); ++i) {
      sig(ft.getInput(i), "argument", i, e.args[i]);
      auto range = f.getArgAttrOfType<DenseI64ArrayAttr>(i, "lowbit.range");
      if (!range)
        continue;
      auto rt = dyn_cast<RankedTensorType>(ft.getInput(i));
      auto it = rt ? dyn_cast<IntegerType>(rt.getElementType()) : nullptr;
      bool fits = it && range.size() == 2 &&
                  (it.getWidth() == 64 ||
                   (it.getWidth() == 32 && range[0] >= INT32_MIN &&
                    range[1] <= INT32_MAX));
      if (!fits || range[0] > range[1] || it.isUnsigned() ||
          (it.getWidth() != 32 && it.getWidth() != 64) ||
          e.args[i].numElements() > (1 << 20)) {
        f.emitError() << "entry point @" << e.name << " argument " << i
                      << ": lowbit.range takes [lo, hi] (lo <= hi, within "
                         "the type) on a signless or signed i32 or i64 "
                         "tensor of at most 2^20 elements";
        ok = false;
        continue;
      }
      e.args[i].range = std::make_pair(range[0], range[1]);
    }
    for (unsigned i = 0; i < ft.getNumResults(); ++i)
      sig(ft.getResult(i), "result", i, e.results[i]);
    entries.push_back(std::move(e));
  }
  if (ok && entries.empty()) {
    module.emitError() << "no entry point: the module has no public "
                          "function with a body";
    return failure();
  }
  return success(ok);
}
