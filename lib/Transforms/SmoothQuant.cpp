//===- SmoothQuant.cpp - migrate activation outliers into weights ---------===//

#include "Contractions.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Transforms/NumericsBridge.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITSMOOTHQUANT
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;
namespace cal = ::lowbit::calibration;

namespace {

struct Site {
  Contraction c;
  std::string name;
};

/// A constant of `type` (f32) holding `values`: a dense_resource blob when
/// large, like the weights it replaces.
Value makeF32Constant(OpBuilder &b, Location loc, RankedTensorType type,
                      ArrayRef<float> values, StringRef name) {
  ElementsAttr attr;
  if (values.size() * sizeof(float) > 1024)
    attr = DenseResourceElementsAttr::get(
        type, name, HeapAsmResourceBlob::allocateAndCopyInferAlign(values));
  else
    attr = DenseElementsAttr::get(type, values);
  return arith::ConstantOp::create(b, loc, type, cast<TypedAttr>(attr));
}

/// The constant per-channel factor of `producer`'s result, when the
/// producer is an elementwise linalg.generic whose yielded value is a
/// product with a rank-1 constant input indexed by the last dimension
/// (the weight of a normalisation): returns that input's operand.
OpOperand *foldableScale(Operation *producer, int64_t k) {
  auto g = dyn_cast_or_null<linalg::GenericOp>(producer);
  if (!g || g.getNumResults() != 1 ||
      g.getNumParallelLoops() != g.getNumLoops() ||
      !g.getIndexingMapsArray().back().isIdentity())
    return nullptr;
  auto yield = cast<linalg::YieldOp>(g.getBody()->getTerminator());
  auto mul = yield.getOperand(0).getDefiningOp<arith::MulFOp>();
  if (!mul)
    return nullptr;
  unsigned n = g.getNumLoops();
  for (Value v : {mul.getLhs(), mul.getRhs()}) {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != g.getBody() ||
        arg.getArgNumber() >= g.getNumDpsInputs())
      continue;
    OpOperand *in = g.getDpsInputOperand(arg.getArgNumber());
    AffineMap map = g.getMatchingIndexingMap(in);
    auto t = dyn_cast<RankedTensorType>(in->get().getType());
    DenseElementsAttr values;
    if (!t || t.getRank() != 1 || t.getDimSize(0) != k ||
        !t.getElementType().isF32() || map.getNumResults() != 1 ||
        map.getResult(0) != getAffineDimExpr(n - 1, g.getContext()) ||
        !matchPattern(in->get(), m_Constant(&values)))
      continue;
    return in;
  }
  return nullptr;
}

struct LowbitSmoothQuantPass
    : mlir::lowbit::impl::LowbitSmoothQuantBase<LowbitSmoothQuantPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (calibration.empty()) {
      module.emitError() << "lowbit-smoothquant: needs calibration=DIR "
                            "(statistics of lowbit-calibrate)";
      return signalPassFailure();
    }
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      module.emitError() << "lowbit-smoothquant: alpha must be in [0, 1]";
      return signalPassFailure();
    }
    std::vector<cal::SiteStats> stats;
    nx::Status st = cal::readStatistics(calibration, stats, false);
    if (!st.ok()) {
      module.emitError() << "lowbit-smoothquant: " << st.message();
      return signalPassFailure();
    }
    // Sites with a constant f32 2-D weight, grouped by their activation.
    llvm::MapVector<Value, SmallVector<Site>> groups;
    forEachSite(module, [&](Contraction &c, StringRef name) {
      if (c.rank != 2 || !matchPattern(c.rhs, m_Constant()) ||
          !cast<RankedTensorType>(c.rhs.getType()).getElementType().isF32() ||
          !cast<RankedTensorType>(c.lhs.getType()).getElementType().isF32())
        return;
      groups[c.lhs].push_back({c, name.str()});
    });
    for (auto &[x, sites] : groups)
      if (failed(smooth(x, sites, stats)))
        return signalPassFailure();
  }

  LogicalResult smooth(Value x, SmallVectorImpl<Site> &sites,
                       const std::vector<cal::SiteStats> &stats) {
    const int64_t k = cast<RankedTensorType>(x.getType()).getShape().back();
    // max |X_j| over the group's statistics (they all see X).
    std::vector<float> xmax(static_cast<size_t>(k), 0.0f);
    for (Site &s : sites) {
      const cal::SiteStats *found = nullptr;
      for (const cal::SiteStats &st : stats)
        if (st.name == s.name)
          found = &st;
      if (!found || found->channels == 0)
        return s.c.op->emitOpError("lowbit-smoothquant (site '")
               << s.name << "'): no calibration statistics in " << calibration;
      if (found->channels != k)
        return s.c.op->emitOpError("lowbit-smoothquant (site '")
               << s.name << "'): statistics have " << found->channels
               << " channels, the activation " << k;
      for (int64_t j = 0; j < k; ++j)
        xmax[size_t(j)] = std::fmax(xmax[size_t(j)], found->absmax[size_t(j)]);
    }
    // Weights and max |W_j| over all of them.
    std::vector<std::vector<float>> weights;
    std::vector<float> wmax(static_cast<size_t>(k), 0.0f);
    for (Site &s : sites) {
      ElementsAttr attr;
      (void)matchPattern(s.c.rhs, m_Constant(&attr));
      auto emitError = [&]() {
        return s.c.op->emitOpError("lowbit-smoothquant (site '")
               << s.name << "'): ";
      };
      FailureOr<std::vector<float>> w = readFloatElements(attr, emitError);
      if (failed(w))
        return failure();
      auto shape = cast<RankedTensorType>(s.c.rhs.getType()).getShape();
      const int64_t n = shape[s.c.outAxis()];
      for (int64_t j = 0; j < k; ++j)
        for (int64_t o = 0; o < n; ++o) {
          float v = s.c.transposeB ? (*w)[size_t(o * k + j)]
                                   : (*w)[size_t(j * n + o)];
          wmax[size_t(j)] = std::fmax(wmax[size_t(j)], std::fabs(v));
        }
      weights.push_back(std::move(*w));
    }
    std::vector<float> scale = nx::smoothQuantScales(xmax, wmax, float(alpha));
    // Weights: input channel j times s_j.
    for (auto [s, w] : llvm::zip(sites, weights)) {
      auto type = cast<RankedTensorType>(s.c.rhs.getType());
      const int64_t n = type.getShape()[s.c.outAxis()];
      for (int64_t j = 0; j < k; ++j)
        for (int64_t o = 0; o < n; ++o) {
          float &v =
              s.c.transposeB ? w[size_t(o * k + j)] : w[size_t(j * n + o)];
          v = v * scale[size_t(j)];
        }
      OpBuilder b(s.c.op);
      Value c =
          makeF32Constant(b, s.c.rhs.getLoc(), type, w, s.name + "_smoothed");
      Operation *old = s.c.rhs.getDefiningOp();
      s.c.op->setOperand(1, c);
      if (old && old->use_empty())
        old->erase();
    }
    // Activation: X / s, folded into a norm's weight when that is safe.
    bool onlySites = llvm::all_of(x.getUsers(), [&](Operation *u) {
      return llvm::any_of(sites, [&](Site &s) { return s.c.op == u; });
    });
    if (OpOperand *gamma =
            onlySites ? foldableScale(x.getDefiningOp(), k) : nullptr) {
      DenseElementsAttr g;
      (void)matchPattern(gamma->get(), m_Constant(&g));
      std::vector<float> folded;
      int64_t j = 0;
      for (float v : g.getValues<float>())
        folded.push_back(v / scale[size_t(j++)]);
      OpBuilder b(gamma->getOwner());
      gamma->set(makeF32Constant(b, gamma->get().getLoc(),
                                 cast<RankedTensorType>(gamma->get().getType()),
                                 folded, sites.front().name + "_gamma"));
      return success();
    }
    // Explicit X / s right before the first site.
    Operation *first = sites.front().c.op;
    for (Site &s : sites)
      if (s.c.op->isBeforeInBlock(first))
        first = s.c.op;
    OpBuilder b(first);
    Location loc = first->getLoc();
    auto xt = cast<RankedTensorType>(x.getType());
    auto st = RankedTensorType::get({k}, b.getF32Type());
    Value sv = makeF32Constant(b, loc, st, scale, sites.front().name + "_s");
    int64_t rank = xt.getRank();
    SmallVector<AffineMap> maps{
        b.getMultiDimIdentityMap(rank),
        AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1)),
        b.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value init = tensor::EmptyOp::create(b, loc, xt.getShape(), b.getF32Type());
    auto div = linalg::GenericOp::create(
        b, loc, TypeRange{xt}, ValueRange{x, sv}, ValueRange{init}, maps, iters,
        [](OpBuilder &nb, Location l, ValueRange args) {
          Value q = arith::DivFOp::create(nb, l, args[0], args[1]);
          linalg::YieldOp::create(nb, l, q);
        });
    for (Site &s : sites)
      s.c.op->setOperand(0, div.getResult(0));
    return success();
  }
};

} // namespace
