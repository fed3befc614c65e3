// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Runs an ahead-of-time compiled Llama decoder (lowbit-compile of a
// .gguf or .safetensors with --prefix=llm): test/Compile/llama.py.
//
//   llama_driver WEIGHTS TOKENS.i32 LOGITS.f32
//
// Feeds the tokens one at a time at positions 0, 1, ... with caches it
// owns, and writes every step's logits.

#include "llm.h"

#include <cstdio>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: llama_driver WEIGHTS TOKENS LOGITS\n");
    return 2;
  }
  char err[512];
  if (llm_load_weights(argv[1], err, sizeof err) != 0) {
    std::fprintf(stderr, "llama_driver: %s\n", err);
    return 1;
  }
  std::vector<int32_t> tokens;
  FILE *in = std::fopen(argv[2], "rb");
  int32_t t;
  while (in && std::fread(&t, 4, 1, in) == 1)
    tokens.push_back(t);
  if (in)
    std::fclose(in);
  std::vector<float> k(LLM_DECODE_ARG2_ELEMENTS, 0.0f),
      v(LLM_DECODE_ARG3_ELEMENTS, 0.0f), logits(LLM_DECODE_RESULT0_ELEMENTS);
  FILE *out = std::fopen(argv[3], "wb");
  if (!out)
    return 2;
  for (size_t i = 0; i < tokens.size(); ++i) {
    int32_t pos = int32_t(i);
    if (llm_decode(&tokens[i], &pos, k.data(), v.data(), logits.data()) != 0)
      return 4;
    std::fwrite(logits.data(), 4, logits.size(), out);
  }
  std::fclose(out);
  std::printf("llama_driver: %zu steps\n", tokens.size());
  return 0;
}
