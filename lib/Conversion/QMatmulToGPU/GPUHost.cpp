//===- GPUHost.cpp - host side of the nvptx target ------------------------===//
//
// lowbit-compile --target=nvptx (docs/Compile.md): `lowbit-gpu-offload`
// turns the ops that lowbit-gpu-kernels annotated into `lowbit.launch` on
// the kernels' parameters, and `lowbit-lower-launches` turns bufferized
// launches into calls of lib/Runtime's lbrt_model_launch.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Numerics/Numerics.h"
#include "lowbit/Transforms/NumericsBridge.h"

#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITGPUOFFLOAD
#define GEN_PASS_DEF_LOWBITLOWERLAUNCHES
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

using gpunames::kKernelAttr;
using gpunames::kLaunchAttr;
using gpunames::kParamsAttr;
constexpr StringLiteral kGpuModuleName = gpunames::kModuleName;
using gpunames::kPtxSymbol;

/// Bytes of a statically shaped buffer of whole-byte elements.
int64_t bufferBytes(ShapedType t) {
  return t.getNumElements() * (t.getElementType().getIntOrFloatBitWidth() / 8);
}

/// A constant NUL-terminated string global.
LLVM::GlobalOp stringGlobal(OpBuilder &b, Location loc, StringRef name,
                            StringRef text) {
  std::string bytes = text.str();
  bytes.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
  return LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                LLVM::Linkage::Internal, name,
                                b.getStringAttr(bytes), /*alignment=*/16);
}

struct LowbitGPUOffloadPass
    : mlir::lowbit::impl::LowbitGPUOffloadBase<LowbitGPUOffloadPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (op->hasAttr(kKernelAttr))
        ops.push_back(op);
    });
    auto binary = module.lookupSymbol<gpu::BinaryOp>(kGpuModuleName);
    if (ops.empty() && !binary)
      return;
    if (!binary) {
      ops.front()->emitError("lowbit-gpu-offload: no gpu.binary @")
          << kGpuModuleName << " (run lowbit-gpu-to-ptx first)";
      return signalPassFailure();
    }
    std::string ptx;
    for (Attribute a : binary.getObjects()) {
      auto obj = cast<gpu::ObjectAttr>(a);
      if (obj.getFormat() == gpu::CompilationTarget::Assembly &&
          isa<NVVM::NVVMTargetAttr>(obj.getTarget())) {
        if (!ptx.empty()) {
          binary.emitError("lowbit-gpu-offload: one PTX object per binary "
                           "(one chip) is supported");
          return signalPassFailure();
        }
        ptx = obj.getObject().getValue().str();
      }
    }
    if (ptx.empty()) {
      binary.emitError("lowbit-gpu-offload: the binary holds no PTX (run "
                       "gpu-module-to-binary{format=isa})");
      return signalPassFailure();
    }

    DenseMap<Operation *, Value> packedOf; // constant -> mma-b tiles
    bool ok = true;
    for (Operation *op : ops) {
      if (failed(offload(op, packedOf))) {
        ok = false;
        break;
      }
    }
    if (!ok)
      return signalPassFailure();

    OpBuilder b(module.getContext());
    b.setInsertionPointToStart(module.getBody());
    stringGlobal(b, binary.getLoc(), kPtxSymbol, ptx);
    binary.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }

  static void stripAttrs(Operation *op) {
    op->removeAttr(kKernelAttr);
    op->removeAttr(kLaunchAttr);
    op->removeAttr(kParamsAttr);
  }

  LogicalResult offload(Operation *op, DenseMap<Operation *, Value> &packedOf) {
    auto kernel = op->getAttrOfType<SymbolRefAttr>(kKernelAttr);
    auto launch = op->getAttrOfType<DenseI64ArrayAttr>(kLaunchAttr);
    auto params = op->getAttrOfType<ArrayAttr>(kParamsAttr);
    if (!kernel || !launch || !params)
      return op->emitError("lowbit-gpu-offload: incomplete lowbit.gpu.* "
                           "attributes (run lowbit-gpu-kernels)");
    StringRef name = kernel.getLeafReference().getValue();
    ImplicitLocOpBuilder b(op->getLoc(), op);
    SmallVector<Value> ins;
    SmallVector<Type> outTypes;
    auto unpack = [&](Value q) {
      SmallVector<Type> parts;
      cast<QTensorType>(q.getType()).getPartTypes(parts);
      return UnpackOp::create(b, parts, q).getResults();
    };
    if (auto mm = dyn_cast<QMatmulOp>(op)) {
      if (name.starts_with("w4a16_") || name.starts_with("mxfp4_") ||
          name.starts_with("nvfp4_")) {
        auto c = mm.getRhs().getDefiningOp<ConstantOp>();
        if (!c) {
          op->emitWarning("runs on the CPU: the GPU kernel ")
              << name
              << " reads weights packed at compile time, and these "
                 "are not a lowbit.constant";
          stripAttrs(op);
          return success();
        }
        Value &packed = packedOf[c];
        if (!packed) {
          FailureOr<nx::QTensor> q = readQuantizedConstant(
              c, [&] { return c.emitOpError("packing mma-b tiles: "); });
          if (failed(q))
            return failure();
          std::vector<uint8_t> bytes;
          nx::Status st = nx::packInt4MmaB(*q, bytes);
          if (!st.ok())
            return c.emitOpError("packing mma-b tiles: ") << st.message();
          auto wt = cast<QTensorType>(c.getType());
          int64_t n = wt.getShape()[0], k = wt.getShape()[1];
          packed = createBytesConstantAfter(
              c,
              RankedTensorType::get({(n + 31) / 32, k / 32, 128},
                                    IntegerType::get(c.getContext(), 32)),
              bytes, "mma_b");
        }
        ValueRange parts = unpack(mm.getRhs());
        ins = {mm.getLhs(), packed, parts[1]};
        if (name.starts_with("nvfp4_"))
          ins.push_back(parts.back());
      } else if (name.starts_with("w8a8_") || name.starts_with("fp8_")) {
        ValueRange x = unpack(mm.getLhs());
        ValueRange w = unpack(mm.getRhs());
        ins = {x[0], x[1], w[0], w[1]};
      } else {
        return op->emitError("lowbit-gpu-offload: unknown kernel kind ")
               << name;
      }
      outTypes.push_back(mm.getType());
    } else if (auto qz = dyn_cast<QuantizeOp>(op)) {
      if (!name.starts_with("quantize_"))
        return op->emitError("lowbit-gpu-offload: unknown kernel kind ")
               << name;
      ins = {qz.getInput()};
      SmallVector<Type> parts;
      qz.getType().getPartTypes(parts);
      outTypes.append(parts);
    } else {
      return op->emitError("lowbit-gpu-offload: no launch for this op");
    }

    // The operands must be the kernel's parameters, byte for byte.
    if (params.size() != ins.size() + outTypes.size())
      return op->emitError("lowbit-gpu-offload: kernel ")
             << name << " takes " << params.size() << " buffers, the op gives "
             << ins.size() + outTypes.size();
    SmallVector<Type> all(ValueRange(ins).getTypes());
    all.append(outTypes);
    for (auto [i, p, t] : llvm::enumerate(params, all)) {
      auto pt = cast<MemRefType>(cast<TypeAttr>(p).getValue());
      auto st = dyn_cast<RankedTensorType>(t);
      if (!st || !st.hasStaticShape() || bufferBytes(pt) != bufferBytes(st))
        return op->emitError("lowbit-gpu-offload: kernel ")
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

/// The allocation behind a buffer, through views: a constant global's
/// `memref.get_global` makes the buffer a weight.
bool isConstantGlobal(Value v, SymbolTableCollection &symbols) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto g = dyn_cast<memref::GetGlobalOp>(def)) {
      auto global = symbols.lookupNearestSymbolFrom<memref::GlobalOp>(
          def, g.getNameAttr());
      return global && global.getConstant();
    }
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return false;
    v = view.getViewSource();
  }
  return false;
}

struct LowbitLowerLaunchesPass
    : mlir::lowbit::impl::LowbitLowerLaunchesBase<LowbitLowerLaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<LaunchOp> launches;
    module.walk([&](LaunchOp op) { launches.push_back(op); });
    if (launches.empty())
      return;
    if (!module.lookupSymbol<LLVM::GlobalOp>(kPtxSymbol)) {
      launches.front().emitError("lowbit-lower-launches: no @")
          << kPtxSymbol << " (run lowbit-gpu-offload)";
      return signalPassFailure();
    }
    OpBuilder mb(ctx);
    mb.setInsertionPointToEnd(module.getBody());
    auto ptrTy = LLVM::LLVMPointerType::get(ctx);
    Type i32 = mb.getI32Type(), i64 = mb.getI64Type();
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>("lbrt_model_launch");
    if (!callee)
      callee = LLVM::LLVMFuncOp::create(
          mb, module.getLoc(), "lbrt_model_launch",
          LLVM::LLVMFunctionType::get(i32, {ptrTy, ptrTy, ptrTy, ptrTy}));
    SymbolTableCollection symbols;
    llvm::StringMap<std::string> kernelNames; // kernel -> its string global
    for (auto [index, op] : llvm::enumerate(launches)) {
      if (op.getNumResults()) {
        op.emitError("lowbit-lower-launches: the launch is not bufferized");
        return signalPassFailure();
      }
      // One launch at a time per model call: not from parallel loops
      // (OpenMP threads have no model call of their own).
      if (op->getParentOfType<scf::ParallelOp>() ||
          op->getParentOfType<scf::ForallOp>() ||
          op->getParentOfType<omp::ParallelOp>()) {
        op.emitError("lowbit-lower-launches: a GPU launch inside a parallel "
                     "loop is not supported");
        return signalPassFailure();
      }
      Location loc = op.getLoc();
      StringRef kernel = op.getKernel().getLeafReference().getValue();
      std::string &nameSym = kernelNames[kernel];
      mb.setInsertionPointToEnd(module.getBody());
      if (nameSym.empty()) {
        nameSym = ("__lowbit_kernel_" + Twine(kernelNames.size() - 1)).str();
        stringGlobal(mb, loc, nameSym, kernel);
      }
      // desc: launch (7), n, then bytes and kind per buffer.
      SmallVector<int64_t> desc(op.getLaunch());
      desc.push_back(op->getNumOperands());
      for (OpOperand &o : op->getOpOperands()) {
        auto t = cast<MemRefType>(o.get().getType());
        desc.push_back(bufferBytes(t));
        // A weight only when its own (contiguous) buffer is passed: a
        // temporary copy lives for one call.
        bool weight =
            t.getLayout().isIdentity() && isConstantGlobal(o.get(), symbols);
        desc.push_back(op.isDpsInit(&o) ? 1 : weight ? 2 : 0);
      }
      std::string descSym = (gpunames::kLaunchDescPrefix + Twine(index)).str();
      auto descType = LLVM::LLVMArrayType::get(i64, desc.size());
      LLVM::GlobalOp::create(
          mb, loc, descType, /*isConstant=*/true, LLVM::Linkage::Internal,
          descSym,
          DenseElementsAttr::get(
              RankedTensorType::get({int64_t(desc.size())}, i64),
              ArrayRef<int64_t>(desc)),
          /*alignment=*/8);

      // The buffers' addresses, contiguous copies where needed.
      ImplicitLocOpBuilder b(loc, op);
      auto fn = op->getParentOfType<FunctionOpInterface>();
      OpBuilder eb(ctx);
      eb.setInsertionPointToStart(&fn.getFunctionBody().front());
      Value one =
          LLVM::ConstantOp::create(eb, loc, i64, eb.getI64IntegerAttr(1));
      auto arrTy = LLVM::LLVMArrayType::get(ptrTy, op->getNumOperands());
      Value arr = LLVM::AllocaOp::create(eb, loc, ptrTy, arrTy, one,
                                         /*alignment=*/8);
      SmallVector<std::pair<Value, Value>> copyBack; // (contiguous, original)
      SmallVector<Value> temps;
      for (auto [j, o] : llvm::enumerate(op->getOpOperands())) {
        Value m = o.get();
        auto t = cast<MemRefType>(m.getType());
        if (!t.getLayout().isIdentity()) {
          Value tmp = memref::AllocOp::create(
              b, MemRefType::get(t.getShape(), t.getElementType()));
          temps.push_back(tmp);
          if (op.isDpsInit(&o))
            copyBack.push_back({tmp, m});
          else
            memref::CopyOp::create(b, m, tmp);
          m = tmp;
        }
        Value addr = memref::ExtractAlignedPointerAsIndexOp::create(b, m);
        Value p = LLVM::IntToPtrOp::create(
            b, ptrTy, arith::IndexCastOp::create(b, i64, addr).getResult());
        Value slot = LLVM::GEPOp::create(b, ptrTy, arrTy, arr,
                                         ArrayRef<LLVM::GEPArg>{0, int32_t(j)});
        LLVM::StoreOp::create(b, p, slot, /*alignment=*/8);
      }
      Value ptx = LLVM::AddressOfOp::create(b, ptrTy, kPtxSymbol);
      Value name = LLVM::AddressOfOp::create(b, ptrTy, nameSym);
      Value d = LLVM::AddressOfOp::create(b, ptrTy, descSym);
      // A failure is recorded by the runtime and reported by the entry
      // point (lbrt_model_end); the status here needs no check.
      LLVM::CallOp::create(b, callee, ValueRange{ptx, name, d, arr});
      for (auto [tmp, orig] : copyBack)
        memref::CopyOp::create(b, tmp, orig);
      // This runs after buffer deallocation: the temporaries are freed here.
      for (Value tmp : temps)
        memref::DeallocOp::create(b, tmp);
      op.erase();
    }
  }
};

} // namespace
