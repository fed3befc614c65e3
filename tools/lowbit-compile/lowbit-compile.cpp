//===- lowbit-compile.cpp - ahead-of-time compiled lowbit models ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//   lowbit-compile model.mlir -o out [--pipeline=lowbit-w4a8{group=32}]
//       [--target=x86_64|nvptx] [--target-cpu=host|x86-64-v3|...]
//       [--sm=sm_80|sm_89|sm_90|...] [--shared]
//       [--prefix=NAME] [--compile-to=PHASE]
//
// Writes out.o (or out.so with --shared), out.h (the C API), out.json
// (the same for bindings) and out.weights (the blob the binary maps at
// start); all of them or none.
// --compile-to=input|quantized|ptx|llvm|llvm-ir|asm stops after that phase
// and prints it. docs/Compile.md.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compile/Compiler.h"
#include "lowbit/Import/Llama.h"
#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory compileCategory("lowbit-compile options");

static cl::opt<std::string>
    inputFile(cl::Positional,
              cl::desc("<input.mlir | model.gguf | model.safetensors | "
                       "model.safetensors.index.json | model directory>"),
              cl::Required, cl::cat(compileCategory));
static cl::opt<int64_t>
    maxSeq("max-seq",
           cl::desc("Imported models: KV cache length in tokens (0: the "
                    "model's context, at most 2048)"),
           cl::init(0), cl::cat(compileCategory));
static cl::opt<std::string>
    kvCache("kv-cache",
            cl::desc("Imported models: KV cache storage: f32, f16 (keys and "
                     "values rounded to f16, attention's dot products on f16 "
                     "operands with f32 sums, as llama.cpp's default cache), "
                     "int8, fp8 (per token and head), int4, int2 (KIVI: keys "
                     "per channel, values per token, the current 32-token "
                     "group in f32)"),
            cl::init("f32"), cl::cat(compileCategory));
static cl::list<int64_t> prefillChunks(
    "prefill",
    cl::desc("Imported models: chunk sizes of the prefill entry points "
             "prefill_<C> (comma-separated; each runs C prompt tokens in one "
             "call, docs/Prefill.md); 0: none, only decode"),
    cl::CommaSeparated, cl::cat(compileCategory));
static cl::opt<bool>
    dequantizeGGUF("dequantize-gguf",
                   cl::desc("Imported models: widen every weight to f32 "
                            "(default: GGUF blocks with a CPU kernel and "
                            "f16 / bf16 weights stay as stored)"),
                   cl::init(false), cl::cat(compileCategory));
static cl::opt<std::string>
    outputBase("o",
               cl::desc("Output path without extension (writes .o or "
                        ".so, .h, .weights)"),
               cl::value_desc("path"), cl::cat(compileCategory));
static cl::opt<std::string>
    target("target",
           cl::desc("Target: x86_64, or nvptx (GPU kernels launched from "
                    "x86_64 host code)"),
           cl::init("x86_64"), cl::cat(compileCategory));
static cl::opt<std::string>
    sm("sm",
       cl::desc("nvptx: the GPU's compute capability (sm_80, sm_86, "
                "sm_89, sm_90, sm_90a)"),
       cl::init("sm_80"), cl::cat(compileCategory));
static cl::opt<std::string>
    targetCpu("target-cpu",
              cl::desc("CPU the code and kernels are for: host (this "
                       "machine), x86-64-v3, x86-64-v4, sapphirerapids, "
                       "znver4, ..."),
              cl::init("host"), cl::cat(compileCategory));
static cl::opt<std::string>
    pipeline("pipeline",
             cl::desc("Quantization pipeline run first: a registered "
                      "pipeline (lowbit-w4a8{group=32}) or "
                      "builtin.module(...)"),
             cl::init(""), cl::cat(compileCategory));
static cl::opt<std::string>
    prefix("prefix",
           cl::desc("Prefix of the C symbols (default: the output's name)"),
           cl::init(""), cl::cat(compileCategory));
static cl::opt<bool> shared("shared",
                            cl::desc("Link a shared library (out.so) "
                                     "instead of an object (out.o)"),
                            cl::init(false), cl::cat(compileCategory));
static cl::opt<std::string>
    compileTo("compile-to",
              cl::desc("Stop after a phase and print it: input, quantized, "
                       "lowered, bufferized, "
                       "ptx (nvptx), llvm, llvm-ir, asm (object: the full "
                       "outputs)"),
              cl::init("object"), cl::cat(compileCategory));
static cl::opt<int64_t>
    weightThreshold("weight-threshold",
                    cl::desc("Constants of at least this many bytes go to "
                             "the weights blob"),
                    cl::init(256), cl::cat(compileCategory));

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "lowbit-compile: error: " << msg << "\n";
  return 1;
}

/// Writes `data` to a fresh temporary beside `path`; its name in `tmp`.
/// On failure nothing is left behind.
static bool writeTemp(StringRef path, ArrayRef<char> data, std::string &tmp) {
  llvm::SmallString<256> model(path);
  model += ".tmp%%%%%%";
  int fd;
  llvm::SmallString<256> name;
  if (llvm::sys::fs::createUniqueFile(model, fd, name))
    return false;
  tmp = name.str().str();
  bool ok;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(data.data(), data.size());
    os.close();
    ok = !os.has_error();
    os.clear_error(); // reported here, not as a fatal error on destruction
  }
  if (!ok)
    llvm::sys::fs::remove(tmp);
  return ok;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerTransformsPasses();
  cl::HideUnrelatedOptions(compileCategory);
  cl::ParseCommandLineOptions(argc, argv, "lowbit ahead-of-time compiler\n");

  lowbit::CompileOptions options;
  std::optional<lowbit::CompilePhase> phase =
      lowbit::parseCompilePhase(compileTo);
  if (!phase)
    return fail("unknown phase '" + compileTo +
                "' (input, quantized, ptx, llvm, llvm-ir, asm, object)");
  options.stopAfter = *phase;
  if (options.stopAfter == lowbit::CompilePhase::Object && outputBase.empty())
    return fail("-o is required (the outputs are -o's path plus .o or .so, "
                ".h and .weights)");
  options.target = target;
  options.targetCpu = targetCpu;
  options.sm = sm;
  options.pipeline = pipeline;
  options.sharedLibrary = shared;
  options.weightThreshold = weightThreshold;
  if (!prefix.empty()) {
    options.prefix = prefix;
  } else if (!outputBase.empty()) {
    std::string p = llvm::sys::path::filename(outputBase).str();
    for (char &c : p)
      if (!llvm::isAlnum(c) && c != '_')
        c = '_';
    if (!p.empty() && llvm::isDigit(p[0]))
      p = "m_" + p;
    options.prefix = p;
  }

  DialectRegistry registry;
  lowbit::registerLowbitDialects(registry);
  MLIRContext ctx(registry);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &ctx);
  std::string err;
  OwningOpRef<ModuleOp> module;
  StringRef in = inputFile;
  // A model: GGUF, safetensors, a sharded checkpoint's index or a model
  // directory (WeightSource::open).
  if (in.ends_with(".gguf") || in.ends_with(".safetensors") ||
      in.ends_with(".safetensors.index.json") ||
      llvm::sys::fs::is_directory(in)) {
    lowbit::LlamaImportOptions io;
    io.maxSeq = maxSeq;
    io.keepGGUF = !dequantizeGGUF;
    // A pipeline quantizes f32 matmuls: f16 / bf16 weights are widened
    // for it.
    io.keepHalf = !dequantizeGGUF && pipeline.empty();
    io.kvCache = kvCache;
    for (int64_t c : prefillChunks)
      if (c != 0)
        io.prefillChunks.push_back(c);
    lowbit::LlamaConfig config;
    module = lowbit::importLlama(&ctx, inputFile, io, config, err);
    if (!module)
      return fail(err);
  } else {
    auto file = openInputFile(inputFile, &err);
    if (!file)
      return fail(err);
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    module = parseSourceFile<ModuleOp>(sourceMgr, &ctx);
    if (!module)
      return 1;
  }

  lowbit::CompileResult result;
  if (failed(lowbit::compileModule(*module, options, result)))
    return 1;
  if (options.stopAfter != lowbit::CompilePhase::Object) {
    llvm::outs() << result.phaseText;
    if (options.stopAfter == lowbit::CompilePhase::LLVM)
      llvm::outs() << "\n";
    return 0;
  }

  // All three outputs or none: each is written to a temporary beside it,
  // and renamed into place only once every one is complete.
  std::string binPath = outputBase + (shared ? ".so" : ".o");
  std::string hPath = outputBase + ".h", wPath = outputBase + ".weights";
  std::string jPath = outputBase + ".json";
  std::vector<std::pair<std::string, std::string>> moves; // tmp -> final
  auto cleanup = [&]() {
    for (auto &m : moves)
      llvm::sys::fs::remove(m.first);
  };
  std::string tmp;
  if (!writeTemp(hPath,
                 ArrayRef<char>(result.header.data(), result.header.size()),
                 tmp))
    return cleanup(), fail("cannot write " + hPath);
  moves.push_back({tmp, hPath});
  if (!writeTemp(jPath,
                 ArrayRef<char>(result.manifest.data(), result.manifest.size()),
                 tmp))
    return cleanup(), fail("cannot write " + jPath);
  moves.push_back({tmp, jPath});
  if (!writeTemp(wPath, result.weights, tmp))
    return cleanup(), fail("cannot write " + wPath);
  moves.push_back({tmp, wPath});
  if (!writeTemp(outputBase + ".o", result.object, tmp))
    return cleanup(), fail("cannot write " + outputBase + ".o");
  if (shared) {
    std::string obj = tmp, so;
    llvm::SmallString<256> model(binPath + ".tmp%%%%%%");
    llvm::SmallString<256> name;
    if (llvm::sys::fs::createUniqueFile(model, name)) {
      llvm::sys::fs::remove(obj);
      return cleanup(), fail("cannot write " + binPath);
    }
    so = name.str().str();
    moves.push_back({so, binPath});
    std::string linkError;
    bool linked =
        succeeded(lowbit::linkSharedLibrary(result, obj, so, linkError));
    llvm::sys::fs::remove(obj);
    if (!linked)
      return cleanup(), fail(linkError);
  } else {
    moves.push_back({tmp, binPath});
  }
  // A destination that cannot be replaced (a directory) is found before
  // any is: then nothing changes. The library goes first, so a failure
  // after it leaves a library whose set_weights rejects the old blob.
  for (auto &m : moves)
    if (llvm::sys::fs::is_directory(m.second))
      return cleanup(), fail("cannot write " + m.second + ": a directory");
  std::rotate(moves.begin(), moves.end() - 1, moves.end());
  for (auto &m : moves)
    if (std::error_code ec = llvm::sys::fs::rename(m.first, m.second))
      return cleanup(), fail("cannot write " + m.second + ": " + ec.message());
  return 0;
}
