// RUN: lowbit-opt %s -split-input-file --lowbit-lower-launches -verify-diagnostics | FileCheck %s

// A bufferized launch becomes lbrt_model_launch(ptx, kernel name, desc,
// buffers): desc = launch (7 values), the buffer count, then per buffer
// its bytes and kind (0 input, 1 output, 2 constant input: a weight the
// runtime uploads once). A strided buffer travels through a contiguous
// copy (the output is copied back after the launch).
// CHECK-LABEL: func.func @f
// CHECK: %[[ARR:.*]] = llvm.alloca %{{.*}} x !llvm.array<3 x ptr>
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: memref.extract_aligned_pointer_as_index %[[W:.*]] :
// CHECK: memref.extract_aligned_pointer_as_index %arg1
// CHECK: %[[PTX:.*]] = llvm.mlir.addressof @__lowbit_ptx
// CHECK: %[[NAME:.*]] = llvm.mlir.addressof @__lowbit_kernel_0
// CHECK: %[[DESC:.*]] = llvm.mlir.addressof @__lowbit_launch_0
// CHECK: llvm.call @lbrt_model_launch(%[[PTX]], %[[NAME]], %[[DESC]], %[[ARR]])
// CHECK: %[[TMP_IN:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: memref.copy %{{.*}}, %[[TMP_IN]]
// CHECK: %[[TMP_OUT:.*]] = memref.alloc() : memref<8xf32>
// CHECK: llvm.call @lbrt_model_launch
// CHECK: memref.copy %[[TMP_OUT]], %{{.*}} : memref<8xf32> to memref<8xf32, strided<[2]>>
// CHECK-DAG: memref.dealloc %[[TMP_IN]]
// CHECK-DAG: memref.dealloc %[[TMP_OUT]]
// CHECK-NOT: lowbit.launch
// CHECK-DAG: llvm.mlir.global internal constant @__lowbit_kernel_0("k\00")
// CHECK-DAG: llvm.mlir.global internal constant @__lowbit_launch_0(dense<[2, 1, 1, 128, 1, 1, 0, 3, 256, 0, 512, 2, 64, 1]> : tensor<14xi64>)
// CHECK-DAG: llvm.mlir.global internal constant @__lowbit_launch_1(dense<[1, 1, 1, 32, 1, 1, 0, 2, 128, 0, 32, 1]> : tensor<12xi64>)
// CHECK-DAG: llvm.func @lbrt_model_launch(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
llvm.mlir.global internal constant @__lowbit_ptx("ptx\00")
memref.global "private" constant @w : memref<128xi32> = dense<0>
func.func @f(%x: memref<64xf32>, %y: memref<16xf32>, %big: memref<8x8xf32>, %out: memref<16xf32>) {
  %w = memref.get_global @w : memref<128xi32>
  lowbit.launch @lowbit_gpu::@k [2, 1, 1, 128, 1, 1, 0] ins(%x, %w : memref<64xf32>, memref<128xi32>) outs(%y : memref<16xf32>)
  %sub = memref.subview %big[0, 0] [4, 8] [1, 1] : memref<8x8xf32> to memref<4x8xf32, strided<[8, 1]>>
  %strided = memref.subview %out[0] [8] [2] : memref<16xf32> to memref<8xf32, strided<[2]>>
  lowbit.launch @lowbit_gpu::@k2 [1, 1, 1, 32, 1, 1, 0] ins(%sub : memref<4x8xf32, strided<[8, 1]>>) outs(%strided : memref<8xf32, strided<[2]>>)
  return
}

// -----

func.func @no_ptx(%x: memref<4xf32>, %y: memref<4xf32>) {
  // expected-error @+1 {{lowbit-lower-launches: no @__lowbit_ptx (run lowbit-offload-to-gpu)}}
  lowbit.launch @lowbit_gpu::@k [1, 1, 1, 32, 1, 1, 0] ins(%x : memref<4xf32>) outs(%y : memref<4xf32>)
  return
}

// -----

llvm.mlir.global internal constant @__lowbit_ptx("ptx\00")
func.func @in_parallel(%x: memref<4xf32>, %y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%c2) step (%c1) {
    // expected-error @+1 {{lowbit-lower-launches: a GPU launch inside a parallel loop is not supported}}
    lowbit.launch @lowbit_gpu::@k [1, 1, 1, 32, 1, 1, 0] ins(%x : memref<4xf32>) outs(%y : memref<4xf32>)
    scf.reduce
  }
  return
}
