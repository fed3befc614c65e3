//===- W4Int8Kernel.cpp - 4-bit, ternary, GGUF x int8 ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The w4-int8 family: int4, MXFP4, NVFP4 and ternary weights per group,
// and GGUF q4_0, q4_1, q5_0, q5_1, q8_0, mxfp4, q2_K, q3_K, q4_K, q5_K, q6_K,
// tq1_0, tq2_0, iq4_nl and iq4_xs blocks read as stored, times int8
// activations: integer dot products with AVX-512 VNNI (vpdpbusd), or emulated
// exactly with vpmaddubsw + vpmaddwd on AVX2 (docs/CodegenCPU.md). The kernel
// is W4Int8Kernel.h; its K-quant super-block loops are W4Int8SuperBlocks.cpp.
//
//===----------------------------------------------------------------------===//

#include "W4Int8Kernel.h"

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::cpu;

static bool acceptsW4Int8(const KernelProblem &p) {
  if (!p.hasInt8Activations())
    return false;
  switch (p.weights) {
  case WeightFormat::Int4:
  case WeightFormat::MXFP4:
  case WeightFormat::NVFP4:
  case WeightFormat::Ternary:
    return true;
  default: // every GGUF format
    return p.isGGUF();
  }
}

static Value buildW4Int8(ImplicitLocOpBuilder &b, const KernelProblem &p,
                         ValueRange args) {
  if (p.isGGUF()) // the blocks carry their scales
    return W4I8Kernel(b, p, args[0], args[1], args[2], Value(), Value())
        .build(args[3], p.rowBytes());
  if (p.isNVFP4())
    return W4I8Kernel(b, p, args[0], args[1], args[2], args[3], args[4])
        .build(args[5], p.rowBytes());
  return W4I8Kernel(b, p, args[0], args[1], args[2], args[3], Value())
      .build(args[4], p.rowBytes());
}

const KernelFamily &cpu::getW4Int8Family() {
  static const KernelFamily family{"w4-int8", acceptsW4Int8, buildW4Int8};
  return family;
}
