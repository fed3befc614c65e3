//===- Emit.cpp - LLVM IR, object code, shared library --------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The end of lowbit-compile's pipeline: the LLVM-dialect module to LLVM
// IR, optimized for the target CPU, then assembly or a relocatable
// object; and linking that object into a shared library with the system's
// C compiler driver (libomp, MLIR's runner utilities, lowbit's GPU
// runtime as the object needs them).
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::compiler;

LogicalResult compiler::emitObject(ModuleOp module,
                                   const CompileOptions &options,
                                   CompileResult &result) {
  MLIRContext *ctx = module.getContext();
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
