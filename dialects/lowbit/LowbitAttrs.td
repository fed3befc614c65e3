//===- LowbitAttrs.td - lowbit attributes and types --------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_ATTRS_TD
#define LOWBIT_ATTRS_TD

include "lowbit/LowbitBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Lowbit_SchemeAttr : AttrDef<Lowbit_Dialect, "Scheme"> {
  let mnemonic = "scheme";
  let summary = "A quantization scheme";
  let description = [{
    Everything about how real values map to codes, except the numbers
    (scales and zero points), which are run-time values. Syntax:

    ```
    scheme  ::= element (`:` expressed-type)? (`,` granularity)? (`,` option)*
    element ::= type | `ternary` | `gguf` `<` name `>`
    granularity ::= `per_tensor` | `per_axis` `<` axis `>`
                  | `per_group` `<` `[` axis `:` size (`,` axis `:` size)* `]` `>`
    option  ::= `asymmetric` | `full_range` | `scale` `=` type
              | `tensor_scale` | `no_saturate` | `round` `=` rounding
    ```

    Examples: `#lowbit.scheme<i8, per_axis<0>>` (int8 per-channel
    symmetric), `#lowbit.scheme<ui4, per_group<[1 : 128]>, asymmetric>`,
    `#lowbit.scheme<f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU>` (OCP
    MXFP4), `#lowbit.scheme<f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN,
    tensor_scale>` (NVFP4), `#lowbit.scheme<gguf<q4_k>>`.
  }];
  let parameters = (ins
    "::mlir::Type":$storageType,
    "::mlir::Type":$expressedType,
    "::mlir::lowbit::Granularity":$granularity,
    "int64_t":$axis,
    ArrayRefParameter<"int64_t">:$groupAxes,
    ArrayRefParameter<"int64_t">:$groupSizes,
    "bool":$symmetric,
    "bool":$fullRange,
    "bool":$ternary,
    "::mlir::Type":$scaleType,
    "bool":$tensorScale,
    "::mlir::lowbit::Rounding":$rounding,
    "bool":$saturate,
    "::mlir::lowbit::GGUFKind":$gguf
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Parses/prints the body between the angle brackets (shared with
    /// !lowbit.qtensor, which inlines it).
    static ::mlir::FailureOr<SchemeAttr> parseBody(::mlir::AsmParser &parser);
    void printBody(::mlir::AsmPrinter &printer) const;
    /// Bit width of one element code (GGUF: 0).
    unsigned getStorageWidth() const;
    bool isInteger() const;
    bool isFloat() const;
    bool isGGUF() const { return getGguf() != GGUFKind::None; }
    bool hasScales() const { return getGranularity() != Granularity::None; }
    /// The same scheme with another expressed type.
    SchemeAttr withExpressedType(::mlir::Type expressed) const;
    bool hasZeroPoints() const { return !getSymmetric(); }
    /// Smallest and largest integer code (integer storage only).
    int64_t getQMin() const;
    int64_t getQMax() const;
  }];
}

def Lowbit_CodesLayoutAttr
    : EnumAttr<Lowbit_Dialect, Lowbit_CodesLayout, "layout"> {
  let summary = "The layout of a constant's codes part";
  let description = [{
    `#lowbit<layout int8_panels>` or `#lowbit<layout mma_b>`: the codes
    part of a `lowbit.constant` is packed for a kernel (docs/Spec.md,
    LB-C2) instead of the run-time layout.
  }];
}

def Lowbit_QTensorType : TypeDef<Lowbit_Dialect, "QTensor"> {
  let mnemonic = "qtensor";
  let summary = "A quantized tensor";
  let description = [{
    `!lowbit.qtensor<SHAPE x SCHEME>`: a tensor of the given static shape
    whose elements are quantized with SCHEME (the body of a
    `#lowbit.scheme`). Example: `!lowbit.qtensor<64x128xui4, per_group<[1 :
    32]>, asymmetric>`. Its run-time value is the tuple (codes, scales,
    zero points, tensor scale) whose types `getPartTypes` returns; the
    layouts are fixed in docs/Spec.md.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape,
                        "::mlir::lowbit::SchemeAttr":$scheme);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    int64_t getNumElements() const;
    /// The tensor type of the packed codes (bytes, i8).
    ::mlir::RankedTensorType getCodesType() const;
    /// Shape of the scale (and zero-point) arrays.
    ::llvm::SmallVector<int64_t> getScaleShape() const;
    /// The tensor type of the scales, or null when the scheme has none.
    ::mlir::RankedTensorType getScalesType() const;
    /// The tensor type of the zero points (i32), or null.
    ::mlir::RankedTensorType getZeroPointsType() const;
    /// The rank-0 f32 tensor type of the second-level scale, or null.
    ::mlir::RankedTensorType getTensorScaleType() const;
    /// All run-time parts in order: codes, [scales], [zero points],
    /// [tensor scale].
    void getPartTypes(::llvm::SmallVectorImpl<::mlir::Type> &types) const;
    /// Block sizes per dimension (scales shape = shape / block sizes).
    ::llvm::SmallVector<int64_t> getBlockSizes() const;
    /// The expressed (dequantized) tensor type.
    ::mlir::RankedTensorType getExpressedTensorType() const;
  }];
}

#endif // LOWBIT_ATTRS_TD
