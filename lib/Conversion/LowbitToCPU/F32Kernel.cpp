//===- F32Kernel.cpp - f32 x f32 matmuls ----------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The f32 family: f32, f16 or bf16 weights [N, K] times f32 activations
// (the importer's unquantized projections; f16 / bf16 weights widened
// exactly as they are read), FMA with 4 chains per GEMV channel, K tails
// masked (docs/CodegenCPU.md).
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

/// f32 X [M, K] times f32 W [N, K] transposed, added to Y (a linalg.matmul
/// with transposed-B maps, e.g. an fp32 model's projections): FMA over 16
/// lanes, GEMV with 4 independent accumulators per channel (64 inputs a
/// step) so the FMA latency does not bound one weight stream; the K tail by
/// 16 lanes, then a masked read. Within fp32 reassociation of the reference
/// lowering (scalar loops: 68 ms a token for SmolLM2-135M's matmuls).
class F32Kernel : public TiledKernel {
public:
  F32Kernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value x, Value w)
      : TiledKernel(b, p, p.m == 1 ? 1 : 4, tileRows(p)), x(x), w(w) {
    v16f = VectorType::get({16}, b.getF32Type());
    zero = splat(b, v16f, b.getF32FloatAttr(0.f));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    Type we = p.wElem ? p.wElem : b.getF32Type();
    v16w = VectorType::get({16}, we);
    padW = arith::ConstantOp::create(b, b.getFloatAttr(we, 0.0));
  }

protected:
  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    // Accumulators per (row, channel); GEMV tiles get 4 chains each.
    int64_t chains = tm == 1 ? 4 : 1, na = tm * tn * chains;
    auto step = [&](ImplicitLocOpBuilder &cb, Value k0, ValueRange acc,
                    int64_t chain, bool inBounds) {
      SmallVector<Value> out(acc);
      SmallVector<Value> wv;
      for (int64_t r = 0; r < tn; ++r) {
        Value wr = vector::TransferReadOp::create(
            cb, v16w, w, ValueRange{add(cb, n0, r), k0}, padW,
            ArrayRef<bool>{inBounds});
        if (v16w != v16f) // f16 / bf16: exact in f32
          wr = arith::ExtFOp::create(cb, v16f, wr);
        wv.push_back(wr);
      }
      for (int64_t i = 0; i < tm; ++i) {
        Value xv = vector::TransferReadOp::create(
            cb, v16f, x, ValueRange{add(cb, m0, i), k0}, padF,
            ArrayRef<bool>{inBounds});
        for (int64_t r = 0; r < tn; ++r) {
          Value &o = out[(i * tn + r) * chains + chain];
          o = vector::FMAOp::create(cb, xv, wv[r], o);
        }
      }
      return out;
    };
    SmallVector<Value> acc(na, zero);
    int64_t wide = 16 * chains, main = p.k / wide * wide;
    if (main) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, main), idx(tb, wide), acc,
          [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            SmallVector<Value> cur(a);
            for (int64_t c = 0; c < chains; ++c)
              cur = step(cb, add(cb, k0, 16 * c), cur, c, true);
            scf::YieldOp::create(cb, cur);
          });
      acc.assign(loop.getResults().begin(), loop.getResults().end());
    }
    int64_t full = p.k / 16 * 16;
    for (int64_t k0 = main; k0 < full; k0 += 16)
      acc = step(tb, idx(tb, k0), acc, (k0 - main) / 16 % chains, true);
    if (full < p.k)
      acc = step(tb, idx(tb, full), acc, 0, false);
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t r = 0; r < tn; ++r) {
        Value v = acc[(i * tn + r) * chains];
        for (int64_t c = 1; c < chains; ++c)
          v = arith::AddFOp::create(tb, v, acc[(i * tn + r) * chains + c]);
        Value sum = vector::ReductionOp::create(
            tb, vector::CombiningKind::ADD, v, arith::FastMathFlags::reassoc);
        Value m = add(tb, m0, i), n = add(tb, n0, r);
        // linalg.matmul accumulates into its destination.
        Value init = tensor::ExtractOp::create(
            tb, y,
            ValueRange{m, outBase ? arith::SubIOp::create(tb, n, outBase) : n});
        sum = arith::AddFOp::create(tb, init, sum);
        y = store(tb, y, sum, m, n);
      }
    return y;
  }

  Value x, w;
  VectorType v16f, v16w;
  Value zero, padF, padW;
};

} // namespace

static bool acceptsF32(const KernelProblem &p) {
  return p.weights == WeightFormat::F32 &&
         p.activations == ActivationFormat::Float;
}

static Value buildF32(ImplicitLocOpBuilder &b, const KernelProblem &p,
                      ValueRange args) {
  return F32Kernel(b, p, args[0], args[1]).build(args[2], p.rowBytes());
}

const KernelFamily &cpu::getF32Family() {
  static const KernelFamily family{"f32", acceptsF32, buildF32};
  return family;
}
