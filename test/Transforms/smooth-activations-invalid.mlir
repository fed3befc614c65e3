// RUN: not lowbit-opt %s --lowbit-smooth-activations 2>&1 | FileCheck --check-prefix=NOCAL %s
// RUN: not lowbit-opt %s --lowbit-smooth-activations="calibration=%t.none" 2>&1 | FileCheck --check-prefix=NODIR %s
// RUN: rm -rf %t.cal && mkdir -p %t.cal && echo '{"format": "lowbit-calibration-1", "sites": []}' > %t.cal/index.json
// RUN: not lowbit-opt %s --lowbit-smooth-activations="calibration=%t.cal" 2>&1 | FileCheck --check-prefix=NOSITE %s
// RUN: not lowbit-opt %s --lowbit-smooth-activations="calibration=%t.cal alpha=1.5" 2>&1 | FileCheck --check-prefix=ALPHA %s

// NOCAL: error: lowbit-smooth-activations: needs calibration=DIR (statistics of lowbit-calibrate)
// NODIR: error: lowbit-smooth-activations: {{.*}}none/index.json: No such file or directory
// NOSITE: error: 'linalg.matmul' op lowbit-smooth-activations (site 'f.matmul0'): no calibration statistics in
// ALPHA: error: lowbit-smooth-activations: alpha must be in [0, 1]

func.func @f(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
