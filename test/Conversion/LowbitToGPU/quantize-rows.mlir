// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_89 | FileCheck %s
// RUN: lowbit-opt %s -split-input-file --lowbit-lower-to-gpu=chip=sm_80 | FileCheck %s --check-prefix=SM80

// The quantize-rows family (lib/Conversion/LowbitToGPU/QuantizeRowsKernel.cpp):
// dynamic quantization of activations [M, K] to int8 or E4M3 (sm_89+)
// with an f32 scale per row. One block of 128 threads per row: amax by
// compare and select over |x| (the sign bit cleared), warp shuffles, the
// 4 warps through shared memory; then the reference lowering's encoders,
// their rounding ops as PTX (no libdevice).

// int8 from f16, K = 300 (3 steps of 128, the last partial).
// CHECK-LABEL: func.func @int8
// CHECK: lowbit.quantize {{.*}}lowbit.gpu_kernel = @lowbit_gpu::@quantize_i8_rows_5x300_f16, lowbit.gpu_launch = array<i64: 5, 1, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<5x300xf16>, memref<5x300xi8>, memref<5xf32>]
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_89", features = "+ptx80">]
// CHECK-LABEL: gpu.func @quantize_i8_rows_5x300_f16(
// CHECK-SAME: %[[X:.*]]: memref<5x300xf16>, %[[CODES:.*]]: memref<5x300xi8>, %[[SCALES:.*]]: memref<5xf32>)
// CHECK-SAME: workgroup(%[[WMAX:.*]] : memref<4xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: %[[ROW:.*]] = gpu.block_id x
// CHECK: scf.for
// CHECK: %[[ABSMASK:.*]] = arith.constant 2147483647 : i32
// CHECK: memref.load %[[X]][%[[ROW]], %{{.*}}] : memref<5x300xf16>
// CHECK: arith.andi %{{.*}}, %[[ABSMASK]] : i32
// CHECK: gpu.shuffle xor
// CHECK: memref.store %{{.*}}, %[[WMAX]][%{{.*}}]
// CHECK: gpu.barrier
// CHECK: memref.load %[[WMAX]]
// CHECK: %[[QMAX:.*]] = arith.constant 1.270000e+02 : f32
// CHECK: %[[S:.*]] = arith.divf %{{.*}}, %[[QMAX]] : f32
// CHECK: %[[SC:.*]] = arith.select %{{.*}}, %{{.*}}, %[[S]] : f32
// CHECK: memref.store %[[SC]], %[[SCALES]][%[[ROW]]] : memref<5xf32>
// CHECK: scf.for
// CHECK: %[[V:.*]] = arith.divf %{{.*}}, %[[SC]] : f32
// CHECK: llvm.inline_asm "cvt.rni.f32.f32 $0, $1;", "=f,f" %[[V]] : (f32) -> f32
// CHECK-NOT: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i32
// CHECK: %[[CODE:.*]] = arith.trunci %{{.*}} : i32 to i8
// CHECK: memref.store %[[CODE]], %[[CODES]][%[[ROW]], %{{.*}}] : memref<5x300xi8>
// CHECK: gpu.return
// SM80-LABEL: func.func @int8
// SM80: lowbit.gpu_kernel = @lowbit_gpu::@quantize_i8_rows_5x300_f16
func.func @int8(%x: tensor<5x300xf16>) -> !lowbit.qtensor<5x300xi8 : f16, per_axis<0>> {
  %q = lowbit.quantize %x : tensor<5x300xf16> -> !lowbit.qtensor<5x300xi8 : f16, per_axis<0>>
  return %q : !lowbit.qtensor<5x300xi8 : f16, per_axis<0>>
}

// -----

// E4M3 from bf16: qmax 448, the shared E4M3 encoder (integer arithmetic).
// sm_80 has no FP8: no kernel.
// CHECK-LABEL: func.func @fp8
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@quantize_fp8_rows_4x70_bf16, lowbit.gpu_launch = array<i64: 4, 1, 1, 128, 1, 1, 0>, lowbit.gpu_params = [memref<4x70xbf16>, memref<4x70xi8>, memref<4xf32>]
// CHECK-LABEL: gpu.func @quantize_fp8_rows_4x70_bf16(
// CHECK-SAME: %[[X:.*]]: memref<4x70xbf16>, %[[CODES:.*]]: memref<4x70xi8>, %[[SCALES:.*]]: memref<4xf32>)
// CHECK: %[[QMAX:.*]] = arith.constant 4.480000e+02 : f32
// CHECK: arith.divf %{{.*}}, %[[QMAX]] : f32
// CHECK: memref.store %{{.*}}, %[[SCALES]]
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: memref.store %{{.*}}, %[[CODES]]
// SM80-LABEL: func.func @fp8
// SM80-NOT: lowbit.gpu_kernel
// SM80-NOT: gpu.module
func.func @fp8(%x: tensor<4x70xbf16>) -> !lowbit.qtensor<4x70xf8E4M3FN : bf16, per_axis<0>> {
  %q = lowbit.quantize %x : tensor<4x70xbf16> -> !lowbit.qtensor<4x70xf8E4M3FN : bf16, per_axis<0>>
  return %q : !lowbit.qtensor<4x70xf8E4M3FN : bf16, per_axis<0>>
}

// -----

// Ties away from zero (round = nearest_away): math.round becomes cvt.rzi
// and a step away from zero where the dropped fraction is at least 1/2.
// CHECK-LABEL: func.func @away
// CHECK: lowbit.gpu_kernel = @lowbit_gpu::@quantize_i8_rows_3x200_f32
// CHECK-LABEL: gpu.func @quantize_i8_rows_3x200_f32(
// CHECK: %[[T:.*]] = llvm.inline_asm "cvt.rzi.f32.f32 $0, $1;", "=f,f" %{{.*}} : (f32) -> f32
// CHECK: %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[GE:.*]] = arith.cmpf oge, %{{.*}}, %[[HALF]] : f32
// CHECK: %[[UP:.*]] = arith.addf %[[T]], %{{.*}} : f32
// CHECK: arith.select %[[GE]], %[[UP]], %[[T]] : f32
// CHECK-NOT: math.round
// CHECK: gpu.return
// SM80-LABEL: func.func @away
// SM80: lowbit.gpu_kernel = @lowbit_gpu::@quantize_i8_rows_3x200_f32
func.func @away(%x: tensor<3x200xf32>) -> !lowbit.qtensor<3x200xi8, per_axis<0>, round = nearest_away> {
  %q = lowbit.quantize %x : tensor<3x200xf32> -> !lowbit.qtensor<3x200xi8, per_axis<0>, round = nearest_away>
  return %q : !lowbit.qtensor<3x200xi8, per_axis<0>, round = nearest_away>
}

// -----

// Not the family's: one scale for the whole tensor (a grid-wide amax).
// CHECK-LABEL: func.func @per_tensor
// CHECK-NOT: lowbit.gpu_kernel
// CHECK-NOT: gpu.module
func.func @per_tensor(%x: tensor<4x64xf16>) -> !lowbit.qtensor<4x64xi8 : f16, per_tensor> {
  %q = lowbit.quantize %x : tensor<4x64xf16> -> !lowbit.qtensor<4x64xi8 : f16, per_tensor>
  return %q : !lowbit.qtensor<4x64xi8 : f16, per_tensor>
}
