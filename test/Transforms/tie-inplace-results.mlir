// RUN: lowbit-opt %s --lowbit-tie-inplace-results | FileCheck %s

// A buffer result that is an argument (written in place) stops being a
// result; the function records which argument each result was.
// CHECK-LABEL: func.func @step(
// CHECK-SAME: -> memref<2xf32> attributes {lowbit.tied_results = [-1, 0]}
// CHECK: return %{{.*}} : memref<2xf32>
func.func @step(%c: memref<4x8xf32>, %v: memref<1x8xf32>) -> (memref<2xf32>, memref<4x8xf32>) {
  %a = memref.alloc() : memref<2xf32>
  return %a, %c : memref<2xf32>, memref<4x8xf32>
}

// Two caches, both tied, and a result of its own between them.
// CHECK-LABEL: func.func @two(
// CHECK-SAME: -> memref<3xf32> attributes {lowbit.tied_results = [1, -1, 0]}
func.func @two(%k: memref<4xf32>, %v: memref<4xf32>) -> (memref<4xf32>, memref<3xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<3xf32>
  return %v, %a, %k : memref<4xf32>, memref<3xf32>, memref<4xf32>
}

// Private functions, scalar results equal to an argument and results
// that are not arguments are left alone.
// CHECK-LABEL: func.func private @inner(
// CHECK-SAME: -> memref<4xf32> {
// CHECK-NOT: lowbit.tied_results
func.func private @inner(%k: memref<4xf32>) -> memref<4xf32> {
  return %k : memref<4xf32>
}
// CHECK-LABEL: func.func @scalar(
// CHECK-SAME: -> (f32, memref<2xf32>) {
func.func @scalar(%x: f32) -> (f32, memref<2xf32>) {
  %a = memref.alloc() : memref<2xf32>
  return %x, %a : f32, memref<2xf32>
}
