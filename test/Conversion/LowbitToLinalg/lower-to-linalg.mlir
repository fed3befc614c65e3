// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-linalg | FileCheck %s

// Structure of the reference lowering (docs/Spec.md, "Run-time layout" and
// "Quantization rules"); the numbers are checked by test/E2E.

// A qtensor in a signature becomes its parts: packed codes, scales, zero
// points.
// CHECK-LABEL: func @signature
// CHECK-SAME: (%[[C:.*]]: tensor<4x32xi8>, %[[S:.*]]: tensor<4x2xf32>, %[[Z:.*]]: tensor<4x2xi32>) -> tensor<4x64xf32>
// CHECK: %[[U:.*]] = linalg.generic
// CHECK-SAME: ins(%[[C]] : tensor<4x32xi8>)
// CHECK: linalg.index 2
// CHECK: arith.shrui
// CHECK: } -> tensor<4x32x2xi8>
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[U]] {{\[}}[0], [1, 2]] : tensor<4x32x2xi8> into tensor<4x64xi8>
// CHECK: %[[BLK:.*]] = tensor.expand_shape %[[FLAT]] {{\[}}[0, 1], [2, 3]] output_shape [4, 1, 2, 32]
// CHECK: %[[Y:.*]] = linalg.generic
// CHECK-SAME: ins(%[[BLK]], %[[S]], %[[Z]] : tensor<4x1x2x32xi8>, tensor<4x2xf32>, tensor<4x2xi32>)
// CHECK: arith.subi
// CHECK: arith.sitofp
// CHECK: arith.mulf
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[Y]]
// CHECK: return %[[R]] : tensor<4x64xf32>
func.func @signature(%q: !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric>) -> tensor<4x64xf32> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xui4, per_group<[1 : 32]>, asymmetric> -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// Dynamic int4 per-channel quantization: an absmax reduction over the block,
// scale = amax / 7, RNE codes clamped to [-7, 7], then two codes per byte
// (element 2i in the low nibble).
// CHECK-LABEL: func @quantize_int4
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>) -> (tensor<4x32xi8>, tensor<4xf32>)
// CHECK: %[[XB:.*]] = tensor.expand_shape %[[X]] {{\[}}[0, 1], [2, 3]] output_shape [4, 1, 1, 64]
// CHECK: %[[AMAX:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction", "parallel", "reduction"]
// CHECK-SAME: ins(%[[XB]] : tensor<4x1x1x64xf32>)
// CHECK: math.absf
// CHECK: arith.maxnumf
// CHECK: %[[SC:.*]] = linalg.generic
// CHECK-SAME: ins(%[[AMAX]] : tensor<4x1xf32>)
// CHECK: arith.constant 7.0
// CHECK: arith.divf
// CHECK: %[[CODES:.*]] = linalg.generic
// CHECK-SAME: ins(%[[XB]], %[[SC]] : tensor<4x1x1x64xf32>, tensor<4x1xf32>)
// CHECK: arith.divf
// CHECK: math.roundeven
// CHECK: arith.cmpf uno
// CHECK: arith.constant -7.0
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: arith.fptosi
// CHECK: } -> tensor<4x1x1x64xi8>
// CHECK: %[[PACKED:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.index 2
// CHECK: arith.shli
// CHECK: arith.ori
// CHECK: } -> tensor<4x32xi8>
// CHECK: %[[S:.*]] = tensor.collapse_shape %[[SC]] {{\[}}[0, 1]] : tensor<4x1xf32> into tensor<4xf32>
// CHECK: return %[[PACKED]], %[[S]] : tensor<4x32xi8>, tensor<4xf32>
func.func @quantize_int4(%x: tensor<4x64xf32>) -> !lowbit.qtensor<4x64xi4, per_axis<0>> {
  %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi4, per_axis<0>>
  return %q : !lowbit.qtensor<4x64xi4, per_axis<0>>
}

// -----

// An odd last axis is padded to whole bytes before packing.
// CHECK-LABEL: func @pack_padding
// CHECK-SAME: -> (tensor<2x3xi8>, tensor<f32>)
// CHECK: tensor.insert_slice {{.*}} into tensor<2x6xi8>
// CHECK: tensor.expand_shape {{.*}} : tensor<2x6xi8> into tensor<2x3x2xi8>
func.func @pack_padding(%x: tensor<2x5xf32>) -> !lowbit.qtensor<2x5xi4, per_tensor> {
  %q = lowbit.quantize %x : tensor<2x5xf32> -> !lowbit.qtensor<2x5xi4, per_tensor>
  return %q : !lowbit.qtensor<2x5xi4, per_tensor>
}

// -----

// Static scales and zero points are used as given: no statistics.
// CHECK-LABEL: func @quantize_static
// CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[S:.*]]: tensor<f32>, %[[Z:.*]]: tensor<i32>) -> (tensor<4x64xi8>, tensor<f32>, tensor<i32>)
// CHECK-NOT: iterator_types = ["parallel", "reduction"
// CHECK: %[[SB:.*]] = tensor.expand_shape %[[S]] [] output_shape [1, 1] : tensor<f32> into tensor<1x1xf32>
// CHECK: %[[ZB:.*]] = tensor.expand_shape %[[Z]] [] output_shape [1, 1] : tensor<i32> into tensor<1x1xi32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %[[SB]], %[[ZB]] :
// CHECK: math.roundeven
// CHECK: arith.addf
// CHECK: return %{{.*}}, %{{.*}}, %{{.*}} : tensor<4x64xi8>, tensor<f32>, tensor<i32>
func.func @quantize_static(%x: tensor<4x64xf32>, %s: tensor<f32>, %z: tensor<i32>) -> !lowbit.qtensor<4x64xui8, per_tensor, asymmetric> {
  %q = lowbit.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xui8, per_tensor, asymmetric>
  return %q : !lowbit.qtensor<4x64xui8, per_tensor, asymmetric>
}

// -----

// round = nearest_away uses math.round.
// CHECK-LABEL: func @nearest_away
// CHECK-NOT: math.roundeven
// CHECK: math.round
// CHECK-NOT: math.roundeven
// CHECK: return
func.func @nearest_away(%x: tensor<4x8xf32>) -> !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away> {
  %q = lowbit.quantize %x : tensor<4x8xf32> -> !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away>
  return %q : !lowbit.qtensor<4x8xi8, per_tensor, round = nearest_away>
}

// -----

// MX scales (E8M0) and NVFP4 block scales (E4M3) travel as bytes.
// CHECK-LABEL: func @mx_and_nvfp4_parts
// CHECK-SAME: (%{{.*}}: tensor<4x32xi8>, %{{.*}}: tensor<4x2xi8>, %{{.*}}: tensor<4x32xi8>, %{{.*}}: tensor<4x4xi8>, %{{.*}}: tensor<f32>)
func.func @mx_and_nvfp4_parts(%a: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>, %b: !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> (tensor<4x64xf32>, tensor<4x64xf32>) {
  %x = lowbit.dequantize %a : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<4x64xf32>
  %y = lowbit.dequantize %b : !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<4x64xf32>
  return %x, %y : tensor<4x64xf32>, tensor<4x64xf32>
}

// -----

// Constants become one arith.constant per part; dense_resource stays a
// resource, and f8 scales are reinterpreted as bytes.
// CHECK-LABEL: func @constants
// CHECK-DAG: %[[C:.*]] = arith.constant dense_resource<w_codes> : tensor<2x2xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense_resource<w_scales> : tensor<2xf32>
// CHECK-DAG: %[[MC:.*]] = arith.constant dense<0> : tensor<2x16xi8>
// CHECK-DAG: %[[MS:.*]] = arith.constant dense<127> : tensor<2x1xi8>
// CHECK: return %[[C]], %[[S]], %[[MC]], %[[MS]]
func.func @constants() -> (!lowbit.qtensor<2x4xi4, per_axis<0>>, !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) {
  %w = lowbit.constant codes(dense_resource<w_codes> : tensor<2x2xi8>) scales(dense_resource<w_scales> : tensor<2xf32>) : !lowbit.qtensor<2x4xi4, per_axis<0>>
  %m = lowbit.constant codes(dense<0> : tensor<2x16xi8>) scales(dense<1.0> : tensor<2x1xf8E8M0FNU>) : !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
  return %w, %m : !lowbit.qtensor<2x4xi4, per_axis<0>>, !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
}

{-#
  dialect_resources: {
    builtin: {
      w_codes: "0x0400000012345678",
      w_scales: "0x040000000000803F0000003F"
    }
  }
#-}

// -----

// qmatmul: dequantize the quantized operand, then one contraction
// accumulating in f32 (transpose_b reads the weight as N x K).
// CHECK-LABEL: func @qmatmul
// CHECK-SAME: (%[[X:.*]]: tensor<8x64xf32>, %[[W:.*]]: tensor<16x64xi8>, %[[S:.*]]: tensor<16xf32>)
// CHECK: %[[DQ:.*]] = tensor.collapse_shape
// CHECK: %[[ACC:.*]] = linalg.fill
// CHECK: %[[Y:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[X]], %[[DQ]] : tensor<8x64xf32>, tensor<16x64xf32>) outs(%[[ACC]] : tensor<8x16xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: return %[[Y]]
func.func @qmatmul(%x: tensor<8x64xf32>, %w: !lowbit.qtensor<16x64xi8, per_axis<0>>) -> tensor<8x16xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<8x64xf32>, !lowbit.qtensor<16x64xi8, per_axis<0>> -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}
