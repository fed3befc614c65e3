//===- Passes.td - lowbit conversion passes ----------------*- tablegen -*-===//

#ifndef LOWBIT_CONVERSION_PASSES_TD
#define LOWBIT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowbitLowerToLinalg : Pass<"lowbit-lower-to-linalg", "ModuleOp"> {
  let summary = "Reference lowering of lowbit ops to linalg, arith and tensor";
  let description = [{
    The executable definition of lowbit's semantics (docs/Spec.md): every
    `!lowbit.qtensor` becomes its run-time parts (packed i8 codes, scales,
    zero points, tensor scale), across function boundaries too, and every
    lowbit op becomes linalg.generic/arith/math on tensors: RNE rounding,
    saturation, sub-byte packing and FP8/FP6/FP4/E8M0 encoding done with
    integer bit manipulation.

    Before:
    ```mlir
    %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
    %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
    ```
    After (abridged):
    ```mlir
    %amax = linalg.generic {iterator_types = ["parallel", "reduction"]} ...
    %scale = linalg.generic ... arith.divf %amax, %c127 ...
    %codes = linalg.generic ... math.roundeven ... arith.fptosi ... : tensor<4x64xi8>
    %y = linalg.generic ... arith.sitofp ... arith.mulf ...
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect",
    "::mlir::func::FuncDialect"
  ];
}

def LowbitFromQuant : Pass<"lowbit-from-quant", "ModuleOp"> {
  let summary = "Convert upstream quant types and casts into lowbit";
  let description = [{
    `quant.qcast` to `!quant.uniform` (per-layer, per-axis, sub-channel)
    becomes `lowbit.quantize` with static scale and zero-point constants,
    `quant.dcast` becomes `lowbit.dequantize`, and `quant.scast` of a
    quantized value to its storage is rejected with a diagnostic (lowbit's
    codes are packed). Types lowbit cannot represent (storage wider than 8
    bits, f16 storage, storage ranges narrower than the type's) are reported
    with the op's location.

    Before:
    ```mlir
    %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8:f32, 0.5:3>>
    ```
    After:
    ```mlir
    %s = arith.constant dense<5.000000e-01> : tensor<f32>
    %z = arith.constant dense<3> : tensor<i32>
    %q = lowbit.quantize %x scale(%s : tensor<f32>) zero_point(%z : tensor<i32>)
        : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor, asymmetric, full_range...>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::lowbit::LowbitDialect"];
}

def LowbitToQuant : Pass<"lowbit-to-quant", "ModuleOp"> {
  let summary = "Convert lowbit quantize/dequantize with static integer parameters to upstream quant";
  let description = [{
    The inverse of `lowbit-from-quant` where upstream can represent the
    scheme: integer codes, f32 scales given as constants, per-tensor,
    per-axis or per-group granularity. Anything else (float element formats,
    E8M0 scales, dynamic scales, packed constants) is reported.

    Before:
    ```mlir
    %q = lowbit.quantize %x scale(%s : tensor<f32>) : tensor<4xf32> -> !lowbit.qtensor<4xi8, per_tensor>
    ```
    After:
    ```mlir
    %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<i8<-127:127>:f32, 5.000000e-01>>
    ```
  }];
  let dependentDialects = ["::mlir::quant::QuantDialect"];
}

def LowbitLowerQMatmulCPU : Pass<"lowbit-lower-qmatmul-cpu", "ModuleOp"> {
  let summary = "Lower quantized matmuls to CPU vector code (first micro-kernels)";
  let description = [{
    CPU code generation (docs/CodegenCPU.md), first micro-kernel:
    `lowbit.qmatmul` of f32 activations [M, K] by a constant int4 weight
    stored per output channel (`transpose_b`, `!lowbit.qtensor<NxKxi4,
    per_group<[1 : g]>>`, f32 scales, g a multiple of 32) becomes a call to
    a generated kernel: scf loops over rows and outputs, 16 bytes of codes
    per step split into nibbles (sign-extended with shifts), converted to
    f32 and multiplied with the activations' even and odd elements (so no
    interleave), one vector FMA chain per group, scaled once per group,
    and a horizontal sum per output. Other qmatmuls are left to the
    reference lowering. The codes are read in their stored layout (no
    packing yet).

    ```mlir
    %y = lowbit.qmatmul %x, %w {transpose_b} : tensor<1x4096xf32>,
         !lowbit.qtensor<4096x4096xi4, per_group<[1 : 32]>> -> tensor<1x4096xf32>
    ```
    becomes
    ```mlir
    %y = call @__lowbit_w4_gemv_1x4096x4096_g32(%x, %codes, %scales) : ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // LOWBIT_CONVERSION_PASSES_TD
