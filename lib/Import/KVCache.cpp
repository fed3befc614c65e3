//===- KVCache.cpp - the KV cache of a decoder step -----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Builders.h (KVCache) and docs/Import.md ("KV cache quantization").
// A quantized cache is kept as its run-time parts: each step quantizes the
// new keys or values (`lowbit.quantize`), writes their parts into plain
// cache tensors (`lowbit.unpack`, `tensor.insert_slice`) and reads the
// layer's cache back one block of positions at a time (`lowbit.pack`,
// `lowbit.dequantize`), so the numerics are the dialect's. An f16 cache
// stores keys and values rounded to f16 (`arith.truncf`, to nearest even)
// and widens each block read to f32 (exactly).
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "IRUtils.h"

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::lowbit::importer;
namespace lb = mlir::lowbit;

/// `!lowbit.qtensor<shape x storage, per_group<[axis : size]>>`, asymmetric
/// or not.
static lb::QTensorType groupedType(MLIRContext *ctx, ArrayRef<int64_t> shape,
                                   Type storage, int64_t axis, int64_t size,
                                   bool asymmetric) {
  auto f32 = Float32Type::get(ctx);
  auto scheme = lb::SchemeAttr::get(
      ctx, storage, f32, lb::Granularity::PerGroup, 0, {axis}, {size},
      /*symmetric=*/!asymmetric, /*fullRange=*/false, /*ternary=*/false, f32,
      /*tensorScale=*/false, lb::Rounding::NearestEven, /*saturate=*/true,
      lb::GGUFKind::None);
  return lb::QTensorType::get(ctx, shape, scheme);
}

static SmallVector<OpFoldResult>
indices(OpBuilder &b, ArrayRef<OpFoldResult> head, int64_t zeros) {
  SmallVector<OpFoldResult> r(head);
  for (int64_t i = 0; i < zeros; ++i)
    r.push_back(b.getIndexAttr(0));
  return r;
}

static SmallVector<OpFoldResult> staticSizes(OpBuilder &b,
                                             ArrayRef<int64_t> sizes) {
  SmallVector<OpFoldResult> r;
  for (int64_t s : sizes)
    r.push_back(b.getIndexAttr(s));
  return r;
}

KVCache::KVCache(MLIRContext *ctx, StringRef mode, int64_t layers,
                 int64_t length, int64_t kvHeads, int64_t headDim)
    : ctx(ctx), mode(mode.str()), length(length), kvHeads(kvHeads),
      headDim(headDim) {
  int64_t hd = headDim;
  Type f32 = Float32Type::get(ctx), i8 = IntegerType::get(ctx, 8),
       i32 = IntegerType::get(ctx, 32);
  auto part = [&](ArrayRef<int64_t> shape, Type elem) {
    parts.push_back({RankedTensorType::get(shape, elem), Value()});
  };
  if (mode == "f32" || mode == "f16") {
    Type elem = mode == "f16" ? Type(Float16Type::get(ctx)) : f32;
    part({layers, length, kvHeads, hd}, elem); // keys
    part({layers, length, kvHeads, hd}, elem); // values
  } else if (mode == "int8" || mode == "fp8") {
    for (int kv = 0; kv < 2; ++kv) {
      part({layers, length, kvHeads, hd}, i8); // codes
      part({layers, length, kvHeads, 1}, f32); // scales
    }
  } else { // int4, int2 (KIVI)
    int64_t bits = mode == "int4" ? 4 : 2, cb = hd * bits / 8;
    int64_t groups = length / kKiviGroup;
    part({layers, length, kvHeads, cb}, i8);      // key codes
    part({layers, groups, kvHeads, hd}, f32);     // key scales
    part({layers, groups, kvHeads, hd}, i32);     // key zero points
    part({layers, kKiviGroup, kvHeads, hd}, f32); // key window
    part({layers, length, kvHeads, cb}, i8);      // value codes
    part({layers, length, kvHeads, 1}, f32);      // value scales
    part({layers, length, kvHeads, 1}, i32);      // value zero points
    part({layers, kKiviGroup, kvHeads, hd}, f32); // value window
  }
}

SmallVector<Type> KVCache::types() const {
  SmallVector<Type> r;
  for (const Part &p : parts)
    r.push_back(p.type);
  return r;
}

SmallVector<Value> KVCache::results() const {
  SmallVector<Value> r;
  for (const Part &p : parts)
    r.push_back(p.current);
  return r;
}

void KVCache::begin(ImplicitLocOpBuilder &b, const StepValues &v,
                    ValueRange args) {
  setParts(args);
  if (mode == "int4" || mode == "int2") {
    Value group = arith::ConstantIndexOp::create(b, kKiviGroup);
    groupIndex = arith::DivUIOp::create(b, v.pos, group);
    slot = arith::RemUIOp::create(b, v.pos, group);
    groupStart = arith::MulIOp::create(b, groupIndex, group);
  }
}

void KVCache::setParts(ValueRange args) {
  for (auto [p, a] : llvm::zip_equal(parts, args))
    p.current = a;
}

void KVCache::insert(ImplicitLocOpBuilder &b, size_t i, Value x,
                     ArrayRef<OpFoldResult> offsets) {
  // x's shape with a leading 1 (the layer).
  SmallVector<int64_t> sizes{1};
  llvm::append_range(sizes, cast<RankedTensorType>(x.getType()).getShape());
  parts[i].current = tensor::InsertSliceOp::create(
      b, x, parts[i].current, offsets, staticSizes(b, sizes),
      staticSizes(b, SmallVector<int64_t>(sizes.size(), 1)));
}

Value KVCache::extract(ImplicitLocOpBuilder &b, size_t i,
                       ArrayRef<OpFoldResult> offsets,
                       ArrayRef<int64_t> sizes) {
  // The leading 1 (the layer) is dropped.
  auto type =
      RankedTensorType::get(sizes.drop_front(), parts[i].type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, type, parts[i].current, offsets, staticSizes(b, sizes),
      staticSizes(b, SmallVector<int64_t>(sizes.size(), 1)));
}

int64_t KVCache::blockSize() const {
  if (mode == "int4" || mode == "int2")
    return kKiviGroup;
  int64_t size = 32;
  while (length % size != 0)
    size /= 2;
  return size;
}

void KVCache::append(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
                     Value fresh, int64_t layer) {
  if (mode == "f32" || mode == "f16")
    return appendFloat(b, v, key, fresh, layer);
  if (mode == "int8" || mode == "fp8")
    return appendPerToken(b, v, key, fresh, layer);
  return appendKivi(b, key, fresh, layer);
}

Value KVCache::block(ImplicitLocOpBuilder &b, bool key, int64_t layer,
                     Value start, Value head) {
  Value x = mode == "f32" || mode == "f16"
                ? blockFloat(b, key, layer, start, head)
            : mode == "int8" || mode == "fp8"
                ? blockPerToken(b, key, layer, start, head)
                : blockKivi(b, key, layer, start, head);
  auto type = cast<RankedTensorType>(x.getType());
  bool half = type.getElementType().isF16();
  int64_t n = blockSize();
  if (key) {
    // Keys as [1, HD, B] (widened from f16 first): the scores' loop then
    // runs over a block's positions innermost, contiguously. A
    // linalg.transpose, which elementwise fusion leaves apart from its
    // consumer: fused, the scores' loop would read the keys strided.
    MLIRContext *ctx = b.getContext();
    if (half)
      x = ir::generic(
          b, {x}, ir::empty(b, ir::f32Type(b, type.getShape())),
          {ir::mapOf(ctx, 3, {0, 1, 2}), ir::mapOf(ctx, 3, {0, 1, 2})},
          {ir::kPar, ir::kPar, ir::kPar},
          [&](ImplicitLocOpBuilder &ib, ValueRange a) {
            return arith::ExtFOp::create(ib, ib.getF32Type(), a[0]).getResult();
          });
    return linalg::TransposeOp::create(
               b, x, ir::empty(b, ir::f32Type(b, {1, headDim, n})),
               ArrayRef<int64_t>{1, 2, 0})
        .getResult()[0];
  }
  if (!half)
    return x;
  // f16 values widened (exactly) by a `linalg.copy`, which elementwise
  // fusion leaves apart from its consumer, so that the conversion is one
  // vectorized loop rather than a step of the consumer's reduction.
  Value init = tensor::EmptyOp::create(b, ArrayRef<int64_t>{n, 1, headDim},
                                       b.getF32Type());
  return linalg::CopyOp::create(b, x, init).getResult(0);
}

/// f32 / f16: the keys or values as they are, or rounded to f16.
void KVCache::appendFloat(ImplicitLocOpBuilder &b, const StepValues &v,
                          bool key, Value fresh, int64_t layer) {
  size_t i = key ? 0 : 1;
  if (parts[i].type.getElementType().isF16())
    fresh = buildRoundToF16(b, fresh);
  insert(b, i, fresh, indices(b, {b.getIndexAttr(layer), v.pos}, 2));
}

/// A block as stored.
Value KVCache::blockFloat(ImplicitLocOpBuilder &b, bool key, int64_t layer,
                          Value start, Value head) {
  return extract(b, key ? 0 : 1,
                 indices(b, {b.getIndexAttr(layer), start, head}, 1),
                 {1, blockSize(), 1, headDim});
}

/// int8 / fp8: each token's head quantized on its own (blocks of one
/// head's HD values, one f32 scale).
lb::QTensorType KVCache::perTokenType(int64_t n, int64_t heads) const {
  Type storage = mode == "int8" ? Type(IntegerType::get(ctx, 8))
                                : Type(Float8E4M3FNType::get(ctx));
  return groupedType(ctx, {n, heads, headDim}, storage, 2, headDim,
                     /*asymmetric=*/false);
}

void KVCache::appendPerToken(ImplicitLocOpBuilder &b, const StepValues &v,
                             bool key, Value fresh, int64_t layer) {
  size_t ci = key ? 0 : 2, si = ci + 1;
  OpFoldResult l = b.getIndexAttr(layer);
  lb::QTensorType q1 = perTokenType(
      cast<RankedTensorType>(fresh.getType()).getDimSize(0), kvHeads);
  Value q = lb::QuantizeOp::create(b, q1, fresh, Value(), Value(), Value());
  SmallVector<Type> partTypes;
  q1.getPartTypes(partTypes);
  auto unpacked = lb::UnpackOp::create(b, partTypes, q);
  insert(b, ci, unpacked.getResult(0), indices(b, {l, v.pos}, 2));
  insert(b, si, unpacked.getResult(1), indices(b, {l, v.pos}, 2));
}

Value KVCache::blockPerToken(ImplicitLocOpBuilder &b, bool key, int64_t layer,
                             Value start, Value head) {
  size_t ci = key ? 0 : 2, si = ci + 1;
  int64_t n = blockSize();
  OpFoldResult l = b.getIndexAttr(layer);
  lb::QTensorType qB = perTokenType(n, 1);
  Value codes =
      extract(b, ci, indices(b, {l, start, head}, 1), {1, n, 1, headDim});
  Value scales = extract(b, si, indices(b, {l, start, head}, 1), {1, n, 1, 1});
  Value packed = lb::PackOp::create(b, qB, ValueRange{codes, scales});
  return lb::DequantizeOp::create(b, qB.getExpressedTensorType(), packed);
}

/// KIVI: keys per channel over the group's length, values per token.
lb::QTensorType KVCache::kiviType(bool key, int64_t n, int64_t heads) const {
  Type storage = IntegerType::get(ctx, mode == "int4" ? 4 : 2);
  return key ? groupedType(ctx, {n, heads, headDim}, storage, 0, kKiviGroup,
                           true)
             : groupedType(ctx, {n, heads, headDim}, storage, 2, headDim, true);
}

/// KIVI: the window holds the current group in f32; each step the window
/// is quantized into the group's slot (final once the group is complete).
void KVCache::appendKivi(ImplicitLocOpBuilder &b, bool key, Value fresh,
                         int64_t layer) {
  int64_t group = kKiviGroup;
  size_t base = key ? 0 : 4;
  OpFoldResult l = b.getIndexAttr(layer);
  insert(b, base + 3, fresh, indices(b, {l, slot}, 2));
  Value window =
      extract(b, base + 3, indices(b, {l}, 3), {1, group, kvHeads, headDim});
  lb::QTensorType qG = kiviType(key, group, kvHeads);
  Value q = lb::QuantizeOp::create(b, qG, window, Value(), Value(), Value());
  SmallVector<Type> partTypes;
  qG.getPartTypes(partTypes);
  auto unpacked = lb::UnpackOp::create(b, partTypes, q);
  insert(b, base, unpacked.getResult(0), indices(b, {l, groupStart}, 2));
  OpFoldResult scaleRow = key ? OpFoldResult(groupIndex) : groupStart;
  insert(b, base + 1, unpacked.getResult(1), indices(b, {l, scaleRow}, 2));
  insert(b, base + 2, unpacked.getResult(2), indices(b, {l, scaleRow}, 2));
}

/// KIVI: a block is one group, dequantized, or the window for the
/// current group.
Value KVCache::blockKivi(ImplicitLocOpBuilder &b, bool key, int64_t layer,
                         Value start, Value head) {
  int64_t group = kKiviGroup, hd = headDim;
  int64_t cb = hd * (mode == "int4" ? 4 : 2) / 8;
  size_t base = key ? 0 : 4;
  OpFoldResult l = b.getIndexAttr(layer);
  Value codes =
      extract(b, base, indices(b, {l, start, head}, 1), {1, group, 1, cb});
  // Keys: the group's row of scales and zero points; values: a row per
  // position.
  Value row = key ? arith::DivUIOp::create(
                        b, start, arith::ConstantIndexOp::create(b, group))
                        .getResult()
                  : start;
  SmallVector<int64_t> rows = key ? SmallVector<int64_t>{1, 1, 1, hd}
                                  : SmallVector<int64_t>{1, group, 1, 1};
  SmallVector<Value, 2> sz;
  for (size_t i : {base + 1, base + 2})
    sz.push_back(extract(b, i, indices(b, {l, row, head}, 1), rows));
  lb::QTensorType qG = kiviType(key, group, 1);
  Value packed = lb::PackOp::create(b, qG, ValueRange{codes, sz[0], sz[1]});
  Value stored =
      lb::DequantizeOp::create(b, qG.getExpressedTensorType(), packed);
  Value window =
      extract(b, base + 3, indices(b, {l, b.getIndexAttr(0), head}, 1),
              {1, group, 1, hd});
  Value current =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, start, groupStart);
  return arith::SelectOp::create(b, current, window, stored);
}
