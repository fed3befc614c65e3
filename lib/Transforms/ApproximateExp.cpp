//===- ApproximateExp.cpp - f32 exp in vectorizable f64 arithmetic --------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-approximate-exp (Passes.td): f32 math.exp, scalar or vector, as
// arithmetic in f64 rounded once to f32:
//
//   k = roundeven(x log2(e)),  r = x - k ln(2)  (|r| <= ln(2) / 2),
//   exp(x) = 2^k (1 + r + r^2/2! + ... + r^10/10!)
//
// with x clamped to [-110, 90] first (exp underflows to 0 below -103.98
// and overflows to +inf above 88.73 in f32; the clamp keeps 2^k a normal
// f64, built from its exponent bits) and NaN passed through. The f64
// result is within 1e-15 relative of exp(x), so the one rounding to f32
// is the correct rounding but where exp(x) lies within that of a midpoint
// between two f32 values: what glibc's expf (also evaluated in double)
// returns, without a call per element.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITAPPROXIMATEEXP
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

/// math.exp on f32 (or a vector of f32) as f64 arithmetic.
struct ExpInF64 : OpRewritePattern<math::ExpOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(math::ExpOp op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    if (!getElementTypeOrSelf(type).isF32())
      return failure();
    Location loc = op.getLoc();
    auto vt = dyn_cast<VectorType>(type);
    auto like = [&](Type elem) -> Type {
      return vt ? Type(vt.clone(elem)) : elem;
    };
    Type f64 = like(rewriter.getF64Type()), i64 = like(rewriter.getI64Type());
    auto cst = [&](Type t, Attribute a) -> Value {
      if (vt)
        a = DenseElementsAttr::get(cast<ShapedType>(t), a);
      return arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(a));
    };
    auto f = [&](double v) { return cst(f64, rewriter.getF64FloatAttr(v)); };
    Value x = op.getOperand();
    Value xd = arith::ExtFOp::create(rewriter, loc, f64, x);
    xd = arith::MaxNumFOp::create(rewriter, loc, xd, f(-110.0));
    xd = arith::MinNumFOp::create(rewriter, loc, xd, f(90.0));
    Value k = math::RoundEvenOp::create(
        rewriter, loc, arith::MulFOp::create(rewriter, loc, xd, f(M_LOG2E)));
    // r = x - k ln 2, ln 2 in two parts (k ln2_hi is exact).
    Value r =
        math::FmaOp::create(rewriter, loc, k, f(-0x1.62e42fefa3800p-1), xd);
    r = math::FmaOp::create(rewriter, loc, k, f(-0x1.ef35793c76730p-45), r);
    // 1 + r + ... + r^10 / 10!, Horner's scheme.
    Value p = f(1.0 / 3628800.0);
    for (int n = 9; n >= 0; --n) {
      double c = 1.0;
      for (int i = 2; i <= n; ++i)
        c /= i;
      p = math::FmaOp::create(rewriter, loc, p, r, f(c));
    }
    // 2^k from its exponent bits (k + 1023) << 52.
    Value ki = arith::FPToSIOp::create(rewriter, loc, i64, k);
    Value bits = arith::ShLIOp::create(
        rewriter, loc,
        arith::AddIOp::create(rewriter, loc, ki,
                              cst(i64, rewriter.getI64IntegerAttr(1023))),
        cst(i64, rewriter.getI64IntegerAttr(52)));
    Value scale = arith::BitcastOp::create(rewriter, loc, f64, bits);
    Value y = arith::TruncFOp::create(
        rewriter, loc, type, arith::MulFOp::create(rewriter, loc, p, scale));
    // NaN in, NaN out.
    Value nan =
        arith::CmpFOp::create(rewriter, loc, arith::CmpFPredicate::UNO, x, x);
    rewriter.replaceOpWithNewOp<arith::SelectOp>(op, nan, x, y);
    return success();
  }
};

struct LowbitApproximateExpPass
    : mlir::lowbit::impl::LowbitApproximateExpBase<LowbitApproximateExpPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpInF64>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
