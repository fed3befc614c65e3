//===- W4Int8SuperBlocks.cpp - GGUF K-quant super-blocks x int8 ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-int8 kernel's loops over GGUF super-blocks of 256 inputs: q4_K
// and q5_K (6-bit scales and mins per 32; q5_K's fifth bits apart), q6_K
// (int8 scales per 16, 2 high bits apart from the nibbles), q2_K (4-bit
// scales and mins per 16, 2-bit codes) and q3_K (q2_K's codes and a high
// bit apart, 6-bit scales per 16). See
// W4Int8Kernel.h and docs/CodegenCPU.md.
//
//===----------------------------------------------------------------------===//

#include "W4Int8Kernel.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

/// q4_K super-block `sb` (256 inputs, 144 bytes: f16 d, f16 dmin, 12
/// bytes of 6-bit scales and mins for 8 sub-blocks of 32, 128 bytes of
/// nibbles; value d sc q - dmin m) for outputs [m0, m0 + tm) x [n0, n0 +
/// tn): two 128-input halves, each 64 bytes whose low nibbles are
/// sub-blocks 4h and 4h + 2, high nibbles 4h + 1 and 4h + 3. Sums of q x
/// and of x are exact per lane; the scales and mins apply per segment.
SmallVector<Value> W4I8Kernel::superBlock(ImplicitLocOpBuilder &cb, Value sb,
                                          ValueRange acc, Value m0, Value n0,
                                          int64_t tm, int64_t tn) {
  Type f32 = cb.getF32Type(), i32 = cb.getI32Type();
  bool q5 = p.isQ5K();
  Value base = arith::MulIOp::create(cb, sb, idx(cb, q5 ? 176 : 144));
  // Where the nibbles start (q5_K: after qh[32]).
  int64_t qsAt = q5 ? 48 : 16;
  auto vf8 = VectorType::get({8}, f32);
  // Per output channel: the 8 scales d sc and mins dmin m.
  SmallVector<Value> sc8, mn8;
  for (int64_t r = 0; r < tn; ++r) {
    Value row = add(cb, n0, r);
    Value dd = halves(cb, row, base, 2);
    Value d = vector::ExtractOp::create(cb, dd, ArrayRef<int64_t>{0});
    Value dmin = vector::ExtractOp::create(cb, dd, ArrayRef<int64_t>{1});
    Value raw = vector::TransferReadOp::create(
        cb, VectorType::get({12}, cb.getI8Type()), codes,
        ValueRange{row, add(cb, base, 4)}, padI8, ArrayRef<bool>{true});
    auto v4 = VectorType::get({4}, i32);
    Value w = arith::ExtUIOp::create(cb, VectorType::get({12}, i32), raw);
    auto part = [&](int64_t from) {
      return vector::ShuffleOp::create(
          cb, w, w, ArrayRef<int64_t>{from, from + 1, from + 2, from + 3});
    };
    auto c = [&](int32_t v) { return splat(cb, v4, cb.getI32IntegerAttr(v)); };
    Value a = part(0), bm = part(4), cc = part(8);
    auto hi2 = [&](Value v) { // (v >> 6) << 4
      return arith::ShLIOp::create(cb, arith::ShRUIOp::create(cb, v, c(6)),
                                   c(4));
    };
    Value scLo = arith::AndIOp::create(cb, a, c(63));
    Value mLo = arith::AndIOp::create(cb, bm, c(63));
    Value scHi =
        arith::OrIOp::create(cb, arith::AndIOp::create(cb, cc, c(15)), hi2(a));
    Value mHi =
        arith::OrIOp::create(cb, arith::ShRUIOp::create(cb, cc, c(4)), hi2(bm));
    SmallVector<int64_t> cat{0, 1, 2, 3, 4, 5, 6, 7};
    Value sc = arith::SIToFPOp::create(
        cb, vf8, vector::ShuffleOp::create(cb, scLo, scHi, cat));
    Value mn = arith::SIToFPOp::create(
        cb, vf8, vector::ShuffleOp::create(cb, mLo, mHi, cat));
    sc8.push_back(
        arith::MulFOp::create(cb, sc, vector::BroadcastOp::create(cb, vf8, d)));
    // Negated: the min term is subtracted.
    mn8.push_back(arith::MulFOp::create(
        cb, mn,
        vector::BroadcastOp::create(cb, vf8, arith::NegFOp::create(cb, dmin))));
  }
  SmallVector<Value> out(acc);
  for (int64_t h = 0; h < 2; ++h) {
    Value c = add(cb, arith::MulIOp::create(cb, sb, idx(cb, 2)), h);
    Value k0 = arith::MulIOp::create(cb, c, idx(cb, 128));
    // Lanes 0-7 of segment j: sub-block 4h + j; lanes 8-15: 4h + 2 + j.
    auto lanes = [&](int64_t j) {
      SmallVector<int64_t> l;
      for (int64_t i = 0; i < 16; ++i)
        l.push_back(4 * h + j + (i < 8 ? 0 : 2));
      return l;
    };
    SmallVector<SmallVector<Value>> u;
    SmallVector<std::array<Value, 2>> sw; // d sc on segments 0 and 1
    for (int64_t r = 0; r < tn; ++r) {
      Value row = add(cb, n0, r);
      Value bytes = vector::TransferReadOp::create(
          cb, v64i8, codes, ValueRange{row, add(cb, base, qsAt + 64 * h)},
          padI8, ArrayRef<bool>{true});
      Value l = arith::AndIOp::create(cb, bytes, low4);
      Value hi = arith::AndIOp::create(
          cb, arith::ShRUIOp::create(cb, bytes, four), low4);
      if (q5) {
        // Byte i of the half is byte i % 32 of group 2h + i / 32: its
        // fifth bits are bits 2 (2h + i / 32) (low nibble) and that + 1
        // (high) of qh[i % 32]. [qh >> 4h, qh >> (4h + 2)] puts them in
        // bits 0 and 1 of byte i.
        auto v32i8 = VectorType::get({32}, cb.getI8Type());
        Value qh = vector::TransferReadOp::create(
            cb, v32i8, codes, ValueRange{row, add(cb, base, 16)}, padI8,
            ArrayRef<bool>{true});
        auto shr = [&](int64_t n) -> Value {
          if (!n)
            return qh;
          return arith::ShRUIOp::create(
              cb, qh, splat(cb, v32i8, cb.getI8IntegerAttr(n)));
        };
        Value qhd = concat(cb, {shr(4 * h), shr(4 * h + 2)});
        Value b0 = arith::AndIOp::create(cb, qhd, ones);
        Value b1 = arith::AndIOp::create(
            cb, arith::ShRUIOp::create(cb, qhd, ones), ones);
        l = arith::OrIOp::create(cb, l, arith::ShLIOp::create(cb, b0, four));
        hi = arith::OrIOp::create(cb, hi, arith::ShLIOp::create(cb, b1, four));
      }
      u.push_back({l, hi});
      sw.push_back({vector::ShuffleOp::create(cb, sc8[r], sc8[r], lanes(0)),
                    vector::ShuffleOp::create(cb, sc8[r], sc8[r], lanes(1))});
    }
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(cb, m0, i);
      SmallVector<Value> xs;
      for (int64_t j = 0; j < 2; ++j)
        xs.push_back(vector::TransferReadOp::create(
            cb, v64i8, xArranged, ValueRange{m, add(cb, k0, 64 * j)}, padI8,
            ArrayRef<bool>{true}));
      Value sx = xLanes(cb, m, c);
      for (int64_t r = 0; r < tn; ++r) {
        Value &o = out[i * tn + r];
        for (int64_t j = 0; j < 2; ++j) {
          Value q = arith::SIToFPOp::create(cb, v16f,
                                            dpbusd(cb, zeroI, u[r][j], xs[j]));
          o = vector::FMAOp::create(cb, q, laneScale(cb, sw[r][j], sx), o);
        }
      }
    }
  }
  // The min term, once per super-block: (-dmin m) . (sum of x) over its 8
  // sub-blocks, into the second half of the accumulators.
  int64_t na = tm * tn;
  for (int64_t i = 0; i < tm; ++i) {
    Value m = add(cb, m0, i);
    Value padF32 = arith::ConstantOp::create(cb, cb.getF32FloatAttr(0.f));
    Value xs8 = vector::TransferReadOp::create(
        cb, vf8, laneSums,
        ValueRange{m, arith::MulIOp::create(cb, sb, idx(cb, 8))}, padF32,
        ArrayRef<bool>{true});
    for (int64_t r = 0; r < tn; ++r) {
      Value &o = out[na + i * tn + r];
      o = vector::FMAOp::create(cb, mn8[r], xs8, o);
    }
  }
  return out;
}

/// q6_K super-block `sb` (256 inputs, 210 bytes: ql[128] low nibbles,
/// qh[64] high 2 bits, 16 int8 scales, f16 d; value d sc (q - 32)) for
/// outputs [m0, m0 + tm) x [n0, n0 + tn): two 128-input halves. Half h
/// holds 64 bytes of ql whose low nibbles are its inputs 0-63 and high
/// nibbles 64-127, and 32 bytes of qh whose 2-bit fields 0, 1, 2, 3 are
/// the high bits of inputs l, l + 32, l + 64, l + 96. u = q + 32 (at most
/// 63); each segment's lanes take the scales of their sub-blocks of 16
/// and subtract 32 x their own lane sums.
SmallVector<Value> W4I8Kernel::superBlockQ6K(ImplicitLocOpBuilder &cb, Value sb,
                                             ValueRange acc, Value m0, Value n0,
                                             int64_t tm, int64_t tn) {
  Type f32 = cb.getF32Type(), i8 = cb.getI8Type();
  Value base = arith::MulIOp::create(cb, sb, idx(cb, 210));
  auto vf16 = VectorType::get({16}, f32);
  auto v32i8 = VectorType::get({32}, i8);
  Value two = splat(cb, v32i8, cb.getI8IntegerAttr(2));
  // Per output channel: the 16 scales d sc.
  SmallVector<Value> sc16;
  for (int64_t r = 0; r < tn; ++r) {
    Value row = add(cb, n0, r);
    Value sc = vector::TransferReadOp::create(
        cb, VectorType::get({16}, i8), codes,
        ValueRange{row, add(cb, base, 192)}, padI8, ArrayRef<bool>{true});
    Value d = half(cb, row, add(cb, base, 208));
    sc16.push_back(
        arith::MulFOp::create(cb, arith::SIToFPOp::create(cb, vf16, sc),
                              vector::BroadcastOp::create(cb, vf16, d)));
  }
  Value cz = arith::ConstantOp::create(cb, cb.getI32IntegerAttr(0));
  SmallVector<Value> out(acc);
  for (int64_t h = 0; h < 2; ++h) {
    Value c = add(cb, arith::MulIOp::create(cb, sb, idx(cb, 2)), h);
    Value k0 = arith::MulIOp::create(cb, c, idx(cb, 128));
    // Lane l of segment j: sub-block 8h + 4j + l / 4.
    auto lanes = [&](int64_t j) {
      SmallVector<int64_t> l;
      for (int64_t i = 0; i < 16; ++i)
        l.push_back(8 * h + 4 * j + i / 4);
      return l;
    };
    SmallVector<std::array<Value, 2>> u, sw;
    for (int64_t r = 0; r < tn; ++r) {
      Value row = add(cb, n0, r);
      Value ql = vector::TransferReadOp::create(
          cb, v64i8, codes, ValueRange{row, add(cb, base, 64 * h)}, padI8,
          ArrayRef<bool>{true});
      Value qh = vector::TransferReadOp::create(
          cb, v32i8, codes, ValueRange{row, add(cb, base, 128 + 32 * h)}, padI8,
          ArrayRef<bool>{true});
      // [qh, qh >> 2]: bits 0-1 and 4-5 of byte i are the high bits of
      // segment 0's and segment 1's input i.
      Value qhd = concat(cb, {qh, arith::ShRUIOp::create(cb, qh, two)});
      Value hi0 = arith::ShLIOp::create(
          cb, arith::AndIOp::create(cb, qhd, three), four);
      Value hi1 = arith::ShLIOp::create(
          cb,
          arith::AndIOp::create(cb, arith::ShRUIOp::create(cb, qhd, four),
                                three),
          four);
      Value lo = arith::AndIOp::create(cb, ql, low4);
      Value hn =
          arith::AndIOp::create(cb, arith::ShRUIOp::create(cb, ql, four), low4);
      u.push_back({arith::OrIOp::create(cb, lo, hi0),
                   arith::OrIOp::create(cb, hn, hi1)});
      sw.push_back({vector::ShuffleOp::create(cb, sc16[r], sc16[r], lanes(0)),
                    vector::ShuffleOp::create(cb, sc16[r], sc16[r], lanes(1))});
    }
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(cb, m0, i);
      std::array<Value, 2> xs, corr;
      for (int64_t j = 0; j < 2; ++j) {
        xs[j] = vector::TransferReadOp::create(
            cb, v64i8, xArranged, ValueRange{m, add(cb, k0, 64 * j)}, padI8,
            ArrayRef<bool>{true});
        corr[j] = vector::TransferReadOp::create(
            cb, v16i32, laneSums,
            ValueRange{
                m, add(cb, arith::MulIOp::create(cb, c, idx(cb, 32)), 16 * j)},
            cz, ArrayRef<bool>{true});
      }
      Value sx = xLanes(cb, m, c);
      for (int64_t r = 0; r < tn; ++r) {
        Value &o = out[i * tn + r];
        for (int64_t j = 0; j < 2; ++j) {
          Value q = arith::SubIOp::create(cb, dpbusd(cb, zeroI, u[r][j], xs[j]),
                                          corr[j]);
          o = vector::FMAOp::create(cb, arith::SIToFPOp::create(cb, v16f, q),
                                    laneScale(cb, sw[r][j], sx), o);
        }
      }
    }
  }
  return out;
}

/// q2_K and q3_K super-block `sb`: see W4Int8Kernel.h.
SmallVector<Value> W4I8Kernel::superBlockQ2K(ImplicitLocOpBuilder &cb, Value sb,
                                             ValueRange acc, Value m0, Value n0,
                                             int64_t tm, int64_t tn) {
  Type f32 = cb.getF32Type(), i8 = cb.getI8Type(), i32 = cb.getI32Type();
  bool q3 = p.isQ3K();
  Value base = arith::MulIOp::create(cb, sb, idx(cb, q3 ? 110 : 84));
  auto vf16 = VectorType::get({16}, f32);
  auto v16i8 = VectorType::get({16}, i8);
  auto v32i8 = VectorType::get({32}, i8);
  // Lane l of segment j: sub-block 8 (l / 8) + 2 j + (l % 8) / 4.
  auto lanes = [&](int64_t j) {
    SmallVector<int64_t> l;
    for (int64_t i = 0; i < 16; ++i)
      l.push_back(8 * (i / 8) + 2 * j + i % 8 / 4);
    return l;
  };
  // q3_K's 16 6-bit scales from its 12 bytes (llama.cpp's kmask1/kmask2
  // shuffle on three little-endian words), as int8.
  auto q3Scales = [&](Value row) {
    Value raw = vector::TransferReadOp::create(
        cb, VectorType::get({12}, i8), codes,
        ValueRange{row, add(cb, base, 96)}, padI8, ArrayRef<bool>{true});
    Value w = vector::BitCastOp::create(cb, VectorType::get({3}, i32), raw);
    auto word = [&](int64_t e) {
      return vector::ExtractOp::create(cb, w, ArrayRef<int64_t>{e}).getResult();
    };
    auto c = [&](uint32_t v) {
      return arith::ConstantOp::create(cb, cb.getI32IntegerAttr(int32_t(v)))
          .getResult();
    };
    Value a0 = word(0), a1 = word(1), tmp = word(2);
    auto low = [&](Value a, Value sh) { // (a >> sh) & 0x0f0f0f0f
      Value v = sh ? arith::ShRUIOp::create(cb, a, sh).getResult() : a;
      return arith::AndIOp::create(cb, v, c(0x0f0f0f0f)).getResult();
    };
    auto high = [&](int64_t sh) { // ((tmp >> sh) & 0x03030303) << 4
      Value v = sh ? arith::ShRUIOp::create(cb, tmp, c(sh)).getResult() : tmp;
      v = arith::AndIOp::create(cb, v, c(0x03030303));
      return arith::ShLIOp::create(cb, v, c(4)).getResult();
    };
    SmallVector<Value> out{arith::OrIOp::create(cb, low(a0, Value()), high(0)),
                           arith::OrIOp::create(cb, low(a1, Value()), high(2)),
                           arith::OrIOp::create(cb, low(a0, c(4)), high(4)),
                           arith::OrIOp::create(cb, low(a1, c(4)), high(6))};
    Value v =
        vector::FromElementsOp::create(cb, VectorType::get({4}, i32), out);
    return vector::BitCastOp::create(cb, v16i8, v).getResult();
  };
  // Per output channel: the codes' 4 segments as u, the 16 scales d sc
  // (q3_K: d (sc - 32)) on each segment's lanes, q2_K's 16 mins -dmin m.
  SmallVector<SmallVector<Value>> u, sw;
  SmallVector<Value> mn16;
  for (int64_t r = 0; r < tn; ++r) {
    Value row = add(cb, n0, r);
    Value dsc;
    if (q3) {
      Value d = half(cb, row, add(cb, base, 108));
      Value sc = arith::SIToFPOp::create(cb, vf16, q3Scales(row));
      sc = arith::SubFOp::create(cb, sc,
                                 splat(cb, vf16, cb.getF32FloatAttr(32.f)));
      dsc = arith::MulFOp::create(cb, sc,
                                  vector::BroadcastOp::create(cb, vf16, d));
    } else {
      Value sc = vector::TransferReadOp::create(
          cb, v16i8, codes, ValueRange{row, base}, padI8, ArrayRef<bool>{true});
      Value dd = halves(cb, row, add(cb, base, 80), 2);
      Value d = vector::ExtractOp::create(cb, dd, ArrayRef<int64_t>{0});
      Value dmin = vector::ExtractOp::create(cb, dd, ArrayRef<int64_t>{1});
      Value scl = arith::UIToFPOp::create(
          cb, vf16,
          arith::AndIOp::create(cb, sc,
                                splat(cb, v16i8, cb.getI8IntegerAttr(0x0F)))
              .getResult());
      Value mns = arith::UIToFPOp::create(
          cb, vf16,
          arith::ShRUIOp::create(cb, sc,
                                 splat(cb, v16i8, cb.getI8IntegerAttr(4)))
              .getResult());
      dsc = arith::MulFOp::create(cb, scl,
                                  vector::BroadcastOp::create(cb, vf16, d));
      mn16.push_back(arith::MulFOp::create(
          cb, mns,
          vector::BroadcastOp::create(cb, vf16,
                                      arith::NegFOp::create(cb, dmin))));
    }
    Value bytes = vector::TransferReadOp::create(
        cb, v64i8, codes, ValueRange{row, add(cb, base, q3 ? 32 : 16)}, padI8,
        ArrayRef<bool>{true});
    // q3_K: [hmask, hmask >> 4] has segment j's high bits in bit j.
    Value hmd;
    if (q3) {
      Value hm = vector::TransferReadOp::create(
          cb, v32i8, codes, ValueRange{row, base}, padI8, ArrayRef<bool>{true});
      hmd =
          concat(cb, {hm, arith::ShRUIOp::create(
                              cb, hm, splat(cb, v32i8, cb.getI8IntegerAttr(4)))
                              .getResult()});
    }
    SmallVector<Value> ur, swr;
    for (int64_t j = 0; j < 4; ++j) {
      auto shr = [&](Value v, int64_t n) {
        return n ? arith::ShRUIOp::create(
                       cb, v, splat(cb, v64i8, cb.getI8IntegerAttr(n)))
                       .getResult()
                 : v;
      };
      Value q = arith::AndIOp::create(cb, shr(bytes, 2 * j), three);
      if (q3) {
        Value hb = arith::AndIOp::create(cb, shr(hmd, j), ones);
        q = arith::OrIOp::create(
            cb, q,
            arith::ShLIOp::create(cb, hb,
                                  splat(cb, v64i8, cb.getI8IntegerAttr(2))));
      }
      ur.push_back(q);
      swr.push_back(vector::ShuffleOp::create(cb, dsc, dsc, lanes(j)));
    }
    u.push_back(ur);
    sw.push_back(swr);
  }
  SmallVector<Value> out(acc);
  Value k0 = arith::MulIOp::create(cb, sb, idx(cb, 256));
  Value padF32 = arith::ConstantOp::create(cb, cb.getF32FloatAttr(0.f));
  Value cz = arith::ConstantOp::create(cb, cb.getI32IntegerAttr(0));
  int64_t na = tm * tn;
  for (int64_t i = 0; i < tm; ++i) {
    Value m = add(cb, m0, i);
    SmallVector<Value> xs, corr;
    for (int64_t j = 0; j < 4; ++j) {
      xs.push_back(vector::TransferReadOp::create(
          cb, v64i8, xArranged, ValueRange{m, add(cb, k0, 64 * j)}, padI8,
          ArrayRef<bool>{true}));
      if (q3) // 4 x the lane sums of segment j
        corr.push_back(vector::TransferReadOp::create(
            cb, v16i32, laneSums,
            ValueRange{
                m, add(cb, arith::MulIOp::create(cb, sb, idx(cb, 64)), 16 * j)},
            cz, ArrayRef<bool>{true}));
    }
    Value sx = xLanes(cb, m, sb);
    // q2_K: sums of x per 16 inputs (times X's block scale when it has one).
    Value xs16;
    if (!q3)
      xs16 = vector::TransferReadOp::create(
          cb, vf16, laneSums,
          ValueRange{m, arith::MulIOp::create(cb, sb, idx(cb, 16))}, padF32,
          ArrayRef<bool>{true});
    for (int64_t r = 0; r < tn; ++r) {
      Value &o = out[i * tn + r];
      for (int64_t j = 0; j < 4; ++j) {
        Value d = dpbusd(cb, zeroI, u[r][j], xs[j]);
        if (q3)
          d = arith::SubIOp::create(cb, d, corr[j]);
        Value q = arith::SIToFPOp::create(cb, v16f, d);
        o = vector::FMAOp::create(cb, q, laneScale(cb, sw[r][j], sx), o);
      }
      if (!q3) {
        Value &om = out[na + i * tn + r];
        om = vector::FMAOp::create(cb, mn16[r], xs16, om);
      }
    }
  }
  return out;
}
