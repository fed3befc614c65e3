//===- Registry.h - the CPU kernel families ---------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// One registry of kernel families. A family says which problems it
// computes and emits the body of a kernel function for one; the registry
// finds the family of a problem and creates the function (its name and
// signature follow from the problem alone). Adding a kernel family is one
// file that defines a KernelFamily and one line in Registry.cpp
// (docs/Development.md).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_REGISTRY_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_REGISTRY_H

#include "Problem.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit::cpu {

/// A family of generated CPU kernels.
struct KernelFamily {
  /// A short name ("w4-float", "w4-int8", ...), as docs/CodegenCPU.md lists
  /// them.
  StringRef name;
  /// Whether the family computes `p`.
  bool (*accepts)(const KernelProblem &p);
  /// Emits the body of `p`'s kernel function at `b`'s insertion point (the
  /// start of its entry block): `args` are the function's arguments (X's
  /// parts, the weights' parts, then the destination Y). Returns Y with
  /// every element written.
  Value (*build)(ImplicitLocOpBuilder &b, const KernelProblem &p,
                 ValueRange args);
};

/// The families, one per file.
const KernelFamily &getW4FloatFamily();
const KernelFamily &getW4Int8Family();
const KernelFamily &getInt8Family();
const KernelFamily &getFP8Family();
const KernelFamily &getF32Family();

/// Every CPU kernel family.
ArrayRef<const KernelFamily *> getKernelFamilies();

/// The family that computes `p`, or null.
const KernelFamily *findKernelFamily(const KernelProblem &p);

/// The kernel function of `p` (whose family must exist), created in
/// `module` once per name and signature. Its arguments are X's parts (f32
/// values, or int8/FP8 codes and their scales), the weights' parts and
/// the destination Y, written in place and returned.
func::FuncOp getOrCreateKernel(OpBuilder &builder, ModuleOp module,
                               const KernelProblem &p, Location loc);

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_CONVERSION_LOWBITTOCPU_REGISTRY_H
