//===- Registry.cpp - the GPU kernel families -----------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The list of families, and the kernels' names, parameters and creation.
//
//===----------------------------------------------------------------------===//

#include "Registry.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

ArrayRef<const KernelFamily *> nvptx::getKernelFamilies() {
  // FP8 on wgmma before FP8 on mma.sync: sm_90a offers both.
  static const KernelFamily *const families[] = {
      &getW4MmaFamily(), &getFP8WgmmaFamily(), &getGemm8MmaFamily(),
      &getQuantizeRowsFamily()};
  return families;
}

const KernelFamily *nvptx::findKernelFamily(const KernelProblem &p) {
  for (const KernelFamily *family : getKernelFamilies())
    if (family->accepts(p))
      return family;
  return nullptr;
}

static std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

static StringRef weightPrefix(const KernelProblem &p) {
  switch (p.weights) {
  case WeightFormat::Int4:
    return "w4a16";
  case WeightFormat::MXFP4:
    return "mxfp4";
  case WeightFormat::NVFP4:
    return "nvfp4";
  case WeightFormat::Int8:
    return "w8a8";
  case WeightFormat::FP8E4M3:
    return "fp8";
  }
  llvm_unreachable("unknown weight format");
}

/// The kernel's name: formats, method, shape, then the group and X's type
/// (4-bit weights: `w4a16_gemv_1x8192x8192_g128_xbf16_bf16`) or the
/// scales' granularity (8-bit: `fp8_wgmma_gemm_128x256x512_xt_wrow_f16`),
/// and Y's type; X's type for a quantization
/// (`quantize_i8_rows_5x300_f16`).
static std::string kernelName(const KernelProblem &p,
                              const KernelConfig &config) {
  auto dim = [](int64_t v) { return std::to_string(v); };
  if (p.isQuantizeRows())
    return std::string("quantize_") +
           (p.activations == ActivationFormat::FP8E4M3 ? "fp8_" : "i8_") +
           config.method.str() + "_" + dim(p.m) + "x" + dim(p.k) + "_" +
           typeName(p.xElem);
  std::string name = weightPrefix(p).str() + "_" + config.method.str() + "_" +
                     dim(p.m) + "x" + dim(p.n) + "x" + dim(p.k);
  if (p.hasFourBitWeights())
    return name + "_g" + dim(p.g) + (p.xElem.isBF16() ? "_xbf16_" : "_") +
           typeName(p.yElem);
  return name + (p.xScalePerRow() ? "_xrow" : "_xt") +
         (p.wScalePerRow() ? "_wrow_" : "_wt_") + typeName(p.yElem);
}

FunctionType nvptx::getKernelType(MLIRContext *ctx, const KernelProblem &p) {
  Builder b(ctx);
  auto memref = [](RankedTensorType t) {
    return MemRefType::get(t.getShape(), t.getElementType());
  };
  Type i8 = b.getI8Type(), f32 = b.getF32Type();
  if (p.isQuantizeRows())
    return b.getFunctionType({MemRefType::get({p.m, p.k}, p.xElem),
                              MemRefType::get({p.m, p.k}, i8),
                              MemRefType::get(p.xScales.getShape(), f32)},
                             {});
  SmallVector<Type> in;
  if (p.layout == WeightLayout::MmaB) {
    in = {MemRefType::get({p.m, p.k}, p.xElem),
          MemRefType::get({(p.n + 31) / 32, p.k / 32, 128}, b.getI32Type()),
          // The qtensor's scales part; E8M0 / E4M3 scales travel as bytes.
          MemRefType::get(p.wScales.getShape(), p.weights == WeightFormat::Int4
                                                    ? Type(b.getF16Type())
                                                    : i8)};
    if (p.isNVFP4())
      in.push_back(MemRefType::get(p.tensorScale.getShape(), f32));
  } else {
    in = {MemRefType::get({p.m, p.k}, i8), memref(p.xScales),
          MemRefType::get({p.n, p.k}, i8), memref(p.wScales)};
  }
  in.push_back(MemRefType::get({p.m, p.n}, p.yElem));
  return b.getFunctionType(in, {});
}

gpu::GPUFuncOp
nvptx::getOrCreateKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                         const KernelFamily &family, const KernelProblem &p,
                         const KernelConfig &config, Location loc) {
  FunctionType type = getKernelType(builder.getContext(), p);
  // Problems of one name may differ in their scales parts' shapes ([M] or
  // [M, 1], ...): reuse a kernel only if its signature matches.
  std::string name = kernelName(p, config);
  for (int suffix = 1;; ++suffix) {
    auto existing = module.lookupSymbol<gpu::GPUFuncOp>(name);
    if (!existing)
      break;
    if (existing.getFunctionType() == type)
      return existing;
    name = (name + "_v" + Twine(suffix)).str();
  }
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  ImplicitLocOpBuilder b(loc, builder);
  auto fn = gpu::GPUFuncOp::create(b, name, type, config.workgroup);
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  fn.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({int32_t(config.block[0]),
                                                   int32_t(config.block[1]),
                                                   int32_t(config.block[2])}));
  // cp.async writes 16 bytes at a time into shared memory.
  for (unsigned i = 0; i < config.workgroup.size(); ++i)
    fn.setWorkgroupAttributionAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                                   b.getI64IntegerAttr(16));
  family.build(b, fn, p);
  return fn;
}

KernelOperands nvptx::getKernelOperands(StringRef kernelName) {
  if (kernelName.starts_with("w4a16_") || kernelName.starts_with("mxfp4_"))
    return KernelOperands::MmaBWeights;
  if (kernelName.starts_with("nvfp4_"))
    return KernelOperands::MmaBWeightsAndTensorScale;
  if (kernelName.starts_with("w8a8_") || kernelName.starts_with("fp8_"))
    return KernelOperands::EightBitParts;
  if (kernelName.starts_with("quantize_"))
    return KernelOperands::QuantizeRows;
  return KernelOperands::Unknown;
}
