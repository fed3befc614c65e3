// RUN: lowbit-opt %s --lowbit-free-after-last-use | FileCheck %s

// Buffer deallocation frees at the end of a block; this pass frees each
// buffer right after the last op that uses it or a view of it.

func.func private @k(memref<4x32xf32>, memref<4x32xf32>)
func.func private @k2(memref<128xf32>)

// CHECK-LABEL: func.func @step(
// CHECK: %[[A:.*]] = memref.alloc() : memref<4x32xf32>
// CHECK-NEXT: call @k(%{{.*}}, %[[A]])
// CHECK-NEXT: call @k(%[[A]], %{{.*}})
// CHECK-NEXT: memref.dealloc %[[A]]
// A view's use (collapse_shape) keeps the buffer alive until then.
// CHECK: %[[B:.*]] = memref.alloc() : memref<4x32xf32>
// CHECK-NEXT: call @k(%{{.*}}, %[[B]])
// CHECK-NEXT: %[[V:.*]] = memref.collapse_shape %[[B]]
// CHECK-NEXT: call @k2(%[[V]])
// CHECK-NEXT: memref.dealloc %[[B]]
// A use inside a loop: freed after the loop.
// CHECK: %[[C:.*]] = memref.alloc() : memref<4x32xf32>
// CHECK: scf.for
// CHECK-NEXT: call @k(%[[C]], %{{.*}})
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[C]]
// CHECK-NEXT: return
func.func @step(%x: memref<4x32xf32>, %y: memref<4x32xf32>, %n: index) {
  %a = memref.alloc() : memref<4x32xf32>
  func.call @k(%x, %a) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
  func.call @k(%a, %y) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
  %b = memref.alloc() : memref<4x32xf32>
  func.call @k(%x, %b) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
  %v = memref.collapse_shape %b [[0, 1]] : memref<4x32xf32> into memref<128xf32>
  func.call @k2(%v) : (memref<128xf32>) -> ()
  %c = memref.alloc() : memref<4x32xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    func.call @k(%c, %y) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
  }
  memref.dealloc %a : memref<4x32xf32>
  memref.dealloc %b : memref<4x32xf32>
  memref.dealloc %c : memref<4x32xf32>
  return
}
