// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=znver4 -split-input-file | FileCheck %s --check-prefixes=CHECK,VNNI
// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=x86-64-v3 -split-input-file | FileCheck %s --check-prefixes=CHECK,AVX2

// The int8 kernel family (Int8Kernel.cpp, docs/CodegenCPU.md): W8A8, int8
// weights per output channel or per tensor times int8 activations, on
// [N, K] rows (weights given as plain arguments) or on int8 panels of 16
// channels x 4 inputs (constant weights packed at compile time, or
// arguments marked lowbit.packed). With VNNI the weights are made unsigned
// (w + 128, an xor) for vpdpbusd and 128 * sum(x), computed once per call,
// is subtracted; on AVX2 the signed products take the sign trick
// (vpsignb, |w|, vpmaddubsw, vpmaddwd) without correction. Numbers:
// test/E2E/cpu-w4a8.test.

// [N, K] rows, GEMV, K = 100: one full chunk of 64 in a loop, then the tail
// chunk read with masked loads (no in_bounds).
// VNNI-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_psign_b(vector<32xi8>, vector<32xi8>) -> vector<32xi8> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.psign.b"}
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(vector<32xi8>, vector<32xi8>) -> vector<16xi16> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.pmadd.ub.sw"}
// AVX2-DAG: func.func private @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(vector<16xi16>, vector<16xi16>) -> vector<8xi32> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx2.pmadd.wd"}
// CHECK-LABEL: func.func @w8a8_rows(
// CHECK-SAME: %[[XC:.*]]: tensor<1x100xi8>, %[[XS:.*]]: tensor<1xf32>, %[[C:.*]]: tensor<5x100xi8>, %[[S:.*]]: tensor<5xf32>) -> tensor<1x5xf32>
// CHECK: %[[D:.*]] = tensor.empty() : tensor<1x5xf32>
// CHECK: call @__lowbit_w8_i8_1x5x100_f32(%[[XC]], %[[XS]], %[[C]], %[[S]], %[[D]]) : (tensor<1x100xi8>, tensor<1xf32>, tensor<5x100xi8>, tensor<5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>
// CHECK-LABEL: func.func private @__lowbit_w8_i8_1x5x100_f32(
// CHECK-SAME: %[[KXC:.*]]: tensor<1x100xi8>, %[[KXS:.*]]: tensor<1xf32>, %[[KC:.*]]: tensor<5x100xi8>, %[[KS:.*]]: tensor<5xf32>, %{{.*}}: tensor<1x5xf32>) -> tensor<1x5xf32>
// CHECK: %[[SIGN:.*]] = arith.constant dense<-128> : vector<64xi8>
// The sums of X's rows (VNNI only).
// VNNI: %[[XSUMS:.*]] = scf.for {{.*}} -> (tensor<1xi32>)
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// VNNI: vector.reduction <add>, %{{.*}} : vector<16xi32> into i32
// CHECK: scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c64
// CHECK: %[[W:.*]] = vector.transfer_read %[[KC]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<5x100xi8>, vector<64xi8>
// VNNI: %[[U:.*]] = arith.xori %[[W]], %[[SIGN]] : vector<64xi8>
// CHECK: %[[XV:.*]] = vector.transfer_read %[[KXC]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x100xi8>, vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[U]], %[[XV]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// AVX2: %[[WL:.*]] = vector.shuffle %[[W]], %[[W]] [0, 1, 2,
// AVX2: %[[XL:.*]] = vector.shuffle %[[XV]], %[[XV]] [0, 1, 2,
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_psign_b(%[[XL]], %[[WL]]) : (vector<32xi8>, vector<32xi8>) -> vector<32xi8>
// AVX2: math.absi %[[WL]] : vector<32xi8>
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_ub_sw(
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_pmadd_wd(
// The K tail.
// CHECK: vector.transfer_read %[[KC]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<5x100xi8>, vector<64xi8>
// CHECK: vector.transfer_read %[[KXC]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<1x100xi8>, vector<64xi8>
// The epilogue: the correction, both scales.
// CHECK: %[[SX:.*]] = tensor.extract %[[KXS]]
// VNNI: %[[SUMX:.*]] = tensor.extract %[[XSUMS]]
// VNNI: %[[BIAS:.*]] = arith.muli %[[SUMX]], %c128_i32 : i32
// AVX2: %[[BIAS:.*]] = arith.constant 0 : i32
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %{{.*}} : vector<16xi32> into i32
// CHECK: %[[Q:.*]] = arith.subi %[[SUM]], %[[BIAS]] : i32
// CHECK: %[[QF:.*]] = arith.sitofp %[[Q]] : i32 to f32
// CHECK: %[[SW:.*]] = tensor.extract %[[KS]][%{{.*}}] : tensor<5xf32>
// CHECK: %[[SS:.*]] = arith.mulf %[[SX]], %[[SW]] : f32
// CHECK: arith.mulf %[[QF]], %[[SS]] : f32
// VNNI-NOT: llvm.x86.avx2
// AVX2-NOT: vpdpbusd
func.func @w8a8_rows(%x: !lowbit.qtensor<1x100xi8, per_axis<0>>, %w: !lowbit.qtensor<5x100xi8, per_axis<0>>) -> tensor<1x5xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x100xi8, per_axis<0>>, !lowbit.qtensor<5x100xi8, per_axis<0>> -> tensor<1x5xf32>
  return %y : tensor<1x5xf32>
}

// -----

// GEMM (M = 7) on [N, K] rows, per-tensor activation and f16 weight
// scales: tiles of 6 rows x 4 channels (24 accumulators), then the tails.
// CHECK-LABEL: func.func @w8a8_gemm(
// CHECK-SAME: %[[XC:.*]]: tensor<7x64xi8>, %[[XS:.*]]: tensor<f32>, %[[C:.*]]: tensor<9x64xi8>, %[[S:.*]]: tensor<f16>) -> tensor<7x9xf32>
// CHECK: call @__lowbit_w8_i8_7x9x64_f16(%[[XC]], %[[XS]], %[[C]], %[[S]], %{{.*}}) : (tensor<7x64xi8>, tensor<f32>, tensor<9x64xi8>, tensor<f16>, tensor<7x9xf32>) -> tensor<7x9xf32>
// CHECK-LABEL: func.func private @__lowbit_w8_i8_7x9x64_f16(
// CHECK-SAME: %[[KS:[^:]*]]: tensor<f16>, %{{.*}}: tensor<7x9xf32>) -> tensor<7x9xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c6
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: %{{.*}}:24 = scf.for
// VNNI-COUNT-24: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// CHECK: %[[SW:.*]] = tensor.extract %[[KS]][] : tensor<f16>
// CHECK: arith.extf %[[SW]] : f16 to f32
func.func @w8a8_gemm(%x: !lowbit.qtensor<7x64xi8, per_tensor>, %w: !lowbit.qtensor<9x64xi8, per_tensor, scale = f16>) -> tensor<7x9xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<7x64xi8, per_tensor>, !lowbit.qtensor<9x64xi8, per_tensor, scale = f16> -> tensor<7x9xf32>
  return %y : tensor<7x9xf32>
}

// -----

// Constant weights in layout int8_panels (lowbit-pack-weights packed them,
// test/Transforms/pack-weights-layouts.mlir: code + 128; the code 1 is
// the byte 129 = -127): their codes part goes to the panel kernel as is. Per quad of inputs, one 64-byte panel load meets a
// broadcast of 4 bytes of X; every accumulator holds 16 outputs, written
// with one vector store (lower-to-cpu-panels.mlir checks the sharing of
// one packed copy).
// CHECK-LABEL: func.func @w8a8_panels(
// CHECK-SAME: %[[XC:.*]]: tensor<2x32xi8>, %[[XS:.*]]: tensor<2xf32>) -> tensor<2x16xf32>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<5.000000e-01> : tensor<16xf32>
// CHECK-DAG: %[[P:.*]] = arith.constant dense<-127> : tensor<1x8x64xi8>
// CHECK: call @__lowbit_w8p_i8_2x16x32_f32(%[[XC]], %[[XS]], %[[P]], %[[S]], %{{.*}}) : (tensor<2x32xi8>, tensor<2xf32>, tensor<1x8x64xi8>, tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-LABEL: func.func private @__lowbit_w8p_i8_2x16x32_f32(
// CHECK-SAME: %[[KXC:.*]]: tensor<2x32xi8>, %{{.*}}: tensor<2xf32>, %[[KP:.*]]: tensor<1x8x64xi8>, %[[KS:.*]]: tensor<16xf32>, %[[KY:.*]]: tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK: %{{.*}}:2 = scf.for
// CHECK: %[[PANEL:.*]] = vector.transfer_read %[[KP]][%{{.*}}, %{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x8x64xi8>, vector<64xi8>
// AVX2: arith.xori %[[PANEL]], %{{.*}} : vector<64xi8>
// CHECK: %[[X4:.*]] = vector.transfer_read %[[KXC]]{{.*}} : tensor<2x32xi8>, vector<4xi8>
// CHECK: vector.bitcast %[[X4]] : vector<4xi8> to vector<1xi32>
// CHECK: %[[XB:.*]] = vector.broadcast %{{.*}} : i32 to vector<16xi32>
// CHECK: %[[XB8:.*]] = vector.bitcast %[[XB]] : vector<16xi32> to vector<64xi8>
// VNNI: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[PANEL]], %[[XB8]])
// AVX2: func.call @__lowbit_intrinsic_llvm_x86_avx2_psign_b(
// CHECK: %[[SW:.*]] = vector.transfer_read %[[KS]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<16xf32>, vector<16xf32>
// CHECK: %[[Y0:.*]] = vector.transfer_write %{{.*}}, %[[KY]][%{{.*}}, %{{.*}}] {in_bounds = [true]} : vector<16xf32>, tensor<2x16xf32>
// CHECK: vector.transfer_write %{{.*}}, %[[Y0]]
func.func @w8a8_panels(%x: !lowbit.qtensor<2x32xi8, per_axis<0>>) -> tensor<2x16xf32> {
  %w = lowbit.constant codes(dense<-127> : tensor<1x8x64xi8>) scales(dense<0.5> : tensor<16xf32>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<16x32xi8, per_axis<0>>
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<2x32xi8, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// Weights marked lowbit.packed: the caller's [N, K] codes part carries the
// panels' bytes and is reshaped to [N / 16, K / 4, 64] for the panel
// kernel. GEMV: K unrolled by 4 into separate accumulators.
// CHECK-LABEL: func.func @w8a8_packed(
// CHECK-SAME: %[[XC:[^:]*]]: tensor<1x32xi8>, %[[XS:[^:]*]]: tensor<1xf32>{{.*}}, %[[C:[^:]*]]: tensor<16x32xi8>, %[[S:[^:]*]]: tensor<16xf32>) -> tensor<1x16xf32>
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[C]] {{\[}}[0, 1]] : tensor<16x32xi8> into tensor<512xi8>
// CHECK: %[[P:.*]] = tensor.expand_shape %[[FLAT]] {{\[}}[0, 1, 2]] output_shape [1, 8, 64] : tensor<512xi8> into tensor<1x8x64xi8>
// CHECK: call @__lowbit_w8p_i8_1x16x32_f32(%[[XC]], %[[XS]], %[[P]], %[[S]], %{{.*}}) : (tensor<1x32xi8>, tensor<1xf32>, tensor<1x8x64xi8>, tensor<16xf32>, tensor<1x16xf32>) -> tensor<1x16xf32>
// CHECK-LABEL: func.func private @__lowbit_w8p_i8_1x16x32_f32(
// CHECK: %{{.*}}:4 = scf.for %{{.*}} = %{{.*}} to %c8{{.*}} step %c4
// VNNI-COUNT-4: func.call @__lowbit_intrinsic_llvm_x86_avx512_vpdpbusd_512(
// CHECK: arith.addi %{{.*}} : vector<16xi32>
// CHECK: arith.addi %{{.*}} : vector<16xi32>
// CHECK: arith.addi %{{.*}} : vector<16xi32>
func.func @w8a8_packed(%x: !lowbit.qtensor<1x32xi8, per_axis<0>>, %w: !lowbit.qtensor<16x32xi8, per_axis<0>> {lowbit.packed}) -> tensor<1x16xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// full_range weights and activations (-128 on both sides): VNNI computes
// them exactly; the AVX2 sign trick cannot (-128 has no negation), so on
// x86-64-v3 the reference lowering runs.
// CHECK-LABEL: func.func @full_range(
// VNNI: call @__lowbit_w8_i8_1x2x64_f32(
// VNNI-LABEL: func.func private @__lowbit_w8_i8_1x2x64_f32(
// AVX2-NOT: call
// AVX2: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// AVX2-NOT: @__lowbit_
func.func @full_range(%x: !lowbit.qtensor<1x64xi8, per_axis<0>, full_range>, %w: !lowbit.qtensor<2x64xi8, per_axis<0>, full_range>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x64xi8, per_axis<0>, full_range>, !lowbit.qtensor<2x64xi8, per_axis<0>, full_range> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// int8 weights per group along K: not a W8A8 kernel's scale layout.
// CHECK-LABEL: func.func @per_group(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @per_group(%x: !lowbit.qtensor<1x64xi8, per_axis<0>>, %w: !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x64xi8, per_axis<0>>, !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// W8A8 without transpose_b (weights [K, N] per output channel): no kernel.
// CHECK-LABEL: func.func @not_transposed(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @not_transposed(%x: !lowbit.qtensor<1x64xi8, per_axis<0>>, %w: !lowbit.qtensor<64x2xi8, per_axis<1>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w : !lowbit.qtensor<1x64xi8, per_axis<0>>, !lowbit.qtensor<64x2xi8, per_axis<1>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
