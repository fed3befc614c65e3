// RUN: lowbit-opt %s --lowbit-lower-to-gpu=chip=sm_90a | FileCheck %s

// sm_90a: the FP8 GEMM runs on wgmma. One warpgroup (128 threads) per
// 64 x 64 tile; X's and W's 64 x 64-byte tiles share one 8 KiB workgroup
// buffer in the core-matrix layout (no swizzle); shared memory descriptors
// (LBO 128 and SBO 512 bytes, encoded >> 4 at bits 16 and 32: 8 << 16 |
// 32 << 32 = 137439477760); two m64n64k32 per K step of 64, the first with
// scale-d = 0, in one asm block from wgmma.fence to wgmma.wait_group.
// CHECK-LABEL: func.func @fp8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@fp8_wgmma_gemm_128x256x512_xt_wrow_f16, lowbit.gpu_launch = array<i64: 4, 2, 1, 128, 1, 1, 0>
// CHECK-LABEL: func.func @w8a8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx84">]
// CHECK: gpu.func @fp8_wgmma_gemm_128x256x512_xt_wrow_f16({{.*}}) workgroup(%{{.*}} : memref<8192xi8, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: nvgpu.device_async_copy
// CHECK: llvm.inline_asm has_side_effects "fence.proxy.async.shared::cta;"
// CHECK: gpu.barrier
// CHECK-DAG: arith.constant 262143 : i64
// CHECK-DAG: arith.constant 137439477760 : i64
// CHECK: llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Awgmma.fence.sync.aligned;\0Asetp.ne.b32 p, $34, 0;\0Awgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {$0,{{.*}},$31}, $32, $33, p, 1, 1;\0Asetp.ne.b32 p, $37, 0;\0Awgmma.mma_async{{.*}}wgmma.commit_group.sync.aligned;\0Awgmma.wait_group.sync.aligned 0;\0A}", "=&f,{{.*}},=&f,l,l,r,l,l,r"
// CHECK-NOT: wgmma
func.func @fp8(%x: !lowbit.qtensor<128x512xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<256x512xf8E4M3FN, per_axis<0>>) -> tensor<128x256xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<128x512xf8E4M3FN, per_tensor>, !lowbit.qtensor<256x512xf8E4M3FN, per_axis<0>> -> tensor<128x256xf16>
  return %y : tensor<128x256xf16>
}

// The other kernels are sm_90's (W8A8 keeps mma.sync).
func.func @w8a8(%x: !lowbit.qtensor<64x128xi8, per_axis<0>>, %w: !lowbit.qtensor<64x128xi8, per_axis<0>>) -> tensor<64x64xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<64x128xi8, per_axis<0>>, !lowbit.qtensor<64x128xi8, per_axis<0>> -> tensor<64x64xf32>
  return %y : tensor<64x64xf32>
}
