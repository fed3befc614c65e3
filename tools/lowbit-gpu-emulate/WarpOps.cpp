//===- WarpOps.cpp - semantics of warp-collective ops ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The ops that read other lanes: gpu.shuffle (xor), nvgpu.mma.sync and its
// inline-PTX forms (m16n8k16 bf16, m16n8k32 e4m3) with the PTX ISA's
// fragment layouts, wgmma.mma_async on sm_90a reading shared memory
// through its descriptors, and the inline PTX the kernels emit around them.
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::lowbit::emulate;

bool Emulator::execWarpOp(Operation *op, ArrayRef<bool> active) {
  auto each = [&](auto f) {
    elementwise(op, active, f);
    return true;
  };
  // Warp-collective ops.
  if (auto sh = dyn_cast<gpu::ShuffleOp>(op)) {
    if (sh.getMode() != gpu::ShuffleMode::XOR)
      fatal("unsupported shuffle mode");
    std::vector<Val> out(nThreads);
    for (unsigned t = 0; t < nThreads; ++t) {
      if (!active[t])
        continue;
      unsigned off = unsigned(at(t, sh.getOffset()).e[0]);
      unsigned src = (t & ~31u) | ((t & 31u) ^ off);
      if (!active[src])
        fatal("gpu.shuffle reads an inactive lane");
      out[t] = at(src, sh.getValue());
    }
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t]) {
        env[t][sh.getShuffleResult()] = out[t];
        env[t][sh.getValid()] = Val{{1}};
      }
    return true;
  }
  if (isa<nvgpu::MmaSyncOp>(op)) {
    mma(op, active, "nvgpu");
    return true;
  }
  if (auto asmOp = dyn_cast<LLVM::InlineAsmOp>(op)) {
    StringRef text = asmOp.getAsmString();
    if (text.starts_with("cvt.rni.f32.f32") ||
        text.starts_with("cvt.rzi.f32.f32")) {
      auto mode = text.starts_with("cvt.rni") ? APFloat::rmNearestTiesToEven
                                              : APFloat::rmTowardZero;
      Type f32 = Float32Type::get(op->getContext());
      return each([&](ArrayRef<uint64_t> in) {
        APFloat a = toFloat(f32, in[0]);
        a.roundToIntegral(mode);
        return fromFloat(a);
      });
    }
    if (text.starts_with("fence.proxy.async") ||
        text.starts_with("wgmma.fence") ||
        text.starts_with("wgmma.commit_group") ||
        text.starts_with("wgmma.wait_group"))
      return true; // lock step: every write is visible, every wgmma complete
    if (text.contains("wgmma.mma_async"))
      wgmma(op, active, text);
    else
      mma(op, active, text);
    return true;
  }
  if (auto ev = dyn_cast<LLVM::ExtractValueOp>(op)) {
    for (unsigned t = 0; t < nThreads; ++t)
      if (active[t])
        env[t][ev.getResult()] =
            Val{{at(t, ev.getContainer()).e[ev.getPosition()[0]]}};
    return true;
  }
  return false;
}

/// mma.sync with the PTX ISA's fragment layouts. Per lane l of a warp, g =
/// l / 4 and t = l % 4.
/// - m16n8k16 (f16 / bf16 operands, f32 accumulators): A registers a0..a3
///   hold (row g, k 2t..2t+1), (g + 8, 2t..), (g, 2t + 8..), (g + 8, 2t +
///   8..); B b0, b1 hold (k 2t..2t+1, col g), (k 2t + 8.., col g).
/// - m16n8k32 (s8 or e4m3): A (g, 4t..4t+3), (g + 8, 4t..), (g, 16 + 4t..),
///   (g + 8, 16 + 4t..); B (4t..4t+3, g), (16 + 4t.., g).
/// - C/D: c0, c1 at (g, 2t), (g, 2t + 1); c2, c3 at (g + 8, 2t..).
void Emulator::mma(Operation *op, ArrayRef<bool> active, StringRef kind) {
  bool viaAsm = kind != "nvgpu";
  int64_t k;
  Type elem; // operand element type
  bool intAcc = false;
  MLIRContext *ctx = op->getContext();
  if (viaAsm) {
    if (kind.contains("m16n8k32") && kind.contains("e4m3")) {
      k = 32;
      elem = Float8E4M3FNType::get(ctx);
    } else if (kind.contains("m16n8k16") && kind.contains("bf16")) {
      k = 16;
      elem = BFloat16Type::get(ctx);
    } else {
      fatal("unsupported inline asm: " + kind);
    }
  } else {
    auto m = cast<nvgpu::MmaSyncOp>(op);
    k = cast<IntegerAttr>(m.getMmaShape()[2]).getInt();
    elem = cast<VectorType>(m.getMatrixA().getType()).getElementType();
    intAcc = isa<IntegerType>(elem);
  }
  unsigned ew = bitWidth(elem);
  Type f32 = Float32Type::get(ctx);
  for (unsigned w = 0; w < nThreads; w += 32) {
    bool any = false;
    for (unsigned l = 0; l < 32; ++l)
      any |= active[w + l];
    if (!any)
      continue;
    for (unsigned l = 0; l < 32; ++l)
      if (!active[w + l])
        fatal("mma.sync with inactive lanes");
    // Gather A [16][k], B [k][8], C [16][8] as element bits / f32 bits.
    std::vector<uint64_t> A(16 * k), B(k * 8), C(16 * 8);
    for (unsigned l = 0; l < 32; ++l) {
      unsigned g = l / 4, t = l % 4, th = w + l;
      // Operand element bits in fragment order.
      auto elems = [&](Value v, bool regsAsWords) {
        SmallVector<uint64_t> r;
        const Val &x = at(th, v);
        if (!regsAsWords)
          return SmallVector<uint64_t>(x.e.begin(), x.e.end());
        for (uint64_t word : x.e) // 32-bit registers
          for (unsigned i = 0; i < 32 / ew; ++i)
            r.push_back((word >> (i * ew)) & ((1ull << ew) - 1));
        return r;
      };
      SmallVector<uint64_t> a, b, c;
      if (viaAsm) {
        for (unsigned i = 0; i < 4; ++i)
          a.append(elems(op->getOperand(i), true));
        for (unsigned i = 4; i < 6; ++i)
          b.append(elems(op->getOperand(i), true));
        for (unsigned i = 6; i < 10; ++i)
          c.push_back(at(th, op->getOperand(i)).e[0]);
      } else {
        a = elems(op->getOperand(0), false);
        b = elems(op->getOperand(1), false);
        c = elems(op->getOperand(2), false);
      }
      unsigned per = unsigned(k) / 8; // elements per register: 2 or 4
      for (unsigned r = 0; r < 4; ++r) {
        unsigned row = g + (r % 2) * 8;
        unsigned col0 = per * t + (r / 2) * (k / 2);
        for (unsigned i = 0; i < per; ++i)
          A[row * k + col0 + i] = a[r * per + i];
      }
      for (unsigned r = 0; r < 2; ++r) {
        unsigned k0 = per * t + r * (k / 2);
        for (unsigned i = 0; i < per; ++i)
          B[(k0 + i) * 8 + g] = b[r * per + i];
      }
      for (unsigned r = 0; r < 4; ++r)
        C[(g + (r / 2) * 8) * 8 + 2 * t + r % 2] = c[r];
    }
    std::vector<uint64_t> D(16 * 8);
    for (unsigned i = 0; i < 16; ++i)
      for (unsigned j = 0; j < 8; ++j) {
        if (intAcc) {
          int64_t s = int64_t(int32_t(uint32_t(C[i * 8 + j])));
          for (unsigned kk = 0; kk < k; ++kk)
            s += int64_t(int8_t(A[i * k + kk])) * int8_t(B[kk * 8 + j]);
          s = std::clamp<int64_t>(s, INT32_MIN, INT32_MAX); // satfinite
          D[i * 8 + j] = uint32_t(int32_t(s));
        } else {
          double s = toFloat(f32, C[i * 8 + j]).convertToDouble();
          for (unsigned kk = 0; kk < k; ++kk) {
            APFloat x = toFloat(elem, A[i * k + kk]);
            APFloat y = toFloat(elem, B[kk * 8 + j]);
            bool lost;
            x.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                      &lost);
            y.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
                      &lost);
            s += x.convertToDouble() * y.convertToDouble();
          }
          D[i * 8 + j] = fromFloat(APFloat(float(s)));
        }
      }
    for (unsigned l = 0; l < 32; ++l) {
      unsigned g = l / 4, t = l % 4;
      Val d;
      for (unsigned r = 0; r < 4; ++r)
        d.e.push_back(D[(g + (r / 2) * 8) * 8 + 2 * t + r % 2]);
      env[w + l][op->getResult(0)] = d;
    }
  }
}

/// One asm block from wgmma.fence to wgmma.wait_group 0 holding one or
/// more wgmma.mma_async m64nNk32 .f32.e4m3.e4m3 (sm_90a) on the same
/// accumulators, for each warpgroup (128 threads): A (64 x 32) and B (N x
/// 32, K-major) from shared memory through their descriptors, no swizzle:
/// start address (bits 0-13) << 4; element (r, k) at start + (r / 8) * SBO
/// + (k / 16) * LBO + (r % 8) * 16 + k % 16, LBO (bits 16-29) << 4, SBO
/// (bits 32-45) << 4. Each wgmma in order: D = A B^T + (scale-d ? D : 0),
/// products summed exactly (f64) and rounded to f32 once; D starts
/// undefined, so the first must have scale-d = 0. Operands: per wgmma its
/// A and B descriptors and scale-d; the results are the N / 2
/// accumulators; fragment of thread 32w + 4g + t: element 4j + r is row
/// 16w + g + 8 (r / 2), column 8j + 2t + r % 2.
void Emulator::wgmma(Operation *op, ArrayRef<bool> active, StringRef text) {
  size_t shapeAt = text.find(".m64n");
  if (shapeAt == StringRef::npos || !text.contains(".f32.e4m3.e4m3"))
    fatal("unsupported wgmma: " + text);
  if (!text.contains("wgmma.fence.sync.aligned;") ||
      !text.contains("wgmma.commit_group.sync.aligned;") ||
      !text.contains("wgmma.wait_group.sync.aligned 0;"))
    fatal("wgmma.mma_async outside a fence ... wait_group 0 block: " + text);
  unsigned count = text.count("wgmma.mma_async");
  unsigned n = 0;
  if (text.drop_front(shapeAt + 5)
          .take_while([](char c) { return c != 'k'; })
          .getAsInteger(10, n) ||
      !text.contains("k32") || n % 8 ||
      text.count(".m64n" + std::to_string(n) + "k32.") != count ||
      op->getNumOperands() != 3 * count || op->getNumResults() != 1)
    fatal("unsupported wgmma shape: " + text);
  MLIRContext *ctx = op->getContext();
  Type e4m3 = Float8E4M3FNType::get(ctx);
  for (unsigned w0 = 0; w0 < nThreads; w0 += 128) {
    bool any = false, all = true;
    for (unsigned l = 0; l < 128 && w0 + l < nThreads; ++l) {
      any |= active[w0 + l];
      all &= active[w0 + l];
    }
    if (!any)
      continue;
    if (!all || w0 + 128 > nThreads)
      fatal("wgmma without its whole warpgroup");
    auto element = [&](uint64_t desc, unsigned r, unsigned k) {
      if (desc >> 62)
        fatal("wgmma descriptor with swizzling (not emulated)");
      uint64_t start = (desc & 0x3FFF) << 4;
      uint64_t lbo = ((desc >> 16) & 0x3FFF) << 4;
      uint64_t sbo = ((desc >> 32) & 0x3FFF) << 4;
      return sharedByte(start + (r / 8) * sbo + (k / 16) * lbo + (r % 8) * 16 +
                        k % 16);
    };
    auto value = [&](uint8_t bits) {
      APFloat v = toFloat(e4m3, bits);
      bool lost;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      return v.convertToDouble();
    };
    auto where = [](unsigned l, unsigned i, unsigned &row, unsigned &col) {
      unsigned w = l / 32, g = l % 32 / 4, t = l % 4, j = i / 4, r = i % 4;
      row = 16 * w + g + 8 * (r / 2);
      col = 8 * j + 2 * t + r % 2;
    };
    // D per thread of the warpgroup, as f32 values.
    std::vector<std::vector<float>> D(128, std::vector<float>(n / 2));
    for (unsigned q = 0; q < count; ++q) {
      uint64_t da = at(w0, op->getOperand(3 * q)).e[0];
      uint64_t db = at(w0, op->getOperand(3 * q + 1)).e[0];
      bool scaleD = at(w0, op->getOperand(3 * q + 2)).e[0] & 0xFFFFFFFF;
      if (q == 0 && scaleD)
        fatal("the block's first wgmma reads D (scale-d != 0): " + text);
      for (unsigned l = 1; l < 128; ++l)
        if (at(w0 + l, op->getOperand(3 * q)).e[0] != da ||
            at(w0 + l, op->getOperand(3 * q + 1)).e[0] != db ||
            bool(at(w0 + l, op->getOperand(3 * q + 2)).e[0] & 0xFFFFFFFF) !=
                scaleD)
          fatal("wgmma operands differ across the warpgroup");
      std::vector<double> A(64 * 32), B(n * 32);
      for (unsigned r = 0; r < 64; ++r)
        for (unsigned k = 0; k < 32; ++k)
          A[r * 32 + k] = value(element(da, r, k));
      for (unsigned c = 0; c < n; ++c)
        for (unsigned k = 0; k < 32; ++k)
          B[c * 32 + k] = value(element(db, c, k));
      for (unsigned l = 0; l < 128; ++l)
        for (unsigned i = 0; i < n / 2; ++i) {
          unsigned row, col;
          where(l, i, row, col);
          double sum = scaleD ? double(D[l][i]) : 0.0;
          for (unsigned k = 0; k < 32; ++k)
            sum += A[row * 32 + k] * B[col * 32 + k];
          D[l][i] = float(sum);
        }
    }
    for (unsigned l = 0; l < 128; ++l) {
      Val d;
      for (unsigned i = 0; i < n / 2; ++i)
        d.e.push_back(fromFloat(APFloat(D[l][i])));
      env[w0 + l][op->getResult(0)] = d;
    }
  }
}
