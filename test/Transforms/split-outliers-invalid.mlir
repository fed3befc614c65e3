// RUN: not lowbit-opt %s --lowbit-split-outliers 2>&1 | FileCheck --check-prefix=NOCAL %s
// RUN: not lowbit-opt %s --lowbit-split-outliers="mode=sometimes" 2>&1 | FileCheck --check-prefix=MODE %s
// RUN: rm -rf %t.cal && mkdir -p %t.cal && echo '{"format": "lowbit-calibration-1", "sites": []}' > %t.cal/index.json
// RUN: not lowbit-opt %s --lowbit-split-outliers="calibration=%t.cal" 2>&1 | FileCheck --check-prefix=NOSITE %s
// RUN: lowbit-opt %s --lowbit-split-outliers="mode=dynamic" | FileCheck --check-prefix=DYN %s

// NOCAL: error: lowbit-split-outliers: mode=static needs calibration=DIR
// MODE: error: lowbit-split-outliers: mode is static or dynamic, not 'sometimes'
// NOSITE: error: 'linalg.matmul' op lowbit-split-outliers (site 'f.matmul0'): no calibration statistics with 64 channels in
// Dynamic: column max |x| >= 6 picks the outlier columns per call; masked
// int8 product plus the f32 product of the masked outliers.
// DYN-LABEL: func.func @f
// DYN: arith.maximumf
// DYN: arith.cmpf oge
// DYN: linalg.matmul
// DYN: lowbit.quantize
// DYN: lowbit.quantize %cst :
// DYN: lowbit.qmatmul
// DYN: arith.addf

func.func @f(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
