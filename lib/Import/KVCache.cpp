//===- KVCache.cpp - the KV cache of a decoder step -----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// See Builders.h (KVCache) and docs/Import.md ("KV cache quantization").
// A quantized cache is kept as its run-time parts: each step quantizes the
// new keys or values (`lowbit.quantize`), writes their parts into plain
// cache tensors (`lowbit.unpack`, `tensor.insert_slice`) and reads the
// layer's cache back (`lowbit.pack`, `lowbit.dequantize`), so the numerics
// are the dialect's. An f16 cache stores keys and values rounded to f16
// (`arith.truncf`, to nearest even) and hands them to attention as f16.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"

#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
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
  for (auto [p, a] : llvm::zip_equal(parts, args))
    p.current = a;
  if (mode == "int4" || mode == "int2") {
    Value group = arith::ConstantIndexOp::create(b, kKiviGroup);
    groupIndex = arith::DivUIOp::create(b, v.pos, group);
    slot = arith::RemUIOp::create(b, v.pos, group);
    groupStart = arith::MulIOp::create(b, groupIndex, group);
  }
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

Value KVCache::step(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
                    Value fresh, int64_t layer) {
  if (mode == "f32" || mode == "f16")
    return stepFloat(b, v, key, fresh, layer);
  if (mode == "int8" || mode == "fp8")
    return stepPerToken(b, v, key, fresh, layer);
  return stepKivi(b, v, key, fresh, layer);
}

/// f32 / f16: the keys or values as they are, or rounded to f16.
Value KVCache::stepFloat(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
                         Value fresh, int64_t layer) {
  size_t i = key ? 0 : 1;
  OpFoldResult l = b.getIndexAttr(layer);
  if (parts[i].type.getElementType().isF16())
    fresh = buildRoundToF16(b, fresh);
  insert(b, i, fresh, indices(b, {l, v.pos}, 2));
  return extract(b, i, indices(b, {l}, 3), {1, length, kvHeads, headDim});
}

/// int8 / fp8: each token's head quantized on its own (blocks of one
/// head's HD values, one f32 scale).
Value KVCache::stepPerToken(ImplicitLocOpBuilder &b, const StepValues &v,
                            bool key, Value fresh, int64_t layer) {
  int64_t hd = headDim;
  Type storage =
      mode == "int8" ? Type(b.getI8Type()) : Type(Float8E4M3FNType::get(ctx));
  auto qt = [&](int64_t n) {
    return groupedType(ctx, {n, kvHeads, hd}, storage, 2, hd,
                       /*asymmetric=*/false);
  };
  size_t ci = key ? 0 : 2, si = ci + 1;
  OpFoldResult l = b.getIndexAttr(layer);
  lb::QTensorType q1 = qt(1), qT = qt(length);
  Value q = lb::QuantizeOp::create(b, q1, fresh, Value(), Value(), Value());
  SmallVector<Type> partTypes;
  q1.getPartTypes(partTypes);
  auto unpacked = lb::UnpackOp::create(b, partTypes, q);
  insert(b, ci, unpacked.getResult(0), indices(b, {l, v.pos}, 2));
  insert(b, si, unpacked.getResult(1), indices(b, {l, v.pos}, 2));
  Value codes = extract(b, ci, indices(b, {l}, 3), {1, length, kvHeads, hd});
  Value scales = extract(b, si, indices(b, {l}, 3), {1, length, kvHeads, 1});
  Value packed = lb::PackOp::create(b, qT, ValueRange{codes, scales});
  return lb::DequantizeOp::create(b, qT.getExpressedTensorType(), packed);
}

/// KIVI: the window holds the current group in f32; each step the window
/// is quantized into the group's slot (final once the group is complete)
/// and attention reads the dequantized cache with the window over the
/// current group.
Value KVCache::stepKivi(ImplicitLocOpBuilder &b, const StepValues &v, bool key,
                        Value fresh, int64_t layer) {
  int64_t hd = headDim, group = kKiviGroup;
  int64_t bits = mode == "int4" ? 4 : 2, cb = hd * bits / 8;
  Type storage = b.getIntegerType(bits);
  // Keys per channel over the group's length, values per token.
  auto qt = [&](int64_t n) {
    return key ? groupedType(ctx, {n, kvHeads, hd}, storage, 0, group, true)
               : groupedType(ctx, {n, kvHeads, hd}, storage, 2, hd, true);
  };
  auto scaleShape = [&](int64_t n) -> SmallVector<int64_t> {
    if (key)
      return {1, n / group, kvHeads, hd};
    return {1, n, kvHeads, 1};
  };
  size_t base = key ? 0 : 4;
  OpFoldResult l = b.getIndexAttr(layer);
  insert(b, base + 3, fresh, indices(b, {l, slot}, 2));
  Value window =
      extract(b, base + 3, indices(b, {l}, 3), {1, group, kvHeads, hd});
  lb::QTensorType qG = qt(group), qT = qt(length);
  Value q = lb::QuantizeOp::create(b, qG, window, Value(), Value(), Value());
  SmallVector<Type> partTypes;
  qG.getPartTypes(partTypes);
  auto unpacked = lb::UnpackOp::create(b, partTypes, q);
  insert(b, base, unpacked.getResult(0), indices(b, {l, groupStart}, 2));
  OpFoldResult scaleRow = key ? OpFoldResult(groupIndex) : groupStart;
  insert(b, base + 1, unpacked.getResult(1), indices(b, {l, scaleRow}, 2));
  insert(b, base + 2, unpacked.getResult(2), indices(b, {l, scaleRow}, 2));
  Value codes = extract(b, base, indices(b, {l}, 3), {1, length, kvHeads, cb});
  Value scales = extract(b, base + 1, indices(b, {l}, 3), scaleShape(length));
  Value zeroPoints =
      extract(b, base + 2, indices(b, {l}, 3), scaleShape(length));
  Value packed =
      lb::PackOp::create(b, qT, ValueRange{codes, scales, zeroPoints});
  Value cache =
      lb::DequantizeOp::create(b, qT.getExpressedTensorType(), packed);
  return tensor::InsertSliceOp::create(
      b, window, cache, indices(b, {groupStart}, 2),
      staticSizes(b, {group, kvHeads, hd}), staticSizes(b, {1, 1, 1}));
}
