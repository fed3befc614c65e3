//===- JitLog.h - reading the CUDA JIT's logs -------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Pure functions of lib/Runtime that need no driver, declared for its unit
// tests (test/Unit/RuntimeTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_RUNTIME_JITLOG_H
#define LOWBIT_RUNTIME_JITLOG_H

#include <string>

namespace lowbit::runtime {

/// The lines of a JIT (ptxas) log that carry an advisory message, a code
/// "C75" and two digits (e.g. "ptxas info : (C7519) warpgroup.arrive is
/// injected ..."), without their line ends, joined by "\n"; "" if none.
/// Such a message says the PTX relies on the JIT repairing or serializing
/// it (docs/CodegenGPU.md).
std::string findJitAdvisories(const char *log);

} // namespace lowbit::runtime

#endif // LOWBIT_RUNTIME_JITLOG_H
