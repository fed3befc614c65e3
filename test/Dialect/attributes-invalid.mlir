// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// The discardable attributes of docs/Spec.md (LB-A1 to LB-A6) are verified
// by the dialect.

// expected-error @+1 {{[LB-A1] lowbit.range of argument 0 is array<i64: lo, hi> (lo <= hi) on a tensor or memref of integers}}
func.func @range_reversed(%t: tensor<1xi32> {lowbit.range = array<i64: 5, 1>}) {
  return
}

// -----

// expected-error @+1 {{[LB-A1] lowbit.range of argument 0 is array<i64: lo, hi> (lo <= hi) on a tensor or memref of integers}}
func.func @range_on_floats(%t: tensor<1xf32> {lowbit.range = array<i64: 0, 1>}) {
  return
}

// -----

// expected-error @+1 {{[LB-A1] lowbit.range of argument 0 exceeds i8}}
func.func @range_too_wide(%t: tensor<1xi8> {lowbit.range = array<i64: 0, 300>}) {
  return
}

// -----

// expected-error @+1 {{[LB-A2] lowbit.tied_results entries are -1 or an argument index, got 3 : i64}}
func.func @tied_index(%a: memref<2xf32>) -> memref<2xf32> attributes {lowbit.tied_results = [3]} {
  return %a : memref<2xf32>
}

// -----

// expected-error @+1 {{[LB-A3] lowbit.packed marks a rank-2 qtensor argument of 8-bit integers (argument 0)}}
func.func @packed_int4(%w: !lowbit.qtensor<16x32xi4, per_axis<0>> {lowbit.packed}) {
  return
}

// -----

// expected-error @+1 {{[LB-A4] lowbit.llvm_intrinsic names an LLVM intrinsic ("llvm.*") on a function declaration}}
func.func private @not_llvm(vector<16xi32>) -> vector<16xi32> attributes {lowbit.llvm_intrinsic = "x86.vpdpbusd"}

// -----

// expected-error @+1 {{[LB-A5] lowbit.calibration_sites is an array of strings on a module}}
module attributes {lowbit.calibration_sites = [1, 2]} {
}

// -----

func.func @not_a_site(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{[LB-A6] lowbit.not_a_site is a unit attribute}}
  %0 = arith.addf %a, %a {lowbit.not_a_site = 1 : i64} : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// expected-error @+1 {{unknown lowbit attribute 'lowbit.ranges' on a region argument}}
func.func @misspelled(%t: tensor<1xi32> {lowbit.ranges = array<i64: 0, 1>}) {
  return
}

// -----

func.func @unknown_on_op(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{unknown lowbit attribute 'lowbit.fast' on an operation}}
  %0 = arith.addf %a, %a {lowbit.fast} : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// expected-error @+1 {{[LB-A1, LB-A3] lowbit.range belongs on a function argument}}
func.func @range_on_function() attributes {lowbit.range = array<i64: 0, 1>} {
  return
}

// -----

func.func @gpu_kernel_flat(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{[LB-A7] lowbit.gpu_kernel is the kernel's @module::@name}}
  %0 = arith.addf %a, %a {lowbit.gpu_kernel = @k} : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @gpu_launch_zero_block(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{[LB-A8] lowbit.gpu_launch is array<i64: grid x, y, z, block x, y, z, shared bytes> (sizes >= 1, bytes >= 0)}}
  %0 = arith.addf %a, %a {lowbit.gpu_launch = array<i64: 1, 1, 1, 0, 1, 1, 0>} : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @gpu_params_not_types(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{[LB-A9] lowbit.gpu_params is an array of the kernel's parameter types}}
  %0 = arith.addf %a, %a {lowbit.gpu_params = [1 : i64]} : tensor<2xf32>
  return %0 : tensor<2xf32>
}
