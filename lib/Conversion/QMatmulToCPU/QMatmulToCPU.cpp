//===- QMatmulToCPU.cpp - quantized matmuls to CPU vector code ------------===//
//
// The CPU lowering of docs/CodegenCPU.md. It is the reference lowering's 1:N
// conversion (every qtensor becomes its parts, every lowbit op is lowered)
// with kernel patterns of higher benefit: a qmatmul that a kernel covers
// becomes a call to a generated function (scf loops and vector ops, lowered
// by LLVM for the target's vector width); every other op keeps its
// reference lowering. Weights may be constants or function arguments: the
// kernel reads the parts the conversion hands it.
//
// Kernel covered so far: int4 weights stored per output channel
// (transpose_b, groups of a multiple of 32 along K, f32/f16/bf16 scales)
// times f32 activations, f32 result.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERTOCPU
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// One W4 x f32 problem: Y[m, n] = sum_k X[m, k] * s[n, k / g] * q[n, k].
struct W4Problem {
  int64_t m, n, k, g;
  Type scaleType; // f32, f16 or bf16
};

std::optional<W4Problem> matchW4(QMatmulOp op) {
  auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
  auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
  if (!xt || !wt || !op.getTransposeB() || xt.getRank() != 2 ||
      !xt.hasStaticShape() || !xt.getElementType().isF32() ||
      !op.getResult().getType().getElementType().isF32() ||
      wt.getShape().size() != 2 || ShapedType::isDynamicShape(wt.getShape()))
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  Type st = s.getScaleType();
  if (!storage || storage.getWidth() != 4 || storage.isUnsigned() ||
      !s.getSymmetric() || s.getTernary() || !st ||
      !isa<Float32Type, Float16Type, BFloat16Type>(st) || s.getTensorScale() ||
      !s.getExpressedType().isF32())
    return std::nullopt;
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  if (blocks.size() != 2 || blocks[0] != 1 || blocks[1] % 32 != 0)
    return std::nullopt;
  return W4Problem{xt.getDimSize(0), wt.getShape()[0], wt.getShape()[1],
                   blocks[1], st};
}

/// Emits the body of a W4 kernel. Outputs are computed in tiles of MR rows
/// of X by NR rows of W (output channels), N tiles outermost so that each
/// weight byte is read from memory once; per 32 inputs, NR x 16 bytes of
/// codes are split into low/high nibbles by shifts (sign-extending),
/// converted to f32 and multiplied with X's even/odd elements (so no byte
/// interleave is needed). With MR = 1 (GEMV) each group's sum of q * x is
/// scaled once; with MR > 1 the decoded weights are scaled once and shared
/// by the MR rows.
class W4KernelEmitter {
public:
  W4KernelEmitter(ImplicitLocOpBuilder &b, const W4Problem &p, Value x,
                  Value codes, Value scales)
      : b(b), p(p), x(x), codes(codes), scales(scales) {
    // Each output element is written exactly once (no initial value read).
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    v16f = VectorType::get({16}, f32);
    v16i = VectorType::get({16}, i8);
    v32f = VectorType::get({32}, f32);
    zero =
        arith::ConstantOp::create(b, v16f, DenseElementsAttr::get(v16f, 0.f));
    four = arith::ConstantOp::create(
        b, v16i, DenseElementsAttr::get(v16i, b.getI8IntegerAttr(4)));
    padI8 = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
    padF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.f));
    for (int64_t i = 0; i < 16; ++i) {
      even.push_back(2 * i);
      odd.push_back(2 * i + 1);
    }
    mr = p.m == 1 ? 1 : 4;
    nr = p.m == 1 ? 4 : 2;
  }

  /// Writes every element of `y` (the destination) and returns it.
  Value build(Value y) {
    int64_t nMain = p.n / nr * nr;
    if (nMain)
      y = loop(y, 0, nMain, nr,
               [&](ImplicitLocOpBuilder &lb, Value n0, Value acc) {
                 return mTiles(lb, acc, n0, nr);
               });
    if (p.n > nMain)
      y = mTiles(b, y, idx(b, nMain), p.n - nMain);
    return y;
  }

private:
  using TileFn =
      function_ref<Value(ImplicitLocOpBuilder &, Value /*iv*/, Value /*y*/)>;

  static Value idx(ImplicitLocOpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, v);
  }
  static Value add(ImplicitLocOpBuilder &b, Value v, int64_t c) {
    return c ? arith::AddIOp::create(b, v, idx(b, c)).getResult() : v;
  }

  /// scf.for iv in [lo, hi) step `step`, carrying the output tensor.
  Value loop(Value y, int64_t lo, int64_t hi, int64_t step, TileFn body) {
    auto f = scf::ForOp::create(
        b, idx(b, lo), idx(b, hi), idx(b, step), ValueRange{y},
        [&](OpBuilder &ob, Location l, Value iv, ValueRange it) {
          ImplicitLocOpBuilder lb(l, ob);
          scf::YieldOp::create(lb, body(lb, iv, it[0]));
        });
    return f.getResult(0);
  }

  /// All M tiles for the `n` output channels starting at n0.
  Value mTiles(ImplicitLocOpBuilder &lb, Value y, Value n0, int64_t n) {
    int64_t mMain = p.m / mr * mr;
    if (mMain) {
      auto f = scf::ForOp::create(
          lb, idx(lb, 0), idx(lb, mMain), idx(lb, mr), ValueRange{y},
          [&](OpBuilder &ob, Location l, Value m0, ValueRange it) {
            ImplicitLocOpBuilder ib(l, ob);
            scf::YieldOp::create(ib, tile(ib, it[0], m0, n0, mr, n));
          });
      y = f.getResult(0);
    }
    if (p.m > mMain)
      y = tile(lb, y, idx(lb, mMain), n0, p.m - mMain, n);
    return y;
  }

  /// Outputs [m0, m0 + tm) x [n0, n0 + tn).
  Value tile(ImplicitLocOpBuilder &tb, Value y, Value m0, Value n0, int64_t tm,
             int64_t tn) {
    bool scaleSums = tm == 1;
    int64_t na = tm * tn;
    SmallVector<Value> init(na, zero);
    auto groups = scf::ForOp::create(
        tb, idx(tb, 0), idx(tb, p.k / p.g), idx(tb, 1), init,
        [&](OpBuilder &ob, Location l, Value gi, ValueRange acc) {
          ImplicitLocOpBuilder gb(l, ob);
          SmallVector<Value> s;
          for (int64_t r = 0; r < tn; ++r) {
            Value sc = tensor::ExtractOp::create(
                gb, scales, ValueRange{add(gb, n0, r), gi});
            if (!sc.getType().isF32())
              sc = arith::ExtFOp::create(gb, gb.getF32Type(), sc);
            s.push_back(vector::BroadcastOp::create(gb, v16f, sc));
          }
          Value kg = arith::MulIOp::create(gb, gi, idx(gb, p.g));
          SmallVector<Value> chunkInit = scaleSums
                                             ? SmallVector<Value>(na, zero)
                                             : SmallVector<Value>(acc);
          auto chunks = scf::ForOp::create(
              gb, idx(gb, 0), idx(gb, p.g / 32), idx(gb, 1), chunkInit,
              [&](OpBuilder &cob, Location cl, Value ci, ValueRange a) {
                ImplicitLocOpBuilder cb(cl, cob);
                Value k0 = arith::AddIOp::create(
                    cb, kg, arith::MulIOp::create(cb, ci, idx(cb, 32)));
                Value kb = arith::DivUIOp::create(cb, k0, idx(cb, 2));
                SmallVector<Value> lo, hi;
                for (int64_t r = 0; r < tn; ++r) {
                  Value bytes = vector::TransferReadOp::create(
                      cb, v16i, codes, ValueRange{add(cb, n0, r), kb}, padI8,
                      ArrayRef<bool>{true});
                  Value l = arith::ShRSIOp::create(
                      cb, arith::ShLIOp::create(cb, bytes, four), four);
                  Value h = arith::ShRSIOp::create(cb, bytes, four);
                  Value lf = arith::SIToFPOp::create(cb, v16f, l);
                  Value hf = arith::SIToFPOp::create(cb, v16f, h);
                  if (!scaleSums) {
                    lf = arith::MulFOp::create(cb, lf, s[r]);
                    hf = arith::MulFOp::create(cb, hf, s[r]);
                  }
                  lo.push_back(lf);
                  hi.push_back(hf);
                }
                SmallVector<Value> out(a);
                for (int64_t i = 0; i < tm; ++i) {
                  Value xv = vector::TransferReadOp::create(
                      cb, v32f, x, ValueRange{add(cb, m0, i), k0}, padF,
                      ArrayRef<bool>{true});
                  Value xe = vector::ShuffleOp::create(cb, xv, xv, even);
                  Value xo = vector::ShuffleOp::create(cb, xv, xv, odd);
                  for (int64_t r = 0; r < tn; ++r) {
                    Value &o = out[i * tn + r];
                    o = vector::FMAOp::create(cb, lo[r], xe, o);
                    o = vector::FMAOp::create(cb, hi[r], xo, o);
                  }
                }
                scf::YieldOp::create(cb, out);
              });
          SmallVector<Value> next(chunks.getResults());
          if (scaleSums)
            for (int64_t r = 0; r < tn; ++r)
              next[r] = vector::FMAOp::create(gb, next[r], s[r], acc[r]);
          scf::YieldOp::create(gb, next);
        });
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t r = 0; r < tn; ++r) {
        Value sum = vector::ReductionOp::create(tb, vector::CombiningKind::ADD,
                                                groups.getResult(i * tn + r),
                                                arith::FastMathFlags::reassoc);
        y = tensor::InsertOp::create(
            tb, sum, y, ValueRange{add(tb, m0, i), add(tb, n0, r)});
      }
    return y;
  }

  ImplicitLocOpBuilder &b;
  const W4Problem &p;
  Value x, codes, scales;
  VectorType v16f, v16i, v32f;
  Value zero, four, padI8, padF;
  SmallVector<int64_t> even, odd;
  int64_t mr, nr;
};

/// The kernel function of one problem, created once per module.
func::FuncOp getOrCreateW4Kernel(OpBuilder &rewriter, ModuleOp module,
                                 const W4Problem &p, Location loc) {
  std::string st;
  llvm::raw_string_ostream os(st);
  p.scaleType.print(os);
  std::string name = "__lowbit_w4_f32_" + std::to_string(p.m) + "x" +
                     std::to_string(p.n) + "x" + std::to_string(p.k) + "_g" +
                     std::to_string(p.g) + "_" + st;
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToEnd(module.getBody());
  ImplicitLocOpBuilder b(loc, rewriter);
  Type f32 = b.getF32Type();
  auto xt = RankedTensorType::get({p.m, p.k}, f32);
  auto ct = RankedTensorType::get({p.n, p.k / 2}, b.getI8Type());
  auto sct = RankedTensorType::get({p.n, p.k / p.g}, p.scaleType);
  auto yt = RankedTensorType::get({p.m, p.n}, f32);
  // Destination-passing style: the caller's buffer is written in place.
  auto fn = func::FuncOp::create(
      b, name, FunctionType::get(b.getContext(), {xt, ct, sct, yt}, {yt}));
  fn.setPrivate();
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  W4KernelEmitter e(b, p, entry->getArgument(0), entry->getArgument(1),
                    entry->getArgument(2));
  func::ReturnOp::create(b, e.build(entry->getArgument(3)));
  return fn;
}

struct W4MatmulLowering : OpConversionPattern<QMatmulOp> {
  W4MatmulLowering(const TypeConverter &tc, MLIRContext *ctx)
      : OpConversionPattern(tc, ctx, /*benefit=*/10) {}
  LogicalResult
  matchAndRewrite(QMatmulOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::optional<W4Problem> p = matchW4(op);
    if (!p)
      return rewriter.notifyMatchFailure(op, "no CPU kernel for this qmatmul");
    ValueRange x = adaptor.getLhs(), w = adaptor.getRhs();
    if (x.size() != 1 || w.size() != 2)
      return failure();
    func::FuncOp fn = getOrCreateW4Kernel(
        rewriter, op->getParentOfType<ModuleOp>(), *p, op.getLoc());
    Value dest = tensor::EmptyOp::create(rewriter, op.getLoc(),
                                         ArrayRef<int64_t>{p->m, p->n},
                                         rewriter.getF32Type());
    auto call = func::CallOp::create(rewriter, op.getLoc(), fn,
                                     ValueRange{x[0], w[0], w[1], dest});
    rewriter.replaceOp(op, call.getResults());
    return success();
  }
};

struct LowbitLowerToCPUPass
    : mlir::lowbit::impl::LowbitLowerToCPUBase<LowbitLowerToCPUPass> {
  void runOnOperation() override {
    if (failed(lowerLowbitOps(getOperation(), populateLowbitCPUKernelPatterns)))
      signalPassFailure();
  }
};

} // namespace

void mlir::lowbit::populateLowbitCPUKernelPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<W4MatmulLowering>(converter, patterns.getContext());
}
