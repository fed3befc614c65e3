//===- QuantizeRowsKernel.cpp - activation quantization per row -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The quantize-rows family: dynamic quantization of f16/bf16/f32
// activations [M, K] to int8 or E4M3 (sm_89+) with an f32 scale per row,
// what the 8-bit GEMMs read; codes and scales bit-identical to the
// reference lowering (docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"
#include "Registry.h"

#include "lowbit/Conversion/Codecs.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

/// One block of 128 threads per row: amax = maxnum of |x| (threads, then a
/// butterfly over each warp, then the 4 warps through shared memory), the
/// scale amax / qmax (1 when that is 0), then every element encoded with
/// the reference lowering's own emitters (docs/Spec.md section 5:
/// clamp(round(x / s)) with NaN -> 0 for int8; the E4M3 encoder with the
/// scheme's rounding and saturation), so codes and scales are
/// bit-identical to it.
static void buildQuantizeRows(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                              const KernelProblem &p) {
  bool fp8 = p.activations == ActivationFormat::FP8E4M3;
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value x = entry.getArgument(0), codes = entry.getArgument(1),
        scales = entry.getArgument(2);
  Value wsum = fn.getWorkgroupAttributions()[0];
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getI8Type();
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(b, 32));
  Value lane = arith::RemUIOp::create(b, tid, idx(b, 32));
  int64_t steps = (p.k + 127) / 128;
  // Element k = 128 j + tid of this row, if it exists.
  auto forElems =
      [&](Value init,
          function_ref<Value(ImplicitLocOpBuilder &, Value, Value)> body) {
        return scf::ForOp::create(
                   b, idx(b, 0), idx(b, steps), idx(b, 1), ValueRange{init},
                   [&](OpBuilder &ob, Location l, Value j, ValueRange a) {
                     ImplicitLocOpBuilder lb(l, ob);
                     Value k = arith::AddIOp::create(
                         lb, arith::MulIOp::create(lb, j, idx(lb, 128)), tid);
                     Value in = arith::CmpIOp::create(
                         lb, arith::CmpIPredicate::ult, k, idx(lb, p.k));
                     auto ifIn = scf::IfOp::create(
                         lb, in,
                         [&](OpBuilder &tb0, Location tl) {
                           ImplicitLocOpBuilder tb(tl, tb0);
                           scf::YieldOp::create(tb, body(tb, k, a[0]));
                         },
                         [&](OpBuilder &eb0, Location el) {
                           scf::YieldOp::create(eb0, el, a[0]);
                         });
                     scf::YieldOp::create(lb, ifIn.getResult(0));
                   })
            .getResult(0);
      };
  auto load = [&](ImplicitLocOpBuilder &tb, Value k) {
    Value v = memref::LoadOp::create(tb, x, ValueRange{row, k});
    return v.getType().isF32() ? v : arith::ExtFOp::create(tb, f32, v);
  };
  Value zero = f32c(b, 0.f);
  // max(a, b) for a never NaN: b if b > a. NaN b is skipped, as maxnum
  // skips it (arith.maxnumf would be a libdevice call).
  auto maxKeep = [](ImplicitLocOpBuilder &mb, Value a, Value v) {
    return arith::SelectOp::create(
               mb, arith::CmpFOp::create(mb, arith::CmpFPredicate::OGT, v, a),
               v, a)
        .getResult();
  };
  Value amax = forElems(zero, [&](ImplicitLocOpBuilder &tb, Value k, Value a) {
    // |x| by clearing the sign bit (math.absf would be a libdevice call).
    Value bits = arith::AndIOp::create(
        tb, arith::BitcastOp::create(tb, i32, load(tb, k)),
        arith::ConstantOp::create(tb, tb.getI32IntegerAttr(0x7FFFFFFF)));
    return maxKeep(tb, a, arith::BitcastOp::create(tb, f32, bits));
  });
  for (int32_t off = 16; off >= 1; off /= 2)
    amax =
        maxKeep(b, amax,
                gpu::ShuffleOp::create(b, amax, off, 32, gpu::ShuffleMode::XOR)
                    .getShuffleResult());
  Value first =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, idx(b, 0));
  {
    auto ifFirst = scf::IfOp::create(b, first, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifFirst.thenBlock());
    memref::StoreOp::create(b, amax, wsum, ValueRange{warp});
  }
  gpu::BarrierOp::create(b);
  amax = memref::LoadOp::create(b, wsum, ValueRange{idx(b, 0)});
  for (int64_t w = 1; w < 4; ++w)
    amax = maxKeep(b, amax,
                   memref::LoadOp::create(b, wsum, ValueRange{idx(b, w)}));
  float qmax = fp8 ? 448.f : float(p.scheme.getQMax());
  Value sc = arith::DivFOp::create(b, amax, f32c(b, qmax));
  sc = arith::SelectOp::create(
      b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, sc, zero),
      f32c(b, 1.f), sc);
  {
    auto ifT0 = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, idx(b, 0)),
        /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifT0.thenBlock());
    SmallVector<Value> at;
    for (int64_t d = 0; d < p.xScales.getRank(); ++d)
      at.push_back(d == 0 ? row : idx(b, 0));
    memref::StoreOp::create(b, sc, scales, at);
  }
  const ::lowbit::MiniFloatFormat *fmt =
      fp8 ? &codecs::getFormat(p.scheme.getStorageType()) : nullptr;
  forElems(zero, [&](ImplicitLocOpBuilder &tb, Value k, Value a) {
    Value v = arith::DivFOp::create(tb, load(tb, k), sc);
    Value code;
    if (fp8) {
      code = codecs::encodeMiniFloat(tb, v, *fmt, p.scheme.getRounding(),
                                     p.scheme.getSaturate());
    } else {
      Value r = codecs::roundF32(tb, v, p.scheme.getRounding());
      Value nan = arith::CmpFOp::create(tb, arith::CmpFPredicate::UNO, r, r);
      r = arith::SelectOp::create(tb, nan, f32c(tb, 0.f), r);
      // Clamp (no NaN left: compare and select, as maximumf/minimumf
      // would be libdevice calls).
      Value lo = f32c(tb, float(p.scheme.getQMin()));
      Value hi = f32c(tb, float(p.scheme.getQMax()));
      r = arith::SelectOp::create(
          tb, arith::CmpFOp::create(tb, arith::CmpFPredicate::OLT, r, lo), lo,
          r);
      r = arith::SelectOp::create(
          tb, arith::CmpFOp::create(tb, arith::CmpFPredicate::OGT, r, hi), hi,
          r);
      code = arith::FPToSIOp::create(tb, i32, r);
    }
    memref::StoreOp::create(tb, arith::TruncIOp::create(tb, i8, code), codes,
                            ValueRange{row, k});
    return a;
  });
  gpu::ReturnOp::create(b);
}

static bool acceptsQuantizeRows(const KernelProblem &p) {
  // One block per row, on grid.x.
  return p.isQuantizeRows() && p.xScalePerRow() &&
         isa<Float16Type, BFloat16Type, Float32Type>(p.xElem) && p.m >= 1 &&
         p.m <= kMaxGridX &&
         (p.activations != ActivationFormat::FP8E4M3 || p.target.hasFP8());
}

static KernelConfig configureQuantizeRows(MLIRContext *ctx,
                                          const KernelProblem &p) {
  KernelConfig c;
  c.method = "rows";
  c.grid = {p.m, 1, 1};
  c.block = {128, 1, 1};
  // The 4 warps' maxima.
  c.workgroup = {MemRefType::get(
      {4}, Float32Type::get(ctx), nullptr,
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup))};
  return c;
}

const KernelFamily &nvptx::getQuantizeRowsFamily() {
  static const KernelFamily family{"quantize-rows", acceptsQuantizeRows,
                                   configureQuantizeRows, buildQuantizeRows};
  return family;
}
