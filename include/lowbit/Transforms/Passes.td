//===- Passes.td - lowbit transformation passes ------------*- tablegen -*-===//

#ifndef LOWBIT_TRANSFORMS_PASSES_TD
#define LOWBIT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowbitQuantizeMatmuls : Pass<"lowbit-quantize-matmuls", "func::FuncOp"> {
  let summary = "Quantize the operands of linalg.matmul into lowbit.qmatmul";
  let description = [{
    Rewrites each `linalg.matmul` whose right operand is a constant into a
    `lowbit.qmatmul` on `lowbit.quantize`d weights (scheme `weight-scheme`,
    with axis names resolved against the weight's shape), and, when
    `activation-scheme` is set, quantized activations (dynamic scales). The
    schemes are written as the body of a `#lowbit.scheme`, with `last`
    allowed for the last axis and `out` for the output-channel axis.

    Before:
    ```mlir
    %w = arith.constant dense<...> : tensor<64x32xf32>
    %y = linalg.matmul ins(%x, %w : tensor<8x64xf32>, tensor<64x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
    ```
    After (`weight-scheme="i8, per_axis<out>"`):
    ```mlir
    %q = lowbit.quantize %w : tensor<64x32xf32> -> !lowbit.qtensor<64x32xi8, per_axis<1>>
    %y = lowbit.qmatmul %x, %q : tensor<8x64xf32>, !lowbit.qtensor<64x32xi8, per_axis<1>> -> tensor<8x32xf32>
    ```
  }];
  let options = [
    Option<"weightScheme", "weight-scheme", "std::string", "\"i8, per_axis<out>\"",
           "Scheme body for weights">,
    Option<"activationScheme", "activation-scheme", "std::string", "\"\"",
           "Scheme body for activations (empty: keep them in float)">
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

#endif // LOWBIT_TRANSFORMS_PASSES_TD
