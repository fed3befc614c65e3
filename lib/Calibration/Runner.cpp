//===- Runner.cpp - JIT the instrumented model over calibration inputs ---===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Pipelines/Pipelines.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace ::lowbit::calibration;
using ::lowbit::numerics::Status;
namespace calibration = ::lowbit::calibration;

namespace {

// The recorder of the run in progress (one per thread).
thread_local Recorder *activeRecorder = nullptr;
thread_local Status *activeStatus = nullptr;

/// MLIR's unranked memref descriptor (rank, pointer to the ranked one:
/// allocated, aligned, offset, sizes[rank], strides[rank]).
struct UnrankedDescriptor {
  int64_t rank;
  void *descriptor;
};

/// `_mlir_ciface_lowbitCalibRecord`: called by the instrumented code with
/// one site's activations.
extern "C" void lowbitCalibRecordImpl(int64_t site, UnrankedDescriptor *m) {
  if (!activeRecorder || !activeStatus->ok())
    return;
  const int64_t rank = m->rank;
  const int64_t *d = static_cast<const int64_t *>(m->descriptor);
  const float *aligned = reinterpret_cast<const float *>(d[1]);
  const int64_t offset = d[2];
  const int64_t *sizes = d + 3, *strides = d + 3 + rank;
  if (rank < 1) {
    *activeStatus =
        Status::error("site " + std::to_string(site) + ": rank-0 activation");
    return;
  }
  int64_t channels = sizes[rank - 1], tokens = 1;
  for (int64_t i = 0; i + 1 < rank; ++i)
    tokens *= sizes[i];
  // Gather into row-major order (the buffer may be a strided view).
  std::vector<float> data(static_cast<size_t>(tokens * channels));
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  for (int64_t flat = 0; flat < tokens * channels; ++flat) {
    int64_t pos = offset;
    for (int64_t i = 0; i < rank; ++i)
      pos += idx[size_t(i)] * strides[i];
    data[size_t(flat)] = aligned[pos];
    for (int64_t i = rank; i-- > 0;) {
      if (++idx[size_t(i)] < sizes[i])
        break;
      idx[size_t(i)] = 0;
    }
  }
  *activeStatus = activeRecorder->record(site, data.data(), tokens, channels);
}

} // namespace

Status
calibration::run(ModuleOp module, const std::string &entry,
                 const std::vector<std::vector<std::vector<float>>> &inputs,
                 const Options &options, std::vector<SiteStats> &out,
                 const std::function<void(size_t, size_t)> &progress) {
  MLIRContext *ctx = module.getContext();
  std::string diagnostics;
  ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
    diagnostics += diag.str() + "\n";
    return success();
  });
  auto fn = module.lookupSymbol<func::FuncOp>(entry);
  if (!fn)
    return Status::error("no function @" + entry + " in the model");
  std::vector<std::vector<int64_t>> argShapes;
  for (Type t : fn.getArgumentTypes()) {
    auto rt = dyn_cast<RankedTensorType>(t);
    if (!rt || !rt.hasStaticShape() || !rt.getElementType().isF32())
      return Status::error("@" + entry +
                           ": arguments must be static f32 tensors");
    argShapes.emplace_back(rt.getShape().begin(), rt.getShape().end());
  }
  for (size_t call = 0; call < inputs.size(); ++call) {
    if (inputs[call].size() != argShapes.size())
      return Status::error("calibration input " + std::to_string(call) +
                           " has " + std::to_string(inputs[call].size()) +
                           " arrays; @" + entry + " takes " +
                           std::to_string(argShapes.size()));
    for (size_t a = 0; a < argShapes.size(); ++a) {
      int64_t n = 1;
      for (int64_t dim : argShapes[a])
        n *= dim;
      if (int64_t(inputs[call][a].size()) != n)
        return Status::error("calibration input " + std::to_string(call) +
                             ", argument " + std::to_string(a) + ": " +
                             std::to_string(inputs[call][a].size()) +
                             " values, the argument has " + std::to_string(n));
    }
  }

  // Instrument, then lower to LLVM.
  PassManager instrument(ctx);
  mlir::lowbit::LowbitInstrumentCalibrationOptions io;
  io.entry = entry;
  instrument.addPass(mlir::lowbit::createLowbitInstrumentCalibration(io));
  if (failed(instrument.run(module)))
    return Status::error("instrumenting the model failed:\n" + diagnostics);
  std::vector<std::string> names;
  if (auto sites = module->getAttrOfType<ArrayAttr>(
          mlir::lowbit::LowbitDialect::CalibrationSitesAttrHelper::
              getNameStr()))
    for (Attribute a : sites)
      names.push_back(cast<StringAttr>(a).str());
  PassManager lower(ctx);
  mlir::lowbit::buildReferenceToLLVMPipeline(lower);
  if (failed(lower.run(module)))
    return Status::error("lowering the model failed:\n" + diagnostics);

  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  ExecutionEngineOptions eo;
  auto transformer = makeOptimizingTransformer(2, 0, nullptr);
  eo.transformer = transformer;
  // MLIR's runner libraries: memref copies, and printMemref* should the
  // model print.
  const std::string cUtils = LOWBIT_MLIR_LIB_DIR "/libmlir_c_runner_utils.so";
  const std::string utils = LOWBIT_MLIR_LIB_DIR "/libmlir_runner_utils.so";
  llvm::StringRef libs[] = {cUtils, utils};
  eo.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(module, eo);
  if (!engine)
    return Status::error("JIT compilation failed: " +
                         llvm::toString(engine.takeError()));
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    map[interner("_mlir_ciface_lowbitCalibRecord")] = {
        llvm::orc::ExecutorAddr::fromPtr(&lowbitCalibRecordImpl),
        llvm::JITSymbolFlags::Exported};
    return map;
  });

  Recorder recorder(names, options);
  Status status = Status::success();
  activeRecorder = &recorder;
  activeStatus = &status;
  for (size_t call = 0; call < inputs.size() && status.ok(); ++call) {
    // One ranked descriptor per argument (identity layout).
    std::vector<std::vector<int64_t>> descs;
    std::vector<void *> descPtrs, args;
    for (size_t a = 0; a < argShapes.size(); ++a) {
      const std::vector<int64_t> &shape = argShapes[a];
      std::vector<int64_t> d(3 + 2 * shape.size());
      auto ptr = reinterpret_cast<int64_t>(inputs[call][a].data());
      d[0] = d[1] = ptr;
      d[2] = 0;
      int64_t stride = 1;
      for (size_t i = shape.size(); i-- > 0;) {
        d[3 + i] = shape[i];
        d[3 + shape.size() + i] = stride;
        stride *= shape[i];
      }
      descs.push_back(std::move(d));
    }
    for (auto &d : descs)
      descPtrs.push_back(d.data());
    for (void *&p : descPtrs)
      args.push_back(&p);
    if (llvm::Error err =
            (*engine)->invokePacked("_mlir_ciface___lowbit_calibrate", args)) {
      status = Status::error("running the model failed: " +
                             llvm::toString(std::move(err)));
      break;
    }
    if (progress)
      progress(call + 1, inputs.size());
  }
  activeRecorder = nullptr;
  activeStatus = nullptr;
  if (!status.ok())
    return status;
  out = recorder.sites();
  return Status::success();
}
