// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=sapphirerapids -split-input-file | FileCheck %s --check-prefixes=CHECK,VNNI
// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=skylake-avx512 -split-input-file | FileCheck %s --check-prefixes=CHECK,AVX512
// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=x86-64-v3 -split-input-file | FileCheck %s --check-prefixes=CHECK,AVX2
// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=x86-64 -split-input-file | FileCheck %s --check-prefixes=CHECK,GENERIC

// target-cpu picks the vector ISA from LLVM's description of the CPU
// (Target.cpp, docs/CodegenCPU.md): AVX-512 VNNI (sapphirerapids, znver4)
// gets vpdpbusd and 512-bit vpshufb; AVX-512 F/BW without VNNI
// (skylake-avx512) the emulated dot product (vpmaddubsw + vpmaddwd on
// 256-bit halves) with 512-bit vpshufb; AVX2 + FMA (x86-64-v3) the emulated
// dot product and 256-bit vpshufb; without AVX2 (x86-64) only the float
// kernels apply and int8-activation qmatmuls keep the reference lowering.
// x86-64-v4 (the same ISA as skylake-avx512 here):
// target-cpu-x86-64-v4.mlir; unknown names: target-cpu-invalid.mlir.

// VNNI-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// VNNI-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// AVX512-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// AVX512-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// AVX512-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(
// CHECK-LABEL: func.func @mxfp4_i8(
// VNNI: call @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// AVX512: call @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// AVX2: call @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// GENERIC-NOT: call
// GENERIC: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// GENERIC-NOT: @__lowbit_
// VNNI-LABEL: func.func private @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// VNNI-NOT: llvm_x86_avx2
// AVX512-LABEL: func.func private @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// AVX512: %[[U:.*]] = func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// AVX512: %[[UL:.*]] = vector.shuffle %[[U]], %[[U]] [0, 1, 2,
// AVX512: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(%[[UL]],
// AVX512-NOT: vpdpbusd
// AVX512-NOT: llvm_x86_avx2_pshuf_b
// AVX2-LABEL: func.func private @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// AVX2-NOT: llvm_x86_avx512
func.func @mxfp4_i8(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// The float kernels on every target (LLVM legalizes their vectors).
// CHECK-LABEL: func.func @w4_f32(
// CHECK: call @__lowbit_w4_f32_1x2x64_g32_f32(
// CHECK-LABEL: func.func private @__lowbit_w4_f32_1x2x64_g32_f32(
// CHECK: vector.fma
func.func @w4_f32(%x: tensor<1x64xf32>, %w: !lowbit.qtensor<2x64xi4, per_group<[1 : 32]>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<2x64xi4, per_group<[1 : 32]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
