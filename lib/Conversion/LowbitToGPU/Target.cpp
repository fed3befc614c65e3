//===- Target.cpp - what an NVIDIA GPU offers the kernels -----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The compute capability read off the chip's name.
//
//===----------------------------------------------------------------------===//

#include "Target.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::lowbit::nvptx;

FailureOr<GpuTarget> GpuTarget::get(StringRef chip, std::string &error) {
  auto digits = [&] {
    return chip.drop_front(3).take_while([](char ch) { return ch != 'a'; });
  };
  if (!chip.starts_with("sm_") || chip.size() < 5 ||
      !llvm::all_of(digits(), llvm::isDigit)) {
    error = "chip '" + chip.str() +
            "' is not an NVIDIA compute capability such as sm_80 or sm_90a";
    return failure();
  }
  GpuTarget t;
  t.chip = chip.str();
  digits().getAsInteger(10, t.sm);
  t.archSpecific = chip.ends_with("a");
  return t;
}
