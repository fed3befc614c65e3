//===- Weights.cpp - the weights blob -------------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Externalizing the weights: the large constant globals of the
// LLVM-dialect module move into a separate blob (a 64-byte header, then
// each constant 64-byte aligned; docs/Compile.md), and their uses load
// the blob's address from a global that <prefix>_set_weights fills.
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include "lowbit/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/DenseMap.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/xxhash.h"

#include <cstring>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::compiler;

/// FNV-1a over `n` bytes, continuing from `h`.
static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const auto *p = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/// The bytes of a constant global's value when it can move to the blob.
static std::optional<ArrayRef<char>> constantBytes(LLVM::GlobalOp g) {
  Attribute value = g.getValueOrNull();
  auto elements = dyn_cast_or_null<ElementsAttr>(value);
  if (!elements)
    return std::nullopt;
  auto type = cast<ShapedType>(elements.getType());
  Type et = type.getElementType();
  if (!et.isIntOrFloat() || et.getIntOrFloatBitWidth() % 8)
    return std::nullopt;
  uint64_t bytes =
      uint64_t(type.getNumElements()) * (et.getIntOrFloatBitWidth() / 8);
  ArrayRef<char> data;
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.isSplat())
      return std::nullopt;
    data = dense.getRawData();
  } else if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    data = blob->getData();
  } else {
    return std::nullopt;
  }
  if (data.size() != bytes)
    return std::nullopt;
  return data;
}

/// Moves the large constant globals into `blob` and rewrites each address
/// of one into base + offset, the base a global that <prefix>_set_weights
/// fills.
void compiler::externalizeWeights(ModuleOp module,
                                  const CompileOptions &options,
                                  CompileResult &result) {
  MLIRContext *ctx = module.getContext();
  std::vector<char> &blob = result.weights;
  blob.assign(kWeightsAlign, 0);
  llvm::StringMap<uint64_t> offsets;
  // Per content hash: the (offset, size) of each constant placed.
  llvm::DenseMap<uint64_t, SmallVector<std::pair<uint64_t, size_t>>> byContent;
  uint64_t count = 0;
  for (auto g : llvm::make_early_inc_range(module.getOps<LLVM::GlobalOp>())) {
    // GPU launch descriptors stay in the binary: the runtime keys its
    // per-launch state by their address.
    if (!g.getConstant() ||
        g.getSymName().starts_with(gpunames::kLaunchDescPrefix))
      continue;
    std::optional<ArrayRef<char>> data = constantBytes(g);
    if (!data || int64_t(data->size()) < options.weightThreshold)
      continue;
    // Constants of the same bytes share their place (the same weights
    // quantized in a decode and a prefill function, docs/Prefill.md).
    SmallVector<std::pair<uint64_t, size_t>> &same =
        byContent[llvm::xxh3_64bits(
            ArrayRef<uint8_t>((const uint8_t *)data->data(), data->size()))];
    auto it = llvm::find_if(same, [&](const auto &placed) {
      return placed.second == data->size() &&
             std::memcmp(blob.data() + placed.first, data->data(),
                         data->size()) == 0;
    });
    if (it != same.end()) {
      offsets[g.getSymName()] = it->first;
      continue;
    }
    uint64_t at = blob.size();
    offsets[g.getSymName()] = at;
    same.push_back({at, data->size()});
    blob.insert(blob.end(), data->begin(), data->end());
    blob.resize(llvm::alignTo(blob.size(), kWeightsAlign), 0);
    ++count;
  }
  // Header: magic, total size, fingerprint, constant count.
  uint64_t total = blob.size();
  uint64_t fp = fnv1a(0xcbf29ce484222325ull, blob.data() + kWeightsAlign,
                      total - kWeightsAlign);
  fp = fnv1a(fp, &total, 8);
  result.fingerprint = fp;
  std::memcpy(blob.data(), kWeightsMagic, 8);
  std::memcpy(blob.data() + 8, &total, 8);
  std::memcpy(blob.data() + 16, &fp, 8);
  std::memcpy(blob.data() + 24, &count, 8);

  OpBuilder b(ctx);
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  b.setInsertionPointToStart(module.getBody());
  auto base = LLVM::GlobalOp::create(
      b, module.getLoc(), ptrTy,
      /*isConstant=*/false, LLVM::Linkage::Internal, kBaseSymbol, Attribute());
  {
    Block *init = b.createBlock(&base.getInitializerRegion());
    b.setInsertionPointToStart(init);
    Value zero = LLVM::ZeroOp::create(b, module.getLoc(), ptrTy);
    LLVM::ReturnOp::create(b, module.getLoc(), zero);
  }
  module.walk([&](LLVM::AddressOfOp op) {
    auto it = offsets.find(op.getGlobalName());
    if (it == offsets.end())
      return;
    b.setInsertionPoint(op);
    Location loc = op.getLoc();
    Value addr = LLVM::AddressOfOp::create(b, loc, ptrTy, kBaseSymbol);
    Value p = LLVM::LoadOp::create(b, loc, ptrTy, addr, /*alignment=*/8);
    Value off = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                         b.getI64IntegerAttr(it->second));
    Value q =
        LLVM::GEPOp::create(b, loc, ptrTy, b.getI8Type(), p, ValueRange{off},
                            LLVM::GEPNoWrapFlags::inbounds);
    op.replaceAllUsesWith(q);
    op.erase();
  });
  for (auto g : llvm::make_early_inc_range(module.getOps<LLVM::GlobalOp>()))
    if (offsets.count(g.getSymName()))
      g.erase();
}
