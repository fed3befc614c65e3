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
/// Dynamic quantization of f32 [M, K] to symmetric int8 with an f32 scale
/// per row or per tensor (the integer kernels' activations), 16 lanes at a
/// time with the reference lowering's operations (docs/Spec.md section 5),
/// so codes and scales are bit-identical to it: amax = maxnum of |x| from
/// 0, s = amax / 127 (1 when that is 0), q = clamp(round(x / s), qmin,
/// 127), NaN -> 0. The reference's linalg code took 1 ms of a 16 ms W8A8
/// GEMM at M = 128, K = 4096.
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
    if (!op.isDynamic() || !in || in.getRank() != 2 || !in.hasStaticShape() ||
        !in.getElementType().isF32() || !storage || storage.getWidth() != 8 ||
        storage.isUnsigned() || !s.getSymmetric() || s.getTernary() ||
        !s.getScaleType() || !s.getScaleType().isF32() || s.getTensorScale() ||
        !s.getExpressedType().isF32() || adaptor.getInput().size() != 1)
      return rewriter.notifyMatchFailure(op, "not int8 activations");
    int64_t m = in.getShape()[0], k = in.getShape()[1];
    SmallVector<int64_t> blocks = t.getBlockSizes();
    if (blocks.size() != 2 || blocks[1] != k ||
        (blocks[0] != 1 && blocks[0] != m))
      return rewriter.notifyMatchFailure(op, "not per row or per tensor");
    bool perRow = blocks[0] == 1;
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
    Value scales = tensor::EmptyOp::create(b, scalesType.getShape(), f32);
    int64_t full = k / 16 * 16;
    // body(builder, k0, inBounds, acc) over 16-lane chunks of a row.
    auto chunks =
        [&](ImplicitLocOpBuilder &lb, Value init,
            function_ref<Value(ImplicitLocOpBuilder &, Value, bool, Value)>
                body) {
          Value acc = init;
          if (full)
            acc =
                scf::ForOp::create(
                    lb, idx(lb, 0), idx(lb, full), idx(lb, 16), ValueRange{acc},
                    [&](OpBuilder &ob, Location l, Value k0, ValueRange a) {
                      ImplicitLocOpBuilder cb(l, ob);
                      scf::YieldOp::create(cb, body(cb, k0, true, a[0]));
                    })
                    .getResult(0);
          if (k > full)
            acc = body(lb, idx(lb, full), false, acc);
          return acc;
        };
    auto load = [&](ImplicitLocOpBuilder &cb, Value row, Value k0, bool inb) {
      return vector::TransferReadOp::create(cb, v16f32, x, ValueRange{row, k0},
                                            zeroF, ArrayRef<bool>{inb})
          .getResult();
    };
    // amax of row `row` (lanes from 0, maxnum as the reference).
    auto rowAmax = [&](ImplicitLocOpBuilder &rb, Value row) {
      Value acc = chunks(
          rb, zeroV,
          [&](ImplicitLocOpBuilder &cb, Value k0, bool inb, Value a) -> Value {
            Value v = math::AbsFOp::create(cb, load(cb, row, k0, inb));
            return arith::MaxNumFOp::create(cb, a, v);
          });
      return vector::ReductionOp::create(rb, vector::CombiningKind::MAXNUMF,
                                         acc)
          .getResult();
    };
    auto scaleOf = [&](ImplicitLocOpBuilder &rb, Value amax) {
      Value sc = arith::DivFOp::create(rb, amax, codecs::constF32(rb, 127.f));
      Value isZero = arith::CmpFOp::create(rb, arith::CmpFPredicate::OEQ, sc,
                                           codecs::constF32(rb, 0.f));
      return arith::SelectOp::create(rb, isZero, codecs::constF32(rb, 1.f), sc)
          .getResult();
    };
    float qmin = float(s.getQMin());
    auto encodeRow = [&](ImplicitLocOpBuilder &rb, Value row, Value sc,
                         Value out) {
      Value scV = vector::BroadcastOp::create(rb, v16f32, sc);
      Value lo = splat(rb, v16f32, rb.getF32FloatAttr(qmin));
      Value hi = splat(rb, v16f32, rb.getF32FloatAttr(127.f));
      return chunks(
          rb, out,
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
    auto scaleAt = [&](ImplicitLocOpBuilder &rb, Value row) {
      SmallVector<Value> at;
      for (int64_t d = 0; d < scalesType.getRank(); ++d)
        at.push_back(perRow && d == 0 ? row : idx(rb, 0));
      return at;
    };
    Value tensorSc;
    if (!perRow) {
      Value amax =
          scf::ForOp::create(
              b, idx(b, 0), idx(b, m), idx(b, 1), ValueRange{zeroF},
              [&](OpBuilder &ob, Location l, Value row, ValueRange a) {
                ImplicitLocOpBuilder rb(l, ob);
                scf::YieldOp::create(
                    rb, arith::MaxNumFOp::create(rb, a[0], rowAmax(rb, row))
                            .getResult());
              })
              .getResult(0);
      tensorSc = scaleOf(b, amax);
      scales =
          tensor::InsertOp::create(b, tensorSc, scales, scaleAt(b, Value()));
    }
    auto rows = scf::ForOp::create(
        b, idx(b, 0), idx(b, m), idx(b, 1), ValueRange{codes, scales},
        [&](OpBuilder &ob, Location l, Value row, ValueRange a) {
          ImplicitLocOpBuilder rb(l, ob);
          Value sc = tensorSc;
          Value sOut = a[1];
          if (perRow) {
            sc = scaleOf(rb, rowAmax(rb, row));
            sOut = tensor::InsertOp::create(rb, sc, sOut, scaleAt(rb, row));
          }
          scf::YieldOp::create(rb,
                               ValueRange{encodeRow(rb, row, sc, a[0]), sOut});
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
