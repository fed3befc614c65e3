//===- Builders.cpp - IR building blocks of a decoder step ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Builders.h. Every block builds its ops in a fixed order at the
// builder's insertion point; the generic ops' bodies use the step's shared
// values (StepValues) from the enclosing function. The KV cache is in
// KVCache.cpp.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "IRUtils.h"

#include "lowbit/Dialect/LowbitDialect.h"
#include "lowbit/Numerics/Formats.h"
#include "lowbit/Numerics/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>
#include <vector>

using namespace mlir;
using namespace mlir::lowbit::importer;
namespace lb = mlir::lowbit;
namespace nx = ::lowbit::numerics;

using namespace mlir::lowbit::importer::ir;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

DenseResourceElementsAttr
WeightConstants::blob(StringRef key, ShapedType type, ArrayRef<char> data,
                      size_t align, bool copy,
                      std::shared_ptr<const void> owner) {
  auto it = blobs.find(key);
  if (it != blobs.end())
    return DenseResourceElementsAttr::get(type, it->second);
  AsmResourceBlob blob;
  if (copy || !llvm::isAddrAligned(llvm::Align(align), data.data())) {
    blob =
        HeapAsmResourceBlob::allocateAndCopyWithAlign(data, align,
                                                      /*dataIsMutable=*/false);
  } else {
    // The blob keeps the mapping (every shard's) alive as long as the
    // context holds it.
    std::vector<std::shared_ptr<const uint8_t>> keep = source.shards;
    keep.push_back(source.mapping);
    blob = UnmanagedAsmResourceBlob::allocateWithAlign(
        data, align, [keep, owner](void *, size_t, size_t) {});
  }
  auto attr = DenseResourceElementsAttr::get(type, key, std::move(blob));
  blobs.try_emplace(key, attr.getRawHandle());
  return attr;
}

const Weight *WeightConstants::lookup(StringRef name, ArrayRef<int64_t> shape) {
  const Weight *w = source.find(name);
  if (!w) {
    error = "the model has no tensor '" + name.str() + "'";
    return nullptr;
  }
  usedNames.insert(name);
  if (ArrayRef<int64_t>(w->shape) != shape) {
    std::string got, want;
    for (int64_t d : w->shape)
      got += (got.empty() ? "" : "x") + std::to_string(d);
    for (int64_t d : shape)
      want += (want.empty() ? "" : "x") + std::to_string(d);
    error = "tensor '" + name.str() + "' has shape " + got +
            ", the config says " + want;
    return nullptr;
  }
  return w;
}

Value WeightConstants::f32(StringRef name, ArrayRef<int64_t> shape) {
  const Weight *w = lookup(name, shape);
  if (!w)
    return nullptr;
  int64_t n = w->numElements();
  RankedTensorType type = f32Type(b, shape);
  DenseResourceElementsAttr attr;
  if (w->kind == Weight::Kind::F32) {
    attr = blob(name, type, ArrayRef<char>((const char *)w->data, n * 4), 4,
                /*copy=*/false);
  } else if (blobs.contains(name)) {
    attr = blob(name, type, {}, 4, /*copy=*/true); // converted before
  } else {
    std::vector<float> f(n);
    if (w->kind == Weight::Kind::Quantized) {
      // The checkpoint's numbers, (q - z) * s, in the file's input order.
      const QuantizedWeight &q = *w->quant;
      int64_t rows = shape[0], cols = shape[1];
      for (int64_t o = 0; o < rows; ++o)
        for (int64_t j = 0; j < cols; ++j)
          f[o * cols + (q.inputOrder.empty() ? j : q.inputOrder[j])] =
              q.value(o, j, rows, cols);
    } else if (w->kind == Weight::Kind::F16 || w->kind == Weight::Kind::BF16) {
      const auto &fmt =
          w->kind == Weight::Kind::F16 ? ::lowbit::kF16 : ::lowbit::kBF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, w->data + 2 * i, 2);
        f[i] = nx::decodeMiniFloat(fmt, bits);
      }
    } else {
      if (!nx::ggufSupported(w->gguf)) {
        error = "tensor '" + name.str() + "' is GGUF " + nx::ggufName(w->gguf) +
                ", which lowbit cannot dequantize yet";
        return nullptr;
      }
      int64_t row = shape.back(), rows = n / row;
      int64_t rowBytes =
          row / nx::ggufBlockSize(w->gguf) * nx::ggufBlockBytes(w->gguf);
      for (int64_t r = 0; r < rows; ++r)
        nx::ggufDequantizeRow(w->gguf, w->data + r * rowBytes,
                              f.data() + r * row, row);
    }
    attr = blob(name, type, ArrayRef<char>((const char *)f.data(), n * 4), 4,
                /*copy=*/true);
  }
  return arith::ConstantOp::create(b, attr);
}

//===----------------------------------------------------------------------===//
// Step values, embedding
//===----------------------------------------------------------------------===//

StepValues mlir::lowbit::importer::buildStepValues(ImplicitLocOpBuilder &b,
                                                   const HyperParameters &hp,
                                                   int64_t cacheLength,
                                                   Value tokens, Value pos) {
  StepValues v;
  v.c0 = arith::ConstantIndexOp::create(b, 0);
  v.c1 = arith::ConstantIndexOp::create(b, 1);
  v.c2 = arith::ConstantIndexOp::create(b, 2);
  v.cHalf = arith::ConstantIndexOp::create(b, hp.headDim / 2);
  v.zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  v.negInf = arith::ConstantOp::create(
      b, b.getFloatAttr(b.getF32Type(),
                        APFloat::getInf(APFloat::IEEEsingle(), true)));
  v.width = hp.dim;
  v.dim = f32Scalar(b, double(hp.dim));
  v.eps = f32Scalar(b, hp.rmsEps);
  v.scale =
      f32Scalar(b, hp.attentionScale > 0 ? hp.attentionScale
                                         : 1.0 / std::sqrt(double(hp.headDim)));
  v.rows = cast<RankedTensorType>(tokens.getType()).getDimSize(0);
  v.tokens = tokens;
  v.lastToken = arith::ConstantIntOp::create(b, hp.vocab - 1, 32);
  // The first position, clamped so that the step's rows fit the cache.
  Value p32 = tensor::ExtractOp::create(b, pos, ValueRange{v.c0});
  Value i0 = arith::ConstantIntOp::create(b, 0, 32);
  Value pMax = arith::ConstantIntOp::create(b, cacheLength - v.rows, 32);
  Value p1 = arith::MaxSIOp::create(b, p32, i0);
  Value p2 = arith::MinSIOp::create(b, p1, pMax);
  v.pos = arith::IndexCastOp::create(b, b.getIndexType(), p2);
  return v;
}

Value mlir::lowbit::importer::tokenAt(ImplicitLocOpBuilder &b,
                                      const StepValues &v, Value row) {
  Value t32 = tensor::ExtractOp::create(b, v.tokens, ValueRange{row});
  Value i0 = arith::ConstantIntOp::create(b, 0, 32);
  Value t1 = arith::MaxSIOp::create(b, t32, i0);
  Value t2 = arith::MinSIOp::create(b, t1, v.lastToken);
  return arith::IndexCastOp::create(b, b.getIndexType(), t2);
}

/// An f16 / bf16 weight as a constant of its own type (the mapped bytes,
/// no copy), or null for other kinds.
static Value halfConstant(ImplicitLocOpBuilder &b, WeightConstants &w,
                          StringRef name, const Weight &wt) {
  if (wt.kind != Weight::Kind::F16 && wt.kind != Weight::Kind::BF16)
    return nullptr;
  Type elem = wt.kind == Weight::Kind::F16 ? Type(b.getF16Type())
                                           : Type(b.getBF16Type());
  int64_t n = 1;
  for (int64_t d : wt.shape)
    n *= d;
  auto type = RankedTensorType::get(wt.shape, elem);
  return arith::ConstantOp::create(
      b, w.blob(name.str() + ".half", type,
                ArrayRef<char>((const char *)wt.data, n * 2), 2,
                /*copy=*/false));
}

Value mlir::lowbit::importer::buildEmbedding(ImplicitLocOpBuilder &b,
                                             const StepValues &v,
                                             WeightConstants &w,
                                             const HyperParameters &hp,
                                             bool keepGGUF, bool keepHalf) {
  int64_t vocab = hp.vocab, dim = hp.dim;
  MLIRContext *ctx = b.getContext();
  const Weight *table = w.lookup("token_embd.weight", {vocab, dim});
  if (!table)
    return nullptr;
  // The formats of 32-input blocks whose row this decodes: q8_0 (f16 d,
  // 32 int8 codes; d q), q4_0 / q5_0 (d, [q5: 32 fifth bits qh], 16 bytes
  // of nibbles, the block's first 16 codes low; d (q - 8 or 16)) and q4_1
  // / q5_1 (d, m, [qh], nibbles; d q + m).
  nx::GGUFKind kind = table->gguf;
  bool decodes = keepGGUF && table->kind == Weight::Kind::GGUFBlocks &&
                 dim % 32 == 0 &&
                 llvm::is_contained({nx::GGUFKind::Q8_0, nx::GGUFKind::Q4_0,
                                     nx::GGUFKind::Q4_1, nx::GGUFKind::Q5_0,
                                     nx::GGUFKind::Q5_1},
                                    kind);
  int64_t rows = v.rows;
  // An f16 / bf16 table: the tokens' rows widened (the table is one copy,
  // shared with a tied head); an f32 table: the rows copied.
  Value half =
      keepHalf ? halfConstant(b, w, "token_embd.weight", *table) : Value();
  if (half || !decodes) {
    Value t = half ? half : w.f32("token_embd.weight", {vocab, dim});
    if (!t)
      return nullptr;
    return generic(
        b, {}, empty(b, f32Type(b, {rows, dim})), {mapOf(ctx, 2, {0, 1})},
        {kPar, kPar}, [&](ImplicitLocOpBuilder &ib, ValueRange) {
          Value r = linalg::IndexOp::create(ib, uint64_t(0));
          Value j = linalg::IndexOp::create(ib, uint64_t(1));
          Value e = tensor::ExtractOp::create(ib, t,
                                              ValueRange{tokenAt(ib, v, r), j});
          if (!half)
            return e;
          return arith::ExtFOp::create(ib, ib.getF32Type(), e).getResult();
        });
  }
  // The tokens' rows of blocks, decoded per step from the stored bytes.
  int64_t bb = nx::ggufBlockBytes(kind), nb = dim / 32, rb = nb * bb;
  bool q8 = kind == nx::GGUFKind::Q8_0;
  bool hasMin = kind == nx::GGUFKind::Q4_1 || kind == nx::GGUFKind::Q5_1;
  bool hasHigh = kind == nx::GGUFKind::Q5_0 || kind == nx::GGUFKind::Q5_1;
  int64_t qhAt = hasMin ? 4 : 2, qsAt = qhAt + (hasHigh ? 4 : 0);
  int64_t offset = hasMin ? 0 : hasHigh ? 16 : 8;
  Type i8 = b.getI8Type();
  // 2-D as the tied head reads them: one constant, one copy in the blob.
  auto all = RankedTensorType::get({vocab, rb}, i8);
  Value blk = arith::ConstantOp::create(
      b, w.blob("token_embd.weight.blocks", all,
                ArrayRef<char>((const char *)table->data, vocab * rb), 1,
                /*copy=*/false));
  Value init = empty(b, f32Type(b, {rows, nb, 32}));
  Value decoded = generic(
      b, {}, init, {mapOf(ctx, 3, {0, 1, 2})}, {kPar, kPar, kPar},
      [&](ImplicitLocOpBuilder &ib, ValueRange) {
        Type i32 = ib.getI32Type(), f32 = ib.getF32Type();
        Value token = tokenAt(ib, v, linalg::IndexOp::create(ib, uint64_t(0)));
        Value bi = linalg::IndexOp::create(ib, uint64_t(1));
        Value j = linalg::IndexOp::create(ib, uint64_t(2));
        Value first = arith::MulIOp::create(
            ib, bi, arith::ConstantIndexOp::create(ib, bb).getResult());
        auto byteAt = [&](Value at) {
          Value col = arith::AddIOp::create(ib, first, at);
          return tensor::ExtractOp::create(ib, blk, ValueRange{token, col})
              .getResult();
        };
        auto cIdx = [&](int64_t c) {
          return arith::ConstantIndexOp::create(ib, c).getResult();
        };
        auto cI32 = [&](int64_t c) {
          return arith::ConstantIntOp::create(ib, c, 32).getResult();
        };
        // Little-endian unsigned bytes [at, at + n) as an i32.
        auto word = [&](int64_t at, int n) {
          Value r;
          for (int e = 0; e < n; ++e) {
            Value u = arith::ExtUIOp::create(ib, i32, byteAt(cIdx(at + e)));
            if (e)
              u = arith::ShLIOp::create(ib, u, cI32(8 * e));
            r = r ? arith::OrIOp::create(ib, r, u).getResult() : u;
          }
          return r;
        };
        auto half = [&](int64_t at) {
          Value bits =
              arith::TruncIOp::create(ib, ib.getI16Type(), word(at, 2));
          Value h = arith::BitcastOp::create(ib, ib.getF16Type(), bits);
          return arith::ExtFOp::create(ib, f32, h).getResult();
        };
        Value d = half(0);
        if (q8) {
          Value q = byteAt(arith::AddIOp::create(ib, j, cIdx(2)));
          Value qf = arith::SIToFPOp::create(ib, f32, q);
          return arith::MulFOp::create(ib, qf, d).getResult();
        }
        // Code j: the low nibble of byte j (j < 16) or the high nibble of
        // byte j - 16, and with qh its fifth bit, bit j.
        Value c16 = cIdx(16);
        Value at = arith::AddIOp::create(ib, arith::RemUIOp::create(ib, j, c16),
                                         cIdx(qsAt));
        Value byte = arith::ExtUIOp::create(ib, i32, byteAt(at));
        Value high =
            arith::CmpIOp::create(ib, arith::CmpIPredicate::uge, j, c16);
        Value q = arith::SelectOp::create(
            ib, high, arith::ShRUIOp::create(ib, byte, cI32(4)),
            arith::AndIOp::create(ib, byte, cI32(15)));
        if (hasHigh) {
          Value j32 = arith::IndexCastOp::create(ib, i32, j);
          Value bit = arith::AndIOp::create(
              ib, arith::ShRUIOp::create(ib, word(qhAt, 4), j32), cI32(1));
          q = arith::OrIOp::create(ib, q,
                                   arith::ShLIOp::create(ib, bit, cI32(4)));
        }
        if (offset)
          q = arith::SubIOp::create(ib, q, cI32(offset));
        Value qd =
            arith::MulFOp::create(ib, arith::SIToFPOp::create(ib, f32, q), d);
        return hasMin ? arith::AddFOp::create(ib, qd, half(2)).getResult() : qd;
      });
  return collapseShape(b, decoded, {{0}, {1, 2}});
}

//===----------------------------------------------------------------------===//
// Norms and linear layers
//===----------------------------------------------------------------------===//

Value mlir::lowbit::importer::buildRMSNorm(ImplicitLocOpBuilder &b,
                                           const StepValues &v,
                                           WeightConstants &w, Value x,
                                           StringRef gamma, bool plusOne) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  const unsigned rank = unsigned(xType.getRank());
  const int64_t n = xType.getShape().back();
  Value g = w.f32(gamma, {n});
  if (!g)
    return nullptr;
  // Over the last dimension; the others are rows.
  SmallVector<int> all, rows;
  for (unsigned d = 0; d < rank; ++d) {
    all.push_back(int(d));
    if (d + 1 < rank)
      rows.push_back(int(d));
  }
  SmallVector<utils::IteratorType> sumIters(rank - 1, kPar), iters(rank, kPar);
  sumIters.push_back(kRed);
  Value sumInit =
      fill(b, v.zero, empty(b, f32Type(b, xType.getShape().drop_back())));
  Value sumSq =
      generic(b, {x}, sumInit, {mapOf(ctx, rank, all), mapOf(ctx, rank, rows)},
              sumIters, [](ImplicitLocOpBuilder &ib, ValueRange a) {
                Value sq = arith::MulFOp::create(ib, a[0], a[0]);
                return arith::AddFOp::create(ib, a[1], sq).getResult();
              });
  Value count = n == v.width ? v.dim : f32Scalar(b, double(n));
  Value init = empty(b, xType);
  return generic(
      b, {x, sumSq, g}, init,
      {mapOf(ctx, rank, all), mapOf(ctx, rank, rows),
       mapOf(ctx, rank, {int(rank - 1)}), mapOf(ctx, rank, all)},
      iters, [&](ImplicitLocOpBuilder &ib, ValueRange a) {
        Value mean = arith::DivFOp::create(ib, a[1], count);
        Value var = arith::AddFOp::create(ib, mean, v.eps);
        Value r = math::RsqrtOp::create(ib, var);
        Value nx = arith::MulFOp::create(ib, a[0], r);
        Value g = a[2];
        if (plusOne)
          g = arith::AddFOp::create(
              ib, arith::ConstantOp::create(ib, ib.getF32FloatAttr(1)), g);
        return arith::MulFOp::create(ib, nx, g).getResult();
      });
}

Value mlir::lowbit::importer::buildHeadNorm(ImplicitLocOpBuilder &b,
                                            const StepValues &v,
                                            WeightConstants &w, NormKind kind,
                                            Value x, int64_t heads,
                                            int64_t headDim, StringRef gamma) {
  int64_t rows = cast<RankedTensorType>(x.getType()).getDimSize(0);
  Value perHead = expandShape(b, x, {rows, heads, headDim}, {{0}, {1, 2}});
  Value normed = buildNorm(b, v, w, kind, perHead, gamma);
  if (!normed)
    return nullptr;
  return collapseShape(b, normed, {{0}, {1, 2}});
}

Value mlir::lowbit::importer::buildSlice(ImplicitLocOpBuilder &b, Value x,
                                         int64_t offset, int64_t size) {
  int64_t rows = cast<RankedTensorType>(x.getType()).getDimSize(0);
  return tensor::ExtractSliceOp::create(
      b, f32Type(b, {rows, size}), x,
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(offset)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(size)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
}

Value mlir::lowbit::importer::buildBias(ImplicitLocOpBuilder &b,
                                        WeightConstants &w, Value x,
                                        StringRef name) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  Value bias = w.f32(name, {xType.getDimSize(1)});
  if (!bias)
    return nullptr;
  return generic(
      b, {x, bias}, empty(b, xType),
      {mapOf(ctx, 2, {0, 1}), mapOf(ctx, 2, {1}), mapOf(ctx, 2, {0, 1})},
      {kPar, kPar}, [](ImplicitLocOpBuilder &ib, ValueRange a) {
        return arith::AddFOp::create(ib, a[0], a[1]).getResult();
      });
}

Value mlir::lowbit::importer::buildNorm(ImplicitLocOpBuilder &b,
                                        const StepValues &v, WeightConstants &w,
                                        NormKind kind, Value x,
                                        StringRef gamma) {
  switch (kind) {
  case NormKind::RMSNorm:
    return buildRMSNorm(b, v, w, x, gamma, /*plusOne=*/false);
  case NormKind::RMSNormPlusOne:
    return buildRMSNorm(b, v, w, x, gamma, /*plusOne=*/true);
  }
  llvm_unreachable("unknown norm kind");
}

Value mlir::lowbit::importer::buildLinear(ImplicitLocOpBuilder &b,
                                          const StepValues &v,
                                          WeightConstants &w, Value x,
                                          StringRef name, int64_t out,
                                          int64_t in, StringRef site,
                                          bool keepGGUF, bool keepHalf) {
  MLIRContext *ctx = b.getContext();
  const Weight *wt = w.lookup(name, {out, in});
  if (!wt)
    return nullptr;
  Location siteLoc = NameLoc::get(b.getStringAttr(site));
  int64_t rows = cast<RankedTensorType>(x.getType()).getDimSize(0);
  RankedTensorType outType = f32Type(b, {rows, out});
  // The GGUF formats with a CPU kernel stay in their blocks.
  bool keep =
      keepGGUF && wt->kind == Weight::Kind::GGUFBlocks &&
      llvm::is_contained(
          {nx::GGUFKind::Q4_0, nx::GGUFKind::Q4_1, nx::GGUFKind::Q5_0,
           nx::GGUFKind::Q5_1, nx::GGUFKind::Q8_0, nx::GGUFKind::Q2_K,
           nx::GGUFKind::Q3_K, nx::GGUFKind::Q4_K, nx::GGUFKind::Q5_K,
           nx::GGUFKind::Q6_K, nx::GGUFKind::IQ4_NL, nx::GGUFKind::IQ4_XS,
           nx::GGUFKind::TQ1_0, nx::GGUFKind::TQ2_0, nx::GGUFKind::MXFP4},
          wt->gguf);
  if (keep) {
    int64_t rowBytes =
        in / nx::ggufBlockSize(wt->gguf) * nx::ggufBlockBytes(wt->gguf);
    auto codesType = RankedTensorType::get({out, rowBytes}, b.getI8Type());
    DenseResourceElementsAttr codes =
        w.blob(name.str() + ".blocks", codesType,
               ArrayRef<char>((const char *)wt->data, out * rowBytes), 1,
               /*copy=*/false);
    // The numerics library numbers GGUF formats as the dialect does.
    auto scheme = lb::SchemeAttr::get(
        ctx, b.getI8Type(), b.getF32Type(), lb::Granularity::None, 0, {}, {},
        /*symmetric=*/true, /*fullRange=*/false, /*ternary=*/false, Type(),
        /*tensorScale=*/false, lb::Rounding::NearestEven, /*saturate=*/true,
        lb::GGUFKind(int(wt->gguf)));
    auto wType = lb::QTensorType::get(ctx, {out, in}, scheme);
    Value wq = lb::ConstantOp::create(b, wType, codes, ElementsAttr(),
                                      ElementsAttr(), ElementsAttr());
    // Activations quantized to int8 per block as llama.cpp's: blocks of 32
    // with f16 scales (its q8_0, and q8_1 for q4_1) for the formats of
    // 32-input blocks, of 256 with f32 scales (q8_K) for the super-block
    // ones.
    Value lhs = x;
    {
      bool superBlocks = nx::ggufBlockSize(wt->gguf) == 256; // iq4_xs too
      Type scaleType = superBlocks ? Type(b.getF32Type()) : b.getF16Type();
      auto blockScheme = lb::SchemeAttr::get(
          ctx, b.getI8Type(), b.getF32Type(), lb::Granularity::PerGroup, 0, {1},
          {superBlocks ? 256 : 32}, /*symmetric=*/true,
          /*fullRange=*/false, /*ternary=*/false, scaleType,
          /*tensorScale=*/false, lb::Rounding::NearestEven,
          /*saturate=*/true, lb::GGUFKind::None);
      lhs = lb::QuantizeOp::create(
          b, lb::QTensorType::get(ctx, {rows, in}, blockScheme), x, Value(),
          Value(), Value());
    }
    return lb::QMatmulOp::create(b, siteLoc, outType, lhs, wq,
                                 /*transpose_b=*/true);
  }
  if (wt->kind == Weight::Kind::Quantized)
    return buildPrequantizedLinear(b, w, x, name, *wt, siteLoc);
  // f16 / bf16 matrices as stored: a linalg.matmul of f32 x and f16 / bf16
  // w, which widens w exactly (the CPU kernels read the halves).
  Value wf = keepHalf ? halfConstant(b, w, name, *wt) : Value();
  if (!wf)
    wf = w.f32(name, {out, in});
  if (!wf)
    return nullptr;
  Value init = fill(b, v.zero, empty(b, outType));
  auto mm = linalg::MatmulOp::create(b, siteLoc, TypeRange{outType},
                                     ValueRange{x, wf}, ValueRange{init});
  mm.setIndexingMapsAttr(b.getAffineMapArrayAttr(
      {mapOf(ctx, 3, {0, 2}), mapOf(ctx, 3, {1, 2}), mapOf(ctx, 3, {0, 1})}));
  return mm.getResult(0);
}

//===----------------------------------------------------------------------===//
// RoPE
//===----------------------------------------------------------------------===//

Value mlir::lowbit::importer::buildRopeTable(ImplicitLocOpBuilder &b,
                                             const StepValues &v,
                                             WeightConstants &w,
                                             const HyperParameters &hp,
                                             StringRef name) {
  MLIRContext *ctx = b.getContext();
  int64_t half = hp.headDim / 2;
  // The factors of rope_freqs.weight are part of ropeFrequencies (read by
  // the architecture description); the tensor counts as read here.
  if (!hp.ropeScaling.freqFactors.empty() &&
      !w.lookup("rope_freqs.weight", {half}))
    return {};
  std::vector<float> freqs;
  for (double f : ropeFrequencies(hp))
    freqs.push_back(float(f));
  const double attentionFactor = ropeAttentionFactor(hp);
  Value f = arith::ConstantOp::create(
      b, w.blob(name, f32Type(b, {half}),
                ArrayRef<char>((const char *)freqs.data(), half * 4), 4,
                /*copy=*/true));
  Value init = empty(b, f32Type(b, {v.rows, 2, half}));
  return generic(b, {}, init, {mapOf(ctx, 3, {0, 1, 2})}, {kPar, kPar, kPar},
                 [&](ImplicitLocOpBuilder &ib, ValueRange) {
                   Value row = linalg::IndexOp::create(ib, uint64_t(0));
                   Value r = linalg::IndexOp::create(ib, uint64_t(1));
                   Value i = linalg::IndexOp::create(ib, uint64_t(2));
                   Value p = arith::IndexCastOp::create(
                       ib, ib.getI32Type(),
                       arith::AddIOp::create(ib, v.pos, row).getResult());
                   Value pf = arith::SIToFPOp::create(ib, ib.getF32Type(), p);
                   Value fi = tensor::ExtractOp::create(ib, f, ValueRange{i});
                   Value ang = arith::MulFOp::create(ib, pf, fi);
                   Value c = math::CosOp::create(ib, ang);
                   Value s = math::SinOp::create(ib, ang);
                   if (attentionFactor != 1.0) { // YaRN
                     Value af = arith::ConstantOp::create(
                         ib, ib.getF32FloatAttr(float(attentionFactor)));
                     c = arith::MulFOp::create(ib, c, af);
                     s = arith::MulFOp::create(ib, s, af);
                   }
                   Value isCos = arith::CmpIOp::create(
                       ib, arith::CmpIPredicate::eq, r, v.c0);
                   return arith::SelectOp::create(ib, isCos, c, s).getResult();
                 });
}

Value mlir::lowbit::importer::buildSplitHeads(ImplicitLocOpBuilder &b, Value x,
                                              int64_t n, int64_t d) {
  int64_t rows = cast<RankedTensorType>(x.getType()).getDimSize(0);
  return expandShape(b, x, {rows, n, d}, {{0}, {1, 2}});
}

Value mlir::lowbit::importer::buildRope(ImplicitLocOpBuilder &b,
                                        const StepValues &v, Value x,
                                        int64_t heads, int64_t headDim,
                                        Value table, RopeStyle style) {
  MLIRContext *ctx = b.getContext();
  Value x3 = buildSplitHeads(b, x, heads, headDim);
  int64_t rows = cast<RankedTensorType>(x.getType()).getDimSize(0);
  Value init = empty(b, f32Type(b, {rows, heads, headDim}));
  return generic(
      b, {}, init, {mapOf(ctx, 3, {0, 1, 2})}, {kPar, kPar, kPar},
      [&](ImplicitLocOpBuilder &ib, ValueRange) {
        Value row = linalg::IndexOp::create(ib, uint64_t(0));
        Value h = linalg::IndexOp::create(ib, uint64_t(1));
        Value j = linalg::IndexOp::create(ib, uint64_t(2));
        // Element j's pair: its partner p, the frequency i, and whether j
        // is the first of the two. The first gets x_j cos - x_p sin, the
        // second x_j cos + x_p sin.
        Value i, p, first;
        switch (style) {
        case RopeStyle::Interleaved: { // (2i, 2i + 1)
          i = arith::DivUIOp::create(ib, j, v.c2);
          p = arith::XOrIOp::create(ib, j, v.c1);
          Value lo = arith::AndIOp::create(ib, j, v.c1);
          first = arith::CmpIOp::create(ib, arith::CmpIPredicate::eq, lo, v.c0);
          break;
        }
        case RopeStyle::Halves: { // (i, i + hd/2)
          first =
              arith::CmpIOp::create(ib, arith::CmpIPredicate::ult, j, v.cHalf);
          i = arith::RemUIOp::create(ib, j, v.cHalf);
          Value up = arith::AddIOp::create(ib, j, v.cHalf);
          Value down = arith::SubIOp::create(ib, j, v.cHalf);
          p = arith::SelectOp::create(ib, first, up, down);
          break;
        }
        }
        Value xa = tensor::ExtractOp::create(ib, x3, ValueRange{row, h, j});
        Value xb = tensor::ExtractOp::create(ib, x3, ValueRange{row, h, p});
        Value c =
            tensor::ExtractOp::create(ib, table, ValueRange{row, v.c0, i});
        Value s =
            tensor::ExtractOp::create(ib, table, ValueRange{row, v.c1, i});
        Value ac = arith::MulFOp::create(ib, xa, c);
        Value bs = arith::MulFOp::create(ib, xb, s);
        Value minus = arith::SubFOp::create(ib, ac, bs);
        Value plus = arith::AddFOp::create(ib, ac, bs);
        return arith::SelectOp::create(ib, first, minus, plus).getResult();
      });
}

//===----------------------------------------------------------------------===//
// MLP, residual
//===----------------------------------------------------------------------===//

Value mlir::lowbit::importer::buildSwiGLU(ImplicitLocOpBuilder &b, Value gate,
                                          Value up) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(gate.getType());
  AffineMap id = mapOf(ctx, 2, {0, 1});
  return generic(b, {gate, up}, empty(b, type), {id, id, id}, {kPar, kPar},
                 [](ImplicitLocOpBuilder &ib, ValueRange a) {
                   Value ng = arith::NegFOp::create(ib, a[0]);
                   Value e = math::ExpOp::create(ib, ng);
                   Value one =
                       arith::ConstantOp::create(ib, ib.getF32FloatAttr(1.0f));
                   Value den = arith::AddFOp::create(ib, one, e);
                   Value silu = arith::DivFOp::create(ib, a[0], den);
                   return arith::MulFOp::create(ib, silu, a[1]).getResult();
                 });
}

Value mlir::lowbit::importer::buildGeGLU(ImplicitLocOpBuilder &b, Value gate,
                                         Value up) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(gate.getType());
  AffineMap id = mapOf(ctx, 2, {0, 1});
  return generic(
      b, {gate, up}, empty(b, type), {id, id, id}, {kPar, kPar},
      [](ImplicitLocOpBuilder &ib, ValueRange a) {
        // gelu_tanh(x) = x (1 + tanh(u)) / 2 = x / (1 + exp(-2u)), with
        // u = sqrt(2 / pi) (x + 0.044715 x^3).
        auto cst = [&](double c) -> Value {
          return arith::ConstantOp::create(ib, ib.getF32FloatAttr(float(c)));
        };
        Value x = a[0];
        Value x3 = arith::MulFOp::create(
            ib, arith::MulFOp::create(ib, x, x).getResult(), x);
        Value inner = arith::AddFOp::create(
            ib, x, arith::MulFOp::create(ib, cst(0.044715), x3).getResult());
        Value m2u = arith::MulFOp::create(
            ib, cst(-2.0 * std::sqrt(2.0 / 3.14159265358979323846)), inner);
        Value den = arith::AddFOp::create(
            ib, cst(1.0), math::ExpOp::create(ib, m2u).getResult());
        Value gelu = arith::DivFOp::create(ib, x, den);
        return arith::MulFOp::create(ib, gelu, a[1]).getResult();
      });
}

Value mlir::lowbit::importer::buildScale(ImplicitLocOpBuilder &b, Value x,
                                         double factor) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  AffineMap id = mapOf(ctx, 2, {0, 1});
  Value c = arith::ConstantOp::create(b, b.getF32FloatAttr(float(factor)));
  return generic(b, {x}, empty(b, type), {id, id}, {kPar, kPar},
                 [&](ImplicitLocOpBuilder &ib, ValueRange a) {
                   return arith::MulFOp::create(ib, a[0], c).getResult();
                 });
}

Value mlir::lowbit::importer::buildAdd(ImplicitLocOpBuilder &b, Value a,
                                       Value c) {
  Value init = empty(b, cast<RankedTensorType>(a.getType()));
  return linalg::AddOp::create(b, ValueRange{a, c}, ValueRange{init})
      .getResult(0);
}
