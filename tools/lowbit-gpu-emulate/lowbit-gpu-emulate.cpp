//===- lowbit-gpu-emulate.cpp - run lowbit's GPU kernels on the CPU -------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Executes one `gpu.func` kernel of `lowbit-lower-to-gpu`' output, before
// its lowering to NVVM, on the CPU: every thread of every block in lock
// step, op by op, with the PTX semantics of the ops the kernels use
// (docs/CodegenGPU.md, "Testing without a GPU"). Floats are IEEE through
// APFloat (f16, bf16, f32, E4M3), integers through APInt; warp-collective
// ops (gpu.shuffle, mma.sync) read the lanes of their warp; the fragment
// layouts of mma.sync are those of the PTX ISA. Lock step cannot expose a
// missing barrier, but it checks every index, decode, tail and reduction.
//
//   lowbit-gpu-emulate kernels.mlir --kernel NAME --grid X,Y,Z \
//       --arg a.bin --arg b.bin ... [--write I=out.bin]
//
// Buffers are raw little-endian bytes in row-major order of the kernel's
// parameter memrefs; workgroup memory starts as 0xCD bytes.
//
// This file holds the command line: it loads the kernel and its buffers,
// runs the Emulator (Emulator.h) and writes the buffers asked for.
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"

#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <fstream>

using namespace mlir;
using namespace mlir::lowbit::emulate;

namespace {

static llvm::cl::OptionCategory emulateCategory("lowbit-gpu-emulate options");

llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                     llvm::cl::desc("<kernels.mlir>"),
                                     llvm::cl::Required,
                                     llvm::cl::cat(emulateCategory));
llvm::cl::opt<std::string> kernelName("kernel", llvm::cl::Required,
                                      llvm::cl::desc("gpu.func to run"),
                                      llvm::cl::cat(emulateCategory));
llvm::cl::opt<std::string> gridOpt("grid", llvm::cl::Required,
                                   llvm::cl::desc("X,Y,Z blocks"),
                                   llvm::cl::cat(emulateCategory));
llvm::cl::list<std::string> argFiles("arg",
                                     llvm::cl::desc("a parameter's bytes"),
                                     llvm::cl::cat(emulateCategory));
llvm::cl::list<std::string>
    writes("write", llvm::cl::desc("I=FILE: parameter I's bytes afterwards"),
           llvm::cl::cat(emulateCategory));

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(emulateCategory);
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "run a lowbit GPU kernel on the CPU\n");
  DialectRegistry registry;
  lowbit::registerLowbitDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  llvm::SourceMgr sm;
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!file)
    fatal("cannot read " + inputFile);
  sm.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diag(sm, &ctx);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sm, &ctx);
  if (!module)
    return 1;
  Emulator em;
  module->walk([&](gpu::GPUFuncOp f) {
    if (f.getName() == kernelName)
      em.fn = f;
  });
  if (!em.fn)
    fatal("no gpu.func @" + kernelName);
  auto known = em.fn.getKnownBlockSizeAttr();
  if (!known)
    fatal("kernel without known_block_size");
  for (int i = 0; i < 3; ++i)
    em.block[i] = unsigned(known[i]);
  em.nThreads = em.block[0] * em.block[1] * em.block[2];
  SmallVector<StringRef> g;
  StringRef(gridOpt).split(g, ',');
  if (g.size() != 3)
    fatal("--grid needs X,Y,Z");
  for (int i = 0; i < 3; ++i)
    if (g[i].getAsInteger(10, em.grid[i]) || !em.grid[i])
      fatal("bad --grid");
  if (argFiles.size() != em.fn.getNumArguments())
    fatal("the kernel has " + Twine(em.fn.getNumArguments()) +
          " parameters, got " + Twine(argFiles.size()) + " --arg");
  auto addBuffer = [&](MemRefType t) {
    Buffer b;
    b.type = t;
    b.elemBytes = (bitWidth(t.getElementType()) + 7) / 8;
    b.bytes.assign(size_t(t.getNumElements()) * b.elemBytes, 0xCD);
    em.buffers.push_back(std::move(b));
  };
  for (auto [i, t] : llvm::enumerate(em.fn.getArgumentTypes())) {
    auto mt = dyn_cast<MemRefType>(t);
    if (!mt || !mt.hasStaticShape())
      fatal("parameter " + Twine(i) + " is not a static memref");
    addBuffer(mt);
    std::ifstream in(argFiles[i], std::ios::binary);
    std::vector<char> data((std::istreambuf_iterator<char>(in)), {});
    if (data.size() != em.buffers.back().bytes.size())
      fatal(argFiles[i] + ": " + Twine(data.size()) + " bytes, parameter " +
            Twine(i) + " needs " + Twine(em.buffers.back().bytes.size()));
    std::memcpy(em.buffers.back().bytes.data(), data.data(), data.size());
  }
  for (Value v : em.fn.getWorkgroupAttributions())
    addBuffer(cast<MemRefType>(v.getType()));
  // Workgroup attributions are block arguments after the parameters.
  em.run();
  for (const std::string &w : writes) {
    auto [idxStr, path] = StringRef(w).split('=');
    unsigned idx;
    if (idxStr.getAsInteger(10, idx) || idx >= em.fn.getNumArguments())
      fatal("bad --write " + w);
    std::ofstream out(path.str(), std::ios::binary);
    out.write(reinterpret_cast<const char *>(em.buffers[idx].bytes.data()),
              std::streamsize(em.buffers[idx].bytes.size()));
    if (!out)
      fatal("cannot write " + path);
  }
  return 0;
}
