// RUN: lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(lowbit-fuse-dequant-matmul))" | FileCheck %s
//
// Raw-dequant signedness as the IR computes it: sign-extension followed by
// uitofp is not a plain code (left alone); an i8 zero point read through
// uitofp is its unsigned value.
// CHECK-LABEL: func.func @a
// CHECK: arith.uitofp
// CHECK-NOT: lowbit.
// CHECK-LABEL: func.func @b
// CHECK: lowbit.constant {{.*}} zero_points(dense<[200, 100]> : tensor<2xi32>) : <4x2xui8, per_axis<1>, asymmetric>
// CHECK: lowbit.qmatmul



func.func @a(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %codes = arith.constant dense<[[-1, 2], [3, -4], [5, 6], [7, -8]]> : tensor<4x2xi4>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %e0 = tensor.empty() : tensor<4x2xf32>
  %w = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%codes, %s : tensor<4x2xi4>, tensor<2xf32>) outs(%e0 : tensor<4x2xf32>) {
  ^bb0(%c: i4, %sc: f32, %o: f32):
    %i = arith.extsi %c : i4 to i8
    %f = arith.uitofp %i : i8 to f32
    %r = arith.mulf %f, %sc : f32
    linalg.yield %r : f32
  } -> tensor<4x2xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%z : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
// -----

func.func @b(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %codes = arith.constant dense<[[200, 2], [3, 250], [5, 6], [7, 130]]> : tensor<4x2xi8>
  %zp = arith.constant dense<[-56, 100]> : tensor<2xi8>
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %e0 = tensor.empty() : tensor<4x2xf32>
  %w = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%codes, %zp, %s : tensor<4x2xi8>, tensor<2xi8>, tensor<2xf32>) outs(%e0 : tensor<4x2xf32>) {
  ^bb0(%c: i8, %zz: i8, %sc: f32, %o: f32):
    %f = arith.uitofp %c : i8 to f32
    %zf = arith.uitofp %zz : i8 to f32
    %d = arith.subf %f, %zf : f32
    %r = arith.mulf %d, %sc : f32
    linalg.yield %r : f32
  } -> tensor<4x2xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x2xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x2xf32>) -> tensor<2x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x2xf32>) outs(%z : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}
