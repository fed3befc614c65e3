// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// A C++ program linking an ahead-of-time compiled model (lowbit-compile
// with --prefix=mlp, entry point @mlp): test/Compile/aot.py builds it
// against each output.
//
//   driver WEIGHTS IN.f32 OUT.f32
//
// Checks that the entry point refuses to run before the weights are set,
// loads the weights (exit 1 with the loader's message on a bad blob),
// runs @mlp on IN and writes the result to OUT.

#include "mlp.h"

#include <cstdio>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: driver WEIGHTS IN.f32 OUT.f32\n");
    return 2;
  }
  std::vector<float> x(MLP_MLP_ARG0_ELEMENTS), y(MLP_MLP_RESULT0_ELEMENTS);
  if (mlp_mlp(x.data(), y.data()) != -1) {
    std::fprintf(stderr, "driver: the entry point ran without weights\n");
    return 3;
  }
  char err[512];
  if (mlp_load_weights(argv[1], err, sizeof err) != 0) {
    std::fprintf(stderr, "driver: %s\n", err);
    return 1;
  }
  FILE *in = std::fopen(argv[2], "rb");
  if (!in || std::fread(x.data(), sizeof(float), x.size(), in) != x.size()) {
    std::fprintf(stderr, "driver: cannot read %s\n", argv[2]);
    return 2;
  }
  std::fclose(in);
  if (mlp_mlp(x.data(), y.data()) != 0) {
    std::fprintf(stderr, "driver: the entry point failed\n");
    return 4;
  }
  FILE *out = std::fopen(argv[3], "wb");
  if (!out || std::fwrite(y.data(), sizeof(float), y.size(), out) != y.size())
    return 2;
  std::fclose(out);
  std::printf("driver: %zu outputs\n", y.size());
  return 0;
}
