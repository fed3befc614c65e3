// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_90 -verify-diagnostics | FileCheck %s

// W4A16 with M <= 16 (decode): a gpu.func kernel in gpu.module
// @lowbit_gpu (NVVM target), and on the qmatmul how to launch it: one
// 32-channel weight column per block (N = 4096: 128 blocks), 8 warps that
// split K (each every 8th step, with its own X tile; partial sums meet in
// shared memory), one 16-row mma tile. The weights arrive in the "mma-b"
// tiles (32 x 32, 128 words each).
// CHECK-LABEL: func.func @gemv
// CHECK: lowbit.qmatmul {{.*}}lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemv_1x4096x4096_g128_f16, lowbit.gpu_launch = array<i64: 128, 1, 1, 256, 1, 1, 0>, lowbit.gpu_params = [memref<1x4096xf16>, memref<128x128x128xi32>, memref<4096x32xf16>, memref<1x4096xf16>]
// PTX ISA 8.0 unless the module has an FP8 kernel (8.4, below).
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// CHECK: gpu.func @w4a16_gemv_1x4096x4096_g128_f16(%{{.*}}: memref<1x4096xf16>, %{{.*}}: memref<128x128x128xi32>, %{{.*}}: memref<4096x32xf16>, %{{.*}}: memref<1x4096xf16>) workgroup(%{{.*}} : memref<8x16x40xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<8x16x32xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// Dequantized in registers: codes xor 0x88888888, the f16 magic 0x6400.
// CHECK-DAG: arith.constant -2004318072 : i32
// CHECK-DAG: arith.constant 1677747200 : i32
// The weights are loaded one step ahead (the first before the loop).
// CHECK: vector.load {{.*}} {alignment = 16 : i64} : memref<128x128x128xi32>, vector<4xi32>
// CHECK: nvgpu.device_async_copy {{.*}}, 8, %{{.*}} {bypassL1}
// CHECK: arith.subf {{.*}} : vector<2xf16>
// CHECK: nvvm.bar.warp.sync
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: gpu.barrier
// CHECK: arith.truncf {{.*}} : f32 to f16
// CHECK: memref.store
func.func @gemv(%x: tensor<1x4096xf16>, %w: !lowbit.qtensor<4096x4096xi4, per_group<[1 : 128]>, scale = f16>) -> tensor<1x4096xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x4096xf16>, !lowbit.qtensor<4096x4096xi4, per_group<[1 : 128]>, scale = f16> -> tensor<1x4096xf16>
  return %y : tensor<1x4096xf16>
}

// -----

// Tails: N = 10 (one weight tile), K = 96 (3 steps for 8 warps), groups
// of 32, 3 rows, f32 result. Two qmatmuls of one problem share a kernel.
// CHECK-LABEL: func.func @tails
// CHECK-COUNT-2: lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemv_3x10x96_g32_f32, lowbit.gpu_launch = array<i64: 1, 1, 1, 256, 1, 1, 0>
// CHECK: gpu.module @lowbit_gpu
// CHECK-COUNT-1: gpu.func @w4a16_gemv_3x10x96_g32_f32
// CHECK-NOT: gpu.func
func.func @tails(%x: tensor<3x96xf16>, %w: !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16>) -> (tensor<3x10xf32>, tensor<3x10xf32>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : tensor<3x96xf16>, !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<3x10xf32>
  %b = lowbit.qmatmul %x, %w {transpose_b} : tensor<3x96xf16>, !lowbit.qtensor<10x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<3x10xf32>
  return %a, %b : tensor<3x10xf32>, tensor<3x10xf32>
}

// -----

// Not covered: f32 activations, int4 groups of 16. No kernel for those;
// the FP4 one with 16 rows gets the tensor-core kernel.
// CHECK-LABEL: func.func @uncovered
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@mxfp4_gemv_16x8x64_g32_f16
// CHECK-NOT: lowbit.gpu_kernel
func.func @uncovered(%x: tensor<16x64xf16>, %xf: tensor<1x64xf32>, %w: !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>, scale = f16>, %w16: !lowbit.qtensor<8x64xi4, per_group<[1 : 16]>, scale = f16>, %x1: tensor<1x64xf16>, %wm: !lowbit.qtensor<8x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> (tensor<16x8xf16>, tensor<1x8xf32>, tensor<1x8xf16>) {
  %a = lowbit.qmatmul %x, %wm {transpose_b} : tensor<16x64xf16>, !lowbit.qtensor<8x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<16x8xf16>
  %b = lowbit.qmatmul %xf, %w {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>, scale = f16> -> tensor<1x8xf32>
  %c = lowbit.qmatmul %x1, %w16 {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<8x64xi4, per_group<[1 : 16]>, scale = f16> -> tensor<1x8xf16>
  return %a, %b, %c : tensor<16x8xf16>, tensor<1x8xf32>, tensor<1x8xf16>
}

// -----

// W8A8 GEMM on int8 tensor cores: 64 x 64 outputs per block (grid x over
// N, y over M), 128 threads, a shared tile of 2 x 64 rows of 80 bytes
// (16-byte aligned for cp.async); X per row, W per channel, f16 result.
// CHECK-LABEL: func.func @w8a8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_128x8192x4096_xrow_wrow_f16, lowbit.gpu_launch = array<i64: 128, 2, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<128x4096xi8>, memref<128xf32>, memref<8192x4096xi8>, memref<8192xf32>, memref<128x8192xf16>]
// CHECK: gpu.func @w8a8_gemm_128x8192x4096_xrow_wrow_f16({{.*}}) workgroup(%{{.*}} : memref<2x64x80xi8, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: nvgpu.device_async_copy {{.*}}, 16, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_wait
// CHECK: gpu.barrier
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 32]} : (vector<4x4xi8>, vector<2x4xi8>, vector<2x2xi32>) -> vector<2x2xi32>
// CHECK: arith.sitofp
func.func @w8a8(%x: !lowbit.qtensor<128x4096xi8, per_axis<0>>, %w: !lowbit.qtensor<8192x4096xi8, per_axis<0>>) -> tensor<128x8192xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<128x4096xi8, per_axis<0>>, !lowbit.qtensor<8192x4096xi8, per_axis<0>> -> tensor<128x8192xf16>
  return %y : tensor<128x8192xf16>
}

// -----

// FP8 E4M3 GEMM (sm_89 and newer): the same tiles, mma.sync on E4M3 as
// inline PTX, f32 accumulation; X per tensor, W per channel, odd M and N.
// CHECK-LABEL: func.func @fp8
// The tensor cores' accumulator starts from zero in every K tile; the
// tile's sums are added in f32 outside (FP8 accumulators on sm_89/sm_90
// may keep fewer than 24 mantissa bits).
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@fp8_gemm_5x70x48_xt_wrow_f32, lowbit.gpu_launch = array<i64: 2, 1, 1, 128, 1, 1, 0>
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx84">]
// CHECK: llvm.inline_asm "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32
// CHECK: arith.addf {{.*}} : vector<2x2xf32>
// CHECK-NOT: arith.sitofp
func.func @fp8(%x: !lowbit.qtensor<5x48xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<70x48xf8E4M3FN, per_axis<0>>) -> tensor<5x70xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<5x48xf8E4M3FN, per_tensor>, !lowbit.qtensor<70x48xf8E4M3FN, per_axis<0>> -> tensor<5x70xf32>
  return %y : tensor<5x70xf32>
}

// -----

// MXFP4 and NVFP4 weights: the tensor-core kernel on mma-b tiles of E2M1
// codes, decoded in registers to f16 pairs (2^-14 times the value), E8M0 /
// E4M3 scales decoded exactly from their bytes, NVFP4's tensor scale as a
// parameter before Y.
// CHECK-LABEL: func.func @fp4
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@mxfp4_gemv_1x256x512_g32_f16, lowbit.gpu_launch = array<i64: 8, 1, 1, 256, 1, 1, 0>, lowbit.gpu_params = [memref<1x512xf16>, memref<8x16x128xi32>, memref<256x16xi8>, memref<1x256xf16>]
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@nvfp4_gemv_2x256x512_g16_f32, lowbit.gpu_launch = array<i64: 8, 1, 1, 256, 1, 1, 0>, lowbit.gpu_params = [memref<2x512xf16>, memref<8x16x128xi32>, memref<256x32xi8>, memref<f32>, memref<2x256xf32>]
// CHECK: gpu.func @mxfp4_gemv_1x256x512_g32_f16
// CHECK: arith.constant 4194304 : i32
// CHECK: arith.constant 2143289344 : i32
// CHECK: gpu.func @nvfp4_gemv_2x256x512_g16_f32
// CHECK: arith.constant 0.001953125 : f32
func.func @fp4(%x: tensor<1x512xf16>, %w: !lowbit.qtensor<256x512xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>, %x2: tensor<2x512xf16>, %w2: !lowbit.qtensor<256x512xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> (tensor<1x256xf16>, tensor<2x256xf32>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x512xf16>, !lowbit.qtensor<256x512xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x256xf16>
  %b = lowbit.qmatmul %x2, %w2 {transpose_b} : tensor<2x512xf16>, !lowbit.qtensor<256x512xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<2x256xf32>
  return %a, %b : tensor<1x256xf16>, tensor<2x256xf32>
}

// -----

// W4A16 with more than 16 rows: the same kernel with 64 x 64 tiles (2 x
// 2 warps, two m16 tiles each); M = 19 and N = 70 leave partial tiles.
// CHECK-LABEL: func.func @w4a16_gemm
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemm_19x70x96_g32_f32, lowbit.gpu_launch = array<i64: 2, 1, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<19x96xf16>, memref<3x3x128xi32>, memref<70x3xf16>, memref<19x70xf32>]
// CHECK: gpu.func @w4a16_gemm_19x70x96_g32_f32({{.*}}) workgroup(%{{.*}} : memref<1x64x40xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]}
func.func @w4a16_gemm(%x: tensor<19x96xf16>, %w: !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<19x70xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<19x96xf16>, !lowbit.qtensor<70x96xi4, per_group<[1 : 32]>, scale = f16> -> tensor<19x70xf32>
  return %y : tensor<19x70xf32>
}

// -----

// One kernel name, two scales shapes (per row as [M] and as [M, 1]): the
// second problem gets its own kernel (suffix _v1), each op its signature.
// CHECK-LABEL: func.func @same_name
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_4x16x32_xrow_wt_f32, {{.*}}memref<4xf32>
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_4x16x32_xrow_wt_f32_v1, {{.*}}memref<4x1xf32>
// CHECK: gpu.func @w8a8_gemm_4x16x32_xrow_wt_f32(%{{.*}}: memref<4x32xi8>, %{{.*}}: memref<4xf32>
// CHECK: gpu.func @w8a8_gemm_4x16x32_xrow_wt_f32_v1(%{{.*}}: memref<4x32xi8>, %{{.*}}: memref<4x1xf32>
func.func @same_name(%x: !lowbit.qtensor<4x32xi8, per_axis<0>>, %x2: !lowbit.qtensor<4x32xi8, per_group<[1 : 32]>>, %w: !lowbit.qtensor<16x32xi8, per_tensor>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<4x32xi8, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_tensor> -> tensor<4x16xf32>
  %b = lowbit.qmatmul %x2, %w {transpose_b} : !lowbit.qtensor<4x32xi8, per_group<[1 : 32]>>, !lowbit.qtensor<16x32xi8, per_tensor> -> tensor<4x16xf32>
  return %a, %b : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// bf16 activations (and result): the weights are decoded to bf16 (q * s in
// f32, rounded once) and multiplied with mma.sync ... bf16 as inline PTX
// (nvgpu.mma.sync does not lower bf16).
// CHECK-LABEL: func.func @bf16
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemv_1x64x256_g128_xbf16_bf16, {{.*}}lowbit.gpu_params = [memref<1x256xbf16>, memref<2x8x128xi32>, memref<64x2xf16>, memref<1x64xbf16>]
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemm_32x64x256_g128_xbf16_bf16,
// CHECK: gpu.func @w4a16_gemv_1x64x256_g128_xbf16_bf16({{.*}}) workgroup(%{{.*}} : memref<8x16x40xbf16,
// bf16 magic 0x4300: 128 + u.
// CHECK: arith.constant 1124090624 : i32
// CHECK: llvm.inline_asm "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK: gpu.func @w4a16_gemm_32x64x256_g128_xbf16_bf16({{.*}}) workgroup(%{{.*}} : memref<1x64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: llvm.inline_asm "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
func.func @bf16(%x: tensor<1x256xbf16>, %w: !lowbit.qtensor<64x256xi4, per_group<[1 : 128]>, scale = f16>, %x2: tensor<32x256xbf16>) -> (tensor<1x64xbf16>, tensor<32x64xbf16>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x256xbf16>, !lowbit.qtensor<64x256xi4, per_group<[1 : 128]>, scale = f16> -> tensor<1x64xbf16>
  %b = lowbit.qmatmul %x2, %w {transpose_b} : tensor<32x256xbf16>, !lowbit.qtensor<64x256xi4, per_group<[1 : 128]>, scale = f16> -> tensor<32x64xbf16>
  return %a, %b : tensor<1x64xbf16>, tensor<32x64xbf16>
}

// -----

// NVFP4 needs groups of a multiple of 16 (one scale per 16-input step):
// groups of 8 get no kernel.
// CHECK-LABEL: func.func @nvfp4_g8
// CHECK-NOT: lowbit.gpu_kernel
func.func @nvfp4_g8(%x: tensor<1x64xf16>, %w: !lowbit.qtensor<8x64xf4E2M1FN, per_group<[1 : 8]>, scale = f8E4M3FN, tensor_scale>) -> tensor<1x8xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<8x64xf4E2M1FN, per_group<[1 : 8]>, scale = f8E4M3FN, tensor_scale> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// int4 with one scale per row (per_axis<0>): the scales parameter is the
// qtensor's [N] part.
// CHECK-LABEL: func.func @per_row
// CHECK: lowbit.gpu_params = [memref<1x64xf16>, memref<1x2x128xi32>, memref<8xf16>, memref<1x8xf32>]
func.func @per_row(%x: tensor<1x64xf16>, %w: !lowbit.qtensor<8x64xi4, per_axis<0>, scale = f16>) -> tensor<1x8xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<8x64xi4, per_axis<0>, scale = f16> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
