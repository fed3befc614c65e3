// RUN: lowbit-opt %s -split-input-file '--lowbit-quantize-matmuls=weight-scheme={ui4, per_group<[in : 32]>, symmetric}' -verify-diagnostics

func.func @bad_scheme(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  // expected-error @+1 {{lowbit-quantize-matmuls (site 'bad_scheme.matmul0'): invalid scheme 'ui4, per_group<[in : 32]>, symmetric': unknown scheme option 'symmetric'}}
  %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%acc : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}
