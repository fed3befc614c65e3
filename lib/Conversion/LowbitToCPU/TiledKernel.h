//===- TiledKernel.h - the loop nest every CPU kernel shares ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Outputs in tiles of MR rows of X by NR output channels, units of output
// channels spread over threads (scf.forall), static tails. A kernel family
// subclasses TiledKernel and emits one tile.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_TILEDKERNEL_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_TILEDKERNEL_H

#include "Emitters.h"
#include "Problem.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <algorithm>

namespace mlir::lowbit::cpu {

/// The loops common to every kernel: outputs in tiles of MR rows of X by NR
/// output channels, N tiles outermost so that each weight byte is read from
/// memory once, static tails for M % MR and N % NR. Subclasses emit a tile.
class TiledKernel {
public:
  TiledKernel(ImplicitLocOpBuilder &b, const KernelProblem &p, int64_t mr,
              int64_t nr)
      : b(b), p(p), mr(mr), nr(nr) {}
  virtual ~TiledKernel() = default;

  /// Writes every element of `y` (the destination) and returns it.
  /// GEMV (M <= MR): N tiles, then the M tile. GEMM: blocks of output
  /// channels whose weights fit half of a 1 MiB L2 (`rowBytes` per
  /// channel), then M tiles (X's tile stays in L1), then the block's N
  /// tiles, so that X is read from L2 once per block rather than once per
  /// N tile.
  Value build(Value y, int64_t rowBytes) {
    bool gemm = p.m > mr;
    // The unit of parallel work: GEMM, a block of output channels whose
    // weights fill half of a 1 MiB L2, and at most a sixteenth of N where
    // that is a tile or more, so that a small model's matrices (which fit
    // L2 whole) still spread over threads; GEMV, 16 N tiles. Each output's
    // sum is the same for any split.
    int64_t unit = 16 * nr;
    if (gemm) {
      int64_t l2 = std::max<int64_t>(
          nr, (512 * 1024 / std::max<int64_t>(rowBytes, 1)) / nr * nr);
      int64_t sixteenth = p.n / 16 / nr * nr;
      unit = sixteenth >= nr ? std::min(l2, sixteenth) : l2;
    }
    int64_t units = p.n / unit;
    if (units >= 1) {
      // scf.forall over the units (threads: scf.parallel -> OpenMP), each
      // writing its own columns of Y through a slice.
      auto forall = scf::ForallOp::create(
          b, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(units)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)}, ValueRange{y},
          std::nullopt, [&](OpBuilder &ob, Location l, ValueRange args) {
            ImplicitLocOpBuilder fb(l, ob);
            Value n0 = arith::MulIOp::create(fb, args[0], idx(fb, unit));
            SmallVector<OpFoldResult> offsets{fb.getIndexAttr(0), n0},
                sizes{fb.getIndexAttr(p.m), fb.getIndexAttr(unit)},
                strides{fb.getIndexAttr(1), fb.getIndexAttr(1)};
            Value slice = tensor::ExtractSliceOp::create(fb, args[1], offsets,
                                                         sizes, strides);
            outBase = n0;
            slice = span(fb, slice, n0, unit, gemm);
            outBase = nullptr;
            auto par = scf::InParallelOp::create(fb);
            fb.setInsertionPointToStart(par.getBody());
            tensor::ParallelInsertSliceOp::create(fb, slice, args[1], offsets,
                                                  sizes, strides);
          });
      y = forall.getResult(0);
    } else {
      units = 0;
    }
    if (p.n > units * unit)
      y = span(b, y, idx(b, units * unit), p.n - units * unit, gemm);
    return y;
  }

protected:
  /// Outputs [m0, m0 + tm) x [n0, n0 + tn), inserted into `y`.
  virtual Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0,
                     int64_t tm, int64_t tn) = 0;

  using StepFn = function_ref<Value(ImplicitLocOpBuilder &, Value /*y*/,
                                    Value /*start*/, int64_t /*size*/)>;

  /// Steps of `step` over [lo, lo + count) (an scf.for), then one step of
  /// the remainder; each gets its start and static size.
  Value forTiles(ImplicitLocOpBuilder &lb, Value y, Value lo, int64_t count,
                 int64_t step, StepFn body) {
    int64_t main = count / step * step;
    if (main) {
      auto f = scf::ForOp::create(
          lb, lo, add(lb, lo, main), idx(lb, step), ValueRange{y},
          [&](OpBuilder &ob, Location l, Value iv, ValueRange it) {
            ImplicitLocOpBuilder ib(l, ob);
            scf::YieldOp::create(ib, body(ib, it[0], iv, step));
          });
      y = f.getResult(0);
    }
    if (count > main)
      y = body(lb, y, add(lb, lo, main), count - main);
    return y;
  }
  /// Output channels [n0, n0 + count): GEMV N tiles (the M tile inside);
  /// GEMM M tiles (X's tile stays in L1), the N tiles inside.
  Value span(ImplicitLocOpBuilder &lb, Value y, Value n0, int64_t count,
             bool gemm) {
    if (!gemm)
      return nTiles(
          lb, y, n0, count,
          [&](ImplicitLocOpBuilder &nb, Value yy, Value t0, int64_t tn) {
            return mTiles(
                nb, yy, t0, tn,
                [&](ImplicitLocOpBuilder &tb, Value y3, Value m0, int64_t tm) {
                  return tile(tb, y3, m0, t0, tm, tn);
                });
          });
    return mTiles(
        lb, y, nullptr, 0,
        [&](ImplicitLocOpBuilder &mb, Value yy, Value m0, int64_t tm) {
          return nTiles(
              mb, yy, n0, count,
              [&](ImplicitLocOpBuilder &tb, Value y3, Value t0, int64_t tn) {
                return tile(tb, y3, m0, t0, tm, tn);
              });
        });
  }

  /// y[m, n] = v, for output channel n (the columns of a forall unit's
  /// slice start at outBase).
  Value store(ImplicitLocOpBuilder &tb, Value y, Value v, Value m, Value n) {
    if (outBase)
      n = arith::SubIOp::create(tb, n, outBase);
    return tensor::InsertOp::create(tb, v, y, ValueRange{m, n});
  }

  Value nTiles(ImplicitLocOpBuilder &lb, Value y, Value n0, int64_t n,
               StepFn body) {
    return forTiles(lb, y, n0, n, nr, body);
  }
  Value mTiles(ImplicitLocOpBuilder &lb, Value y, Value, int64_t, StepFn body) {
    return forTiles(lb, y, idx(lb, 0), p.m, mr, body);
  }

  ImplicitLocOpBuilder &b;
  const KernelProblem &p;
  int64_t mr, nr;
  Value outBase; // set while a forall unit's body is emitted
};

/// Output channels per tile. GEMV: one, so that the weights are a single
/// sequential stream (hardware prefetchers keep it near DRAM bandwidth;
/// four interleaved row streams reached half of it), unless an f32 row of X
/// no longer fits half of a 32 KiB L1 (then 4 channels share each load and
/// shuffle of X; measured on Zen 4, docs/Performance.md).
inline int64_t tileRows(const KernelProblem &p) {
  if (p.m != 1)
    return 2;
  return p.hasInt8Activations() || p.k * 4 <= 16 * 1024 ? 1 : 4;
}

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_CONVERSION_LOWBITTOCPU_TILEDKERNEL_H
