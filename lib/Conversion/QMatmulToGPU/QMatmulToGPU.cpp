//===- QMatmulToGPU.cpp - quantized matmuls to GPU kernels ----------------===//
//
// GPU code generation (docs/CodegenGPU.md): `lowbit-gpu-kernels` builds a
// gpu.func kernel per covered qmatmul problem in `gpu.module @lowbit_gpu`
// (NVVM target) and records on the op how to launch it; `lowbit-write-ptx`
// writes the PTX that `gpu-module-to-binary` made, with a manifest.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Conversion/Passes.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITGPUKERNELS
#define GEN_PASS_DEF_LOWBITWRITEPTX
#include "lowbit/Conversion/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

constexpr StringLiteral kGpuModuleName = "lowbit_gpu";
constexpr StringLiteral kKernelAttr = "lowbit.gpu.kernel";
constexpr StringLiteral kLaunchAttr = "lowbit.gpu.launch";
constexpr StringLiteral kParamsAttr = "lowbit.gpu.params";

/// Y[M, N] = X[M, K] (f16) * W[N, K]^T, W int4 in groups of g along K with
/// f16 scales.
struct W4A16Problem {
  int64_t m, n, k, g;
  Type yElem; // f16 or f32
};

constexpr int64_t kMaxGemvRows = 8;
constexpr int64_t kWarpsPerBlock = 4;

std::optional<W4A16Problem> matchW4A16(QMatmulOp op) {
  auto xt = dyn_cast<RankedTensorType>(op.getLhs().getType());
  auto wt = dyn_cast<QTensorType>(op.getRhs().getType());
  auto yt = dyn_cast<RankedTensorType>(op.getType());
  if (!op.getTransposeB() || !xt || !wt || !yt || xt.getRank() != 2 ||
      !xt.hasStaticShape() || !xt.getElementType().isF16() ||
      wt.getShape().size() != 2 || ShapedType::isDynamicShape(wt.getShape()) ||
      !isa<Float16Type, Float32Type>(yt.getElementType()))
    return std::nullopt;
  SchemeAttr s = wt.getScheme();
  auto storage = dyn_cast<IntegerType>(s.getStorageType());
  if (s.isGGUF() || !storage || storage.getWidth() != 4 ||
      storage.isUnsigned() || !s.getSymmetric() || s.getTernary() ||
      !s.getScaleType() || !s.getScaleType().isF16() || s.getTensorScale())
    return std::nullopt;
  int64_t m = xt.getShape()[0], k = xt.getShape()[1];
  int64_t n = wt.getShape()[0];
  SmallVector<int64_t> blocks = wt.getBlockSizes();
  if (m < 1 || m > kMaxGemvRows || wt.getShape()[1] != k ||
      blocks.size() != 2 || blocks[0] != 1 || blocks[1] % 32 || k % 32)
    return std::nullopt;
  return W4A16Problem{m, n, k, blocks[1], yt.getElementType()};
}

Value idx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
Value f32c(ImplicitLocOpBuilder &b, float v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
}

/// The kernel's parameters: X [M, K] f16, codes [N, K / 8] i32 (eight
/// 4-bit codes per word, code e of a word in bits 4e..4e+3, as the
/// qtensor's bytes are), scales [N, K / g] f16, Y [M, N].
FunctionType w4a16Signature(MLIRContext *ctx, const W4A16Problem &p) {
  Builder b(ctx);
  return b.getFunctionType({MemRefType::get({p.m, p.k}, b.getF16Type()),
                            MemRefType::get({p.n, p.k / 8}, b.getI32Type()),
                            MemRefType::get({p.n, p.k / p.g}, b.getF16Type()),
                            MemRefType::get({p.m, p.n}, p.yElem)},
                           {});
}

/// W4A16 GEMV: one warp per output channel n. Per step of 1024 inputs,
/// lane l reads the 32 codes of inputs k0 = step + 32 l.. (one 16-byte
/// load; they share one group since g % 32 == 0), sign-extends them by
/// shifts, multiplies with X's 32 inputs in f32 (8 per vector op), and adds
/// the sum times the group's scale to its accumulator. The lanes' sums
/// meet in a butterfly shuffle; lane 0 writes Y[:, n].
void buildW4A16Gemv(ImplicitLocOpBuilder &b, gpu::GPUFuncOp fn,
                    const W4A16Problem &p) {
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value x = entry.getArgument(0), codes = entry.getArgument(1),
        scales = entry.getArgument(2), y = entry.getArgument(3);
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  auto v8i32 = VectorType::get({8}, i32);
  auto v8f32 = VectorType::get({8}, f32);
  auto v8f16 = VectorType::get({8}, b.getF16Type());
  auto v4i32 = VectorType::get({4}, i32);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, tid, idx(b, 32));
  Value lane = arith::RemUIOp::create(b, tid, idx(b, 32));
  Value n = arith::AddIOp::create(
      b, arith::MulIOp::create(b, bid, idx(b, kWarpsPerBlock)), warp);
  Value inRange =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, n, idx(b, p.n));
  auto ifN = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifN.thenBlock());

  // Shift amounts that put code e of a word in the top 4 bits.
  SmallVector<int32_t> left;
  for (int e = 0; e < 8; ++e)
    left.push_back(28 - 4 * e);
  Value shl = arith::ConstantOp::create(
      b, v8i32, DenseElementsAttr::get(v8i32, ArrayRef<int32_t>(left)));
  Value shr = arith::ConstantOp::create(
      b, v8i32, DenseElementsAttr::get(v8i32, b.getI32IntegerAttr(28)));
  Value zero8 = arith::ConstantOp::create(
      b, v8f32, DenseElementsAttr::get(v8f32, b.getF32FloatAttr(0.f)));
  SmallVector<Value> init(p.m, f32c(b, 0.f));
  Value lane32 = arith::MulIOp::create(b, lane, idx(b, 32));
  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, p.k), idx(b, 1024), init,
      [&](OpBuilder &ob, Location l, Value step, ValueRange acc) {
        ImplicitLocOpBuilder lb(l, ob);
        Value k0 = arith::AddIOp::create(lb, step, lane32);
        Value valid = arith::CmpIOp::create(lb, arith::CmpIPredicate::ult, k0,
                                            idx(lb, p.k));
        auto ifK = scf::IfOp::create(
            lb, valid,
            [&](OpBuilder &tb0, Location tl) {
              ImplicitLocOpBuilder tb(tl, tb0);
              Value words = vector::LoadOp::create(
                  tb, v4i32, codes,
                  ValueRange{n, arith::DivUIOp::create(tb, k0, idx(tb, 8))},
                  /*nontemporal=*/false, llvm::MaybeAlign(16));
              Value s = memref::LoadOp::create(
                  tb, scales,
                  ValueRange{n, arith::DivUIOp::create(tb, k0, idx(tb, p.g))});
              s = arith::ExtFOp::create(tb, f32, s);
              SmallVector<Value> q;
              for (int64_t j = 0; j < 4; ++j) {
                Value w =
                    vector::ExtractOp::create(tb, words, ArrayRef<int64_t>{j});
                Value wv = vector::BroadcastOp::create(tb, v8i32, w);
                Value c = arith::ShRSIOp::create(
                    tb, arith::ShLIOp::create(tb, wv, shl), shr);
                q.push_back(arith::SIToFPOp::create(tb, v8f32, c));
              }
              SmallVector<Value> out;
              for (int64_t r = 0; r < p.m; ++r) {
                Value part = zero8;
                for (int64_t j = 0; j < 4; ++j) {
                  Value xv = vector::LoadOp::create(
                      tb, v8f16, x,
                      ValueRange{idx(tb, r),
                                 arith::AddIOp::create(tb, k0, idx(tb, 8 * j))},
                      /*nontemporal=*/false, llvm::MaybeAlign(16));
                  part = vector::FMAOp::create(
                      tb, q[j], arith::ExtFOp::create(tb, v8f32, xv), part);
                }
                Value sum = vector::ReductionOp::create(
                    tb, vector::CombiningKind::ADD, part);
                // mul + add, contracted to fma.rn.f32 (math.fma would
                // become a libdevice call).
                auto contract = arith::FastMathFlags::contract;
                out.push_back(arith::AddFOp::create(
                    tb, arith::MulFOp::create(tb, sum, s, contract), acc[r],
                    contract));
              }
              scf::YieldOp::create(tb, out);
            },
            [&](OpBuilder &eb0, Location el) {
              scf::YieldOp::create(eb0, el, acc);
            });
        scf::YieldOp::create(lb, ifK.getResults());
      });
  SmallVector<Value> sums(loop.getResults());
  for (Value &v : sums)
    for (int32_t off = 16; off >= 1; off /= 2) {
      Value other = gpu::ShuffleOp::create(b, v, off, 32, gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      v = arith::AddFOp::create(b, v, other);
    }
  Value first =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, idx(b, 0));
  auto ifFirst = scf::IfOp::create(b, first, /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifFirst.thenBlock());
  for (int64_t r = 0; r < p.m; ++r) {
    Value v = sums[r];
    if (!p.yElem.isF32())
      v = arith::TruncFOp::create(b, p.yElem, v);
    memref::StoreOp::create(b, v, y, ValueRange{idx(b, r), n});
  }
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b);
}

std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

struct LowbitGPUKernelsPass
    : mlir::lowbit::impl::LowbitGPUKernelsBase<LowbitGPUKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    StringRef c = chip;
    if (!c.starts_with("sm_") || c.size() < 5 ||
        !llvm::all_of(
            c.drop_front(3).take_while([](char ch) { return ch != 'a'; }),
            llvm::isDigit)) {
      module.emitError() << "lowbit-gpu-kernels: chip '" << chip
                         << "' is not an NVIDIA compute capability such as "
                            "sm_80 or sm_90a";
      return signalPassFailure();
    }
    SmallVector<std::pair<QMatmulOp, W4A16Problem>> work;
    module.walk([&](QMatmulOp op) {
      if (std::optional<W4A16Problem> p = matchW4A16(op))
        work.push_back({op, *p});
    });
    if (work.empty())
      return;
    ImplicitLocOpBuilder b(module.getLoc(), ctx);
    auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(kGpuModuleName);
    if (!gpuModule) {
      b.setInsertionPointToEnd(module.getBody());
      // PTX ISA 8.0: what sm_90a needs, and what CUDA 12 drivers JIT.
      auto target = NVVM::NVVMTargetAttr::get(
          ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", chip, "+ptx80");
      gpuModule = gpu::GPUModuleOp::create(b, kGpuModuleName,
                                           ArrayRef<Attribute>{target});
    }
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    for (auto &[op, p] : work) {
      std::string name = "w4a16_gemv_" + std::to_string(p.m) + "x" +
                         std::to_string(p.n) + "x" + std::to_string(p.k) +
                         "_g" + std::to_string(p.g) + "_" + typeName(p.yElem);
      if (!gpuModule.lookupSymbol<gpu::GPUFuncOp>(name)) {
        b.setInsertionPointToEnd(gpuModule.getBody());
        b.setLoc(op.getLoc());
        auto fn = gpu::GPUFuncOp::create(b, name, w4a16Signature(ctx, p));
        fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
        fn.setKnownBlockSizeAttr(
            b.getDenseI32ArrayAttr({int32_t(32 * kWarpsPerBlock), 1, 1}));
        buildW4A16Gemv(b, fn, p);
      }
      SmallVector<Attribute> params;
      for (Type t : w4a16Signature(ctx, p).getInputs())
        params.push_back(TypeAttr::get(t));
      op->setAttr(kParamsAttr, b.getArrayAttr(params));
      op->setAttr(kKernelAttr,
                  SymbolRefAttr::get(ctx, kGpuModuleName,
                                     {FlatSymbolRefAttr::get(ctx, name)}));
      int64_t blocks = (p.n + kWarpsPerBlock - 1) / kWarpsPerBlock;
      op->setAttr(
          kLaunchAttr,
          b.getDenseI64ArrayAttr({blocks, 1, 1, 32 * kWarpsPerBlock, 1, 1, 0}));
    }
  }
};

/// "f16", "i32", ... and the shape of a kernel parameter.
llvm::json::Object describeParam(Type t) {
  llvm::json::Object o;
  auto mt = cast<MemRefType>(t);
  o["element"] = typeName(mt.getElementType());
  llvm::json::Array shape;
  for (int64_t d : mt.getShape())
    shape.push_back(d);
  o["shape"] = std::move(shape);
  return o;
}

/// Writes `text` to `path` whole or not at all.
LogicalResult writeFile(Operation *op, StringRef path, StringRef text) {
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
                       "lowbit-gpu-kernels and lowbit-gpu-to-ptx first)");
      return signalPassFailure();
    }
    // The manifest: every annotated launch, with the kernel's parameters
    // as lowbit-gpu-kernels recorded them (the gpu.module is gone).
    llvm::json::Array entries;
    module.walk([&](QMatmulOp op) {
      auto kernel = op->getAttrOfType<SymbolRefAttr>(kKernelAttr);
      auto launch = op->getAttrOfType<DenseI64ArrayAttr>(kLaunchAttr);
      auto params = op->getAttrOfType<ArrayAttr>(kParamsAttr);
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
