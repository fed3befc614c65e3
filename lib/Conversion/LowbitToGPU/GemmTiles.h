//===- GemmTiles.h - the 8-bit GEMMs' shared tiles --------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What the int8/FP8 GEMM on mma.sync (Gemm8MmaKernel.cpp) and the FP8 GEMM
// on wgmma (FP8WgmmaKernel.cpp) share: 64 x 64 output tiles, K steps of
// 64 bytes copied to shared memory by cp.async, the thread's place, and
// the scaled epilogue.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOGPU_GEMMTILES_H
#define LOWBIT_CONVERSION_LOWBITTOGPU_GEMMTILES_H

#include "Problem.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>

namespace mlir::lowbit::nvptx {

/// The tile: 64 x 64 outputs per block, K in steps of 64.
constexpr int64_t kTileM = 64, kTileN = 64, kTileK = 64;

/// Shared rows padded to 80 bytes: the fragment loads of a warp (row g,
/// word t) hit 32 different banks (stride 20 words), and rows stay 16-byte
/// aligned for cp.async.
constexpr int64_t kSmemRow = 80;

/// Whether the 8-bit GEMMs compute `p` on some chip: int8 times int8 or
/// E4M3 times E4M3, f16 or f32 Y, K a multiple of 16 (16-byte rows for
/// cp.async) small enough for exact int32 sums (|x w| <= 2^14), M tiles
/// within grid.y.
bool isGemm8Problem(const KernelProblem &p);

/// The launch of a 64 x 64 tile per block of 128 threads.
void setGemm8Launch(const KernelProblem &p, std::array<int64_t, 3> &grid,
                    std::array<int64_t, 3> &block);

/// What both 8-bit GEMM kernels start with: their parameters (X codes, X
/// scales, W codes, W scales, Y), the shared tiles, the thread's place
/// (warp, g = lane / 4, t = lane % 4) and the block's first row and
/// channel.
struct GemmThread {
  Value xq, sx, wq, sw, y, smem, tid, m0, n0, warp, g, t;
  GemmThread(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn);
};

/// Copies the block's 64 x 64-byte tiles of X (rows m0..) and W (rows
/// n0..) at K offset `kt` into shared memory with cp.async, 16 bytes per
/// thread and copy (rows or K beyond the matrix are zero-filled from a
/// valid address), and waits for them. `dst(which, row, col)` gives the
/// shared memory indices of a 16-byte chunk.
void copyTilesAsync(
    ImplicitLocOpBuilder &lb, const KernelProblem &p, Value smem, Value xq,
    Value wq, Value tid, Value m0, Value n0, Value kt,
    function_ref<SmallVector<Value>(int64_t, Value, Value)> dst);

/// Y[row, col] = v * sx[row] * sw[col] (rounded to Y's type) if the
/// element is inside the matrix.
void storeScaled(ImplicitLocOpBuilder &b, const KernelProblem &p, Value v,
                 Value row, Value col, Value sx, Value sw, Value y);

} // namespace mlir::lowbit::nvptx

#endif // LOWBIT_CONVERSION_LOWBITTOGPU_GEMMTILES_H
