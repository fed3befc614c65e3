//===- ActivationScale.cpp - per-channel activation scaling ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "ActivationScale.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::lowbit;

namespace {
/// A constant of `type` (f32) holding `values`: a dense_resource blob when
/// large, like the weights it replaces.
Value makeF32ConstantImpl(OpBuilder &b, Location loc, RankedTensorType type,
                          ArrayRef<float> values, StringRef name) {
  ElementsAttr attr;
  if (values.size() * sizeof(float) > 1024)
    attr = DenseResourceElementsAttr::get(
        type, name, HeapAsmResourceBlob::allocateAndCopyInferAlign(values));
  else
    attr = DenseElementsAttr::get(type, values);
  return arith::ConstantOp::create(b, loc, type, cast<TypedAttr>(attr));
}

/// The constant per-channel factor of `producer`'s result, when the
/// producer is an elementwise linalg.generic whose yielded value is a
/// product with a rank-1 constant input indexed by the last dimension
/// (the weight of a normalisation): returns that input's operand.
OpOperand *foldableScale(Operation *producer, int64_t k) {
  auto g = dyn_cast_or_null<linalg::GenericOp>(producer);
  if (!g || g.getNumResults() != 1 ||
      g.getNumParallelLoops() != g.getNumLoops() ||
      !g.getIndexingMapsArray().back().isIdentity())
    return nullptr;
  auto yield = cast<linalg::YieldOp>(g.getBody()->getTerminator());
  auto mul = yield.getOperand(0).getDefiningOp<arith::MulFOp>();
  if (!mul)
    return nullptr;
  unsigned n = g.getNumLoops();
  for (Value v : {mul.getLhs(), mul.getRhs()}) {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != g.getBody() ||
        arg.getArgNumber() >= g.getNumDpsInputs())
      continue;
    OpOperand *in = g.getDpsInputOperand(arg.getArgNumber());
    AffineMap map = g.getMatchingIndexingMap(in);
    auto t = dyn_cast<RankedTensorType>(in->get().getType());
    DenseElementsAttr values;
    if (!t || t.getRank() != 1 || t.getDimSize(0) != k ||
        !t.getElementType().isF32() || map.getNumResults() != 1 ||
        map.getResult(0) != getAffineDimExpr(n - 1, g.getContext()) ||
        !matchPattern(in->get(), m_Constant(&values)))
      continue;
    return in;
  }
  return nullptr;
}

} // namespace

Value mlir::lowbit::makeF32Constant(OpBuilder &b, Location loc,
                                    RankedTensorType type,
                                    ArrayRef<float> values, StringRef name) {
  return makeF32ConstantImpl(b, loc, type, values, name);
}

void mlir::lowbit::divideActivation(Value x, ArrayRef<Operation *> sites,
                                    ArrayRef<float> scale, StringRef name) {
  auto xt = cast<RankedTensorType>(x.getType());
  const int64_t k = xt.getShape().back();
  bool onlySites = llvm::all_of(
      x.getUsers(), [&](Operation *u) { return llvm::is_contained(sites, u); });
  if (OpOperand *gamma =
          onlySites ? foldableScale(x.getDefiningOp(), k) : nullptr) {
    DenseElementsAttr g;
    (void)matchPattern(gamma->get(), m_Constant(&g));
    std::vector<float> folded;
    int64_t j = 0;
    for (float v : g.getValues<float>())
      folded.push_back(v / scale[size_t(j++)]);
    OpBuilder b(gamma->getOwner());
    gamma->set(makeF32Constant(b, gamma->get().getLoc(),
                               cast<RankedTensorType>(gamma->get().getType()),
                               folded, (name + "_gamma").str()));
    return;
  }
  // Right after X's definition: it dominates every site, whatever blocks
  // they are in.
  OpBuilder b(x.getContext());
  b.setInsertionPointAfterValue(x);
  Location loc = sites.front()->getLoc();
  auto st = RankedTensorType::get({k}, b.getF32Type());
  Value sv = makeF32Constant(b, loc, st, scale, (name + "_s").str());
  int64_t rank = xt.getRank();
  SmallVector<AffineMap> maps{
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1)),
      b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value init = tensor::EmptyOp::create(b, loc, xt.getShape(), b.getF32Type());
  auto div = linalg::GenericOp::create(
      b, loc, TypeRange{xt}, ValueRange{x, sv}, ValueRange{init}, maps, iters,
      [](OpBuilder &nb, Location l, ValueRange args) {
        Value q = arith::DivFOp::create(nb, l, args[0], args[1]);
        linalg::YieldOp::create(nb, l, q);
      });
  for (Operation *s : sites)
    s->setOperand(0, div.getResult(0));
}
