//===- fuzz-safetensors.cpp - libFuzzer target for the safetensors reader -===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Built by tools/lowbit-fuzz/CMakeLists.txt with clang's
// -fsanitize=fuzzer,address,undefined; run by test/Import/fuzz.test.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lowbit::safetensors::File f;
  (void)lowbit::safetensors::parse(data, size, f);
  return 0;
}
