// RUN: lowbit-opt %s -split-input-file --lowbit-convert-from-quant -verify-diagnostics

// Upstream types lowbit cannot represent are reported at the cast.

func.func @i16_storage(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{lowbit-convert-from-quant: storage type 'i16' is not representable (lowbit takes integers of 2 to 8 bits)}}
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i16:f32, 0.5>>
  %y = quant.dcast %q : tensor<4x!quant.uniform<i16:f32, 0.5>> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @odd_storage_range(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{lowbit-convert-from-quant: storage range [-100, 100] of '!quant.uniform<i8<-100:100>:f32, 5.000000e-01>' is not representable}}
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8<-100:100>:f32, 0.5>>
  %y = quant.dcast %q : tensor<4x!quant.uniform<i8<-100:100>:f32, 0.5>> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @narrow_range_zero_point(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{lowbit-convert-from-quant: a narrow storage range with non-zero zero points is not representable}}
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8<-127:127>:f32, 0.5:3>>
  %y = quant.dcast %q : tensor<4x!quant.uniform<i8<-127:127>:f32, 0.5:3>> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// lowbit's codes are packed: a use of the quantized value other than dcast
// (here quant.scast to the storage type) cannot be converted.
func.func @scast_user(%x: tensor<4xf32>) -> tensor<4xi8> {
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8:f32, 0.5>>
  // expected-error @+1 {{lowbit-convert-from-quant: cannot convert a use of a quantized value other than quant.dcast}}
  %s = quant.scast %q : tensor<4x!quant.uniform<i8:f32, 0.5>> to tensor<4xi8>
  return %s : tensor<4xi8>
}

// -----

// A failure is reported once and does not stop other casts from converting.
func.func @one_bad_one_good(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{lowbit-convert-from-quant: storage type 'i16' is not representable}}
  %a = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i16:f32, 0.5>>
  %b = quant.dcast %a : tensor<4x!quant.uniform<i16:f32, 0.5>> to tensor<4xf32>
  %c = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8:f32, 0.5>>
  %d = quant.dcast %c : tensor<4x!quant.uniform<i8:f32, 0.5>> to tensor<4xf32>
  return %b, %d : tensor<4xf32>, tensor<4xf32>
}

// -----

// A quantized value that does not come from a qcast is left over.
func.func @argument(%q: tensor<4x!quant.uniform<i8:f32, 0.5>>) -> tensor<4xf32> {
  // expected-error @+1 {{lowbit-convert-from-quant: cannot convert an op on 'tensor<4x!quant.uniform<i8:f32, 5.000000e-01>>'}}
  %y = quant.dcast %q : tensor<4x!quant.uniform<i8:f32, 0.5>> to tensor<4xf32>
  return %y : tensor<4xf32>
}
