// RUN: lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_group<[in : 32]>' policy='lm_head=i8, per_axis<out>;*.keep=keep'})" | FileCheck %s

// Default scheme on a plain matmul; the per-site policy on a transposed-B
// one (its `out` axis is 0); `keep` leaves a site in float.
// CHECK-LABEL: func.func @mlp
// CHECK-DAG: %[[Q0:.*]] = lowbit.constant codes(dense<119> : tensor<64x16xi8>) scales(dense<0.0714285746> : tensor<2x32xf32>) : <64x32xi4, per_group<[0 : 32]>>
// CHECK-DAG: %[[W0:.*]] = lowbit.dequantize %[[Q0]] : <64x32xi4, per_group<[0 : 32]>> -> tensor<64x32xf32>
// CHECK-DAG: %[[Q1:.*]] = lowbit.constant codes(dense<-127> : tensor<16x32xi8>) scales(dense<0.00196850393> : tensor<16xf32>) : <16x32xi8, per_axis<0>>
// CHECK-DAG: %[[W1:.*]] = lowbit.dequantize %[[Q1]]
// CHECK-DAG: %[[K:.*]] = arith.constant dense<2.000000e+00> : tensor<16x16xf32>
// CHECK: linalg.matmul ins(%{{.*}}, %[[W0]] :
// CHECK: linalg.matmul indexing_maps = {{.*}} ins(%{{.*}}, %[[W1]] :
// CHECK: linalg.matmul ins(%{{.*}}, %[[K]] :
func.func @mlp(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %w2 = arith.constant dense<-0.25> : tensor<16x32xf32>
  %w3 = arith.constant dense<2.0> : tensor<16x16xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %h = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32> loc("layers.0.up")
  %e2 = tensor.empty() : tensor<4x16xf32>
  %z2 = linalg.fill ins(%c0 : f32) outs(%e2 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>] ins(%h, %w2 : tensor<4x32xf32>, tensor<16x32xf32>) outs(%z2 : tensor<4x16xf32>) -> tensor<4x16xf32> loc("lm_head")
  %y2 = linalg.matmul ins(%y, %w3 : tensor<4x16xf32>, tensor<16x16xf32>) outs(%z2 : tensor<4x16xf32>) -> tensor<4x16xf32> loc("layers.0.keep")
  return %y2 : tensor<4x16xf32>
}

// -----

// A weight shared by two sites is quantized once; a non-constant weight
// and an accumulating matmul are left alone; batch_matmul weights are
// [B, K, N] (in = 1).
// CHECK-LABEL: func.func @shared
// CHECK-COUNT-1: lowbit.constant
// CHECK-NOT: lowbit.constant
// CHECK: %[[D:.*]] = lowbit.dequantize
// CHECK: linalg.matmul ins(%{{.*}}, %[[D]] :
// CHECK: linalg.matmul ins(%{{.*}}, %[[D]] :
// CHECK: linalg.matmul ins(%{{.*}}, %arg1 :
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : {{.*}}) outs(%arg2
func.func @shared(%x: tensor<4x64xf32>, %v: tensor<64x32xf32>, %acc: tensor<4x32xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %w = arith.constant dense<1.0> : tensor<64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %a = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %b = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %c = linalg.matmul ins(%x, %v : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %d = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %a, %b, %c, %d : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}

// -----

// CHECK-LABEL: func.func @batch
// CHECK: lowbit.constant {{.*}} : <2x64x32xi4, per_group<[1 : 32]>>
// CHECK: linalg.batch_matmul
func.func @batch(%x: tensor<2x4x64xf32>) -> tensor<2x4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<2x64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x4x32xf32>) -> tensor<2x4x32xf32>
  %y = linalg.batch_matmul ins(%x, %w : tensor<2x4x64xf32>, tensor<2x64x32xf32>) outs(%z : tensor<2x4x32xf32>) -> tensor<2x4x32xf32>
  return %y : tensor<2x4x32xf32>
}

// -----

// Large parts become dense_resource blobs named after the site; f16
// weights keep f16 as the expressed type.
// CHECK-LABEL: func.func @big
// CHECK: lowbit.constant codes(dense_resource<layers.1.down> : tensor<64x32xi8>) scales(dense<0.107142858> : tensor<2x64xf32>) : <64x64xi4 : f16, per_group<[0 : 32]>>
// CHECK: lowbit.dequantize {{.*}} -> tensor<64x64xf16>
// CHECK: dialect_resources
// CHECK: layers.1.down: "0x
func.func @big(%x: tensor<4x64xf16>) -> tensor<4x64xf16> {
  %w = arith.constant dense<0.75> : tensor<64x64xf16>
  %c0 = arith.constant 0.0 : f16
  %e = tensor.empty() : tensor<4x64xf16>
  %z = linalg.fill ins(%c0 : f16) outs(%e : tensor<4x64xf16>) -> tensor<4x64xf16>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf16>, tensor<64x64xf16>) outs(%z : tensor<4x64xf16>) -> tensor<4x64xf16> loc("layers.1.down")
  return %y : tensor<4x64xf16>
}
