//===- QuantizeMatmuls.cpp - linalg.matmul -> lowbit.qmatmul ------*- C++
//-*-===//

#include "lowbit/Transforms/Passes.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITQUANTIZEMATMULS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

SchemeAttr mlir::lowbit::parseSchemeForOperand(
    MLIRContext *ctx, StringRef text, int64_t inAxis, int64_t outAxis,
    int64_t rank, function_ref<InFlightDiagnostic()> emitError) {
  // Resolve axis names, then parse as "#lowbit.scheme<...>".
  std::string body;
  StringRef rest = text;
  while (!rest.empty()) {
    size_t pos = rest.find_first_of("<[,:");
    if (pos == StringRef::npos) {
      body += rest.str();
      break;
    }
    body += rest.take_front(pos + 1).str();
    rest = rest.drop_front(pos + 1);
    StringRef trimmed = rest.ltrim();
    body += std::string(rest.size() - trimmed.size(), ' ');
    rest = trimmed;
    auto replace = [&](StringRef name, int64_t v) {
      if (rest.starts_with(name) &&
          (rest.size() == name.size() || !llvm::isAlnum(rest[name.size()]))) {
        body += std::to_string(v);
        rest = rest.drop_front(name.size());
        return true;
      }
      return false;
    };
    (void)(replace("in", inAxis) || replace("out", outAxis) ||
           replace("last", rank - 1));
  }
  std::string full = "#lowbit.scheme<" + body + ">";
  size_t numRead = 0;
  // The parser reports at a location inside the option string, not in the
  // IR: capture its message and attach it to the caller's diagnostic.
  std::string parserMessage;
  Attribute attr;
  {
    ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
      if (parserMessage.empty())
        parserMessage = diag.str();
      return success();
    });
    attr = parseAttribute(full, ctx, Type(), &numRead);
  }
  auto scheme = dyn_cast_or_null<SchemeAttr>(attr);
  if (!scheme || numRead != full.size()) {
    InFlightDiagnostic diag = emitError();
    diag << "invalid scheme '" << text << "'";
    if (!parserMessage.empty())
      diag << ": " << parserMessage;
    return {};
  }
  return scheme;
}

namespace {
struct LowbitQuantizeMatmulsPass
    : mlir::lowbit::impl::LowbitQuantizeMatmulsBase<LowbitQuantizeMatmulsPass> {
  using Base::Base;

  /// Quantizes `v` (shape [.., in, out] roles given) with `text`.
  FailureOr<Value> quantize(OpBuilder &b, Operation *op, Value v,
                            StringRef text, int64_t inAxis, int64_t outAxis) {
    auto t = cast<RankedTensorType>(v.getType());
    auto emitError = [&] {
      return op->emitOpError("lowbit-quantize-matmuls: ");
    };
    SchemeAttr scheme = parseSchemeForOperand(op->getContext(), text, inAxis,
                                              outAxis, t.getRank(), emitError);
    if (!scheme)
      return failure();
    if (scheme.getExpressedType() != t.getElementType())
      scheme = scheme.withExpressedType(t.getElementType());
    auto qt = QTensorType::getChecked(emitError, op->getContext(), t.getShape(),
                                      scheme);
    if (!qt)
      return failure();
    return QuantizeOp::create(b, op->getLoc(), qt, v, Value(), Value(), Value())
        .getResult();
  }

  void runOnOperation() override {
    SmallVector<linalg::MatmulOp> matmuls;
    getOperation().walk([&](linalg::MatmulOp op) { matmuls.push_back(op); });
    for (linalg::MatmulOp op : matmuls) {
      if (!op.hasPureTensorSemantics() || op.hasUserDefinedMaps())
        continue;
      Value a = op.getInputs()[0], w = op.getInputs()[1];
      if (!matchPattern(w, m_Constant()))
        continue;
      // Accumulating into a non-zero init is not a plain product: skip.
      Value init = op.getOutputs()[0];
      auto fill = init.getDefiningOp<linalg::FillOp>();
      if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
        continue;
      OpBuilder b(op);
      FailureOr<Value> qw = quantize(b, op, w, weightScheme, 0, 1);
      if (failed(qw))
        return signalPassFailure();
      Value lhs = a;
      if (!activationScheme.empty()) {
        FailureOr<Value> qa = quantize(b, op, a, activationScheme, 1, 0);
        if (failed(qa))
          return signalPassFailure();
        lhs = *qa;
      }
      auto mm = QMatmulOp::create(b, op.getLoc(), op.getResultTypes()[0], lhs,
                                  *qw, /*transpose_b=*/false);
      op->replaceAllUsesWith(mm);
      op->erase();
    }
  }
};
} // namespace
