// RUN: lowbit-opt %s -split-input-file --lowbit-fold-constant-quantize | FileCheck %s
// RUN: lowbit-opt %s -split-input-file --lowbit-fold-constant-quantize --lowbit-reference-to-llvm > /dev/null

// A quantized constant replaces lowbit.quantize of a constant; the float
// constant goes when nothing else uses it. Codes and scales as the library
// (and the run-time lowering) compute them: scales 4/7 and 2/7, codes
// [[-7, 4], [2, -7]] packed two per byte, element 0 low: 0x49, 0x92.
// CHECK-LABEL: func.func @fold
// CHECK-NOT: arith.constant
// CHECK: %[[Q:.*]] = lowbit.constant codes(dense<{{\[\[}}73], [-110]]> : tensor<2x1xi8>) scales(dense<[0.571428597, 0.285714298]> : tensor<2xf32>) : <2x2xi4, per_axis<1>>
// CHECK: return %[[Q]]
func.func @fold() -> !lowbit.qtensor<2x2xi4, per_axis<1>> {
  %w = arith.constant dense<[[-4.0, 1.25], [1.0, -2.0]]> : tensor<2x2xf32>
  %q = lowbit.quantize %w : tensor<2x2xf32> -> !lowbit.qtensor<2x2xi4, per_axis<1>>
  return %q : !lowbit.qtensor<2x2xi4, per_axis<1>>
}

// -----

// Static scales, non-constant inputs: left alone.
// CHECK-LABEL: func.func @keep
// CHECK: lowbit.quantize %arg0
// CHECK: lowbit.quantize %{{.*}} scale(
func.func @keep(%x: tensor<2x2xf32>, %s: tensor<2xf32>) -> (!lowbit.qtensor<2x2xi8, per_axis<1>>, !lowbit.qtensor<2x2xi8, per_axis<1>>) {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  %a = lowbit.quantize %x : tensor<2x2xf32> -> !lowbit.qtensor<2x2xi8, per_axis<1>>
  %b = lowbit.quantize %w scale(%s : tensor<2xf32>) : tensor<2x2xf32> -> !lowbit.qtensor<2x2xi8, per_axis<1>>
  return %a, %b : !lowbit.qtensor<2x2xi8, per_axis<1>>, !lowbit.qtensor<2x2xi8, per_axis<1>>
}
