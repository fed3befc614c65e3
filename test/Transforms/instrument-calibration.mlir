// RUN: lowbit-opt %s --lowbit-instrument-calibration=entry=mlp | FileCheck %s
// RUN: not lowbit-opt %s --lowbit-instrument-calibration=entry=nothere 2>&1 | FileCheck --check-prefix=NOENTRY %s

// Every site passes its activations (the left operand) to the recorder,
// numbered in the order of lowbit-quantize-weights' sites; the wrapper calls
// the entry with its arguments.
// CHECK: module attributes {lowbit.calibration_sites = ["layers.0.up", "mlp.matmul1"]}
// CHECK: func.func private @lowbitCalibRecord(i64, tensor<*xf32> {bufferization.access = "read"}) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @mlp
// CHECK: %[[ID0:.*]] = arith.constant 0 : i64
// CHECK: %[[U0:.*]] = tensor.cast %arg0 : tensor<4x64xf32> to tensor<*xf32>
// CHECK: call @lowbitCalibRecord(%[[ID0]], %[[U0]])
// CHECK: %[[H:.*]] = linalg.matmul ins(%arg0,
// CHECK: %[[ID1:.*]] = arith.constant 1 : i64
// CHECK: %[[U1:.*]] = tensor.cast %[[H]] : tensor<4x32xf32> to tensor<*xf32>
// CHECK: call @lowbitCalibRecord(%[[ID1]], %[[U1]])
// CHECK: linalg.matmul indexing_maps
// CHECK: func.func @__lowbit_calibrate(%[[A:.*]]: tensor<4x64xf32>) attributes {llvm.emit_c_interface}
// CHECK-NEXT: call @mlp(%[[A]])
// CHECK-NEXT: return

// NOENTRY: error: lowbit-instrument-calibration: no function @nothere with a body

func.func @mlp(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %w2 = arith.constant dense<-0.25> : tensor<16x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %h = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32> loc("layers.0.up")
  %e2 = tensor.empty() : tensor<4x16xf32>
  %z2 = linalg.fill ins(%c0 : f32) outs(%e2 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>] ins(%h, %w2 : tensor<4x32xf32>, tensor<16x32xf32>) outs(%z2 : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}
