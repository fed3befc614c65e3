// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_90a | FileCheck %s
// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_90 | FileCheck %s --check-prefix=SM90

// The fp8-wgmma family (lib/Conversion/LowbitToGPU/FP8WgmmaKernel.cpp):
// FP8 E4M3 X and W on Hopper's warpgroup tensor cores, sm_90a only (plain
// sm_90 gets the mma.sync kernel of the gemm8-mma family). One warpgroup
// per 64 x 64 tile; X's and W's 64 x 64-byte tiles in one 8 KiB
// workgroup buffer in wgmma's no-swizzle core-matrix layout.

// X per row, W per channel, f16 Y; M = 67, N = 33, K = 80: partial tiles
// in M, N and K.
// CHECK-LABEL: func.func @fp8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@fp8_wgmma_gemm_67x33x80_xrow_wrow_f16, lowbit.gpu_launch = array<i64: 1, 2, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<67x80xi8>, memref<67xf32>, memref<33x80xi8>, memref<33xf32>, memref<67x33xf16>]
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx84">]
// CHECK-LABEL: gpu.func @fp8_wgmma_gemm_67x33x80_xrow_wrow_f16(
// CHECK-SAME: %[[XQ:.*]]: memref<67x80xi8>, %[[SX:.*]]: memref<67xf32>, %[[WQ:.*]]: memref<33x80xi8>, %[[SW:.*]]: memref<33xf32>, %[[Y:.*]]: memref<67x33xf16>)
// CHECK-SAME: workgroup(%[[TILES:.*]] : memref<8192xi8, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// The tiles' shared-window address, for the descriptors.
// CHECK: %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[TILES]]
// CHECK: %[[BASE:.*]] = arith.index_cast %[[PTR]] : index to i64
// CHECK: scf.for
// CHECK: nvgpu.device_async_copy %[[XQ]][{{.*}}], %[[TILES]][{{.*}}], 16, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_copy %[[WQ]][{{.*}}], %[[TILES]][{{.*}}], 16, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_wait
// cp.async writes through the generic proxy, wgmma reads through the
// async one.
// CHECK: llvm.inline_asm has_side_effects "fence.proxy.async.shared::cta;"
// CHECK: gpu.barrier
// Descriptors: (address & 0x3FFFF) >> 4 | LBO 128 >> 4 << 16 | SBO 512
// >> 4 << 32; W's tile 4096 bytes on.
// CHECK: %[[A0:.*]] = arith.addi %[[BASE]], %{{.*}} : i64
// CHECK: %[[A1:.*]] = arith.andi %[[A0]], %{{.*}} : i64
// CHECK: %[[A2:.*]] = arith.shrui %[[A1]], %{{.*}} : i64
// CHECK: %[[LS:.*]] = arith.constant 137439477760 : i64
// CHECK: %[[DA:.*]] = arith.ori %[[A2]], %[[LS]] : i64
// CHECK: arith.constant 4096 : i64
// CHECK: %[[DB:.*]] = arith.ori
// CHECK: %[[D0:.*]] = arith.constant 0 : i32
// CHECK: %[[D1:.*]] = arith.constant 1 : i32
// One asm block from wgmma.fence to wait_group 0 (no instruction may touch
// the accumulators in between): the first k32 slice with scale-d = 0 (the
// accumulators are outputs only), the second with 1; per wgmma its two
// descriptors and scale-d.
// CHECK-NOT: llvm.inline_asm
// CHECK: llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Awgmma.fence.sync.aligned;\0Asetp.ne.b32 p, $34, 0;\0Awgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {$0,{{.*}},$31}, $32, $33, p, 1, 1;\0Asetp.ne.b32 p, $37, 0;\0Awgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {$0,{{.*}},$31}, $35, $36, p, 1, 1;\0Awgmma.commit_group.sync.aligned;\0Awgmma.wait_group.sync.aligned 0;\0A}", "=&f,{{.*}},=&f,l,l,r,l,l,r" %[[DA]], %[[DB]], %[[D0]], %{{.*}}, %{{.*}}, %[[D1]] :
// CHECK: %[[SUM:.*]] = vector.from_elements {{.*}} : vector<32xf32>
// CHECK: arith.addf %{{.*}}, %[[SUM]] : vector<32xf32>
// CHECK: gpu.barrier
// CHECK: scf.yield
// CHECK-DAG: memref.load %[[SW]][%{{.*}}] : memref<33xf32>
// CHECK-DAG: memref.load %[[SX]][%{{.*}}] : memref<67xf32>
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: gpu.return
// SM90-LABEL: func.func @fp8
// SM90: lowbit.gpu_kernel = @lowbit_gpu::@fp8_gemm_67x33x80_xrow_wrow_f16
// SM90-NOT: wgmma
func.func @fp8(%x: !lowbit.qtensor<67x80xf8E4M3FN, per_axis<0>>, %w: !lowbit.qtensor<33x80xf8E4M3FN, per_axis<0>>) -> tensor<67x33xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<67x80xf8E4M3FN, per_axis<0>>, !lowbit.qtensor<33x80xf8E4M3FN, per_axis<0>> -> tensor<67x33xf16>
  return %y : tensor<67x33xf16>
}

// -----

// int8 has no wgmma kernel: on sm_90a it keeps mma.sync.
// CHECK-LABEL: func.func @int8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_16x64x64_xt_wt_f32
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">]
// CHECK-NOT: wgmma
func.func @int8(%x: !lowbit.qtensor<16x64xi8, per_tensor>, %w: !lowbit.qtensor<64x64xi8, per_tensor>) -> tensor<16x64xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<16x64xi8, per_tensor>, !lowbit.qtensor<64x64xi8, per_tensor> -> tensor<16x64xf32>
  return %y : tensor<16x64xf32>
}
