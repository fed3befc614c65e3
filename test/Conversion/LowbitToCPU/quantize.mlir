// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=znver4 -split-input-file | FileCheck %s

// Activation quantization as vector code (ActivationQuantize.cpp,
// docs/CodegenCPU.md): dynamic lowbit.quantize of f32 [M, K] to symmetric
// int8 with an f32 scale per row or per tensor, 16 lanes at a time, with
// the reference lowering's operations (maxnum of |x| from 0, s = amax /
// 127 or 1 when that is 0, x / s, round to nearest even, NaN -> 0, clamp),
// so that codes and scales are bit-identical to it
// (test/E2E/cpu-quantize.mlir compares both bit for bit).

// Per row, K = 40: two whole steps of 16, then a masked tail (no in_bounds)
// for both the amax and the encoding. The results are the qtensor's parts.
// CHECK-LABEL: func.func @per_row(
// CHECK-SAME: %[[X:.*]]: tensor<2x40xf32>) -> (tensor<2x40xi8>, tensor<2xf32>)
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[CODES:.*]] = tensor.empty() : tensor<2x40xi8>
// CHECK-DAG: %[[SCALES:.*]] = tensor.empty() : tensor<2xf32>
// CHECK: %[[R:.*]]:2 = scf.for %[[M:.*]] = {{.*}} iter_args(%[[C:.*]] = %[[CODES]], %[[S:.*]] = %[[SCALES]]) -> (tensor<2x40xi8>, tensor<2xf32>)
// CHECK: %[[AMAX:.*]] = scf.for {{.*}} -> (vector<16xf32>)
// CHECK: %[[V:.*]] = vector.transfer_read %[[X]][%[[M]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<2x40xf32>, vector<16xf32>
// CHECK: %[[A:.*]] = math.absf %[[V]] : vector<16xf32>
// CHECK: arith.maxnumf %{{.*}}, %[[A]] : vector<16xf32>
// CHECK: %[[T:.*]] = vector.transfer_read %[[X]][%[[M]], %c32{{.*}}], %{{.*}} : tensor<2x40xf32>, vector<16xf32>
// CHECK: math.absf %[[T]]
// CHECK: %[[RM:.*]] = vector.reduction <maxnumf>, %{{.*}} : vector<16xf32> into f32
// CHECK: %[[DIV:.*]] = arith.divf %[[RM]], %{{.*}} : f32
// CHECK: %[[ZERO:.*]] = arith.cmpf oeq, %[[DIV]], %{{.*}} : f32
// CHECK: %[[SC:.*]] = arith.select %[[ZERO]], %{{.*}}, %[[DIV]] : f32
// CHECK: %[[S2:.*]] = tensor.insert %[[SC]] into %[[S]][%[[M]]] : tensor<2xf32>
// CHECK: %[[SV:.*]] = vector.broadcast %[[SC]] : f32 to vector<16xf32>
// CHECK: %[[LO:.*]] = arith.constant dense<-1.270000e+02> : vector<16xf32>
// CHECK: %[[HI:.*]] = arith.constant dense<1.270000e+02> : vector<16xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[C]]) -> (tensor<2x40xi8>)
// CHECK: %[[Q:.*]] = arith.divf %{{.*}}, %[[SV]] : vector<16xf32>
// CHECK: %[[RE:.*]] = math.roundeven %[[Q]] : vector<16xf32>
// CHECK: %[[NAN:.*]] = arith.cmpf uno, %[[RE]], %[[RE]] : vector<16xf32>
// CHECK: %[[NZ:.*]] = arith.select %[[NAN]], %{{.*}}, %[[RE]] : vector<16xi1>, vector<16xf32>
// CHECK: %[[C1:.*]] = arith.maximumf %[[NZ]], %[[LO]] : vector<16xf32>
// CHECK: %[[C2:.*]] = arith.minimumf %[[C1]], %[[HI]] : vector<16xf32>
// CHECK: %[[I:.*]] = arith.fptosi %[[C2]] : vector<16xf32> to vector<16xi32>
// CHECK: %[[B:.*]] = arith.trunci %[[I]] : vector<16xi32> to vector<16xi8>
// CHECK: vector.transfer_write %[[B]], %{{.*}} {in_bounds = [true]} : vector<16xi8>, tensor<2x40xi8>
// The tail: a masked write.
// CHECK: %[[TW:.*]] = vector.transfer_write %{{.*}}, %{{.*}}[%[[M]], %c32{{.*}}] : vector<16xi8>, tensor<2x40xi8>
// CHECK: scf.yield %[[TW]], %[[S2]] : tensor<2x40xi8>, tensor<2xf32>
// CHECK: return %[[R]]#0, %[[R]]#1 : tensor<2x40xi8>, tensor<2xf32>
func.func @per_row(%x: tensor<2x40xf32>) -> !lowbit.qtensor<2x40xi8, per_axis<0>> {
  %q = lowbit.quantize %x : tensor<2x40xf32> -> !lowbit.qtensor<2x40xi8, per_axis<0>>
  return %q : !lowbit.qtensor<2x40xi8, per_axis<0>>
}

// -----

// Per tensor, full_range (codes down to -128): the amax of every row first
// (a maxnum over the rows' reductions), one scale, then the rows' codes.
// CHECK-LABEL: func.func @per_tensor(
// CHECK-SAME: %[[X:.*]]: tensor<3x32xf32>) -> (tensor<3x32xi8>, tensor<f32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[AMAX:.*]] = scf.for {{.*}} -> (f32)
// CHECK: vector.reduction <maxnumf>
// CHECK: arith.maxnumf %{{.*}} : f32
// CHECK: %[[DIV:.*]] = arith.divf %[[AMAX]], %{{.*}} : f32
// CHECK: %[[SC:.*]] = arith.select %{{.*}}, %{{.*}}, %[[DIV]] : f32
// CHECK: %[[S:.*]] = tensor.insert %[[SC]] into %{{.*}}[] : tensor<f32>
// CHECK: %[[R:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[S]]) -> (tensor<3x32xi8>, tensor<f32>)
// CHECK: arith.constant dense<-1.280000e+02> : vector<16xf32>
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @per_tensor(%x: tensor<3x32xf32>) -> !lowbit.qtensor<3x32xi8, per_tensor, full_range> {
  %q = lowbit.quantize %x : tensor<3x32xf32> -> !lowbit.qtensor<3x32xi8, per_tensor, full_range>
  return %q : !lowbit.qtensor<3x32xi8, per_tensor, full_range>
}

// -----

// The parts feed an integer kernel directly.
// CHECK-LABEL: func.func @feeds_kernel(
// CHECK: %[[Q:.*]]:2 = scf.for
// CHECK: call @__lowbit_w8_i8_1x2x64_f32(%[[Q]]#0, %[[Q]]#1, %{{.*}}, %{{.*}}, %{{.*}})
func.func @feeds_kernel(%x: tensor<1x64xf32>, %w: !lowbit.qtensor<2x64xi8, per_axis<0>>) -> tensor<1x2xf32> {
  %xq = lowbit.quantize %x : tensor<1x64xf32> -> !lowbit.qtensor<1x64xi8, per_axis<0>>
  %y = lowbit.qmatmul %xq, %w {transpose_b} : !lowbit.qtensor<1x64xi8, per_axis<0>>, !lowbit.qtensor<2x64xi8, per_axis<0>> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Not int8 activations: int4 codes keep the reference lowering (linalg).
// CHECK-LABEL: func.func @int4(
// CHECK-NOT: scf.for
// CHECK: linalg.generic
// CHECK-NOT: vector.transfer_read
// CHECK: return
func.func @int4(%x: tensor<2x32xf32>) -> !lowbit.qtensor<2x32xi4, per_axis<0>> {
  %q = lowbit.quantize %x : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi4, per_axis<0>>
  return %q : !lowbit.qtensor<2x32xi4, per_axis<0>>
}

// -----

// Asymmetric (zero points): reference lowering.
// CHECK-LABEL: func.func @asymmetric(
// CHECK-SAME: -> (tensor<2x32xi8>, tensor<2xf32>, tensor<2xi32>)
// CHECK-NOT: scf.for
// CHECK: linalg.generic
// CHECK-NOT: vector.transfer_read
// CHECK: return
func.func @asymmetric(%x: tensor<2x32xf32>) -> !lowbit.qtensor<2x32xi8, per_axis<0>, asymmetric> {
  %q = lowbit.quantize %x : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_axis<0>, asymmetric>
  return %q : !lowbit.qtensor<2x32xi8, per_axis<0>, asymmetric>
}

// -----

// A given scale (static quantization): no amax to compute, the reference
// lowering's elementwise encoding.
// CHECK-LABEL: func.func @static_scale(
// CHECK-NOT: scf.for
// CHECK: linalg.generic
// CHECK-NOT: vector.transfer_read
// CHECK: return
func.func @static_scale(%x: tensor<2x32xf32>, %s: tensor<2xf32>) -> !lowbit.qtensor<2x32xi8, per_axis<0>> {
  %q = lowbit.quantize %x scale(%s : tensor<2xf32>) : tensor<2x32xf32> -> !lowbit.qtensor<2x32xi8, per_axis<0>>
  return %q : !lowbit.qtensor<2x32xi8, per_axis<0>>
}

// -----

// A scale per block of 32 inputs of a row, stored as f16 (llama.cpp's q8_0
// activations): per row, a loop over the blocks; each block's amax, its
// scale rounded to f16 as stored (saturating, never zero), and its codes
// divided by that stored scale.
// CHECK-LABEL: func.func @per_block_f16(
// CHECK-SAME: -> (tensor<2x64xi8>, tensor<2x2xf16>)
// CHECK-NOT: linalg.generic
// CHECK: scf.for %[[M:[a-z0-9_]+]] = {{.*}} -> (tensor<2x64xi8>, tensor<2x2xf16>)
// CHECK: scf.for %[[B:[a-z0-9_]+]] = {{.*}} -> (tensor<2x64xi8>, tensor<2x2xf16>)
// CHECK: %[[BASE:.*]] = arith.muli %[[B]], %c32
// CHECK: vector.reduction <maxnumf>
// CHECK: %[[H:.*]] = arith.truncf %{{.*}} : f32 to f16
// CHECK: math.copysign
// CHECK: tensor.insert %[[ST:[a-z0-9_]+]] into %{{.*}}[%[[M]], %[[B]]] : tensor<2x2xf16>
// CHECK: %[[SF:.*]] = arith.extf %[[ST]] : f16 to f32
// CHECK: vector.broadcast %[[SF]] : f32 to vector<16xf32>
// CHECK: math.roundeven
func.func @per_block_f16(%x: tensor<2x64xf32>) -> !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = f16> {
  %q = lowbit.quantize %x : tensor<2x64xf32> -> !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = f16>
  return %q : !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = f16>
}
