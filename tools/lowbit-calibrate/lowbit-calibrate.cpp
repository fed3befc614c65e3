//===- lowbit-calibrate.cpp - activation statistics of a model ------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//   lowbit-calibrate MODEL.mlir --entry FN --input X.npy[,Y.npy...] ...
//                    [--inputs-from LIST] [--gram] [--bins N] -o DIR
//
// Runs FN once per --input (one .npy per argument, comma-separated; LIST
// has one such line per call) through the CPU path with every contraction
// site's activations recorded, and writes the statistics to DIR
// (docs/Passes.md, "Sites and statistics"): index.json plus per-site
// absmax/min/max/meanabs/hist .npy files, and gram.npy with --gram.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Calibration/Calibration.h"
#include "lowbit/Numerics/Npy.h"
#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace calibration = ::lowbit::calibration;
namespace numerics = ::lowbit::numerics;

static llvm::cl::OptionCategory calibrateCategory("lowbit-calibrate options");

static llvm::cl::opt<std::string> modelPath(llvm::cl::Positional,
                                            llvm::cl::desc("MODEL.mlir"),
                                            llvm::cl::Required,
                                            llvm::cl::cat(calibrateCategory));
static llvm::cl::opt<std::string>
    entry("entry", llvm::cl::desc("Function to run per calibration input"),
          llvm::cl::Required, llvm::cl::cat(calibrateCategory));
static llvm::cl::list<std::string>
    inputs("input",
           llvm::cl::desc("Arrays of one call: X.npy[,Y.npy...] (repeatable)"),
           llvm::cl::cat(calibrateCategory));
static llvm::cl::opt<std::string>
    inputsFrom("inputs-from",
               llvm::cl::desc("File with one --input value per line"),
               llvm::cl::cat(calibrateCategory));
static llvm::cl::opt<std::string> outDir("o", llvm::cl::desc("Output dir"),
                                         llvm::cl::Required,
                                         llvm::cl::cat(calibrateCategory));
static llvm::cl::opt<bool> gram("gram", llvm::cl::desc("Also accumulate X^T X"),
                                llvm::cl::cat(calibrateCategory));
static llvm::cl::opt<int64_t> bins("bins", llvm::cl::desc("Histogram bins"),
                                   llvm::cl::init(2048),
                                   llvm::cl::cat(calibrateCategory));
static llvm::cl::opt<int64_t>
    samples("samples",
            llvm::cl::desc("Keep the first N activation rows per site (AWQ)"),
            llvm::cl::init(0), llvm::cl::cat(calibrateCategory));

static int fail(const std::string &msg) {
  llvm::errs() << "lowbit-calibrate: error: " << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(calibrateCategory);
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "lowbit-calibrate: activation statistics of a model\n");
  if (bins < 2 || (bins & (bins - 1)))
    return fail("--bins must be a power of two >= 2");

  std::vector<std::string> calls(inputs.begin(), inputs.end());
  if (!inputsFrom.empty()) {
    auto buf = llvm::MemoryBuffer::getFile(inputsFrom);
    if (!buf)
      return fail(inputsFrom + ": " + buf.getError().message());
    llvm::SmallVector<llvm::StringRef> lines;
    (*buf)->getBuffer().split(lines, '\n', -1, false);
    for (llvm::StringRef l : lines)
      if (!l.trim().empty())
        calls.push_back(l.trim().str());
  }
  if (calls.empty())
    return fail("no calibration inputs (--input or --inputs-from)");

  std::vector<std::vector<std::vector<float>>> data;
  std::vector<std::vector<std::vector<int64_t>>> shapes;
  std::vector<std::vector<std::string>> names;
  for (const std::string &call : calls) {
    llvm::SmallVector<llvm::StringRef> files;
    llvm::StringRef(call).split(files, ',', -1, false);
    std::vector<std::vector<float>> arrays;
    shapes.emplace_back();
    names.emplace_back();
    for (llvm::StringRef f : files) {
      std::vector<int64_t> shape;
      std::vector<float> values;
      numerics::Status st = numerics::readNpyFloat(f.str(), shape, values);
      if (!st.ok())
        return fail(st.message());
      arrays.push_back(std::move(values));
      shapes.back().push_back(shape);
      names.back().push_back(f.str());
    }
    data.push_back(std::move(arrays));
  }

  DialectRegistry registry;
  mlir::lowbit::registerLowbitDialects(registry);
  MLIRContext ctx(registry);
  llvm::SourceMgr sourceMgr;
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(modelPath);
  if (!file)
    return fail(modelPath + ": " + file.getError().message());
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module;
  {
    SourceMgrDiagnosticHandler handler(sourceMgr, &ctx);
    module = parseSourceFile<ModuleOp>(sourceMgr, &ctx);
  }
  if (!module)
    return 1; // the parser printed the diagnostic

  // Each array must have its argument's exact shape.
  if (auto fn = module->lookupSymbol<func::FuncOp>(entry)) {
    for (size_t call = 0; call < shapes.size(); ++call)
      for (size_t a = 0; a < shapes[call].size() && a < fn.getNumArguments();
           ++a) {
        auto t = dyn_cast<RankedTensorType>(fn.getArgumentTypes()[a]);
        if (t && t.hasStaticShape() &&
            llvm::ArrayRef<int64_t>(shapes[call][a]) != t.getShape()) {
          std::string want, got;
          llvm::raw_string_ostream w(want), g(got);
          llvm::interleave(t.getShape(), w, "x");
          llvm::interleave(shapes[call][a], g, "x");
          return fail(names[call][a] + ": shape " + got + ", but argument " +
                      std::to_string(a) + " of @" + entry + " is " + want);
        }
      }
  }

  calibration::Options options;
  options.bins = bins;
  options.gram = gram;
  options.samples = samples;
  std::vector<calibration::SiteStats> stats;
  numerics::Status st = calibration::run(
      *module, entry, data, options, stats, [](size_t done, size_t total) {
        llvm::errs() << "lowbit-calibrate: " << done << "/" << total
                     << " inputs\n";
      });
  if (!st.ok())
    return fail(st.message());
  st = calibration::writeStatistics(outDir, stats);
  if (!st.ok())
    return fail(st.message());
  llvm::errs() << "lowbit-calibrate: " << stats.size() << " sites -> " << outDir
               << "\n";
  return 0;
}
