//===- WritePTX.cpp - lowbit-write-ptx ------------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// After lowbit-gpu-to-ptx: the PTX of every gpu.binary in a file per chip,
// and manifest.json listing every launch (kernel, grid, block, shared
// bytes, parameters), written whole or not at all (docs/CodegenGPU.md).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITWRITEPTX
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

static std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// "f16", "i32", ... and the shape of a kernel parameter.
static llvm::json::Object describeParam(Type t) {
  llvm::json::Object o;
  auto mt = cast<MemRefType>(t);
  o["element"] = typeName(mt.getElementType());
  llvm::json::Array shape;
  for (int64_t d : mt.getShape())
    shape.push_back(d);
  o["shape"] = std::move(shape);
  // Kernels use 16-byte vector loads and cp.async on every buffer.
  o["align"] = 16;
  return o;
}

/// Writes `text` to `path` whole or not at all.
static LogicalResult writeFile(Operation *op, StringRef path, StringRef text) {
  std::string err;
  auto out = openOutputFile(path, &err);
  if (!out) {
    op->emitError() << "cannot write " << path << ": " << err;
    return failure();
  }
  out->os() << text;
  out->os().flush();
  if (out->os().has_error()) {
    op->emitError() << "cannot write " << path;
    out->os().clear_error();
    return failure();
  }
  out->keep();
  return success();
}

namespace {

struct LowbitWritePTXPass
    : mlir::lowbit::impl::LowbitWritePTXBase<LowbitWritePTXPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      module.emitError() << "cannot create " << dir << ": " << ec.message();
      return signalPassFailure();
    }
    bool any = false;
    llvm::json::Object files; // "<binary>.<chip>": its PTX file
    for (auto binary : module.getOps<gpu::BinaryOp>()) {
      any = true;
      for (Attribute a : binary.getObjects()) {
        auto obj = cast<gpu::ObjectAttr>(a);
        auto target = dyn_cast<NVVM::NVVMTargetAttr>(obj.getTarget());
        if (!target || obj.getFormat() != gpu::CompilationTarget::Assembly) {
          binary.emitError("lowbit-write-ptx: objects must be PTX (run "
                           "gpu-module-to-binary{format=isa})");
          return signalPassFailure();
        }
        SmallString<256> path(dir);
        llvm::sys::path::append(
            path, (binary.getName() + "." + target.getChip() + ".ptx").str());
        if (failed(writeFile(binary, path, obj.getObject().getValue())))
          return signalPassFailure();
        files[(binary.getName() + "." + target.getChip()).str()] =
            llvm::sys::path::filename(path).str();
      }
    }
    if (!any) {
      module.emitError("lowbit-write-ptx: no gpu.binary (run "
                       "lowbit-lower-to-gpu and lowbit-gpu-to-ptx first)");
      return signalPassFailure();
    }
    // The manifest: every annotated launch, with the kernel's parameters
    // as lowbit-lower-to-gpu recorded them (the gpu.module is gone).
    llvm::json::Array entries;
    module.walk([&](Operation *op) {
      auto kernel = op->getAttrOfType<SymbolRefAttr>(gpunames::kKernelAttr);
      auto launch = op->getAttrOfType<DenseI64ArrayAttr>(gpunames::kLaunchAttr);
      auto params = op->getAttrOfType<ArrayAttr>(gpunames::kParamsAttr);
      if (!kernel || !launch)
        return;
      llvm::json::Object e;
      e["module"] = kernel.getRootReference().getValue().str();
      e["kernel"] = kernel.getLeafReference().getValue().str();
      llvm::json::Array l;
      for (int64_t v : launch.asArrayRef())
        l.push_back(v);
      e["grid"] = llvm::json::Array{l[0], l[1], l[2]};
      e["block"] = llvm::json::Array{l[3], l[4], l[5]};
      e["shared_bytes"] = l[6];
      llvm::json::Array ps;
      if (params)
        for (Attribute a : params)
          ps.push_back(describeParam(cast<TypeAttr>(a).getValue()));
      e["params"] = std::move(ps);
      entries.push_back(std::move(e));
    });
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                     {"ptx", std::move(files)},
                                     {"launches", std::move(entries)}}))
       << "\n";
    SmallString<256> path(dir);
    llvm::sys::path::append(path, "manifest.json");
    if (failed(writeFile(module, path, text)))
      return signalPassFailure();
  }
};

} // namespace
