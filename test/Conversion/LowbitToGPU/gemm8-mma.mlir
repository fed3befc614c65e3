// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_89 | FileCheck %s
// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_80 | FileCheck %s --check-prefix=SM80

// The gemm8-mma family (lib/Conversion/LowbitToGPU/Gemm8MmaKernel.cpp):
// int8 (sm_80+) or FP8 E4M3 (sm_89+) X and W with f32 scales per row or
// per tensor, 64 x 64 tiles per block of 4 warps, K steps of 64 bytes by
// cp.async, mma.sync m16n8k32, the scales applied once in the epilogue.

// int8, X per row and W per channel, f16 Y; N = 70 and M = 5 leave
// partial tiles (2 x 1 blocks). Exact int32 sums.
// CHECK-LABEL: func.func @int8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_5x70x48_xrow_wrow_f16, lowbit.gpu_launch = array<i64: 2, 1, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<5x48xi8>, memref<5xf32>, memref<70x48xi8>, memref<70xf32>, memref<5x70xf16>]
// The int8 kernel needs no more than PTX ISA 8.0.
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_89", features = "+ptx80">]
// CHECK-LABEL: gpu.func @w8a8_gemm_5x70x48_xrow_wrow_f16(
// CHECK-SAME: %[[XQ:.*]]: memref<5x48xi8>, %[[SX:.*]]: memref<5xf32>, %[[WQ:.*]]: memref<70x48xi8>, %[[SW:.*]]: memref<70xf32>, %[[Y:.*]]: memref<5x70xf16>)
// CHECK-SAME: workgroup(%[[TILES:.*]] : memref<2x64x80xi8, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: scf.for
// CHECK: nvgpu.device_async_copy %[[XQ]][{{.*}}], %[[TILES]][{{.*}}], 16, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_copy %[[WQ]][{{.*}}], %[[TILES]][{{.*}}], 16, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_wait
// CHECK: gpu.barrier
// CHECK: vector.load %[[TILES]][{{.*}}] {alignment = 4 : i64} : memref<2x64x80xi8, #gpu.address_space<workgroup>>, vector<4xi8>
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 32]} : (vector<4x4xi8>, vector<2x4xi8>, vector<2x2xi32>) -> vector<2x2xi32>
// CHECK: gpu.barrier
// CHECK: scf.yield
// CHECK: scf.if
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK-DAG: memref.load %[[SW]][%{{.*}}] : memref<70xf32>
// CHECK-DAG: memref.load %[[SX]][%{{.*}}] : memref<5xf32>
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %[[Y]][%{{.*}}, %{{.*}}] : memref<5x70xf16>
// CHECK: gpu.return
// SM80-LABEL: func.func @int8
// SM80: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_5x70x48_xrow_wrow_f16
// SM80: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
func.func @int8(%x: !lowbit.qtensor<5x48xi8, per_axis<0>>, %w: !lowbit.qtensor<70x48xi8, per_axis<0>>) -> tensor<5x70xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<5x48xi8, per_axis<0>>, !lowbit.qtensor<70x48xi8, per_axis<0>> -> tensor<5x70xf16>
  return %y : tensor<5x70xf16>
}

// -----

// FP8 E4M3 per tensor, f32 Y: mma.sync on E4M3 as inline PTX (PTX ISA
// 8.4); each K tile's chain starts from zero and is added to the f32
// accumulators outside the tensor cores. sm_80 has no FP8: no kernel.
// CHECK-LABEL: func.func @fp8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@fp8_gemm_67x33x80_xt_wt_f32, lowbit.gpu_launch = array<i64: 1, 2, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<67x80xi8>, memref<f32>, memref<33x80xi8>, memref<f32>, memref<67x33xf32>]
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_89", features = "+ptx84">]
// CHECK-LABEL: gpu.func @fp8_gemm_67x33x80_xt_wt_f32(
// CHECK-SAME: %[[XQ:.*]]: memref<67x80xi8>, %[[SX:.*]]: memref<f32>, %[[WQ:.*]]: memref<33x80xi8>, %[[SW:.*]]: memref<f32>, %[[Y:.*]]: memref<67x33xf32>)
// CHECK-SAME: workgroup(%[[TILES:.*]] : memref<2x64x80xi8, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK: nvgpu.device_async_copy %[[XQ]][{{.*}}], %[[TILES]]
// CHECK: llvm.inline_asm "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {$0,$1,$2,$3}, {$4,$5,$6,$7}, {$8,$9}, {$10,$11,$12,$13};"
// CHECK-NOT: nvgpu.mma.sync
// CHECK: arith.addf %{{.*}}, %{{.*}} : vector<2x2xf32>
// CHECK: scf.if
// CHECK-NOT: arith.sitofp
// CHECK-DAG: memref.load %[[SW]][] : memref<f32>
// CHECK-DAG: memref.load %[[SX]][] : memref<f32>
// CHECK-NOT: arith.truncf
// CHECK: memref.store %{{.*}}, %[[Y]]
// SM80-LABEL: func.func @fp8
// SM80-NOT: lowbit.gpu_kernel
// SM80-NOT: gpu.module
func.func @fp8(%x: !lowbit.qtensor<67x80xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<33x80xf8E4M3FN, per_tensor>) -> tensor<67x33xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<67x80xf8E4M3FN, per_tensor>, !lowbit.qtensor<33x80xf8E4M3FN, per_tensor> -> tensor<67x33xf32>
  return %y : tensor<67x33xf32>
}

// -----

// Not the family's: K not a multiple of 16 (cp.async's 16-byte rows),
// int8 activations with FP8 weights, a bf16 result.
// CHECK-LABEL: func.func @uncovered
// CHECK-NOT: lowbit.gpu_kernel
// CHECK-NOT: gpu.module
func.func @uncovered(%x: !lowbit.qtensor<4x40xi8, per_tensor>, %w: !lowbit.qtensor<16x40xi8, per_tensor>, %x2: !lowbit.qtensor<4x32xi8, per_tensor>, %w2: !lowbit.qtensor<16x32xf8E4M3FN, per_tensor>, %w3: !lowbit.qtensor<16x32xi8, per_tensor>) -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xbf16>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<4x40xi8, per_tensor>, !lowbit.qtensor<16x40xi8, per_tensor> -> tensor<4x16xf32>
  %b = lowbit.qmatmul %x2, %w2 {transpose_b} : !lowbit.qtensor<4x32xi8, per_tensor>, !lowbit.qtensor<16x32xf8E4M3FN, per_tensor> -> tensor<4x16xf32>
  %c = lowbit.qmatmul %x2, %w3 {transpose_b} : !lowbit.qtensor<4x32xi8, per_tensor>, !lowbit.qtensor<16x32xi8, per_tensor> -> tensor<4x16xbf16>
  return %a, %b, %c : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xbf16>
}
