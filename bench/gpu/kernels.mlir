// The problems bench/gpu times (N = K = 8192): W4A16 GEMV for
// M = 1 and 8 (int4 in groups of 128 with f16 scales, f16 activations and
// output); W8A8 (int8 per token and per channel) and FP8 E4M3 (per
// tensor) GEMMs for M = 1, 16, 128, f16 output; the W4A16 tensor-core
// GEMM for M = 16 and 128. prepare.sh turns them
// into PTX with lowbit-opt.
func.func @w4a16_m1(%x: tensor<1x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @w4a16_m8(%x: tensor<8x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<8x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<8x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<8x8192xf16>
  return %y : tensor<8x8192xf16>
}
// Tails (N, K not multiples of the kernel's tiles), checked, not timed.
func.func @w4a16_tails(%x: tensor<3x96xf16>, %w: !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<3x10xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<3x96xf16>, !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<3x10xf32>
  return %y : tensor<3x10xf32>
}
func.func @w8a8_m1(%x: !lowbit.qtensor<1x8192xi8, per_axis<0>>, %w: !lowbit.qtensor<8192x8192xi8, per_axis<0>>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x8192xi8, per_axis<0>>, !lowbit.qtensor<8192x8192xi8, per_axis<0>> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @fp8_m1(%x: !lowbit.qtensor<1x8192xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x8192xf8E4M3FN, per_tensor>, !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @w8a8_m16(%x: !lowbit.qtensor<16x8192xi8, per_axis<0>>, %w: !lowbit.qtensor<8192x8192xi8, per_axis<0>>) -> tensor<16x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<16x8192xi8, per_axis<0>>, !lowbit.qtensor<8192x8192xi8, per_axis<0>> -> tensor<16x8192xf16>
  return %y : tensor<16x8192xf16>
}
func.func @fp8_m16(%x: !lowbit.qtensor<16x8192xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor>) -> tensor<16x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<16x8192xf8E4M3FN, per_tensor>, !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor> -> tensor<16x8192xf16>
  return %y : tensor<16x8192xf16>
}
func.func @w8a8_m128(%x: !lowbit.qtensor<128x8192xi8, per_axis<0>>, %w: !lowbit.qtensor<8192x8192xi8, per_axis<0>>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<128x8192xi8, per_axis<0>>, !lowbit.qtensor<8192x8192xi8, per_axis<0>> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}
func.func @fp8_m128(%x: !lowbit.qtensor<128x8192xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<128x8192xf8E4M3FN, per_tensor>, !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}
func.func @w8a8_tails(%x: !lowbit.qtensor<5x48xi8, per_tensor>, %w: !lowbit.qtensor<70x48xi8, per_axis<0>>) -> tensor<5x70xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<5x48xi8, per_tensor>, !lowbit.qtensor<70x48xi8, per_axis<0>> -> tensor<5x70xf32>
  return %y : tensor<5x70xf32>
}
func.func @fp8_tails(%x: !lowbit.qtensor<67x80xf8E4M3FN, per_axis<0>>, %w: !lowbit.qtensor<33x80xf8E4M3FN, per_axis<0>>) -> tensor<67x33xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<67x80xf8E4M3FN, per_axis<0>>, !lowbit.qtensor<33x80xf8E4M3FN, per_axis<0>> -> tensor<67x33xf32>
  return %y : tensor<67x33xf32>
}
// MXFP4 (E8M0 scales per 32) and NVFP4 (E4M3 scales per 16, f32 tensor
// scale) weights, f16 activations: GEMV.
func.func @mxfp4_m1(%x: tensor<1x8192xf16>, %w: !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xf16>, !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @nvfp4_m1(%x: tensor<1x8192xf16>, %w: !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xf16>, !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @nvfp4_tails(%x: tensor<3x96xf16>, %w: !lowbit.qtensor<10x96xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> tensor<3x10xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<3x96xf16>, !lowbit.qtensor<10x96xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<3x10xf32>
  return %y : tensor<3x10xf32>
}
func.func @w4a16_gemm_m16(%x: tensor<16x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<16x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<16x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<16x8192xf16>
  return %y : tensor<16x8192xf16>
}
func.func @w4a16_gemm_m128(%x: tensor<128x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<128x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}
func.func @w4a16_gemm_tails(%x: tensor<19x96xf16>, %w: !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<19x70xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<19x96xf16>, !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<19x70xf32>
  return %y : tensor<19x70xf32>
}
// bf16 activations and output (checked, not timed).
func.func @w4a16_bf16(%x: tensor<19x96xbf16>, %w: !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16>, %x1: tensor<3x96xbf16>) -> (tensor<19x70xbf16>, tensor<3x70xbf16>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : tensor<19x96xbf16>, !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<19x70xbf16>
  %b = lowbit.qmatmul %x1, %w {transpose_b} : tensor<3x96xbf16>, !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<3x70xbf16>
  return %a, %b : tensor<19x70xbf16>, tensor<3x70xbf16>
}
