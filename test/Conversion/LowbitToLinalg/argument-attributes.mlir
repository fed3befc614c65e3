// RUN: lowbit-opt %s --lowbit-lower-to-linalg | FileCheck %s
// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=x86-64-v3 | FileCheck %s

// Each qtensor argument or result becomes its parts; the other arguments
// and results keep their own attributes (LB-A1 on the position argument),
// and a qtensor's attributes do not carry over to its parts.

// CHECK-LABEL: func.func @step(
// CHECK-SAME: %{{[^:]+}}: tensor<16x32xi8>,
// CHECK-SAME: %{{[^:]+}}: tensor<16xf32>,
// CHECK-SAME: %{{[^:]+}}: tensor<1xi32> {lowbit.range = array<i64: 0, 7>})
// CHECK-SAME: -> (tensor<16x32xf32> {test.kept}, tensor<16x32xi8>, tensor<16xf32>)
func.func @step(%w: !lowbit.qtensor<16x32xi8, per_axis<0>> {test.dropped}, %pos: tensor<1xi32> {lowbit.range = array<i64: 0, 7>}) -> (tensor<16x32xf32> {test.kept}, !lowbit.qtensor<16x32xi8, per_axis<0>> {test.dropped}) {
  %d = lowbit.dequantize %w : !lowbit.qtensor<16x32xi8, per_axis<0>> -> tensor<16x32xf32>
  return %d, %w : tensor<16x32xf32>, !lowbit.qtensor<16x32xi8, per_axis<0>>
}
