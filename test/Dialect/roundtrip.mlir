// RUN: lowbit-opt %s -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file | lowbit-opt -split-input-file | FileCheck %s
// RUN: lowbit-opt %s -split-input-file --mlir-print-op-generic | lowbit-opt -split-input-file | FileCheck %s

// Every scheme kind and every op form must print back as written
// (docs/Spec.md, "Scheme syntax" and "Operations").

// CHECK-LABEL: func @int8_per_channel
// CHECK-SAME: !lowbit.qtensor<4x64xi8, per_axis<0>>
func.func @int8_per_channel(%x: !lowbit.qtensor<4x64xi8, per_axis<0>>) -> !lowbit.qtensor<4x64xi8, per_axis<0>> {
  return %x : !lowbit.qtensor<4x64xi8, per_axis<0>>
}

// -----

// CHECK-LABEL: func @int2
// CHECK-SAME: !lowbit.qtensor<4x8xi2, per_tensor>
func.func @int2(%x: !lowbit.qtensor<4x8xi2, per_tensor>) -> !lowbit.qtensor<4x8xi2, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi2, per_tensor>
}

// -----

// CHECK-LABEL: func @int3
// CHECK-SAME: !lowbit.qtensor<4x8xi3, per_tensor>
func.func @int3(%x: !lowbit.qtensor<4x8xi3, per_tensor>) -> !lowbit.qtensor<4x8xi3, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi3, per_tensor>
}

// -----

// CHECK-LABEL: func @int4
// CHECK-SAME: !lowbit.qtensor<4x8xi4, per_tensor>
func.func @int4(%x: !lowbit.qtensor<4x8xi4, per_tensor>) -> !lowbit.qtensor<4x8xi4, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi4, per_tensor>
}

// -----

// CHECK-LABEL: func @int5
// CHECK-SAME: !lowbit.qtensor<4x8xi5, per_tensor>
func.func @int5(%x: !lowbit.qtensor<4x8xi5, per_tensor>) -> !lowbit.qtensor<4x8xi5, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi5, per_tensor>
}

// -----

// CHECK-LABEL: func @int6
// CHECK-SAME: !lowbit.qtensor<4x8xi6, per_tensor>
func.func @int6(%x: !lowbit.qtensor<4x8xi6, per_tensor>) -> !lowbit.qtensor<4x8xi6, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi6, per_tensor>
}

// -----

// CHECK-LABEL: func @int7
// CHECK-SAME: !lowbit.qtensor<4x8xi7, per_tensor>
func.func @int7(%x: !lowbit.qtensor<4x8xi7, per_tensor>) -> !lowbit.qtensor<4x8xi7, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi7, per_tensor>
}

// -----

// CHECK-LABEL: func @int8
// CHECK-SAME: !lowbit.qtensor<4x8xi8, per_tensor>
func.func @int8(%x: !lowbit.qtensor<4x8xi8, per_tensor>) -> !lowbit.qtensor<4x8xi8, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi8, per_tensor>
}

// -----

// CHECK-LABEL: func @uint2
// CHECK-SAME: !lowbit.qtensor<4x8xui2, per_tensor, asymmetric>
func.func @uint2(%x: !lowbit.qtensor<4x8xui2, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui2, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui2, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @uint3
// CHECK-SAME: !lowbit.qtensor<4x8xui3, per_tensor, asymmetric>
func.func @uint3(%x: !lowbit.qtensor<4x8xui3, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui3, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui3, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @uint4
// CHECK-SAME: !lowbit.qtensor<4x8xui4, per_tensor, asymmetric>
func.func @uint4(%x: !lowbit.qtensor<4x8xui4, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui4, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui4, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @uint5
// CHECK-SAME: !lowbit.qtensor<4x8xui5, per_tensor, asymmetric>
func.func @uint5(%x: !lowbit.qtensor<4x8xui5, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui5, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui5, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @uint6
// CHECK-SAME: !lowbit.qtensor<4x8xui6, per_tensor, asymmetric>
func.func @uint6(%x: !lowbit.qtensor<4x8xui6, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui6, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui6, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @uint7
// CHECK-SAME: !lowbit.qtensor<4x8xui7, per_tensor, asymmetric>
func.func @uint7(%x: !lowbit.qtensor<4x8xui7, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui7, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui7, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @uint8
// CHECK-SAME: !lowbit.qtensor<4x8xui8, per_tensor, asymmetric>
func.func @uint8(%x: !lowbit.qtensor<4x8xui8, per_tensor, asymmetric>) -> !lowbit.qtensor<4x8xui8, per_tensor, asymmetric> {
  return %x : !lowbit.qtensor<4x8xui8, per_tensor, asymmetric>
}

// -----

// CHECK-LABEL: func @int8_asymmetric
// CHECK-SAME: !lowbit.qtensor<4x8xi8, per_axis<1>, asymmetric>
func.func @int8_asymmetric(%x: !lowbit.qtensor<4x8xi8, per_axis<1>, asymmetric>) -> !lowbit.qtensor<4x8xi8, per_axis<1>, asymmetric> {
  return %x : !lowbit.qtensor<4x8xi8, per_axis<1>, asymmetric>
}

// -----

// CHECK-LABEL: func @int4_full_range
// CHECK-SAME: !lowbit.qtensor<4x8xi4, per_axis<0>, full_range>
func.func @int4_full_range(%x: !lowbit.qtensor<4x8xi4, per_axis<0>, full_range>) -> !lowbit.qtensor<4x8xi4, per_axis<0>, full_range> {
  return %x : !lowbit.qtensor<4x8xi4, per_axis<0>, full_range>
}

// -----

// CHECK-LABEL: func @ternary
// CHECK-SAME: !lowbit.qtensor<4x8xternary, per_axis<0>>
func.func @ternary(%x: !lowbit.qtensor<4x8xternary, per_axis<0>>) -> !lowbit.qtensor<4x8xternary, per_axis<0>> {
  return %x : !lowbit.qtensor<4x8xternary, per_axis<0>>
}

// -----

// CHECK-LABEL: func @ternary_per_tensor
// CHECK-SAME: !lowbit.qtensor<4x8xternary, per_tensor>
func.func @ternary_per_tensor(%x: !lowbit.qtensor<4x8xternary, per_tensor>) -> !lowbit.qtensor<4x8xternary, per_tensor> {
  return %x : !lowbit.qtensor<4x8xternary, per_tensor>
}

// -----

// CHECK-LABEL: func @per_axis_rank3
// CHECK-SAME: !lowbit.qtensor<2x4x8xi8, per_axis<2>>
func.func @per_axis_rank3(%x: !lowbit.qtensor<2x4x8xi8, per_axis<2>>) -> !lowbit.qtensor<2x4x8xi8, per_axis<2>> {
  return %x : !lowbit.qtensor<2x4x8xi8, per_axis<2>>
}

// -----

// CHECK-LABEL: func @per_group_one_axis
// CHECK-SAME: !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
func.func @per_group_one_axis(%x: !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>) -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric> {
  return %x : !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
}

// -----

// CHECK-LABEL: func @per_group_two_axes
// CHECK-SAME: !lowbit.qtensor<4x64xi4, per_group<[0 : 2, 1 : 16]>>
func.func @per_group_two_axes(%x: !lowbit.qtensor<4x64xi4, per_group<[0 : 2, 1 : 16]>>) -> !lowbit.qtensor<4x64xi4, per_group<[0 : 2, 1 : 16]>> {
  return %x : !lowbit.qtensor<4x64xi4, per_group<[0 : 2, 1 : 16]>>
}

// -----

// CHECK-LABEL: func @per_group_rank3
// CHECK-SAME: !lowbit.qtensor<2x4x64xi8, per_group<[0 : 2, 1 : 4, 2 : 8]>>
func.func @per_group_rank3(%x: !lowbit.qtensor<2x4x64xi8, per_group<[0 : 2, 1 : 4, 2 : 8]>>) -> !lowbit.qtensor<2x4x64xi8, per_group<[0 : 2, 1 : 4, 2 : 8]>> {
  return %x : !lowbit.qtensor<2x4x64xi8, per_group<[0 : 2, 1 : 4, 2 : 8]>>
}

// -----

// CHECK-LABEL: func @f8E4M3FN_cast
// CHECK-SAME: !lowbit.qtensor<4x8xf8E4M3FN>
func.func @f8E4M3FN_cast(%x: !lowbit.qtensor<4x8xf8E4M3FN>) -> !lowbit.qtensor<4x8xf8E4M3FN> {
  return %x : !lowbit.qtensor<4x8xf8E4M3FN>
}

// -----

// CHECK-LABEL: func @f8E5M2_cast
// CHECK-SAME: !lowbit.qtensor<4x8xf8E5M2>
func.func @f8E5M2_cast(%x: !lowbit.qtensor<4x8xf8E5M2>) -> !lowbit.qtensor<4x8xf8E5M2> {
  return %x : !lowbit.qtensor<4x8xf8E5M2>
}

// -----

// CHECK-LABEL: func @f6E2M3FN_cast
// CHECK-SAME: !lowbit.qtensor<4x8xf6E2M3FN>
func.func @f6E2M3FN_cast(%x: !lowbit.qtensor<4x8xf6E2M3FN>) -> !lowbit.qtensor<4x8xf6E2M3FN> {
  return %x : !lowbit.qtensor<4x8xf6E2M3FN>
}

// -----

// CHECK-LABEL: func @f6E3M2FN_cast
// CHECK-SAME: !lowbit.qtensor<4x8xf6E3M2FN>
func.func @f6E3M2FN_cast(%x: !lowbit.qtensor<4x8xf6E3M2FN>) -> !lowbit.qtensor<4x8xf6E3M2FN> {
  return %x : !lowbit.qtensor<4x8xf6E3M2FN>
}

// -----

// CHECK-LABEL: func @f4E2M1FN_cast
// CHECK-SAME: !lowbit.qtensor<4x8xf4E2M1FN>
func.func @f4E2M1FN_cast(%x: !lowbit.qtensor<4x8xf4E2M1FN>) -> !lowbit.qtensor<4x8xf4E2M1FN> {
  return %x : !lowbit.qtensor<4x8xf4E2M1FN>
}

// -----

// CHECK-LABEL: func @f8E4M3FN_per_tensor
// CHECK-SAME: !lowbit.qtensor<4x8xf8E4M3FN, per_tensor>
func.func @f8E4M3FN_per_tensor(%x: !lowbit.qtensor<4x8xf8E4M3FN, per_tensor>) -> !lowbit.qtensor<4x8xf8E4M3FN, per_tensor> {
  return %x : !lowbit.qtensor<4x8xf8E4M3FN, per_tensor>
}

// -----

// CHECK-LABEL: func @f8E5M2_per_axis
// CHECK-SAME: !lowbit.qtensor<4x8xf8E5M2, per_axis<0>>
func.func @f8E5M2_per_axis(%x: !lowbit.qtensor<4x8xf8E5M2, per_axis<0>>) -> !lowbit.qtensor<4x8xf8E5M2, per_axis<0>> {
  return %x : !lowbit.qtensor<4x8xf8E5M2, per_axis<0>>
}

// -----

// CHECK-LABEL: func @f6E2M3FN_per_group
// CHECK-SAME: !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>>
func.func @f6E2M3FN_per_group(%x: !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>>) -> !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>> {
  return %x : !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>>
}

// -----

// CHECK-LABEL: func @f6E3M2FN_per_group
// CHECK-SAME: !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>>
func.func @f6E3M2FN_per_group(%x: !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>>) -> !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>> {
  return %x : !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>>
}

// -----

// CHECK-LABEL: func @f4E2M1FN_per_group
// CHECK-SAME: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>>
func.func @f4E2M1FN_per_group(%x: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>>) -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>> {
  return %x : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>>
}

// -----

// CHECK-LABEL: func @mxfp8_e4m3
// CHECK-SAME: !lowbit.qtensor<4x64xf8E4M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @mxfp8_e4m3(%x: !lowbit.qtensor<4x64xf8E4M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xf8E4M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  return %x : !lowbit.qtensor<4x64xf8E4M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @mxfp8_e5m2
// CHECK-SAME: !lowbit.qtensor<4x64xf8E5M2, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @mxfp8_e5m2(%x: !lowbit.qtensor<4x64xf8E5M2, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xf8E5M2, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  return %x : !lowbit.qtensor<4x64xf8E5M2, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @mxfp6_e2m3
// CHECK-SAME: !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @mxfp6_e2m3(%x: !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  return %x : !lowbit.qtensor<4x64xf6E2M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @mxfp6_e3m2
// CHECK-SAME: !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @mxfp6_e3m2(%x: !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  return %x : !lowbit.qtensor<4x64xf6E3M2FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @mxfp4
// CHECK-SAME: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @mxfp4(%x: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  return %x : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @mxint8
// CHECK-SAME: !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @mxint8(%x: !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  return %x : !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @nvfp4
// CHECK-SAME: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
func.func @nvfp4(%x: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> {
  return %x : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
}

// -----

// CHECK-LABEL: func @expressed_f16
// CHECK-SAME: !lowbit.qtensor<4x8xi8 : f16, per_tensor>
func.func @expressed_f16(%x: !lowbit.qtensor<4x8xi8 : f16, per_tensor>) -> !lowbit.qtensor<4x8xi8 : f16, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi8 : f16, per_tensor>
}

// -----

// CHECK-LABEL: func @expressed_bf16
// CHECK-SAME: !lowbit.qtensor<4x8xi8 : bf16, per_axis<0>>
func.func @expressed_bf16(%x: !lowbit.qtensor<4x8xi8 : bf16, per_axis<0>>) -> !lowbit.qtensor<4x8xi8 : bf16, per_axis<0>> {
  return %x : !lowbit.qtensor<4x8xi8 : bf16, per_axis<0>>
}

// -----

// CHECK-LABEL: func @expressed_f16_float_cast
// CHECK-SAME: !lowbit.qtensor<4x8xf8E4M3FN : f16>
func.func @expressed_f16_float_cast(%x: !lowbit.qtensor<4x8xf8E4M3FN : f16>) -> !lowbit.qtensor<4x8xf8E4M3FN : f16> {
  return %x : !lowbit.qtensor<4x8xf8E4M3FN : f16>
}

// -----

// CHECK-LABEL: func @scale_f16
// CHECK-SAME: !lowbit.qtensor<4x8xi8 : f16, per_axis<0>, scale = f16>
func.func @scale_f16(%x: !lowbit.qtensor<4x8xi8 : f16, per_axis<0>, scale = f16>) -> !lowbit.qtensor<4x8xi8 : f16, per_axis<0>, scale = f16> {
  return %x : !lowbit.qtensor<4x8xi8 : f16, per_axis<0>, scale = f16>
}

// -----

// CHECK-LABEL: func @scale_bf16
// CHECK-SAME: !lowbit.qtensor<4x64xui4 : bf16, per_group<[1 : 32]>, asymmetric, scale = bf16>
func.func @scale_bf16(%x: !lowbit.qtensor<4x64xui4 : bf16, per_group<[1 : 32]>, asymmetric, scale = bf16>) -> !lowbit.qtensor<4x64xui4 : bf16, per_group<[1 : 32]>, asymmetric, scale = bf16> {
  return %x : !lowbit.qtensor<4x64xui4 : bf16, per_group<[1 : 32]>, asymmetric, scale = bf16>
}

// -----

// CHECK-LABEL: func @round_nearest_away
// CHECK-SAME: !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away>
func.func @round_nearest_away(%x: !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away>) -> !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away> {
  return %x : !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away>
}

// -----

// CHECK-LABEL: func @no_saturate_e4m3
// CHECK-SAME: !lowbit.qtensor<4x8xf8E4M3FN, per_tensor, no_saturate>
func.func @no_saturate_e4m3(%x: !lowbit.qtensor<4x8xf8E4M3FN, per_tensor, no_saturate>) -> !lowbit.qtensor<4x8xf8E4M3FN, per_tensor, no_saturate> {
  return %x : !lowbit.qtensor<4x8xf8E4M3FN, per_tensor, no_saturate>
}

// -----

// CHECK-LABEL: func @no_saturate_e5m2
// CHECK-SAME: !lowbit.qtensor<4x8xf8E5M2, no_saturate>
func.func @no_saturate_e5m2(%x: !lowbit.qtensor<4x8xf8E5M2, no_saturate>) -> !lowbit.qtensor<4x8xf8E5M2, no_saturate> {
  return %x : !lowbit.qtensor<4x8xf8E5M2, no_saturate>
}

// -----

// CHECK-LABEL: func @all_options
// CHECK-SAME: !lowbit.qtensor<4x8xi8 : bf16, per_axis<1>, full_range, scale = f16, round = nearest_away>
func.func @all_options(%x: !lowbit.qtensor<4x8xi8 : bf16, per_axis<1>, full_range, scale = f16, round = nearest_away>) -> !lowbit.qtensor<4x8xi8 : bf16, per_axis<1>, full_range, scale = f16, round = nearest_away> {
  return %x : !lowbit.qtensor<4x8xi8 : bf16, per_axis<1>, full_range, scale = f16, round = nearest_away>
}

// -----

// CHECK-LABEL: func @gguf_q4_0
// CHECK-SAME: !lowbit.qtensor<2x32xgguf<q4_0>>
func.func @gguf_q4_0(%x: !lowbit.qtensor<2x32xgguf<q4_0>>) -> !lowbit.qtensor<2x32xgguf<q4_0>> {
  return %x : !lowbit.qtensor<2x32xgguf<q4_0>>
}

// -----

// CHECK-LABEL: func @gguf_q4_1
// CHECK-SAME: !lowbit.qtensor<2x32xgguf<q4_1>>
func.func @gguf_q4_1(%x: !lowbit.qtensor<2x32xgguf<q4_1>>) -> !lowbit.qtensor<2x32xgguf<q4_1>> {
  return %x : !lowbit.qtensor<2x32xgguf<q4_1>>
}

// -----

// CHECK-LABEL: func @gguf_q5_0
// CHECK-SAME: !lowbit.qtensor<2x32xgguf<q5_0>>
func.func @gguf_q5_0(%x: !lowbit.qtensor<2x32xgguf<q5_0>>) -> !lowbit.qtensor<2x32xgguf<q5_0>> {
  return %x : !lowbit.qtensor<2x32xgguf<q5_0>>
}

// -----

// CHECK-LABEL: func @gguf_q5_1
// CHECK-SAME: !lowbit.qtensor<2x32xgguf<q5_1>>
func.func @gguf_q5_1(%x: !lowbit.qtensor<2x32xgguf<q5_1>>) -> !lowbit.qtensor<2x32xgguf<q5_1>> {
  return %x : !lowbit.qtensor<2x32xgguf<q5_1>>
}

// -----

// CHECK-LABEL: func @gguf_q8_0
// CHECK-SAME: !lowbit.qtensor<2x32xgguf<q8_0>>
func.func @gguf_q8_0(%x: !lowbit.qtensor<2x32xgguf<q8_0>>) -> !lowbit.qtensor<2x32xgguf<q8_0>> {
  return %x : !lowbit.qtensor<2x32xgguf<q8_0>>
}

// -----

// CHECK-LABEL: func @gguf_q2_k
// CHECK-SAME: !lowbit.qtensor<2x256xgguf<q2_k>>
func.func @gguf_q2_k(%x: !lowbit.qtensor<2x256xgguf<q2_k>>) -> !lowbit.qtensor<2x256xgguf<q2_k>> {
  return %x : !lowbit.qtensor<2x256xgguf<q2_k>>
}

// -----

// CHECK-LABEL: func @gguf_q3_k
// CHECK-SAME: !lowbit.qtensor<2x256xgguf<q3_k>>
func.func @gguf_q3_k(%x: !lowbit.qtensor<2x256xgguf<q3_k>>) -> !lowbit.qtensor<2x256xgguf<q3_k>> {
  return %x : !lowbit.qtensor<2x256xgguf<q3_k>>
}

// -----

// CHECK-LABEL: func @gguf_q4_k
// CHECK-SAME: !lowbit.qtensor<2x256xgguf<q4_k>>
func.func @gguf_q4_k(%x: !lowbit.qtensor<2x256xgguf<q4_k>>) -> !lowbit.qtensor<2x256xgguf<q4_k>> {
  return %x : !lowbit.qtensor<2x256xgguf<q4_k>>
}

// -----

// CHECK-LABEL: func @gguf_q5_k
// CHECK-SAME: !lowbit.qtensor<2x256xgguf<q5_k>>
func.func @gguf_q5_k(%x: !lowbit.qtensor<2x256xgguf<q5_k>>) -> !lowbit.qtensor<2x256xgguf<q5_k>> {
  return %x : !lowbit.qtensor<2x256xgguf<q5_k>>
}

// -----

// CHECK-LABEL: func @gguf_q6_k
// CHECK-SAME: !lowbit.qtensor<2x256xgguf<q6_k>>
func.func @gguf_q6_k(%x: !lowbit.qtensor<2x256xgguf<q6_k>>) -> !lowbit.qtensor<2x256xgguf<q6_k>> {
  return %x : !lowbit.qtensor<2x256xgguf<q6_k>>
}

// -----

// CHECK-LABEL: func @gguf_mxfp4
// CHECK-SAME: !lowbit.qtensor<2x32xgguf<mxfp4>>
func.func @gguf_mxfp4(%x: !lowbit.qtensor<2x32xgguf<mxfp4>>) -> !lowbit.qtensor<2x32xgguf<mxfp4>> {
  return %x : !lowbit.qtensor<2x32xgguf<mxfp4>>
}

// -----

// CHECK-LABEL: func @gguf_expressed_f16
// CHECK-SAME: !lowbit.qtensor<2x256xgguf<q4_k> : f16>
func.func @gguf_expressed_f16(%x: !lowbit.qtensor<2x256xgguf<q4_k> : f16>) -> !lowbit.qtensor<2x256xgguf<q4_k> : f16> {
  return %x : !lowbit.qtensor<2x256xgguf<q4_k> : f16>
}

// -----

// Defaults are not printed: f32 expressed type, f32 scales, nearest_even.
// CHECK-LABEL: func @defaults_elided
// CHECK-SAME: !lowbit.qtensor<4x8xi8, per_tensor>
func.func @defaults_elided(%x: !lowbit.qtensor<4x8xi8 : f32, per_tensor, scale = f32, round = nearest_even>) -> !lowbit.qtensor<4x8xi8, per_tensor> {
  return %x : !lowbit.qtensor<4x8xi8, per_tensor>
}

// -----

// Schemes as discardable attributes (of another dialect: lowbit verifies
// its own, docs/Spec.md LB-A1 to LB-A6).
// CHECK-LABEL: func @scheme_attrs
// CHECK-SAME: {test.scheme = #lowbit.scheme<ternary, per_tensor>}
// CHECK-SAME: test.activations = #lowbit.scheme<i8, per_axis<0>>
// CHECK-SAME: test.gguf = #lowbit.scheme<gguf<q6_k> : f16>
// CHECK-SAME: test.mx = #lowbit.scheme<f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
// CHECK-SAME: test.nvfp4 = #lowbit.scheme<f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
// CHECK-SAME: test.weights = #lowbit.scheme<ui4, per_group<[1 : 128]>, asymmetric>
func.func @scheme_attrs(%x: tensor<4xf32> {test.scheme = #lowbit.scheme<ternary, per_tensor>}) attributes {
    test.activations = #lowbit.scheme<i8, per_axis<0>>,
    test.gguf = #lowbit.scheme<gguf<q6_k> : f16>,
    test.mx = #lowbit.scheme<f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>,
    test.nvfp4 = #lowbit.scheme<f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>,
    test.weights = #lowbit.scheme<ui4, per_group<[1 : 128]>, asymmetric>} {
  return
}

// -----

// CHECK-LABEL: func @quantize_dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>)
// CHECK: %[[Q:.*]] = lowbit.quantize %[[X]] : tensor<4x64xf32> -> <4x64xi8, per_axis<0>>
// CHECK: %[[Y:.*]] = lowbit.dequantize %[[Q]] : <4x64xi8, per_axis<0>> -> tensor<4x64xf32>
// CHECK: return %[[Y]]
func.func @quantize_dynamic(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// CHECK-LABEL: func @quantize_static_scale
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf16>, %[[S:.*]]: tensor<f16>)
// CHECK: lowbit.quantize %[[X]] scale(%[[S]] : tensor<f16>) : tensor<4x64xf16> -> <4x64xi8 : f16, per_tensor, scale = f16>
func.func @quantize_static_scale(%x: tensor<4x64xf16>, %s: tensor<f16>) -> !lowbit.qtensor<4x64xi8 : f16, per_tensor, scale = f16> {
  %q = lowbit.quantize %x scale(%s : tensor<f16>) : tensor<4x64xf16> -> !lowbit.qtensor<4x64xi8 : f16, per_tensor, scale = f16>
  return %q : !lowbit.qtensor<4x64xi8 : f16, per_tensor, scale = f16>
}

// -----

// CHECK-LABEL: func @quantize_zero_point
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[S:.*]]: tensor<4x2xf32>, %[[Z:.*]]: tensor<4x2xi32>)
// CHECK: lowbit.quantize %[[X]] scale(%[[S]] : tensor<4x2xf32>) zero_point(%[[Z]] : tensor<4x2xi32>) : tensor<4x64xf32> -> <4x64xui4, per_group<[1 : 32]>, asymmetric>
func.func @quantize_zero_point(%x: tensor<4x64xf32>, %s: tensor<4x2xf32>, %z: tensor<4x2xi32>) -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric> {
  %q = lowbit.quantize %x scale(%s : tensor<4x2xf32>) zero_point(%z : tensor<4x2xi32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
  return %q : !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
}

// -----

// CHECK-LABEL: func @quantize_tensor_scale
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[S:.*]]: tensor<4x4xf8E4M3FN>, %[[T:.*]]: tensor<f32>)
// CHECK: lowbit.quantize %[[X]] scale(%[[S]] : tensor<4x4xf8E4M3FN>) tensor_scale(%[[T]] : tensor<f32>) : tensor<4x64xf32> -> <4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
func.func @quantize_tensor_scale(%x: tensor<4x64xf32>, %s: tensor<4x4xf8E4M3FN>, %t: tensor<f32>) -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> {
  %q = lowbit.quantize %x scale(%s : tensor<4x4xf8E4M3FN>) tensor_scale(%t : tensor<f32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
  return %q : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
}

// -----

// CHECK-LABEL: func @quantize_mx_static
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[S:.*]]: tensor<4x2xf8E8M0FNU>)
// CHECK: lowbit.quantize %[[X]] scale(%[[S]] : tensor<4x2xf8E8M0FNU>) : tensor<4x64xf32> -> <4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @quantize_mx_static(%x: tensor<4x64xf32>, %s: tensor<4x2xf8E8M0FNU>) -> !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  %q = lowbit.quantize %x scale(%s : tensor<4x2xf8E8M0FNU>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>
  return %q : !lowbit.qtensor<4x64xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// CHECK-LABEL: func @dequantize_bf16
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x8xf8E5M2 : bf16>)
// CHECK: lowbit.dequantize %[[Q]] : <4x8xf8E5M2 : bf16> -> tensor<4x8xbf16>
func.func @dequantize_bf16(%q: !lowbit.qtensor<4x8xf8E5M2 : bf16>) -> tensor<4x8xbf16> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x8xf8E5M2 : bf16> -> tensor<4x8xbf16>
  return %y : tensor<4x8xbf16>
}

// -----

// CHECK-LABEL: func @requantize
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xi8, per_axis<0>>, %[[S:.*]]: tensor<4x2xf32>, %[[Z:.*]]: tensor<4x2xi32>)
// CHECK: %[[R:.*]] = lowbit.requantize %[[Q]] : <4x64xi8, per_axis<0>> -> <4x64xi4, per_group<[1 : 32]>>
// CHECK: lowbit.requantize %[[R]] scale(%[[S]] : tensor<4x2xf32>) zero_point(%[[Z]] : tensor<4x2xi32>) : <4x64xi4, per_group<[1 : 32]>> -> <4x64xui4, per_group<[1 : 32]>, asymmetric>
func.func @requantize(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>, %s: tensor<4x2xf32>, %z: tensor<4x2xi32>) -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric> {
  %r = lowbit.requantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>>
  %u = lowbit.requantize %r scale(%s : tensor<4x2xf32>) zero_point(%z : tensor<4x2xi32>) : !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>> -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
  return %u : !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
}

// -----

// CHECK-LABEL: func @requantize_tensor_scale
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xf8E4M3FN, per_tensor>, %[[S:.*]]: tensor<4x4xf8E4M3FN>, %[[T:.*]]: tensor<f32>)
// CHECK: lowbit.requantize %[[Q]] scale(%[[S]] : tensor<4x4xf8E4M3FN>) tensor_scale(%[[T]] : tensor<f32>) : <4x64xf8E4M3FN, per_tensor> -> <4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
func.func @requantize_tensor_scale(%q: !lowbit.qtensor<4x64xf8E4M3FN, per_tensor>, %s: tensor<4x4xf8E4M3FN>, %t: tensor<f32>) -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> {
  %r = lowbit.requantize %q scale(%s : tensor<4x4xf8E4M3FN>) tensor_scale(%t : tensor<f32>) : !lowbit.qtensor<4x64xf8E4M3FN, per_tensor> -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
  return %r : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
}

// -----

// CHECK-LABEL: func @constants
// CHECK: lowbit.constant codes(dense<{{\[}}[1, 2], [3, 4]]> : tensor<2x2xi8>) scales(dense<2.500000e-01> : tensor<f32>) : <2x4xi4, per_tensor>
// CHECK: lowbit.constant codes(dense<0> : tensor<2x32xi8>) scales(dense<1.000000e+00> : tensor<2x1xf32>) zero_points(dense<8> : tensor<2x1xi32>) : <2x32xui8, per_group<[1 : 32]>, asymmetric>
// CHECK: lowbit.constant codes(dense<0> : tensor<2x16xi8>) scales(dense<1.000000e+00> : tensor<2x1xf8E8M0FNU>) : <2x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
// CHECK: lowbit.constant codes(dense<0> : tensor<1x8xi8>) scales(dense<1.000000e+00> : tensor<1x1xf8E4M3FN>) tensor_scale(dense<5.000000e-01> : tensor<f32>) : <1x16xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
// CHECK: lowbit.constant codes(dense<0> : tensor<2x4xi8>) : <2x4xf8E4M3FN>
// CHECK: lowbit.constant codes(dense<0> : tensor<1x18xi8>) : <1x32xgguf<q4_0>>
// CHECK: lowbit.constant codes(dense<0> : tensor<3x2xi8>) scales(dense<1.000000e+00> : tensor<3xf32>) : <3x5xternary, per_axis<0>>
func.func @constants() {
  %a = lowbit.constant codes(dense<[[1, 2], [3, 4]]> : tensor<2x2xi8>) scales(dense<0.25> : tensor<f32>) : !lowbit.qtensor<2x4xi4, per_tensor>
  %b = lowbit.constant codes(dense<0> : tensor<2x32xi8>) scales(dense<1.0> : tensor<2x1xf32>) zero_points(dense<8> : tensor<2x1xi32>) : !lowbit.qtensor<2x32xui8, per_group<[1 : 32]>, asymmetric>
  %c = lowbit.constant codes(dense<0> : tensor<2x16xi8>) scales(dense<1.0> : tensor<2x1xf8E8M0FNU>) : !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
  %d = lowbit.constant codes(dense<0> : tensor<1x8xi8>) scales(dense<1.0> : tensor<1x1xf8E4M3FN>) tensor_scale(dense<0.5> : tensor<f32>) : !lowbit.qtensor<1x16xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
  %e = lowbit.constant codes(dense<0> : tensor<2x4xi8>) : !lowbit.qtensor<2x4xf8E4M3FN>
  %f = lowbit.constant codes(dense<0> : tensor<1x18xi8>) : !lowbit.qtensor<1x32xgguf<q4_0>>
  %g = lowbit.constant codes(dense<0> : tensor<3x2xi8>) scales(dense<1.0> : tensor<3xf32>) : !lowbit.qtensor<3x5xternary, per_axis<0>>
  return
}

// -----

// CHECK-LABEL: func @qmatmul_rank2
// CHECK-SAME: (%[[X:.*]]: tensor<8x128xf32>, %[[W:.*]]: !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>>, %[[V:.*]]: !lowbit.qtensor<128x64xi8, per_axis<1>>)
// CHECK: lowbit.qmatmul %[[X]], %[[W]] {transpose_b} : tensor<8x128xf32>, !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>> -> tensor<8x64xf32>
// CHECK: lowbit.qmatmul %[[X]], %[[V]] : tensor<8x128xf32>, !lowbit.qtensor<128x64xi8, per_axis<1>> -> tensor<8x64xf32>
func.func @qmatmul_rank2(%x: tensor<8x128xf32>, %w: !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>>, %v: !lowbit.qtensor<128x64xi8, per_axis<1>>) -> (tensor<8x64xf32>, tensor<8x64xf32>) {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<8x128xf32>, !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>> -> tensor<8x64xf32>
  %z = lowbit.qmatmul %x, %v : tensor<8x128xf32>, !lowbit.qtensor<128x64xi8, per_axis<1>> -> tensor<8x64xf32>
  return %y, %z : tensor<8x64xf32>, tensor<8x64xf32>
}

// -----

// CHECK-LABEL: func @qmatmul_batch_both_quantized
// CHECK-SAME: (%[[A:.*]]: !lowbit.qtensor<2x8x64xi8, per_axis<1>>, %[[B:.*]]: !lowbit.qtensor<2x16x64xf8E4M3FN, per_tensor>)
// CHECK: lowbit.qmatmul %[[A]], %[[B]] {transpose_b} : !lowbit.qtensor<2x8x64xi8, per_axis<1>>, !lowbit.qtensor<2x16x64xf8E4M3FN, per_tensor> -> tensor<2x8x16xf32>
func.func @qmatmul_batch_both_quantized(%a: !lowbit.qtensor<2x8x64xi8, per_axis<1>>, %b: !lowbit.qtensor<2x16x64xf8E4M3FN, per_tensor>) -> tensor<2x8x16xf32> {
  %y = lowbit.qmatmul %a, %b {transpose_b} : !lowbit.qtensor<2x8x64xi8, per_axis<1>>, !lowbit.qtensor<2x16x64xf8E4M3FN, per_tensor> -> tensor<2x8x16xf32>
  return %y : tensor<2x8x16xf32>
}

// -----

// CHECK-LABEL: func @qmatmul_f16_gguf
// CHECK-SAME: (%[[X:.*]]: tensor<4x256xf16>, %[[W:.*]]: !lowbit.qtensor<8x256xgguf<q4_k> : f16>)
// CHECK: lowbit.qmatmul %[[X]], %[[W]] {transpose_b} : tensor<4x256xf16>, !lowbit.qtensor<8x256xgguf<q4_k> : f16> -> tensor<4x8xf16>
func.func @qmatmul_f16_gguf(%x: tensor<4x256xf16>, %w: !lowbit.qtensor<8x256xgguf<q4_k> : f16>) -> tensor<4x8xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<4x256xf16>, !lowbit.qtensor<8x256xgguf<q4_k> : f16> -> tensor<4x8xf16>
  return %y : tensor<4x8xf16>
}

// -----

// Weights kept out of the IR text: dense_resource codes and scales.
// CHECK-LABEL: func @constant_dense_resource
// CHECK: lowbit.constant codes(dense_resource<w0_codes> : tensor<2x2xi8>) scales(dense_resource<w0_scales> : tensor<2xf32>) : <2x4xi4, per_axis<0>>
// CHECK: dialect_resources
// CHECK: w0_codes: "0x0400000012345678"
// CHECK: w0_scales: "0x040000000000803F0000003F"
func.func @constant_dense_resource() -> !lowbit.qtensor<2x4xi4, per_axis<0>> {
  %w = lowbit.constant codes(dense_resource<w0_codes> : tensor<2x2xi8>) scales(dense_resource<w0_scales> : tensor<2xf32>) : !lowbit.qtensor<2x4xi4, per_axis<0>>
  return %w : !lowbit.qtensor<2x4xi4, per_axis<0>>
}

{-#
  dialect_resources: {
    builtin: {
      w0_codes: "0x0400000012345678",
      w0_scales: "0x040000000000803F0000003F"
    }
  }
#-}

// -----

// CHECK-LABEL: func @pack_unpack
// CHECK: %[[C:.*]]:3 = lowbit.unpack %{{.*}} : <32x2x16xi4, per_group<[0 : 32]>, asymmetric> -> tensor<32x2x8xi8>, tensor<1x2x16xf32>, tensor<1x2x16xi32>
// CHECK: lowbit.pack %[[C]]#0, %[[C]]#1, %[[C]]#2 : tensor<32x2x8xi8>, tensor<1x2x16xf32>, tensor<1x2x16xi32> -> <32x2x16xi4, per_group<[0 : 32]>, asymmetric>
func.func @pack_unpack(%q: !lowbit.qtensor<32x2x16xi4, per_group<[0 : 32]>, asymmetric>) -> !lowbit.qtensor<32x2x16xi4, per_group<[0 : 32]>, asymmetric> {
  %c, %s, %z = lowbit.unpack %q : !lowbit.qtensor<32x2x16xi4, per_group<[0 : 32]>, asymmetric> -> tensor<32x2x8xi8>, tensor<1x2x16xf32>, tensor<1x2x16xi32>
  %p = lowbit.pack %c, %s, %z : tensor<32x2x8xi8>, tensor<1x2x16xf32>, tensor<1x2x16xi32> -> !lowbit.qtensor<32x2x16xi4, per_group<[0 : 32]>, asymmetric>
  return %p : !lowbit.qtensor<32x2x16xi4, per_group<[0 : 32]>, asymmetric>
}

// -----

// lowbit.launch: destination style on tensors (results are the outputs'
// new values), no results on memrefs.
// CHECK-LABEL: func.func @launch
// CHECK: %[[Y:.*]] = lowbit.launch @lowbit_gpu::@k [2, 1, 1, 128, 1, 1, 0] ins(%arg0, %arg1 : tensor<1x64xf16>, tensor<2x2x128xi32>) outs(%arg2 : tensor<1x64xf16>) -> tensor<1x64xf16>
// CHECK: lowbit.launch @lowbit_gpu::@k [1, 1, 1, 32, 1, 1, 0] ins(%arg3 : memref<4xf32>) outs(%arg4 : memref<4xf32>)
// CHECK-NOT: ->
// CHECK: return %[[Y]]
func.func @launch(%x: tensor<1x64xf16>, %w: tensor<2x2x128xi32>, %e: tensor<1x64xf16>, %a: memref<4xf32>, %b: memref<4xf32>) -> tensor<1x64xf16> {
  %y = lowbit.launch @lowbit_gpu::@k [2, 1, 1, 128, 1, 1, 0] ins(%x, %w : tensor<1x64xf16>, tensor<2x2x128xi32>) outs(%e : tensor<1x64xf16>) -> tensor<1x64xf16>
  lowbit.launch @lowbit_gpu::@k [1, 1, 1, 32, 1, 1, 0] ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  return %y : tensor<1x64xf16>
}

// -----

// Constants whose codes are packed for a kernel (LB-C2): the layout prints
// back, the other parts keep their run-time types.
// CHECK-LABEL: func @packed_layouts
// CHECK: lowbit.constant codes(dense<-127> : tensor<2x9x64xi8>) scales(dense<5.000000e-01> : tensor<17xf32>) {layout = #lowbit<layout int8_panels>} : <17x34xi8, per_axis<0>>
// CHECK: lowbit.constant codes(dense<0> : tensor<2x2x128xi32>) scales(dense<1.000000e+00> : tensor<40x2xf8E8M0FNU>) {layout = #lowbit<layout mma_b>} : <40x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
func.func @packed_layouts() {
  %p = lowbit.constant codes(dense<-127> : tensor<2x9x64xi8>) scales(dense<0.5> : tensor<17xf32>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<17x34xi8, per_axis<0>>
  %m = lowbit.constant codes(dense<0> : tensor<2x2x128xi32>) scales(dense<1.0> : tensor<40x2xf8E8M0FNU>) {layout = #lowbit<layout mma_b>} : !lowbit.qtensor<40x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
  return
}
