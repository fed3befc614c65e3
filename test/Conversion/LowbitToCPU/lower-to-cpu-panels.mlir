// RUN: lowbit-opt %s --lowbit-pack-weights=target-cpu=znver4 --lowbit-lower-to-cpu=target-cpu=znver4 | FileCheck %s

// A constant int8 weight used by two W8A8 qmatmuls (a GEMM and a GEMV) is
// packed once by lowbit-pack-weights, into panels of 16 channels x 4
// inputs (code + 128: the code 1 is the byte 129 = -127 as i8), placed
// after the constant; both kernels read that one copy.
// CHECK-LABEL: func.func @shared
// CHECK: %[[P:.*]] = arith.constant dense<{{.*}}> : tensor<1x8x64xi8>
// CHECK-NOT: arith.constant dense<{{.*}}> : tensor<1x8x64xi8>
// CHECK-DAG: call @__lowbit_w8p_i8_2x16x32_f32(%{{.*}}, %{{.*}}, %[[P]],
// CHECK-DAG: call @__lowbit_w8p_i8_1x16x32_f32(%{{.*}}, %{{.*}}, %[[P]],
func.func @shared(%a: tensor<2x32xf32>, %b: tensor<1x32xf32>) -> (tensor<2x16xf32>, tensor<1x16xf32>) {
  %w = lowbit.constant codes(dense<1> : tensor<16x32xi8>) scales(dense<0.5> : tensor<16xf32>) : !lowbit.qtensor<16x32xi8, per_axis<0>>
  %aq = lowbit.quantize %a : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_axis<0>>
  %ya = lowbit.qmatmul %aq, %w {transpose_b} : !lowbit.qtensor<2x32xi8, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<2x16xf32>
  %bq = lowbit.quantize %b : tensor<1x32xf32> -> !lowbit.qtensor<1x32xi8, per_axis<0>>
  %yb = lowbit.qmatmul %bq, %w {transpose_b} : !lowbit.qtensor<1x32xi8, per_axis<0>>, !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<1x16xf32>
  return %ya, %yb : tensor<2x16xf32>, tensor<1x16xf32>
}
