//===- ActivationQuantize.cpp - int8 activations as vector code -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Dynamic quantization of f32 activations to int8 for the integer kernels,
// with the reference lowering's operations so that codes and scales are
// bit-identical to it (docs/Spec.md section 5).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"
#include "Patterns.h"

#include "lowbit/Conversion/Codecs.h"
#include "lowbit/Dialect/LowbitDialect.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

namespace {
/// Dynamic quantization of f32 [M, K] to symmetric int8 with a scale per
/// row, per tensor or per block of g inputs of a row (llama.cpp's q8_0 /
/// q8_K activations: `per_group<[1 : g]>`, f16 or f32 scales), the integer
/// kernels' activations, 16 lanes at a time with the reference lowering's
/// operations (docs/Spec.md section 5), so codes and scales are
/// bit-identical to it: amax = maxnum of |x| from 0, s = amax / 127 (1 when
/// that is 0) rounded to the scale type (storeScale), q = clamp(round(x /
/// s), qmin, 127), NaN -> 0. The reference's linalg code took 1 ms of a 16
/// ms W8A8 GEMM at M = 128, K = 4096.
struct ActivationQuantizeLowering : OpConversionPattern<QuantizeOp> {
  ActivationQuantizeLowering(const TypeConverter &tc, MLIRContext *ctx)
      : OpConversionPattern(tc, ctx, /*benefit=*/10) {}

  LogicalResult
  matchAndRewrite(QuantizeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto in = dyn_cast<RankedTensorType>(op.getInput().getType());
    QTensorType t = op.getType();
    SchemeAttr s = t.getScheme();
    auto storage = dyn_cast<IntegerType>(s.getStorageType());
    Type scaleType = s.getScaleType();
    if (!op.isDynamic() || !in || in.getRank() != 2 || !in.hasStaticShape() ||
        !in.getElementType().isF32() || !storage || storage.getWidth() != 8 ||
        storage.isUnsigned() || !s.getSymmetric() || s.getTernary() ||
        !scaleType || !isa<Float32Type, Float16Type, BFloat16Type>(scaleType) ||
        s.getTensorScale() || !s.getExpressedType().isF32() ||
        adaptor.getInput().size() != 1)
      return rewriter.notifyMatchFailure(op, "not int8 activations");
    int64_t m = in.getShape()[0], k = in.getShape()[1];
    SmallVector<int64_t> blocks = t.getBlockSizes();
    if (blocks.size() != 2)
      return rewriter.notifyMatchFailure(op, "not a matrix");
    // Blocks of g inputs of a row: whole 16-lane steps, no tail.
    bool perBlock = blocks[0] == 1 && blocks[1] < k && blocks[1] % 16 == 0 &&
                    k % blocks[1] == 0;
    if (!perBlock && (blocks[1] != k || (blocks[0] != 1 && blocks[0] != m)))
      return rewriter.notifyMatchFailure(
          op, "not per row, per tensor or per block of 16n inputs");
    bool perRow = blocks[0] == 1;
    int64_t g = perBlock ? blocks[1] : k;
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Value x = adaptor.getInput()[0];
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    auto v16f32 = VectorType::get({16}, f32);
    auto v16i8 = VectorType::get({16}, i8);
    auto v16i32 = VectorType::get({16}, b.getI32Type());
    Value zeroF = codecs::constF32(b, 0.f);
    Value zeroV = splat(b, v16f32, b.getF32FloatAttr(0.f));
    RankedTensorType scalesType = t.getScalesType();
    Value codes = tensor::EmptyOp::create(b, ArrayRef<int64_t>{m, k}, i8);
    Value scales = tensor::EmptyOp::create(b, scalesType.getShape(), scaleType);
    // body(builder, k0, inBounds, acc) over the 16-lane chunks of the g
    // inputs of a row from `base` (null: 0).
    int64_t full = g / 16 * 16;
    auto chunks =
        [&](ImplicitLocOpBuilder &lb, Value base, Value init,
            function_ref<Value(ImplicitLocOpBuilder &, Value, bool, Value)>
                body) {
          Value acc = init;
          if (full)
            acc =
                scf::ForOp::create(
                    lb, idx(lb, 0), idx(lb, full), idx(lb, 16), ValueRange{acc},
                    [&](OpBuilder &ob, Location l, Value i, ValueRange a) {
                      ImplicitLocOpBuilder cb(l, ob);
                      scf::YieldOp::create(
                          cb,
                          body(cb,
                               base ? arith::AddIOp::create(cb, base, i) : i,
                               true, a[0]));
                    })
                    .getResult(0);
          if (g > full)
            acc = body(lb, base ? add(lb, base, full) : idx(lb, full), false,
                       acc);
          return acc;
        };
    auto load = [&](ImplicitLocOpBuilder &cb, Value row, Value k0, bool inb) {
      return vector::TransferReadOp::create(cb, v16f32, x, ValueRange{row, k0},
                                            zeroF, ArrayRef<bool>{inb})
          .getResult();
    };
    // amax of the block of row `row` from `base` (lanes from 0, maxnum as
    // the reference).
    auto blockAmax = [&](ImplicitLocOpBuilder &rb, Value row, Value base) {
      Value acc = chunks(
          rb, base, zeroV,
          [&](ImplicitLocOpBuilder &cb, Value k0, bool inb, Value a) -> Value {
            Value v = math::AbsFOp::create(cb, load(cb, row, k0, inb));
            return arith::MaxNumFOp::create(cb, a, v);
          });
      return vector::ReductionOp::create(rb, vector::CombiningKind::MAXNUMF,
                                         acc)
          .getResult();
    };
    // The scale as stored (the scale type) from amax.
    auto scaleOf = [&](ImplicitLocOpBuilder &rb, Value amax) {
      Value sc = arith::DivFOp::create(rb, amax, codecs::constF32(rb, 127.f));
      Value isZero = arith::CmpFOp::create(rb, arith::CmpFPredicate::OEQ, sc,
                                           codecs::constF32(rb, 0.f));
      sc = arith::SelectOp::create(rb, isZero, codecs::constF32(rb, 1.f), sc);
      return codecs::storeScale(rb, sc, scaleType);
    };
    float qmin = float(s.getQMin());
    auto encodeBlock = [&](ImplicitLocOpBuilder &rb, Value row, Value base,
                           Value stored, Value out) {
      Value scV =
          vector::BroadcastOp::create(rb, v16f32, codecs::toF32(rb, stored));
      Value lo = splat(rb, v16f32, rb.getF32FloatAttr(qmin));
      Value hi = splat(rb, v16f32, rb.getF32FloatAttr(127.f));
      return chunks(
          rb, base, out,
          [&](ImplicitLocOpBuilder &cb, Value k0, bool inb, Value o) -> Value {
            Value v = arith::DivFOp::create(cb, load(cb, row, k0, inb), scV);
            Value r = codecs::roundF32(cb, v, s.getRounding());
            Value nan =
                arith::CmpFOp::create(cb, arith::CmpFPredicate::UNO, r, r);
            r = arith::SelectOp::create(cb, nan, zeroV, r);
            r = arith::MaximumFOp::create(cb, r, lo);
            r = arith::MinimumFOp::create(cb, r, hi);
            Value q = arith::TruncIOp::create(
                cb, v16i8, arith::FPToSIOp::create(cb, v16i32, r));
            return vector::TransferWriteOp::create(
                       cb, q, o, ValueRange{row, k0}, ArrayRef<bool>{inb})
                .getResult();
          });
    };
    // Where the scale of (row, block) is: [row, block] per block, [row] per
    // row, all zeros per tensor.
    auto scaleAt = [&](ImplicitLocOpBuilder &rb, Value row, Value block) {
      SmallVector<Value> at;
      for (int64_t d = 0; d < scalesType.getRank(); ++d)
        at.push_back(perRow && d == 0     ? row
                     : perBlock && d == 1 ? block
                                          : idx(rb, 0));
      return at;
    };
    Value tensorSc;
    if (!perRow) {
      Value amax = scf::ForOp::create(
                       b, idx(b, 0), idx(b, m), idx(b, 1), ValueRange{zeroF},
                       [&](OpBuilder &ob, Location l, Value row, ValueRange a) {
                         ImplicitLocOpBuilder rb(l, ob);
                         scf::YieldOp::create(
                             rb, arith::MaxNumFOp::create(
                                     rb, a[0], blockAmax(rb, row, Value()))
                                     .getResult());
                       })
                       .getResult(0);
      tensorSc = scaleOf(b, amax);
      scales = tensor::InsertOp::create(b, tensorSc, scales,
                                        scaleAt(b, Value(), Value()));
    }
    // One block of a row: its scale (per row or block) and codes.
    auto block = [&](ImplicitLocOpBuilder &rb, Value row, Value blk,
                     ValueRange a) -> SmallVector<Value> {
      Value base =
          perBlock ? arith::MulIOp::create(rb, blk, idx(rb, g)) : Value();
      Value sc = tensorSc;
      Value sOut = a[1];
      if (perRow) {
        sc = scaleOf(rb, blockAmax(rb, row, base));
        sOut = tensor::InsertOp::create(rb, sc, sOut, scaleAt(rb, row, blk));
      }
      return {encodeBlock(rb, row, base, sc, a[0]), sOut};
    };
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, m), idx(b, 1), ValueRange{codes, scales},
        [&](OpBuilder &ob, Location l, Value row, ValueRange a) {
          ImplicitLocOpBuilder rb(l, ob);
          if (!perBlock) {
            scf::YieldOp::create(rb, block(rb, row, Value(), a));
            return;
          }
          auto blks = scf::ForOp::create(
              rb, idx(rb, 0), idx(rb, k / g), idx(rb, 1), a,
              [&](OpBuilder &bob, Location bl, Value blk, ValueRange ba) {
                ImplicitLocOpBuilder bb(bl, bob);
                scf::YieldOp::create(bb, block(bb, row, blk, ba));
              });
          scf::YieldOp::create(rb, blks.getResults());
        });
    rewriter.replaceOpWithMultiple(
        op, {SmallVector<Value>{rows.getResult(0), rows.getResult(1)}});
    return success();
  }
};
} // namespace

void cpu::populateActivationQuantizePatterns(const TypeConverter &converter,
                                             RewritePatternSet &patterns) {
  patterns.add<ActivationQuantizeLowering>(converter, patterns.getContext());
}
