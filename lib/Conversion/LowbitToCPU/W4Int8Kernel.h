//===- W4Int8Kernel.h - 4-bit, ternary, GGUF x int8 -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-int8 kernel (W4Int8Kernel.cpp): its chunk loop for the formats
// with a scale per group or per 32-input block (their GGUF block readers:
// W4Int8Blocks.cpp), and the super-block loops of the GGUF K-quants
// (W4Int8SuperBlocks.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_CONVERSION_LOWBITTOCPU_W4INT8KERNEL_H
#define LOWBIT_LIB_CONVERSION_LOWBITTOCPU_W4INT8KERNEL_H

#include "Registry.h"
#include "TiledKernel.h"

#include "lowbit/Conversion/Codecs.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <array>
#include <optional>

namespace mlir::lowbit::cpu {

/// W4A8 with AVX-512 VNNI. Work goes in chunks of 128 inputs (64 bytes of
/// codes per output channel). A prologue rearranges each row of X's int8
/// codes into [64 even | 64 odd] per chunk and keeps, per chunk, 16 int32
/// lane sums c = 8 * (sum of the 8 inputs a lane covers). In the tile loop
/// a chunk's codes become biased nibbles u = q + 8 in 0..15 (and, shift,
/// xor), two vpdpbusd (u8 x s8 -> i32, 4 products per lane) give per-lane
/// sums of u * x, minus c that is sum of q * x, exact in int32. Lane l holds
/// inputs 8l .. 8l + 7, so it belongs to group (128 * chunk + 8l) / g: the
/// lane sums are converted to f32 and multiplied by their group's scale,
/// accumulated in f32, reduced and multiplied by X's scale at the end. A
/// K tail (K % 128) is read with masked loads, padded with codes 0 (u = 8)
/// and inputs 0, which adds nothing. With a scale per block of X's inputs
/// (GGUF weights times llama.cpp's q8_0 / q8_K activations), the prologue
/// spreads them over the lanes of each chunk too, and a lane's scale is
/// its weight scale times its activation scale.
class W4I8Kernel : public TiledKernel {
public:
  W4I8Kernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value xCodes,
             Value xScales, Value codes, Value scales, Value tensorScale)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), xCodes(xCodes),
        xScales(xScales), codes(codes), scales(scales),
        tensorScale(tensorScale) {
    Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
    cpb = p.isTernary() || p.isTernaryGGUF() || p.isQ2K() || p.isQ3K() ? 4
          : p.isQ8_0()                                                 ? 1
                                                                       : 2;
    chunkIn = 64 * cpb;
    v64i8 = VectorType::get({64}, i8);
    vChunk = VectorType::get({chunkIn}, i8);
    v16i32 = VectorType::get({16}, i32);
    v16f = VectorType::get({16}, f32);
    zeroF = splat(b, v16f, b.getF32FloatAttr(0.f));
    zeroI = splat(b, v16i32, b.getI32IntegerAttr(0));
    low4 = splat(b, v64i8, b.getI8IntegerAttr(0x0F));
    // u = value + bias, unsigned: int4/q4_0 q + 8, q5_0 q + 16, E2M1 2v +
    // 12, ternary q + 2, q8_0 q + 128 (as the byte 0x80).
    // (q8_0 on AVX2: signed codes directly, no bias.)
    int64_t bias = p.twiceE2M1()                   ? 12
                   : p.hasBlockMins() || p.isQ2K() ? 0
                   : p.isQ5_0()                    ? 16
                   : p.isQ6K()                     ? 32
                   : p.isQ3K()                     ? 4
                   : p.isTernary()                 ? 2
                   : p.isTernaryGGUF()             ? 1
                   : p.isQ8_0() || p.hasIQ4Values()
                       ? (p.emulatesDot() ? 0 : -128)
                       : 8;
    bias8 = splat(b, v64i8, b.getI8IntegerAttr(bias));
    three = splat(b, v64i8, b.getI8IntegerAttr(3));
    ones = splat(b, v64i8, b.getI8IntegerAttr(1));
    if (p.twiceE2M1() || p.hasIQ4Values()) {
      // u = 2 * e2m1(code) + 12 (0..24) for codes 0..15, in each 16-byte
      // lane of vpshufb's table; iq4_nl: its int8 value (kvalues_iq4nl of
      // llama.cpp), + 128 with VNNI (as q8_0's codes), signed on AVX2.
      static const int8_t kTwiceE2M1Biased[16] = {
          12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};
      static const int8_t kIQ4NL[16] = {-127, -104, -83, -65, -49, -35,
                                        -22,  -10,  1,   13,  25,  38,
                                        53,   69,   89,  113};
      SmallVector<Attribute> t;
      for (int64_t i = 0; i < 64; ++i)
        t.push_back(b.getI8IntegerAttr(
            p.twiceE2M1() ? kTwiceE2M1Biased[i % 16]
                          : int8_t(p.emulatesDot() ? kIQ4NL[i % 16]
                                                   : kIQ4NL[i % 16] ^ 0x80)));
      e2m1Table =
          arith::ConstantOp::create(b, v64i8, DenseElementsAttr::get(v64i8, t));
      if (p.hasZmm()) {
        pshufbFn = getIntrinsicDecl(
            b, "llvm.x86.avx512.pshuf.b.512",
            FunctionType::get(b.getContext(), {v64i8, v64i8}, {v64i8}));
      } else {
        auto v32i8 = VectorType::get({32}, i8);
        pshufbFn = getIntrinsicDecl(
            b, "llvm.x86.avx2.pshuf.b",
            FunctionType::get(b.getContext(), {v32i8, v32i8}, {v32i8}));
      }
    }
    four = splat(b, v64i8, b.getI8IntegerAttr(4));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    // Which inputs of a chunk segment j (the codes at position j of each
    // byte) meets: lowbit packing puts input cpb * i + j in byte i; q4_0
    // puts each 32-input block's first 16 in the low nibbles, the last 16
    // in the high ones; q8_0 is one code per byte.
    segments.resize(cpb);
    for (int64_t j = 0; j < cpb; ++j)
      for (int64_t i = 0; i < 64; ++i)
        segments[j].push_back(p.isQ4_0() || p.hasBlockMins() || p.isQ5_0() ||
                                      p.isGGUFMXFP4() || p.hasIQ4Values()
                                  ? 32 * (i / 16) + 16 * j + i % 16
                              : p.hasKMins() ? 64 * (i / 32) + 32 * j + i % 32
                              : p.isQ6K() || p.isTQ1_0() ? 64 * j + i
                              : p.isTQ2_0() || p.isQ2K() || p.isQ3K()
                                  ? 128 * (i / 32) + 32 * j + i % 32
                                  : cpb * i + j);
    chunks = (p.k + chunkIn - 1) / chunkIn;
    fullChunks = p.k / chunkIn;
    // Lane l (4 bytes of each segment: 4 cpb consecutive inputs) -> its
    // group's index among the chunk's scales; with activation blocks
    // smaller than a chunk, its block's among those of X (the input of
    // segment 0's byte 4 l: Problem.cpp admits only formats whose segments
    // agree on it).
    for (int64_t l = 0; l < 16; ++l) {
      laneGroup.push_back(p.g < chunkIn ? 4 * cpb * l / p.g : 0);
      xLaneBlock.push_back(p.xg && p.xg < chunkIn ? segments[0][4 * l] / p.xg
                                                  : 0);
    }
    scalesPerChunk = p.g < chunkIn ? chunkIn / p.g : 1;
    if (p.emulatesDot()) {
      avx2.emplace(b);
    } else {
      dpbusdFn = getIntrinsicDecl(
          b, "llvm.x86.avx512.vpdpbusd.512",
          FunctionType::get(b.getContext(), {v16i32, v64i8, v64i8}, {v16i32}));
    }
    prologue();
  }

protected:
  /// acc + per 32-bit lane the sum of 4 products u8 x s8 (vpdpbusd). Without
  /// VNNI: vpmaddubsw (pairs to i16; exact since u <= 127 here) and vpmaddwd
  /// by ones (pairs to i32) on the two 256-bit halves.
  Value dpbusd(ImplicitLocOpBuilder &cb, Value acc, Value u8, Value s8) {
    if (avx2)
      return avx2->dot(cb, acc, u8, s8,
                       /*signedFirst=*/p.isQ8_0() || p.hasIQ4Values());
    return func::CallOp::create(cb, dpbusdFn, ValueRange{acc, u8, s8})
        .getResult(0);
  }

  /// xArranged[m, c chunkIn + 64 j + i] = segment j's i-th input of chunk
  /// c; laneSums[m, 16c + l] = bias * sum of lane l's inputs.
  void prologue() {
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    Value arranged = tensor::EmptyOp::create(
        b, ArrayRef<int64_t>{p.m, chunks * chunkIn}, i8);
    // Lane sums (i32, 16 per chunk); q4_K / q5_K: sub-block sums (f32, 4
    // per chunk), q4_1 / q5_1 block sums (f32, 4 per chunk), q2_K sums per
    // 16 inputs (f32, 16 per chunk), all times their activation scales
    // when X has a scale per block; q6_K: 32 x the lane sums of each
    // segment (i32, 2 x 16 per chunk: its segments have scales of their
    // own).
    bool blockSums = p.hasMinTerm();
    int64_t sumsPerChunk = p.isQ2K()         ? 16
                           : blockSums       ? 4
                           : p.segmentSums() ? 16 * cpb
                                             : 16;
    Value sums = tensor::EmptyOp::create(
        b, ArrayRef<int64_t>{p.m, chunks * sumsPerChunk},
        blockSums ? Type(b.getF32Type()) : i32);
    SmallVector<Value> init{arranged, sums};
    if (p.xPerBlock()) // activation scales per lane, 16 per chunk
      init.push_back(tensor::EmptyOp::create(
          b, ArrayRef<int64_t>{p.m, chunks * 16}, b.getF32Type()));
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, p.m), idx(b, 1), init,
        [&](OpBuilder &ob, Location l, Value m, ValueRange it) {
          ImplicitLocOpBuilder rb(l, ob);
          auto cs = scf::ForOp::create(
              rb, idx(rb, 0), idx(rb, chunks), idx(rb, 1), it,
              [&](OpBuilder &cob, Location cl, Value c, ValueRange ct) {
                ImplicitLocOpBuilder cb(cl, cob);
                Value k0 = arith::MulIOp::create(cb, c, idx(cb, chunkIn));
                Value xv = vector::TransferReadOp::create(
                    cb, vChunk, xCodes, ValueRange{m, k0}, padI8,
                    ArrayRef<bool>{p.k % chunkIn == 0});
                Value a = ct[0], sum = zeroI, sm = ct[1];
                SmallVector<Value> yields;
                Value sxl;
                if (p.xPerBlock()) {
                  sxl = xBlockScales(cb, m, c);
                  yields.push_back(vector::TransferWriteOp::create(
                                       cb, sxl, ct[2],
                                       ValueRange{m, arith::MulIOp::create(
                                                         cb, c, idx(cb, 16))},
                                       ArrayRef<bool>{true})
                                       .getResult());
                }
                SmallVector<Value> segSums;
                Value s0 = arith::MulIOp::create(cb, c, idx(cb, sumsPerChunk));
                for (int64_t j = 0; j < cpb; ++j) {
                  Value seg = cpb == 1 ? xv
                                       : vector::ShuffleOp::create(cb, xv, xv,
                                                                   segments[j])
                                             .getResult();
                  a = vector::TransferWriteOp::create(
                          cb, seg, a, ValueRange{m, add(cb, k0, 64 * j)},
                          ArrayRef<bool>{true})
                          .getResult();
                  if (blockSums) // sum of x per lane, per segment
                    segSums.push_back(dpbusd(cb, zeroI, ones, seg));
                  else if (p.segmentSums()) // bias x that, per segment
                    sm = vector::TransferWriteOp::create(
                             cb, dpbusd(cb, zeroI, bias8, seg), sm,
                             ValueRange{m, add(cb, s0, 16 * j)},
                             ArrayRef<bool>{true})
                             .getResult();
                  else
                    sum = dpbusd(cb, sum, bias8, seg);
                }
                if (blockSums) {
                  // Sums of x per block of the mins, as f32 [M, K / block]:
                  // each the sum of `width` lanes from `first` of one
                  // segment (-1: both). q4_K / q5_K (per 32): segment 0
                  // lanes 0-7 and 8-15 hold sub-blocks 0 and 2, segment 1
                  // sub-blocks 1 and 3; q4_1 / q5_1 (per 32): lanes 4b ..
                  // 4b + 3 of both segments hold block b; q2_K (per 16):
                  // lanes 8h + 4g .. + 3 of segment j hold 8h + 2j + g.
                  int64_t width = p.hasKMins() ? 8 : 4;
                  SmallVector<int64_t> segOf, first;
                  for (int64_t q = 0; q < sumsPerChunk; ++q) {
                    if (p.hasBlockMins()) {
                      segOf.push_back(-1);
                      first.push_back(4 * q);
                    } else if (p.hasKMins()) {
                      segOf.push_back(q % 2);
                      first.push_back(8 * (q / 2));
                    } else {
                      segOf.push_back(q % 8 / 2);
                      first.push_back(8 * (q / 8) + 4 * (q % 2));
                    }
                  }
                  Value both =
                      p.hasBlockMins()
                          ? arith::AddIOp::create(cb, segSums[0], segSums[1])
                                .getResult()
                          : Value();
                  SmallVector<Value> sub;
                  for (int64_t q = 0; q < sumsPerChunk; ++q) {
                    SmallVector<int64_t> l;
                    for (int64_t i = 0; i < width; ++i)
                      l.push_back(first[q] + i);
                    Value from = segOf[q] < 0 ? both : segSums[segOf[q]];
                    Value part = vector::ShuffleOp::create(cb, from, from, l);
                    sub.push_back(vector::ReductionOp::create(
                        cb, vector::CombiningKind::ADD, part));
                  }
                  Value v = vector::FromElementsOp::create(
                      cb, VectorType::get({sumsPerChunk}, cb.getI32Type()),
                      sub);
                  v = arith::SIToFPOp::create(
                      cb, VectorType::get({sumsPerChunk}, cb.getF32Type()), v);
                  if (sxl) // times their activation scales
                    v = arith::MulFOp::create(
                        cb, v,
                        vector::ShuffleOp::create(cb, sxl, sxl, first)
                            .getResult());
                  sm = vector::TransferWriteOp::create(
                           cb, v, sm, ValueRange{m, s0}, ArrayRef<bool>{true})
                           .getResult();
                } else if (!p.segmentSums()) {
                  sm = vector::TransferWriteOp::create(
                           cb, sum, sm, ValueRange{m, s0}, ArrayRef<bool>{true})
                           .getResult();
                }
                yields.insert(yields.begin(), {a, sm});
                scf::YieldOp::create(cb, yields);
              });
          scf::YieldOp::create(rb, cs.getResults());
        });
    xArranged = rows.getResult(0);
    laneSums = rows.getResult(1);
    if (p.xPerBlock())
      xLaneScales = rows.getResult(2);
  }

  /// The activation scales of row `m`'s chunk `c` as f32, spread over the
  /// chunk's lanes: a vector of the chunk's blocks shuffled, or one block's
  /// scale broadcast.
  Value xBlockScales(ImplicitLocOpBuilder &cb, Value m, Value c) {
    Type f32 = cb.getF32Type();
    Type st = p.xScales.getElementType();
    if (p.xg >= chunkIn) {
      Value blk = arith::DivUIOp::create(
          cb, arith::MulIOp::create(cb, c, idx(cb, chunkIn)), idx(cb, p.xg));
      return vector::BroadcastOp::create(
          cb, v16f,
          codecs::toF32(
              cb, tensor::ExtractOp::create(cb, xScales, ValueRange{m, blk})));
    }
    int64_t per = chunkIn / p.xg;
    Value s = vector::TransferReadOp::create(
        cb, VectorType::get({per}, st), xScales,
        ValueRange{m, arith::MulIOp::create(cb, c, idx(cb, per))},
        arith::ConstantOp::create(cb, cb.getFloatAttr(st, 0)),
        ArrayRef<bool>{p.k % chunkIn == 0});
    if (!st.isF32())
      s = arith::ExtFOp::create(cb, VectorType::get({per}, f32), s);
    return vector::ShuffleOp::create(cb, s, s, xLaneBlock);
  }

  /// Lane scale `sw` (the weights') times row `m`'s activation scales of
  /// chunk `c` when X has a scale per block (`sx`, read once per row and
  /// chunk by xLanes), else `sw`.
  Value laneScale(ImplicitLocOpBuilder &cb, Value sw, Value sx) {
    return sx ? arith::MulFOp::create(cb, sw, sx).getResult() : sw;
  }

  /// Row `m`'s activation scales of chunk `c` spread over the lanes, or
  /// null when X has a scale per row or per tensor.
  Value xLanes(ImplicitLocOpBuilder &cb, Value m, Value c) {
    if (!p.xPerBlock())
      return Value();
    Value pad = arith::ConstantOp::create(cb, cb.getF32FloatAttr(0.f));
    return vector::TransferReadOp::create(
        cb, v16f, xLaneScales,
        ValueRange{m, arith::MulIOp::create(cb, c, idx(cb, 16))}, pad,
        ArrayRef<bool>{true});
  }

  /// Chunk `c` of GGUF row `row` (q4_0: 4 blocks of 18 bytes, q5_0: 4 of
  /// 22, q8_0: 2 of 34): the blocks' 64 bytes of codes (after each block's
  /// f16 scale d, and q5_0's 4 bytes of fifth bits) and the d's, spread
  /// over the lanes of their blocks; q5_0: `high`, the fifth bits of the
  /// codes of each segment, as 0 or 16 in its bytes' positions. Blocks
  /// past K (tail) read as zeros.
  void readGGUF(ImplicitLocOpBuilder &cb, Value row, Value c, bool full,
                Value &bytes, Value &sw, SmallVectorImpl<Value> &high,
                Value *mins = nullptr);

  /// Chunk `c` of iq4_xs row `row`: half c % 2 of super-block c / 2 (136
  /// bytes: f16 d, scales_h (u16), scales_l[4], qs[128] whose 16 bytes per
  /// sub-block of 32 hold its nibbles as iq4_nl's): the half's 64 bytes of
  /// nibbles and its 4 sub-blocks' scales d (ls - 32), ls the 6-bit scale
  /// (low 4 bits from scales_l[ib / 2] >> 4 (ib % 2), high 2 from
  /// scales_h >> 2 ib), spread over their lanes.
  void readIQ4XS(ImplicitLocOpBuilder &cb, Value row, Value c, Value &bytes,
                 Value &sw);

  /// Chunk `c` of tq1_0 row `row`: its super-block (54 bytes: qs[48]
  /// holding 5 trits a byte, qh[4] 4 trits a byte, f16 d) as 4 segments
  /// of 64 consecutive inputs (segment j: inputs 64 j .. 64 j + 63), codes
  /// q + 1 in 0..2, and d on every lane (`sw`). Trit n of byte b is
  /// ((b 3^n mod 256) 3) >> 8; qs[0..31]'s trits are inputs 32 n + m,
  /// qs[32..47]'s 160 + 16 n + m, qh's 240 + 4 n + m (llama.cpp's
  /// dequantize_row_tq1_0).
  SmallVector<Value> readTQ1_0(ImplicitLocOpBuilder &cb, Value row, Value c,
                               SmallVectorImpl<Value> &sw);

  /// The `n` f16 values (GGUF's little-endian ggml_half) at byte `at` of
  /// weight row `row`, as f32 (masked when not `inBounds`: zeros).
  Value halves(ImplicitLocOpBuilder &cb, Value row, Value at, int64_t n,
               bool inBounds = true) {
    Value h = vector::TransferReadOp::create(
        cb, VectorType::get({2 * n}, cb.getI8Type()), codes,
        ValueRange{row, at}, padI8, ArrayRef<bool>{inBounds});
    h = vector::BitCastOp::create(cb, VectorType::get({n}, cb.getF16Type()), h);
    return arith::ExtFOp::create(cb, VectorType::get({n}, cb.getF32Type()), h)
        .getResult();
  }
  /// One of them, as an f32 scalar.
  Value half(ImplicitLocOpBuilder &cb, Value row, Value at,
             bool inBounds = true) {
    return vector::ExtractOp::create(cb, halves(cb, row, at, 1, inBounds),
                                     ArrayRef<int64_t>{0})
        .getResult();
  }

  /// The concatenation of `parts` (a power of two of equal vectors).
  static Value concat(ImplicitLocOpBuilder &cb, ArrayRef<Value> parts) {
    if (parts.size() == 1)
      return parts.front();
    size_t half = parts.size() / 2;
    Value lo = concat(cb, parts.take_front(half));
    Value hi = concat(cb, parts.drop_front(half));
    int64_t n = cast<VectorType>(lo.getType()).getNumElements();
    SmallVector<int64_t> both;
    for (int64_t e = 0; e < 2 * n; ++e)
      both.push_back(e);
    return vector::ShuffleOp::create(cb, lo, hi, both);
  }

  /// The chunk's codes of row `row` as unsigned u = value + bias, one
  /// vector per segment (q5_0: with the fifth bits `high`).
  SmallVector<Value> decodeSegments(ImplicitLocOpBuilder &cb, Value bytes,
                                    ArrayRef<Value> high = {}) {
    if (p.isQ8_0())
      return {arith::XOrIOp::create(cb, bytes, bias8)};
    if (p.isTernary() || p.isTQ2_0()) {
      SmallVector<Value> u;
      for (int64_t j = 0; j < 4; ++j) {
        Value sh = splat(cb, v64i8, cb.getI8IntegerAttr(2 * j));
        Value c = j ? arith::ShRUIOp::create(cb, bytes, sh).getResult() : bytes;
        Value q = arith::AndIOp::create(cb, c, three);
        // tq2_0's code is already q + 1.
        u.push_back(p.isTQ2_0() ? q : arith::XOrIOp::create(cb, q, bias8));
      }
      return u;
    }
    Value l = arith::AndIOp::create(cb, bytes, low4);
    Value h = arith::AndIOp::create(cb, arith::ShRUIOp::create(cb, bytes, four),
                                    low4);
    if (p.isQ4_0()) // the nibble is already q + 8
      return {l, h};
    if (p.hasFifthBits()) // nibble | 16 * fifth bit: q + 16 (q5_0), q (q5_1)
      return {arith::OrIOp::create(cb, l, high[0]),
              arith::OrIOp::create(cb, h, high[1])};
    return {biased(cb, l), biased(cb, h)};
  }

  /// Codes 0..15 -> unsigned u = value + bias (int4: q + 8 = code ^ 8;
  /// E2M1: 2 * value + 12, iq4_nl: its value (+ 128 with VNNI), by table
  /// lookup).
  Value biased(ImplicitLocOpBuilder &cb, Value nibbles) {
    if (!p.twiceE2M1() && !p.hasIQ4Values())
      return arith::XOrIOp::create(cb, nibbles, bias8);
    if (p.hasZmm())
      return func::CallOp::create(cb, pshufbFn, ValueRange{e2m1Table, nibbles})
          .getResult(0);
    // AVX2: the two 256-bit halves (the table repeats every 16 bytes).
    Value table = splitHalves(cb, e2m1Table).first;
    auto [lo, hi] = splitHalves(cb, nibbles);
    auto look = [&](Value h) {
      return func::CallOp::create(cb, pshufbFn, ValueRange{table, h})
          .getResult(0);
    };
    return concatHalves(cb, look(lo), look(hi));
  }

  /// The chunk loop body for outputs [m0, m0 + tm) x [n0, n0 + tn).
  SmallVector<Value> chunk(ImplicitLocOpBuilder &cb, Value c, ValueRange acc,
                           Value m0, Value n0, int64_t tm, int64_t tn,
                           bool full) {
    Value k0 = arith::MulIOp::create(cb, c, idx(cb, chunkIn));
    Value kb = arith::MulIOp::create(cb, c, idx(cb, 64));
    SmallVector<SmallVector<Value>> u;
    SmallVector<Value> sw, mins(tn);
    for (int64_t r = 0; r < tn; ++r) {
      Value row = add(cb, n0, r);
      if (p.isTQ1_0()) {
        u.push_back(readTQ1_0(cb, row, c, sw));
        continue;
      }
      if (p.isGGUF()) {
        Value bytes, s;
        SmallVector<Value> high;
        readGGUF(cb, row, c, full, bytes, s, high,
                 p.hasBlockMins() ? &mins[r] : nullptr);
        u.push_back(decodeSegments(cb, bytes, high));
        sw.push_back(s);
        continue;
      }
      Value bytes = vector::TransferReadOp::create(
          cb, v64i8, codes, ValueRange{row, kb}, padI8, ArrayRef<bool>{full});
      u.push_back(decodeSegments(cb, bytes));
      sw.push_back(chunkScales(cb, row, k0, full));
    }
    SmallVector<Value> out(acc);
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(cb, m0, i);
      SmallVector<Value> xs;
      for (int64_t j = 0; j < cpb; ++j)
        xs.push_back(vector::TransferReadOp::create(
            cb, v64i8, xArranged, ValueRange{m, add(cb, k0, 64 * j)}, padI8,
            ArrayRef<bool>{true}));
      // The lane sums to subtract (none for q4_1's unbiased codes, whose
      // block sums of x meet the mins m instead).
      Value corr, xSums;
      if (p.hasBlockMins()) {
        xSums = vector::TransferReadOp::create(
            cb, VectorType::get({4}, cb.getF32Type()), laneSums,
            ValueRange{m, arith::MulIOp::create(cb, c, idx(cb, 4))}, padF,
            ArrayRef<bool>{true});
      } else {
        Value cz = arith::ConstantOp::create(cb, cb.getI32IntegerAttr(0));
        corr = vector::TransferReadOp::create(
            cb, v16i32, laneSums,
            ValueRange{m, arith::MulIOp::create(cb, c, idx(cb, 16))}, cz,
            ArrayRef<bool>{true});
      }
      Value sx = xLanes(cb, m, c);
      for (int64_t r = 0; r < tn; ++r) {
        Value d = zeroI;
        for (int64_t j = 0; j < cpb; ++j)
          d = dpbusd(cb, d, u[r][j], xs[j]);
        Value q = corr ? arith::SubIOp::create(cb, d, corr).getResult() : d;
        Value qf = arith::SIToFPOp::create(cb, v16f, q);
        Value &o = out[i * tn + r];
        o = vector::FMAOp::create(cb, qf, laneScale(cb, sw[r], sx), o);
        if (xSums) { // the min term, into the second half
          Value &om = out[tm * tn + i * tn + r];
          om = vector::FMAOp::create(cb, mins[r], xSums, om);
        }
      }
    }
    return out;
  }

  /// The scales of chunk [k0, k0 + chunkIn) of row `row`, spread over the
  /// lanes of their groups (one scale per row or per tensor: broadcast).
  Value chunkScales(ImplicitLocOpBuilder &cb, Value row, Value k0, bool full) {
    Type f32 = cb.getF32Type();
    auto st = cast<RankedTensorType>(scales.getType());
    if (st.getRank() < 2) // one scale per row or per tensor
      return vector::BroadcastOp::create(
          cb, v16f,
          extractScale(cb, scales, st.getRank() == 1 && st.getDimSize(0) > 1,
                       row));
    Value g0 = arith::DivUIOp::create(cb, k0, idx(cb, p.g));
    Type part = p.scalePartType();
    auto vs = VectorType::get({scalesPerChunk}, part);
    Value pad = arith::ConstantOp::create(
        cb, p.isFP4() ? TypedAttr(cb.getI8IntegerAttr(0))
                      : TypedAttr(cb.getFloatAttr(part, 0)));
    // One row of scales (per tensor as per_group<[0 : N, 1 : g]>): row 0.
    Value srow = st.getDimSize(0) == 1 ? idx(cb, 0) : row;
    Value s = vector::TransferReadOp::create(
        cb, vs, scales, ValueRange{srow, g0}, pad,
        ArrayRef<bool>{full || p.g >= chunkIn});
    if (p.isNVFP4())
      s = codecs::decodeE4M3(cb, s);
    else if (p.isFP4())
      s = codecs::decodeE8M0(cb, s);
    else if (!part.isF32())
      s = arith::ExtFOp::create(cb, VectorType::get({scalesPerChunk}, f32), s);
    return vector::ShuffleOp::create(cb, s, s, laneGroup);
  }

  /// q4_K super-block `sb` (256 inputs, 144 bytes: f16 d, f16 dmin, 12
  /// bytes of 6-bit scales and mins for 8 sub-blocks of 32, 128 bytes of
  /// nibbles; value d sc q - dmin m) for outputs [m0, m0 + tm) x [n0, n0 +
  /// tn): two 128-input halves, each 64 bytes whose low nibbles are
  /// sub-blocks 4h and 4h + 2, high nibbles 4h + 1 and 4h + 3. Sums of q x
  /// and of x are exact per lane; the scales and mins apply per segment.
  /// q5_K (176 bytes: d, dmin, the 12 scale bytes, qh[32], then the
  /// nibbles as q4_K's): code q = nibble + 16 x its fifth bit, bit 2 g (low
  /// nibbles) or 2 g + 1 (high) of qh[l] for byte l of 64-input group g.
  SmallVector<Value> superBlock(ImplicitLocOpBuilder &cb, Value sb,
                                ValueRange acc, Value m0, Value n0, int64_t tm,
                                int64_t tn);

  /// q6_K super-block `sb` (256 inputs, 210 bytes: ql[128] low nibbles,
  /// qh[64] high 2 bits, 16 int8 scales, f16 d; value d sc (q - 32)) for
  /// outputs [m0, m0 + tm) x [n0, n0 + tn): two 128-input halves. Half h
  /// holds 64 bytes of ql whose low nibbles are its inputs 0-63 and high
  /// nibbles 64-127, and 32 bytes of qh whose 2-bit fields 0, 1, 2, 3 are
  /// the high bits of inputs l, l + 32, l + 64, l + 96. u = q + 32 (at most
  /// 63); each segment's lanes take the scales of their sub-blocks of 16
  /// and subtract 32 x their own lane sums.
  SmallVector<Value> superBlockQ6K(ImplicitLocOpBuilder &cb, Value sb,
                                   ValueRange acc, Value m0, Value n0,
                                   int64_t tm, int64_t tn);

  /// q2_K super-block `sb` (256 inputs, 84 bytes: 16 scale bytes (low
  /// nibble the scale, high the min of a sub-block of 16), qs[64] of 2-bit
  /// codes, f16 d, f16 dmin; value d sc q - dmin m) for outputs [m0, m0 +
  /// tm) x [n0, n0 + tn): one chunk of four segments laid out as tq2_0's
  /// (byte i's field j is input 128 (i / 32) + 32 j + i % 32); lane l of
  /// segment j lies in sub-block 8 (l / 8) + 2 j + (l % 8) / 4. u = q (at
  /// most 3); the min term as a 16-wide FMA with the prologue's sums per
  /// 16 inputs. q3_K (110 bytes: hmask[32], qs[64] as q2_K's, 12 bytes of
  /// 6-bit scales for the 16 sub-blocks, f16 d; value d (sc - 32) (q - 4),
  /// q = the 2 bits + 4 x the high bit, bit 4 (i / 32) + j of hmask[i % 32]
  /// for byte i of segment j): u = q (at most 7), minus 4 x the lanes' sums
  /// of x per segment, no min term.
  SmallVector<Value> superBlockQ2K(ImplicitLocOpBuilder &cb, Value sb,
                                   ValueRange acc, Value m0, Value n0,
                                   int64_t tm, int64_t tn);

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    SmallVector<Value> acc(tm * tn, zeroF);
    // With mins: then the min-term accumulators (q4_K / q5_K: 8
    // sub-blocks a super-block, q2_K 16, q4_1 / q5_1: 4 blocks a chunk).
    if (p.hasMinTerm())
      acc.append(tm * tn, splat(tb,
                                VectorType::get({p.isQ2K()      ? 16
                                                 : p.hasKMins() ? 8
                                                                : 4},
                                                tb.getF32Type()),
                                tb.getF32FloatAttr(0.f)));
    if (p.superBlockLoop()) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, p.k / 256), idx(tb, 1), acc,
          [&](OpBuilder &ob, Location l, Value sb, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(
                cb, p.hasKMins() ? superBlock(cb, sb, a, m0, n0, tm, tn)
                    : p.isQ2K() || p.isQ3K()
                        ? superBlockQ2K(cb, sb, a, m0, n0, tm, tn)
                        : superBlockQ6K(cb, sb, a, m0, n0, tm, tn));
          });
      acc = SmallVector<Value>(loop.getResults());
    } else if (fullChunks) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, fullChunks), idx(tb, 1), acc,
          [&](OpBuilder &ob, Location l, Value c, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, chunk(cb, c, a, m0, n0, tm, tn, true));
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    if (!p.superBlockLoop() && chunks > fullChunks)
      acc = chunk(tb, idx(tb, fullChunks), acc, m0, n0, tm, tn, false);
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      // (Scales per block of X are in the lanes' scales already.)
      Value sx = p.xPerBlock() ? Value()
                               : extractScale(tb, xScales, p.xScalePerRow(), m);
      for (int64_t r = 0; r < tn; ++r) {
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                acc[i * tn + r],
                                                arith::FastMathFlags::reassoc);
        if (p.hasMinTerm())
          sum = arith::AddFOp::create(
              tb, sum,
              vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                          acc[tm * tn + i * tn + r],
                                          arith::FastMathFlags::reassoc));
        if (sx)
          sum = arith::MulFOp::create(tb, sum, sx);
        if (p.twiceE2M1()) // u - 12 is twice the E2M1 value
          sum = arith::MulFOp::create(
              tb, sum, arith::ConstantOp::create(tb, tb.getF32FloatAttr(0.5f)));
        if (p.isNVFP4())
          sum = arith::MulFOp::create(tb, sum, tensorScaleValue(tb));
        y = store(tb, y, sum, m, add(tb, n0, r));
      }
    }
    return y;
  }

  Value xCodes, xScales, codes, scales;
  VectorType v64i8, vChunk, v16i32, v16f;
  Value zeroF, zeroI, low4, bias8, four, three, ones, padI8, padF;
  SmallVector<SmallVector<int64_t>> segments;
  SmallVector<int64_t> laneGroup, xLaneBlock;
  int64_t cpb, chunkIn, chunks, fullChunks, scalesPerChunk;
  /// NVFP4's tensor scale (a one-element tensor of any rank).
  Value tensorScaleValue(ImplicitLocOpBuilder &tb) {
    auto t = cast<RankedTensorType>(tensorScale.getType());
    SmallVector<Value> at(t.getRank(), idx(tb, 0));
    return tensor::ExtractOp::create(tb, tensorScale, at);
  }

  Value tensorScale;
  Value xArranged, laneSums, xLaneScales, e2m1Table;
  func::FuncOp dpbusdFn, pshufbFn;
  std::optional<Avx2Dot> avx2;
};

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_LIB_CONVERSION_LOWBITTOCPU_W4INT8KERNEL_H
