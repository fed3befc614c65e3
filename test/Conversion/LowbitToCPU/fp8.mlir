// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=znver4 -split-input-file | FileCheck %s

// The fp8 kernel family (FP8Kernel.cpp, docs/CodegenCPU.md): FP8 E4M3
// weights with a scale per output channel or per tensor, times f32
// activations or FP8 E4M3 activations (decoded to f32 once per call). 16
// codes a step are decoded exactly to f32 with integer ops (normal codes as
// f32 bits (e + 120, m), subnormal ones as m * 2^-9, NaN for S.1111.111),
// FMA, both scales applied at the end. Float kernels: no target
// differences. Numbers: test/E2E/cpu-w4-gemv.py.

// f32 activations, per-channel f32 scales, K = 40: two full steps of 16 in
// a loop, then a tail read with masked loads (no in_bounds).
// CHECK-LABEL: func.func @f8_f32(
// CHECK-SAME: %[[X:.*]]: tensor<1x40xf32>, %[[C:.*]]: tensor<5x40xi8>, %[[S:.*]]: tensor<5xf32>) -> tensor<1x5xf32>
// CHECK: %[[D:.*]] = tensor.empty() : tensor<1x5xf32>
// CHECK: call @__lowbit_f8_f32_1x5x40_f32(%[[X]], %[[C]], %[[S]], %[[D]]) : (tensor<1x40xf32>, tensor<5x40xi8>, tensor<5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>
// CHECK-LABEL: func.func private @__lowbit_f8_f32_1x5x40_f32(
// CHECK-SAME: %[[KX:.*]]: tensor<1x40xf32>, %[[KC:.*]]: tensor<5x40xi8>, %[[KS:.*]]: tensor<5xf32>, %{{.*}}: tensor<1x5xf32>) -> tensor<1x5xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c32 step %c16
// CHECK: %[[B:.*]] = vector.transfer_read %[[KC]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<5x40xi8>, vector<16xi8>
// CHECK: %[[I:.*]] = arith.extui %[[B]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[EM:.*]] = arith.andi %[[I]], %{{.*}} : vector<16xi32>
// Normal codes: (em << 20) + (120 << 23).
// CHECK: %[[BIAS:.*]] = arith.constant dense<1006632960> : vector<16xi32>
// CHECK: %[[SH:.*]] = arith.shli %[[EM]], %{{.*}} : vector<16xi32>
// CHECK: arith.addi %[[SH]], %[[BIAS]] : vector<16xi32>
// Subnormal codes: em * 2^-9.
// CHECK: arith.constant dense<0.001953125> : vector<16xf32>
// CHECK: arith.cmpi ult, %[[EM]]
// CHECK: %[[F:.*]] = arith.bitcast %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: arith.cmpi eq, %[[EM]]
// CHECK: %[[W:.*]] = arith.select %{{.*}}, %{{.*}}, %[[F]] : vector<16xi1>, vector<16xf32>
// CHECK: %[[XV:.*]] = vector.transfer_read %[[KX]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x40xf32>, vector<16xf32>
// CHECK: vector.fma %[[W]], %[[XV]], %{{.*}} : vector<16xf32>
// The K tail.
// CHECK: vector.transfer_read %[[KC]][%{{.*}}, %c32{{.*}}], %{{.*}} : tensor<5x40xi8>, vector<16xi8>
// CHECK: vector.transfer_read %[[KX]][%{{.*}}, %c32{{.*}}], %{{.*}} : tensor<1x40xf32>, vector<16xf32>
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK: %[[SW:.*]] = tensor.extract %[[KS]][%{{.*}}] : tensor<5xf32>
// CHECK: arith.mulf %[[SUM]], %[[SW]] : f32
func.func @f8_f32(%x: tensor<1x40xf32>, %w: !lowbit.qtensor<5x40xf8E4M3FN, per_axis<0>>) -> tensor<1x5xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x40xf32>, !lowbit.qtensor<5x40xf8E4M3FN, per_axis<0>> -> tensor<1x5xf32>
  return %y : tensor<1x5xf32>
}

// -----

// FP8 activations per tensor times FP8 weights per tensor with an f16
// scale: a prologue decodes X's codes to f32 [M, K] once; the kernel reads
// that; the two scales multiply at the end.
// CHECK-LABEL: func.func @f8_f8(
// CHECK-SAME: %[[XC:.*]]: tensor<3x32xi8>, %[[XS:.*]]: tensor<f32>, %[[C:.*]]: tensor<2x32xi8>, %[[S:.*]]: tensor<f16>) -> tensor<3x2xf32>
// CHECK: call @__lowbit_f8_f8_3x2x32_f16(%[[XC]], %[[XS]], %[[C]], %[[S]], %{{.*}}) : (tensor<3x32xi8>, tensor<f32>, tensor<2x32xi8>, tensor<f16>, tensor<3x2xf32>) -> tensor<3x2xf32>
// CHECK-LABEL: func.func private @__lowbit_f8_f8_3x2x32_f16(
// CHECK-SAME: %[[KXC:.*]]: tensor<3x32xi8>, %[[KXS:.*]]: tensor<f32>, %[[KC:.*]]: tensor<2x32xi8>, %[[KS:.*]]: tensor<f16>, %{{.*}}: tensor<3x2xf32>) -> tensor<3x2xf32>
// CHECK: %[[XF:.*]] = tensor.empty() : tensor<3x32xf32>
// CHECK: %[[DEC:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[XF]]) -> (tensor<3x32xf32>)
// CHECK: vector.transfer_read %[[KXC]]{{.*}} : tensor<3x32xi8>, vector<16xi8>
// CHECK: vector.transfer_write %{{.*}} : vector<16xf32>, tensor<3x32xf32>
// CHECK: vector.transfer_read %[[KC]]{{.*}} : tensor<2x32xi8>, vector<16xi8>
// CHECK: vector.transfer_read %[[DEC]]{{.*}} : tensor<3x32xf32>, vector<16xf32>
// CHECK: vector.fma
// CHECK: %[[SX:.*]] = tensor.extract %[[KXS]][] : tensor<f32>
// CHECK: %[[SUM:.*]] = vector.reduction <add>
// CHECK: %[[SW:.*]] = tensor.extract %[[KS]][] : tensor<f16>
// CHECK: %[[SWF:.*]] = arith.extf %[[SW]] : f16 to f32
// CHECK: %[[SS:.*]] = arith.mulf %[[SX]], %[[SWF]] : f32
// CHECK: arith.mulf %[[SUM]], %[[SS]] : f32
func.func @f8_f8(%x: !lowbit.qtensor<3x32xf8E4M3FN, per_tensor>, %w: !lowbit.qtensor<2x32xf8E4M3FN, per_tensor, scale = f16>) -> tensor<3x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<3x32xf8E4M3FN, per_tensor>, !lowbit.qtensor<2x32xf8E4M3FN, per_tensor, scale = f16> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// FP8 weights times int8 activations: no family takes it (the fp8 family
// wants f32 or FP8 activations), the reference lowering runs.
// CHECK-LABEL: func.func @f8_i8(
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: @__lowbit_
func.func @f8_i8(%x: !lowbit.qtensor<1x32xi8, per_axis<0>>, %w: !lowbit.qtensor<2x32xf8E4M3FN, per_axis<0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<2x32xf8E4M3FN, per_axis<0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// FP8 E5M2 weights: only E4M3 has a kernel.
// CHECK-LABEL: func.func @e5m2(
// CHECK-SAME: %[[X:.*]]: tensor<1x32xf32>
// CHECK-NOT: call
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[X]],
// CHECK-NOT: @__lowbit_
func.func @e5m2(%x: tensor<1x32xf32>, %w: !lowbit.qtensor<2x32xf8E5M2, per_axis<0>>) -> tensor<1x2xf32> {
  %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x32xf32>, !lowbit.qtensor<2x32xf8E5M2, per_axis<0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
