// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-linalg -verify-diagnostics

// LB-L1: the reference lowering dequantizes the GGUF block formats but does
// not quantize into them (test/Conversion/LowbitToLinalg/gguf-dequantize.mlir).
func.func @gguf_quantize(%x: tensor<2x256xf32>) -> !lowbit.qtensor<2x256xgguf<q4_k>> {
  // expected-error @+1 {{reference lowering of quantization into GGUF block format q4_k is not implemented (docs/Spec.md, LB-L1)}}
  %q = lowbit.quantize %x : tensor<2x256xf32> -> !lowbit.qtensor<2x256xgguf<q4_k>>
  return %q : !lowbit.qtensor<2x256xgguf<q4_k>>
}

// -----

// LB-L1 for requantize into a GGUF format (from a GGUF one as well).
func.func @gguf_requantize(%q: !lowbit.qtensor<2x32xgguf<q8_0>>) -> !lowbit.qtensor<2x32xgguf<q4_0>> {
  // expected-error @+1 {{reference lowering of quantization into GGUF block format q4_0 is not implemented (docs/Spec.md, LB-L1)}}
  %r = lowbit.requantize %q : !lowbit.qtensor<2x32xgguf<q8_0>> -> !lowbit.qtensor<2x32xgguf<q4_0>>
  return %r : !lowbit.qtensor<2x32xgguf<q4_0>>
}

// -----

// Weights in the CPU kernels' panel layout are not what their type says:
// the reference lowering refuses them.
// expected-error @+1 {{argument 1 is marked lowbit.packed (the CPU kernels' panel layout): the reference lowering does not read it; use lowbit-lower-to-cpu}}
func.func @packed(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<16x32xi8, per_axis<0>> {lowbit.packed}) -> tensor<16x32xf32> {
  %d = lowbit.dequantize %w : !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<16x32xf32>
  return %d : tensor<16x32xf32>
}

// -----

// Nor does it read constants packed for a kernel (LB-C2).
func.func @panels(%x: tensor<2x32xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{has layout int8_panels (codes packed for a kernel, docs/Spec.md LB-C2): the reference lowering reads only the run-time layout}}
  %w = lowbit.constant codes(dense<-127> : tensor<1x8x64xi8>) scales(dense<0.5> : tensor<16xf32>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<16x32xi8, per_axis<0>>
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<2x32xf32>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}
