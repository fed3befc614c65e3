//===- W4Int8Blocks.cpp - a chunk's GGUF blocks for w4-int8 ---------------===//
//-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-int8 kernel's readers of a chunk's GGUF blocks (W4Int8Kernel.h):
// the formats of 32-input blocks, iq4_xs and tq1_0, each as the codes'
// bytes (or segments) and the scales on the lanes.
//
//===----------------------------------------------------------------------===//

#include "W4Int8Kernel.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

/// See W4Int8Kernel.h.
void W4I8Kernel::readGGUF(ImplicitLocOpBuilder &cb, Value row, Value c,
                          bool full, Value &bytes, Value &sw,
                          SmallVectorImpl<Value> &high, Value *mins) {
  Type f32 = cb.getF32Type(), i32 = cb.getI32Type();
  if (p.isIQ4XS())
    return readIQ4XS(cb, row, c, bytes, sw);
  // (tq2_0: one block of 66 bytes, its 64 bytes of codes first, then d;
  // q4_1: 20 bytes, d, m, then nibbles as q4_0's; q5_1: 24, d, m, qh,
  // nibbles.)
  int64_t blocks = p.isQ8_0()    ? 2
                   : p.isTQ2_0() ? 1
                                 : 4,
          blockBytes = p.isQ8_0()         ? 34
                       : p.isGGUFMXFP4()  ? 17
                       : p.isQ5_0()       ? 22
                       : p.isQ5_1()       ? 24
                       : p.isTQ2_0()      ? 66
                       : p.hasBlockMins() ? 20
                                          : 18,
          dataBytes = 64 / blocks,
          dataAt = p.isQ5_1()        ? 8
                   : p.isGGUFMXFP4() ? 1
                   : p.isQ5_0()      ? 6
                   : p.isQ4_1()      ? 4
                   : p.isTQ2_0()     ? 0
                                     : 2,
          dAt = p.isTQ2_0() ? 64 : 0;
  SmallVector<Value> highParts[2];
  Value base = arith::MulIOp::create(cb, c, idx(cb, blocks * blockBytes));
  auto vData = VectorType::get({dataBytes}, cb.getI8Type());
  SmallVector<Value> parts, d, mv;
  // GGUF mxfp4's scale: the E8M0 byte e as 2^(e - 127) (its f32 bits
  // e << 23; 2^-127, e = 0, is the subnormal 0x00400000).
  auto readE8M0 = [&](Value at) {
    Value e = vector::TransferReadOp::create(
        cb, VectorType::get({1}, cb.getI8Type()), codes, ValueRange{row, at},
        padI8, ArrayRef<bool>{full});
    e = arith::ExtUIOp::create(
        cb, i32, vector::ExtractOp::create(cb, e, ArrayRef<int64_t>{0}));
    auto cI = [&](int32_t v) {
      return arith::ConstantOp::create(cb, cb.getI32IntegerAttr(v)).getResult();
    };
    Value bits = arith::ShLIOp::create(cb, e, cI(23));
    Value zero = arith::CmpIOp::create(cb, arith::CmpIPredicate::eq, e, cI(0));
    bits = arith::SelectOp::create(cb, zero, cI(0x00400000), bits);
    return arith::BitcastOp::create(cb, f32, bits).getResult();
  };
  for (int64_t j = 0; j < blocks; ++j) {
    Value off = add(cb, base, blockBytes * j);
    parts.push_back(vector::TransferReadOp::create(
        cb, vData, codes, ValueRange{row, add(cb, off, dataAt)}, padI8,
        ArrayRef<bool>{full}));
    if (p.hasFifthBits()) {
      // qh (little-endian u32, after d, and m for q5_1): bit 16 s + i is
      // the fifth bit of the code in byte i's nibble s; as 16 * bit in
      // byte i of segment s.
      Value qh = vector::TransferReadOp::create(
          cb, VectorType::get({4}, cb.getI8Type()), codes,
          ValueRange{row, add(cb, off, p.isQ5_1() ? 4 : 2)}, padI8,
          ArrayRef<bool>{full});
      // The 32 bits as a lane mask (bit j: lane j), selecting 16 or 0 per
      // byte: lanes 0-15 segment 0, 16-31 segment 1 (AVX-512: vpmovm2b).
      auto v32i8 = VectorType::get({32}, cb.getI8Type());
      Value mask = vector::BitCastOp::create(
          cb, VectorType::get({32}, cb.getI1Type()), qh);
      Value bits = arith::SelectOp::create(
          cb, mask, splat(cb, v32i8, cb.getI8IntegerAttr(16)),
          splat(cb, v32i8, cb.getI8IntegerAttr(0)));
      for (int64_t s = 0; s < 2; ++s)
        highParts[s].push_back(vector::ExtractStridedSliceOp::create(
            cb, bits, ArrayRef<int64_t>{16 * s}, ArrayRef<int64_t>{16},
            ArrayRef<int64_t>{1}));
    }
    d.push_back(p.isGGUFMXFP4() ? readE8M0(add(cb, off, 0))
                                : half(cb, row, add(cb, off, dAt), full));
    if (mins)
      mv.push_back(half(cb, row, add(cb, off, 2), full));
  }
  if (mins)
    *mins =
        vector::FromElementsOp::create(cb, VectorType::get({blocks}, f32), mv);
  bytes = concat(cb, parts);
  if (p.hasFifthBits())
    for (int64_t s = 0; s < 2; ++s)
      high.push_back(concat(cb, highParts[s]));
  Value ds =
      vector::FromElementsOp::create(cb, VectorType::get({blocks}, f32), d);
  sw = vector::ShuffleOp::create(cb, ds, ds, laneGroup);
}

/// See W4Int8Kernel.h.
void W4I8Kernel::readIQ4XS(ImplicitLocOpBuilder &cb, Value row, Value c,
                           Value &bytes, Value &sw) {
  Type f32 = cb.getF32Type(), i32 = cb.getI32Type(), i8 = cb.getI8Type();
  Value sb = arith::DivUIOp::create(cb, c, idx(cb, 2));
  Value h = arith::RemUIOp::create(cb, c, idx(cb, 2));
  Value base = arith::MulIOp::create(cb, sb, idx(cb, 136));
  bytes = vector::TransferReadOp::create(
      cb, v64i8, codes,
      ValueRange{row, arith::AddIOp::create(
                          cb, add(cb, base, 8),
                          arith::MulIOp::create(cb, h, idx(cb, 64)))},
      padI8, ArrayRef<bool>{true});
  Value head = vector::TransferReadOp::create(cb, VectorType::get({4}, i8),
                                              codes, ValueRange{row, base},
                                              padI8, ArrayRef<bool>{true});
  Value dh = vector::BitCastOp::create(
      cb, VectorType::get({2}, cb.getF16Type()), head);
  Value d = vector::ExtractOp::create(
      cb, arith::ExtFOp::create(cb, VectorType::get({2}, f32), dh),
      ArrayRef<int64_t>{0});
  Value sh = vector::ExtractOp::create(
      cb,
      vector::BitCastOp::create(cb, VectorType::get({2}, cb.getI16Type()),
                                head),
      ArrayRef<int64_t>{1});
  sh = arith::ExtUIOp::create(cb, i32, sh);
  // scales_l[2h], scales_l[2h + 1]: sub-blocks 4h .. 4h + 3.
  Value sl = vector::TransferReadOp::create(
      cb, VectorType::get({2}, i8), codes,
      ValueRange{
          row, arith::AddIOp::create(cb, add(cb, base, 4),
                                     arith::MulIOp::create(cb, h, idx(cb, 2)))},
      padI8, ArrayRef<bool>{true});
  Value h32 = arith::IndexCastOp::create(cb, i32, h);
  auto cI32 = [&](int32_t v) {
    return arith::ConstantOp::create(cb, cb.getI32IntegerAttr(v)).getResult();
  };
  SmallVector<Value> scales;
  for (int64_t i = 0; i < 4; ++i) {
    Value lo = arith::ExtUIOp::create(
        cb, i32, vector::ExtractOp::create(cb, sl, ArrayRef<int64_t>{i / 2}));
    if (i % 2)
      lo = arith::ShRUIOp::create(cb, lo, cI32(4));
    lo = arith::AndIOp::create(cb, lo, cI32(15));
    // bits 2 ib of scales_h, ib = 4h + i.
    Value shift = arith::AddIOp::create(
        cb, arith::MulIOp::create(cb, h32, cI32(8)), cI32(2 * i));
    Value hi = arith::AndIOp::create(cb, arith::ShRUIOp::create(cb, sh, shift),
                                     cI32(3));
    Value ls =
        arith::OrIOp::create(cb, lo, arith::ShLIOp::create(cb, hi, cI32(4)));
    ls = arith::SubIOp::create(cb, ls, cI32(32));
    scales.push_back(
        arith::MulFOp::create(cb, arith::SIToFPOp::create(cb, f32, ls), d));
  }
  Value v =
      vector::FromElementsOp::create(cb, VectorType::get({4}, f32), scales);
  sw = vector::ShuffleOp::create(cb, v, v, laneGroup);
}

/// See W4Int8Kernel.h.
SmallVector<Value> W4I8Kernel::readTQ1_0(ImplicitLocOpBuilder &cb, Value row,
                                         Value c, SmallVectorImpl<Value> &sw) {
  Type i8 = cb.getI8Type(), i16 = cb.getI16Type();
  Value base = arith::MulIOp::create(cb, c, idx(cb, 54));
  auto read = [&](int64_t n, int64_t at) {
    return vector::TransferReadOp::create(cb, VectorType::get({n}, i8), codes,
                                          ValueRange{row, add(cb, base, at)},
                                          padI8, ArrayRef<bool>{true})
        .getResult();
  };
  // Trit n of each byte of `v`.
  auto trit = [&](Value v, int64_t n) {
    auto vt = cast<VectorType>(v.getType());
    int64_t len = vt.getNumElements();
    static const uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    Value q =
        n ? arith::MulIOp::create(
                cb, v, splat(cb, vt, cb.getI8IntegerAttr(int8_t(kPow3[n]))))
                .getResult()
          : v;
    auto v16 = VectorType::get({len}, i16);
    Value w = arith::ExtUIOp::create(cb, v16, q);
    w = arith::MulIOp::create(cb, w, splat(cb, v16, cb.getI16IntegerAttr(3)));
    w = arith::ShRUIOp::create(cb, w, splat(cb, v16, cb.getI16IntegerAttr(8)));
    return arith::TruncIOp::create(cb, vt, w).getResult();
  };
  Value qs32 = read(32, 0), qs16 = read(16, 32), qh = read(4, 48);
  SmallVector<Value> a, s16, h;
  for (int64_t n = 0; n < 5; ++n) {
    a.push_back(trit(qs32, n));
    s16.push_back(trit(qs16, n));
  }
  for (int64_t n = 0; n < 4; ++n)
    h.push_back(trit(qh, n));
  Value hv = concat(cb, {concat(cb, {h[0], h[1]}), concat(cb, {h[2], h[3]})});
  SmallVector<Value> u{
      concat(cb, {a[0], a[1]}), concat(cb, {a[2], a[3]}),
      concat(cb, {a[4], concat(cb, {s16[0], s16[1]})}),
      concat(cb, {concat(cb, {s16[2], s16[3]}), concat(cb, {s16[4], hv})})};
  sw.push_back(
      vector::BroadcastOp::create(cb, v16f, half(cb, row, add(cb, base, 52))));
  return u;
}
