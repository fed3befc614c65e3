//===- LowbitBase.td - lowbit dialect definition -----------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The lowbit dialect: quantized values as first-class, verified IR.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_BASE_TD
#define LOWBIT_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Lowbit_Dialect : Dialect {
  let name = "lowbit";
  let cppNamespace = "::mlir::lowbit";
  let summary = "Quantized tensors, their schemes and the ops on them";
  let description = [{
    The lowbit dialect expresses quantized values: a `!lowbit.qtensor` carries
    its shape and its quantization scheme (`#lowbit.scheme`: element format,
    granularity, scale format, symmetry, rounding, saturation). Its run-time
    value is a set of arrays (packed codes, scales, zero points, tensor
    scale) whose layout docs/Spec.md fixes. Numbered constraints in
    docs/Spec.md are quoted by the verifiers as `[LB-...]`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 0;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
  // The discardable attributes lowbit's passes hand to each other
  // (docs/Spec.md section "Discardable attributes", LB-A1 to LB-A6), read
  // and written through the generated helpers (`getRangeAttrHelper()`, ...)
  // and verified by the dialect.
  let discardableAttrs = (ins
    // LB-A1, on a function argument: its integer elements lie in [lo, hi].
    "::mlir::DenseI64ArrayAttr":$range,
    // LB-A2, on a function: per result it had before tying, the argument
    // it was (updated in place) or -1.
    "::mlir::ArrayAttr":$tied_results,
    // LB-A3, on a function argument: W8A8 weights in the CPU kernels' int8
    // panel layout.
    "::mlir::UnitAttr":$packed,
    // LB-A4, on a function declaration: the LLVM intrinsic it stands for.
    "::mlir::StringAttr":$llvm_intrinsic,
    // LB-A5, on a module: the calibration sites' names, in order.
    "::mlir::ArrayAttr":$calibration_sites,
    // LB-A6, on an op: not a calibration or quantization site.
    "::mlir::UnitAttr":$not_a_site,
    // LB-A7, on an op a GPU kernel covers (lowbit-lower-to-gpu, read by
    // lowbit-offload-to-gpu and lowbit-write-ptx): the kernel, @module::@name.
    "::mlir::SymbolRefAttr":$gpu_kernel,
    // LB-A8, with it: grid x/y/z, block x/y/z, dynamic shared bytes.
    "::mlir::DenseI64ArrayAttr":$gpu_launch,
    // LB-A9, with it: the kernel's parameter types, in order.
    "::mlir::ArrayAttr":$gpu_params
  );
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    void registerAttributesAndTypes();
  }];
}

def Lowbit_Granularity : I32EnumAttr<"Granularity", "scale granularity", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"PerTensor", 1, "per_tensor">,
    I32EnumAttrCase<"PerAxis", 2, "per_axis">,
    I32EnumAttrCase<"PerGroup", 3, "per_group">]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

def Lowbit_Rounding : I32EnumAttr<"Rounding", "rounding mode", [
    I32EnumAttrCase<"NearestEven", 0, "nearest_even">,
    I32EnumAttrCase<"NearestAway", 1, "nearest_away">]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

def Lowbit_GGUFKind : I32EnumAttr<"GGUFKind", "GGUF block format", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Q4_0", 1, "q4_0">,
    I32EnumAttrCase<"Q4_1", 2, "q4_1">,
    I32EnumAttrCase<"Q5_0", 3, "q5_0">,
    I32EnumAttrCase<"Q5_1", 4, "q5_1">,
    I32EnumAttrCase<"Q8_0", 5, "q8_0">,
    I32EnumAttrCase<"Q2_K", 6, "q2_k">,
    I32EnumAttrCase<"Q3_K", 7, "q3_k">,
    I32EnumAttrCase<"Q4_K", 8, "q4_k">,
    I32EnumAttrCase<"Q5_K", 9, "q5_k">,
    I32EnumAttrCase<"Q6_K", 10, "q6_k">,
    I32EnumAttrCase<"MXFP4", 11, "mxfp4">,
    I32EnumAttrCase<"IQ4_NL", 12, "iq4_nl">,
    I32EnumAttrCase<"IQ4_XS", 13, "iq4_xs">,
    I32EnumAttrCase<"TQ1_0", 14, "tq1_0">,
    I32EnumAttrCase<"TQ2_0", 15, "tq2_0">]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

// The layout of a `lowbit.constant`'s codes part when it is not the
// run-time layout (docs/Spec.md, LB-C2): what lowbit-pack-weights produces
// for the kernels that read it.
def Lowbit_CodesLayout : I32EnumAttr<"CodesLayout", "layout of packed codes", [
    // The CPU W8A8 kernel's int8 panels of 16 channels x 4 inputs
    // (numerics::packInt8Panels).
    I32EnumAttrCase<"Int8Panels", 1, "int8_panels">,
    // The GPU 4-bit mma kernels' mma.sync B tiles (numerics::packInt4MmaB).
    I32EnumAttrCase<"MmaB", 2, "mma_b">]> {
  let cppNamespace = "::mlir::lowbit";
  let genSpecializedAttr = 0;
}

#endif // LOWBIT_BASE_TD
