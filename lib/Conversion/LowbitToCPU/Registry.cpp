//===- Registry.cpp - the CPU kernel families -----------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The list of families and the kernel functions' names and signatures.
//
//===----------------------------------------------------------------------===//

#include "Registry.h"

#include "lowbit/Numerics/Numerics.h"

#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

ArrayRef<const KernelFamily *> cpu::getKernelFamilies() {
  static const KernelFamily *const families[] = {
      &getW4FloatFamily(), &getW4Int8Family(), &getInt8Family(),
      &getFP8Family(), &getF32Family()};
  return families;
}

const KernelFamily *cpu::findKernelFamily(const KernelProblem &p) {
  for (const KernelFamily *family : getKernelFamilies())
    if (family->accepts(p))
      return family;
  return nullptr;
}

static std::string typeName(Type t) {
  if (!t)
    return "f32";
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

static StringRef weightPrefix(const KernelProblem &p) {
  if (std::optional<GGUFKind> kind = p.ggufKind()) // q4_0, q4_k, ...
    return ::lowbit::numerics::ggufName(
        ::lowbit::numerics::GGUFKind(int(*kind)));
  switch (p.weights) {
  case WeightFormat::Int4:
    return "w4";
  case WeightFormat::MXFP4:
    return "mxfp4";
  case WeightFormat::NVFP4:
    return "nvfp4";
  case WeightFormat::Ternary:
    return "ternary";
  case WeightFormat::Int8:
    return p.hasPanels() ? "w8p" : "w8";
  case WeightFormat::FP8E4M3:
    return "f8";
  case WeightFormat::F32:
    return "f32";
  default:
    llvm_unreachable("GGUF formats: above");
  }
}

/// The kernel's name: weights, activations, shape, group, scale type and
/// the float path's expressed and result types when not f32 (for example
/// `__lowbit_w4_i8_1x17x64_g32_f32`, `__lowbit_f32_1x576x576`,
/// `__lowbit_q4_0_i8_1x64x64_xg32f16_g32_f16` with activation scales per
/// block).
static std::string kernelName(const KernelProblem &p) {
  std::string shape = std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                      std::to_string(p.k);
  std::string name = "__lowbit_" + weightPrefix(p).str() + "_";
  if (p.weights == WeightFormat::F32) // (`_wf16`: f16 weights)
    return name + shape +
           (p.wElem && !p.wElem.isF32() ? "_w" + typeName(p.wElem) : "");
  name += p.hasInt8Activations()  ? "i8_"
          : p.hasFP8Activations() ? "f8_"
                                  : typeName(p.xElem) + "_";
  name += shape;
  if (p.xPerBlock()) // activation scales per block
    name += "_xg" + std::to_string(p.xg) + typeName(p.xScales.getElementType());
  if (!p.isInt8() && !p.isFP8())
    name += "_g" + std::to_string(p.g);
  name += "_" + typeName(p.scaleType);
  if (p.expressed && !p.expressed.isF32())
    name += "_e" + typeName(p.expressed);
  if (p.yElem && !p.yElem.isF32())
    name += "_y" + typeName(p.yElem);
  return name;
}

/// The kernel's arguments: X's parts, the weights' parts, Y.
static FunctionType kernelType(Builder &b, const KernelProblem &p) {
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  SmallVector<Type> args;
  if (p.hasInt8Activations() || p.hasFP8Activations())
    args = {RankedTensorType::get({p.m, p.k}, i8), p.xScales};
  else
    args = {RankedTensorType::get({p.m, p.k}, p.xElem ? p.xElem : f32)};
  auto yt = RankedTensorType::get({p.m, p.n}, p.yElem ? p.yElem : f32);
  auto rows = [&](int64_t bytes) {
    return RankedTensorType::get({p.n, bytes}, i8);
  };
  auto groupScales = [&] {
    return RankedTensorType::get({p.n, p.k / p.g}, p.scalePartType());
  };
  switch (p.weights) {
  case WeightFormat::F32:
    args.push_back(RankedTensorType::get({p.n, p.k}, p.wElem ? p.wElem : f32));
    break;
  case WeightFormat::Int8:
    if (p.hasPanels())
      args.append(
          {RankedTensorType::get({(p.n + 15) / 16, (p.k + 3) / 4, 64}, i8),
           p.wScales});
    else
      args.append({rows(p.k), p.wScales});
    break;
  case WeightFormat::FP8E4M3:
  case WeightFormat::Ternary:
    args.append({rows(p.rowBytes()), p.wScales});
    break;
  case WeightFormat::NVFP4:
    args.append({rows(p.k / 2), groupScales(), p.tensorScaleType});
    break;
  case WeightFormat::Int4:
  case WeightFormat::MXFP4:
    args.append({rows(p.k / 2), groupScales()});
    break;
  default: // GGUF blocks: one part, the blocks carry their scales
    assert(p.isGGUF() && "unknown weight format");
    args.push_back(rows(p.rowBytes()));
    break;
  }
  args.push_back(yt);
  return FunctionType::get(b.getContext(), args, {yt});
}

func::FuncOp cpu::getOrCreateKernel(OpBuilder &builder, ModuleOp module,
                                    const KernelProblem &p, Location loc) {
  const KernelFamily *family = findKernelFamily(p);
  assert(family && "no kernel family for this problem");
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  ImplicitLocOpBuilder b(loc, builder);
  FunctionType type = kernelType(b, p);
  // Problems of one shape may differ in their scales' granularity (per row
  // or per tensor): reuse a kernel only if its signature matches.
  std::string name = kernelName(p);
  for (int suffix = 0;; ++suffix) {
    std::string candidate =
        suffix ? name + "_v" + std::to_string(suffix) : name;
    auto f = module.lookupSymbol<func::FuncOp>(candidate);
    if (!f) {
      name = candidate;
      break;
    }
    if (f.getFunctionType() == type)
      return f;
  }
  auto fn = func::FuncOp::create(b, name, type);
  fn.setPrivate();
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value y = family->build(b, p, entry->getArguments());
  func::ReturnOp::create(b, y);
  return fn;
}
