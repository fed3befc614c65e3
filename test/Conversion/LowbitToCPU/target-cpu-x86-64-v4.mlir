// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=x86-64-v4 | FileCheck %s
//
// LLVM's feature list of x86-64-v4 names avx512bw, avx512dq, avx512vl and
// avx512cd but not the avx512f they imply: Target.cpp adds implied features
// (llvm::X86::updateImpliedFeatures), so x86-64-v4 is AVX-512.

// AVX-512 without VNNI (x86-64-v4): the integer dot products are emulated
// (vpmaddubsw + vpmaddwd on 256-bit halves, no vpdpbusd), but the MXFP4
// table lookup is one 512-bit vpshufb.
// CHECK-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(vector<64xi8>, vector<64xi8>) -> vector<64xi8> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.pshuf.b.512"}
// CHECK-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// CHECK-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// CHECK-LABEL: func.func @mxfp4_i8(
// CHECK: call @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// CHECK-LABEL: func.func private @__lowbit_mxfp4_i8_1x2x128_g32_f8E8M0FNU(
// CHECK: %[[TABLE:.*]] = arith.constant dense<[12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12,{{.*}}> : vector<64xi8>
// CHECK: %[[U:.*]] = func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(%[[TABLE]], %{{.*}}) : (vector<64xi8>, vector<64xi8>) -> vector<64xi8>
// CHECK: %[[UL:.*]] = vector.shuffle %[[U]], %[[U]] [0, 1, 2,
// CHECK: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(%[[UL]],
// CHECK: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(
// CHECK-NOT: vpdpbusd
// CHECK-NOT: llvm_x86_avx2_pshuf_b
func.func @mxfp4_i8(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
