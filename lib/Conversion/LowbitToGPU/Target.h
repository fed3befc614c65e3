//===- Target.h - what an NVIDIA GPU offers the kernels ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The chip the GPU kernels are generated for (sm_80, sm_86, sm_89, sm_90,
// sm_90a) and what its compute capability offers them: which mma.sync
// operand types, FP8, wgmma; CUDA's grid limits.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_CONVERSION_LOWBITTOGPU_TARGET_H
#define LOWBIT_CONVERSION_LOWBITTOGPU_TARGET_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir::lowbit::nvptx {

/// CUDA's largest grid.x and grid.y (the GEMMs put their M tiles on y).
constexpr int64_t kMaxGridX = 2147483647, kMaxGridY = 65535;

/// The operand types of a warp-level `mma.sync` with f32 (or, for int8,
/// int32) accumulators.
enum class MmaOperands {
  /// m16n8k16 on f16 operands.
  F16,
  /// m16n8k16 on bf16 operands (inline PTX: MLIR 22's ops do not take it).
  BF16,
  /// m16n8k32 on int8 operands, exact int32 sums.
  Int8,
  /// m16n8k32 on E4M3 operands (inline PTX, PTX ISA 8.4).
  FP8E4M3,
};

/// An NVIDIA GPU as the kernels see it.
struct GpuTarget {
  /// The chip as given ("sm_80", "sm_90a"): the NVVM target's chip.
  std::string chip;
  /// The compute capability, major * 10 + minor (80, 86, 89, 90).
  unsigned sm = 0;
  /// A suffix `a` (sm_90a): the architecture-specific features.
  bool archSpecific = false;

  /// Whether `mma.sync` takes `operands` (with cp.async beside it): f16,
  /// bf16 and int8 from sm_80, E4M3 from sm_89.
  bool hasMmaSync(MmaOperands operands) const {
    return operands == MmaOperands::FP8E4M3 ? hasFP8() : sm >= 80;
  }
  /// FP8 E4M3 operands and codes: sm_89 and newer.
  bool hasFP8() const { return sm >= 89; }
  /// Hopper's warpgroup tensor cores (`wgmma.mma_async`): sm_90a only.
  bool hasWgmma() const { return archSpecific && sm == 90; }

  /// The target of `chip`, an NVIDIA compute capability `sm_<digits>`
  /// with an optional `a`. Fails, saying why in `error`, for anything else.
  static FailureOr<GpuTarget> get(StringRef chip, std::string &error);
};

} // namespace mlir::lowbit::nvptx

#endif // LOWBIT_CONVERSION_LOWBITTOGPU_TARGET_H
