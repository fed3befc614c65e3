// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-cpu -verify-diagnostics

// A GGUF block format without a CPU kernel has no lowering at all (the
// reference lowering does not cover GGUF, LB-L1): a clear error on the op.
func.func @gguf_q5_0(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<4x32xgguf<q5_0>>) -> tensor<1x4xf32> {
  %xq = lowbit.quantize %x : tensor<1x32xf32> -> !lowbit.qtensor<1x32xi8, per_axis<0>>
  // expected-error @+1 {{reference lowering of GGUF block format q5_0 is not implemented (docs/Spec.md, LB-L1)}}
  %y = lowbit.qmatmul %xq, %w {transpose_b} : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<4x32xgguf<q5_0>> -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

// GGUF weights in the other orientation ([K, N], no transpose_b): no
// kernel, so the same error.
func.func @gguf_not_transposed(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<32x32xgguf<q4_0>>) -> tensor<1x32xf32> {
  %xq = lowbit.quantize %x : tensor<1x32xf32> -> !lowbit.qtensor<1x32xi8, per_axis<0>>
  // expected-error @+1 {{reference lowering of GGUF block format q4_0 is not implemented (docs/Spec.md, LB-L1)}}
  %y = lowbit.qmatmul %xq, %w : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<32x32xgguf<q4_0>> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

