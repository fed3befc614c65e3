// RUN: lowbit-opt %s --lowbit-pack-weights --split-input-file | FileCheck %s

// int8 per output channel: codes transposed, scales keep their order (one
// per output channel either way), the axis flips, transpose_b is set.
// CHECK-LABEL: func.func @int8_per_channel
// CHECK: %[[W:.*]] = lowbit.constant codes(dense<{{\[}}[1, 3, 5, 7], [2, 4, 6, 8]]> : tensor<2x4xi8>) scales(dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>) : <2x4xi8, per_axis<0>>
// CHECK: lowbit.qmatmul %{{.*}}, %[[W]] {transpose_b} : tensor<3x4xf32>, !lowbit.qtensor<2x4xi8, per_axis<0>> -> tensor<3x2xf32>
// CHECK-NOT: lowbit.constant
func.func @int8_per_channel(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = lowbit.constant codes(dense<[[1, 2], [3, 4], [5, 6], [7, 8]]> : tensor<4x2xi8>)
       scales(dense<[0.5, 0.25]> : tensor<2xf32>) : !lowbit.qtensor<4x2xi8, per_axis<1>>
  %y = lowbit.qmatmul %x, %w : tensor<3x4xf32>, !lowbit.qtensor<4x2xi8, per_axis<1>> -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// int4 in groups of 2 along K (axis 0): [K=4, N=2] with codes
//   k0: (1, -1)  k1: (2, -2)  k2: (3, -3)  k3: (4, -4)
// (one byte per row: low nibble column 0) becomes [N=2, K=4], two bytes per
// row: 0x21 0x43 and 0xEF 0xCD; the 2x2 scales [[g0n0, g0n1], [g1n0, g1n1]]
// are transposed; both qmatmuls share the packed constant, the original is
// gone.
// CHECK-LABEL: func.func @int4_groups
// CHECK: %[[W:.*]] = lowbit.constant codes(dense<{{\[}}[33, 67], [-17, -51]]> : tensor<2x2xi8>) scales(dense<{{\[}}[1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>) : <2x4xi4, per_group<[1 : 2]>>
// CHECK: lowbit.qmatmul %{{.*}}, %[[W]] {transpose_b}
// CHECK: lowbit.qmatmul %{{.*}}, %[[W]] {transpose_b}
// CHECK-NOT: lowbit.constant
func.func @int4_groups(%x: tensor<1x4xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w = lowbit.constant codes(dense<[[-15], [-30], [-45], [-60]]> : tensor<4x1xi8>)
       scales(dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>) : !lowbit.qtensor<4x2xi4, per_group<[0 : 2]>>
  %y = lowbit.qmatmul %x, %w : tensor<1x4xf32>, !lowbit.qtensor<4x2xi4, per_group<[0 : 2]>> -> tensor<1x2xf32>
  %z = lowbit.qmatmul %x, %w : tensor<1x4xf32>, !lowbit.qtensor<4x2xi4, per_group<[0 : 2]>> -> tensor<1x2xf32>
  return %y, %z : tensor<1x2xf32>, tensor<1x2xf32>
}

// -----

// Weights that are not constants, or already per output channel, stay.
// CHECK-LABEL: func.func @left_alone
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} : tensor<1x64xf32>, !lowbit.qtensor<64x8xi4, per_group<[0 : 32]>>
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>>
func.func @left_alone(%x: tensor<1x64xf32>, %w: !lowbit.qtensor<64x8xi4, per_group<[0 : 32]>>, %v: !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %y = lowbit.qmatmul %x, %w : tensor<1x64xf32>, !lowbit.qtensor<64x8xi4, per_group<[0 : 32]>> -> tensor<1x8xf32>
  %z = lowbit.qmatmul %x, %v {transpose_b} : tensor<1x64xf32>, !lowbit.qtensor<8x64xi4, per_group<[1 : 32]>> -> tensor<1x8xf32>
  return %y, %z : tensor<1x8xf32>, tensor<1x8xf32>
}
