// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=znver4 -split-input-file | FileCheck %s --check-prefixes=CHECK,VNNI
// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=x86-64-v3 -split-input-file | FileCheck %s --check-prefixes=CHECK,AVX2

// The w4-int8 kernel family (W4Int8Kernel.cpp, docs/CodegenCPU.md): int4,
// MXFP4, NVFP4 and ternary weights per group, GGUF q4_0, q5_0, q8_0, q4_K,
// q6_K, tq2_0 and iq4_nl blocks read as stored, times int8 activations. With AVX-512 VNNI (znver4)
// the integer dot products are vpdpbusd; on AVX2 (x86-64-v3) they are
// emulated exactly with vpmaddubsw + vpmaddwd on 256-bit halves, and the
// FP4 table lookup is the 256-bit vpshufb. Both targets lower the same
// qmatmuls to kernels of the same names and signatures (CHECK); the
// intrinsics differ (VNNI, AVX2). Numbers: test/E2E/cpu-w4a8.test,
// cpu-gguf.py.

// int4 per group of 32 x int8 activations per row, GEMV. K = 160: one
// full chunk of 128 inputs in a loop, then a tail chunk read with masked
// loads (no in_bounds). A prologue rearranges X into [64 even | 64 odd]
// per chunk and keeps the lane sums 8 * sum(x); nibbles are biased to
// u = q + 8 (and, shift, xor); the exact int32 sums minus the lane sums are
// scaled per group (a scale per 4 lanes) and, at the end, by X's scale.
// VNNI-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(vector<32xi8>, vector<32xi8>) -> vector<16xi16> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.pmadd.ub.sw"}
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(vector<16xi16>, vector<16xi16>) -> vector<8xi32> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.pmadd.wd"}
// CHECK-LABEL: func.func @w4a8(
// CHECK-SAME: %[[XC:.*]]: tensor<1x160xi8>, %[[XS:.*]]: tensor<1xf32>, %[[C:.*]]: tensor<3x80xi8>, %[[S:.*]]: tensor<3x5xf32>) -> tensor<1x3xf32>
// CHECK: %[[D:.*]] = tensor.empty() : tensor<1x3xf32>
// CHECK: call @__lowbit_w4_i8_1x3x160_g32_f32(%[[XC]], %[[XS]], %[[C]], %[[S]], %[[D]]) : (tensor<1x160xi8>, tensor<1xf32>, tensor<3x80xi8>, tensor<3x5xf32>, tensor<1x3xf32>) -> tensor<1x3xf32>
// CHECK-LABEL: func.func private @__lowbit_w4_i8_1x3x160_g32_f32(
// CHECK-SAME: %[[KXC:.*]]: tensor<1x160xi8>, %[[KXS:.*]]: tensor<1xf32>, %[[KC:.*]]: tensor<3x80xi8>, %[[KS:.*]]: tensor<3x5xf32>, %{{.*}}: tensor<1x3xf32>) -> tensor<1x3xf32>
// CHECK-DAG: %[[LOW4:.*]] = arith.constant dense<15> : vector<64xi8>
// CHECK-DAG: %[[BIAS:.*]] = arith.constant dense<8> : vector<64xi8>
// The prologue: X arranged per chunk, and the lane sums.
// CHECK: %[[ARR:.*]] = tensor.empty() : tensor<1x256xi8>
// CHECK: %[[SUMS:.*]] = tensor.empty() : tensor<1x32xi32>
// CHECK: %[[PRO:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[ARR]], %{{.*}} = %[[SUMS]])
// CHECK: vector.transfer_read %[[KXC]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<1x160xi8>, vector<128xi8>
// CHECK: vector.shuffle %{{.*}} [0, 2, 4, 6,
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[BIAS]], %{{.*}})
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(
// CHECK: vector.shuffle %{{.*}} [1, 3, 5, 7,
// The full chunks.
// CHECK: scf.for
// CHECK: %[[B:.*]] = vector.transfer_read %[[KC]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<3x80xi8>, vector<64xi8>
// CHECK: %[[LO:.*]] = arith.andi %[[B]], %[[LOW4]] : vector<64xi8>
// CHECK: %[[U:.*]] = arith.xori %[[LO]], %[[BIAS]] : vector<64xi8>
// CHECK: %[[SC:.*]] = vector.transfer_read %[[KS]]{{.*}} : tensor<3x5xf32>, vector<4xf32>
// CHECK: %[[SW:.*]] = vector.shuffle %[[SC]], %[[SC]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
// CHECK: %[[XA:.*]] = vector.transfer_read %[[PRO]]#0{{.*}} : tensor<1x256xi8>, vector<64xi8>
// CHECK: %[[CORR:.*]] = vector.transfer_read %[[PRO]]#1{{.*}} : tensor<1x32xi32>, vector<16xi32>
// VNNI: %[[D0:.*]] = func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[U]], %[[XA]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// VNNI: %[[D1:.*]] = func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%[[D0]],
// VNNI: %[[Q:.*]] = arith.subi %[[D1]], %[[CORR]] : vector<16xi32>
// AVX2: vector.shuffle %[[U]], %[[U]] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31] : vector<64xi8>, vector<64xi8>
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(
// AVX2: %[[Q:.*]] = arith.subi %{{.*}}, %[[CORR]] : vector<16xi32>
// CHECK: %[[QF:.*]] = arith.sitofp %[[Q]] : vector<16xi32> to vector<16xf32>
// CHECK: vector.fma %[[QF]], %[[SW]], %{{.*}} : vector<16xf32>
// CHECK: scf.yield
// The tail chunk: masked reads of the codes and their scales.
// CHECK: vector.transfer_read %[[KC]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<3x80xi8>, vector<64xi8>
// CHECK: vector.transfer_read %[[KS]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<3x5xf32>, vector<4xf32>
// CHECK: %[[SX:.*]] = tensor.extract %[[KXS]]
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK: arith.mulf %[[SUM]], %[[SX]] : f32
// VNNI-NOT: llvm.x86.avx2
// AVX2-NOT: vpdpbusd
func.func @w4a8(%x: !lowbit.qtensor<1x160xi8, per_axis<0>>, %w: !lowbit.qtensor<3x160xi4, per_group<[1 : 32]>>) -> tensor<1x3xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x160xi8, per_axis<0>>, !lowbit.qtensor<3x160xi4, per_group<[1 : 32]>> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// MXFP4 x int8 per tensor (GEMM, M = 2): codes become u = 2 * value + 12
// by a table lookup (one 512-bit vpshufb with AVX-512, two 256-bit ones on
// AVX2),
// E8M0 scales (i8) decoded exactly, 0.5 on the sum.
// VNNI-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(vector<64xi8>, vector<64xi8>) -> vector<64xi8> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.pshuf.b.512"}
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(vector<32xi8>, vector<32xi8>) -> vector<32xi8> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.pshuf.b"}
// CHECK-LABEL: func.func @mxfp4_i8(
// CHECK-SAME: %[[XC:.*]]: tensor<2x128xi8>, %[[XS:.*]]: tensor<f32>, %[[C:.*]]: tensor<3x64xi8>, %[[S:.*]]: tensor<3x4xi8>) -> tensor<2x3xf32>
// CHECK: call @__lowbit_mxfp4_i8_2x3x128_g32_f8E8M0FNU(%[[XC]], %[[XS]], %[[C]], %[[S]], %{{.*}}) : (tensor<2x128xi8>, tensor<f32>, tensor<3x64xi8>, tensor<3x4xi8>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-LABEL: func.func private @__lowbit_mxfp4_i8_2x3x128_g32_f8E8M0FNU(
// CHECK: %[[TABLE:.*]] = arith.constant dense<[12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12,
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(%[[TABLE]], %{{.*}}) : (vector<64xi8>, vector<64xi8>) -> vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// AVX2: %[[HALF:.*]] = vector.shuffle %[[TABLE]], %[[TABLE]] [0, 1, 2,
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(%[[HALF]], %{{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<32xi8>
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// CHECK: arith.bitcast %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK: vector.fma
// CHECK: %[[SX:.*]] = tensor.extract %{{.*}}[] : tensor<f32>
// CHECK: %[[SUM:.*]] = vector.reduction <add>
// CHECK: %[[P:.*]] = arith.mulf %[[SUM]], %[[SX]] : f32
// CHECK: %[[HALF_C:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: arith.mulf %[[P]], %[[HALF_C]] : f32
func.func @mxfp4_i8(%x: !lowbit.qtensor<2x128xi8, per_tensor>, %w: !lowbit.qtensor<3x128xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<2x3xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<2x128xi8, per_tensor>, !lowbit.qtensor<3x128xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// NVFP4 x int8: E4M3 block scales per 16 (i8) and the f32 tensor scale,
// a third weight part, applied with X's scale.
// CHECK-LABEL: func.func @nvfp4_i8(
// CHECK-SAME: %[[XC:.*]]: tensor<1x128xi8>, %[[XS:.*]]: tensor<1xf32>, %[[C:.*]]: tensor<2x64xi8>, %[[S:.*]]: tensor<2x8xi8>, %[[T:.*]]: tensor<f32>) -> tensor<1x2xf32>
// CHECK: call @__lowbit_nvfp4_i8_1x2x128_g16_f8E4M3FN(%[[XC]], %[[XS]], %[[C]], %[[S]], %[[T]], %{{.*}}) : (tensor<1x128xi8>, tensor<1xf32>, tensor<2x64xi8>, tensor<2x8xi8>, tensor<f32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_nvfp4_i8_1x2x128_g16_f8E4M3FN(
// CHECK-SAME: %[[KT:[^:]*]]: tensor<f32>, %{{.*}}: tensor<1x2xf32>) -> tensor<1x2xf32>
// Eight E4M3 scales a chunk, two lanes each.
// CHECK: vector.transfer_read %{{.*}} : tensor<2x8xi8>, vector<8xi8>
// CHECK: vector.shuffle %{{.*}} [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7] : vector<8xf32>, vector<8xf32>
// CHECK: %[[TS:.*]] = tensor.extract %[[KT]][] : tensor<f32>
// CHECK: arith.mulf %{{.*}}, %[[TS]] : f32
func.func @nvfp4_i8(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Ternary (2-bit codes, four per byte) per tensor: chunks of 256 inputs, four
// segments (the codes at bits 2j), u = code xor 2 = q + 2, four dot
// products per chunk.
// CHECK-LABEL: func.func @ternary_i8(
// CHECK-SAME: %[[XC:.*]]: tensor<1x256xi8>, %[[XS:.*]]: tensor<1xf32>, %[[C:.*]]: tensor<2x64xi8>, %[[S:.*]]: tensor<f32>) -> tensor<1x2xf32>
// CHECK: call @__lowbit_ternary_i8_1x2x256_g256_f32(%[[XC]], %[[XS]], %[[C]], %[[S]], %{{.*}})
// CHECK-LABEL: func.func private @__lowbit_ternary_i8_1x2x256_g256_f32(
// CHECK-SAME: %[[KS:[^:]*]]: tensor<f32>, %{{.*}}: tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<2> : vector<64xi8>
// CHECK-DAG: %[[THREE:.*]] = arith.constant dense<3> : vector<64xi8>
// CHECK: %[[B:.*]] = vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<2x64xi8>, vector<64xi8>
// CHECK: %[[M0:.*]] = arith.andi %[[B]], %[[THREE]] : vector<64xi8>
// CHECK: arith.xori %[[M0]], %[[TWO]] : vector<64xi8>
// CHECK: arith.shrui %[[B]]
// CHECK: arith.shrui %[[B]]
// CHECK: arith.shrui %[[B]]
// CHECK: %[[SW:.*]] = tensor.extract %[[KS]][] : tensor<f32>
// CHECK: vector.broadcast %[[SW]] : f32 to vector<16xf32>
// VNNI-COUNT-4: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// VNNI-NOT: func.call
// VNNI: arith.subi
func.func @ternary_i8(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xternary, per_tensor>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xternary, per_tensor> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q4_0 read as stored: one part, 18 bytes a block (f16 d, 16 bytes of
// nibbles). A chunk gathers 4 blocks' codes into one 64-byte vector and
// spreads their d's over the lanes; the nibble is already q + 8.
// CHECK-LABEL: func.func @q4_0(
// CHECK-SAME: %[[XC:.*]]: tensor<1x128xi8>, %[[XS:.*]]: tensor<1xf32>, %[[B:.*]]: tensor<2x72xi8>) -> tensor<1x2xf32>
// CHECK: call @__lowbit_q4_0_i8_1x2x128_g32_f16(%[[XC]], %[[XS]], %[[B]], %{{.*}}) : (tensor<1x128xi8>, tensor<1xf32>, tensor<2x72xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_q4_0_i8_1x2x128_g32_f16(
// CHECK: vector.transfer_read %{{.*}} : tensor<2x72xi8>, vector<16xi8>
// CHECK: %[[H:.*]] = vector.transfer_read %{{.*}} : tensor<2x72xi8>, vector<2xi8>
// CHECK: vector.bitcast %[[H]] : vector<2xi8> to vector<1xf16>
// CHECK: %[[DS:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: vector.shuffle %[[DS]], %[[DS]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
// CHECK-NOT: arith.xori
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// CHECK: vector.fma
func.func @q4_0(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xgguf<q4_0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xgguf<q4_0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q4_0 times activations with an f16 scale per block of 32 (llama.cpp's
// q8_0): the prologue spreads each chunk's 4 activation scales over the
// lanes of their blocks (lane l: block l / 4) next to the arranged codes,
// and each lane's scale is its weight scale d times its activation scale;
// no activation scale at the end.
// CHECK-LABEL: func.func @q4_0_blocks(
// CHECK: call @__lowbit_q4_0_i8_1x2x256_xg32f16_g32_f16(%{{.*}}) : (tensor<1x256xi8>, tensor<1x8xf16>, tensor<2x144xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_q4_0_i8_1x2x256_xg32f16_g32_f16(
// CHECK: %[[XS:.*]] = vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<1x8xf16>, vector<4xf16>
// CHECK: %[[XF:.*]] = arith.extf %[[XS]] : vector<4xf16> to vector<4xf32>
// CHECK: %[[XL:.*]] = vector.shuffle %[[XF]], %[[XF]] [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
// CHECK: vector.transfer_write %[[XL]], %{{.*}} {in_bounds = [true]} : vector<16xf32>, tensor<1x32xf32>
// CHECK: %[[SX:.*]] = vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<1x32xf32>, vector<16xf32>
// CHECK: %[[SW:.*]] = arith.mulf %{{.*}}, %[[SX]] : vector<16xf32>
// CHECK: vector.fma %{{.*}}, %[[SW]], %{{.*}} : vector<16xf32>
// CHECK: vector.reduction <add>
// CHECK-NOT: arith.mulf
// CHECK: tensor.insert
func.func @q4_0_blocks(%x: !lowbit.qtensor<1x256xi8, per_group<[1 : 32]>, scale = f16>, %w: !lowbit.qtensor<2x256xgguf<q4_0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_group<[1 : 32]>, scale = f16>, !lowbit.qtensor<2x256xgguf<q4_0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q4_K times activations with an f32 scale per 256 (llama.cpp's
// q8_K): one scale per chunk, broadcast over its lanes; the sub-block sums
// of the min term are scaled in the prologue.
// CHECK-LABEL: func.func private @__lowbit_q4_k_i8_1x2x512_xg256f32_g32_f16(
// CHECK: %[[S:.*]] = tensor.extract %{{.*}} : tensor<1x2xf32>
// CHECK: vector.broadcast %[[S]] : f32 to vector<16xf32>
// CHECK: arith.sitofp %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 8, 8] : vector<16xf32>, vector<16xf32>
// CHECK: arith.mulf %{{.*}} : vector<4xf32>
func.func @q4_k_blocks(%x: !lowbit.qtensor<1x512xi8, per_group<[1 : 256]>>, %w: !lowbit.qtensor<2x512xgguf<q4_k>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x512xi8, per_group<[1 : 256]>>, !lowbit.qtensor<2x512xgguf<q4_k>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q5_K read as stored: 176-byte super-blocks, the q4_K loop with each
// half's fifth bits from qh[32] (at byte 16): [qh >> 4h, qh >> (4h + 2)],
// bits 0 and 1 shifted to 16 and or-ed into the low and high nibbles.
// CHECK-LABEL: func.func private @__lowbit_q5_k_i8_1x2x256_g32_f16(
// CHECK: arith.muli %{{.*}}, %c176
// CHECK: %[[QH:.*]] = vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<2x176xi8>, vector<32xi8>
// CHECK: arith.shrui %[[QH]], %{{.*}} : vector<32xi8>
// CHECK: vector.shuffle
// CHECK: arith.ori %{{.*}} : vector<64xi8>
// CHECK: arith.ori %{{.*}} : vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
func.func @q5_k(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<q5_k>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<q5_k>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF iq4_xs read as stored: a chunk is half a 136-byte super-block (its
// 64 bytes of nibbles at 8 + 64 h), looked up in the iq4_nl table; the 4
// sub-blocks' scales d (ls - 32) from scales_l and scales_h.
// CHECK-LABEL: func.func private @__lowbit_iq4_xs_i8_1x2x256_g32_f16(
// CHECK: arith.muli %{{.*}}, %c136
// CHECK: vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<2x136xi8>, vector<64xi8>
// CHECK: arith.subi %{{.*}}, %c32_i32 : i32
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(
func.func @iq4_xs(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<iq4_xs>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<iq4_xs>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q5_1 read as stored: 24-byte blocks (d, m, qh at byte 4, nibbles at
// 8); no lane sums to subtract (u = q), the mins meet the prologue's block
// sums of x in 4-wide accumulators.
// CHECK-LABEL: func.func private @__lowbit_q5_1_i8_1x2x128_g32_f16(
// CHECK: arith.addi %{{.*}}, %c4
// CHECK: vector.bitcast %{{.*}} : vector<4xi8> to vector<32xi1>
// CHECK-NOT: arith.subi %{{.*}} : vector<16xi32>
// CHECK: vector.fma %{{.*}} : vector<4xf32>
func.func @q5_1(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xgguf<q5_1>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xgguf<q5_1>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q2_K read as stored: one 84-byte super-block a chunk of four 2-bit
// segments; the 16 scales (low nibbles of bytes 0-15) times d, shuffled
// per segment; the mins (high nibbles) times -dmin in a 16-wide FMA.
// CHECK-LABEL: func.func private @__lowbit_q2_k_i8_1x2x256_g16_f16(
// CHECK: arith.muli %{{.*}}, %c84
// CHECK: vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<2x84xi8>, vector<16xi8>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 0, 0, 1, 1, 1, 1, 8, 8, 8, 8, 9, 9, 9, 9]
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [2, 2, 2, 2, 3, 3, 3, 3, 10, 10, 10, 10, 11, 11, 11, 11]
// CHECK: vector.fma %{{.*}} : vector<16xf32>
func.func @q2_k(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<q2_k>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<q2_k>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q3_K read as stored: q2_K's segments with the high bits of [hmask,
// hmask >> 4] (bit j, at 4) or-ed in, 4 x the lane sums of each segment
// subtracted, the scales d (sc - 32) unpacked from three words.
// CHECK-LABEL: func.func private @__lowbit_q3_k_i8_1x2x256_g16_f16(
// CHECK: arith.muli %{{.*}}, %c110
// CHECK: vector.bitcast %{{.*}} : vector<12xi8> to vector<3xi32>
// CHECK: arith.andi %{{.*}}, %c252645135_i32 : i32
// CHECK: vector.bitcast %{{.*}} : vector<4xi32> to vector<16xi8>
// CHECK: arith.subi %{{.*}} : vector<16xi32>
func.func @q3_k(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<q3_k>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<q3_k>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF mxfp4 read as stored: 17-byte blocks (E8M0 e, then nibbles as q4_0's)
// looked up in the doubled E2M1 table, the scale 2^(e - 127) built from its
// bits, the sums halved at the end.
// CHECK-LABEL: func.func private @__lowbit_gguf_mxfp4_i8_1x2x128_g32_f16(
// CHECK: arith.shli %{{.*}}, %c23_i32 : i32
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
func.func @gguf_mxfp4(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xgguf<mxfp4>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xgguf<mxfp4>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF tq1_0 read as stored: the 54-byte super-block's trits by byte
// multiplies (3^n mod 256, then (q * 3) >> 8 in 16 bits) into four segments,
// d broadcast, 1 x the lane sums subtracted.
// CHECK-LABEL: func.func private @__lowbit_tq1_0_i8_1x2x256_g256_f16(
// CHECK: arith.muli %{{.*}}, %c54
// CHECK: arith.muli %{{.*}} : vector<32xi8>
// CHECK: arith.shrui %{{.*}} : vector<32xi16>
// CHECK: arith.subi %{{.*}} : vector<16xi32>
func.func @tq1_0(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<tq1_0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<tq1_0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q5_0 read as stored: 22 bytes a block (f16 d, the 32 fifth bits qh,
// 16 bytes of nibbles). As q4_0, plus qh read as a 32-lane mask per
// block selecting 16 or 0 per byte (AVX-512: vpmovm2b), lanes 0-15 and
// 16-31 or-ed into the low and high nibbles: u = q + 16.
// CHECK-LABEL: func.func @q5_0(
// CHECK: call @__lowbit_q5_0_i8_1x2x128_g32_f16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x128xi8>, tensor<1xf32>, tensor<2x88xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_q5_0_i8_1x2x128_g32_f16(
// CHECK: vector.transfer_read %{{.*}} : tensor<2x88xi8>, vector<16xi8>
// CHECK: %[[QH:.*]] = vector.transfer_read %{{.*}} : tensor<2x88xi8>, vector<4xi8>
// CHECK: %[[MASK:.*]] = vector.bitcast %[[QH]] : vector<4xi8> to vector<32xi1>
// CHECK: %[[SIXTEENS:.*]] = arith.select %[[MASK]], %{{.*}}, %{{.*}} : vector<32xi1>, vector<32xi8>
// CHECK: vector.extract_strided_slice %[[SIXTEENS]] {offsets = [0], sizes = [16], strides = [1]}
// CHECK: vector.extract_strided_slice %[[SIXTEENS]] {offsets = [16], sizes = [16], strides = [1]}
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<64xi8>
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// CHECK: vector.fma
func.func @q5_0(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xgguf<q5_0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xgguf<q5_0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q6_K read as stored: 210 bytes a super-block of 256 (ql, qh, 16 int8
// scales, f16 d at byte 208). A loop over super-blocks, two halves each:
// [qh, qh >> 2] gives each segment's high 2 bits (and 3, shifted by 4 for
// the second), or-ed into the nibbles (u = q + 32); the int8 scales times d
// spread 4 lanes each; 32 x the segment's own lane sums subtracted.
// CHECK-LABEL: func.func @q6_k(
// CHECK: call @__lowbit_q6_k_i8_1x2x256_g32_f16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x256xi8>, tensor<1xf32>, tensor<2x210xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_q6_k_i8_1x2x256_g32_f16(
// CHECK: scf.for
// CHECK: vector.transfer_read %{{.*}} : tensor<2x210xi8>, vector<16xi8>
// CHECK: vector.bitcast %{{.*}} : vector<2xi8> to vector<1xf16>
// CHECK: arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: vector.transfer_read %{{.*}} : tensor<2x210xi8>, vector<64xi8>
// CHECK: vector.transfer_read %{{.*}} : tensor<2x210xi8>, vector<32xi8>
// CHECK: arith.shrui %{{.*}}, %{{.*}} : vector<32xi8>
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// CHECK: arith.subi %{{.*}}, %{{.*}} : vector<16xi32>
// CHECK: vector.fma
func.func @q6_k(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<q6_k>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<q6_k>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF tq2_0 (BitNet b1.58 as llama.cpp stores it): 66 bytes a block of
// 256, 64 bytes of 2-bit codes (q + 1) then f16 d; one block a chunk, its
// d on every lane; byte i's field l is input 128 (i / 32) + 32 l + i % 32.
// CHECK-LABEL: func.func @tq2_0(
// CHECK: call @__lowbit_tq2_0_i8_1x2x256_g256_f16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x256xi8>, tensor<1xf32>, tensor<2x66xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_tq2_0_i8_1x2x256_g256_f16(
// CHECK: vector.transfer_read %{{.*}} : tensor<2x66xi8>, vector<64xi8>
// CHECK: vector.transfer_read %{{.*}} : tensor<2x66xi8>, vector<2xi8>
// CHECK: arith.andi %{{.*}}, %{{.*}} : vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// CHECK: vector.fma
func.func @tq2_0(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<tq2_0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<tq2_0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF iq4_nl (f16 d, nibbles as in q4_0 indexing llama.cpp's 16 int8
// values): a vpshufb table lookup; with VNNI the values + 128 (as q8_0's
// codes), on AVX2 signed values and the sign trick.
// CHECK-LABEL: func.func @iq4_nl(
// CHECK: call @__lowbit_iq4_nl_i8_1x2x128_g32_f16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x128xi8>, tensor<1xf32>, tensor<2x72xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_iq4_nl_i8_1x2x128_g32_f16(
// VNNI: arith.constant dense<[1, 24, 45, 63, 79, 93, 106, 118, -127, -115, -103, -90, -75, -59, -39, -15,
// AVX2: arith.constant dense<[-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_pshuf_b_512(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pshuf_b(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_psign_b(
// CHECK: vector.fma
func.func @iq4_nl(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xgguf<iq4_nl>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xgguf<iq4_nl>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q8_0 (f16 d, 32 int8 codes): with VNNI the codes are made unsigned
// by an xor with 0x80; on AVX2 they stay signed and the dot product takes
// the sign trick (vpsignb, |w|).
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_psign_b(vector<32xi8>, vector<32xi8>) -> vector<32xi8> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.psign.b"}
// CHECK-LABEL: func.func @q8_0(
// CHECK-SAME: %[[XC:.*]]: tensor<1x64xi8>, %[[XS:.*]]: tensor<1xf32>, %[[B:.*]]: tensor<2x68xi8>) -> tensor<1x2xf32>
// CHECK: call @__lowbit_q8_0_i8_1x2x64_g32_f16(%[[XC]], %[[XS]], %[[B]], %{{.*}})
// CHECK-LABEL: func.func private @__lowbit_q8_0_i8_1x2x64_g32_f16(
// VNNI: %[[BIAS:.*]] = arith.constant dense<-128> : vector<64xi8>
// AVX2: %[[BIAS:.*]] = arith.constant dense<0> : vector<64xi8>
// CHECK: vector.transfer_read %{{.*}} : tensor<2x68xi8>, vector<32xi8>
// CHECK: %[[U:.*]] = arith.xori %{{.*}}, %[[BIAS]] : vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[U]], %{{.*}})
// AVX2: %[[UL:.*]] = vector.shuffle %[[U]], %[[U]] [0, 1, 2,
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_psign_b(%{{.*}}, %[[UL]])
// AVX2: %[[ABS:.*]] = math.absi %[[UL]] : vector<32xi8>
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(%[[ABS]],
func.func @q8_0(%x: !lowbit.qtensor<1x64xi8, per_axis<0>>, %w: !lowbit.qtensor<2x64xgguf<q8_0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x64xi8, per_axis<0>>, !lowbit.qtensor<2x64xgguf<q8_0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// GGUF q4_K (144-byte super-blocks of 256): the loop runs over
// super-blocks; the prologue keeps f32 sums of X per sub-block of 32 for
// the min term; 6-bit scales and mins are decoded with vector integer ops
// from 12 bytes; the min term is an 8-wide FMA in its own accumulators.
// CHECK-LABEL: func.func @q4_k(
// CHECK-SAME: %[[XC:.*]]: tensor<1x256xi8>, %[[XS:.*]]: tensor<1xf32>, %[[B:.*]]: tensor<2x144xi8>) -> tensor<1x2xf32>
// CHECK: call @__lowbit_q4_k_i8_1x2x256_g32_f16(%[[XC]], %[[XS]], %[[B]], %{{.*}})
// CHECK-LABEL: func.func private @__lowbit_q4_k_i8_1x2x256_g32_f16(
// CHECK: %[[SUB:.*]] = tensor.empty() : tensor<1x8xf32>
// CHECK: arith.sitofp %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK: %{{.*}}:2 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %cst{{.*}}, %{{.*}} = %cst{{.*}}) -> (vector<16xf32>, vector<8xf32>)
// CHECK: vector.transfer_read %{{.*}} : tensor<2x144xi8>, vector<4xi8>
// CHECK: vector.bitcast %{{.*}} : vector<4xi8> to vector<2xf16>
// CHECK: vector.transfer_read %{{.*}} : tensor<2x144xi8>, vector<12xi8>
// CHECK: arith.extui %{{.*}} : vector<12xi8> to vector<12xi32>
// CHECK: arith.negf
// CHECK: vector.transfer_read %{{.*}} : tensor<2x144xi8>, vector<64xi8>
// CHECK: vector.transfer_read %{{.*}} : tensor<1x8xf32>, vector<8xf32>
// CHECK: vector.fma %{{.*}} : vector<8xf32>
func.func @q4_k(%x: !lowbit.qtensor<1x256xi8, per_axis<0>>, %w: !lowbit.qtensor<2x256xgguf<q4_k>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x256xi8, per_axis<0>>, !lowbit.qtensor<2x256xgguf<q4_k>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Activations with a scale per group of 32 (not per row or tensor): no
// kernel, the reference lowering dequantizes both operands.
// CHECK-LABEL: func.func @w4a8_group_x(
// CHECK-SAME: %[[XC:.*]]: tensor<1x128xi8>, %[[XS:.*]]: tensor<1x4xf32>
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @w4a8_group_x(%x: !lowbit.qtensor<1x128xi8, per_group<[1 : 32]>>, %w: !lowbit.qtensor<2x128xi4, per_group<[1 : 32]>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_group<[1 : 32]>>, !lowbit.qtensor<2x128xi4, per_group<[1 : 32]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// int4 weights expressed in f16 times int8 activations: no kernel (the
// integer kernels are f32 only).
// CHECK-LABEL: func.func @w4a8_f16_expressed(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @w4a8_f16_expressed(%x: !lowbit.qtensor<1x128xi8, per_axis<0>>, %w: !lowbit.qtensor<2x128xi4 : f16, per_group<[1 : 32]>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x128xi8, per_axis<0>>, !lowbit.qtensor<2x128xi4 : f16, per_group<[1 : 32]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

