//===- Target.h - what a CPU offers the kernels -----------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The vector ISA the CPU kernels may use, from LLVM's own description of a
// CPU (its subtarget features), never from a list of CPU names.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOCPU_TARGET_H
#define LOWBIT_CONVERSION_LOWBITTOCPU_TARGET_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::lowbit::cpu {

/// The vector ISA levels the kernels are written for, from the weakest.
enum class VectorIsa {
  /// Neither AVX2 nor FMA: only the float kernels, whose vectors LLVM
  /// legalizes for what the CPU has; no integer dot products.
  Generic,
  /// AVX2 + FMA (x86-64-v3): 256-bit vectors, vpdpbusd emulated with
  /// vpmaddubsw + vpmaddwd.
  Avx2,
  /// AVX-512 F + BW (x86-64-v4): 512-bit vectors and byte shuffles,
  /// vpdpbusd still emulated.
  Avx512,
  /// AVX-512 VNNI: vpdpbusd.
  Avx512Vnni,
};

/// A CPU as the kernels see it.
struct CpuTarget {
  VectorIsa isa = VectorIsa::Generic;

  bool hasAvx2() const { return isa != VectorIsa::Generic; }
  bool hasZmm() const {
    return isa == VectorIsa::Avx512 || isa == VectorIsa::Avx512Vnni;
  }
  bool hasVnni() const { return isa == VectorIsa::Avx512Vnni; }

  /// The target of `cpu`: "host" (this machine's features as LLVM detects
  /// them) or any x86 CPU name LLVM knows (x86-64-v3, znver4, ...), read
  /// from LLVM's feature list for it. Fails, saying why in `error`, for a
  /// name LLVM does not know as an x86-64 CPU.
  static FailureOr<CpuTarget> get(StringRef cpu, std::string &error);
};

} // namespace mlir::lowbit::cpu

#endif // LOWBIT_CONVERSION_LOWBITTOCPU_TARGET_H
