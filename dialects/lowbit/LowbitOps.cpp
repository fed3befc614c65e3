//===- LowbitOps.cpp - lowbit op verifiers and folders ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Constraint ids ([LB-Q*], [LB-D*], [LB-R*], [LB-C*], [LB-M*]) refer to
// docs/Spec.md.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::lowbit;

#define GET_OP_CLASSES
#include "lowbit/Dialect/LowbitOps.cpp.inc"

LogicalResult
mlir::lowbit::verifyStaticParts(function_ref<InFlightDiagnostic()> emitError,
                                QTensorType type, Type scales, Type zeroPoints,
                                Type tensorScale) {
  SchemeAttr scheme = type.getScheme();
  if (!scales) {
    if (zeroPoints || tensorScale)
      return emitError() << "[LB-Q2] zero points and tensor scale are given "
                            "only together with scales";
    return success();
  }
  if (!scheme.hasScales())
    return emitError() << "[LB-Q2] scheme " << scheme
                       << " has no scales to give";
  if (scales != type.getScalesType())
    return emitError() << "[LB-Q2] scales must have type "
                       << type.getScalesType() << ", got " << scales;
  if (scheme.hasZeroPoints()) {
    if (!zeroPoints)
      return emitError() << "[LB-Q2] asymmetric scheme needs zero points "
                            "together with its scales";
    if (zeroPoints != type.getZeroPointsType())
      return emitError() << "[LB-Q2] zero points must have type "
                         << type.getZeroPointsType() << ", got " << zeroPoints;
  } else if (zeroPoints) {
    return emitError() << "[LB-Q2] symmetric scheme takes no zero points";
  }
  if (scheme.getTensorScale()) {
    if (!tensorScale)
      return emitError() << "[LB-Q2] scheme with tensor_scale needs the tensor "
                            "scale together with its scales";
    if (tensorScale != type.getTensorScaleType())
      return emitError() << "[LB-Q2] tensor scale must have type "
                         << type.getTensorScaleType() << ", got "
                         << tensorScale;
  } else if (tensorScale) {
    return emitError() << "[LB-Q2] scheme has no tensor_scale";
  }
  return success();
}

static Type typeOrNull(Value v) { return v ? v.getType() : Type(); }

//===----------------------------------------------------------------------===//
// QuantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  auto in = getInput().getType();
  QTensorType out = getResult().getType();
  if (in.getShape() != out.getShape())
    return emitOpError("[LB-Q1] input shape must equal the result shape");
  if (in.getElementType() != out.getScheme().getExpressedType())
    return emitOpError("[LB-Q1] input element type ")
           << in.getElementType()
           << " differs from the scheme's expressed type "
           << out.getScheme().getExpressedType();
  return verifyStaticParts([&] { return emitOpError(); }, out,
                           typeOrNull(getScales()), typeOrNull(getZeroPoints()),
                           typeOrNull(getTensorScale()));
}

OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  // quantize(dequantize(q)) with the same scheme and scales derived from the
  // data is q (docs/Spec.md, LB-F2). The reverse is never folded (LB-F1).
  if (!isDynamic())
    return {};
  auto deq = getInput().getDefiningOp<DequantizeOp>();
  if (!deq || deq.getInput().getType() != getResult().getType())
    return {};
  return deq.getInput();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  QTensorType in = getInput().getType();
  auto out = getResult().getType();
  if (in.getShape() != out.getShape())
    return emitOpError("[LB-D1] result shape must equal the input shape");
  if (out.getElementType() != in.getScheme().getExpressedType())
    return emitOpError("[LB-D1] result element type ")
           << out.getElementType() << " differs from the scheme's expressed "
           << "type " << in.getScheme().getExpressedType();
  return success();
}

//===----------------------------------------------------------------------===//
// RequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult RequantizeOp::verify() {
  QTensorType in = getInput().getType();
  QTensorType out = getResult().getType();
  if (in.getShape() != out.getShape())
    return emitOpError("[LB-R1] input and result shapes must be equal");
  if (in.getScheme().getExpressedType() != out.getScheme().getExpressedType())
    return emitOpError("[LB-R1] input and result expressed types must be "
                       "equal");
  return verifyStaticParts([&] { return emitOpError(); }, out,
                           typeOrNull(getScales()), typeOrNull(getZeroPoints()),
                           typeOrNull(getTensorScale()));
}

OpFoldResult RequantizeOp::fold(FoldAdaptor) {
  // requantize(dequantize ... ) chains are left to the lowering; a
  // requantize of a value into its own scheme with dynamic parameters is
  // quantize(dequantize(q)) with matching schemes: q (LB-F2).
  if (!getScales() && getInput().getType() == getResult().getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

static LogicalResult checkPart(Operation *op, StringRef name,
                               std::optional<ElementsAttr> attr,
                               RankedTensorType expected) {
  if (!expected) {
    if (attr)
      return op->emitOpError("[LB-C1] the scheme has no ") << name;
    return success();
  }
  if (!attr)
    return op->emitOpError("[LB-C1] missing ")
           << name << " of type " << expected;
  if (attr->getType() != expected)
    return op->emitOpError("[LB-C1] ") << name << " must have type " << expected
                                       << ", got " << attr->getType();
  return success();
}

RankedTensorType ConstantOp::getLayoutCodesType(QTensorType type,
                                                CodesLayout layout) {
  SchemeAttr s = type.getScheme();
  if (type.getRank() != 2 || s.isGGUF())
    return {};
  int64_t n = type.getShape()[0], k = type.getShape()[1];
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  bool signedInt = storage && !storage.isUnsigned() && !s.getTernary();
  MLIRContext *ctx = type.getContext();
  switch (layout) {
  case CodesLayout::Int8Panels:
    // 16 channels x 4 inputs per 64-byte panel, padded.
    if (!signedInt || storage.getWidth() != 8)
      return {};
    return RankedTensorType::get({(n + 15) / 16, (k + 3) / 4, 64},
                                 IntegerType::get(ctx, 8));
  case CodesLayout::MmaB:
    // 32 x 32 tiles of 4-bit codes, 128 words each; N padded.
    if (!((signedInt && storage.getWidth() == 4) ||
          isa<Float4E2M1FNType>(s.getStorageType())) ||
        k % 32)
      return {};
    return RankedTensorType::get({(n + 31) / 32, k / 32, 128},
                                 IntegerType::get(ctx, 32));
  }
  return {};
}

LogicalResult ConstantOp::verify() {
  QTensorType t = getResult().getType();
  RankedTensorType codesType = t.getCodesType();
  if (std::optional<CodesLayout> layout = getLayout()) {
    codesType = getLayoutCodesType(t, *layout);
    if (!codesType)
      return emitOpError("[LB-C2] layout ")
             << stringifyCodesLayout(*layout) << " cannot hold " << t
             << (*layout == CodesLayout::Int8Panels
                     ? ": it needs a rank-2 qtensor of signed 8-bit integers"
                     : ": it needs a rank-2 qtensor of signed 4-bit integers "
                       "or f4E2M1FN with K a multiple of 32");
    if (getCodes().getType() != codesType)
      return emitOpError("[LB-C2] codes in layout ")
             << stringifyCodesLayout(*layout) << " must have type " << codesType
             << ", got " << getCodes().getType();
  }
  if (failed(checkPart(*this, "codes", getCodes(), codesType)) ||
      failed(checkPart(*this, "scales", getScales(), t.getScalesType())) ||
      failed(checkPart(*this, "zero_points", getZeroPoints(),
                       t.getZeroPointsType())) ||
      failed(checkPart(*this, "tensor_scale", getTensorScale(),
                       t.getTensorScaleType())))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// UnpackOp, PackOp
//===----------------------------------------------------------------------===//

/// [LB-P1] the parts are exactly the run-time layout's, in order.
static LogicalResult checkParts(Operation *op, QTensorType t, TypeRange parts) {
  SmallVector<Type> want;
  t.getPartTypes(want);
  if (parts.size() != want.size())
    return op->emitOpError("[LB-P1] ")
           << t << " has " << want.size() << " parts, got " << parts.size();
  static const char *names[] = {"codes", "scales", "zero points",
                                "tensor scale"};
  SmallVector<const char *> present = {names[0]};
  if (t.getScalesType())
    present.push_back(names[1]);
  if (t.getZeroPointsType())
    present.push_back(names[2]);
  if (t.getTensorScaleType())
    present.push_back(names[3]);
  for (auto [i, got, expected] : llvm::enumerate(parts, want))
    if (got != expected)
      return op->emitOpError("[LB-P1] ")
             << present[i] << " (part " << i << ") must have type " << expected
             << ", got " << got;
  return success();
}

LogicalResult UnpackOp::verify() {
  return checkParts(*this, getInput().getType(), getParts().getTypes());
}

LogicalResult UnpackOp::fold(FoldAdaptor,
                             SmallVectorImpl<OpFoldResult> &results) {
  auto pack = getInput().getDefiningOp<PackOp>();
  if (!pack)
    return failure();
  for (Value v : pack.getParts())
    results.push_back(v);
  return success();
}

LogicalResult PackOp::verify() {
  return checkParts(*this, getResult().getType(), getParts().getTypes());
}

//===----------------------------------------------------------------------===//
// QMatmulOp
//===----------------------------------------------------------------------===//

static ArrayRef<int64_t> shapeOf(Type t) {
  if (auto q = dyn_cast<QTensorType>(t))
    return q.getShape();
  return cast<RankedTensorType>(t).getShape();
}

LogicalResult QMatmulOp::verify() {
  ArrayRef<int64_t> a = shapeOf(getLhs().getType());
  ArrayRef<int64_t> b = shapeOf(getRhs().getType());
  ArrayRef<int64_t> c = getResult().getType().getShape();
  if (!isa<QTensorType>(getLhs().getType()) &&
      !isa<QTensorType>(getRhs().getType()))
    return emitOpError("[LB-M1] at least one operand must be quantized");
  if (a.size() != b.size() || a.size() != c.size() ||
      (a.size() != 2 && a.size() != 3))
    return emitOpError("[LB-M1] operands and result must all be rank 2, or "
                       "all rank 3 (batch)");
  size_t r = a.size();
  if (r == 3 && (a[0] != b[0] || a[0] != c[0]))
    return emitOpError("[LB-M1] batch dimensions differ: ")
           << a[0] << ", " << b[0] << ", " << c[0];
  int64_t m = a[r - 2], k = a[r - 1];
  int64_t kb = getTransposeB() ? b[r - 1] : b[r - 2];
  int64_t n = getTransposeB() ? b[r - 2] : b[r - 1];
  if (k != kb)
    return emitOpError("[LB-M1] contraction sizes differ: lhs has ")
           << k << ", rhs has " << kb;
  if (c[r - 2] != m || c[r - 1] != n)
    return emitOpError("[LB-M1] result shape must be ")
           << (r == 3 ? std::to_string(a[0]) + "x" : std::string()) << m << "x"
           << n;
  return success();
}

//===----------------------------------------------------------------------===//
// LaunchOp
//===----------------------------------------------------------------------===//

LogicalResult LaunchOp::verify() {
  ArrayRef<int64_t> l = getLaunch();
  if (l.size() != 7)
    return emitOpError("[LB-G1] launch must be [gx, gy, gz, bx, by, bz, "
                       "shared bytes], got ")
           << l.size() << " values";
  for (int i = 0; i < 6; ++i)
    if (l[i] < 1)
      return emitOpError("[LB-G1] grid and block sizes must be >= 1");
  if (l[6] < 0)
    return emitOpError("[LB-G1] shared bytes must be >= 0");
  if (getOutputs().empty())
    return emitOpError("[LB-G1] needs at least one output");
  bool tensors = isa<RankedTensorType>(getOutputs().front().getType());
  for (Value v : getOperands()) {
    auto t = dyn_cast<ShapedType>(v.getType());
    if (!t || (tensors ? !isa<RankedTensorType>(t) : !isa<MemRefType>(t)))
      return emitOpError("[LB-G1] operands must be all ranked tensors or all "
                         "memrefs");
    if (!t.hasStaticShape())
      return emitOpError("[LB-G1] operand of type ")
             << t << " is not statically shaped";
    Type e = t.getElementType();
    if (!e.isIntOrFloat() || e.getIntOrFloatBitWidth() % 8)
      return emitOpError("[LB-G1] operand of type ")
             << t << " does not have whole-byte elements";
  }
  if (!tensors) {
    if (getNumResults())
      return emitOpError("[LB-G1] on memrefs there are no results");
    return success();
  }
  if (getNumResults() != getOutputs().size())
    return emitOpError("[LB-G1] needs one result per output");
  for (auto [r, o] : llvm::zip(getResults(), getOutputs()))
    if (r.getType() != o.getType())
      return emitOpError("[LB-G1] result type ")
             << r.getType() << " differs from its output's " << o.getType();
  return success();
}

void LaunchOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  // On tensors the op is a value computation; on memrefs it reads its
  // inputs and writes its outputs (and nothing else).
  for (OpOperand &o : getInputsMutable())
    if (isa<MemRefType>(o.get().getType()))
      effects.emplace_back(MemoryEffects::Read::get(), &o,
                           SideEffects::DefaultResource::get());
  for (OpOperand &o : getOutputsMutable())
    if (isa<MemRefType>(o.get().getType()))
      effects.emplace_back(MemoryEffects::Write::get(), &o,
                           SideEffects::DefaultResource::get());
}

bool LaunchOp::bufferizesToMemoryRead(OpOperand &operand,
                                      const bufferization::AnalysisState &) {
  // Outputs are written whole, never read.
  return !isDpsInit(&operand);
}

bool LaunchOp::bufferizesToMemoryWrite(OpOperand &operand,
                                       const bufferization::AnalysisState &) {
  return isDpsInit(&operand);
}

bufferization::AliasingValueList
LaunchOp::getAliasingValues(OpOperand &operand,
                            const bufferization::AnalysisState &) {
  if (isDpsInit(&operand))
    return {
        {getTiedOpResult(&operand), bufferization::BufferRelation::Equivalent}};
  return {};
}

LogicalResult
LaunchOp::bufferize(RewriterBase &rewriter,
                    const bufferization::BufferizationOptions &options,
                    bufferization::BufferizationState &state) {
  SmallVector<Value> ins, outs;
  for (Value v : getInputs()) {
    FailureOr<Value> b = bufferization::getBuffer(rewriter, v, options, state);
    if (failed(b))
      return failure();
    ins.push_back(*b);
  }
  for (Value v : getOutputs()) {
    FailureOr<Value> b = bufferization::getBuffer(rewriter, v, options, state);
    if (failed(b))
      return failure();
    outs.push_back(*b);
  }
  LaunchOp::create(rewriter, getLoc(), TypeRange(), getKernelAttr(),
                   getLaunchAttr(), ins, outs);
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, outs);
  return success();
}
