// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// One case per constraint of docs/Spec.md (at least one per id), then the
// parser's own errors. Each case names the constraint it violates.

// LB-S1: integer codes wider than 8 bits.
// expected-error @+1 {{[LB-S1] integer element format must have 2 to 8 bits, got 'i16'}}
func.func private @f(!lowbit.qtensor<4xi16, per_tensor>)

// -----

// LB-S1: 1-bit integer codes.
// expected-error @+1 {{[LB-S1] integer element format must have 2 to 8 bits, got 'i1'}}
func.func private @f(!lowbit.qtensor<4xi1, per_tensor>)

// -----

// LB-S1: f16 is not an element format.
// expected-error @+1 {{[LB-S1] element format must be an integer of 2 to 8 bits or one of f8E4M3FN, f8E5M2, f6E2M3FN, f6E3M2FN, f4E2M1FN, got 'f16'}}
func.func private @f(!lowbit.qtensor<4xf16, per_tensor>)

// -----

// LB-S1: FNUZ variants are not supported.
// expected-error @+1 {{[LB-S1] element format must be an integer of 2 to 8 bits}}
func.func private @f(!lowbit.qtensor<4xf8E4M3FNUZ, per_tensor>)

// -----

// LB-S2: f64 expressed type.
// expected-error @+1 {{[LB-S2] expressed type must be f32, f16 or bf16, got 'f64'}}
func.func private @f(!lowbit.qtensor<4xi8 : f64, per_tensor>)

// -----

// LB-S3: unsupported scale type.
// expected-error @+1 {{[LB-S3] scale type must be f32, f16, bf16, f8E8M0FNU or f8E4M3FN, got 'f64'}}
func.func private @f(!lowbit.qtensor<4xi8, per_tensor, scale = f64>)

// -----

// LB-S3: E8M0 scales are per block.
// expected-error @+1 {{[LB-S3] scale type 'f8E8M0FNU' requires per_group granularity}}
func.func private @f(!lowbit.qtensor<4xf4E2M1FN, per_axis<0>, scale = f8E8M0FNU>)

// -----

// LB-S3: E8M0 scales take no zero points.
// expected-error @+1 {{[LB-S3] scale type 'f8E8M0FNU' requires a symmetric scheme}}
func.func private @f(!lowbit.qtensor<4x32xi8, per_group<[1 : 32]>, asymmetric, scale = f8E8M0FNU>)

// -----

// LB-S3: E8M0 with 4-bit integers.
// expected-error @+1 {{[LB-S3] an E8M0 scale takes a float element format or signed 8-bit integers (MXINT8)}}
func.func private @f(!lowbit.qtensor<4x32xi4, per_group<[1 : 32]>, scale = f8E8M0FNU>)

// -----

// LB-S4: float codes take no zero point.
// expected-error @+1 {{[LB-S4] asymmetric (zero points) requires an integer element format}}
func.func private @f(!lowbit.qtensor<4xf8E4M3FN, per_tensor, asymmetric>)

// -----

// LB-S4: unsigned symmetric.
// expected-error @+1 {{[LB-S4] unsigned integer codes require an asymmetric scheme}}
func.func private @f(!lowbit.qtensor<4xui8, per_tensor>)

// -----

// LB-S5: full_range with zero points.
// expected-error @+1 {{[LB-S5] full_range applies only to symmetric signed integer schemes}}
func.func private @f(!lowbit.qtensor<4xi8, per_tensor, asymmetric, full_range>)

// -----

// LB-S5: full_range on floats.
// expected-error @+1 {{[LB-S5] full_range applies only to symmetric signed integer schemes}}
func.func private @f(!lowbit.qtensor<4xf8E5M2, per_tensor, full_range>)

// -----

// LB-S5: full_range on ternary.
// expected-error @+1 {{[LB-S5] full_range applies only to symmetric signed integer schemes}}
func.func private @f(!lowbit.qtensor<4xternary, per_tensor, full_range>)

// -----

// LB-S6: asymmetric ternary.
// expected-error @+1 {{[LB-S6] ternary is symmetric with 2-bit codes}}
func.func private @f(!lowbit.qtensor<4xternary, per_tensor, asymmetric>)

// -----

// LB-S6: ternary with f16 scales.
// expected-error @+1 {{[LB-S6] ternary takes f32 scales}}
func.func private @f(!lowbit.qtensor<4xternary, per_tensor, scale = f16>)

// -----

// LB-S7: negative axis.
// expected-error @+1 {{[LB-S7] per_axis axis must be non-negative, got -1}}
func.func private @f(!lowbit.qtensor<4xi8, per_axis<-1>>)

// -----

// LB-S7: decreasing group axes.
// expected-error @+1 {{[LB-S7] per_group axes must be non-negative and strictly increasing}}
func.func private @f(!lowbit.qtensor<4x4xi8, per_group<[1 : 2, 0 : 2]>>)

// -----

// LB-S7: repeated group axis.
// expected-error @+1 {{[LB-S7] per_group axes must be non-negative and strictly increasing}}
func.func private @f(!lowbit.qtensor<4x4xi8, per_group<[0 : 2, 0 : 2]>>)

// -----

// LB-S7: zero group size.
// expected-error @+1 {{[LB-S7] group size must be positive, got 0}}
func.func private @f(!lowbit.qtensor<4x4xi8, per_group<[1 : 0]>>)

// -----

// LB-S8: tensor_scale with f32 block scales.
// expected-error @+1 {{[LB-S8] tensor_scale requires scale = f8E4M3FN}}
func.func private @f(!lowbit.qtensor<4x16xf4E2M1FN, per_group<[1 : 16]>, tensor_scale>)

// -----

// LB-S8: E4M3 block scales without the tensor scale.
// expected-error @+1 {{[LB-S8] scale = f8E4M3FN (two-level NVFP4 scaling) requires element f4E2M1FN and tensor_scale}}
func.func private @f(!lowbit.qtensor<4x16xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN>)

// -----

// LB-S8: two-level scaling of integer codes.
// expected-error @+1 {{[LB-S8] scale = f8E4M3FN (two-level NVFP4 scaling) requires element f4E2M1FN and tensor_scale}}
func.func private @f(!lowbit.qtensor<4x16xi8, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>)

// -----

// LB-S9: integer codes without scales.
// expected-error @+1 {{[LB-S9] an integer element format needs a granularity (per_tensor, per_axis or per_group)}}
func.func private @f(!lowbit.qtensor<4xi8>)

// -----

// LB-S9: scale type without granularity.
// expected-error @+1 {{[LB-S9] an element cast without granularity has no scales, zero points or tensor scale}}
func.func private @f(!lowbit.qtensor<4xf8E4M3FN, scale = f16>)

// -----

// LB-S10: granularity on a GGUF format.
// expected-error @+1 {{[LB-S10] a GGUF block format fixes its own granularity, scales and rounding; only the expressed type may be given}}
func.func private @f(!lowbit.qtensor<32xgguf<q4_0>, per_tensor>)

// -----

// LB-S10: rounding on a GGUF format.
// expected-error @+1 {{[LB-S10] a GGUF block format fixes its own granularity}}
func.func private @f(!lowbit.qtensor<32xgguf<q8_0>, round = nearest_away>)

// -----

// LB-S11: no_saturate on integers.
// expected-error @+1 {{[LB-S11] no_saturate applies only to f8E4M3FN and f8E5M2 (other formats always saturate)}}
func.func private @f(!lowbit.qtensor<4xi8, per_tensor, no_saturate>)

// -----

// LB-S11: no_saturate on fp4.
// expected-error @+1 {{[LB-S11] no_saturate applies only to f8E4M3FN and f8E5M2}}
func.func private @f(!lowbit.qtensor<4x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU, no_saturate>)

// -----

// LB-S2: the same verifier runs on a bare #lowbit.scheme.
// expected-error @+1 {{[LB-S2] expressed type must be f32, f16 or bf16, got 'f64'}}
func.func private @f() attributes {lowbit.s = #lowbit.scheme<i8 : f64, per_tensor>}

// -----

// LB-T1: rank 0.
// expected-error @+1 {{[LB-T1] a quantized tensor has rank >= 1}}
func.func private @f(!lowbit.qtensor<i8, per_tensor>)

// -----

// LB-T1: dynamic dimension.
// expected-error @+1 {{[LB-T1] every dimension must be static and at least 1}}
func.func private @f(!lowbit.qtensor<?x4xi8, per_tensor>)

// -----

// LB-T1: empty dimension.
// expected-error @+1 {{[LB-T1] every dimension must be static and at least 1}}
func.func private @f(!lowbit.qtensor<0x4xi8, per_tensor>)

// -----

// LB-T2: axis out of range.
// expected-error @+1 {{[LB-T2] per_axis axis 2 out of range for rank 2}}
func.func private @f(!lowbit.qtensor<4x4xi8, per_axis<2>>)

// -----

// LB-T3: group axis out of range.
// expected-error @+1 {{[LB-T3] group axis 2 out of range for rank 2}}
func.func private @f(!lowbit.qtensor<4x4xi8, per_group<[2 : 2]>>)

// -----

// LB-T3: group size does not divide.
// expected-error @+1 {{[LB-T3] group size 32 does not divide dimension 1 of size 48}}
func.func private @f(!lowbit.qtensor<4x48xi4, per_group<[1 : 32]>>)

// -----

// LB-T4: GGUF super-block.
// expected-error @+1 {{[LB-T4] GGUF q4_k needs the last dimension to be a multiple of 256, got 128}}
func.func private @f(!lowbit.qtensor<4x128xgguf<q4_k>>)

// -----

// LB-T4: GGUF blocks run along the last axis.
// expected-error @+1 {{[LB-T4] GGUF q4_0 needs the last dimension to be a multiple of 32, got 16}}
func.func private @f(!lowbit.qtensor<32x16xgguf<q4_0>>)

// -----

// LB-Q1: quantize changes the shape.
func.func @f(%x: tensor<4x32xf32>) {
  // expected-error @+1 {{[LB-Q1] input shape must equal the result shape}}
  %r = lowbit.quantize %x : tensor<4x32xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  return
}

// -----

// LB-Q1: quantize input is not the expressed type.
func.func @f(%x: tensor<4x64xf16>) {
  // expected-error @+1 {{[LB-Q1] input element type 'f16' differs from the scheme's expressed type 'f32'}}
  %r = lowbit.quantize %x : tensor<4x64xf16> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  return
}

// -----

// LB-Q2: scales of the wrong shape.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<64xf32>) {
  // expected-error @+1 {{[LB-Q2] scales must have type 'tensor<4xf32>', got 'tensor<64xf32>'}}
  %r = lowbit.quantize %x scale(%s : tensor<64xf32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  return
}

// -----

// LB-Q2: scales of the wrong element type.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4x2xf32>) {
  // expected-error @+1 {{[LB-Q2] scales must have type 'tensor<4x2xf8E8M0FNU>', got 'tensor<4x2xf32>'}}
  %r = lowbit.quantize %x scale(%s : tensor<4x2xf32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
  return
}

// -----

// LB-Q2: scales for an element cast.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{[LB-Q2] scheme #lowbit.scheme<f8E4M3FN> has no scales to give}}
  %r = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xf8E4M3FN>
  return
}

// -----

// LB-Q2: static scales without zero points.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{[LB-Q2] asymmetric scheme needs zero points together with its scales}}
  %r = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xui8, per_tensor, asymmetric>
  return
}

// -----

// LB-Q2: zero points are i32.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<f32>, %z: tensor<i8>) {
  // expected-error @+1 {{[LB-Q2] zero points must have type 'tensor<i32>', got 'tensor<i8>'}}
  %r = lowbit.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i8>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xui8, per_tensor, asymmetric>
  return
}

// -----

// LB-Q2: zero points for a symmetric scheme.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4xf32>, %z: tensor<4xi32>) {
  // expected-error @+1 {{[LB-Q2] symmetric scheme takes no zero points}}
  %r = lowbit.quantize %x scale(%s : tensor<4xf32>) zero_point(%z : tensor<4xi32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  return
}

// -----

// LB-Q2: zero points without scales.
func.func @f(%x: tensor<4x64xf32>, %z: tensor<i32>) {
  // expected-error @+1 {{[LB-Q2] zero points and tensor scale are given only together with scales}}
  %r = lowbit.quantize %x zero_point(%z : tensor<i32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xui8, per_tensor, asymmetric>
  return
}

// -----

// LB-Q2: NVFP4 block scales without the tensor scale.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4x4xf8E4M3FN>) {
  // expected-error @+1 {{[LB-Q2] scheme with tensor_scale needs the tensor scale together with its scales}}
  %r = lowbit.quantize %x scale(%s : tensor<4x4xf8E4M3FN>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
  return
}

// -----

// LB-Q2: tensor scale is rank 0.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4x4xf8E4M3FN>, %t: tensor<1xf32>) {
  // expected-error @+1 {{[LB-Q2] tensor scale must have type 'tensor<f32>', got 'tensor<1xf32>'}}
  %r = lowbit.quantize %x scale(%s : tensor<4x4xf8E4M3FN>) tensor_scale(%t : tensor<1xf32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
  return
}

// -----

// LB-Q2: tensor scale for a one-level scheme.
func.func @f(%x: tensor<4x64xf32>, %s: tensor<4xf32>, %t: tensor<f32>) {
  // expected-error @+1 {{[LB-Q2] scheme has no tensor_scale}}
  %r = lowbit.quantize %x scale(%s : tensor<4xf32>) tensor_scale(%t : tensor<f32>) : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
  return
}

// -----

// LB-D1: dequantize changes the shape.
func.func @f(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>) {
  // expected-error @+1 {{[LB-D1] result shape must equal the input shape}}
  %r = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<64x4xf32>
  return
}

// -----

// LB-D1: dequantize to another float type.
func.func @f(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>) {
  // expected-error @+1 {{[LB-D1] result element type 'bf16' differs from the scheme's expressed type 'f32'}}
  %r = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xbf16>
  return
}

// -----

// LB-R1: requantize changes the shape.
func.func @f(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>) {
  // expected-error @+1 {{[LB-R1] input and result shapes must be equal}}
  %r = lowbit.requantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> !lowbit.qtensor<4x32xi8, per_axis<0>>
  return
}

// -----

// LB-R1: requantize changes the expressed type.
func.func @f(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>) {
  // expected-error @+1 {{[LB-R1] input and result expressed types must be equal}}
  %r = lowbit.requantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> !lowbit.qtensor<4x64xi8 : f16, per_axis<0>>
  return
}

// -----

// LB-Q2: requantize static parameters follow LB-Q2 for the result.
func.func @f(%q: !lowbit.qtensor<4x64xi8, per_axis<0>>, %s: tensor<4xf32>) {
  // expected-error @+1 {{[LB-Q2] scales must have type 'tensor<4x2xf32>', got 'tensor<4xf32>'}}
  %r = lowbit.requantize %q scale(%s : tensor<4xf32>) : !lowbit.qtensor<4x64xi8, per_axis<0>> -> !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>>
  return
}

// -----

// LB-C1: 4-bit codes are packed two per byte.
func.func @f() {
  // expected-error @+1 {{[LB-C1] codes must have type 'tensor<2x2xi8>', got 'tensor<2x4xi8>'}}
  %r = lowbit.constant codes(dense<0> : tensor<2x4xi8>) scales(dense<1.0> : tensor<f32>) : !lowbit.qtensor<2x4xi4, per_tensor>
  return
}

// -----

// LB-C1: GGUF codes are block structs.
func.func @f() {
  // expected-error @+1 {{[LB-C1] codes must have type 'tensor<2x18xi8>', got 'tensor<2x32xi8>'}}
  %r = lowbit.constant codes(dense<0> : tensor<2x32xi8>) : !lowbit.qtensor<2x32xgguf<q4_0>>
  return
}

// -----

// LB-C2: int8 panels of a [17, 34] matrix are [2, 9, 64] bytes.
func.func @f() {
  // expected-error @+1 {{[LB-C2] codes in layout int8_panels must have type 'tensor<2x9x64xi8>', got 'tensor<17x34xi8>'}}
  %r = lowbit.constant codes(dense<0> : tensor<17x34xi8>) scales(dense<1.0> : tensor<17xf32>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<17x34xi8, per_axis<0>>
  return
}

// -----

// LB-C2: int8 panels hold signed 8-bit integers only.
func.func @f() {
  // expected-error @+1 {{[LB-C2] layout int8_panels cannot hold '!lowbit.qtensor<16x32xi4, per_axis<0>>': it needs a rank-2 qtensor of signed 8-bit integers}}
  %r = lowbit.constant codes(dense<0> : tensor<1x8x64xi8>) scales(dense<1.0> : tensor<16xf32>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<16x32xi4, per_axis<0>>
  return
}

// -----

// LB-C2: mma-b tiles need K a multiple of 32.
func.func @f() {
  // expected-error @+1 {{[LB-C2] layout mma_b cannot hold '!lowbit.qtensor<32x48xi4 : f16, per_group<[1 : 16]>, scale = f16>': it needs a rank-2 qtensor of signed 4-bit integers or f4E2M1FN with K a multiple of 32}}
  %r = lowbit.constant codes(dense<0> : tensor<1x1x128xi32>) scales(dense<1.0> : tensor<32x3xf16>) {layout = #lowbit<layout mma_b>} : !lowbit.qtensor<32x48xi4 : f16, per_group<[1 : 16]>, scale = f16>
  return
}

// -----

// LB-C2: mma-b tiles of a [40, 64] matrix are [2, 2, 128] words.
func.func @f() {
  // expected-error @+1 {{[LB-C2] codes in layout mma_b must have type 'tensor<2x2x128xi32>', got 'tensor<40x32xi8>'}}
  %r = lowbit.constant codes(dense<0> : tensor<40x32xi8>) scales(dense<1.0> : tensor<40x2xf16>) {layout = #lowbit<layout mma_b>} : !lowbit.qtensor<40x64xi4 : f16, per_group<[1 : 32]>, scale = f16>
  return
}

// -----

// LB-C2: the other parts keep their run-time types (LB-C1).
func.func @f() {
  // expected-error @+1 {{[LB-C1] scales must have type 'tensor<16xf32>', got 'tensor<16xf16>'}}
  %r = lowbit.constant codes(dense<0> : tensor<1x8x64xi8>) scales(dense<1.0> : tensor<16xf16>) {layout = #lowbit<layout int8_panels>} : !lowbit.qtensor<16x32xi8, per_axis<0>>
  return
}

// -----

// LB-C1: constant without its scales.
func.func @f() {
  // expected-error @+1 {{[LB-C1] missing scales of type 'tensor<2xf32>'}}
  %r = lowbit.constant codes(dense<0> : tensor<2x4xi8>) : !lowbit.qtensor<2x4xi8, per_axis<0>>
  return
}

// -----

// LB-C1: MX scales keep their E8M0 type.
func.func @f() {
  // expected-error @+1 {{[LB-C1] scales must have type 'tensor<2x1xf8E8M0FNU>', got 'tensor<2x1xf32>'}}
  %r = lowbit.constant codes(dense<0> : tensor<2x16xi8>) scales(dense<1.0> : tensor<2x1xf32>) : !lowbit.qtensor<2x32xf4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>
  return
}

// -----

// LB-C1: zero points for a symmetric constant.
func.func @f() {
  // expected-error @+1 {{[LB-C1] the scheme has no zero_points}}
  %r = lowbit.constant codes(dense<0> : tensor<2x4xi8>) scales(dense<1.0> : tensor<2xf32>) zero_points(dense<0> : tensor<2xi32>) : !lowbit.qtensor<2x4xi8, per_axis<0>>
  return
}

// -----

// LB-C1: asymmetric constant without zero points.
func.func @f() {
  // expected-error @+1 {{[LB-C1] missing zero_points of type 'tensor<2xi32>'}}
  %r = lowbit.constant codes(dense<0> : tensor<2x4xi8>) scales(dense<1.0> : tensor<2xf32>) : !lowbit.qtensor<2x4xui8, per_axis<0>, asymmetric>
  return
}

// -----

// LB-C1: NVFP4 constant without its tensor scale.
func.func @f() {
  // expected-error @+1 {{[LB-C1] missing tensor_scale of type 'tensor<f32>'}}
  %r = lowbit.constant codes(dense<0> : tensor<1x8xi8>) scales(dense<1.0> : tensor<1x1xf8E4M3FN>) : !lowbit.qtensor<1x16xf4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale>
  return
}

// -----

// LB-C1: scales for an element cast.
func.func @f() {
  // expected-error @+1 {{[LB-C1] the scheme has no scales}}
  %r = lowbit.constant codes(dense<0> : tensor<2x4xi8>) scales(dense<1.0> : tensor<f32>) : !lowbit.qtensor<2x4xf8E5M2>
  return
}

// -----

// LB-M1: no quantized operand.
func.func @f(%x: tensor<8x128xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{[LB-M1] at least one operand must be quantized}}
  %r = lowbit.qmatmul %x, %w : tensor<8x128xf32>, tensor<128x64xf32> -> tensor<8x64xf32>
  return
}

// -----

// LB-M1: mixed ranks.
func.func @f(%x: tensor<2x8x128xf32>, %w: !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>>) {
  // expected-error @+1 {{[LB-M1] operands and result must all be rank 2, or all rank 3 (batch)}}
  %r = lowbit.qmatmul %x, %w {transpose_b} : tensor<2x8x128xf32>, !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>> -> tensor<2x8x64xf32>
  return
}

// -----

// LB-M1: rank 4.
func.func @f(%x: tensor<2x2x8x128xf32>, %w: !lowbit.qtensor<2x2x128x64xi8, per_tensor>) {
  // expected-error @+1 {{[LB-M1] operands and result must all be rank 2, or all rank 3 (batch)}}
  %r = lowbit.qmatmul %x, %w : tensor<2x2x8x128xf32>, !lowbit.qtensor<2x2x128x64xi8, per_tensor> -> tensor<2x2x8x64xf32>
  return
}

// -----

// LB-M1: batch sizes differ.
func.func @f(%x: tensor<2x8x128xf32>, %w: !lowbit.qtensor<3x128x64xi8, per_tensor>) {
  // expected-error @+1 {{[LB-M1] batch dimensions differ: 2, 3, 2}}
  %r = lowbit.qmatmul %x, %w : tensor<2x8x128xf32>, !lowbit.qtensor<3x128x64xi8, per_tensor> -> tensor<2x8x64xf32>
  return
}

// -----

// LB-M1: transpose_b missing.
func.func @f(%x: tensor<8x128xf32>, %w: !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>>) {
  // expected-error @+1 {{[LB-M1] contraction sizes differ: lhs has 128, rhs has 64}}
  %r = lowbit.qmatmul %x, %w : tensor<8x128xf32>, !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>> -> tensor<8x128xf32>
  return
}

// -----

// LB-M1: wrong result shape.
func.func @f(%x: tensor<8x128xf32>, %w: !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>>) {
  // expected-error @+1 {{[LB-M1] result shape must be 8x64}}
  %r = lowbit.qmatmul %x, %w {transpose_b} : tensor<8x128xf32>, !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>> -> tensor<8x32xf32>
  return
}

// -----

// LB-M1: wrong batched result shape.
func.func @f(%a: !lowbit.qtensor<2x8x64xi8, per_axis<1>>, %b: !lowbit.qtensor<2x16x64xi8, per_tensor>) {
  // expected-error @+1 {{[LB-M1] result shape must be 2x8x16}}
  %r = lowbit.qmatmul %a, %b {transpose_b} : !lowbit.qtensor<2x8x64xi8, per_axis<1>>, !lowbit.qtensor<2x16x64xi8, per_tensor> -> tensor<2x8x64xf32>
  return
}

// -----

// parser: unknown scheme option.
// expected-error @+1 {{unknown scheme option 'symmetric'}}
func.func private @f(!lowbit.qtensor<4xi8, per_tensor, symmetric>)

// -----

// parser: unknown GGUF name.
// expected-error @+1 {{unknown GGUF block format 'q4_2'}}
func.func private @f(!lowbit.qtensor<32xgguf<q4_2>>)

// -----

// parser: 'none' is not a GGUF format.
// expected-error @+1 {{unknown GGUF block format 'none'}}
func.func private @f(!lowbit.qtensor<32xgguf<none>>)

// -----

// parser: unknown rounding mode.
// expected-error @+1 {{unknown rounding mode 'stochastic' (expected nearest_even or nearest_away)}}
func.func private @f(!lowbit.qtensor<4xi8, per_tensor, round = stochastic>)

// -----

// parser: two granularities.
// expected-error @+1 {{scheme option 'per_tensor' repeats a granularity}}
func.func private @f(!lowbit.qtensor<4xi8, per_axis<0>, per_tensor>)

// -----

// parser: repeated option.
// expected-error @+1 {{scheme option 'asymmetric' repeats a previous option}}
func.func private @f(!lowbit.qtensor<4xui8, per_tensor, asymmetric, asymmetric>)

// -----

// LB-P1: unpack gives exactly the run-time parts.
func.func @f(%q: !lowbit.qtensor<1x2x16xi8, per_group<[2 : 16]>>) {
  // expected-error @+1 {{[LB-P1] scales (part 1) must have type 'tensor<1x2x1xf32>', got 'tensor<1x2xf32>'}}
  %c, %s = lowbit.unpack %q : !lowbit.qtensor<1x2x16xi8, per_group<[2 : 16]>> -> tensor<1x2x16xi8>, tensor<1x2xf32>
  return
}

// -----

// LB-P1: pack takes every part of the scheme.
func.func @f(%c: tensor<4x8xi8>, %s: tensor<1x16xf32>) {
  // expected-error @+1 {{[LB-P1] '!lowbit.qtensor<4x16xi4, per_group<[0 : 4]>, asymmetric>' has 3 parts, got 2}}
  %q = lowbit.pack %c, %s : tensor<4x8xi8>, tensor<1x16xf32> -> !lowbit.qtensor<4x16xi4, per_group<[0 : 4]>, asymmetric>
  return
}

// -----

// LB-G1: launch is [grid x3, block x3, shared bytes].
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{[LB-G1] launch must be [gx, gy, gz, bx, by, bz, shared bytes], got 6 values}}
  %y = lowbit.launch @m::@k [1, 1, 1, 32, 1, 1] outs(%x : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// LB-G1: an empty grid.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{[LB-G1] grid and block sizes must be >= 1}}
  %y = lowbit.launch @m::@k [0, 1, 1, 32, 1, 1, 0] outs(%x : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// LB-G1: tensors and memrefs mixed.
func.func @f(%x: memref<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{[LB-G1] operands must be all ranked tensors or all memrefs}}
  %r = lowbit.launch @m::@k [1, 1, 1, 32, 1, 1, 0] ins(%x : memref<4xf32>) outs(%y : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// LB-G1: one result per output, of its type.
func.func @f(%x: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{[LB-G1] result type 'tensor<8xf32>' differs from its output's 'tensor<4xf32>'}}
  %y = lowbit.launch @m::@k [1, 1, 1, 32, 1, 1, 0] outs(%x : tensor<4xf32>) -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// LB-G1: buffers of whole bytes (i4 codes travel packed).
func.func @f(%x: tensor<4xi4>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{[LB-G1] operand of type 'tensor<4xi4>' does not have whole-byte elements}}
  %r = lowbit.launch @m::@k [1, 1, 1, 32, 1, 1, 0] ins(%x : tensor<4xi4>) outs(%y : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// LB-G1: static shapes.
func.func @f(%x: memref<?xf32>) {
  // expected-error @+1 {{[LB-G1] operand of type 'memref<?xf32>' is not statically shaped}}
  lowbit.launch @m::@k [1, 1, 1, 32, 1, 1, 0] outs(%x : memref<?xf32>)
  return
}
