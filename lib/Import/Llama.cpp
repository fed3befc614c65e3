//===- Llama.cpp - MLIR for a Llama-family decoder step -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Llama.h and docs/Import.md. The importer in three parts: the model
// file's weights (WeightSource.h), its architecture (Architecture.h) and
// the IR blocks (Builders.h). This file puts them together: the decode
// step's function, its arguments and results, and per layer the blocks
// the architecture's recipe names.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Llama.h"

#include "Builders.h"
#include "IRUtils.h"
#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Import/Architecture.h"
#include "lowbit/Import/WeightSource.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::importer;
using namespace mlir::lowbit::importer::ir;

namespace {

/// Builds the step functions of `arch` into `module`: the decode step and
/// the prefill steps (docs/Prefill.md). Each build is false with `error`
/// set (naming a weight, not the file) on failure.
class StepBuilder {
public:
  StepBuilder(ModuleOp module, const WeightSource &source,
              const Architecture &arch, const LlamaImportOptions &options,
              int64_t cacheLength)
      : b(module.getLoc(), module.getContext()), source(source), arch(arch),
        options(options), cacheLength(cacheLength), weights(b, source) {
    b.setInsertionPointToEnd(module.getBody());
  }

  /// The function `name` of a step over `rows` tokens: `decode` (one) or
  /// `prefill_<rows>`.
  bool build(StringRef name, int64_t rows, std::string &error);
  /// After the builds: an error for a weight no step read.
  bool checkAllUsed(std::string &error) const;

private:
  /// Layer `l` of x [rows, D]; null on error.
  Value layer(int64_t l, const LayerRecipe &recipe, Value x, Value ropeTable);
  /// The layer's attention output [rows, H * hd] for queries `q` and new
  /// keys `k` and values `val` [rows, heads, hd] (after RoPE): each row's
  /// keys and values appended to the cache at its position, then its
  /// query attending over the positions up to its own.
  Value attention(int64_t l, const LayerRecipe &recipe, Value q, Value k,
                  Value val);

  ImplicitLocOpBuilder b;
  const WeightSource &source;
  const Architecture &arch;
  const LlamaImportOptions &options;
  int64_t cacheLength;
  WeightConstants weights;
  StepValues v;
  std::unique_ptr<KVCache> cache;
};

} // namespace

bool StepBuilder::build(StringRef name, int64_t rows, std::string &error) {
  const HyperParameters &hp = arch.hp;
  MLIRContext *ctx = b.getContext();
  auto tokensType = RankedTensorType::get({rows}, b.getI32Type());
  auto posType = RankedTensorType::get({1}, b.getI32Type());
  auto logitsType = RankedTensorType::get({1, hp.vocab}, b.getF32Type());
  cache = std::make_unique<KVCache>(ctx, options.kvCache, hp.layers,
                                    cacheLength, hp.kvHeads, hp.headDim);
  SmallVector<Type> args{tokensType, posType}, results{logitsType};
  llvm::append_range(args, cache->types());
  llvm::append_range(results, cache->types());
  OpBuilder::InsertionGuard guard(b);
  auto fn = func::FuncOp::create(b, name, b.getFunctionType(args, results));
  // Token and first position ranges, which the C entry point checks: all
  // the step's positions in the cache.
  fn.setArgAttr(0, LowbitDialect::RangeAttrHelper::getNameStr(),
                b.getDenseI64ArrayAttr({0, hp.vocab - 1}));
  fn.setArgAttr(1, LowbitDialect::RangeAttrHelper::getNameStr(),
                b.getDenseI64ArrayAttr({0, cacheLength - rows}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);

  v = buildStepValues(b, hp, cacheLength, entry->getArgument(0),
                      entry->getArgument(1));
  auto fail = [&]() {
    error = weights.error;
    return false;
  };
  Value ropeTable = buildRopeTable(b, v, weights, hp);
  if (!ropeTable)
    return fail();
  // Local layers' RoPE: their own base, no scaling (Gemma 3).
  Value localTable;
  if (llvm::any_of(arch.layers, [](const LayerRecipe &r) { return r.local; })) {
    HyperParameters local = hp;
    local.ropeTheta = hp.ropeThetaLocal;
    local.ropeScaling = RopeScaling();
    localTable = buildRopeTable(b, v, weights, local, "rope_freqs_local");
  }
  Value x =
      buildEmbedding(b, v, weights, hp, options.keepGGUF, options.keepHalf);
  if (!x)
    return fail();
  if (hp.embeddingScale != 1.0)
    x = buildScale(b, x, hp.embeddingScale);
  cache->begin(b, v, entry->getArguments().drop_front(2));
  for (auto [l, recipe] : llvm::enumerate(arch.layers)) {
    x = layer(l, recipe, x, recipe.local ? localTable : ropeTable);
    if (!x)
      return fail();
  }
  // The next token's logits: the last row's.
  if (rows > 1)
    x = tensor::ExtractSliceOp::create(
        b, RankedTensorType::get({1, hp.dim}, b.getF32Type()), x,
        ArrayRef<OpFoldResult>{b.getIndexAttr(rows - 1), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(hp.dim)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  Value xn = buildNorm(b, v, weights, arch.finalNorm, x, "output_norm.weight");
  if (!xn)
    return fail();
  Value logits = buildLinear(
      b, v, weights, xn, arch.tiedHead ? "token_embd.weight" : "output.weight",
      hp.vocab, hp.dim, "output", options.keepGGUF, options.keepHalf);
  if (!logits)
    return fail();
  SmallVector<Value> returned{logits};
  llvm::append_range(returned, cache->results());
  func::ReturnOp::create(b, returned);
  return true;
}

bool StepBuilder::checkAllUsed(std::string &error) const {
  // A weight the recipe did not read would be silently left out.
  for (const auto &[name, w] : source.weights)
    if (!weights.used(name)) {
      error = "tensor '" + name + "' is not part of " + arch.name +
              "'s recipe (the importer would ignore it)";
      return false;
    }
  return true;
}

Value StepBuilder::attention(int64_t l, const LayerRecipe &recipe, Value q,
                             Value k, Value val) {
  const HyperParameters &hp = arch.hp;
  int64_t numHeads = hp.heads, numKV = hp.kvHeads, hd = hp.headDim;
  auto attend = [&](ImplicitLocOpBuilder &ab, const StepValues &sv, Value qi,
                    Value ki, Value vi) -> Value {
    // The token's keys and values into the cache at [l, pos], then
    // attention over the layer's cache.
    cache->append(ab, sv, /*key=*/true, ki, l);
    cache->append(ab, sv, /*key=*/false, vi, l);
    switch (recipe.attention) {
    case AttentionKind::GroupedQuery:
      return buildAttention(ab, sv, qi, *cache, l, numHeads, numKV, hd,
                            recipe.windowed ? arch.slidingWindow : 0,
                            recipe.scaleQueriesFirst);
    }
    llvm_unreachable("unknown attention kind");
  };
  // Every row's keys and values appended, then the rows' attention in one
  // pass over the cache's blocks (a row masks the positions after its
  // own): what as many decode steps compute.
  if (v.rows == 1 || !cache->isKivi())
    return attend(b, v, q, k, val);
  // KIVI: the rows one after the other, each as a decode step at its
  // position (a group's keys read from the f32 window until the group is
  // complete).
  int64_t rows = v.rows;
  SmallVector<Value> init = cache->results();
  init.push_back(empty(b, f32Type(b, {rows, numHeads * hd})));
  Value cRows = arith::ConstantIndexOp::create(b, rows);
  auto loop = scf::ForOp::create(
      b, v.c0, cRows, v.c1, init,
      [&](OpBuilder &ob, Location loc, Value i, ValueRange iter) {
        ImplicitLocOpBuilder ib(loc, ob);
        StepValues sv = v;
        sv.rows = 1;
        sv.pos = arith::AddIOp::create(ib, v.pos, i);
        cache->begin(ib, sv, iter.drop_back());
        auto row = [&](Value x, int64_t heads) -> Value {
          return tensor::ExtractSliceOp::create(
              ib, f32Type(ib, {1, heads, hd}), x,
              ArrayRef<OpFoldResult>{i, ib.getIndexAttr(0), ib.getIndexAttr(0)},
              ArrayRef<OpFoldResult>{ib.getIndexAttr(1), ib.getIndexAttr(heads),
                                     ib.getIndexAttr(hd)},
              SmallVector<OpFoldResult>(3, ib.getIndexAttr(1)));
        };
        Value a =
            attend(ib, sv, row(q, numHeads), row(k, numKV), row(val, numKV));
        SmallVector<Value> yields = cache->results();
        yields.push_back(tensor::InsertSliceOp::create(
            ib, a, iter.back(), ArrayRef<OpFoldResult>{i, ib.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{ib.getIndexAttr(1),
                                   ib.getIndexAttr(numHeads * hd)},
            SmallVector<OpFoldResult>(2, ib.getIndexAttr(1))));
        scf::YieldOp::create(ib, yields);
      });
  cache->setParts(loop.getResults().drop_back());
  return loop.getResults().back();
}

Value StepBuilder::layer(int64_t l, const LayerRecipe &recipe, Value x,
                         Value ropeTable) {
  const HyperParameters &hp = arch.hp;
  int64_t dim = hp.dim, numHeads = hp.heads, numKV = hp.kvHeads,
          hd = hp.headDim;
  std::string p = "blk." + std::to_string(l) + ".";
  auto linear = [&](Value in, StringRef name, int64_t out, int64_t inDim) {
    return buildLinear(b, v, weights, in, p + name.str() + ".weight", out,
                       inDim, p + name.str(), options.keepGGUF,
                       options.keepHalf);
  };
  // Attention.
  Value h = buildNorm(b, v, weights, recipe.norm, x, p + "attn_norm.weight");
  if (!h)
    return nullptr;
  Value q, k, val;
  if (recipe.fusedQKV) {
    Value qkv = linear(h, "attn_qkv", (numHeads + 2 * numKV) * hd, dim);
    if (!qkv)
      return nullptr;
    q = buildSlice(b, qkv, 0, numHeads * hd);
    k = buildSlice(b, qkv, numHeads * hd, numKV * hd);
    val = buildSlice(b, qkv, (numHeads + numKV) * hd, numKV * hd);
  } else {
    q = linear(h, "attn_q", numHeads * hd, dim);
    k = q ? linear(h, "attn_k", numKV * hd, dim) : nullptr;
    val = k ? linear(h, "attn_v", numKV * hd, dim) : nullptr;
  }
  if (!val)
    return nullptr;
  if (recipe.qkvBias) {
    q = buildBias(b, weights, q, p + "attn_q.bias");
    k = q ? buildBias(b, weights, k, p + "attn_k.bias") : nullptr;
    val = k ? buildBias(b, weights, val, p + "attn_v.bias") : nullptr;
    if (!val)
      return nullptr;
  }
  if (recipe.qkNorm) {
    q = buildHeadNorm(b, v, weights, recipe.norm, q, numHeads, hd,
                      p + "attn_q_norm.weight");
    k = q ? buildHeadNorm(b, v, weights, recipe.norm, k, numKV, hd,
                          p + "attn_k_norm.weight")
          : nullptr;
    if (!k)
      return nullptr;
  }
  Value qr = buildRope(b, v, q, numHeads, hd, ropeTable, recipe.rope);
  Value kr = buildRope(b, v, k, numKV, hd, ropeTable, recipe.rope);
  Value v3 = buildSplitHeads(b, val, numKV, hd);
  Value att = attention(l, recipe, qr, kr, v3);
  Value o = linear(att, "attn_output", dim, numHeads * hd);
  if (o && recipe.postNorms)
    o = buildNorm(b, v, weights, recipe.norm, o,
                  p + "post_attention_norm.weight");
  if (!o)
    return nullptr;
  x = buildAdd(b, x, o);
  // MLP.
  Value h2 = buildNorm(b, v, weights, recipe.norm, x, p + "ffn_norm.weight");
  if (!h2)
    return nullptr;
  Value mlp;
  switch (recipe.mlp) {
  case MLPKind::SwiGLU: {
    Value gate = linear(h2, "ffn_gate", hp.ffn, dim);
    Value up = gate ? linear(h2, "ffn_up", hp.ffn, dim) : nullptr;
    if (!up)
      return nullptr;
    mlp = linear(buildSwiGLU(b, gate, up), "ffn_down", dim, hp.ffn);
    break;
  }
  case MLPKind::GeGLU: {
    Value gate = linear(h2, "ffn_gate", hp.ffn, dim);
    Value up = gate ? linear(h2, "ffn_up", hp.ffn, dim) : nullptr;
    if (!up)
      return nullptr;
    mlp = linear(buildGeGLU(b, gate, up), "ffn_down", dim, hp.ffn);
    break;
  }
  case MLPKind::FusedSwiGLU: {
    Value gateUp = linear(h2, "ffn_up", 2 * hp.ffn, dim);
    if (!gateUp)
      return nullptr;
    Value gate = buildSlice(b, gateUp, 0, hp.ffn);
    Value up = buildSlice(b, gateUp, hp.ffn, hp.ffn);
    mlp = linear(buildSwiGLU(b, gate, up), "ffn_down", dim, hp.ffn);
    break;
  }
  }
  if (mlp && recipe.postNorms)
    mlp =
        buildNorm(b, v, weights, recipe.norm, mlp, p + "post_ffw_norm.weight");
  if (!mlp)
    return nullptr;
  return buildAdd(b, x, mlp);
}

OwningOpRef<ModuleOp>
mlir::lowbit::importLlama(MLIRContext *ctx, const std::string &path,
                          const LlamaImportOptions &options,
                          LlamaConfig &config, std::string &error) {
  WeightSource source;
  if (!WeightSource::open(path, source, error))
    return nullptr;
  Architecture arch;
  if (!describeArchitecture(source, arch, error))
    return nullptr;
  const HyperParameters &c = arch.hp;
  auto bad = [&](const std::string &what) {
    error = path + ": " + what;
    return nullptr;
  };
  int64_t cacheLength =
      options.maxSeq > 0
          ? options.maxSeq
          : std::min<int64_t>(c.contextLength > 0 ? c.contextLength : 2048,
                              2048);
  if (cacheLength <= 0 || cacheLength > (1 << 20))
    return bad("bad KV cache length " + std::to_string(cacheLength));
  const std::string &kv = options.kvCache;
  if (kv != "f32" && kv != "f16" && kv != "int8" && kv != "fp8" &&
      kv != "int4" && kv != "int2")
    return bad("unknown KV cache '" + kv +
               "' (f32, f16, int8, fp8, int4, int2)");
  if ((kv == "int4" && c.headDim % 2) || (kv == "int2" && c.headDim % 4))
    return bad("a " + kv + " KV cache packs whole bytes of a head: head size " +
               std::to_string(c.headDim) + " is not a multiple of " +
               (kv == "int4" ? "2" : "4"));
  if ((kv == "int4" || kv == "int2") && cacheLength % KVCache::kKiviGroup)
    return bad("a KIVI cache (" + kv +
               ") needs a cache length that is a "
               "multiple of " +
               std::to_string(KVCache::kKiviGroup) + ", not " +
               std::to_string(cacheLength));
  config.dim = c.dim;
  config.layers = c.layers;
  config.heads = c.heads;
  config.kvHeads = c.kvHeads;
  config.headDim = c.headDim;
  config.ffn = c.ffn;
  config.vocab = c.vocab;
  config.contextLength = c.contextLength;
  config.ropeTheta = c.ropeTheta;
  config.rmsEps = c.rmsEps;
  config.ropeInterleaved = arch.layers.front().rope == RopeStyle::Interleaved;
  config.tiedEmbeddings = arch.tiedHead;

  ctx->loadDialect<arith::ArithDialect, func::FuncDialect,
                   linalg::LinalgDialect, scf::SCFDialect, math::MathDialect,
                   tensor::TensorDialect, LowbitDialect>();
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(FileLineColLoc::get(ctx, path + " (imported)", 1, 1));
  for (int64_t c : options.prefillChunks)
    if (c < 2 || c > cacheLength)
      return bad("prefill chunk " + std::to_string(c) +
                 ": a chunk holds 2 tokens to the cache's length (" +
                 std::to_string(cacheLength) + ")");
  StepBuilder builder(*module, source, arch, options, cacheLength);
  bool built = builder.build("decode", 1, error);
  std::vector<int64_t> chunks = options.prefillChunks;
  llvm::sort(chunks);
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  for (int64_t c : chunks)
    built = built && builder.build("prefill_" + std::to_string(c), c, error);
  if (!built || !builder.checkAllUsed(error)) {
    error = path + ": " + error;
    return nullptr;
  }
  if (failed(verify(*module))) {
    error = path + ": the imported module does not verify (importer bug)";
    return nullptr;
  }
  return module;
}
