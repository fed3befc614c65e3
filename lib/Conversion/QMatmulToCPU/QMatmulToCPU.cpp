//===- QMatmulToCPU.cpp - quantized matmuls to CPU vector code ------------===//
//
// First micro-kernel of docs/CodegenCPU.md: int4 weights stored per output
// channel (transpose_b, groups along K) times f32 activations. The kernel is
// a generated function (scf loops and vector ops) called in place of the
// qmatmul; the vector code is lowered by LLVM for the host's vector width.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERQMATMULCPU
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// Bytes of codes per step: 16 bytes = 32 int4 codes = two 16-lane f32
/// vectors (even and odd elements).
constexpr int64_t kBytes = 16;

struct W4Site {
  QMatmulOp op;
  ConstantOp weights;
  int64_t m, n, k, g;
};

std::optional<W4Site> matchW4(QMatmulOp op) {
  auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
  auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
  auto c = op.getRhs().getDefiningOp<ConstantOp>();
  if (!xt || !wt || !c || !op.getTransposeB() || xt.getRank() != 2 ||
      !xt.hasStaticShape() || !xt.getElementType().isF32() ||
      !op.getResult().getType().getElementType().isF32())
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  if (!storage || storage.getWidth() != 4 || storage.isUnsigned() ||
      !s.getSymmetric() || s.getTernary() || !s.getScaleType() ||
      !s.getScaleType().isF32() || s.getTensorScale() ||
      !s.getExpressedType().isF32())
    return std::nullopt;
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  if (blocks.size() != 2 || blocks[0] != 1 || blocks[1] % 32 != 0)
    return std::nullopt;
  return W4Site{
      op, c, xt.getDimSize(0), wt.getShape()[0], wt.getShape()[1], blocks[1]};
}

/// The kernel function for one (M, N, K, g), created once per module.
func::FuncOp getKernel(ModuleOp module, W4Site &s) {
  std::string name = "__lowbit_w4_gemv_" + std::to_string(s.m) + "x" +
                     std::to_string(s.n) + "x" + std::to_string(s.k) + "_g" +
                     std::to_string(s.g);
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Location loc = s.op.getLoc();
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  auto xt = RankedTensorType::get({s.m, s.k}, f32);
  auto ct = RankedTensorType::get({s.n, s.k / 2}, i8);
  auto st = RankedTensorType::get({s.n, s.k / s.g}, f32);
  auto yt = RankedTensorType::get({s.m, s.n}, f32);
  auto fn = func::FuncOp::create(b, loc, name,
                                 FunctionType::get(ctx, {xt, ct, st}, {yt}));
  fn.setPrivate();
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value x = entry->getArgument(0), codes = entry->getArgument(1),
        scales = entry->getArgument(2);
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  auto v16f = VectorType::get({16}, f32);
  auto v16i = VectorType::get({kBytes}, i8);
  auto v32f = VectorType::get({32}, f32);
  Value zeroV = arith::ConstantOp::create(b, loc, v16f,
                                          DenseElementsAttr::get(v16f, 0.0f));
  Value four = arith::ConstantOp::create(
      b, loc, v16i, DenseElementsAttr::get(v16i, b.getI8IntegerAttr(4)));
  Value padI8 = arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0));
  Value padF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value c0 = idx(0), c1 = idx(1);
  SmallVector<int64_t> even, odd;
  for (int64_t i = 0; i < 16; ++i) {
    even.push_back(2 * i);
    odd.push_back(2 * i + 1);
  }
  Value init = tensor::EmptyOp::create(b, loc, yt.getShape(), f32);
  auto mLoop = scf::ForOp::create(
      b, loc, c0, idx(s.m), c1, ValueRange{init},
      [&](OpBuilder &b1, Location l1, Value m, ValueRange outM) {
        auto nLoop = scf::ForOp::create(
            b1, l1, c0, idx(s.n), c1, outM,
            [&](OpBuilder &b2, Location l2, Value n, ValueRange outN) {
              auto gLoop = scf::ForOp::create(
                  b2, l2, c0, idx(s.k / s.g), c1, ValueRange{zeroV},
                  [&](OpBuilder &b3, Location l3, Value gi, ValueRange acc) {
                    Value sc = tensor::ExtractOp::create(b3, l3, scales,
                                                         ValueRange{n, gi});
                    Value scv = vector::BroadcastOp::create(b3, l3, v16f, sc);
                    Value gBase = arith::MulIOp::create(
                        b3, l3, gi,
                        arith::ConstantIndexOp::create(b3, l3, s.g));
                    auto cLoop = scf::ForOp::create(
                        b3, l3, c0,
                        arith::ConstantIndexOp::create(b3, l3, s.g / 32), c1,
                        ValueRange{zeroV},
                        [&](OpBuilder &b4, Location l4, Value ci,
                            ValueRange v) {
                          Value k0 = arith::AddIOp::create(
                              b4, l4, gBase,
                              arith::MulIOp::create(
                                  b4, l4, ci,
                                  arith::ConstantIndexOp::create(b4, l4, 32)));
                          Value kb = arith::DivUIOp::create(
                              b4, l4, k0,
                              arith::ConstantIndexOp::create(b4, l4, 2));
                          Value bytes = vector::TransferReadOp::create(
                              b4, l4, v16i, codes, ValueRange{n, kb}, padI8,
                              ArrayRef<bool>{true});
                          Value lo = arith::ShRSIOp::create(
                              b4, l4,
                              arith::ShLIOp::create(b4, l4, bytes, four), four);
                          Value hi =
                              arith::ShRSIOp::create(b4, l4, bytes, four);
                          Value lof = arith::SIToFPOp::create(b4, l4, v16f, lo);
                          Value hif = arith::SIToFPOp::create(b4, l4, v16f, hi);
                          Value xv = vector::TransferReadOp::create(
                              b4, l4, v32f, x, ValueRange{m, k0}, padF,
                              ArrayRef<bool>{true});
                          Value xe =
                              vector::ShuffleOp::create(b4, l4, xv, xv, even);
                          Value xo =
                              vector::ShuffleOp::create(b4, l4, xv, xv, odd);
                          Value v1 =
                              vector::FMAOp::create(b4, l4, lof, xe, v[0]);
                          Value v2 = vector::FMAOp::create(b4, l4, hif, xo, v1);
                          scf::YieldOp::create(b4, l4, v2);
                        });
                    Value a2 = vector::FMAOp::create(b3, l3, cLoop.getResult(0),
                                                     scv, acc[0]);
                    scf::YieldOp::create(b3, l3, a2);
                  });
              Value sum = vector::ReductionOp::create(
                  b2, l2, vector::CombiningKind::ADD, gLoop.getResult(0));
              Value o = tensor::InsertOp::create(b2, l2, sum, outN[0],
                                                 ValueRange{m, n});
              scf::YieldOp::create(b2, l2, o);
            });
        scf::YieldOp::create(b1, l1, nLoop.getResult(0));
      });
  func::ReturnOp::create(b, loc, mLoop.getResult(0));
  return fn;
}

struct LowbitLowerQMatmulCPUPass
    : mlir::lowbit::impl::LowbitLowerQMatmulCPUBase<LowbitLowerQMatmulCPUPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<W4Site> sites;
    module.walk([&](QMatmulOp op) {
      if (std::optional<W4Site> s = matchW4(op))
        sites.push_back(*s);
    });
    for (W4Site &s : sites) {
      func::FuncOp kernel = getKernel(module, s);
      OpBuilder b(s.op);
      Location loc = s.op.getLoc();
      QTensorType wt = s.weights.getResult().getType();
      Value codes = arith::ConstantOp::create(
          b, loc, wt.getCodesType(), cast<TypedAttr>(s.weights.getCodes()));
      Value scales = arith::ConstantOp::create(
          b, loc, wt.getScalesType(), cast<TypedAttr>(*s.weights.getScales()));
      auto call = func::CallOp::create(
          b, loc, kernel, ValueRange{s.op.getLhs(), codes, scales});
      s.op.getResult().replaceAllUsesWith(call.getResult(0));
      s.op.erase();
      if (s.weights->use_empty())
        s.weights.erase();
    }
  }
};

} // namespace
