// RUN: lowbit-opt %s -split-input-file --lowbit-pack-weights=kernel-layouts=0 --lowbit-lower-to-gpu=chip=sm_90 --lowbit-pack-weights="target=nvptx chip=sm_90" --lowbit-gpu-to-ptx --lowbit-offload-to-gpu -verify-diagnostics | FileCheck %s

// The host side of lowbit-compile --target=nvptx: the PTX becomes a string
// global; each covered op becomes lowbit.launch on the kernel's
// parameters in order. Constant int4 weights, which lowbit-pack-weights
// packed into the mma-b tiles after lowbit-lower-to-gpu chose the kernel
// ([N/32, K/32, 128] i32; codes 0x11 give the words 0x11111111), go to
// the launch as they are, with the constant's own scales.
// CHECK-LABEL: llvm.mlir.global internal constant @__lowbit_ptx("//
// CHECK-SAME: .visible .entry w4a16_gemv_1x32x64_g32_f16(
// CHECK-NOT: gpu.binary
// CHECK-LABEL: func.func @w4a16
// CHECK-NOT: lowbit.constant
// CHECK: %[[P:.*]] = arith.constant dense<286331153> : tensor<1x2x128xi32>
// CHECK: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<32x2xf16>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x32xf16>
// CHECK: %[[Y:.*]] = lowbit.launch @lowbit_gpu::@w4a16_gemv_1x32x64_g32_f16 [1, 1, 1, 256, 1, 1, 0] ins(%arg0, %[[P]], %[[S]] : tensor<1x64xf16>, tensor<1x2x128xi32>, tensor<32x2xf16>) outs(%[[E]] : tensor<1x32xf16>) -> tensor<1x32xf16>
// CHECK-NOT: lowbit.qmatmul
// CHECK: return %[[Y]]
func.func @w4a16(%x: tensor<1x64xf16>) -> tensor<1x32xf16> {
  %w = lowbit.constant codes(dense<17> : tensor<32x32xi8>) scales(dense<0.5> : tensor<32x2xf16>) : !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16>
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16> -> tensor<1x32xf16>
  return %y : tensor<1x32xf16>
}

// -----

// Activation quantization and the W8A8 GEMM: the quantized activations'
// parts come out of one launch (lowbit.pack re-assembles the qtensor) and
// go into the next through lowbit.unpack.
// CHECK-LABEL: func.func @w8a8
// CHECK: %[[Q:.*]]:2 = lowbit.launch @lowbit_gpu::@quantize_i8_rows_2x32_f16 [2, 1, 1, 128, 1, 1, 0] ins(%arg0 : tensor<2x32xf16>) outs(%{{.*}}, %{{.*}} : tensor<2x32xi8>, tensor<2xf32>) -> tensor<2x32xi8>, tensor<2xf32>
// CHECK: %[[XQ:.*]] = lowbit.pack %[[Q]]#0, %[[Q]]#1
// CHECK: %[[X:.*]]:2 = lowbit.unpack %[[XQ]]
// CHECK: %[[W:.*]]:2 = lowbit.unpack %arg1
// CHECK: lowbit.launch @lowbit_gpu::@w8a8_gemm_2x16x32_xrow_wrow_f32 [1, 1, 1, 128, 1, 1, 0] ins(%[[X]]#0, %[[X]]#1, %[[W]]#0, %[[W]]#1 : tensor<2x32xi8>, tensor<2xf32>, tensor<16x32xi8>, tensor<16xf32>) outs(%{{.*}} : tensor<2x16xf32>) -> tensor<2x16xf32>
func.func @w8a8(%x: tensor<2x32xf16>, %w: !lowbit.qtensor<16x32xi8, per_axis<0>>) -> tensor<2x16xf32> {
  %q = lowbit.quantize %x : tensor<2x32xf16> -> !lowbit.qtensor<2x32xi8 : f16, per_axis<0>>
  %y = lowbit.qmatmul %q, %w {transpose_b} : !lowbit.qtensor<2x32xi8 : f16, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// 4-bit weights that are not a constant cannot be packed at compile time:
// the op keeps its CPU lowering, without the launch attributes.
// CHECK-LABEL: func.func @runtime_weights
// CHECK: lowbit.qmatmul
// CHECK-NOT: lowbit.gpu_kernel
// CHECK-NOT: lowbit.launch
func.func @runtime_weights(%x: tensor<1x64xf16>, %w: !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16>) -> tensor<1x32xf16> {
  // expected-warning @+1 {{runs on the CPU: the GPU kernel w4a16_gemv_1x32x64_g32_f16 reads weights packed at compile time}}
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf16>, !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16> -> tensor<1x32xf16>
  return %y : tensor<1x32xf16>
}
