//===- GGUFDequantize.cpp - dequantize of the GGUF block formats ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The reference lowering of dequantize for llama.cpp's block formats
// (docs/Spec.md, LB-L1): one linalg.generic over the result, viewed as
// [..., blocks, block elements], whose body reads the bytes of element
// (..., block, e)'s block from the codes part ([..., blocks, block bytes],
// llama.cpp's structs) with tensor.extract and decodes it with the scalar
// rule of its format. Each decoder repeats the numerics library's
// dequantizer (lib/Numerics/GGUF.cpp, GGUFKQuants.cpp, GGUFIQuants.cpp,
// llama.cpp's dequantize_row_*) operation for operation in f32, so the
// results are the same bits: f16 fields decoded exactly from their bits
// (NaN payloads kept), integers converted exactly, products and sums in
// the library's order and never contracted.
//
//===----------------------------------------------------------------------===//

#include "ReferenceLowering.h"

#include "lowbit/Conversion/Codecs.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::codecs;
using namespace mlir::lowbit::reference;

namespace {

/// ggml's MXFP4 values (E2M1 doubled; the scale is half the E8M0 value).
constexpr float kMXFP4Values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                    0, -1, -2, -3, -4, -6, -8, -12};
/// ggml-common.h's kvalues_iq4nl.
constexpr float kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};

/// Scalar arithmetic on one block inside the generic's body: i32 integer
/// helpers, f32 helpers in the library's operand order, and reads of the
/// block's bytes (zero-extended to i32).
struct BlockReader {
  ImplicitLocOpBuilder &b;
  /// The codes as [..., blocks, block bytes].
  Value codes;
  /// The indices of every dimension of `codes` but the last.
  SmallVector<Value> block;

  Value c(int64_t v) { return constI32(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) { return add(x, c(y)); }
  Value sub(Value x, int64_t y) { return arith::SubIOp::create(b, x, c(y)); }
  Value mul(Value x, int64_t y) { return arith::MulIOp::create(b, x, c(y)); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, x, c(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, x, c(y)); }
  Value shr(Value x, Value s) { return arith::ShRUIOp::create(b, x, s); }
  Value shr(Value x, int64_t s) { return shr(x, c(s)); }
  Value shl(Value x, int64_t s) { return arith::ShLIOp::create(b, x, c(s)); }
  Value bitAnd(Value x, int64_t m) { return arith::AndIOp::create(b, x, c(m)); }
  Value bitOr(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value lt(Value x, int64_t y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, c(y));
  }
  Value select(Value cond, Value t, Value f) {
    return arith::SelectOp::create(b, cond, t, f);
  }
  /// (x >> s) & m.
  Value field(Value x, Value s, int64_t m) { return bitAnd(shr(x, s), m); }
  Value field(Value x, int64_t s, int64_t m) { return field(x, c(s), m); }
  /// The 4-bit field `hi` (0: low, 1: high) of `x`.
  Value nibble(Value x, Value hi) { return field(x, mul(hi, 4), 0xF); }

  /// float(x) of a signed i32.
  Value toF(Value x) { return arith::SIToFPOp::create(b, b.getF32Type(), x); }
  Value mulF(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value addF(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value subF(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value bitsToF(Value bits) {
    return arith::BitcastOp::create(b, b.getF32Type(), bits);
  }

  /// The byte at offset `off` (i32 or index) of the block.
  Value byte(Value off) {
    SmallVector<Value> idx(block);
    if (!off.getType().isIndex())
      off = arith::IndexCastUIOp::create(b, b.getIndexType(), off);
    idx.push_back(off);
    return fromByte(b, tensor::ExtractOp::create(b, codes, idx));
  }
  Value byte(int64_t off) {
    return byte(arith::ConstantIndexOp::create(b, off));
  }
  Value byte(int64_t base, Value off) { return byte(add(off, base)); }
  /// The signed byte at `off`, sign-extended.
  Value signedByte(Value off) {
    return arith::ExtSIOp::create(b, b.getI32Type(), toByte(b, byte(off)));
  }

  /// The little-endian f16 at `off` as f32, exactly as the library's
  /// loadHalf: subnormals as frac * 2^-24, Inf, NaN with its payload.
  Value half(int64_t off) {
    Value h = bitOr(byte(off), shl(byte(off + 1), 8));
    Value sign = shl(shr(h, 15), 31);
    Value e = field(h, 10, 0x1F);
    Value frac = bitAnd(h, 0x3FF);
    Value fracBits = shl(frac, 13);
    Value normal = bitOr(shl(add(e, 127 - 15), 23), fracBits);
    Value special = bitOr(c(0x7F800000), fracBits);
    Value sub = arith::BitcastOp::create(
        b, b.getI32Type(), mulF(toF(frac), constF32(b, 0x1p-24f)));
    Value bits =
        select(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, c(0x1F)),
               special, normal);
    bits = select(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, e, c(0)),
                  sub, bits);
    return bitsToF(bitOr(bits, sign));
  }
  /// Bit `i` (i32) of the little-endian bit field that starts at `off`.
  Value bit(int64_t off, Value i) {
    return field(byte(off, div(i, 8)), rem(i, 8), 1);
  }
  /// `table[i]` of a constant table.
  Value lookup(Value table, Value i) {
    return tensor::ExtractOp::create(
        b, table,
        ValueRange{arith::IndexCastUIOp::create(b, b.getIndexType(), i)});
  }
};

} // namespace

/// Q4_K / Q5_K: the 6-bit scale and min of sub-block `j` (0..7) packed in
/// the 12 bytes at `off` (llama.cpp's get_scale_min_k4).
static std::pair<Value, Value> scaleMinK4(BlockReader &r, int64_t off,
                                          Value j) {
  // j < 4:  scale q[j] & 63, min q[j + 4] & 63;
  // j >= 4: scale (q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4,
  //         min (q[j + 4] >> 4) | (q[j] >> 6) << 4.
  Value low = r.lt(j, 4);
  Value qj = r.byte(off, j);
  Value qj4 = r.byte(off, r.add(j, 4));
  Value qjm4 = r.byte(off, r.rem(j, 4));
  Value d = r.select(low, r.bitAnd(qj, 63),
                     r.bitOr(r.bitAnd(qj4, 0xF), r.shl(r.shr(qjm4, 6), 4)));
  Value m = r.select(low, r.bitAnd(qj4, 63),
                     r.bitOr(r.shr(qj4, 4), r.shl(r.shr(qj, 6), 4)));
  return {d, m};
}

/// One element's f32 value: element `e` (i32) of the block `r` reads.
/// `table` is the format's value table (mxfp4, iq4) or null.
static Value decodeElement(GGUFKind kind, BlockReader &r, Value e,
                           Value table) {
  // The 32-element formats: element e is nibble e / 16 of byte e % 16 of
  // the block's quants at `base`.
  auto quant32 = [&](int64_t base) {
    return r.nibble(r.byte(base, r.rem(e, 16)), r.div(e, 16));
  };
  switch (kind) {
  case GGUFKind::Q4_0: {
    // float((q & 0xF) - 8) * d
    Value d = r.half(0);
    Value q = quant32(2);
    return r.mulF(r.toF(r.sub(q, 8)), d);
  }
  case GGUFKind::Q4_1: {
    // float(q) * d + m
    Value d = r.half(0), m = r.half(2);
    Value q = quant32(4);
    return r.addF(r.mulF(r.toF(q), d), m);
  }
  case GGUFKind::Q5_0: {
    // float((q | bit e of qh << 4) - 16) * d
    Value d = r.half(0);
    Value q = r.bitOr(quant32(6), r.shl(r.bit(2, e), 4));
    return r.mulF(r.toF(r.sub(q, 16)), d);
  }
  case GGUFKind::Q5_1: {
    // float(q | bit e of qh << 4) * d + m
    Value d = r.half(0), m = r.half(2);
    Value q = r.bitOr(quant32(8), r.shl(r.bit(4, e), 4));
    return r.addF(r.mulF(r.toF(q), d), m);
  }
  case GGUFKind::Q8_0:
    // float(int8 q) * d
    return r.mulF(r.toF(r.signedByte(r.add(e, 2))), r.half(0));
  case GGUFKind::MXFP4: {
    // float(kvalues_mxfp4[q]) * (E8M0 value / 2), the half of E8M0 byte x
    // as f32 bits: 0x00200000 << x for x < 2 (subnormals), (x - 1) << 23.
    Value x = r.byte(0);
    Value bits =
        r.select(r.lt(x, 2), arith::ShLIOp::create(r.b, r.c(0x00200000), x),
                 r.shl(r.sub(x, 1), 23));
    Value q = quant32(1);
    return r.mulF(r.lookup(table, q), r.bitsToF(bits));
  }
  case GGUFKind::IQ4_NL:
    // d * kvalues_iq4nl[q]
    return r.mulF(r.half(0), r.lookup(table, quant32(2)));
  case GGUFKind::Q2_K: {
    // Scale byte s = scales[e / 16]; 2-bit field (e % 128) / 32 of byte
    // qs[e / 128 * 32 + e % 32]; (d * (s & 0xF)) * float(q) - min * (s >> 4).
    Value d = r.half(80), min = r.half(82);
    Value s = r.byte(r.div(e, 16));
    Value qb = r.byte(16, r.add(r.mul(r.div(e, 128), 32), r.rem(e, 32)));
    Value q = r.field(qb, r.mul(r.div(r.rem(e, 128), 32), 2), 3);
    Value dl = r.mulF(d, r.toF(r.bitAnd(s, 0xF)));
    Value ml = r.mulF(min, r.toF(r.shr(s, 4)));
    return r.subF(r.mulF(dl, r.toF(q)), ml);
  }
  case GGUFKind::Q3_K: {
    // Sub-block j = e / 16 with the 6-bit scale s; 2-bit field
    // (e % 128) / 32 of qs[e / 128 * 32 + e % 32] minus 4 unless bit
    // e / 32 of hmask[e % 32] is set; (d * float(s - 32)) * float(q).
    Value dAll = r.half(108);
    Value j = r.div(e, 16);
    Value lowBits = r.select(r.lt(j, 8), r.bitAnd(r.byte(96, j), 0xF),
                             r.shr(r.byte(96, r.rem(j, 8)), 4));
    Value highBits =
        r.field(r.byte(96 + 8, r.rem(j, 4)), r.mul(r.div(j, 4), 2), 3);
    Value s = r.bitOr(lowBits, r.shl(highBits, 4));
    Value l32 = r.rem(e, 32);
    Value qb = r.byte(32, r.add(r.mul(r.div(e, 128), 32), l32));
    Value q = r.field(qb, r.mul(r.div(r.rem(e, 128), 32), 2), 3);
    Value h = r.field(r.byte(l32), r.div(e, 32), 1);
    q = arith::SubIOp::create(r.b, q, r.select(r.lt(h, 1), r.c(4), r.c(0)));
    Value dl = r.mulF(dAll, r.toF(r.sub(s, 32)));
    return r.mulF(dl, r.toF(q));
  }
  case GGUFKind::Q4_K:
  case GGUFKind::Q5_K: {
    // Sub-block j = e / 32: nibble j % 2 of qs[e / 64 * 32 + e % 32] (and,
    // Q5_K, bit j of qh[e % 32] as 16); (d * sc) * float(q) - min * m.
    bool five = kind == GGUFKind::Q5_K;
    Value d = r.half(0), min = r.half(2);
    Value j = r.div(e, 32);
    auto [sc, m] = scaleMinK4(r, 4, j);
    Value l32 = r.rem(e, 32);
    Value qb = r.byte(five ? 48 : 16, r.add(r.mul(r.div(e, 64), 32), l32));
    Value q = r.nibble(qb, r.rem(j, 2));
    if (five)
      q = r.add(q, r.shl(r.field(r.byte(16, l32), j, 1), 4));
    Value d1 = r.mulF(d, r.toF(sc));
    Value m1 = r.mulF(min, r.toF(m));
    return r.subF(r.mulF(d1, r.toF(q)), m1);
  }
  case GGUFKind::Q6_K: {
    // Half h = e / 128 (ql + 64h, qh + 32h, scales + 8h); quarter
    // t = (e % 128) / 32 and l = e % 32: nibble t / 2 of ql[l + 32 (t % 2)],
    // 2-bit field t of qh[l], scale scales[l / 16 + 2t];
    // (d * float(sc)) * float(q - 32).
    Value d = r.half(208);
    Value h = r.div(e, 128), t = r.div(r.rem(e, 128), 32), l = r.rem(e, 32);
    Value ql = r.byte(r.add(r.add(r.mul(h, 64), l), r.mul(r.rem(t, 2), 32)));
    Value qh = r.byte(128, r.add(r.mul(h, 32), l));
    Value q = r.bitOr(r.nibble(ql, r.div(t, 2)),
                      r.shl(r.field(qh, r.mul(t, 2), 3), 4));
    Value sc = r.signedByte(
        r.add(r.add(r.mul(h, 8), r.div(l, 16)), r.add(r.mul(t, 2), 192)));
    return r.mulF(r.mulF(d, r.toF(sc)), r.toF(r.sub(q, 32)));
  }
  case GGUFKind::IQ4_XS: {
    // Sub-block ib = e / 32: 6-bit scale ls from scales_l[ib / 2] (nibble
    // ib % 2) and scales_h (bits 2ib, 2ib + 1); nibble (e % 32) / 16 of
    // qs[ib * 16 + e % 16]; (d * float(ls - 32)) * kvalues_iq4nl[q].
    Value d = r.half(0);
    Value ib = r.div(e, 32);
    Value lsLow = r.nibble(r.byte(4, r.div(ib, 2)), r.rem(ib, 2));
    Value lsHigh = r.field(r.byte(2, r.div(ib, 4)), r.mul(r.rem(ib, 4), 2), 3);
    Value ls = r.bitOr(lsLow, r.shl(lsHigh, 4));
    Value qb = r.byte(8, r.add(r.mul(ib, 16), r.rem(e, 16)));
    Value q = r.nibble(qb, r.div(r.rem(e, 32), 16));
    Value dl = r.mulF(d, r.toF(r.sub(ls, 32)));
    return r.mulF(dl, r.lookup(table, q));
  }
  case GGUFKind::TQ1_0: {
    // Trit n of byte qs[m] (e < 160: n = e / 32, m = e % 32; e < 240:
    // n = (e - 160) / 16, m = 32 + e % 16; else n = (e - 240) / 4,
    // m = 48 + e % 4): q = (byte * 3^n) mod 256, float(((q * 3) >> 8) - 1)
    // * d.
    Value d = r.half(52);
    Value first = r.lt(e, 160), second = r.lt(e, 240);
    Value n = r.select(
        first, r.div(e, 32),
        r.select(second, r.div(r.sub(e, 160), 16), r.div(r.sub(e, 240), 4)));
    Value m = r.select(
        first, r.rem(e, 32),
        r.select(second, r.add(r.rem(e, 16), 32), r.add(r.rem(e, 4), 48)));
    constexpr int64_t kPow3[5] = {1, 3, 9, 27, 81};
    Value pow3 = r.c(kPow3[4]);
    for (int64_t k = 3; k >= 0; --k)
      pow3 = r.select(
          arith::CmpIOp::create(r.b, arith::CmpIPredicate::eq, n, r.c(k)),
          r.c(kPow3[k]), pow3);
    Value q = r.bitAnd(arith::MulIOp::create(r.b, r.byte(m), pow3), 0xFF);
    Value xi = r.shr(r.mul(q, 3), 8);
    return r.mulF(r.toF(r.sub(xi, 1)), d);
  }
  case GGUFKind::TQ2_0: {
    // 2-bit field (e % 128) / 32 of qs[e / 128 * 32 + e % 32];
    // float(q - 1) * d.
    Value d = r.half(64);
    Value qb = r.byte(r.add(r.mul(r.div(e, 128), 32), r.rem(e, 32)));
    Value q = r.field(qb, r.mul(r.div(r.rem(e, 128), 32), 2), 3);
    return r.mulF(r.toF(r.sub(q, 1)), d);
  }
  case GGUFKind::None:
    break;
  }
  llvm_unreachable("not a GGUF block format");
}

/// The value table a format reads, or none.
static ArrayRef<float> valueTable(GGUFKind kind) {
  switch (kind) {
  case GGUFKind::MXFP4:
    return kMXFP4Values;
  case GGUFKind::IQ4_NL:
  case GGUFKind::IQ4_XS:
    return kIQ4NLValues;
  default:
    return {};
  }
}

Value mlir::lowbit::reference::emitGGUFDequantize(TensorBuilder &tb,
                                                  Value codes, QTensorType t) {
  ImplicitLocOpBuilder &b = tb.b;
  SchemeAttr s = t.getScheme();
  GGUFKind kind = s.getGguf();
  int64_t elems = getGGUFBlockElements(kind), bytes = getGGUFBlockBytes(kind);
  int64_t n = t.getRank();
  Type outElem = s.getExpressedType();

  // [..., K / elems * bytes] -> [..., K / elems, bytes]; the result is built
  // as [..., K / elems, elems].
  SmallVector<int64_t> byteShape(t.getShape()), outShape(t.getShape());
  int64_t blocks = byteShape.back() / elems;
  byteShape.back() = blocks;
  byteShape.push_back(bytes);
  outShape.back() = blocks;
  outShape.push_back(elems);
  SmallVector<ReassociationIndices> splitLast;
  for (int64_t i = 0; i < n - 1; ++i)
    splitLast.push_back({i});
  splitLast.push_back({n - 1, n});
  Value blockBytes = tensor::ExpandShapeOp::create(
      b, RankedTensorType::get(byteShape, b.getI8Type()), codes, splitLast);

  Value table;
  if (ArrayRef<float> values = valueTable(kind); !values.empty())
    table = arith::ConstantOp::create(
        b, DenseElementsAttr::get(
               RankedTensorType::get({int64_t(values.size())}, b.getF32Type()),
               values));

  Value y = tb.generic(
      {RankedTensorType::get(outShape, outElem)}, {},
      {tb.empty(outShape, outElem)}, {b.getMultiDimIdentityMap(n + 1)},
      TensorBuilder::parallel(n + 1),
      [&](ImplicitLocOpBuilder &ib, ValueRange) {
        BlockReader r{ib, blockBytes, {}};
        for (int64_t i = 0; i < n; ++i)
          r.block.push_back(linalg::IndexOp::create(ib, i));
        Value e = arith::IndexCastUIOp::create(ib, ib.getI32Type(),
                                               linalg::IndexOp::create(ib, n));
        return SmallVector<Value>{
            fromF32(ib, decodeElement(kind, r, e, table), outElem)};
      })[0];
  auto outType = RankedTensorType::get(t.getShape(), outElem);
  return tensor::CollapseShapeOp::create(b, outType, y, splitLast);
}
