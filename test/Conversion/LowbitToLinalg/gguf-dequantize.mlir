// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-linalg | FileCheck %s

// Structure of the reference lowering of the GGUF block formats
// (docs/Spec.md, LB-L1): the codes (llama.cpp's block structs, row by row)
// viewed as [..., blocks, block bytes], one linalg.generic over the result
// as [..., blocks, block elements] whose body reads its block's bytes with
// tensor.extract at computed offsets. test/E2E/gguf-reference.py checks the
// numbers against the numerics library, bit for bit.

// q4_0: the f16 scale at bytes 0-1 decoded from its bits (exponent field 0:
// frac * 2^-24; 31: Inf/NaN), the nibble e / 16 of byte 2 + e % 16, then
// float(q - 8) * d.
// CHECK-LABEL: func @q4_0
// CHECK-SAME: (%[[C:.*]]: tensor<2x36xi8>) -> tensor<2x64xf32>
// CHECK: %[[B:.*]] = tensor.expand_shape %[[C]] {{\[}}[0], [1, 2]] output_shape [2, 2, 18] : tensor<2x36xi8> into tensor<2x2x18xi8>
// CHECK: %[[Y:.*]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel"]
// CHECK-SAME: outs(%{{.*}} : tensor<2x2x32xf32>)
// CHECK: %[[R:.*]] = linalg.index 0
// CHECK: %[[K:.*]] = linalg.index 1
// CHECK: %[[E:.*]] = linalg.index 2
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: tensor.extract %[[B]][%[[R]], %[[K]], %[[C1]]] : tensor<2x2x18xi8>
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: tensor.extract %[[B]][%[[R]], %[[K]], %[[C0]]] : tensor<2x2x18xi8>
// CHECK: arith.constant 5.96046448E-8 : f32
// CHECK: %[[D:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK: tensor.extract %[[B]][%[[R]], %[[K]], %{{.*}}] : tensor<2x2x18xi8>
// CHECK: %[[Q:.*]] = arith.subi
// CHECK: %[[QF:.*]] = arith.sitofp %[[Q]] : i32 to f32
// CHECK: %[[V:.*]] = arith.mulf %[[QF]], %[[D]] : f32
// CHECK: linalg.yield %[[V]] : f32
// CHECK: } -> tensor<2x2x32xf32>
// CHECK: %[[OUT:.*]] = tensor.collapse_shape %[[Y]] {{\[}}[0], [1, 2]] : tensor<2x2x32xf32> into tensor<2x64xf32>
// CHECK: return %[[OUT]]
func.func @q4_0(%q: !lowbit.qtensor<2x64xgguf<q4_0>>) -> tensor<2x64xf32> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<2x64xgguf<q4_0>> -> tensor<2x64xf32>
  return %y : tensor<2x64xf32>
}

// -----

// q4_k with an f16 expressed type: scale and min of sub-block e / 32 from
// the 12 packed bytes (get_scale_min_k4: 6-bit fields selected on j < 4),
// (d * sc) * float(q) - dmin * m in f32, then rounded to f16.
// CHECK-LABEL: func @q4_k_f16
// CHECK-SAME: (%[[C:.*]]: tensor<288xi8>) -> tensor<512xf16>
// CHECK: %[[B:.*]] = tensor.expand_shape %[[C]] {{\[}}[0, 1]] output_shape [2, 144] : tensor<288xi8> into tensor<2x144xi8>
// CHECK: linalg.generic
// CHECK-SAME: outs(%{{.*}} : tensor<2x256xf16>)
// CHECK: arith.cmpi ult
// CHECK: arith.select
// CHECK: arith.select
// CHECK: %[[DL:.*]] = arith.mulf
// CHECK: %[[ML:.*]] = arith.mulf
// CHECK: %[[QF:.*]] = arith.sitofp
// CHECK: %[[P:.*]] = arith.mulf %[[DL]], %[[QF]] : f32
// CHECK: %[[V:.*]] = arith.subf %[[P]], %[[ML]] : f32
// CHECK: %[[H:.*]] = arith.truncf %[[V]] : f32 to f16
// CHECK: linalg.yield %[[H]] : f16
// CHECK: tensor.collapse_shape {{.*}} : tensor<2x256xf16> into tensor<512xf16>
func.func @q4_k_f16(%q: !lowbit.qtensor<512xgguf<q4_k> : f16>) -> tensor<512xf16> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<512xgguf<q4_k> : f16> -> tensor<512xf16>
  return %y : tensor<512xf16>
}

// -----

// iq4_nl: the non-linear values as a constant table, read at the nibble.
// CHECK-LABEL: func @iq4_nl
// CHECK: %[[T:.*]] = arith.constant dense<[-1.270000e+02, -1.040000e+02, {{.*}}, 8.900000e+01, 1.130000e+02]> : tensor<16xf32>
// CHECK: linalg.generic
// CHECK: %[[TV:.*]] = tensor.extract %[[T]][%{{.*}}] : tensor<16xf32>
// CHECK: %[[D:.*]] = arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.mulf %[[D]], %[[TV]] : f32
func.func @iq4_nl(%q: !lowbit.qtensor<3x32xgguf<iq4_nl>>) -> tensor<3x32xf32> {
  %y = lowbit.dequantize %q : !lowbit.qtensor<3x32xgguf<iq4_nl>> -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

// qmatmul with GGUF weights: the weights dequantized as above, then the
// f32 contraction of every qmatmul.
// CHECK-LABEL: func @qmatmul_tq1_0
// CHECK-SAME: (%[[X:.*]]: tensor<1x256xf32>, %[[W:.*]]: tensor<4x54xi8>) -> tensor<1x4xf32>
// CHECK: %[[B:.*]] = tensor.expand_shape %[[W]] {{\[}}[0], [1, 2]] output_shape [4, 1, 54]
// CHECK: %[[D:.*]] = linalg.generic
// CHECK-SAME: outs(%{{.*}} : tensor<4x1x256xf32>)
// CHECK: } -> tensor<4x1x256xf32>
// CHECK: %[[WD:.*]] = tensor.collapse_shape %[[D]] {{\[}}[0], [1, 2]] : tensor<4x1x256xf32> into tensor<4x256xf32>
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[X]], %[[WD]] : tensor<1x256xf32>, tensor<4x256xf32>)
func.func @qmatmul_tq1_0(%x: tensor<1x256xf32>, %w: !lowbit.qtensor<4x256xgguf<tq1_0>>) -> tensor<1x4xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x256xf32>, !lowbit.qtensor<4x256xgguf<tq1_0>> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// requantize from GGUF: the GGUF dequantize, then int8 quantization.
// CHECK-LABEL: func @requantize_q8_0
// CHECK-SAME: (%[[C:.*]]: tensor<2x34xi8>) -> (tensor<2x32xi8>, tensor<2xf32>)
// CHECK: tensor.expand_shape %[[C]] {{\[}}[0], [1, 2]] output_shape [2, 1, 34]
// CHECK: linalg.generic
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: } -> tensor<2x1x32xf32>
// CHECK: math.absf
// CHECK: math.roundeven
func.func @requantize_q8_0(%q: !lowbit.qtensor<2x32xgguf<q8_0>>) -> !lowbit.qtensor<2x32xi8, per_axis<0>> {
  %y = lowbit.requantize %q : !lowbit.qtensor<2x32xgguf<q8_0>> -> !lowbit.qtensor<2x32xi8, per_axis<0>>
  return %y : !lowbit.qtensor<2x32xi8, per_axis<0>>
}
