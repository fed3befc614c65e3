// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_80 | FileCheck %s
// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_75 | FileCheck %s --check-prefix=SM75

// The w4-mma family (lib/Conversion/LowbitToGPU/W4MmaKernel.cpp): int4,
// MXFP4 and NVFP4 weights in mma-b tiles times f16/bf16 activations on
// mma.sync m16n8k16, sm_80 and newer. sm_75 has no such tensor cores: no
// kernel.
// SM75-NOT: lowbit.gpu_kernel
// SM75-NOT: gpu.module

// int4, M <= 16 (decode, "gemv"): 8 warps (256 threads) share a
// 32-channel weight column and split K; each has its own X tile and the
// partial 16 x 32 tiles meet in the second workgroup buffer.
// CHECK-LABEL: func.func @int4_decode
// CHECK: lowbit.qmatmul {{.*}}lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemv_1x40x64_g32_f16, lowbit.gpu_launch = array<i64: 2, 1, 1, 256, 1, 1, 0>, lowbit.gpu_params = [memref<1x64xf16>, memref<2x2x128xi32>, memref<40x2xf16>, memref<1x40xf16>]
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
// CHECK-LABEL: gpu.func @w4a16_gemv_1x40x64_g32_f16(
// CHECK-SAME: %[[X:.*]]: memref<1x64xf16>, %[[CODES:.*]]: memref<2x2x128xi32>, %[[SCALES:.*]]: memref<40x2xf16>, %[[Y:.*]]: memref<1x40xf16>)
// CHECK-SAME: workgroup(%[[XS:.*]] : memref<8x16x40xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[RED:.*]] : memref<8x16x32xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// The f16 magic 0x64006400 (1024 + u) and the xor bias 0x88888888.
// CHECK-DAG: %[[MAGIC:.*]] = arith.constant 1677747200 : i32
// CHECK-DAG: %[[BIAS:.*]] = arith.constant -2004318072 : i32
// One 16-byte load of the lane's B fragments per step, one step ahead.
// CHECK: vector.load %[[CODES]][{{.*}}] {alignment = 16 : i64} : memref<2x2x128xi32>, vector<4xi32>
// CHECK: scf.for
// CHECK: nvgpu.device_async_copy %[[X]][{{.*}}], %[[XS]][{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: arith.xori %{{.*}}, %[[BIAS]] : i32
// CHECK: memref.load %[[SCALES]]
// CHECK: arith.ori %{{.*}}, %[[MAGIC]] : i32
// CHECK: arith.subf {{.*}} : vector<2xf16>
// CHECK: arith.mulf {{.*}} : vector<2xf16>
// CHECK: nvvm.cp.async.wait.group 0
// CHECK: nvvm.bar.warp.sync
// CHECK: vector.load %[[XS]]
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: memref.store %{{.*}}, %[[RED]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[RED]]
// CHECK: arith.truncf {{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %[[Y]]
// CHECK: gpu.return
func.func @int4_decode(%x: tensor<1x64xf16>, %w: !lowbit.qtensor<40x64xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<1x40xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<40x64xi4, per_group<[1 : 32]>, scale = f16> -> tensor<1x40xf16>
  return %y : tensor<1x40xf16>
}

// -----

// int4 with bf16 activations and M > 16 ("gemm"): 2 x 2 warps of 32 x 32
// outputs, block barriers, the bf16 magic 0x43004300 (128 + u), and
// mma.sync on bf16 as inline PTX.
// CHECK-LABEL: func.func @int4_gemm_bf16
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemm_32x40x64_g32_xbf16_f32, lowbit.gpu_launch = array<i64: 1, 1, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<32x64xbf16>, memref<2x2x128xi32>, memref<40x2xf16>, memref<32x40xf32>]
// CHECK-LABEL: gpu.func @w4a16_gemm_32x40x64_g32_xbf16_f32(
// CHECK-SAME: %[[X:.*]]: memref<32x64xbf16>, %[[CODES:.*]]: memref<2x2x128xi32>, %[[SCALES:.*]]: memref<40x2xf16>, %[[Y:.*]]: memref<32x40xf32>)
// CHECK-SAME: workgroup(%[[XS:.*]] : memref<1x64x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: %[[MAGIC:.*]] = arith.constant 1124090624 : i32
// CHECK: vector.load %[[CODES]]
// CHECK: nvgpu.device_async_copy %[[X]][{{.*}}], %[[XS]]
// CHECK: %[[S:.*]] = memref.load %[[SCALES]]
// CHECK: arith.extf %[[S]] : f16 to f32
// CHECK: arith.ori %{{.*}}, %[[MAGIC]] : i32
// CHECK: arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK: gpu.barrier
// CHECK: llvm.inline_asm "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-NOT: nvgpu.mma.sync
// CHECK: memref.store %{{.*}}, %[[Y]]
func.func @int4_gemm_bf16(%x: tensor<32x64xbf16>, %w: !lowbit.qtensor<40x64xi4, per_group<[1 : 32]>, scale = f16>) -> tensor<32x40xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<32x64xbf16>, !lowbit.qtensor<40x64xi4, per_group<[1 : 32]>, scale = f16> -> tensor<32x40xf32>
  return %y : tensor<32x40xf32>
}

// -----

// MXFP4: E2M1 pairs become the f16 pairs s << 15 | eem << 9 (masks
// 0x00080008, 0x00070007), times 2^14 in f32; E8M0 scales decoded from
// their bytes (i8 parameter).
// CHECK-LABEL: func.func @mxfp4
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@mxfp4_gemv_1x40x64_g32_f16, {{.*}}lowbit.gpu_params = [memref<1x64xf16>, memref<2x2x128xi32>, memref<40x2xi8>, memref<1x40xf16>]
// CHECK-LABEL: gpu.func @mxfp4_gemv_1x40x64_g32_f16(
// CHECK-SAME: %[[X:.*]]: memref<1x64xf16>, %[[CODES:.*]]: memref<2x2x128xi32>, %[[SCALES:.*]]: memref<40x2xi8>, %[[Y:.*]]: memref<1x40xf16>)
// CHECK-DAG: %[[M7:.*]] = arith.constant 458759 : i32
// CHECK-DAG: %[[M8:.*]] = arith.constant 524296 : i32
// CHECK-DAG: %[[POW14:.*]] = arith.constant dense<1.638400e+04> : vector<2xf32>
// CHECK: %[[BYTE:.*]] = memref.load %[[SCALES]]
// CHECK: arith.extui %[[BYTE]] : i8 to i32
// CHECK: arith.andi %{{.*}}, %[[M8]] : i32
// CHECK: arith.andi %{{.*}}, %[[M7]] : i32
// CHECK: vector.bitcast %{{.*}} : vector<1xi32> to vector<2xf16>
// CHECK: arith.mulf %{{.*}}, %[[POW14]] : vector<2xf32>
// CHECK: arith.truncf {{.*}} : vector<2xf32> to vector<2xf16>
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]}
// CHECK: memref.store %{{.*}}, %[[Y]]
func.func @mxfp4(%x: tensor<1x64xf16>, %w: !lowbit.qtensor<40x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<1x40xf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<40x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x40xf16>
  return %y : tensor<1x40xf16>
}

// -----

// NVFP4: groups of 16, E4M3 scales times the f32 tensor scale, a parameter
// before Y.
// CHECK-LABEL: func.func @nvfp4
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@nvfp4_gemv_2x40x64_g16_f32, {{.*}}lowbit.gpu_params = [memref<2x64xf16>, memref<2x2x128xi32>, memref<40x4xi8>, memref<f32>, memref<2x40xf32>]
// CHECK-LABEL: gpu.func @nvfp4_gemv_2x40x64_g16_f32(
// CHECK-SAME: %[[X:.*]]: memref<2x64xf16>, %[[CODES:.*]]: memref<2x2x128xi32>, %[[SCALES:.*]]: memref<40x4xi8>, %[[TS:.*]]: memref<f32>, %[[Y:.*]]: memref<2x40xf32>)
// CHECK: %[[T:.*]] = memref.load %[[TS]][] : memref<f32>
// CHECK: memref.load %[[SCALES]]
// CHECK: arith.mulf %{{.*}}, %[[T]] : f32
// CHECK: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]}
// CHECK: memref.store %{{.*}}, %[[Y]]
func.func @nvfp4(%x: tensor<2x64xf16>, %w: !lowbit.qtensor<40x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> tensor<2x40xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<2x64xf16>, !lowbit.qtensor<40x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<2x40xf32>
  return %y : tensor<2x40xf32>
}

// -----

// Not the family's: K not a multiple of 32 (a lane's 16-byte chunk), f32
// activations.
// CHECK-LABEL: func.func @uncovered
// CHECK-NOT: lowbit.gpu_kernel
// CHECK-NOT: gpu.module
func.func @uncovered(%x: tensor<1x48xf16>, %w: !lowbit.qtensor<8x48xi4, per_group<[1 : 48]>, scale = f16>, %xf: tensor<1x64xf32>, %w2: !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>, scale = f16>) -> (tensor<1x8xf16>, tensor<1x8xf32>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x48xf16>, !lowbit.qtensor<8x48xi4, per_group<[1 : 48]>, scale = f16> -> tensor<1x8xf16>
  %b = lowbit.qmatmul %xf, %w2 {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>, scale = f16> -> tensor<1x8xf32>
  return %a, %b : tensor<1x8xf16>, tensor<1x8xf32>
}
