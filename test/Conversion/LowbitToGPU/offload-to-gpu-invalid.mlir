// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_90 --lowbit-gpu-to-ptx --lowbit-offload-to-gpu -verify-diagnostics

// The w4-mma kernels read mma-b tiles: constant weights that
// lowbit-pack-weights{target=nvptx} did not pack are an error, not a
// misread.
func.func @w4a16_unpacked(%x: tensor<1x64xf16>) -> tensor<1x32xf16> {
  %w = lowbit.constant codes(dense<17> : tensor<32x32xi8>) scales(dense<0.5> : tensor<32x2xf16>) : !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16>
  // expected-error @+1 {{lowbit-offload-to-gpu: the GPU kernel w4a16_gemv_1x32x64_g32_f16 reads its weights as mma-b tiles, and this lowbit.constant is not in layout mma_b}}
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16> -> tensor<1x32xf16>
  return %y : tensor<1x32xf16>
}
