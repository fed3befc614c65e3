// RUN: lowbit-opt %s -split-input-file --lowbit-quantize-matmuls | FileCheck %s --check-prefix=DEFAULT
// A scheme with commas is written in braces inside the pass options:
// RUN: lowbit-opt %s -split-input-file '--lowbit-quantize-matmuls=weight-scheme={ui4, per_group<[in : 32]>, asymmetric}' | FileCheck %s --check-prefix=W4
// RUN: lowbit-opt %s -split-input-file '--lowbit-quantize-matmuls=weight-scheme={i8, per_axis<out>} activation-scheme={i8, per_axis<out>}' | FileCheck %s --check-prefix=W8A8
// RUN: lowbit-opt %s -split-input-file '--pass-pipeline=builtin.module(func.func(lowbit-quantize-matmuls{weight-scheme={f4E2M1FN, per_group<[in : 32]>, scale = f8E8M0FNU}}))' | FileCheck %s --check-prefix=MX

// DEFAULT-LABEL: func @matmul_constant_weight
// DEFAULT-SAME: (%[[X:.*]]: tensor<8x64xf32>)
// DEFAULT: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<64x32xf32>
// DEFAULT: %[[Q:.*]] = lowbit.quantize %[[W]] : tensor<64x32xf32> -> <64x32xi8, per_axis<1>>
// DEFAULT: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[Q]] : tensor<8x64xf32>, !lowbit.qtensor<64x32xi8, per_axis<1>> -> tensor<8x32xf32>
// DEFAULT-NOT: linalg.matmul
// DEFAULT: return %[[Y]]

// W4-LABEL: func @matmul_constant_weight
// W4: %[[Q:.*]] = lowbit.quantize %{{.*}} : tensor<64x32xf32> -> <64x32xui4, per_group<[0 : 32]>, asymmetric>
// W4: lowbit.qmatmul %{{.*}}, %[[Q]] : tensor<8x64xf32>, !lowbit.qtensor<64x32xui4, per_group<[0 : 32]>, asymmetric> -> tensor<8x32xf32>

// W8A8-LABEL: func @matmul_constant_weight
// W8A8-SAME: (%[[X:.*]]: tensor<8x64xf32>)
// W8A8: %[[QW:.*]] = lowbit.quantize %{{.*}} : tensor<64x32xf32> -> <64x32xi8, per_axis<1>>
// W8A8: %[[QX:.*]] = lowbit.quantize %[[X]] : tensor<8x64xf32> -> <8x64xi8, per_axis<0>>
// W8A8: lowbit.qmatmul %[[QX]], %[[QW]] : !lowbit.qtensor<8x64xi8, per_axis<0>>, !lowbit.qtensor<64x32xi8, per_axis<1>> -> tensor<8x32xf32>

// MX-LABEL: func @matmul_constant_weight
// MX: lowbit.quantize %{{.*}} : tensor<64x32xf32> -> <64x32xf4E2M1FN, per_group<[0 : 32]>, scale = f8E8M0FNU>
func.func @matmul_constant_weight(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

// A weight that is not a constant is left alone.
// DEFAULT-LABEL: func @matmul_dynamic_weight
// DEFAULT-NOT: lowbit.
// DEFAULT: linalg.matmul
// W4-LABEL: func @matmul_dynamic_weight
// W8A8-LABEL: func @matmul_dynamic_weight
// MX-LABEL: func @matmul_dynamic_weight
func.func @matmul_dynamic_weight(%x: tensor<8x64xf32>, %w: tensor<64x32xf32>) -> tensor<8x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

// Accumulating into a non-zero init is not a plain product: left alone.
// DEFAULT-LABEL: func @matmul_accumulate
// DEFAULT-NOT: lowbit.
// DEFAULT: linalg.matmul
// W4-LABEL: func @matmul_accumulate
// W8A8-LABEL: func @matmul_accumulate
// MX-LABEL: func @matmul_accumulate
func.func @matmul_accumulate(%x: tensor<8x64xf32>, %acc: tensor<8x32xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}
