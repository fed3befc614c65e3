// RUN: lowbit-opt %s -split-input-file --lowbit-fuse-dequant-matmul | FileCheck %s

!w4 = !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>>
!wt = !lowbit.qtensor<32x64xi8, per_axis<0>>
!a8 = !lowbit.qtensor<4x64xi8, per_axis<0>>

// Plain and transposed-B weights, and both operands quantized; the
// dequantize, fill and empty ops left without users go away.
// CHECK-LABEL: func.func @fuse
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[Q:.*]]: !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>>, %[[T:.*]]: !lowbit.qtensor<32x64xi8, per_axis<0>>, %[[A:.*]]: !lowbit.qtensor<4x64xi8, per_axis<0>>)
// CHECK: %[[Y0:.*]] = lowbit.qmatmul %[[X]], %[[Q]] : tensor<4x64xf32>, !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>> -> tensor<4x32xf32>
// CHECK-NEXT: %[[Y1:.*]] = lowbit.qmatmul %[[X]], %[[T]] {transpose_b} : tensor<4x64xf32>, !lowbit.qtensor<32x64xi8, per_axis<0>> -> tensor<4x32xf32>
// CHECK-NEXT: %[[Y2:.*]] = lowbit.qmatmul %[[A]], %[[Q]] : !lowbit.qtensor<4x64xi8, per_axis<0>>, !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>> -> tensor<4x32xf32>
// CHECK-NEXT: return %[[Y0]], %[[Y1]], %[[Y2]]
func.func @fuse(%x: tensor<4x64xf32>, %q: !w4, %t: !wt, %a: !a8) -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %w = lowbit.dequantize %q : !w4 -> tensor<64x32xf32>
  %wt = lowbit.dequantize %t : !wt -> tensor<32x64xf32>
  %xa = lowbit.dequantize %a : !a8 -> tensor<4x64xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y0 = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y1 = linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>] ins(%x, %wt : tensor<4x64xf32>, tensor<32x64xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y2 = linalg.matmul ins(%xa, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y0, %y1, %y2 : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}

// -----

// Batch matmul.
// CHECK-LABEL: func.func @batch
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} : tensor<2x4x64xf32>, !lowbit.qtensor<2x64x32xi4, per_group<[1 : 32]>> -> tensor<2x4x32xf32>
func.func @batch(%x: tensor<2x4x64xf32>, %q: !lowbit.qtensor<2x64x32xi4, per_group<[1 : 32]>>) -> tensor<2x4x32xf32> {
  %w = lowbit.dequantize %q : !lowbit.qtensor<2x64x32xi4, per_group<[1 : 32]>> -> tensor<2x64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x4x32xf32>) -> tensor<2x4x32xf32>
  %y = linalg.batch_matmul ins(%x, %w : tensor<2x4x64xf32>, tensor<2x64x32xf32>) outs(%z : tensor<2x4x32xf32>) -> tensor<2x4x32xf32>
  return %y : tensor<2x4x32xf32>
}

// -----

// Not fused: an accumulating matmul (non-zero init), no dequantized
// operand, a dequantize that other ops also use (kept), f16 results.
// CHECK-LABEL: func.func @keep
// CHECK-NOT: lowbit.qmatmul
// CHECK: %[[W:.*]] = lowbit.dequantize
// CHECK: linalg.matmul ins(%{{.*}}, %[[W]] {{.*}} outs(%arg2
// CHECK: linalg.matmul ins(%arg0, %arg3
// CHECK: return
func.func @keep(%x: tensor<4x64xf32>, %q: !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>>, %acc: tensor<4x32xf32>, %v: tensor<64x32xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<64x32xf32>) {
  %w = lowbit.dequantize %q : !lowbit.qtensor<64x32xi4, per_group<[0 : 32]>> -> tensor<64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y0 = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y1 = linalg.matmul ins(%x, %v : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y0, %y1, %w : tensor<4x32xf32>, tensor<4x32xf32>, tensor<64x32xf32>
}

// -----

// CHECK-LABEL: func.func @f16
// CHECK-NOT: lowbit.qmatmul
func.func @f16(%x: tensor<4x64xf16>, %q: !lowbit.qtensor<64x32xi4 : f16, per_group<[0 : 32]>>) -> tensor<4x32xf16> {
  %w = lowbit.dequantize %q : !lowbit.qtensor<64x32xi4 : f16, per_group<[0 : 32]>> -> tensor<64x32xf16>
  %c0 = arith.constant 0.0 : f16
  %e = tensor.empty() : tensor<4x32xf16>
  %z = linalg.fill ins(%c0 : f16) outs(%e : tensor<4x32xf16>) -> tensor<4x32xf16>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf16>, tensor<64x32xf16>) outs(%z : tensor<4x32xf16>) -> tensor<4x32xf16>
  return %y : tensor<4x32xf16>
}

// -----

// Plain-IR dequantize of non-constant codes, or with a fractional zero
// point, is not a lowbit value: left as it is.
// CHECK-LABEL: func.func @raw_kept
// CHECK-COUNT-2: arith.uitofp
// CHECK-NOT: lowbit.
func.func @raw_kept(%x: tensor<4x32xf32>, %c: tensor<32x8xi8>) -> (tensor<32x8xf32>, tensor<32x8xf32>) {
  %s = arith.constant dense<0.5> : tensor<8xf32>
  %z = arith.constant dense<1.5> : tensor<8xf32>
  %k = arith.constant dense<3> : tensor<32x8xi8>
  %e = tensor.empty() : tensor<32x8xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%c, %s : tensor<32x8xi8>, tensor<8xf32>) outs(%e : tensor<32x8xf32>) {
  ^bb0(%q: i8, %sc: f32, %o: f32):
    %f = arith.uitofp %q : i8 to f32
    %m = arith.mulf %f, %sc : f32
    linalg.yield %m : f32
  } -> tensor<32x8xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%k, %s, %z : tensor<32x8xi8>, tensor<8xf32>, tensor<8xf32>) outs(%e : tensor<32x8xf32>) {
  ^bb0(%q: i8, %sc: f32, %zp: f32, %o: f32):
    %f = arith.uitofp %q : i8 to f32
    %d = arith.subf %f, %zp : f32
    %m = arith.mulf %d, %sc : f32
    linalg.yield %m : f32
  } -> tensor<32x8xf32>
  return %a, %b : tensor<32x8xf32>, tensor<32x8xf32>
}
