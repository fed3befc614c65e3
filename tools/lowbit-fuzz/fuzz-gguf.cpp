//===- fuzz-gguf.cpp - libFuzzer target for the GGUF reader ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Built by tools/lowbit-fuzz/CMakeLists.txt with clang's
// -fsanitize=fuzzer,address,undefined; run by test/Import/fuzz.test.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/GGUF.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lowbit::gguf::File f;
  (void)lowbit::gguf::parse(data, size, f);
  return 0;
}
