//===- Target.cpp - what a CPU offers the kernels -------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Features come from LLVM: the host's from llvm::sys::getHostCPUFeatures, a
// named CPU's from the X86 target parser's feature list for it.
//
//===----------------------------------------------------------------------===//

#include "Target.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/X86TargetParser.h"

using namespace mlir;
using namespace mlir::lowbit::cpu;

FailureOr<CpuTarget> CpuTarget::get(StringRef cpu, std::string &error) {
  llvm::StringMap<bool> features;
  if (cpu == "host") {
    features = llvm::sys::getHostCPUFeatures();
  } else {
    if (llvm::X86::parseArchX86(cpu, /*Only64Bit=*/true) ==
        llvm::X86::CK_None) {
      error = "unknown target-cpu '" + cpu.str() +
              "' (host, or an x86-64 CPU LLVM knows: x86-64-v3, x86-64-v4, "
              "znver4, sapphirerapids, ...)";
      return failure();
    }
    SmallVector<StringRef> list;
    llvm::X86::getFeaturesForCPU(cpu, list, /*NeedPlus=*/false);
    // The list names a CPU's own features, not the ones they imply
    // (x86-64-v4 lists avx512bw but not avx512f): add those too.
    for (StringRef f : list) {
      features[f] = true;
      llvm::X86::updateImpliedFeatures(f, /*Enabled=*/true, features);
    }
  }
  CpuTarget t;
  if (!features.lookup("avx2") || !features.lookup("fma"))
    return t;
  t.isa = VectorIsa::Avx2;
  if (features.lookup("avx512f") && features.lookup("avx512bw"))
    t.isa = features.lookup("avx512vnni") ? VectorIsa::Avx512Vnni
                                          : VectorIsa::Avx512;
  return t;
}
