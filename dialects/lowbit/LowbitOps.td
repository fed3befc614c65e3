//===- LowbitOps.td - lowbit operations --------------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_OPS_TD
#define LOWBIT_OPS_TD

include "lowbit/LowbitBase.td"
include "lowbit/LowbitAttrs.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"

def Lowbit_QTensor : Type<CPred<"::llvm::isa<::mlir::lowbit::QTensorType>($_self)">,
                          "quantized tensor", "::mlir::lowbit::QTensorType">;
def Lowbit_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Lowbit_TensorOrQTensor : AnyTypeOf<[Lowbit_FloatTensor, Lowbit_QTensor]>;

class Lowbit_Op<string mnemonic, list<Trait> traits = []>
    : Op<Lowbit_Dialect, mnemonic, traits>;

def Lowbit_QuantizeOp : Lowbit_Op<"quantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Quantize a float tensor";
  let description = [{
    Maps real values to codes with the result's scheme. Without `scale`
    operands the scales (and zero points) are computed from the data at run
    time (dynamic quantization, e.g. per-token activations) by the rules of
    docs/Spec.md; with them the given (static, e.g. calibrated) values are
    used. Rounding and saturation follow the scheme.

    ```mlir
    %q = lowbit.quantize %x : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_axis<0>>
    %s = lowbit.quantize %x scale(%sc : tensor<f32>)
        : tensor<4x64xf32> -> !lowbit.qtensor<4x64xi8, per_tensor>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$input,
                       Optional<AnyRankedTensor>:$scales,
                       Optional<AnyRankedTensor>:$zero_points,
                       Optional<AnyRankedTensor>:$tensor_scale);
  let results = (outs Lowbit_QTensor:$result);
  let assemblyFormat = [{
    $input (`scale` `(` $scales^ `:` type($scales) `)`)?
    (`zero_point` `(` $zero_points^ `:` type($zero_points) `)`)?
    (`tensor_scale` `(` $tensor_scale^ `:` type($tensor_scale) `)`)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    bool isDynamic() { return !getScales(); }
  }];
}

def Lowbit_DequantizeOp : Lowbit_Op<"dequantize", [Pure]> {
  let summary = "Decode a quantized tensor to its expressed type";
  let description = [{
    `(code - zero_point) * scale` (integers) or `decode(code) * scale`
    (floats), computed in f32 and rounded to the result element type. This
    op is never folded with a producing `lowbit.quantize`: quantization error
    is part of the program's meaning.

    ```mlir
    %y = lowbit.dequantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>> -> tensor<4x64xf32>
    ```
  }];
  let arguments = (ins Lowbit_QTensor:$input);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Lowbit_RequantizeOp : Lowbit_Op<"requantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Change the scheme of a quantized tensor";
  let description = [{
    Defined as `quantize(dequantize(input))` with the result scheme, the
    intermediate in f32; optional operands give static target parameters.

    ```mlir
    %r = lowbit.requantize %q : !lowbit.qtensor<4x64xi8, per_axis<0>>
                               -> !lowbit.qtensor<4x64xi4, per_group<[1 : 32]>>
    ```
  }];
  let arguments = (ins Lowbit_QTensor:$input,
                       Optional<AnyRankedTensor>:$scales,
                       Optional<AnyRankedTensor>:$zero_points,
                       Optional<AnyRankedTensor>:$tensor_scale);
  let results = (outs Lowbit_QTensor:$result);
  let assemblyFormat = [{
    $input (`scale` `(` $scales^ `:` type($scales) `)`)?
    (`zero_point` `(` $zero_points^ `:` type($zero_points) `)`)?
    (`tensor_scale` `(` $tensor_scale^ `:` type($tensor_scale) `)`)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Lowbit_ConstantOp : Lowbit_Op<"constant", [Pure]> {
  let summary = "A quantized constant (packed codes and scales)";
  let description = [{
    The packed codes, scales, zero points and tensor scale of a quantized
    tensor, each an elements attribute of exactly the part type the result
    type defines (docs/Spec.md, "Run-time layout"). Use `dense_resource` for
    weights so that they stay out of the IR text.

    ```mlir
    %w = lowbit.constant codes(dense_resource<w0> : tensor<64x64xi8>)
         scales(dense_resource<w0_s> : tensor<64xf32>)
         : !lowbit.qtensor<64x128xi4, per_axis<0>>
    ```

    With `layout`, the codes part is packed for the kernel that reads it
    (docs/Spec.md, LB-C2; `lowbit-pack-weights` produces it): the CPU
    W8A8 kernel's int8 panels or the GPU 4-bit kernels' mma-b tiles. The
    other parts keep their run-time types.

    ```mlir
    %p = lowbit.constant codes(dense_resource<p0> : tensor<4x32x64xi8>)
         scales(dense_resource<p0_s> : tensor<64xf32>)
         {layout = #lowbit<layout int8_panels>}
         : !lowbit.qtensor<64x128xi8, per_axis<0>>
    ```
  }];
  let arguments = (ins ElementsAttr:$codes,
                       OptionalAttr<ElementsAttr>:$scales,
                       OptionalAttr<ElementsAttr>:$zero_points,
                       OptionalAttr<ElementsAttr>:$tensor_scale,
                       OptionalAttr<Lowbit_CodesLayoutAttr>:$layout);
  let results = (outs Lowbit_QTensor:$result);
  let assemblyFormat = [{
    `codes` `(` $codes `)` (`scales` `(` $scales^ `)`)?
    (`zero_points` `(` $zero_points^ `)`)?
    (`tensor_scale` `(` $tensor_scale^ `)`)? attr-dict `:` type($result)
  }];
  let builders = [
    // The run-time layout (no `layout`).
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::ElementsAttr":$codes,
                   "::mlir::ElementsAttr":$scales,
                   "::mlir::ElementsAttr":$zero_points,
                   "::mlir::ElementsAttr":$tensor_scale), [{
      build($_builder, $_state, result, codes, scales, zero_points,
            tensor_scale, CodesLayoutAttr());
    }]>
  ];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The codes part's type in `layout` for a qtensor of type `type`, or
    /// null when the layout cannot hold it (docs/Spec.md, LB-C2).
    static ::mlir::RankedTensorType
    getLayoutCodesType(QTensorType type, CodesLayout layout);
  }];
}

def Lowbit_UnpackOp : Lowbit_Op<"unpack", [Pure]> {
  let summary = "The run-time parts of a quantized tensor";
  let description = [{
    The codes, scales, zero points and tensor scale of a quantized tensor
    (those its scheme has, in that order), as plain tensors of exactly the
    part types of the run-time layout (docs/Spec.md section 4). With
    `lowbit.pack`, quantized values can live in ordinary tensors: a KV
    cache stores the parts of each token's quantized keys.

    ```mlir
    %codes, %scales = lowbit.unpack %q
        : !lowbit.qtensor<1x2x16xi8, per_group<[2 : 16]>>
        -> tensor<1x2x16xi8>, tensor<1x2x1xf32>
    ```
  }];
  let arguments = (ins Lowbit_QTensor:$input);
  let results = (outs Variadic<AnyRankedTensor>:$parts);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($parts)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Lowbit_PackOp : Lowbit_Op<"pack", [Pure]> {
  let summary = "A quantized tensor from its run-time parts";
  let description = [{
    The inverse of `lowbit.unpack`: the parts (codes, then scales, zero
    points and tensor scale as the scheme has them) of exactly the
    run-time layout's types make the quantized tensor. No value is
    checked or changed.

    ```mlir
    %q = lowbit.pack %codes, %scales : tensor<16x2x16xi8>, tensor<16x2x1xf32>
         -> !lowbit.qtensor<16x2x16xi8, per_group<[2 : 16]>>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$parts);
  let results = (outs Lowbit_QTensor:$result);
  let assemblyFormat = "$parts attr-dict `:` type($parts) `->` type($result)";
  let hasVerifier = 1;
}

def Lowbit_QMatmulOp : Lowbit_Op<"qmatmul", [Pure]> {
  let summary = "Matrix product with quantized operands";
  let description = [{
    `result = dequantize(lhs) x dequantize(rhs)` accumulated in f32, with
    either operand quantized or float. Operands are rank 2 (`MxK`, `KxN`) or
    rank 3 with a leading batch dimension; `transpose_b` takes the right
    operand as `NxK` (weights stored row per output channel). This is the op
    that dequantize fusion produces and that code generation targets.

    ```mlir
    %y = lowbit.qmatmul %x, %w {transpose_b}
        : tensor<8x128xf32>, !lowbit.qtensor<64x128xi4, per_group<[1 : 32]>>
        -> tensor<8x64xf32>
    ```
  }];
  let arguments = (ins Lowbit_TensorOrQTensor:$lhs, Lowbit_TensorOrQTensor:$rhs,
                       UnitAttr:$transpose_b);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Lowbit_LaunchOp : Lowbit_Op<"launch", [
    AttrSizedOperandSegments, DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues", "bufferize"]>]> {
  let summary = "A GPU kernel launch on whole buffers (lowbit-compile's nvptx target)";
  let description = [{
    Runs kernel `kernel` (a symbol of the module's `gpu.binary`) once with
    grid, block and dynamic shared bytes `launch` = [gx, gy, gz, bx, by,
    bz, shared]. Its parameters are `ins` then `outs`, in the kernel's
    order: inputs are read, outputs written whole. Destination style: on
    tensors the results are the outputs' new values; after bufferization it
    works on memrefs and has no results. `lowbit-offload-to-gpu` creates it,
    `lowbit-lower-launches` turns it into a call of lib/Runtime's
    `lbrt_model_launch` (docs/Compile.md).

    ```mlir
    %y = lowbit.launch @lowbit_gpu::@w4a16_gemv_1x64x64_g32_f16 [2, 1, 1, 256, 1, 1, 0]
        ins(%x, %w, %s : tensor<1x64xf16>, tensor<2x2x128xi32>, tensor<64x2xf16>)
        outs(%e : tensor<1x64xf16>) -> tensor<1x64xf16>
    ```
  }];
  let arguments = (ins SymbolRefAttr:$kernel, DenseI64ArrayAttr:$launch,
                       Variadic<AnyShaped>:$inputs,
                       Variadic<AnyShaped>:$outputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $kernel $launch (`ins` `(` $inputs^ `:` type($inputs) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict (`->` type($results)^)?
  }];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getOutputsMutable();
    }
  }];
  let hasVerifier = 1;
}

#endif // LOWBIT_OPS_TD
