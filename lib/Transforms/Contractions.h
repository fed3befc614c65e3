//===- Contractions.h - contraction sites for the weight passes -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Transforms: recognising the contractions the passes
// rewrite (linalg.matmul, its transposed-B form, linalg.batch_matmul, on
// tensors, accumulating into a zero fill) and naming them.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_TRANSFORMS_CONTRACTIONS_H
#define LOWBIT_LIB_TRANSFORMS_CONTRACTIONS_H

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

#include <optional>
#include <string>

namespace mlir::lowbit {

struct Contraction {
  linalg::LinalgOp op;
  Value lhs, rhs;
  bool transposeB = false;
  int64_t rank = 2;
  /// The weight (rhs) axes: contracted and output-channel.
  int64_t inAxis() const { return transposeB ? rank - 1 : rank - 2; }
  int64_t outAxis() const { return transposeB ? rank - 2 : rank - 1; }
};

/// `op` as a contraction the weight passes handle: a plain product
/// (accumulator = fill with 0) in one of the supported forms.
/// Marks contractions a pass inserted that are not sites (e.g. the online
/// Hadamard rotation): they stay in float.
constexpr llvm::StringLiteral kNotASite =
    LowbitDialect::NotASiteAttrHelper::getNameStr();

inline std::optional<Contraction> matchContraction(Operation *op) {
  if (op->hasAttr(kNotASite))
    return std::nullopt;
  Contraction c;
  if (isa<linalg::MatmulOp>(op)) {
    auto mm = cast<linalg::MatmulOp>(op);
    if (mm.hasUserDefinedMaps() && !isa<linalg::MatmulTransposeBOp>(op))
      return std::nullopt;
    c.transposeB = mm.hasUserDefinedMaps();
    c.rank = 2;
  } else if (isa<linalg::BatchMatmulOp>(op)) {
    auto bmm = cast<linalg::BatchMatmulOp>(op);
    if (bmm.hasUserDefinedMaps() && !isa<linalg::BatchMatmulTransposeBOp>(op))
      return std::nullopt;
    c.transposeB = bmm.hasUserDefinedMaps();
    c.rank = 3;
  } else {
    return std::nullopt;
  }
  c.op = cast<linalg::LinalgOp>(op);
  if (!c.op.hasPureTensorSemantics() || c.op.getNumDpsInputs() != 2)
    return std::nullopt;
  c.lhs = c.op.getDpsInputs()[0];
  c.rhs = c.op.getDpsInputs()[1];
  // Accumulating into a non-zero init is not a plain product.
  auto fill = c.op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
    return std::nullopt;
  return c;
}

/// The site's name: its NameLoc (also inside a FusedLoc or CallSiteLoc),
/// else `fallback`.
inline std::string siteName(Operation *op, StringRef fallback) {
  Location loc = op->getLoc();
  for (int depth = 0; depth < 8; ++depth) {
    if (auto name = dyn_cast<NameLoc>(loc))
      return name.getName().str();
    if (auto fused = dyn_cast<FusedLoc>(loc)) {
      for (Location l : fused.getLocations())
        if (auto name = dyn_cast<NameLoc>(l))
          return name.getName().str();
      return fallback.str();
    }
    if (auto call = dyn_cast<CallSiteLoc>(loc)) {
      loc = call.getCallee();
      continue;
    }
    break;
  }
  return fallback.str();
}

/// Every contraction site of `module` with its name, in one fixed order
/// shared by all passes and the calibration tool: functions in module
/// order, sites in walk order; an unnamed site is `<function>.matmul<i>`,
/// i counting every site of its function. The ops are collected first, so
/// `fn` may rewrite the IR.
inline void
forEachSiteInFunction(func::FuncOp func,
                      llvm::function_ref<void(Contraction &, StringRef)> fn) {
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (matchContraction(op))
      ops.push_back(op);
  });
  int64_t index = 0;
  for (Operation *op : ops) {
    std::string name =
        siteName(op, (func.getSymName() + ".matmul" + Twine(index++)).str());
    if (std::optional<Contraction> c = matchContraction(op))
      fn(*c, name);
  }
}

inline void forEachSite(ModuleOp module,
                        llvm::function_ref<void(Contraction &, StringRef)> fn) {
  module.walk([&](func::FuncOp func) { forEachSiteInFunction(func, fn); });
}

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_TRANSFORMS_CONTRACTIONS_H
