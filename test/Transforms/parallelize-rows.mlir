// RUN: lowbit-opt %s --lowbit-parallelize-rows | FileCheck %s
// RUN: lowbit-opt %s --lowbit-parallelize-rows="tasks=2 min-rows=2" | FileCheck %s --check-prefix=TWO

// A prefill step's row-wise ops split into blocks of rows over threads
// (scf.forall): an elementwise op and a row reduction of 64 rows in 16
// blocks of 4, each block's slices in and out; the init of the reduction
// (64 elements, under min-work) stays as it is.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// CHECK-LABEL: func.func @rows(
// CHECK-SAME: %[[X:[^:]+]]: tensor<64x576xf32>, %[[Y:[^:]+]]: tensor<64x576xf32>)
// CHECK: %[[E:.*]] = tensor.empty() : tensor<64x576xf32>
// CHECK: %[[A:.*]] = scf.forall (%[[I:.*]]) = (0) to (64) step (4) shared_outs(%[[O:.*]] = %[[E]]) -> (tensor<64x576xf32>) {
// CHECK: %[[XS:.*]] = tensor.extract_slice %[[X]][%[[I]], 0] [4, 576] [1, 1]
// CHECK: %[[YS:.*]] = tensor.extract_slice %[[Y]][%[[I]], 0] [4, 576] [1, 1]
// CHECK: %[[OS:.*]] = tensor.extract_slice %[[O]][%[[I]], 0] [4, 576] [1, 1]
// CHECK: %[[G:.*]] = linalg.generic {{.*}} ins(%[[XS]], %[[YS]] : tensor<4x576xf32>, tensor<4x576xf32>) outs(%[[OS]] : tensor<4x576xf32>)
// CHECK: tensor.parallel_insert_slice %[[G]] into %[[O]][%[[I]], 0] [4, 576] [1, 1]
// CHECK: %[[F:.*]] = linalg.fill {{.*}} -> tensor<64xf32>
// CHECK: %[[R:.*]] = scf.forall (%[[J:.*]]) = (0) to (64) step (4) shared_outs(%[[RO:.*]] = %[[F]]) -> (tensor<64xf32>) {
// CHECK: tensor.extract_slice %[[A]][%[[J]], 0] [4, 576] [1, 1]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<4x576xf32>) outs(%{{.*}} : tensor<4xf32>)
// CHECK: return %[[A]], %[[R]]

// TWO-LABEL: func.func @rows(
// TWO: scf.forall (%{{.*}}) = (0) to (64) step (32)
func.func @rows(%x: tensor<64x576xf32>, %y: tensor<64x576xf32>) -> (tensor<64x576xf32>, tensor<64xf32>) {
  %e = tensor.empty() : tensor<64x576xf32>
  %a = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %y : tensor<64x576xf32>, tensor<64x576xf32>) outs(%e : tensor<64x576xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %s = arith.addf %p, %q : f32
    linalg.yield %s : f32
  } -> tensor<64x576xf32>
  %z = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<64xf32>
  %f = linalg.fill ins(%z : f32) outs(%e1 : tensor<64xf32>) -> tensor<64xf32>
  %r = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%a : tensor<64x576xf32>) outs(%f : tensor<64xf32>) {
  ^bb0(%p: f32, %o: f32):
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  return %a, %r : tensor<64x576xf32>, tensor<64xf32>
}

// A decode step's one row, a reduction first, a dynamic shape and an op in
// a loop: as they are.
// CHECK-LABEL: func.func @unsplit(
// CHECK-NOT: scf.forall
// CHECK: return
#t = affine_map<(d0, d1) -> (d1, d0)>
func.func @unsplit(%x: tensor<1x576xf32>, %t: tensor<576x64xf32>, %d: tensor<?x576xf32>, %n: index) -> (tensor<1x576xf32>, tensor<64xf32>, tensor<?x576xf32>, tensor<64x576xf32>) {
  %e = tensor.empty() : tensor<1x576xf32>
  %a = linalg.add ins(%x, %x : tensor<1x576xf32>, tensor<1x576xf32>) outs(%e : tensor<1x576xf32>) -> tensor<1x576xf32>
  %z = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<64xf32>
  %f = linalg.fill ins(%z : f32) outs(%e1 : tensor<64xf32>) -> tensor<64xf32>
  %r = linalg.generic {indexing_maps = [#t, #row], iterator_types = ["reduction", "parallel"]} ins(%t : tensor<576x64xf32>) outs(%f : tensor<64xf32>) {
  ^bb0(%p: f32, %o: f32):
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  %c0 = arith.constant 0 : index
  %dd = tensor.dim %d, %c0 : tensor<?x576xf32>
  %e2 = tensor.empty(%dd) : tensor<?x576xf32>
  %b = linalg.add ins(%d, %d : tensor<?x576xf32>, tensor<?x576xf32>) outs(%e2 : tensor<?x576xf32>) -> tensor<?x576xf32>
  %c1 = arith.constant 1 : index
  %e3 = tensor.empty() : tensor<64x576xf32>
  %l = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %e3) -> (tensor<64x576xf32>) {
    %s = linalg.fill ins(%z : f32) outs(%acc : tensor<64x576xf32>) -> tensor<64x576xf32>
    scf.yield %s : tensor<64x576xf32>
  }
  return %a, %r, %b, %l : tensor<1x576xf32>, tensor<64xf32>, tensor<?x576xf32>, tensor<64x576xf32>
}
