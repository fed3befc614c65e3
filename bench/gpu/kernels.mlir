// The problems bench/gpu times (issue 6: N = K = 8192): W4A16 GEMV for
// M = 1 and 8 (int4 in groups of 128 with f16 scales, f16 activations and
// output). prepare.sh turns them into PTX with lowbit-opt.
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
