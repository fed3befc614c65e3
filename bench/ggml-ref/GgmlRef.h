//===- GgmlRef.h - llama.cpp's reference GGUF quantizers ------*- C -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// A small C table over the reference quantizers of llama.cpp's
// ggml/src/ggml-quants.c (fetched by `lowbit.sh test`, see
// LOWBIT_LLAMA_CPP_DIR). The harness ggml-ref-quantize, which test/GGUF
// compares lowbit-quantize with byte for byte, and the llama.cpp baselines of
// lowbit-bench-quantize both go through it.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_BENCH_GGMLREF_H
#define LOWBIT_BENCH_GGMLREF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct GgmlRefType {
  // lowbit's format name (lowbit-quantize --format).
  const char *name;
  // Elements per block and bytes per block struct.
  int64_t blockSize;
  size_t blockBytes;
  // quantize_row_<type>_ref: `k` values (a multiple of blockSize) to
  // k / blockSize block structs.
  void (*quantizeRow)(const float *x, void *y, int64_t k);
  // dequantize_row_<type>.
  void (*dequantizeRow)(const void *x, float *y, int64_t k);
} GgmlRefType;

// The type named `name` (q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k
// gguf_mxfp4 iq4_nl iq4_xs tq1_0 tq2_0), or NULL.
const GgmlRefType *ggmlRefFind(const char *name);
// All types, `*count` of them.
const GgmlRefType *ggmlRefTypes(size_t *count);

#ifdef __cplusplus
}
#endif

#endif // LOWBIT_BENCH_GGMLREF_H
