//===- QuantizeWeights.cpp - constant weights -> lowbit.constant ----------===//
//
// lowbit-quantize-weights: each contraction site's constant weight is
// quantized by the numerics library and replaced by lowbit.dequantize of a
// lowbit.constant. The pass decides (site, scheme, policy) and moves bytes;
// the library does all the arithmetic.
//
//===----------------------------------------------------------------------===//

#include "Contractions.h"
#include "lowbit/Transforms/NumericsBridge.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/GlobPattern.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITQUANTIZEWEIGHTS
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

struct PolicyEntry {
  llvm::GlobPattern glob;
  std::string pattern;
  std::string scheme; // empty = keep in float
};

struct LowbitQuantizeWeightsPass
    : mlir::lowbit::impl::LowbitQuantizeWeightsBase<LowbitQuantizeWeightsPass> {
  using Base::Base;

  LogicalResult parsePolicy(SmallVectorImpl<PolicyEntry> &entries) {
    SmallVector<StringRef> items;
    StringRef(policy).split(items, ';', -1, /*KeepEmpty=*/false);
    for (StringRef item : items) {
      item = item.trim();
      if (item.empty())
        continue;
      auto [glob, body] = item.split('=');
      glob = glob.trim();
      body = body.trim();
      if (glob.empty() || body.empty() || !item.contains('=')) {
        return getOperation().emitError()
               << "lowbit-quantize-weights: policy entry '" << item
               << "' is not glob=scheme or glob=keep";
      }
      auto pattern = llvm::GlobPattern::create(glob);
      if (!pattern) {
        return getOperation().emitError()
               << "lowbit-quantize-weights: bad glob '" << glob
               << "': " << llvm::toString(pattern.takeError());
      }
      entries.push_back(
          {*pattern, glob.str(), body == "keep" ? std::string() : body.str()});
    }
    return success();
  }

  void runOnOperation() override {
    if (method != "rtn") {
      getOperation().emitError() << "lowbit-quantize-weights: unknown method '"
                                 << method << "' (available: rtn)";
      return signalPassFailure();
    }
    SmallVector<PolicyEntry> entries;
    if (failed(parsePolicy(entries)))
      return signalPassFailure();

    // One quantized value per (weight constant, scheme).
    llvm::DenseMap<std::pair<Operation *, Type>, Value> done;
    bool failedAny = false;
    forEachSite(getOperation(), [&](Contraction &c, StringRef name) {
      std::string text = scheme;
      for (const PolicyEntry &e : entries)
        if (e.glob.match(name)) {
          text = e.scheme;
          break;
        }
      if (text.empty())
        return; // kept in float by the policy
      Operation *weightOp = c.rhs.getDefiningOp();
      ElementsAttr values;
      if (!weightOp || !matchPattern(c.rhs, m_Constant(&values)))
        return; // not a constant weight: nothing to do offline
      if (failed(quantizeSite(c, name, text, weightOp, values, done)))
        failedAny = true;
    });
    if (failedAny)
      signalPassFailure();
  }

  LogicalResult
  quantizeSite(const Contraction &c, StringRef name, StringRef text,
               Operation *weightOp, ElementsAttr values,
               llvm::DenseMap<std::pair<Operation *, Type>, Value> &done) {
    Operation *op = c.op;
    auto emitError = [&]() {
      return op->emitOpError("lowbit-quantize-weights (site '")
             << name << "'): ";
    };
    auto wType = cast<RankedTensorType>(c.rhs.getType());
    SchemeAttr schemeAttr =
        parseSchemeForOperand(op->getContext(), text, c.inAxis(), c.outAxis(),
                              wType.getRank(), emitError);
    if (!schemeAttr)
      return failure();
    if (schemeAttr.getExpressedType() != wType.getElementType())
      schemeAttr = schemeAttr.withExpressedType(wType.getElementType());
    auto qType = QTensorType::getChecked(emitError, op->getContext(),
                                         wType.getShape(), schemeAttr);
    if (!qType)
      return failure();

    Value &cached = done[{weightOp, qType}];
    if (!cached) {
      FailureOr<nx::Scheme> ns = toNumericsScheme(qType, emitError);
      if (failed(ns))
        return failure();
      FailureOr<std::vector<float>> w = readFloatElements(values, emitError);
      if (failed(w))
        return failure();
      nx::QTensor q;
      nx::Status st =
          nx::quantize(w->data(),
                       std::vector<int64_t>(wType.getShape().begin(),
                                            wType.getShape().end()),
                       *ns, q, /*strict=*/true);
      if (!st.ok())
        return emitError() << st.message();
      OpBuilder b(weightOp);
      b.setInsertionPointAfter(weightOp);
      ConstantOp qc =
          createQuantizedConstant(b, weightOp->getLoc(), qType, q, name);
      cached = DequantizeOp::create(b, weightOp->getLoc(), wType, qc);
    }
    op->setOperand(1, cached);
    if (weightOp->use_empty())
      weightOp->erase();
    return success();
  }
};

} // namespace
