//===- W4FloatKernel.cpp - int4/MXFP4/q4_1 weights x float ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-float family: int4 (per group, f32/f16/bf16 scales) and MXFP4
// weights, and GGUF q4_1 blocks, times f32, f16 or bf16 activations,
// dequantized in registers, FMA (docs/CodegenCPU.md).
//
//===----------------------------------------------------------------------===//

#include "Registry.h"
#include "TiledKernel.h"

#include "lowbit/Conversion/Codecs.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

namespace {

/// W4A32. Per 32 inputs, NR x 16 bytes of codes are split into low/high
/// nibbles by shifts (sign-extending), converted to f32 and multiplied with
/// X's even/odd elements (so no byte interleave is needed). With MR = 1
/// (GEMV) each group's sum of q * x is scaled once; with MR > 1 the decoded
/// weights are scaled once and shared by the MR rows.
class W4F32Kernel : public TiledKernel {
public:
  W4F32Kernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value x,
              Value codes, Value scales)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), x(x), codes(codes),
        scales(scales) {
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    v16f = VectorType::get({16}, f32);
    v16i = VectorType::get({16}, i8);
    v32f = VectorType::get({32}, f32);
    zero = splat(b, v16f, b.getF32FloatAttr(0.f));
    four = splat(b, v16i, b.getI8IntegerAttr(4));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    // Low nibbles pair with X's even inputs and high ones with the odd
    // (lowbit's packing); in a q4_1 block with the first and last 16.
    for (int64_t i = 0; i < 16; ++i) {
      even.push_back(p.isQ4_1() ? i : 2 * i);
      odd.push_back(p.isQ4_1() ? 16 + i : 2 * i + 1);
    }
    if (p.isFP4()) {
      // MXFP4: codes decoded to 2 * value (exact int8) by vpshufb; the
      // factor 0.5 goes on the sum.
      static const int8_t kTwiceE2M1[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                            0, -1, -2, -3, -4, -6, -8, -12};
      SmallVector<Attribute> t;
      for (int8_t v : kTwiceE2M1)
        t.push_back(b.getI8IntegerAttr(v));
      twiceE2M1 =
          arith::ConstantOp::create(b, v16i, DenseElementsAttr::get(v16i, t));
      low4 = splat(b, v16i, b.getI8IntegerAttr(0x0F));
      pshufbFn = getIntrinsicDecl(
          b, "llvm.x86.ssse3.pshuf.b.128",
          FunctionType::get(b.getContext(), {v16i, v16i}, {v16i}));
    }
  }

protected:
  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    // GEMV sums q * x per group and scales once; weights expressed in
    // f16/bf16 must each be rounded to it first (as the reference
    // dequantizes), so they are scaled per element.
    bool roundW = p.expressed && !p.expressed.isF32();
    // q4_1 decodes each weight (q * d + m, one FMA) before the products.
    bool scaleSums = tm == 1 && !roundW && !p.isQ4_1();
    // q4_1: the low and high nibbles' products go to two accumulators (two
    // independent FMA chains instead of one of twice the length).
    int64_t chains = p.isQ4_1() ? 2 : 1;
    int64_t na = tm * tn * chains;
    SmallVector<Value> init(na, zero);
    auto groups = scf::ForOp::create(
        tb, idx(tb, 0), idx(tb, p.k / p.g), idx(tb, 1), init,
        [&](OpBuilder &ob, Location l, Value gi, ValueRange acc) {
          ImplicitLocOpBuilder gb(l, ob);
          SmallVector<Value> s, mins;
          for (int64_t r = 0; r < tn; ++r) {
            if (p.isQ4_1()) { // the block's f16 d and m, its first 4 bytes
              Value dm = vector::TransferReadOp::create(
                  gb, VectorType::get({4}, gb.getI8Type()), codes,
                  ValueRange{add(gb, n0, r),
                             arith::MulIOp::create(gb, gi, idx(gb, 20))},
                  padI8, ArrayRef<bool>{true});
              dm = vector::BitCastOp::create(
                  gb, VectorType::get({2}, gb.getF16Type()), dm);
              dm = arith::ExtFOp::create(
                  gb, VectorType::get({2}, gb.getF32Type()), dm);
              for (int64_t j = 0; j < 2; ++j) {
                Value v =
                    vector::ExtractOp::create(gb, dm, ArrayRef<int64_t>{j});
                (j ? mins : s)
                    .push_back(vector::BroadcastOp::create(gb, v16f, v));
              }
              continue;
            }
            Value sc = tensor::ExtractOp::create(
                gb, scales, ValueRange{add(gb, n0, r), gi});
            if (p.isFP4()) { // E8M0 bits; halved: the table gives 2 * value
              Value v = vector::FromElementsOp::create(
                  gb, VectorType::get({1}, gb.getI8Type()), ValueRange{sc});
              sc = vector::ExtractOp::create(gb, codecs::decodeE8M0(gb, v),
                                             ArrayRef<int64_t>{0});
              sc = arith::MulFOp::create(
                  gb, sc,
                  arith::ConstantOp::create(gb, gb.getF32FloatAttr(0.5f)));
            } else if (!sc.getType().isF32()) {
              sc = arith::ExtFOp::create(gb, gb.getF32Type(), sc);
            }
            s.push_back(vector::BroadcastOp::create(gb, v16f, sc));
          }
          Value kg = arith::MulIOp::create(gb, gi, idx(gb, p.g));
          SmallVector<Value> chunkInit = scaleSums
                                             ? SmallVector<Value>(na, zero)
                                             : SmallVector<Value>(acc);
          auto chunks = scf::ForOp::create(
              gb, idx(gb, 0), idx(gb, p.g / 32), idx(gb, 1), chunkInit,
              [&](OpBuilder &cob, Location cl, Value ci, ValueRange a) {
                ImplicitLocOpBuilder cb(cl, cob);
                Value k0 = arith::AddIOp::create(
                    cb, kg, arith::MulIOp::create(cb, ci, idx(cb, 32)));
                // q4_1: the block's 16 bytes of nibbles after d and m.
                Value kb =
                    p.isQ4_1()
                        ? add(cb, arith::MulIOp::create(cb, gi, idx(cb, 20)), 4)
                        : arith::DivUIOp::create(cb, k0, idx(cb, 2))
                              .getResult();
                SmallVector<Value> lo, hi;
                for (int64_t r = 0; r < tn; ++r) {
                  Value bytes = vector::TransferReadOp::create(
                      cb, v16i, codes, ValueRange{add(cb, n0, r), kb}, padI8,
                      ArrayRef<bool>{true});
                  Value l, h;
                  if (p.isQ4_1()) { // unsigned nibbles q in 0..15
                    Value low4v = splat(cb, v16i, cb.getI8IntegerAttr(0x0F));
                    l = arith::AndIOp::create(cb, bytes, low4v);
                    h = arith::ShRUIOp::create(cb, bytes, four);
                  } else if (p.isFP4()) { // 2 * E2M1 value by table, as int8
                    Value low = arith::AndIOp::create(cb, bytes, low4);
                    Value high = arith::AndIOp::create(
                        cb, arith::ShRUIOp::create(cb, bytes, four), low4);
                    l = func::CallOp::create(cb, pshufbFn,
                                             ValueRange{twiceE2M1, low})
                            .getResult(0);
                    h = func::CallOp::create(cb, pshufbFn,
                                             ValueRange{twiceE2M1, high})
                            .getResult(0);
                  } else { // sign-extended nibbles
                    l = arith::ShRSIOp::create(
                        cb, arith::ShLIOp::create(cb, bytes, four), four);
                    h = arith::ShRSIOp::create(cb, bytes, four);
                  }
                  Value lf = arith::SIToFPOp::create(cb, v16f, l);
                  Value hf = arith::SIToFPOp::create(cb, v16f, h);
                  if (p.isQ4_1()) {
                    lf = vector::FMAOp::create(cb, lf, s[r], mins[r]);
                    hf = vector::FMAOp::create(cb, hf, s[r], mins[r]);
                  } else if (!scaleSums) {
                    lf = arith::MulFOp::create(cb, lf, s[r]);
                    hf = arith::MulFOp::create(cb, hf, s[r]);
                  }
                  if (roundW) {
                    auto ve = VectorType::get({16}, p.expressed);
                    lf = arith::ExtFOp::create(
                        cb, v16f,
                        arith::TruncFOp::create(cb, ve, lf).getResult());
                    hf = arith::ExtFOp::create(
                        cb, v16f,
                        arith::TruncFOp::create(cb, ve, hf).getResult());
                  }
                  lo.push_back(lf);
                  hi.push_back(hf);
                }
                SmallVector<Value> out(a);
                for (int64_t i = 0; i < tm; ++i) {
                  Value xv = readX(cb, add(cb, m0, i), k0);
                  Value xe = vector::ShuffleOp::create(cb, xv, xv, even);
                  Value xo = vector::ShuffleOp::create(cb, xv, xv, odd);
                  for (int64_t r = 0; r < tn; ++r) {
                    Value &o = out[(i * tn + r) * chains];
                    o = vector::FMAOp::create(cb, lo[r], xe, o);
                    Value &oh = out[(i * tn + r) * chains + chains - 1];
                    oh = vector::FMAOp::create(cb, hi[r], xo, oh);
                  }
                }
                scf::YieldOp::create(cb, out);
              });
          SmallVector<Value> next(chunks.getResults());
          if (scaleSums)
            for (int64_t r = 0; r < tn; ++r)
              next[r] = vector::FMAOp::create(gb, next[r], s[r], acc[r]);
          scf::YieldOp::create(gb, next);
        });
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t r = 0; r < tn; ++r) {
        Value v = groups.getResult((i * tn + r) * chains);
        if (chains == 2)
          v = arith::AddFOp::create(
              tb, v, groups.getResult((i * tn + r) * chains + 1));
        Value sum = vector::ReductionOp::create(
            tb, vector::CombiningKind::ADD, v, arith::FastMathFlags::reassoc);
        if (p.yElem && !p.yElem.isF32())
          sum = arith::TruncFOp::create(tb, p.yElem, sum);
        y = store(tb, y, sum, add(tb, m0, i), add(tb, n0, r));
      }
    return y;
  }

  /// 32 elements of X's row m from k0, as f32 (f16/bf16 extended exactly).
  Value readX(ImplicitLocOpBuilder &cb, Value m, Value k0) {
    Type xe = p.xElem ? p.xElem : cb.getF32Type();
    if (xe.isF32())
      return vector::TransferReadOp::create(cb, v32f, x, ValueRange{m, k0},
                                            padF, ArrayRef<bool>{true});
    Value pad = arith::ConstantOp::create(cb, cb.getFloatAttr(xe, 0));
    Value v = vector::TransferReadOp::create(cb, VectorType::get({32}, xe), x,
                                             ValueRange{m, k0}, pad,
                                             ArrayRef<bool>{true});
    return arith::ExtFOp::create(cb, v32f, v);
  }

  Value x, codes, scales;
  VectorType v16f, v16i, v32f;
  Value zero, four, padI8, padF, low4, twiceE2M1;
  SmallVector<int64_t> even, odd;
  func::FuncOp pshufbFn;
};

} // namespace

static bool acceptsW4Float(const KernelProblem &p) {
  return p.activations == ActivationFormat::Float &&
         (p.weights == WeightFormat::Int4 || p.weights == WeightFormat::MXFP4 ||
          p.weights == WeightFormat::GGUFQ4_1);
}

static Value buildW4Float(ImplicitLocOpBuilder &b, const KernelProblem &p,
                          ValueRange args) {
  if (p.isQ4_1()) // the blocks carry their scales
    return W4F32Kernel(b, p, args[0], args[1], Value())
        .build(args[2], p.rowBytes());
  return W4F32Kernel(b, p, args[0], args[1], args[2])
      .build(args[3], p.rowBytes());
}

const KernelFamily &cpu::getW4FloatFamily() {
  static const KernelFamily family{"w4-float", acceptsW4Float, buildW4Float};
  return family;
}
