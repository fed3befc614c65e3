// RUN: lowbit-opt %s --lowbit-lower-to-cpu=target-cpu=znver4 -split-input-file | FileCheck %s

// The f32 kernel family (F32Kernel.cpp, docs/CodegenCPU.md): an f32
// linalg.matmul with transposed-B maps and static shapes, y[m, n] +=
// x[m, k] * w[n, k] (the Llama importer's fp32 projections), becomes a call
// of a kernel that FMAs over 16 lanes and adds the destination's value
// (linalg.matmul accumulates into it). Numbers: test/E2E/cpu-f32-matmul.py.

// GEMV, K = 70: 4 independent accumulator chains per channel (64 inputs a
// step), then the K tail: no whole step of 16 is left, so one masked read
// (no in_bounds). N = 17: one parallel unit of 16 channels (scf.forall)
// and a tail of one. The destination is the caller's, passed through.
// CHECK-LABEL: func.func @gemv(
// CHECK-SAME: %[[X:.*]]: tensor<1x70xf32>, %[[W:.*]]: tensor<17x70xf32>, %[[C:.*]]: tensor<1x17xf32>) -> tensor<1x17xf32>
// CHECK-NOT: linalg.matmul
// CHECK: %[[Y:.*]] = call @__lowbit_f32_1x17x70(%[[X]], %[[W]], %[[C]]) : (tensor<1x70xf32>, tensor<17x70xf32>, tensor<1x17xf32>) -> tensor<1x17xf32>
// CHECK: return %[[Y]]
// CHECK-LABEL: func.func private @__lowbit_f32_1x17x70(
// CHECK-SAME: %[[KX:.*]]: tensor<1x70xf32>, %[[KW:.*]]: tensor<17x70xf32>, %[[KY:.*]]: tensor<1x17xf32>) -> tensor<1x17xf32>
// CHECK: %[[UNITS:.*]] = scf.forall (%{{.*}}) in (1) shared_outs(%[[OUT:.*]] = %[[KY]]) -> (tensor<1x17xf32>)
// CHECK: %[[A:.*]]:4 = scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c64{{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[WV:.*]] = vector.transfer_read %[[KW]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<17x70xf32>, vector<16xf32>
// CHECK: %[[XV:.*]] = vector.transfer_read %[[KX]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x70xf32>, vector<16xf32>
// CHECK: vector.fma %[[XV]], %[[WV]], %{{.*}} : vector<16xf32>
// CHECK-COUNT-3: vector.fma
// CHECK: scf.yield
// CHECK: %[[WT:.*]] = vector.transfer_read %[[KW]][%{{.*}}, %c64{{.*}}], %{{.*}} : tensor<17x70xf32>, vector<16xf32>
// CHECK: %[[XT:.*]] = vector.transfer_read %[[KX]][%{{.*}}, %c64{{.*}}], %{{.*}} : tensor<1x70xf32>, vector<16xf32>
// CHECK: %[[F:.*]] = vector.fma %[[XT]], %[[WT]], %[[A]]#0 : vector<16xf32>
// CHECK: %[[S1:.*]] = arith.addf %[[F]], %[[A]]#1 : vector<16xf32>
// CHECK: %[[S2:.*]] = arith.addf %[[S1]], %[[A]]#2 : vector<16xf32>
// CHECK: %[[S3:.*]] = arith.addf %[[S2]], %[[A]]#3 : vector<16xf32>
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %[[S3]] fastmath<reassoc> : vector<16xf32> into f32
// CHECK: %[[INIT:.*]] = tensor.extract %{{.*}} : tensor<1x16xf32>
// CHECK: %[[R:.*]] = arith.addf %[[INIT]], %[[SUM]] : f32
// CHECK: tensor.insert %[[R]] into %{{.*}} : tensor<1x16xf32>
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %{{.*}}] [1, 16] [1, 1]
// CHECK: scf.for %{{.*}} = %c16 to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[UNITS]])
func.func @gemv(%x: tensor<1x70xf32>, %w: tensor<17x70xf32>, %c: tensor<1x17xf32>) -> tensor<1x17xf32> {
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<1x70xf32>, tensor<17x70xf32>) outs(%c : tensor<1x17xf32>) -> tensor<1x17xf32>
  return %y : tensor<1x17xf32>
}

// -----

// GEMM (M = 5) with the weights a dense_resource blob, as the importer
// writes them: the constant is the kernel's operand. Tiles of 4 rows x 2
// channels (8 accumulators, one chain each), K = 20: one step of 16, then
// a masked tail.
// CHECK-LABEL: func.func @gemm(
// CHECK-SAME: %[[X:.*]]: tensor<5x20xf32>, %[[C:.*]]: tensor<5x3xf32>) -> tensor<5x3xf32>
// CHECK: %[[W:.*]] = arith.constant dense_resource<gemm_w> : tensor<3x20xf32>
// CHECK: call @__lowbit_f32_5x3x20(%[[X]], %[[W]], %[[C]]) : (tensor<5x20xf32>, tensor<3x20xf32>, tensor<5x3xf32>) -> tensor<5x3xf32>
// CHECK-LABEL: func.func private @__lowbit_f32_5x3x20(
// CHECK-NOT: scf.forall
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c2
// CHECK: %{{.*}}:8 = scf.for %{{.*}} = %{{.*}} to %c16{{.*}} step %c16
// CHECK-COUNT-8: vector.fma
// CHECK: vector.transfer_read %{{.*}}[%{{.*}}, %c16{{.*}}], %{{.*}} : tensor<3x20xf32>, vector<16xf32>
// CHECK: vector.reduction <add>
// CHECK: gemm_w: "0x04000000
func.func @gemm(%x: tensor<5x20xf32>, %c: tensor<5x3xf32>) -> tensor<5x3xf32> {
  %w = arith.constant dense_resource<gemm_w> : tensor<3x20xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<5x20xf32>, tensor<3x20xf32>) outs(%c : tensor<5x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

{-#
  dialect_resources: {
    builtin: {
      gemm_w: "0x04000000000000000000003e0000803e0000c03e0000003f0000203f0000403f0000603f0000803f0000903f0000a03f0000b03f0000c03f0000d03f0000e03f0000f03f0000004000000840000010400000184000002040000028400000304000003840000040400000484000005040000058400000604000006840000070400000784000008040000084400000884000008c4000009040000094400000984000009c400000a0400000a4400000a8400000ac400000b0400000b4400000b8400000bc400000c0400000c4400000c8400000cc400000d0400000d4400000d8400000dc400000e0400000e4400000e8400000ec40"
    }
  }
#-}

// -----

// Not taken (the matmul stays for the reference lowering): the default maps
// (W is [K, N])...
// CHECK-LABEL: func.func @not_transposed(
// CHECK: linalg.matmul ins(
// CHECK-NOT: @__lowbit_
func.func @not_transposed(%x: tensor<2x8xf32>, %w: tensor<8x3xf32>, %c: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x3xf32>) outs(%c : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// f16 and bf16 weights with f32 activations and result (the importer's
// f16 / bf16 matrices as stored): the same kernel reading 16 halves a step
// and widening them exactly.
// CHECK-LABEL: func.func @half_weights(
// CHECK: call @__lowbit_f32_1x3x40_wf16(
// CHECK: call @__lowbit_f32_1x3x40_wbf16(
// CHECK-LABEL: func.func private @__lowbit_f32_1x3x40_wf16(
// CHECK: %[[W:.*]] = vector.transfer_read %{{.*}} {in_bounds = [true]} : tensor<3x40xf16>, vector<16xf16>
// CHECK: arith.extf %[[W]] : vector<16xf16> to vector<16xf32>
// CHECK: vector.fma
func.func @half_weights(%x: tensor<1x40xf32>, %w: tensor<3x40xf16>, %v: tensor<3x40xbf16>, %c: tensor<1x3xf32>) -> (tensor<1x3xf32>, tensor<1x3xf32>) {
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<1x40xf32>, tensor<3x40xf16>) outs(%c : tensor<1x3xf32>) -> tensor<1x3xf32>
  %z = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %v : tensor<1x40xf32>, tensor<3x40xbf16>) outs(%c : tensor<1x3xf32>) -> tensor<1x3xf32>
  return %y, %z : tensor<1x3xf32>, tensor<1x3xf32>
}

// -----

// ... f16 operands ...
// CHECK-LABEL: func.func @f16(
// CHECK: linalg.matmul
// CHECK-NOT: @__lowbit_
func.func @f16(%x: tensor<2x8xf16>, %w: tensor<3x8xf16>, %c: tensor<2x3xf16>) -> tensor<2x3xf16> {
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<2x8xf16>, tensor<3x8xf16>) outs(%c : tensor<2x3xf16>) -> tensor<2x3xf16>
  return %y : tensor<2x3xf16>
}

// -----

// ... and dynamic shapes.
// CHECK-LABEL: func.func @dynamic(
// CHECK: linalg.matmul
// CHECK-NOT: @__lowbit_
func.func @dynamic(%x: tensor<?x8xf32>, %w: tensor<3x8xf32>, %c: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<?x8xf32>, tensor<3x8xf32>) outs(%c : tensor<?x3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
