// RUN: lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_group<[in : 48]>'})" -verify-diagnostics
// RUN: not lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{method=awq2})" 2>&1 | FileCheck --check-prefix=METHOD %s
// RUN: not lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{policy='lm_head'})" 2>&1 | FileCheck --check-prefix=POLICY %s
// RUN: not lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_group<[in : 32]>, symmetric'})" 2>&1 | FileCheck --check-prefix=SCHEME %s
// A named site (frontends' loc("layer.name")) is named in the diagnostic.
// RUN: echo 'func.func @f(%%x: tensor<4x64xf32>, %%z: tensor<4x32xf32>) -> tensor<4x32xf32> { %%w = arith.constant dense<1.0> : tensor<64x32xf32> %%c = arith.constant 0.0 : f32 %%f = linalg.fill ins(%%c : f32) outs(%%z : tensor<4x32xf32>) -> tensor<4x32xf32> %%y = linalg.matmul ins(%%x, %%w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%%f : tensor<4x32xf32>) -> tensor<4x32xf32> loc("up") return %%y : tensor<4x32xf32> }' | not lowbit-opt --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_group<[in : 32]>, symmetric'})" 2>&1 | FileCheck --check-prefix=NAMED %s

// METHOD: error: lowbit-quantize-weights: unknown method 'awq2' (available: rtn, gptq, hqq, awq)
// RUN: not lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{method=gptq})" 2>&1 | FileCheck --check-prefix=NOCAL %s
// NOCAL: error: lowbit-quantize-weights: method=gptq needs calibration=DIR (statistics of lowbit-calibrate --gram)
// RUN: not lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{method=gptq calibration=%t.nothere})" 2>&1 | FileCheck --check-prefix=NODIR %s
// NODIR: error: lowbit-quantize-weights: {{.*}}nothere/index.json: No such file or directory
// RUN: rm -rf %t.cal && mkdir -p %t.cal && echo '{"format": "lowbit-calibration-1", "sites": []}' > %t.cal/index.json
// RUN: not lowbit-opt %s -split-input-file --pass-pipeline="builtin.module(lowbit-quantize-weights{method=gptq calibration=%t.cal scheme='i4, per_group<[in : 32]>'})" 2>&1 | FileCheck --check-prefix=NOSITE %s
// NOSITE: error: 'linalg.matmul' op lowbit-quantize-weights (site 'ragged.matmul0'): no calibration statistics for this site in
// POLICY: error: lowbit-quantize-weights: policy entry 'lm_head' is not glob=scheme or glob=keep
// SCHEME: quantize-weights-invalid.mlir:{{[0-9]+}}:8: error: 'linalg.matmul' op lowbit-quantize-weights (site 'ragged.matmul0'): invalid scheme 'i4, per_group<[in : 32]>, symmetric': unknown scheme option 'symmetric'
// NAMED: error: loc("up"): 'linalg.matmul' op lowbit-quantize-weights (site 'up'): invalid scheme

// Blocks that do not divide the weight: the type's own constraint.
func.func @ragged(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  // expected-error @+1 {{lowbit-quantize-weights (site 'ragged.matmul0'): [LB-T3] group size 48 does not divide dimension 0 of size 64}}
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// Non-finite weights are named, never quantized into garbage.
func.func @nan(%x: tensor<4x96xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [0x7FC00000, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]> : tensor<96x2xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  // expected-error @+1 {{lowbit-quantize-weights (site 'nan.matmul0'): element [1, 0] is NaN, which this format cannot represent}}
  %y = linalg.matmul ins(%x, %w : tensor<4x96xf32>, tensor<96x2xf32>) outs(%z : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
