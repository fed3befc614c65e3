//===- FP8Kernel.cpp - FP8 E4M3 weights -----------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The fp8 family: FP8 E4M3 weights per output channel or tensor times f32
// or FP8 E4M3 activations, decoded exactly to f32, FMA
// (docs/CodegenCPU.md).
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

/// FP8 E4M3 weights: 16 codes per step decoded exactly to f32
/// (decodeE4M3), FMA with X in f32, one accumulator per output over all of
/// K, scaled once at the end. FP8 activations are decoded to f32 once per
/// call by a prologue. A K tail (K % 16) is read with masked loads padded
/// with 0 (code 0 is +0.0).
class F8Kernel : public TiledKernel {
public:
  F8Kernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value x,
           Value xScales, Value codes, Value scales)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), x(x),
        xScales(xScales), codes(codes), scales(scales) {
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    v16f = VectorType::get({16}, f32);
    v16i8 = VectorType::get({16}, i8);
    zero = splat(b, v16f, b.getF32FloatAttr(0.f));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    fullSteps = p.k / 16;
    steps = (p.k + 15) / 16;
    if (p.hasFP8Activations())
      this->x = decodeActivations(x);
  }

protected:
  /// X's codes [M, K] -> f32 [M, K].
  Value decodeActivations(Value xCodes) {
    Value out =
        tensor::EmptyOp::create(b, ArrayRef<int64_t>{p.m, p.k}, b.getF32Type());
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, p.m), idx(b, 1), ValueRange{out},
        [&](OpBuilder &ob, Location l, Value m, ValueRange it) {
          ImplicitLocOpBuilder rb(l, ob);
          auto ks = scf::ForOp::create(
              rb, idx(rb, 0), idx(rb, steps * 16), idx(rb, 16), it,
              [&](OpBuilder &kob, Location kl, Value k0, ValueRange kt) {
                ImplicitLocOpBuilder kb(kl, kob);
                bool full = p.k % 16 == 0;
                Value c = vector::TransferReadOp::create(
                    kb, v16i8, xCodes, ValueRange{m, k0}, padI8,
                    ArrayRef<bool>{full});
                Value w = vector::TransferWriteOp::create(
                              kb, codecs::decodeE4M3(kb, c), kt[0],
                              ValueRange{m, k0}, ArrayRef<bool>{full})
                              .getResult();
                scf::YieldOp::create(kb, w);
              });
          scf::YieldOp::create(rb, ks.getResults());
        });
    return rows.getResult(0);
  }

  SmallVector<Value> step(ImplicitLocOpBuilder &cb, Value k0, ValueRange acc,
                          Value m0, Value n0, int64_t tm, int64_t tn,
                          bool full) {
    SmallVector<Value> w;
    for (int64_t r = 0; r < tn; ++r) {
      Value c = vector::TransferReadOp::create(cb, v16i8, codes,
                                               ValueRange{add(cb, n0, r), k0},
                                               padI8, ArrayRef<bool>{full});
      w.push_back(codecs::decodeE4M3(cb, c));
    }
    SmallVector<Value> out(acc);
    for (int64_t i = 0; i < tm; ++i) {
      Value xv = vector::TransferReadOp::create(cb, v16f, x,
                                                ValueRange{add(cb, m0, i), k0},
                                                padF, ArrayRef<bool>{full});
      for (int64_t r = 0; r < tn; ++r)
        out[i * tn + r] = vector::FMAOp::create(cb, w[r], xv, out[i * tn + r]);
    }
    return out;
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    SmallVector<Value> acc(tm * tn, zero);
    if (fullSteps) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, fullSteps * 16), idx(tb, 16), acc,
          [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, step(cb, k0, a, m0, n0, tm, tn, true));
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    if (steps > fullSteps)
      acc = step(tb, idx(tb, fullSteps * 16), acc, m0, n0, tm, tn, false);
    auto scaleAt = [&](Value part, bool perRow, Value row) {
      return extractScale(tb, part, perRow, row);
    };
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = p.hasFP8Activations() ? scaleAt(xScales, p.xScalePerRow(), m)
                                       : Value();
      for (int64_t r = 0; r < tn; ++r) {
        Value n = add(tb, n0, r);
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                acc[i * tn + r],
                                                arith::FastMathFlags::reassoc);
        Value sc = scaleAt(scales, p.wScalePerRow(), n);
        if (sx)
          sc = arith::MulFOp::create(tb, sx, sc);
        y = store(tb, y, arith::MulFOp::create(tb, sum, sc), m, n);
      }
    }
    return y;
  }

  Value x, xScales, codes, scales;
  VectorType v16f, v16i8;
  Value zero, padI8, padF;
  int64_t fullSteps, steps;
};

} // namespace

static bool acceptsFP8(const KernelProblem &p) {
  return p.weights == WeightFormat::FP8E4M3 &&
         p.activations != ActivationFormat::Int8;
}

static Value buildFP8(ImplicitLocOpBuilder &b, const KernelProblem &p,
                      ValueRange args) {
  if (p.hasFP8Activations())
    return F8Kernel(b, p, args[0], args[1], args[2], args[3])
        .build(args[4], p.rowBytes());
  return F8Kernel(b, p, args[0], Value(), args[1], args[2])
      .build(args[3], p.rowBytes());
}

const KernelFamily &cpu::getFP8Family() {
  static const KernelFamily family{"fp8", acceptsFP8, buildFP8};
  return family;
}
