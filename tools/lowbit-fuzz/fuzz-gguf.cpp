//===- fuzz-gguf.cpp - libFuzzer target for the GGUF reader ---------------===//
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
