//===- Offload.cpp - lowbit-offload-to-gpu
//-----------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The host side of lowbit-compile --target=nvptx (docs/Compile.md): the
// ops that lowbit-lower-to-gpu annotated become `lowbit.launch` on their
// kernels' parameters (4-bit weights as the mma-b tiles lowbit-pack-weights
// packed), and the PTX a string global.
//
//===----------------------------------------------------------------------===//

#include "Registry.h"
#include "Steps.h"

#include "lowbit/Conversion/Passes.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITOFFLOADTOGPU
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::nvptx;

namespace {

struct LowbitOffloadToGPUPass
    : mlir::lowbit::impl::LowbitOffloadToGPUBase<LowbitOffloadToGPUPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (op->hasAttr(gpunames::kKernelAttr))
        ops.push_back(op);
    });
    auto binary = module.lookupSymbol<gpu::BinaryOp>(gpunames::kModuleName);
    if (ops.empty() && !binary)
      return;
    if (!binary) {
      ops.front()->emitError("lowbit-offload-to-gpu: no gpu.binary @")
          << gpunames::kModuleName << " (run lowbit-gpu-to-ptx first)";
      return signalPassFailure();
    }
    std::string ptx;
    for (Attribute a : binary.getObjects()) {
      auto obj = cast<gpu::ObjectAttr>(a);
      if (obj.getFormat() == gpu::CompilationTarget::Assembly &&
          isa<NVVM::NVVMTargetAttr>(obj.getTarget())) {
        if (!ptx.empty()) {
          binary.emitError("lowbit-offload-to-gpu: one PTX object per binary "
                           "(one chip) is supported");
          return signalPassFailure();
        }
        ptx = obj.getObject().getValue().str();
      }
    }
    if (ptx.empty()) {
      binary.emitError("lowbit-offload-to-gpu: the binary holds no PTX (run "
                       "gpu-module-to-binary{format=isa})");
      return signalPassFailure();
    }

    // Constant in layout mma_b -> its parts.
    DenseMap<Operation *, SmallVector<Value>> packedOf;
    bool ok = true;
    for (Operation *op : ops) {
      if (failed(offload(op, packedOf))) {
        ok = false;
        break;
      }
    }
    if (!ok)
      return signalPassFailure();
    // The mma-b constants' readers are launches now.
    for (auto &[c, parts] : packedOf)
      if (c->use_empty())
        c->erase();

    OpBuilder b(module.getContext());
    b.setInsertionPointToStart(module.getBody());
    createStringGlobal(b, binary.getLoc(), gpunames::kPtxSymbol, ptx);
    binary.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }

  static void stripAttrs(Operation *op) {
    op->removeAttr(gpunames::kKernelAttr);
    op->removeAttr(gpunames::kLaunchAttr);
    op->removeAttr(gpunames::kParamsAttr);
  }

  LogicalResult offload(Operation *op,
                        DenseMap<Operation *, SmallVector<Value>> &packedOf) {
    auto kernel = op->getAttrOfType<SymbolRefAttr>(gpunames::kKernelAttr);
    auto launch = op->getAttrOfType<DenseI64ArrayAttr>(gpunames::kLaunchAttr);
    auto params = op->getAttrOfType<ArrayAttr>(gpunames::kParamsAttr);
    if (!kernel || !launch || !params)
      return op->emitError("lowbit-offload-to-gpu: incomplete lowbit.gpu_* "
                           "attributes (run lowbit-lower-to-gpu)");
    StringRef name = kernel.getLeafReference().getValue();
    ImplicitLocOpBuilder b(op->getLoc(), op);
    SmallVector<Value> ins;
    SmallVector<Type> outTypes;
    auto unpack = [&](Value q) {
      SmallVector<Type> parts;
      cast<QTensorType>(q.getType()).getPartTypes(parts);
      return UnpackOp::create(b, parts, q).getResults();
    };
    KernelOperands operands = getKernelOperands(name);
    if (auto mm = dyn_cast<QMatmulOp>(op)) {
      if (operands == KernelOperands::MmaBWeights ||
          operands == KernelOperands::MmaBWeightsAndTensorScale) {
        auto c = mm.getRhs().getDefiningOp<ConstantOp>();
        if (!c) {
          op->emitWarning("runs on the CPU: the GPU kernel ")
              << name
              << " reads weights packed at compile time, and these "
                 "are not a lowbit.constant";
          stripAttrs(op);
          return success();
        }
        if (c.getLayout() != CodesLayout::MmaB)
          return op->emitError("lowbit-offload-to-gpu: the GPU kernel ")
                 << name
                 << " reads its weights as mma-b tiles, and this "
                    "lowbit.constant is not in layout mma_b (run "
                    "lowbit-pack-weights{target=nvptx} after "
                    "lowbit-lower-to-gpu)";
        // The packed codes and the other parts, as arith.constants once
        // per constant (f8 scales as their bytes).
        SmallVector<Value> &parts = packedOf[c];
        if (parts.empty()) {
          OpBuilder cb(c);
          cb.setInsertionPointAfter(c);
          parts = createConstantParts(cb, c);
        }
        ins = {mm.getLhs(), parts[0], parts[1]};
        if (operands == KernelOperands::MmaBWeightsAndTensorScale)
          ins.push_back(parts.back());
      } else if (operands == KernelOperands::EightBitParts) {
        ValueRange x = unpack(mm.getLhs());
        ValueRange w = unpack(mm.getRhs());
        ins = {x[0], x[1], w[0], w[1]};
      } else {
        return op->emitError("lowbit-offload-to-gpu: unknown kernel kind ")
               << name;
      }
      outTypes.push_back(mm.getType());
    } else if (auto qz = dyn_cast<QuantizeOp>(op)) {
      if (operands != KernelOperands::QuantizeRows)
        return op->emitError("lowbit-offload-to-gpu: unknown kernel kind ")
               << name;
      ins = {qz.getInput()};
      SmallVector<Type> parts;
      qz.getType().getPartTypes(parts);
      outTypes.append(parts);
    } else {
      return op->emitError("lowbit-offload-to-gpu: no launch for this op");
    }

    // The operands must be the kernel's parameters, byte for byte.
    if (params.size() != ins.size() + outTypes.size())
      return op->emitError("lowbit-offload-to-gpu: kernel ")
             << name << " takes " << params.size() << " buffers, the op gives "
             << ins.size() + outTypes.size();
    SmallVector<Type> all(ValueRange(ins).getTypes());
    all.append(outTypes);
    for (auto [i, p, t] : llvm::enumerate(params, all)) {
      auto pt = cast<MemRefType>(cast<TypeAttr>(p).getValue());
      auto st = dyn_cast<RankedTensorType>(t);
      if (!st || !st.hasStaticShape() ||
          getBufferBytes(pt) != getBufferBytes(st))
        return op->emitError("lowbit-offload-to-gpu: kernel ")
               << name << " parameter " << i << " is " << pt
               << ", the op gives " << t;
    }
    SmallVector<Value> outs;
    for (Type t : outTypes) {
      auto rt = cast<RankedTensorType>(t);
      outs.push_back(
          tensor::EmptyOp::create(b, rt.getShape(), rt.getElementType()));
    }
    auto l = LaunchOp::create(b, outTypes, kernel, launch, ins, outs);
    if (isa<QMatmulOp>(op)) {
      op->getResult(0).replaceAllUsesWith(l.getResult(0));
    } else {
      Value q = PackOp::create(b, op->getResult(0).getType(), l.getResults());
      op->getResult(0).replaceAllUsesWith(q);
    }
    op->erase();
    return success();
  }
};

} // namespace
