//===- ActivationScale.h - per-channel activation scaling -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Transforms: what SmoothQuant and AWQ share. Both multiply
// a weight's input channels by s and divide the activation by s, folding
// 1/s into the producer when that is exact and safe.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_TRANSFORMS_ACTIVATIONSCALE_H
#define LOWBIT_LIB_TRANSFORMS_ACTIVATIONSCALE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::lowbit {

/// An f32 constant of `type` holding `values`: a dense_resource blob named
/// `name` when larger than 1 KiB, like the weights it replaces.
Value makeF32Constant(OpBuilder &b, Location loc, RankedTensorType type,
                      ArrayRef<float> values, StringRef name);

/// Divides the activation `x` (the left operand of every op in `sites`) by
/// `s` along its last dimension: folded into the producer when it is an
/// elementwise linalg.generic whose result is a product with a constant
/// per-channel vector (a norm's weight, which becomes gamma / s) and only
/// `sites` use x; otherwise an explicit division inserted right after x's
/// definition. x must have a static shape. Constants are named after
/// `name`.
void divideActivation(Value x, ArrayRef<Operation *> sites, ArrayRef<float> s,
                      StringRef name);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_TRANSFORMS_ACTIVATIONSCALE_H
