// RUN: lowbit-opt %s --lowbit-lower-to-gpu=chip=sm_80 | FileCheck %s

// On sm_80 the int8 GEMM has a kernel (PTX ISA 8.0); FP8 mma.sync needs
// sm_89, so the FP8 qmatmul gets none.
// CHECK: lowbit.qmatmul {{.*}}lowbit.gpu_kernel = @lowbit_gpu::@w8a8_gemm_16x64x64_xt_wt_f32
// CHECK-NOT: fp8_gemm
// CHECK: gpu.module @lowbit_gpu [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
func.func @both(%x: !lowbit.qtensor<16x64xi8, per_tensor>, %w: !lowbit.qtensor<64x64xi8, per_tensor>, %xf: !lowbit.qtensor<16x64xf8E4M3FN, per_tensor>, %wf: !lowbit.qtensor<64x64xf8E4M3FN, per_tensor>) -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  %a = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<16x64xi8, per_tensor>, !lowbit.qtensor<64x64xi8, per_tensor> -> tensor<16x64xf32>
  %b = lowbit.qmatmul %xf, %wf {transpose_b} : !lowbit.qtensor<16x64xf8E4M3FN, per_tensor>, !lowbit.qtensor<64x64xf8E4M3FN, per_tensor> -> tensor<16x64xf32>
  return %a, %b : tensor<16x64xf32>, tensor<16x64xf32>
}
