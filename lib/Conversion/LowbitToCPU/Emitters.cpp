//===- Emitters.cpp - vector building blocks of the CPU kernels -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Shared by every CPU kernel family (Emitters.h).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

func::FuncOp cpu::getIntrinsicDecl(ImplicitLocOpBuilder &b, StringRef intrinsic,
                                   FunctionType type) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  std::string name = "__lowbit_intrinsic_" + intrinsic.str();
  std::replace(name.begin(), name.end(), '.', '_');
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(module.getBody());
  auto fn = func::FuncOp::create(b, name, type);
  fn.setPrivate();
  fn->setAttr(kLLVMIntrinsicAttr, b.getStringAttr(intrinsic));
  return fn;
}

std::pair<Value, Value> cpu::splitHalves(ImplicitLocOpBuilder &b, Value v) {
  int64_t n = cast<VectorType>(v.getType()).getNumElements();
  SmallVector<int64_t> lo, hi;
  for (int64_t i = 0; i < n / 2; ++i) {
    lo.push_back(i);
    hi.push_back(n / 2 + i);
  }
  return {vector::ShuffleOp::create(b, v, v, lo),
          vector::ShuffleOp::create(b, v, v, hi)};
}

Value cpu::concatHalves(ImplicitLocOpBuilder &b, Value lo, Value hi) {
  int64_t n = cast<VectorType>(lo.getType()).getNumElements();
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < 2 * n; ++i)
    all.push_back(i);
  return vector::ShuffleOp::create(b, lo, hi, all);
}

Avx2Dot::Avx2Dot(ImplicitLocOpBuilder &b) {
  auto v32i8 = VectorType::get({32}, b.getI8Type());
  auto v16i16 = VectorType::get({16}, b.getI16Type());
  auto v8i32 = VectorType::get({8}, b.getI32Type());
  ones16 = splat(b, v16i16, b.getI16IntegerAttr(1));
  maddubs = getIntrinsicDecl(
      b, "llvm.x86.avx2.pmadd.ub.sw",
      FunctionType::get(b.getContext(), {v32i8, v32i8}, {v16i16}));
  maddwd = getIntrinsicDecl(
      b, "llvm.x86.avx2.pmadd.wd",
      FunctionType::get(b.getContext(), {v16i16, v16i16}, {v8i32}));
  psign = getIntrinsicDecl(
      b, "llvm.x86.avx2.psign.b",
      FunctionType::get(b.getContext(), {v32i8, v32i8}, {v32i8}));
}

Value Avx2Dot::dot(ImplicitLocOpBuilder &b, Value acc, Value u, Value x,
                   bool signedFirst) const {
  auto [u0, u1] = splitHalves(b, u);
  auto [x0, x1] = splitHalves(b, x);
  auto half = [&](Value uh, Value xh) {
    if (signedFirst) {
      xh = func::CallOp::create(b, psign, ValueRange{xh, uh}).getResult(0);
      uh = math::AbsIOp::create(b, uh);
    }
    Value t = func::CallOp::create(b, maddubs, ValueRange{uh, xh}).getResult(0);
    return func::CallOp::create(b, maddwd, ValueRange{t, ones16}).getResult(0);
  };
  return arith::AddIOp::create(b, acc,
                               concatHalves(b, half(u0, x0), half(u1, x1)));
}

Value cpu::extractScale(ImplicitLocOpBuilder &b, Value part, bool perRow,
                        Value row) {
  auto t = cast<RankedTensorType>(part.getType());
  SmallVector<Value> at;
  for (int64_t d = 0; d < t.getRank(); ++d)
    at.push_back(perRow && d == 0 ? row : idx(b, 0));
  Value v = tensor::ExtractOp::create(b, part, at);
  return v.getType().isF32() ? v : arith::ExtFOp::create(b, b.getF32Type(), v);
}
