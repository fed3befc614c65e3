// The problems whose kernels test/GPU/ptx.test assembles. W4A16 GEMV:
// the bench's shape (M = 1, N = K = 8192, groups of 128, f16 out), 8 rows,
// and tails (N = 10, K = 96, groups of 32, f32 out).
func.func @bench(%x: tensor<1x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @rows8(%x: tensor<8x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<8x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<8x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<8x8192xf16>
  return %y : tensor<8x8192xf16>
}
func.func @tails(%x: tensor<3x96xf16>, %w: !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<3x10xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<3x96xf16>, !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<3x10xf32>
  return %y : tensor<3x10xf32>
}
// W8A8 (int8 tensor cores) and FP8 E4M3 (sm_89+) GEMMs: the bench's
// shape and one with tails in M, N and K.
func.func @w8a8(%x: !lowbit.qtensor<128x8192xi8, per_axis<0>>, %w: !lowbit.qtensor<8192x8192xi8, per_axis<0>>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<128x8192xi8, per_axis<0>>, !lowbit.qtensor<8192x8192xi8, per_axis<0>> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}
func.func @w8a8_tails(%x: !lowbit.qtensor<5x48xi8, per_tensor>, %w: !lowbit.qtensor<70x48xi8, per_axis<0>>) -> tensor<5x70xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<5x48xi8, per_tensor>, !lowbit.qtensor<70x48xi8, per_axis<0>> -> tensor<5x70xf32>
  return %y : tensor<5x70xf32>
}
// FP8 with tails in M, N and K, f32 out, scales per row and channel: on
// sm_90a the wgmma kernel's shape that bench/gpu checks (67x33x80: two
// M tiles, one partial N tile, a zero-filled second K step).
func.func @fp8_tails(%x: !lowbit.qtensor<67x80xf8E4M3FN, per_axis<0>>, %w: !lowbit.qtensor<33x80xf8E4M3FN, per_axis<0>>) -> tensor<67x33xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<67x80xf8E4M3FN, per_axis<0>>, !lowbit.qtensor<33x80xf8E4M3FN, per_axis<0>> -> tensor<67x33xf32>
  return %y : tensor<67x33xf32>
}
func.func @fp8(%x: !lowbit.qtensor<128x8192xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<128x8192xf8E4M3FN, per_tensor>, !lowbit.qtensor<8192x8192xf8E4M3FN, per_tensor> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}
// MXFP4 and NVFP4 GEMV (f16 activations).
func.func @mxfp4(%x: tensor<1x8192xf16>, %w: !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xf16>, !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
func.func @nvfp4(%x: tensor<1x8192xf16>, %w: !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> tensor<1x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xf16>, !lowbit.qtensor<8192x8192xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<1x8192xf16>
  return %y : tensor<1x8192xf16>
}
// W4A16 GEMM (f16 tensor cores): the bench's M = 128 and tails.
func.func @w4a16_gemm(%x: tensor<128x8192xf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<128x8192xf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}
func.func @w4a16_gemm_tails(%x: tensor<19x96xf16>, %w: !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<19x70xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<19x96xf16>, !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<19x70xf32>
  return %y : tensor<19x70xf32>
}
// bf16 activations: GEMV and GEMM.
func.func @bf16(%x: tensor<1x8192xbf16>, %w: !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16>, %x2: tensor<128x8192xbf16>) -> (tensor<1x8192xbf16>, tensor<128x8192xbf16>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x8192xbf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<1x8192xbf16>
  %b = lowbit.qmatmul %x2, %w {transpose_b} : tensor<128x8192xbf16>, !lowbit.qtensor<8192x8192xi4, per_group<[1 : 128]>, scale = f16> -> tensor<128x8192xbf16>
  return %a, %b : tensor<1x8192xbf16>, tensor<128x8192xbf16>
}
// Activation quantization per row: int8 from f16, E4M3 from bf16 (sm_89+).
func.func @quantize(%x: tensor<128x8192xf16>, %x2: tensor<128x8192xbf16>) -> (!lowbit.qtensor<128x8192xi8 : f16, per_axis<0>>, !lowbit.qtensor<128x8192xf8E4M3FN : bf16, per_axis<0>>) {
  %a = lowbit.quantize %x : tensor<128x8192xf16> -> !lowbit.qtensor<128x8192xi8 : f16, per_axis<0>>
  %b = lowbit.quantize %x2 : tensor<128x8192xbf16> -> !lowbit.qtensor<128x8192xf8E4M3FN : bf16, per_axis<0>>
  return %a, %b : !lowbit.qtensor<128x8192xi8 : f16, per_axis<0>>, !lowbit.qtensor<128x8192xf8E4M3FN : bf16, per_axis<0>>
}
