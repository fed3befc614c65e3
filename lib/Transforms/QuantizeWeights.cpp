//===- QuantizeWeights.cpp - constant weights -> lowbit.constant ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-quantize-weights: each contraction site's constant weight is
// quantized by the numerics library and replaced by lowbit.dequantize of a
// lowbit.constant. The pass decides (site, scheme, policy) and moves bytes;
// the library does all the arithmetic.
//
//===----------------------------------------------------------------------===//

#include "ActivationScale.h"
#include "Contractions.h"
#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Dialect/NumericsBridge.h"
#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Transforms/OperandScheme.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/raw_ostream.h"

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

  /// The pass's scheme as a value, when a pipeline built the pass from one.
  std::optional<OperandScheme> typedScheme;

  /// The scheme of a site's weight `wType`: `text` is the pass's own
  /// scheme option (taken as a value when there is one) or a policy
  /// entry's, parsed here so that errors point at the site.
  SchemeAttr resolveScheme(const std::string &text, const Contraction &c,
                           RankedTensorType wType,
                           function_ref<InFlightDiagnostic()> emitError) {
    MLIRContext *ctx = c.op->getContext();
    FailureOr<OperandScheme> s =
        &text == &scheme && typedScheme
            ? FailureOr<OperandScheme>(*typedScheme)
            : OperandScheme::parse(ctx, text, emitError);
    if (failed(s))
      return {};
    return s->resolve(ctx, wType.getElementType(), c.inAxis(), c.outAxis(),
                      wType.getRank(), emitError);
  }

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
    if (method != "rtn" && method != "gptq" && method != "hqq" &&
        method != "awq") {
      getOperation().emitError()
          << "lowbit-quantize-weights: unknown method '" << method
          << "' (available: rtn, gptq, hqq, awq)";
      return signalPassFailure();
    }
    if (method == "gptq" || method == "awq") {
      if (calibration.empty()) {
        getOperation().emitError()
            << "lowbit-quantize-weights: method=" << method
            << " needs calibration=DIR (statistics of lowbit-calibrate "
            << (method == "gptq" ? "--gram" : "--samples N") << ")";
        return signalPassFailure();
      }
      nx::Status st = ::lowbit::calibration::readStatistics(calibration, stats,
                                                            /*withGram=*/true);
      if (!st.ok()) {
        getOperation().emitError()
            << "lowbit-quantize-weights: " << st.message();
        return signalPassFailure();
      }
    }
    SmallVector<PolicyEntry> entries;
    if (failed(parsePolicy(entries)))
      return signalPassFailure();

    // The scheme text of a site (the first matching policy entry's, else
    // the pass's own); empty when the policy keeps the site in float.
    auto schemeFor = [&](StringRef name) -> const std::string & {
      for (const PolicyEntry &e : entries)
        if (e.glob.match(name))
          return e.scheme;
      return scheme;
    };
    if (method == "awq") {
      if (failed(runAWQ(schemeFor)))
        signalPassFailure();
      return;
    }
    // One quantized value per (weight constant, scheme). Sites are done
    // one at a time: only one weight is decoded to f32 at any moment.
    llvm::DenseMap<std::pair<Operation *, Type>, Value> done;
    bool failedAny = false;
    int64_t quantized = 0;
    forEachSite(getOperation(), [&](Contraction &c, StringRef name) {
      const std::string &text = schemeFor(name);
      if (text.empty())
        return; // kept in float by the policy
      Operation *weightOp = c.rhs.getDefiningOp();
      ElementsAttr values;
      if (!weightOp || !matchPattern(c.rhs, m_Constant(&values)))
        return; // not a constant weight: nothing to do offline
      if (failed(quantizeSite(c, name, text, weightOp, values, done)))
        failedAny = true;
      else if (progress)
        llvm::errs()
            << "lowbit-quantize-weights: " << ++quantized << " " << name << " ("
            << method << ", "
            << cast<RankedTensorType>(values.getType()).getNumElements()
            << " weights)\n";
    });
    if (failedAny)
      signalPassFailure();
  }

  /// AWQ: sites sharing an activation are searched together (their
  /// weights concatenated along the outputs, as llm-awq does for q/k/v),
  /// each weight stored quantized as W diag(s), and the activation divided
  /// by s (folded into its producer when possible).
  LogicalResult
  runAWQ(llvm::function_ref<const std::string &(StringRef)> schemeFor) {
    struct AwqSite {
      Contraction c;
      std::string name;
      QTensorType type;
      std::vector<float> w; // [out][in]
    };
    llvm::MapVector<Value, SmallVector<AwqSite>> groups;
    bool failedAny = false;
    forEachSite(getOperation(), [&](Contraction &c, StringRef name) {
      const std::string &text = schemeFor(name);
      ElementsAttr values;
      if (text.empty() || c.rank != 2 ||
          !matchPattern(c.rhs, m_Constant(&values)))
        return;
      Operation *op = c.op;
      auto emitError = [&]() {
        return op->emitOpError("lowbit-quantize-weights (site '")
               << name << "'): ";
      };
      auto xType = cast<RankedTensorType>(c.lhs.getType());
      if (!xType.hasStaticShape() || !xType.getElementType().isF32()) {
        emitError() << "awq needs static f32 activations, got " << xType;
        failedAny = true;
        return;
      }
      auto wType = cast<RankedTensorType>(c.rhs.getType());
      SchemeAttr sa = resolveScheme(text, c, wType, emitError);
      if (!sa) {
        failedAny = true;
        return;
      }
      auto qType = QTensorType::getChecked(emitError, op->getContext(),
                                           wType.getShape(), sa);
      FailureOr<std::vector<float>> w =
          qType ? readFloatElements(values, emitError)
                : FailureOr<std::vector<float>>(failure());
      if (failed(w)) {
        failedAny = true;
        return;
      }
      const int64_t in = wType.getDimSize(c.inAxis()),
                    out = wType.getDimSize(c.outAxis());
      std::vector<float> oi(w->size());
      for (int64_t k = 0; k < in; ++k)
        for (int64_t n = 0; n < out; ++n)
          oi[size_t(n * in + k)] = c.transposeB ? (*w)[size_t(n * in + k)]
                                                : (*w)[size_t(k * out + n)];
      groups[c.lhs].push_back({c, name.str(), qType, std::move(oi)});
    });
    if (failedAny)
      return failure();
    for (auto &[x, sites] : groups) {
      AwqSite &head = sites.front();
      auto emitError = [&]() {
        return head.c.op->emitOpError("lowbit-quantize-weights (site '")
               << head.name << "'): ";
      };
      const ::lowbit::calibration::SiteStats *st = nullptr;
      for (const auto &s : stats)
        if (s.name == head.name)
          st = &s;
      const int64_t in = head.type.getShape()[head.c.inAxis()];
      if (!st || st->channels != in || st->sampleRows == 0)
        return emitError() << "awq needs calibration samples of this site "
                              "(lowbit-calibrate --samples N) in "
                           << calibration;
      FailureOr<nx::Scheme> ns = toNumericsScheme(head.type, emitError);
      if (failed(ns))
        return failure();
      if (ns->blockSizes[size_t(head.c.outAxis())] != 1)
        return emitError() << "awq needs one scale per output channel "
                              "(block size 1 along `out`)";
      nx::Scheme oiScheme = *ns;
      oiScheme.blockSizes = {1, ns->blockSizes[size_t(head.c.inAxis())]};
      std::vector<float> wcat;
      std::vector<int64_t> rowsOf;
      for (AwqSite &s : sites) {
        SchemeAttr a = s.type.getScheme(), h = head.type.getScheme();
        if (a.getStorageType() != h.getStorageType() ||
            a.getSymmetric() != h.getSymmetric() ||
            a.getScaleType() != h.getScaleType() ||
            s.type.getBlockSizes()[s.c.inAxis()] !=
                head.type.getBlockSizes()[head.c.inAxis()] ||
            s.type.getBlockSizes()[s.c.outAxis()] != 1)
          return emitError() << "sites sharing an activation need one scheme "
                                "for awq";
        wcat.insert(wcat.end(), s.w.begin(), s.w.end());
        rowsOf.push_back(int64_t(s.w.size()) / in);
      }
      std::vector<float> meanAbs(static_cast<size_t>(in));
      for (int64_t j = 0; j < in; ++j)
        meanAbs[size_t(j)] = float(st->sumAbs[size_t(j)] / double(st->tokens));
      nx::QTensor qcat;
      std::vector<float> sv;
      int64_t total = int64_t(wcat.size()) / in;
      nx::Status status =
          nx::awq(wcat.data(), total, in, st->samples.data(), st->sampleRows,
                  meanAbs.data(), oiScheme, nx::AWQOptions(), qcat, sv);
      if (!status.ok())
        return emitError() << status.message();
      // Split the concatenated result back into the sites' weights.
      std::vector<float> deq(wcat.size());
      status = nx::dequantize(qcat, deq.data());
      if (!status.ok())
        return emitError() << status.message();
      const int64_t groupsPerRow = in / oiScheme.blockSizes[1];
      const size_t sb = qcat.scales.size() / size_t(total * groupsPerRow);
      int64_t r0 = 0;
      SmallVector<Operation *> ops;
      for (auto [s, rows] : llvm::zip(sites, rowsOf)) {
        nx::QTensor q;
        q.scheme = oiScheme;
        q.shape = {rows, in};
        q.scales.assign(qcat.scales.begin() + r0 * groupsPerRow * sb,
                        qcat.scales.begin() + (r0 + rows) * groupsPerRow * sb);
        if (!oiScheme.symmetric)
          q.zeroPoints.assign(qcat.zeroPoints.begin() + r0 * groupsPerRow,
                              qcat.zeroPoints.begin() +
                                  (r0 + rows) * groupsPerRow);
        status = nx::quantizeStatic(&deq[size_t(r0 * in)], q);
        nx::QTensor stored;
        if (status.ok() && !s.c.transposeB)
          status = nx::transpose2D(q, stored);
        else
          stored = std::move(q);
        if (!status.ok())
          return emitError() << status.message();
        OpBuilder b(s.c.op);
        ConstantOp qc = createQuantizedConstant(b, s.c.rhs.getLoc(), s.type,
                                                stored, s.name);
        Value d = DequantizeOp::create(
            b, s.c.rhs.getLoc(), cast<RankedTensorType>(s.c.rhs.getType()), qc);
        Operation *old = s.c.rhs.getDefiningOp();
        s.c.op->setOperand(1, d);
        if (old && old->use_empty())
          old->erase();
        ops.push_back(s.c.op);
        r0 += rows;
      }
      divideActivation(x, ops, sv, head.name);
    }
    return success();
  }

  std::vector<::lowbit::calibration::SiteStats> stats;

  /// GPTQ of a site's weight (any orientation) with its Gram matrix.
  /// Runs `algo` on the weight in [out, in] layout (the algorithms'
  /// convention): a [in, out] weight is transposed there and the result
  /// back, exactly (same codes and scales).
  nx::Status
  onOutIn(const Contraction &c, const nx::Scheme &scheme,
          const std::vector<float> &w, ArrayRef<int64_t> shape,
          nx::QTensor &out,
          llvm::function_ref<nx::Status(const float *, int64_t, int64_t,
                                        const nx::Scheme &, nx::QTensor &)>
              algo) {
    if (c.rank != 2)
      return nx::Status::error(method + " handles 2-D weights, not batched "
                                        "ones");
    if (scheme.blockSizes[size_t(c.outAxis())] != 1)
      return nx::Status::error(method + " needs one scale per output "
                                        "channel (block size 1 along `out`)");
    const int64_t in = shape[c.inAxis()], outCh = shape[c.outAxis()];
    nx::Scheme oi = scheme;
    oi.blockSizes = {1, scheme.blockSizes[size_t(c.inAxis())]};
    std::vector<float> wt;
    const float *src = w.data();
    if (!c.transposeB) {
      wt.resize(w.size());
      for (int64_t k = 0; k < in; ++k)
        for (int64_t n = 0; n < outCh; ++n)
          wt[size_t(n * in + k)] = w[size_t(k * outCh + n)];
      src = wt.data();
    }
    nx::QTensor q;
    nx::Status st = algo(src, outCh, in, oi, q);
    if (!st.ok() || c.transposeB) {
      out = std::move(q);
      return st;
    }
    return nx::transpose2D(q, out);
  }

  /// GPTQ with the site's Gram matrix from the calibration directory.
  nx::Status quantizeGPTQ(const Contraction &c, StringRef name,
                          const nx::Scheme &scheme, const std::vector<float> &w,
                          ArrayRef<int64_t> shape, nx::QTensor &out) {
    const ::lowbit::calibration::SiteStats *site = nullptr;
    for (const auto &s : stats)
      if (s.name == name)
        site = &s;
    if (!site || site->channels == 0)
      return nx::Status::error("no calibration statistics for this site in " +
                               calibration);
    const int64_t in = shape[c.inAxis()];
    if (site->gram.empty())
      return nx::Status::error("the statistics have no Gram matrix (run "
                               "lowbit-calibrate with --gram)");
    if (site->channels != in)
      return nx::Status::error(
          "the statistics have " + std::to_string(site->channels) +
          " channels, the weight " + std::to_string(in) + " inputs");
    nx::GPTQOptions opt;
    opt.damp = float(damp);
    opt.actOrder = actOrder;
    opt.staticGroups = staticGroups;
    return onOutIn(c, scheme, w, shape, out,
                   [&](const float *src, int64_t rows, int64_t cols,
                       const nx::Scheme &oi, nx::QTensor &q) {
                     return nx::gptq(src, rows, cols, site->gram.data(), oi,
                                     opt, q);
                   });
  }

  /// HQQ: weights only, no calibration.
  nx::Status quantizeHQQ(const Contraction &c, const nx::Scheme &scheme,
                         const std::vector<float> &w, ArrayRef<int64_t> shape,
                         nx::QTensor &out) {
    return onOutIn(c, scheme, w, shape, out,
                   [&](const float *src, int64_t rows, int64_t cols,
                       const nx::Scheme &oi, nx::QTensor &q) {
                     return nx::hqq(src, rows, cols, oi, nx::HQQOptions(), q);
                   });
  }

  LogicalResult
  quantizeSite(const Contraction &c, StringRef name, const std::string &text,
               Operation *weightOp, ElementsAttr values,
               llvm::DenseMap<std::pair<Operation *, Type>, Value> &done) {
    Operation *op = c.op;
    auto emitError = [&]() {
      return op->emitOpError("lowbit-quantize-weights (site '")
             << name << "'): ";
    };
    auto wType = cast<RankedTensorType>(c.rhs.getType());
    SchemeAttr schemeAttr = resolveScheme(text, c, wType, emitError);
    if (!schemeAttr)
      return failure();
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
          method == "gptq" ? quantizeGPTQ(c, name, *ns, *w, wType.getShape(), q)
          : method == "hqq"
              ? quantizeHQQ(c, *ns, *w, wType.getShape(), q)
              : nx::quantize(w->data(),
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

std::unique_ptr<Pass> mlir::lowbit::createLowbitQuantizeWeights(
    const OperandScheme &scheme, LowbitQuantizeWeightsOptions options) {
  options.scheme = scheme.str();
  auto pass = std::make_unique<LowbitQuantizeWeightsPass>(options);
  pass->typedScheme = scheme;
  return pass;
}
