// RUN: lowbit-opt %s | lowbit-opt | FileCheck %s

// The discardable attributes of docs/Spec.md (LB-A1 to LB-A6) round-trip.

// CHECK-LABEL: module attributes {lowbit.calibration_sites = ["mm0", "mm1"]}
module attributes {lowbit.calibration_sites = ["mm0", "mm1"]} {
  // CHECK-LABEL: func.func @decode
  // CHECK-SAME: tensor<1xi32> {lowbit.range = array<i64: 0, 15>}
  // CHECK-SAME: attributes {lowbit.tied_results = [-1, 1]}
  func.func @decode(%t: tensor<1xi32> {lowbit.range = array<i64: 0, 15>}, %c: memref<4xf32>) -> (memref<4xf32>, memref<4xf32>) attributes {lowbit.tied_results = [-1, 1]} {
    return %c, %c : memref<4xf32>, memref<4xf32>
  }
  // CHECK-LABEL: func.func @packed
  // CHECK-SAME: {lowbit.packed}
  func.func @packed(%w: !lowbit.qtensor<16x32xi8, per_axis<0>> {lowbit.packed}) {
    return
  }
  // CHECK-LABEL: func.func private @dot
  // CHECK-SAME: attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
  func.func private @dot(vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32> attributes {lowbit.llvm_intrinsic = "llvm.x86.avx512.vpdpbusd.512"}
  // CHECK-LABEL: func.func @rotation
  // CHECK: arith.addf {{.*}} {lowbit.not_a_site}
  func.func @rotation(%a: tensor<2xf32>) -> tensor<2xf32> {
    %0 = arith.addf %a, %a {lowbit.not_a_site} : tensor<2xf32>
    return %0 : tensor<2xf32>
  }
}
