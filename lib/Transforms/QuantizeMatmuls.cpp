//===- QuantizeMatmuls.cpp - linalg.matmul -> lowbit.qmatmul ------*- C++
//-*-===//

#include "Contractions.h"
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

FailureOr<Value> mlir::lowbit::quantizeOperand(OpBuilder &b, Operation *op,
                                               Value v, StringRef text,
                                               int64_t inAxis, int64_t outAxis,
                                               StringRef passName) {
  auto t = cast<RankedTensorType>(v.getType());
  auto emitError = [&] { return op->emitOpError(passName) << ": "; };
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

namespace {
struct LowbitQuantizeMatmulsPass
    : mlir::lowbit::impl::LowbitQuantizeMatmulsBase<LowbitQuantizeMatmulsPass> {
  using Base::Base;

  FailureOr<Value> quantize(OpBuilder &b, Operation *op, Value v,
                            StringRef text, int64_t inAxis, int64_t outAxis) {
    return quantizeOperand(b, op, v, text, inAxis, outAxis,
                           "lowbit-quantize-matmuls");
  }

  void runOnOperation() override {
    // Every site with a constant weight: matmul, transposed-B matmul and
    // batch_matmul (activations of batched sites stay in float: their
    // per-token scheme would need two axes).
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (matchContraction(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      std::optional<Contraction> c = matchContraction(op);
      if (!c || !matchPattern(c->rhs, m_Constant()) ||
          !cast<RankedTensorType>(op->getResult(0).getType())
               .getElementType()
               .isF32())
        continue;
      OpBuilder b(op);
      FailureOr<Value> qw =
          quantize(b, op, c->rhs, weightScheme, c->inAxis(), c->outAxis());
      if (failed(qw))
        return signalPassFailure();
      Value lhs = c->lhs;
      if (!activationScheme.empty() && c->rank == 2) {
        FailureOr<Value> qa = quantize(b, op, lhs, activationScheme, 1, 0);
        if (failed(qa))
          return signalPassFailure();
        lhs = *qa;
      }
      auto mm = QMatmulOp::create(b, op->getLoc(), op->getResultTypes()[0], lhs,
                                  *qw, c->transposeB);
      op->replaceAllUsesWith(mm);
      op->erase();
    }
  }
};
} // namespace
