//===- Int8Kernel.cpp - int8 x int8 (W8A8) --------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The int8 family: int8 weights per output channel or tensor times int8
// activations (W8A8), on [N, K] rows or on int8 panels of 16 channels x 4
// inputs packed at compile time (docs/CodegenCPU.md).
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

/// W8A8 with AVX-512 VNNI: one int32 accumulator vector per output over
/// all of K. Weights are made unsigned (w + 128, an xor) and multiplied
/// with X's signed codes by vpdpbusd, 64 inputs per step, so that the
/// correction is per row of X: sum (w + 128) x = sum w x + 128 sum x, with
/// sum x computed once per call. The exact int32 result is converted to f32
/// and multiplied by the two scales. A K tail (K % 64) is read with masked
/// loads padded with 0, which adds nothing.
class W8I8Kernel : public TiledKernel {
public:
  W8I8Kernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value xCodes,
             Value xScales, Value codes, Value scales)
      : W8I8Kernel(b, p, xCodes, xScales, codes, scales, p.m == 1 ? 1 : 6,
                   p.m == 1 ? 1 : 4) {}

protected:
  W8I8Kernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value xCodes,
             Value xScales, Value codes, Value scales, int64_t mr, int64_t nr)
      : TiledKernel(b, p, mr, nr), xCodes(xCodes), xScales(xScales),
        codes(codes), scales(scales) {
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    v64i8 = VectorType::get({64}, i8);
    v16i32 = VectorType::get({16}, i32);
    zeroI = splat(b, v16i32, b.getI32IntegerAttr(0));
    signBit = splat(b, v64i8, b.getI8IntegerAttr(-128));
    ones = splat(b, v64i8, b.getI8IntegerAttr(1));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    fullChunks = p.k / 64;
    chunks = (p.k + 63) / 64;
    if (p.emulatesDot()) {
      // AVX2: signed products directly, no bias and no correction.
      avx2.emplace(b);
      return;
    }
    dpbusdFn = getIntrinsicDecl(
        b, "llvm.x86.avx512.vpdpbusd.512",
        FunctionType::get(b.getContext(), {v16i32, v64i8, v64i8}, {v16i32}));
    // xSums[m] = sum over K of X's codes.
    Value sums = tensor::EmptyOp::create(b, ArrayRef<int64_t>{p.m}, i32);
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, p.m), idx(b, 1), ValueRange{sums},
        [&](OpBuilder &ob, Location l, Value m, ValueRange it) {
          ImplicitLocOpBuilder rb(l, ob);
          Value acc = chunkLoop(
              rb, ValueRange{zeroI},
              [&](ImplicitLocOpBuilder &cb, Value k0, bool full, ValueRange a) {
                Value xv = vector::TransferReadOp::create(
                    cb, v64i8, this->xCodes, ValueRange{m, k0}, padI8,
                    ArrayRef<bool>{full});
                return SmallVector<Value>{dpbusd(cb, a[0], ones, xv)};
              })[0];
          Value sum =
              vector::ReductionOp::create(rb, vector::CombiningKind::ADD, acc);
          scf::YieldOp::create(
              rb, tensor::InsertOp::create(rb, sum, it[0], ValueRange{m})
                      .getResult());
        });
    xSums = rows.getResult(0);
  }

  using ChunkFn = function_ref<SmallVector<Value>(
      ImplicitLocOpBuilder &, Value /*k0*/, bool /*full*/, ValueRange)>;

  /// The full 64-input chunks in an scf.for, then the tail chunk.
  SmallVector<Value> chunkLoop(ImplicitLocOpBuilder &lb, ValueRange init,
                               ChunkFn body) {
    SmallVector<Value> acc(init);
    if (fullChunks) {
      auto loop = scf::ForOp::create(
          lb, idx(lb, 0), idx(lb, fullChunks * 64), idx(lb, 64), acc,
          [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            scf::YieldOp::create(cb, body(cb, k0, true, a));
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    if (chunks > fullChunks)
      acc = body(lb, idx(lb, fullChunks * 64), false, acc);
    return acc;
  }

  Value dpbusd(ImplicitLocOpBuilder &cb, Value acc, Value u8, Value s8) {
    return func::CallOp::create(cb, dpbusdFn, ValueRange{acc, u8, s8})
        .getResult(0);
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    SmallVector<Value> init(tm * tn, zeroI);
    SmallVector<Value> acc = chunkLoop(
        tb, init,
        [&](ImplicitLocOpBuilder &cb, Value k0, bool full, ValueRange a) {
          SmallVector<Value> w;
          for (int64_t r = 0; r < tn; ++r) {
            Value bytes = vector::TransferReadOp::create(
                cb, v64i8, codes, ValueRange{add(cb, n0, r), k0}, padI8,
                ArrayRef<bool>{full});
            w.push_back(
                p.emulatesDot()
                    ? bytes
                    : arith::XOrIOp::create(cb, bytes, signBit).getResult());
          }
          SmallVector<Value> out(a);
          for (int64_t i = 0; i < tm; ++i) {
            Value xv = vector::TransferReadOp::create(
                cb, v64i8, xCodes, ValueRange{add(cb, m0, i), k0}, padI8,
                ArrayRef<bool>{full});
            for (int64_t r = 0; r < tn; ++r)
              out[i * tn + r] = avx2 ? avx2->dot(cb, out[i * tn + r], w[r], xv,
                                                 /*signedFirst=*/true)
                                     : dpbusd(cb, out[i * tn + r], w[r], xv);
          }
          return out;
        });
    Type f32 = tb.getF32Type();
    auto scaleAt = [&](Value part, bool perRow, Value row) {
      return extractScale(tb, part, perRow, row);
    };
    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = scaleAt(xScales, p.xScalePerRow(), m);
      Value bias =
          p.emulatesDot()
              ? arith::ConstantOp::create(tb, tb.getI32IntegerAttr(0))
                    .getResult()
              : arith::MulIOp::create(
                    tb, tensor::ExtractOp::create(tb, xSums, ValueRange{m}),
                    arith::ConstantOp::create(tb, tb.getI32IntegerAttr(128)))
                    .getResult();
      for (int64_t r = 0; r < tn; ++r) {
        Value n = add(tb, n0, r);
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                acc[i * tn + r]);
        sum = arith::SubIOp::create(tb, sum, bias);
        Value f = arith::SIToFPOp::create(tb, f32, sum);
        Value sw = scaleAt(scales, p.wScalePerRow(), n);
        f = arith::MulFOp::create(tb, f, arith::MulFOp::create(tb, sx, sw));
        y = store(tb, y, f, m, n);
      }
    }
    return y;
  }

  Value xCodes, xScales, codes, scales;
  VectorType v64i8, v16i32;
  Value zeroI, signBit, ones, padI8, xSums;
  int64_t fullChunks, chunks;
  func::FuncOp dpbusdFn;
  std::optional<Avx2Dot> avx2;
};

/// The panel GEMM tile: 6 rows x 64 channels, or 12 x 32 where 64
/// channels' panels (64 K bytes) would crowd a 1 MiB L2; GEMV: 1 x 16.
static bool narrowPanels(const KernelProblem &p) {
  return p.k * 64 > 512 * 1024;
}
static int64_t panelRows(const KernelProblem &p) {
  return p.m == 1 ? 1 : narrowPanels(p) ? 12 : 6;
}
static int64_t panelChannels(const KernelProblem &p) {
  return p.m == 1 ? 16 : narrowPanels(p) ? 32 : 64;
}

/// W8A8 on weights in the panel layout (numerics::packInt8Panels, packed at
/// compile time): per quad of inputs, NV 64-byte loads of 16 channels'
/// biased codes meet one broadcast of 4 activation bytes per row of X in
/// `vpdpbusd`, so each accumulator holds 16 outputs (no horizontal sums)
/// and a step loads NV + MR values for MR x NV dot products. GEMM: MR = 6,
/// NV = 4 (24 accumulators, 64 channels); GEMV: one panel with K unrolled
/// by 4 into separate accumulators, one sequential weight stream.
class W8PanelKernel : public W8I8Kernel {
public:
  W8PanelKernel(ImplicitLocOpBuilder &b, const KernelProblem &p, Value xCodes,
                Value xScales, Value panels, Value scales)
      : W8I8Kernel(b, p, xCodes, xScales, panels, scales, panelRows(p),
                   panelChannels(p)) {
    fullQuads = p.k / 4;
    v4i8 = VectorType::get({4}, b.getI8Type());
    v16f32 = VectorType::get({16}, b.getF32Type());
    if (p.wScalePerRow()) {
      // [N] or [N, 1]: 16 channels' scales are one vector read.
      rowScales = scales;
      auto st = cast<RankedTensorType>(scales.getType());
      if (st.getRank() == 2)
        rowScales = tensor::CollapseShapeOp::create(
            b, RankedTensorType::get({p.n}, st.getElementType()), scales,
            ArrayRef<ReassociationIndices>{{0, 1}});
    }
  }

protected:
  /// 4 bytes of row m of X at quad q, broadcast to the 16 lanes.
  Value broadcastX(ImplicitLocOpBuilder &cb, Value m, Value q, bool full) {
    Value k = arith::MulIOp::create(cb, q, idx(cb, 4));
    Value xq = vector::TransferReadOp::create(
        cb, v4i8, xCodes, ValueRange{m, k}, padI8, ArrayRef<bool>{full});
    Value x32 = vector::BitCastOp::create(
        cb, VectorType::get({1}, cb.getI32Type()), xq);
    Value s = vector::ExtractOp::create(cb, x32, ArrayRef<int64_t>{0});
    return vector::BitCastOp::create(
        cb, v64i8, vector::BroadcastOp::create(cb, v16i32, s));
  }

  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) override {
    int64_t nv = (tn + 15) / 16;
    // GEMV: 4 independent chains over consecutive quads.
    int64_t ku = p.m == 1 ? 4 : 1;
    Value panel0 = arith::DivUIOp::create(tb, n0, idx(tb, 16));
    auto at = [&](int64_t u, int64_t i, int64_t j) {
      return (u * tm + i) * nv + j;
    };
    // One quad into the accumulators of chain u.
    auto quad = [&](ImplicitLocOpBuilder &cb, MutableArrayRef<Value> acc,
                    Value q, int64_t u, bool full) {
      SmallVector<Value> w;
      for (int64_t j = 0; j < nv; ++j) {
        Value bytes = vector::TransferReadOp::create(
            cb, v64i8, codes, ValueRange{add(cb, panel0, j), q, idx(cb, 0)},
            padI8, ArrayRef<bool>{true});
        // AVX2: back to the signed codes for the sign trick.
        w.push_back(avx2 ? arith::XOrIOp::create(cb, bytes, signBit).getResult()
                         : bytes);
      }
      for (int64_t i = 0; i < tm; ++i) {
        Value xb = broadcastX(cb, add(cb, m0, i), q, full);
        for (int64_t j = 0; j < nv; ++j) {
          Value &a = acc[at(u, i, j)];
          a = avx2 ? avx2->dot(cb, a, w[j], xb, /*signedFirst=*/true)
                   : dpbusd(cb, a, w[j], xb);
        }
      }
    };
    SmallVector<Value> acc(ku * tm * nv, zeroI);
    int64_t main = fullQuads / ku * ku;
    if (main) {
      auto loop = scf::ForOp::create(
          tb, idx(tb, 0), idx(tb, main), idx(tb, ku), acc,
          [&](OpBuilder &ob, Location l, Value q0, ValueRange a) {
            ImplicitLocOpBuilder cb(l, ob);
            SmallVector<Value> out(a);
            for (int64_t u = 0; u < ku; ++u)
              quad(cb, out, add(cb, q0, u), u, true);
            scf::YieldOp::create(cb, out);
          });
      acc = SmallVector<Value>(loop.getResults());
    }
    for (int64_t q = main; q < fullQuads; ++q)
      quad(tb, acc, idx(tb, q), q - main, true);
    if (p.k % 4) // the last quad, X padded with 0
      quad(tb, acc, idx(tb, fullQuads), 0, false);

    for (int64_t i = 0; i < tm; ++i) {
      Value m = add(tb, m0, i);
      Value sx = extractScale(tb, xScales, p.xScalePerRow(), m);
      Value bias =
          avx2 ? arith::ConstantOp::create(tb, tb.getI32IntegerAttr(0))
                     .getResult()
               : arith::MulIOp::create(
                     tb, tensor::ExtractOp::create(tb, xSums, ValueRange{m}),
                     arith::ConstantOp::create(tb, tb.getI32IntegerAttr(128)))
                     .getResult();
      Value biasV = vector::BroadcastOp::create(tb, v16i32, bias);
      Value sxV = vector::BroadcastOp::create(tb, v16f32, sx);
      for (int64_t j = 0; j < nv; ++j) {
        Value n = add(tb, n0, 16 * j);
        bool full = tn - 16 * j >= 16;
        Value sum = acc[at(0, i, j)];
        for (int64_t u = 1; u < ku; ++u)
          sum = arith::AddIOp::create(tb, sum, acc[at(u, i, j)]);
        sum = arith::SubIOp::create(tb, sum, biasV);
        Value f = arith::SIToFPOp::create(tb, v16f32, sum);
        Value sw;
        if (rowScales) {
          auto et =
              cast<RankedTensorType>(rowScales.getType()).getElementType();
          Value pad = arith::ConstantOp::create(tb, tb.getZeroAttr(et));
          sw = vector::TransferReadOp::create(tb, VectorType::get({16}, et),
                                              rowScales, ValueRange{n}, pad,
                                              ArrayRef<bool>{full});
          if (!et.isF32())
            sw = arith::ExtFOp::create(tb, v16f32, sw);
        } else {
          sw = vector::BroadcastOp::create(
              tb, v16f32, extractScale(tb, scales, false, Value()));
        }
        f = arith::MulFOp::create(tb, f, arith::MulFOp::create(tb, sxV, sw));
        // A partial vector is the last of Y's columns: the write stops at
        // the tensor's end.
        Value col =
            outBase ? arith::SubIOp::create(tb, n, outBase).getResult() : n;
        y = vector::TransferWriteOp::create(tb, f, y, ValueRange{m, col},
                                            ArrayRef<bool>{full})
                .getResult();
      }
    }
    return y;
  }

  int64_t fullQuads;
  VectorType v4i8, v16f32;
  Value rowScales;
};

} // namespace

static bool acceptsInt8(const KernelProblem &p) {
  return p.weights == WeightFormat::Int8 && p.hasInt8Activations();
}

static Value buildInt8(ImplicitLocOpBuilder &b, const KernelProblem &p,
                       ValueRange args) {
  if (p.hasPanels())
    return W8PanelKernel(b, p, args[0], args[1], args[2], args[3])
        .build(args[4], p.rowBytes());
  return W8I8Kernel(b, p, args[0], args[1], args[2], args[3])
      .build(args[4], p.rowBytes());
}

const KernelFamily &cpu::getInt8Family() {
  static const KernelFamily family{"int8", acceptsInt8, buildInt8};
  return family;
}
