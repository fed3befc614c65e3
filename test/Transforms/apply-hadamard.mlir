// RUN: lowbit-opt %s --lowbit-apply-hadamard | FileCheck %s
// RUN: lowbit-opt %s --lowbit-apply-hadamard | lowbit-opt --lowbit-split-outliers=mode=dynamic | FileCheck %s --check-prefix=SPLIT
//
// A site inside a region and one after it share X: the rotation goes right
// after X's definition (here the function start), where it dominates both;
// the rotation matmul and, after outlier splitting, the f32 outlier product
// are not sites (lowbit.not_a_site), so later passes leave them in float.
// CHECK-LABEL: func.func @reg
// CHECK-NEXT: %[[R:.*]] = arith.constant dense_resource<inner_rotation> : tensor<64x64xf32>
// CHECK: %[[XR:.*]] = linalg.matmul {lowbit.not_a_site} ins(%arg0, %[[R]]
// CHECK: scf.if
// CHECK: linalg.matmul ins(%[[XR]],
// CHECK: linalg.matmul ins(%[[XR]],
// SPLIT-LABEL: func.func @reg
// SPLIT: linalg.matmul {lowbit.not_a_site} ins(%arg0,
// SPLIT-COUNT-2: linalg.matmul {lowbit.not_a_site}
func.func @reg(%x: tensor<4x64xf32>, %p: i1) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %w2 = arith.constant dense<0.25> : tensor<64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %r = scf.if %p -> tensor<4x32xf32> {
    %h2 = linalg.matmul ins(%x, %w2 : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32> loc("inner")
    scf.yield %h2 : tensor<4x32xf32>
  } else {
    scf.yield %z : tensor<4x32xf32>
  }
  %h = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32> loc("outer")
  %s = arith.addf %h, %r : tensor<4x32xf32>
  return %s : tensor<4x32xf32>
}
