// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-cpu -verify-diagnostics | FileCheck %s

// A GGUF qmatmul that no CPU kernel takes falls back to the reference
// lowering (docs/Spec.md, LB-L1): the weights dequantized in a
// linalg.generic, then the f32 contraction; no kernel call. Every GGUF
// format has a kernel for int8 activations; with f32 ones only q4_1 has.
// CHECK-LABEL: func @gguf_tq1_0_f32
// CHECK-SAME: (%[[X:.*]]: tensor<1x256xf32>, %[[W:.*]]: tensor<4x54xi8>)
// CHECK-NOT: call
// CHECK: tensor.expand_shape %[[W]] {{\[}}[0], [1, 2]] output_shape [4, 1, 54]
// CHECK: %[[D:.*]] = linalg.generic
// CHECK: %[[WD:.*]] = tensor.collapse_shape %[[D]] {{.*}} into tensor<4x256xf32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[X]], %[[WD]] : tensor<1x256xf32>, tensor<4x256xf32>)
// CHECK-NOT: call
// CHECK: return
func.func @gguf_tq1_0_f32(%x: tensor<1x256xf32>, %w: !lowbit.qtensor<4x256xgguf<tq1_0>>) -> tensor<1x4xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x256xf32>, !lowbit.qtensor<4x256xgguf<tq1_0>> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// GGUF weights in the other orientation ([K, N], no transpose_b): no
// kernel, so the same fallback (the int8 activations dequantized too).
// CHECK-LABEL: func @gguf_not_transposed
// CHECK-NOT: call
// CHECK: %[[D:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<32x1x32xf32>)
// CHECK: %[[WD:.*]] = tensor.collapse_shape %[[D]] {{.*}} into tensor<32x32xf32>
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}}, %[[WD]] : tensor<1x32xf32>, tensor<32x32xf32>)
// CHECK-NOT: call
// CHECK: return
func.func @gguf_not_transposed(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<32x32xgguf<q4_0>>) -> tensor<1x32xf32> {
  %xq = lowbit.quantize %x : tensor<1x32xf32> -> !lowbit.qtensor<1x32xi8, per_axis<0>>
  %y = lowbit.qmatmul %xq, %w : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<32x32xgguf<q4_0>> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

// Quantizing into a GGUF format has neither a kernel nor a reference
// lowering (LB-L1): a clear error on the op.
func.func @gguf_quantize(%x: tensor<4x32xf32>) -> !lowbit.qtensor<4x32xgguf<q8_0>> {
  // expected-error @+1 {{reference lowering of quantization into GGUF block format q8_0 is not implemented (docs/Spec.md, LB-L1)}}
  %q = lowbit.quantize %x : tensor<4x32xf32> -> !lowbit.qtensor<4x32xgguf<q8_0>>
  return %q : !lowbit.qtensor<4x32xgguf<q8_0>>
}

// -----

// Weights marked lowbit.packed arrive in the int8 panel layout: only the
// W8A8 panel kernel reads them, so any other use is an error.
func.func @packed_not_w8(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<16x32xi8, per_axis<0>> {lowbit.packed}) -> tensor<16x32xf32> {
  // expected-error @+1 {{weights marked lowbit.packed (argument 1) must be the weights of W8A8 qmatmuls with transpose_b that the int8 panel kernel takes}}
  %d = lowbit.dequantize %w : !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<16x32xf32>
  return %d : tensor<16x32xf32>
}

// -----

// The panels' bytes travel in the [N, K] codes part: N % 16 == 0 and
// K % 4 == 0.
func.func @packed_bad_shape(%x: tensor<2x32xf32>, %w: !lowbit.qtensor<24x32xi8, per_axis<0>> {lowbit.packed}) -> tensor<2x24xf32> {
  %xq = lowbit.quantize %x : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_axis<0>>
  // expected-error @+1 {{weights marked lowbit.packed need N % 16 == 0 and K % 4 == 0 (the panels' bytes travel in the [N, K] codes part), got N = 24, K = 32}}
  %y = lowbit.qmatmul %xq, %w {transpose_b} : !lowbit.qtensor<2x32xi8, per_axis<0>>, !lowbit.qtensor<24x32xi8, per_axis<0>> -> tensor<2x24xf32>
  return %y : tensor<2x24xf32>
}

// -----

// A constant in layout int8_panels (lowbit-pack-weights) is read only by
// the W8A8 panel kernel: any other use is an error, never a misread.
func.func @panels_not_w8(%x: tensor<1x32xf32>) -> tensor<16x32xf32> {
  %w = lowbit.constant codes(dense<-127> : tensor<1x8x64xi8>) scales(dense<0.5> : tensor<16xf32>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<16x32xi8, per_axis<0>>
  // expected-error @+1 {{weights in layout int8_panels must be the weights of W8A8 qmatmuls with transpose_b that the int8 panel kernel takes on this target}}
  %d = lowbit.dequantize %w : !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<16x32xf32>
  return %d : tensor<16x32xf32>
}

// -----

// mma-b tiles are the GPU's 4-bit kernels' layout: no CPU kernel reads it.
func.func @mma_b_on_cpu(%x: tensor<1x64xf16>) -> tensor<1x32xf16> {
  // expected-error @+1 {{has layout mma_b, which no CPU kernel reads}}
  %w = lowbit.constant codes(dense<286331153> : tensor<1x2x128xi32>) scales(dense<0.5> : tensor<32x2xf16>) {layout = #lowbit<layout mma_b>} : !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16>
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16> -> tensor<1x32xf16>
  return %y : tensor<1x32xf16>
}
