// The W4A16 GEMV problems that test/GPU/ptx.test assembles and
// bench/gpu runs: the bench's shape (M = 1, N = K = 8192, groups of 128,
// f16 out), 8 rows, and tails (N = 10, K = 96, groups of 32, f32 out).
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
