// RUN: lowbit-opt %s -split-input-file --lowbit-convert-to-quant | FileCheck %s

// The inverse of lowbit-convert-from-quant where upstream quant can represent the
// scheme (docs/Spec.md, "Interop").

// CHECK-LABEL: func @per_tensor
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK: %[[Q:.*]] = quant.qcast %[[X]] : tensor<4xf32> to tensor<4x!quant.uniform<i8<-127:127>:f32, 5.000000e-01>>
// CHECK: %[[Y:.*]] = quant.dcast %[[Q]] : tensor<4x!quant.uniform<i8<-127:127>:f32, 5.000000e-01>> to tensor<4xf32>
// CHECK: return %[[Y]]
func.func @per_tensor(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %q = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4xi8, per_tensor> -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// CHECK-LABEL: func @per_axis
// CHECK: quant.qcast %{{.*}} : tensor<2x4xf16> to tensor<2x4x!quant.uniform<u4:f16:0, {5.000000e-01:8,2.500000e-01:7}>>
// CHECK: quant.dcast %{{.*}} : tensor<2x4x!quant.uniform<u4:f16:0, {5.000000e-01:8,2.500000e-01:7}>> to tensor<2x4xf16>
// CHECK-NOT: lowbit.
func.func @per_axis(%x: tensor<2x4xf16>) -> tensor<2x4xf16> {
  %s = arith.constant dense<[0.5, 0.25]> : tensor<2xf32>
  %z = arith.constant dense<[8, 7]> : tensor<2xi32>
  %q = lowbit.quantize %x scale(%s : tensor<2xf32>) zero_point(%z : tensor<2xi32>) : tensor<2x4xf16> -> !lowbit.qtensor<2x4xui4 : f16, per_axis<0>, asymmetric>
  %y = lowbit.dequantize %q : !lowbit.qtensor<2x4xui4 : f16, per_axis<0>, asymmetric> -> tensor<2x4xf16>
  return %y : tensor<2x4xf16>
}

// -----

// per_group lists every axis; the unlisted ones with block size 1.
// CHECK-LABEL: func @per_group
// CHECK: quant.qcast %{{.*}} : tensor<2x4xf32> to tensor<2x4x!quant.uniform<i8:f32:{0:1, 1:2}, {{\{\{}}1.000000e+00, 2.000000e+00}, {3.000000e+00, 4.000000e+00}}>>
func.func @per_group(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %s = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %q = lowbit.quantize %x scale(%s : tensor<2x2xf32>) : tensor<2x4xf32> -> !lowbit.qtensor<2x4xi8, per_group<[1 : 2]>, full_range>
  %y = lowbit.dequantize %q : !lowbit.qtensor<2x4xi8, per_group<[1 : 2]>, full_range> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
