// RUN: lowbit-opt %s -split-input-file --lowbit-convert-from-quant | FileCheck %s

// Upstream !quant.uniform casts become lowbit ops with static parameters
// (docs/Spec.md, "Interop").

// CHECK-LABEL: func @per_layer
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-DAG: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<3> : tensor<i32>
// CHECK: %[[Q:.*]] = lowbit.quantize %[[X]] scale(%[[S]] : tensor<f32>) zero_point(%[[Z]] : tensor<i32>) : tensor<4xf32> -> <4xi8, per_tensor, asymmetric>
// CHECK: %[[Y:.*]] = lowbit.dequantize %[[Q]] : <4xi8, per_tensor, asymmetric> -> tensor<4xf32>
// CHECK: return %[[Y]]
func.func @per_layer(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8:f32, 0.5:3>>
  %y = quant.dcast %q : tensor<4x!quant.uniform<i8:f32, 0.5:3>> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// The symmetric narrow range of a signed type with zero points 0 is lowbit's
// default symmetric scheme (no zero points).
// CHECK-LABEL: func @narrow_symmetric
// CHECK: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK: lowbit.quantize %{{.*}} scale(%[[S]] : tensor<f32>) : tensor<4xf32> -> <4xi8, per_tensor>
// CHECK: lowbit.dequantize
func.func @narrow_symmetric(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8<-127:127>:f32, 0.5>>
  %y = quant.dcast %q : tensor<4x!quant.uniform<i8<-127:127>:f32, 0.5>> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// The full signed range with zero points 0 is symmetric with full_range.
// CHECK-LABEL: func @full_range_symmetric
// CHECK: lowbit.quantize %{{.*}} scale(%{{.*}} : tensor<f32>) : tensor<4xf32> -> <4xi4, per_tensor, full_range>
func.func @full_range_symmetric(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i4:f32, 0.5>>
  %y = quant.dcast %q : tensor<4x!quant.uniform<i4:f32, 0.5>> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// CHECK-LABEL: func @per_axis
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<[8, 7]> : tensor<2xi32>
// CHECK: lowbit.quantize %{{.*}} scale(%[[S]] : tensor<2xf32>) zero_point(%[[Z]] : tensor<2xi32>) : tensor<2x4xf16> -> <2x4xui4 : f16, per_axis<0>, asymmetric>
// CHECK: lowbit.dequantize %{{.*}} : <2x4xui4 : f16, per_axis<0>, asymmetric> -> tensor<2x4xf16>
func.func @per_axis(%x: tensor<2x4xf16>) -> tensor<2x4xf16> {
  %q = quant.qcast %x : tensor<2x4xf16> to tensor<2x4x!quant.uniform<u4:f16:0, {0.5:8, 0.25:7}>>
  %y = quant.dcast %q : tensor<2x4x!quant.uniform<u4:f16:0, {0.5:8, 0.25:7}>> to tensor<2x4xf16>
  return %y : tensor<2x4xf16>
}

// -----

// Sub-channel: an axis upstream leaves unlisted is blocked over the whole
// dimension, so lowbit lists it with that size.
// CHECK-LABEL: func @sub_channel_unlisted_axis
// CHECK: %[[S:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00]]> : tensor<1x2xf32>
// CHECK: lowbit.quantize %{{.*}} scale(%[[S]] : tensor<1x2xf32>) : tensor<2x4xf32> -> <2x4xi8, per_group<[0 : 2, 1 : 2]>, full_range>
func.func @sub_channel_unlisted_axis(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %q = quant.qcast %x : tensor<2x4xf32> to tensor<2x4x!quant.uniform<i8:f32:{1:2}, {{1.0, 2.0}}>>
  %y = quant.dcast %q : tensor<2x4x!quant.uniform<i8:f32:{1:2}, {{1.0, 2.0}}>> to tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Sub-channel with block size 1 listed: lowbit leaves that axis out.
// CHECK-LABEL: func @sub_channel_asymmetric
// CHECK-DAG: %[[S:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<{{\[}}[1, 2], [3, 4]]> : tensor<2x2xi32>
// CHECK: lowbit.quantize %{{.*}} scale(%[[S]] : tensor<2x2xf32>) zero_point(%[[Z]] : tensor<2x2xi32>) : tensor<2x4xf32> -> <2x4xui8, per_group<[1 : 2]>, asymmetric>
func.func @sub_channel_asymmetric(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %q = quant.qcast %x : tensor<2x4xf32> to tensor<2x4x!quant.uniform<u8:f32:{0:1, 1:2}, {{1.0:1, 2.0:2}, {3.0:3, 4.0:4}}>>
  %y = quant.dcast %q : tensor<2x4x!quant.uniform<u8:f32:{0:1, 1:2}, {{1.0:1, 2.0:2}, {3.0:3, 4.0:4}}>> to tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
