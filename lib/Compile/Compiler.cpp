//===- Compiler.cpp - ahead-of-time compilation of lowbit modules ---------===//
//
// See Compiler.h and docs/Compile.md.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compile/Compiler.h"

#include "lowbit/Conversion/Passes.h"
#include "lowbit/Pipelines/Pipelines.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <cstring>
#include <mutex>
#include <set>

using namespace mlir;
using namespace mlir::lowbit;

std::optional<CompilePhase> mlir::lowbit::parseCompilePhase(StringRef name) {
  return llvm::StringSwitch<std::optional<CompilePhase>>(name)
      .Case("input", CompilePhase::Input)
      .Case("quantized", CompilePhase::Quantized)
      .Case("ptx", CompilePhase::PTX)
      .Case("lowered", CompilePhase::Lowered)
      .Case("bufferized", CompilePhase::Bufferized)
      .Case("llvm", CompilePhase::LLVM)
      .Case("llvm-ir", CompilePhase::LLVMIR)
      .Case("asm", CompilePhase::Assembly)
      .Case("object", CompilePhase::Object)
      .Default(std::nullopt);
}

namespace {

std::string printOp(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

/// The C type of a buffer element; empty when the header cannot name it.
std::string cTypeOf(Type t) {
  if (t.isF32())
    return "float";
  if (t.isF64())
    return "double";
  if (t.isF16() || t.isBF16())
    return "uint16_t"; // the bits
  if (auto i = dyn_cast<IntegerType>(t)) {
    unsigned w = i.getWidth();
    if (w != 8 && w != 16 && w != 32 && w != 64)
      return "";
    return (i.isUnsigned() ? "uint" : "int") + std::to_string(w) + "_t";
  }
  return "";
}

bool isCIdentifier(StringRef s);

/// The entry points: public functions with bodies, every argument and
/// result a statically shaped tensor of a type C can name.
LogicalResult collectEntryPoints(ModuleOp module,
                                 std::vector<EntryPoint> &entries) {
  bool ok = true;
  std::set<std::string> upperNames;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isPrivate() || f.isExternal())
      continue;
    EntryPoint e;
    e.name = f.getSymName().str();
    if (!isCIdentifier(e.name) || e.name == "set_weights" ||
        e.name == "load_weights") {
      f.emitError() << "entry point @" << e.name
                    << ": the C API names it <prefix>_" << e.name
                    << ", so it must be a C identifier other than "
                       "set_weights and load_weights";
      ok = false;
      continue;
    }
    if (!upperNames.insert(StringRef(e.name).upper()).second) {
      f.emitError() << "entry point @" << e.name
                    << " differs from another only in letter case (the "
                       "header's macros would collide)";
      ok = false;
      continue;
    }
    auto sig = [&](Type t, const char *what, unsigned i, BufferSignature &out) {
      auto rt = dyn_cast<RankedTensorType>(t);
      if (!rt || !rt.hasStaticShape() || cTypeOf(rt.getElementType()).empty()) {
        f.emitError() << "entry point @" << e.name << " " << what << " " << i
                      << " is " << t
                      << ": ahead-of-time entry points take and return "
                         "statically shaped tensors of f32, f64, f16, bf16 "
                         "or 8 to 64-bit integers";
        ok = false;
        return;
      }
      out.cType = cTypeOf(rt.getElementType());
      llvm::raw_string_ostream os(out.mlirType);
      os << rt;
      out.shape.assign(rt.getShape().begin(), rt.getShape().end());
    };
    FunctionType ft = f.getFunctionType();
    e.args.resize(ft.getNumInputs());
    e.results.resize(ft.getNumResults());
    for (unsigned i = 0; i < ft.getNumInputs(); ++i) {
      sig(ft.getInput(i), "argument", i, e.args[i]);
      auto range = f.getArgAttrOfType<DenseI64ArrayAttr>(i, "lowbit.range");
      if (!range)
        continue;
      auto rt = dyn_cast<RankedTensorType>(ft.getInput(i));
      auto it = rt ? dyn_cast<IntegerType>(rt.getElementType()) : nullptr;
      bool fits = it && range.size() == 2 &&
                  (it.getWidth() == 64 ||
                   (it.getWidth() == 32 && range[0] >= INT32_MIN &&
                    range[1] <= INT32_MAX));
      if (!fits || range[0] > range[1] || it.isUnsigned() ||
          (it.getWidth() != 32 && it.getWidth() != 64) ||
          e.args[i].numElements() > 16) {
        f.emitError() << "entry point @" << e.name << " argument " << i
                      << ": lowbit.range takes [lo, hi] (lo <= hi, within "
                         "the type) on a signless or signed i32 or i64 "
                         "tensor of at most 16 elements";
        ok = false;
        continue;
      }
      e.args[i].range = std::make_pair(range[0], range[1]);
    }
    for (unsigned i = 0; i < ft.getNumResults(); ++i)
      sig(ft.getResult(i), "result", i, e.results[i]);
    entries.push_back(std::move(e));
  }
  if (ok && entries.empty()) {
    module.emitError() << "no entry point: the module has no public "
                          "function with a body";
    return failure();
  }
  return success(ok);
}

uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const auto *p = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/// The bytes of a constant global's value when it can move to the blob.
std::optional<ArrayRef<char>> constantBytes(LLVM::GlobalOp g) {
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

constexpr const char *kBaseSymbol = "__lowbit_weights";
/// The PTX string of an nvptx model (lowbit-gpu-offload).
constexpr StringLiteral kPtxSymbol = gpunames::kPtxSymbol;

/// Moves the large constant globals into `blob` and rewrites each address
/// of one into base + offset, the base a global that <prefix>_set_weights
/// fills.
void externalizeWeights(ModuleOp module, const CompileOptions &options,
                        CompileResult &result) {
  MLIRContext *ctx = module.getContext();
  std::vector<char> &blob = result.weights;
  blob.assign(kWeightsAlign, 0);
  llvm::StringMap<uint64_t> offsets;
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
    uint64_t at = blob.size();
    offsets[g.getSymName()] = at;
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

/// <prefix>_set_weights(ptr, size) -> i32 and, for each entry point,
/// <prefix>_<name>(buffers...) -> i32 calling the lowered function (now
/// internal): 0 on success, -1 when no weights are set.
LogicalResult addCEntryPoints(ModuleOp module, const CompileOptions &options,
                              CompileResult &result) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = module.getLoc();
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto cst = [&](Type t, int64_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, v));
  };
  b.setInsertionPointToEnd(module.getBody());

  // nvptx: the runtime's model calls, and <prefix>_last_error.
  bool gpu = options.target == "nvptx";
  LLVM::LLVMFuncOp beginFn, endFn, weightsChangedFn;
  if (gpu) {
    auto decl = [&](StringRef name, Type result, ArrayRef<Type> params) {
      if (auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
        return f;
      return LLVM::LLVMFuncOp::create(
          b, loc, name, LLVM::LLVMFunctionType::get(result, params));
    };
    beginFn = decl("lbrt_model_begin", i32, {ptrTy});
    endFn = decl("lbrt_model_end", i32, {ptrTy});
    weightsChangedFn = decl("lbrt_model_weights_changed", i32, {ptrTy});
    LLVM::LLVMFuncOp lastError = decl("lbrt_last_error", ptrTy, {});
    auto fn = LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_last_error",
                                       LLVM::LLVMFunctionType::get(ptrTy, {}));
    b.setInsertionPointToStart(fn.addEntryBlock(b));
    LLVM::ReturnOp::create(
        b, loc,
        LLVM::CallOp::create(b, loc, lastError, ValueRange{}).getResult());
    b.setInsertionPointToEnd(module.getBody());
  }

  // set_weights: null -> -1, size -> -2, magic/fingerprint -> -3,
  // alignment -> -4.
  auto setFn =
      LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_set_weights",
                               LLVM::LLVMFunctionType::get(i32, {ptrTy, i64}));
  {
    Block *entry = setFn.addEntryBlock(b);
    Value p = entry->getArgument(0), n = entry->getArgument(1);
    auto fail = [&](Block *from, Value cond, int code) -> Block * {
      Block *bad = b.createBlock(&setFn.getBody());
      LLVM::ReturnOp::create(b, loc, cst(i32, code));
      Block *next = b.createBlock(&setFn.getBody());
      b.setInsertionPointToEnd(from);
      LLVM::CondBrOp::create(b, loc, cond, bad, next);
      b.setInsertionPointToStart(next);
      return next;
    };
    b.setInsertionPointToStart(entry);
    Value null = LLVM::ZeroOp::create(b, loc, ptrTy);
    Block *cur = fail(
        entry, LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, p, null),
        -1);
    Value want = cst(i64, int64_t(result.weights.size()));
    cur = fail(cur,
               LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, n, want),
               -2);
    Value pi = LLVM::PtrToIntOp::create(b, loc, i64, p);
    Value mis = LLVM::AndOp::create(b, loc, pi, cst(i64, kWeightsAlign - 1));
    cur = fail(
        cur,
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, mis, cst(i64, 0)),
        -4);
    uint64_t magic;
    std::memcpy(&magic, kWeightsMagic, 8);
    Value m = LLVM::LoadOp::create(b, loc, i64, p, /*alignment=*/8);
    cur = fail(cur,
               LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, m,
                                    cst(i64, int64_t(magic))),
               -3);
    Value fpAt = LLVM::GEPOp::create(b, loc, ptrTy, b.getI8Type(), p,
                                     ArrayRef<LLVM::GEPArg>{16});
    Value fp = LLVM::LoadOp::create(b, loc, i64, fpAt, /*alignment=*/8);
    cur = fail(cur,
               LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, fp,
                                    cst(i64, int64_t(result.fingerprint))),
               -3);
    Value baseAddr = LLVM::AddressOfOp::create(b, loc, ptrTy, kBaseSymbol);
    LLVM::StoreOp::create(b, loc, p, baseAddr, /*alignment=*/8);
    if (gpu) {
      // The device copies of the old weights are stale now.
      Value ptx = LLVM::AddressOfOp::create(b, loc, ptrTy, kPtxSymbol);
      LLVM::CallOp::create(b, loc, weightsChangedFn, ValueRange{ptx});
    }
    LLVM::ReturnOp::create(b, loc, cst(i32, 0));
  }

  for (EntryPoint &e : result.entryPoints) {
    auto inner = module.lookupSymbol<LLVM::LLVMFuncOp>(e.name);
    e.tied.assign(e.results.size(), -1);
    if (inner)
      if (auto t = inner->getAttrOfType<ArrayAttr>("lowbit.tied_results"))
        if (t.size() == e.results.size())
          for (auto [i, a] : llvm::enumerate(t))
            e.tied[i] = cast<IntegerAttr>(a).getInt();
    if (inner) {
      // lowbit's own attributes stop here: LLVM IR has no place for them.
      inner->removeAttr("lowbit.tied_results");
      for (unsigned i = 0; i < inner.getNumArguments(); ++i)
        inner.removeArgAttr(i, b.getStringAttr("lowbit.range"));
    }
    size_t buffers = e.args.size();
    for (int64_t t : e.tied)
      buffers += t < 0;
    if (!inner || inner.getNumArguments() != buffers ||
        !isa<LLVM::LLVMVoidType>(inner.getFunctionType().getReturnType())) {
      module.emitError() << "entry point @" << e.name
                         << " did not lower to a function of " << buffers
                         << " buffers (a result that aliases an argument "
                            "without being that argument updated in place "
                            "is not supported)";
      return failure();
    }
    std::string innerName = "__lowbit_entry_" + e.name;
    if (failed(SymbolTable::replaceAllSymbolUses(
            inner, b.getStringAttr(innerName), module)))
      return failure();
    inner.setSymName(innerName);
    inner.setLinkage(LLVM::Linkage::Internal);
    b.setInsertionPointToEnd(module.getBody());
    SmallVector<Type> params(buffers, ptrTy);
    auto fn =
        LLVM::LLVMFuncOp::create(b, loc, options.prefix + "_" + e.name,
                                 LLVM::LLVMFunctionType::get(i32, params));
    Block *entry = fn.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    Value baseAddr = LLVM::AddressOfOp::create(b, loc, ptrTy, kBaseSymbol);
    Value base = LLVM::LoadOp::create(b, loc, ptrTy, baseAddr, /*alignment=*/8);
    Value null = LLVM::ZeroOp::create(b, loc, ptrTy);
    Value unset =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, base, null);
    Block *bad = b.createBlock(&fn.getBody());
    LLVM::ReturnOp::create(b, loc, cst(i32, -1));
    Block *run = b.createBlock(&fn.getBody());
    // Arguments with a lowbit.range: every element inside it, else -2.
    Value outside;
    for (auto [i, arg] : llvm::enumerate(e.args)) {
      if (!arg.range)
        continue;
      Type et = arg.cType == "int64_t" ? i64 : i32;
      for (int64_t k = 0; k < arg.numElements(); ++k) {
        Value at = LLVM::GEPOp::create(b, loc, ptrTy, et, entry->getArgument(i),
                                       ArrayRef<LLVM::GEPArg>{int32_t(k)});
        Value v = LLVM::LoadOp::create(b, loc, et, at);
        Value lo = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::slt, v,
                                        cst(et, arg.range->first));
        Value hi = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::sgt, v,
                                        cst(et, arg.range->second));
        Value o = LLVM::OrOp::create(b, loc, lo, hi);
        outside = outside ? LLVM::OrOp::create(b, loc, outside, o) : o;
      }
    }
    if (outside) {
      Block *rangeBad = b.createBlock(&fn.getBody());
      LLVM::ReturnOp::create(b, loc, cst(i32, -2));
      Block *call = b.createBlock(&fn.getBody());
      b.setInsertionPointToEnd(run);
      LLVM::CondBrOp::create(b, loc, outside, rangeBad, call);
      b.setInsertionPointToStart(call);
    }
    if (!gpu) {
      LLVM::CallOp::create(b, loc, inner, entry->getArguments());
      LLVM::ReturnOp::create(b, loc, cst(i32, 0));
    } else {
      // The GPU model's lock, driver and module first (-3 before anything
      // runs when they fail), then -3 if a launch failed.
      Block *cur = b.getInsertionBlock();
      Value ptx = LLVM::AddressOfOp::create(b, loc, ptrTy, kPtxSymbol);
      Value rc =
          LLVM::CallOp::create(b, loc, beginFn, ValueRange{ptx}).getResult();
      Value bad3 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, rc,
                                        cst(i32, 0));
      Block *gpuBad = b.createBlock(&fn.getBody());
      LLVM::ReturnOp::create(b, loc, cst(i32, -3));
      Block *call = b.createBlock(&fn.getBody());
      b.setInsertionPointToEnd(cur);
      LLVM::CondBrOp::create(b, loc, bad3, gpuBad, call);
      b.setInsertionPointToStart(call);
      LLVM::CallOp::create(b, loc, inner, entry->getArguments());
      Value rc2 =
          LLVM::CallOp::create(b, loc, endFn, ValueRange{ptx}).getResult();
      Value bad4 = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, rc2,
                                        cst(i32, 0));
      Value r = LLVM::SelectOp::create(b, loc, bad4, cst(i32, -3), cst(i32, 0));
      LLVM::ReturnOp::create(b, loc, r);
    }
    b.setInsertionPointToEnd(entry);
    LLVM::CondBrOp::create(b, loc, unset, bad, run);
  }
  return success();
}

std::string shapeComment(const BufferSignature &s) {
  std::string out = s.cType;
  for (int64_t d : s.shape)
    out += "[" + std::to_string(d) + "]";
  return out;
}

std::string makeHeader(const CompileOptions &options,
                       const CompileResult &result) {
  std::string p = options.prefix;
  std::string P = llvm::StringRef(p).upper();
  std::string h;
  llvm::raw_string_ostream os(h);
  os << "/* " << p << ".h: generated by lowbit-compile; do not edit.\n"
     << " *\n"
     << " * Plain C entry points of an ahead-of-time compiled lowbit model.\n"
     << " * Load the weights blob once (" << p
     << "_load_weights maps the file; " << p << "_set_weights takes\n"
     << " * memory you own, 64-byte aligned), then call the entry points\n"
     << " * from any thread. Buffers are dense row-major arrays of the\n"
     << " * shapes below; f16/bf16 elements are passed as their bits.\n"
     << " * Entry points return 0, -1 when no weights are loaded, or -2\n"
     << " * when an argument is outside its range (nothing is written)."
     << (options.target == "nvptx"
             ? "\n *\n * Target nvptx (" + options.sm +
                   "): what the GPU kernels cover runs on the GPU through\n"
                   " * lowbit's runtime, which opens the CUDA driver "
                   "(libcuda.so.1, or\n * $LOWBIT_CUDA_DRIVER) at the "
                   "first call, on device $LOWBIT_CUDA_DEVICE or 0.\n"
                   " * Entry points return -3 when the driver, the device "
                   "or a launch fails\n * (" +
                   p +
                   "_last_error() says why; after a failed launch the "
                   "outputs\n * are undefined). Link: the library "
                   "links lowbit's runtime; an object\n * file needs "
                   "liblowbit_runtime.a -ldl -lstdc++ -lpthread (-lomp "
                   "too when the\n * host code has parallel loops). Calls "
                   "into one model are serialized\n * (its GPU state is "
                   "made at the first call and kept). */\n"
             : std::string(" */\n"))
     << "#ifndef " << P << "_H\n#define " << P << "_H\n\n"
     << "#include <stddef.h>\n#include <stdint.h>\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  os << "/* The weights blob this binary was compiled with. */\n"
     << "#define " << P << "_WEIGHTS_SIZE " << result.weights.size() << "ull\n"
     << "#define " << P << "_WEIGHTS_FINGERPRINT 0x";
  os.write_hex(result.fingerprint);
  os << "ull\n\n";
  os << "/* Uses the blob at `data` (" << P
     << "_WEIGHTS_SIZE bytes, 64-byte aligned, kept alive\n"
     << " * by the caller): 0, or -1 null, -2 wrong size, -3 not this "
        "model's\n * blob, -4 misaligned. */\n"
     << "int " << p << "_set_weights(const void *data, size_t size);\n\n";
  if (options.target == "nvptx")
    os << "/* The message of the last failure (-3) on this thread. */\n"
       << "const char *" << p << "_last_error(void);\n\n";
  for (const EntryPoint &e : result.entryPoints) {
    os << "/* @" << e.name << ":";
    for (size_t i = 0; i < e.args.size(); ++i)
      os << "\n *   arg" << i << ": " << shapeComment(e.args[i]) << " ("
         << e.args[i].mlirType
         << (e.isUpdated(i) ? ", input and output: updated in place)"
                            : ", input)");
    for (size_t i = 0; i < e.args.size(); ++i)
      if (e.args[i].range)
        os << "\n *   arg" << i << " elements must lie in ["
           << e.args[i].range->first << ", " << e.args[i].range->second
           << "]: -2 otherwise";
    for (size_t i = 0; i < e.results.size(); ++i) {
      if (e.tied[i] >= 0)
        os << "\n *   result" << i << ": arg" << e.tied[i];
      else
        os << "\n *   result" << i << ": " << shapeComment(e.results[i]) << " ("
           << e.results[i].mlirType << ", output)";
    }
    os << " */\nint " << p << "_" << e.name << "(";
    bool first = true;
    for (size_t i = 0; i < e.args.size(); ++i, first = false)
      os << (first ? "" : ", ") << (e.isUpdated(i) ? "" : "const ")
         << e.args[i].cType << " *arg" << i;
    for (size_t i = 0; i < e.results.size(); ++i) {
      if (e.tied[i] >= 0)
        continue;
      os << (first ? "" : ", ") << e.results[i].cType << " *result" << i;
      first = false;
    }
    if (first)
      os << "void";
    os << ");\n";
    for (size_t i = 0; i < e.args.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : e.args[i].shape)
        n *= d;
      os << "#define " << P << "_" << llvm::StringRef(e.name).upper() << "_ARG"
         << i << "_ELEMENTS " << n << "\n";
    }
    for (size_t i = 0; i < e.results.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : e.results[i].shape)
        n *= d;
      os << "#define " << P << "_" << llvm::StringRef(e.name).upper()
         << "_RESULT" << i << "_ELEMENTS " << n << "\n";
    }
    os << "\n";
  }
  // The loader: POSIX mmap, header-only so the library needs no runtime.
  os << "#if defined(__unix__) || defined(__APPLE__)\n"
     << "#include <errno.h>\n#include <fcntl.h>\n#include <stdio.h>\n"
     << "#include <string.h>\n"
     << "#include <sys/mman.h>\n#include <sys/stat.h>\n#include <unistd.h>\n\n"
     << "/* Maps `path` read-only and sets it as the weights: 0, or -1 with "
        "a\n * message in err[errlen]. Call it once: the mapping lives until "
        "the process\n * ends. */\n"
     << "static inline int " << p
     << "_load_weights(const char *path, char *err, size_t errlen) {\n"
     << "  int fd = open(path, O_RDONLY | O_CLOEXEC);\n"
     << "  struct stat st;\n  void *data;\n  int rc;\n"
     << "  if (fd < 0 || fstat(fd, &st) != 0) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: %s\", path, "
        "strerror(errno));\n"
     << "    if (fd >= 0) close(fd);\n    return -1;\n  }\n"
     << "  if ((uint64_t)st.st_size != " << P << "_WEIGHTS_SIZE) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: %lld bytes, this model's "
        "weights are %llu\", path,\n"
     << "                      (long long)st.st_size, " << P
     << "_WEIGHTS_SIZE);\n"
     << "    close(fd);\n    return -1;\n  }\n"
     << "  data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, "
        "fd, 0);\n"
     << "  close(fd);\n"
     << "  if (data == MAP_FAILED) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: mmap: %s\", path, "
        "strerror(errno));\n"
     << "    return -1;\n  }\n"
     << "  rc = " << p << "_set_weights(data, (size_t)st.st_size);\n"
     << "  if (rc != 0) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: not the weights this "
        "model was compiled with (%d)\", path, rc);\n"
     << "    munmap(data, (size_t)st.st_size);\n    return -1;\n  }\n"
     << "  return 0;\n}\n#endif\n\n";
  os << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << P << "_H */\n";
  return h;
}

/// The entry points and the blob's identity in JSON: what the Python
/// package (lowbit.compile) loads instead of parsing the header.
std::string makeManifest(const CompileOptions &options,
                         const CompileResult &result) {
  llvm::json::Array entries;
  auto buffer = [](const BufferSignature &b) {
    llvm::json::Array shape;
    for (int64_t d : b.shape)
      shape.push_back(d);
    return llvm::json::Object{{"c_type", b.cType},
                              {"mlir_type", b.mlirType},
                              {"shape", std::move(shape)}};
  };
  for (const EntryPoint &e : result.entryPoints) {
    llvm::json::Array args, results;
    for (size_t i = 0; i < e.args.size(); ++i) {
      llvm::json::Object a = buffer(e.args[i]);
      a["updated_in_place"] = e.isUpdated(i);
      if (e.args[i].range)
        a["range"] =
            llvm::json::Array{e.args[i].range->first, e.args[i].range->second};
      args.push_back(std::move(a));
    }
    for (size_t i = 0; i < e.results.size(); ++i) {
      llvm::json::Object r = buffer(e.results[i]);
      r["tied_to_arg"] = e.tied[i];
      results.push_back(std::move(r));
    }
    entries.push_back(
        llvm::json::Object{{"name", e.name},
                           {"symbol", options.prefix + "_" + e.name},
                           {"args", std::move(args)},
                           {"results", std::move(results)}});
  }
  llvm::json::Array kernels;
  for (const std::string &k : result.gpuKernels)
    kernels.push_back(k);
  char fp[32];
  std::snprintf(fp, sizeof fp, "0x%016llx",
                (unsigned long long)result.fingerprint);
  llvm::json::Object root{
      {"format", "lowbit-compile manifest 1"},
      {"prefix", options.prefix},
      {"target", options.target},
      {"sm", options.target == "nvptx" ? llvm::json::Value(options.sm)
                                       : llvm::json::Value(nullptr)},
      {"gpu_kernels", std::move(kernels)},
      {"last_error", options.target == "nvptx"
                         ? llvm::json::Value(options.prefix + "_last_error")
                         : llvm::json::Value(nullptr)},
      {"target_cpu", options.targetCpu},
      {"pipeline", options.pipeline},
      {"weights_size", int64_t(result.weights.size())},
      {"weights_fingerprint", fp},
      {"set_weights", options.prefix + "_set_weights"},
      {"entry_points", std::move(entries)}};
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  return out;
}

bool isCIdentifier(StringRef s) {
  if (s.empty() || !(llvm::isAlpha(s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(s, [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

} // namespace

LogicalResult mlir::lowbit::compileModule(ModuleOp module,
                                          const CompileOptions &options,
                                          CompileResult &result) {
  MLIRContext *ctx = module.getContext();
  registerLowbitPasses();
  bool gpu = options.target == "nvptx";
  if (options.target != "x86_64" && !gpu)
    return module.emitError()
           << "unknown target '" << options.target << "' (x86_64 or nvptx)";
  if (options.stopAfter == CompilePhase::PTX && !gpu)
    return module.emitError() << "phase 'ptx' needs --target=nvptx";
  if (!isCIdentifier(options.prefix))
    return module.emitError()
           << "prefix '" << options.prefix << "' is not a C identifier";
  if (failed(verify(module)))
    return failure();
  if (options.stopAfter == CompilePhase::Input) {
    result.phaseText = printOp(module);
    return success();
  }

  if (!options.pipeline.empty()) {
    std::string text = options.pipeline;
    if (!StringRef(text).starts_with("builtin.module("))
      text = "builtin.module(" + text + ")";
    std::string err;
    llvm::raw_string_ostream es(err);
    FailureOr<OpPassManager> parsed = parsePassPipeline(text, es);
    if (failed(parsed))
      return module.emitError()
             << "bad pipeline '" << options.pipeline << "': " << err;
    PassManager pm(ctx);
    static_cast<OpPassManager &>(pm) = std::move(*parsed);
    if (failed(pm.run(module)))
      return failure();
  }
  if (failed(collectEntryPoints(module, result.entryPoints)))
    return failure();
  if (options.stopAfter == CompilePhase::Quantized) {
    result.phaseText = printOp(module);
    return success();
  }

  // Code generation by phase (lib/Pipelines, docs/Design.md): lower, then
  // bufferize, then llvm; --compile-to may stop after any of them.
  CodegenOptions codegen;
  codegen.backend = gpu ? Backend::NVPTX : Backend::CPU;
  codegen.targetCpu = options.targetCpu;
  codegen.chip = options.sm;
  codegen.barePtrABI = true;
  auto runPhase = [&](Phase phase) {
    PassManager pm(ctx);
    addPhase(pm, phase, codegen);
    return pm.run(module);
  };
  if (failed(runPhase(Phase::Lower)))
    return failure();
  if (gpu) {
    // The PTX of the GPU kernels (docs/Compile.md), and the kernels the
    // host code launches.
    // lowbit-gpu-offload has moved it from the gpu.binary into a global.
    std::string ptx;
    if (auto global = module.lookupSymbol<LLVM::GlobalOp>(gpunames::kPtxSymbol))
      if (auto text = dyn_cast_or_null<StringAttr>(global.getValueOrNull()))
        ptx = text.getValue().rtrim('\0').str();
    if (options.stopAfter == CompilePhase::PTX) {
      if (ptx.empty())
        return module.emitError()
               << "no GPU kernel covers an op of this module (no PTX)";
      result.phaseText = std::move(ptx);
      return success();
    }
    module.walk([&](LaunchOp op) {
      std::string k = op.getKernel().getLeafReference().getValue().str();
      if (!llvm::is_contained(result.gpuKernels, k))
        result.gpuKernels.push_back(k);
    });
    if (result.gpuKernels.empty())
      return module.emitError()
             << "--target=nvptx: no GPU kernel covers an op of this module "
                "(docs/CodegenGPU.md lists the kernels; use --target=x86_64)";
    result.needsRuntime = true;
  }
  if (options.stopAfter == CompilePhase::Lowered) {
    result.phaseText = printOp(module);
    return success();
  }
  if (failed(runPhase(Phase::Bufferize)))
    return failure();
  if (options.stopAfter == CompilePhase::Bufferized) {
    result.phaseText = printOp(module);
    return success();
  }
  if (failed(runPhase(Phase::LLVM)))
    return failure();
  externalizeWeights(module, options, result);
  if (failed(addCEntryPoints(module, options, result)))
    return failure();
  if (failed(verify(module)))
    return failure();
  result.header = makeHeader(options, result);
  result.manifest = makeManifest(options, result);
  if (options.stopAfter == CompilePhase::LLVM) {
    result.phaseText = printOp(module);
    return success();
  }

  // LLVM IR and the target machine.
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerOpenMPDialectTranslation(*ctx);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmCtx, options.prefix);
  if (!llvmModule)
    return module.emitError() << "translation to LLVM IR failed";
  llvm::Triple triple("x86_64-unknown-linux-gnu");
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return module.emitError() << "no x86_64 target in this LLVM: " << error;
  std::string cpu = options.targetCpu, features;
  if (cpu == "host") {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures f;
    for (auto &kv : llvm::sys::getHostCPUFeatures())
      f.AddFeature(kv.first(), kv.second);
    features = f.getString();
  }
  llvm::TargetOptions to;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, to, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Default));
  if (!tm)
    return module.emitError()
           << "cannot make a target machine for CPU '" << cpu << "'";
  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(tm->createDataLayout());
  auto optimize = makeOptimizingTransformer(2, 0, tm.get());
  if (llvm::Error e = optimize(llvmModule.get()))
    return module.emitError()
           << "LLVM optimization failed: " << llvm::toString(std::move(e));
  for (llvm::Function &f : *llvmModule) {
    if (!f.isDeclaration())
      continue;
    if (f.getName().starts_with("__kmpc_") || f.getName().starts_with("omp_"))
      result.needsOpenMP = true;
    if (f.getName() == "memrefCopy")
      result.needsRunnerUtils = true;
  }
  if (options.stopAfter == CompilePhase::LLVMIR) {
    llvm::raw_string_ostream os(result.phaseText);
    llvmModule->print(os, nullptr);
    return success();
  }
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager cg;
  bool asmOut = options.stopAfter == CompilePhase::Assembly;
  if (tm->addPassesToEmitFile(cg, os, nullptr,
                              asmOut ? llvm::CodeGenFileType::AssemblyFile
                                     : llvm::CodeGenFileType::ObjectFile))
    return module.emitError() << "the target cannot emit this file type";
  cg.run(*llvmModule);
  if (asmOut)
    result.phaseText.assign(buffer.begin(), buffer.end());
  else
    result.object.assign(buffer.begin(), buffer.end());
  return success();
}

/// The static GPU runtime: beside an installed lowbit-compile
/// (<prefix>/lib), else in the build tree it was built in.
static std::string runtimeArchive() {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  if (!exe.empty()) {
    SmallString<256> p(
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
    llvm::sys::path::append(p, "lib", "liblowbit_runtime.a");
    if (llvm::sys::fs::exists(p))
      return std::string(p);
  }
  if (llvm::sys::fs::exists(LOWBIT_RUNTIME_ARCHIVE))
    return LOWBIT_RUNTIME_ARCHIVE;
  return "";
}

LogicalResult mlir::lowbit::linkSharedLibrary(const CompileResult &result,
                                              StringRef objectPath,
                                              StringRef soPath,
                                              std::string &error) {
  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc) {
    error = "no C compiler driver (cc) on PATH to link a shared library";
    return failure();
  }
  std::vector<std::string> args = {*cc, "-shared", "-o", soPath.str(),
                                   objectPath.str()};
  if (result.needsOpenMP || result.needsRunnerUtils) {
    args.push_back("-L" LOWBIT_LLVM_LIB_DIR);
    args.push_back("-Wl,-rpath," LOWBIT_LLVM_LIB_DIR);
  }
  if (result.needsOpenMP)
    args.push_back("-lomp");
  if (result.needsRunnerUtils)
    args.push_back("-lmlir_c_runner_utils");
  if (result.needsRuntime) {
    std::string archive = runtimeArchive();
    if (archive.empty()) {
      error = "lowbit's GPU runtime (liblowbit_runtime.a) is not installed "
              "beside lowbit-compile (lib/) nor in its build tree";
      return failure();
    }
    args.push_back(archive);
    // The runtime stays private to the library (no lbrt_* exports that
    // another copy could bind to).
    args.push_back("-Wl,--exclude-libs,ALL");
    args.push_back("-ldl");
    args.push_back("-lstdc++");
    args.push_back("-lpthread");
  }
  std::vector<StringRef> refs(args.begin(), args.end());
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(*cc, refs, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    error = "linking " + soPath.str() + " failed (" + llvm::join(refs, " ") +
            ")" + (msg.empty() ? "" : ": " + msg);
    return failure();
  }
  return success();
}
