// RUN: lowbit-opt %s -split-input-file --lowbit-convert-to-quant -verify-diagnostics

// Schemes and values upstream quant cannot represent are reported once, at
// the op that cannot convert.

func.func @dynamic_scales(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{lowbit-convert-to-quant: scales must be constants (upstream quant has no dynamic scales)}}
  %q = lowbit.quantize %x : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4xi8, per_tensor> -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @float_format(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  // expected-error @+1 {{lowbit-convert-to-quant: only integer schemes with f32 scales have an upstream equivalent}}
  %q = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> !lowbit.qtensor<4xf8E4M3FN, per_tensor>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4xf8E4M3FN, per_tensor> -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @mx_scales(%x: tensor<2x32xf32>) -> tensor<2x32xf32> {
  %s = arith.constant dense<1.0> : tensor<2x1xf8E8M0FNU>
  // expected-error @+1 {{lowbit-convert-to-quant: only integer schemes with f32 scales have an upstream equivalent}}
  %q = lowbit.quantize %x scale(%s : tensor<2x1xf8E8M0FNU>) : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_group<[1 : 32]>, scale = f8E8M0FNU>
  %y = lowbit.dequantize %q : !lowbit.qtensor<2x32xi8, per_group<[1 : 32]>, scale = f8E8M0FNU> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

func.func @nearest_away(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  // expected-error @+1 {{lowbit-convert-to-quant: upstream quant has no rounding mode; only round = nearest_even converts}}
  %q = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor, round = nearest_away>
  %y = lowbit.dequantize %q : !lowbit.qtensor<4xi8, per_tensor, round = nearest_away> -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @non_dequantize_user(%x: tensor<8x4xf32>, %a: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %q = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<8x4xf32> -> !lowbit.qtensor<8x4xi8, per_tensor>
  // expected-error @+1 {{lowbit-convert-to-quant: only lowbit.dequantize uses of a converted value are supported}}
  %y = lowbit.qmatmul %a, %q : tensor<2x8xf32>, !lowbit.qtensor<8x4xi8, per_tensor> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @packed_constant() -> tensor<2x4xf32> {
  // expected-error @+1 {{lowbit-convert-to-quant: no upstream equivalent}}
  %c = lowbit.constant codes(dense<0> : tensor<2x2xi8>) scales(dense<1.0> : tensor<f32>) : !lowbit.qtensor<2x4xi4, per_tensor>
  // expected-error @+1 {{lowbit-convert-to-quant: no upstream equivalent}}
  %y = lowbit.dequantize %c : !lowbit.qtensor<2x4xi4, per_tensor> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
