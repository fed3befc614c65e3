// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=znver4 -split-input-file | FileCheck %s

// The w4-float kernel family (W4FloatKernel.cpp, docs/CodegenCPU.md): int4
// and MXFP4 weights per group, GGUF q4_1 blocks, times f32/f16/bf16
// activations, dequantized in registers, FMA. Its numbers are checked by
// test/E2E/cpu-w4-gemv.py and cpu-gguf.py; this file checks the IR: the
// call that replaces the qmatmul, the kernel's name and signature, and its
// characteristic ops. The float kernels do not depend on the vector ISA
// (LLVM legalizes their vectors), so one target is enough here.

// int4 per group of 32, f32 scales, GEMV (M = 1). The qtensor argument
// becomes its parts, which the call hands to the kernel with a fresh
// destination. N = 17: one parallel unit of 16 channels (scf.forall,
// written back through tensor.parallel_insert_slice), then a tail of one
// channel on the calling thread. Nibbles are sign-extended by shifts and
// meet X's even and odd inputs; GEMV sums q * x per group and scales once
// per group.
// CHECK-LABEL: func.func @w4_gemv(
// CHECK-SAME: %[[X:.*]]: tensor<1x96xf32>, %[[C:.*]]: tensor<17x48xi8>, %[[S:.*]]: tensor<17x3xf32>) -> tensor<1x17xf32>
// CHECK: %[[D:.*]] = tensor.empty() : tensor<1x17xf32>
// CHECK: %[[Y:.*]] = call @__lowbit_w4_f32_1x17x96_g32_f32(%[[X]], %[[C]], %[[S]], %[[D]]) : (tensor<1x96xf32>, tensor<17x48xi8>, tensor<17x3xf32>, tensor<1x17xf32>) -> tensor<1x17xf32>
// CHECK: return %[[Y]]
// CHECK-LABEL: func.func private @__lowbit_w4_f32_1x17x96_g32_f32(
// CHECK-SAME: %[[KX:.*]]: tensor<1x96xf32>, %[[KC:.*]]: tensor<17x48xi8>, %[[KS:.*]]: tensor<17x3xf32>, %[[KY:.*]]: tensor<1x17xf32>) -> tensor<1x17xf32>
// CHECK: %[[FOUR:.*]] = arith.constant dense<4> : vector<16xi8>
// CHECK: %[[UNITS:.*]] = scf.forall (%{{.*}}) in (1) shared_outs(%[[OUT:.*]] = %[[KY]]) -> (tensor<1x17xf32>)
// CHECK: tensor.extract_slice %[[OUT]][0, %{{.*}}] [1, 16] [1, 1] : tensor<1x17xf32> to tensor<1x16xf32>
// CHECK: tensor.extract %[[KS]]
// CHECK: %[[B:.*]] = vector.transfer_read %[[KC]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<17x48xi8>, vector<16xi8>
// CHECK: %[[SHL:.*]] = arith.shli %[[B]], %[[FOUR]] : vector<16xi8>
// CHECK: %[[LO:.*]] = arith.shrsi %[[SHL]], %[[FOUR]] : vector<16xi8>
// CHECK: %[[HI:.*]] = arith.shrsi %[[B]], %[[FOUR]] : vector<16xi8>
// CHECK: %[[LOF:.*]] = arith.sitofp %[[LO]] : vector<16xi8> to vector<16xf32>
// CHECK: %[[XV:.*]] = vector.transfer_read %[[KX]]{{.*}} : tensor<1x96xf32>, vector<32xf32>
// CHECK: %[[XE:.*]] = vector.shuffle %[[XV]], %[[XV]] [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]
// CHECK: vector.shuffle %[[XV]], %[[XV]] [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
// CHECK: vector.fma %[[LOF]], %[[XE]], %{{.*}} : vector<16xf32>
// CHECK: vector.fma
// The group's sum times its scale, once per group.
// CHECK: vector.fma
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %{{.*}}] [1, 16] [1, 1] : tensor<1x16xf32> into tensor<1x17xf32>
// The remaining channel, on the calling thread.
// CHECK: scf.for %{{.*}} = %c16 to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[UNITS]]) -> (tensor<1x17xf32>)
// CHECK: return
func.func @w4_gemv(%x: tensor<1x96xf32>, %w: !lowbit.qtensor<17x96xi4, per_group<[1 : 32]>>) -> tensor<1x17xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x96xf32>, !lowbit.qtensor<17x96xi4, per_group<[1 : 32]>> -> tensor<1x17xf32>
  return %y : tensor<1x17xf32>
}

// -----

// GEMM (M = 5 > MR = 4) with f16 scales per group of 64: tiles of 4 rows x
// 2 channels (8 accumulators), the decoded weights scaled once (f16 scales
// extended to f32) and shared by the tile's rows. Too few channels for a
// parallel unit: no scf.forall.
// CHECK-LABEL: func.func @w4_gemm_f16_scales(
// CHECK-SAME: %[[X:.*]]: tensor<5x64xf32>, %[[C:.*]]: tensor<3x32xi8>, %[[S:.*]]: tensor<3x1xf16>)
// CHECK: call @__lowbit_w4_f32_5x3x64_g64_f16(%[[X]], %[[C]], %[[S]], %{{.*}}) : (tensor<5x64xf32>, tensor<3x32xi8>, tensor<3x1xf16>, tensor<5x3xf32>) -> tensor<5x3xf32>
// CHECK-LABEL: func.func private @__lowbit_w4_f32_5x3x64_g64_f16(
// CHECK-SAME: tensor<5x64xf32>, %{{.*}}: tensor<3x32xi8>, %{{.*}}: tensor<3x1xf16>, %{{.*}}: tensor<5x3xf32>) -> tensor<5x3xf32>
// CHECK-NOT: scf.forall
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c2
// CHECK: %{{.*}}:8 = scf.for
// CHECK: %[[SC:.*]] = tensor.extract %{{.*}} : tensor<3x1xf16>
// CHECK: %[[SF:.*]] = arith.extf %[[SC]] : f16 to f32
// CHECK: %[[SV:.*]] = vector.broadcast %[[SF]] : f32 to vector<16xf32>
// CHECK: %[[Q:.*]] = arith.sitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: arith.mulf %[[Q]], %[[SV]] : vector<16xf32>
// CHECK: vector.fma
// CHECK: return
func.func @w4_gemm_f16_scales(%x: tensor<5x64xf32>, %w: !lowbit.qtensor<3x64xi4, per_group<[1 : 64]>, scale = f16>) -> tensor<5x3xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<5x64xf32>, !lowbit.qtensor<3x64xi4, per_group<[1 : 64]>, scale = f16> -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

// Constant weights: the conversion hands the kernel the constant's parts.
// CHECK-LABEL: func.func @w4_constant(
// CHECK-SAME: %[[X:.*]]: tensor<1x32xf32>)
// CHECK-DAG: %[[C:.*]] = arith.constant dense<17> : tensor<2x16xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<2x1xf32>
// CHECK: call @__lowbit_w4_f32_1x2x32_g32_f32(%[[X]], %[[C]], %[[S]], %{{.*}})
// CHECK-NOT: lowbit.
// CHECK-LABEL: func.func private @__lowbit_w4_f32_1x2x32_g32_f32(
func.func @w4_constant(%x: tensor<1x32xf32>) -> tensor<1x2xf32> {
  %w = lowbit.constant codes(dense<17> : tensor<2x16xi8>) scales(dense<0.5> : tensor<2x1xf32>) : !lowbit.qtensor<2x32xi4, per_group<[1 : 32]>>
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x32xf32>, !lowbit.qtensor<2x32xi4, per_group<[1 : 32]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// MXFP4 x f32: E8M0 scales travel as their bytes (i8) and are decoded
// exactly, halved; codes become 2 * value by a 16-byte table lookup
// (SSSE3 pshufb, an intrinsic declaration that
// lowbit-expand-intrinsic-calls expands later).
// CHECK: func.func private @__lowbit_intrinsic_llvm_x86_ssse3_pshuf_b_128(vector<16xi8>, vector<16xi8>) -> vector<16xi8> attributes {lowbit.llvm_intrinsic = "llvm.x86.ssse3.pshuf.b.128"}
// CHECK-LABEL: func.func @mxfp4(
// CHECK-SAME: %[[X:.*]]: tensor<1x64xf32>, %[[C:.*]]: tensor<2x32xi8>, %[[S:.*]]: tensor<2x2xi8>)
// CHECK: call @__lowbit_mxfp4_f32_1x2x64_g32_f8E8M0FNU(%[[X]], %[[C]], %[[S]], %{{.*}}) : (tensor<1x64xf32>, tensor<2x32xi8>, tensor<2x2xi8>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK-LABEL: func.func private @__lowbit_mxfp4_f32_1x2x64_g32_f8E8M0FNU(
// CHECK: %[[TABLE:.*]] = arith.constant dense<[0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]> : vector<16xi8>
// CHECK: tensor.extract %{{.*}} : tensor<2x2xi8>
// CHECK: arith.bitcast %{{.*}} : vector<1xi32> to vector<1xf32>
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: %[[NIB:.*]] = arith.andi
// CHECK: func.call @__lowbit_intrinsic_llvm_x86_ssse3_pshuf_b_128(%[[TABLE]], %[[NIB]]) : (vector<16xi8>, vector<16xi8>) -> vector<16xi8>
// CHECK: func.call @__lowbit_intrinsic_llvm_x86_ssse3_pshuf_b_128(%[[TABLE]],
// CHECK: vector.fma
func.func @mxfp4(%x: tensor<1x64xf32>, %w: !lowbit.qtensor<2x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<2x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// W4A16: bf16 activations, weights expressed in bf16 with bf16 scales, a
// bf16 result. X is extended to f32 on load, each dequantized weight is
// rounded to bf16 (as the reference lowering dequantizes) and the f32 sum
// rounded once to the result type.
// CHECK-LABEL: func.func @w4a16(
// CHECK-SAME: %[[X:.*]]: tensor<1x64xbf16>, %[[C:.*]]: tensor<2x32xi8>, %[[S:.*]]: tensor<2x2xbf16>) -> tensor<1x2xbf16>
// CHECK: %[[D:.*]] = tensor.empty() : tensor<1x2xbf16>
// CHECK: call @__lowbit_w4_bf16_1x2x64_g32_bf16_ebf16_ybf16(%[[X]], %[[C]], %[[S]], %[[D]]) : (tensor<1x64xbf16>, tensor<2x32xi8>, tensor<2x2xbf16>, tensor<1x2xbf16>) -> tensor<1x2xbf16>
// CHECK-LABEL: func.func private @__lowbit_w4_bf16_1x2x64_g32_bf16_ebf16_ybf16(
// CHECK: arith.mulf %{{.*}} : vector<16xf32>
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// CHECK: arith.extf %[[R]] : vector<16xbf16> to vector<16xf32>
// CHECK: %[[XH:.*]] = vector.transfer_read {{.*}} : tensor<1x64xbf16>, vector<32xbf16>
// CHECK: arith.extf %[[XH]] : vector<32xbf16> to vector<32xf32>
// CHECK: vector.fma
// CHECK: %[[SUM:.*]] = vector.reduction <add>
// CHECK: %[[Y:.*]] = arith.truncf %[[SUM]] : f32 to bf16
// CHECK: tensor.insert %[[Y]] into %{{.*}} : tensor<1x2xbf16>
func.func @w4a16(%x: tensor<1x64xbf16>, %w: !lowbit.qtensor<2x64xi4 : bf16, per_group<[1 : 32]>, scale = bf16>) -> tensor<1x2xbf16> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xbf16>, !lowbit.qtensor<2x64xi4 : bf16, per_group<[1 : 32]>, scale = bf16> -> tensor<1x2xbf16>
  return %y : tensor<1x2xbf16>
}

// -----

// GGUF q4_1 x f32, read as stored: one part (20 bytes a block of 32: f16 d
// and m, then 16 bytes of nibbles). d and m come from the block's first 4
// bytes; each weight is q * d + m (one FMA) and meets X's first and last 16
// inputs, in two accumulator chains.
// CHECK-LABEL: func.func @q4_1(
// CHECK-SAME: %[[X:.*]]: tensor<1x64xf32>, %[[B:.*]]: tensor<3x40xi8>) -> tensor<1x3xf32>
// CHECK: call @__lowbit_q4_1_f32_1x3x64_g32_f16(%[[X]], %[[B]], %{{.*}}) : (tensor<1x64xf32>, tensor<3x40xi8>, tensor<1x3xf32>) -> tensor<1x3xf32>
// CHECK-LABEL: func.func private @__lowbit_q4_1_f32_1x3x64_g32_f16(
// CHECK-SAME: %{{.*}}: tensor<1x64xf32>, %[[KB:.*]]: tensor<3x40xi8>, %{{.*}}: tensor<1x3xf32>) -> tensor<1x3xf32>
// CHECK: %[[A:.*]]:2 = scf.for
// CHECK: %[[DM:.*]] = vector.transfer_read %[[KB]]{{.*}} : tensor<3x40xi8>, vector<4xi8>
// CHECK: %[[H:.*]] = vector.bitcast %[[DM]] : vector<4xi8> to vector<2xf16>
// CHECK: arith.extf %[[H]] : vector<2xf16> to vector<2xf32>
// CHECK: %[[Q:.*]] = arith.sitofp
// CHECK: vector.fma %[[Q]], %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: vector.shuffle %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
// CHECK: vector.shuffle %{{.*}} [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]
// CHECK: arith.addf %[[A]]#0, %[[A]]#1 : vector<16xf32>
func.func @q4_1(%x: tensor<1x64xf32>, %w: !lowbit.qtensor<3x64xgguf<q4_1>>) -> tensor<1x3xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<3x64xgguf<q4_1>> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// What the family refuses keeps the reference lowering (linalg, no kernel):
// NVFP4 x f32 has no kernel yet.
// CHECK-LABEL: func.func @nvfp4_f32(
// CHECK-SAME: %[[X:.*]]: tensor<1x32xf32>, %{{.*}}: tensor<2x16xi8>, %{{.*}}: tensor<2x2xi8>, %{{.*}}: tensor<f32>)
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]],
// CHECK-NOT: @__lowbit_
func.func @nvfp4_f32(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x32xf32>, !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Ternary x f32 has no kernel yet either.
// CHECK-LABEL: func.func @ternary_f32(
// CHECK-SAME: %[[X:.*]]: tensor<1x32xf32>, %{{.*}}: tensor<2x8xi8>, %{{.*}}: tensor<2xf32>)
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]],
// CHECK-NOT: @__lowbit_
func.func @ternary_f32(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<2x32xternary, per_axis<0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x32xf32>, !lowbit.qtensor<2x32xternary, per_axis<0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// int4 with one scale per row: the kernel reads scales as [N, K / g].
// CHECK-LABEL: func.func @int4_per_row(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @int4_per_row(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<2x32xi4, per_axis<0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x32xf32>, !lowbit.qtensor<2x32xi4, per_axis<0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Weights [K, N] without transpose_b (lowbit-pack-weights transposes
// constants; arguments must arrive [N, K]).
// CHECK-LABEL: func.func @not_transposed(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @not_transposed(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<32x2xi4, per_group<[0 : 32]>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w : tensor<1x32xf32>, !lowbit.qtensor<32x2xi4, per_group<[0 : 32]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Fewer than 32 inputs per group: no kernel.
// CHECK-LABEL: func.func @group_16(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @group_16(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<2x32xi4, per_group<[1 : 16]>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x32xf32>, !lowbit.qtensor<2x32xi4, per_group<[1 : 16]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
