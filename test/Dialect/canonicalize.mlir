// RUN: lowbit-opt %s -split-input-file -canonicalize | FileCheck %s

// LB-F1: dequantize(quantize(x)) is never folded; the quantization error is
// part of the program's meaning.
// CHECK-LABEL: func @keep_dequantize_of_quantize
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>)
// CHECK: %[[Q:.*]] = lowbit.quantize %[[X]]
// CHECK: %[[Y:.*]] = lowbit.dequantize %[[Q]]
// CHECK: return %[[Y]]
func.func @keep_dequantize_of_quantize(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// LB-F2: quantize(dequantize(q)) with dynamic scales into q's own type is q.
// CHECK-LABEL: func @fold_quantize_of_dequantize
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>)
// CHECK-NEXT: return %[[Q]]
func.func @fold_quantize_of_dequantize(%q: !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>) -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric> -> tensor<4x64xf32>
  %r = lowbit.quantize %y : tensor<4x64xf32> -> !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
  return %r : !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>
}

// -----

// LB-F2 needs dynamic scales: static scales may differ from q's.
// CHECK-LABEL: func @keep_static_requantization
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xi8, per_axis<0>>, %[[S:.*]]: tensor<4xf32>)
// CHECK: %[[Y:.*]] = lowbit.dequantize %[[Q]]
// CHECK: %[[R:.*]] = lowbit.quantize %[[Y]] scale(%[[S]] : tensor<4xf32>)
// CHECK: return %[[R]]
func.func @keep_static_requantization(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>, %s: tensor<4xf32>) -> !lowbit.qtensor<4x64xi8, per_axis<0>> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
  %r = lowbit.quantize %y scale(%s : tensor<4xf32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  return %r : !lowbit.qtensor<4x64xi8, per_axis<0>>
}

// -----

// LB-F2 needs the identical type: another scheme really requantizes.
// CHECK-LABEL: func @keep_other_scheme
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xi8, per_axis<0>>)
// CHECK: %[[Y:.*]] = lowbit.dequantize %[[Q]]
// CHECK: %[[R:.*]] = lowbit.quantize %[[Y]] : tensor<4x64xf32> -> <4x64xi4, per_group<[1 : 32]>>
// CHECK: return %[[R]]
func.func @keep_other_scheme(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>) -> !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
  %r = lowbit.quantize %y : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>>
  return %r : !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>>
}

// -----

// Only the rounding mode differs: still another scheme, not folded.
// CHECK-LABEL: func @keep_other_rounding
// CHECK: lowbit.dequantize
// CHECK: lowbit.quantize
func.func @keep_other_rounding(%q: !lowbit.qtensor<4x64xi8, per_tensor>) -> !lowbit.qtensor<4x64xi8, per_tensor, round = nearest_away> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_tensor> -> tensor<4x64xf32>
  %r = lowbit.quantize %y : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_tensor, round = nearest_away>
  return %r : !lowbit.qtensor<4x64xi8, per_tensor, round = nearest_away>
}

// -----

// LB-F2: requantize into the identical type with dynamic parameters is its
// input.
// CHECK-LABEL: func @fold_requantize_same_type
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>)
// CHECK-NEXT: return %[[Q]]
func.func @fold_requantize_same_type(%q: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> {
  %r = lowbit.requantize %q : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
  return %r : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

// -----

// requantize with static parameters or into another type stays.
// CHECK-LABEL: func @keep_requantize
// CHECK-SAME: (%[[Q:.*]]: !lowbit.qtensor<4x64xi8, per_axis<0>>, %[[S:.*]]: tensor<4xf32>)
// CHECK: %[[A:.*]] = lowbit.requantize %[[Q]] scale(%[[S]] : tensor<4xf32>)
// CHECK: %[[B:.*]] = lowbit.requantize %[[Q]] : <4x64xi8, per_axis<0>> -> <4x64xi8, per_tensor>
// CHECK: return %[[A]], %[[B]]
func.func @keep_requantize(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>, %s: tensor<4xf32>) -> (!lowbit.qtensor<4x64xi8, per_axis<0>>, !lowbit.qtensor<4x64xi8, per_tensor>) {
  %a = lowbit.requantize %q scale(%s : tensor<4xf32>) : !lowbit.qtensor<4x64xi8, per_axis<0>> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  %b = lowbit.requantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> !lowbit.qtensor<4x64xi8, per_tensor>
  return %a, %b : !lowbit.qtensor<4x64xi8, per_axis<0>>, !lowbit.qtensor<4x64xi8, per_tensor>
}
