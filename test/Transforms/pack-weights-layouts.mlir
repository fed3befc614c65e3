// RUN: lowbit-opt %s -split-input-file --lowbit-pack-weights=target-cpu=znver4 | FileCheck %s --check-prefix=CPU
// RUN: lowbit-opt %s -split-input-file --lowbit-pack-weights=kernel-layouts=0 | FileCheck %s --check-prefix=ROWS
// RUN: not lowbit-opt %s -split-input-file --lowbit-pack-weights="target=nvptx chip=sm_90 target-cpu=znver4" | FileCheck %s --check-prefix=GPU
// RUN: not lowbit-opt %s -split-input-file --lowbit-pack-weights="target=nvptx chip=sm_90 target-cpu=znver4" 2>&1 | FileCheck %s --check-prefix=CHIP

// W8A8 weights stored [K, N]: transposed to [N, K], then packed once into
// the CPU int8 panels (code + 128: code 1 is the byte -127) that both
// qmatmuls read; the layout is recorded on the constant. Without kernel
// layouts only the transposition happens.
// CPU-LABEL: func.func @w8a8_shared
// CPU: %[[P:.*]] = lowbit.constant codes(dense<-127> : tensor<1x8x64xi8>) scales(dense<5.000000e-01> : tensor<16xf32>) {layout = #lowbit<layout int8_panels>} : <16x32xi8, per_axis<0>>
// CPU-NOT: lowbit.constant
// CPU: lowbit.qmatmul %{{.*}}, %[[P]] {transpose_b}
// CPU: lowbit.qmatmul %{{.*}}, %[[P]] {transpose_b}
// ROWS-LABEL: func.func @w8a8_shared
// ROWS: %[[W:.*]] = lowbit.constant codes(dense<1> : tensor<16x32xi8>) scales(dense<5.000000e-01> : tensor<16xf32>) : <16x32xi8, per_axis<0>>
// ROWS-NOT: layout
// ROWS: lowbit.qmatmul %{{.*}}, %[[W]] {transpose_b}
// GPU-LABEL: func.func @w8a8_shared
// GPU: layout = #lowbit<layout int8_panels>
func.func @w8a8_shared(%a: tensor<2x32xf32>, %b: tensor<1x32xf32>) -> (tensor<2x16xf32>, tensor<1x16xf32>) {
  %w = lowbit.constant codes(dense<1> : tensor<32x16xi8>) scales(dense<0.5> : tensor<16xf32>) : !lowbit.qtensor<32x16xi8, per_axis<1>>
  %aq = lowbit.quantize %a : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_axis<0>>
  %ya = lowbit.qmatmul %aq, %w : !lowbit.qtensor<2x32xi8, per_axis<0>>, !lowbit.qtensor<32x16xi8, per_axis<1>> -> tensor<2x16xf32>
  %bq = lowbit.quantize %b : tensor<1x32xf32> -> !lowbit.qtensor<1x32xi8, per_axis<0>>
  %yb = lowbit.qmatmul %bq, %w : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<32x16xi8, per_axis<1>> -> tensor<1x16xf32>
  return %ya, %yb : tensor<2x16xf32>, tensor<1x16xf32>
}

// -----

// int4 weights: the CPU kernels read [N, K] rows (no layout); a qmatmul
// that lowbit-lower-to-gpu gave a 4-bit mma kernel gets the mma-b tiles
// ([N/32, K/32, 128] i32; codes 0x11 make the words 0x11111111).
// CPU-LABEL: func.func @w4
// CPU-NOT: layout
// GPU-LABEL: func.func @w4
// GPU: %[[M:.*]] = lowbit.constant codes(dense<286331153> : tensor<1x2x128xi32>) scales(dense<5.000000e-01> : tensor<32x2xf16>) {layout = #lowbit<layout mma_b>}
// GPU-NOT: lowbit.constant
// GPU: lowbit.qmatmul %{{.*}}, %[[M]] {lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemv_1x32x64_g32_f16, transpose_b}
func.func @w4(%x: tensor<1x64xf16>) -> tensor<1x32xf16> {
  %w = lowbit.constant codes(dense<17> : tensor<32x32xi8>) scales(dense<0.5> : tensor<32x2xf16>) : !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16>
  %y = lowbit.qmatmul %x, %w {transpose_b, lowbit.gpu_kernel = @lowbit_gpu::@w4a16_gemv_1x32x64_g32_f16} : tensor<1x64xf16>, !lowbit.qtensor<32x64xi4 : f16, per_group<[1 : 32]>, scale = f16> -> tensor<1x32xf16>
  return %y : tensor<1x32xf16>
}

// -----

// A W8A8 qmatmul that lowbit-lower-to-gpu gave a GPU kernel reads the
// run-time parts: no layout for the GPU's own ops (target=cpu knows only
// the CPU's kernels).
// CPU-LABEL: func.func @w8a8_on_gpu
// CPU: layout = #lowbit<layout int8_panels>
// GPU-LABEL: func.func @w8a8_on_gpu
// GPU-NOT: layout
func.func @w8a8_on_gpu(%a: tensor<2x32xf32>) -> tensor<2x16xf32> {
  %w = lowbit.constant codes(dense<1> : tensor<16x32xi8>) scales(dense<0.5> : tensor<16xf32>) : !lowbit.qtensor<16x32xi8, per_axis<0>>
  %aq = lowbit.quantize %a : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_axis<0>>
  %y = lowbit.qmatmul %aq, %w {transpose_b, lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_2x16x32_xrow_wrow_f32} : !lowbit.qtensor<2x32xi8, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// target=nvptx follows the kernels lowbit-lower-to-gpu chose: for another
// chip they are not the ones asked for.
module attributes {gpu.container_module} {
  // CHIP: error: lowbit-pack-weights: the kernels were chosen for sm_80, not chip=sm_90
  gpu.module @lowbit_gpu [#nvvm.target<chip = "sm_80">] {
  }
}
