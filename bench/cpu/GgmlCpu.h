//===- GgmlCpu.h - llama.cpp's CPU quantized dot products -------*- C -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The baselines of lowbit-bench-cpu's ggml rows: llama.cpp's CPU backend
// kernels (ggml/src/ggml-cpu/arch/x86/quants.c) for each weight type, called
// the way ggml's mul_mat calls them (activations quantized once per call to
// the type's vec_dot_type with the backend's quantize_row_q8_0/q8_K, then
// one vec_dot per output element), without the rest of ggml.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_BENCH_CPU_GGMLCPU_H
#define LOWBIT_BENCH_CPU_GGMLCPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*LowbitGgmlQuantizeRow)(const float *x, void *y, int64_t k);
typedef void (*LowbitGgmlVecDot)(int n, float *s, size_t bs, const void *vx,
                                 size_t bx, const void *vy, size_t by, int nrc);

typedef struct LowbitGgmlCpuType {
  const char *name;  // "q4_0", "q8_0", "q4_k", "mxfp4"
  int64_t blockSize; // weights per block
  size_t blockBytes; // bytes per weight block
  // llama.cpp's reference quantizer (ggml-quants.c): weights, untimed.
  LowbitGgmlQuantizeRow quantizeWeights;
  const char *actName; // "q8_0" or "q8_K": the type's vec_dot_type
  int64_t actBlockSize;
  size_t actBlockBytes;
  // The CPU backend's from_float of vec_dot_type: activations, timed.
  LowbitGgmlQuantizeRow quantizeActivations;
  LowbitGgmlVecDot vecDot; // ggml_vec_dot_<type>_<vec_dot_type>
  int ggmlType;            // enum ggml_type
  int ggmlActType;
} LowbitGgmlCpuType;

// Fills the CPU backend's conversion tables (what ggml_cpu_init does).
void lowbitGgmlCpuInit(void);
const LowbitGgmlCpuType *lowbitGgmlCpuTypes(size_t *count);

#if LOWBIT_HAVE_GGML_LLAMAFILE
// llama.cpp's llamafile_sgemm (tinyBLAS, ggml-cpu/llamafile/sgemm.cpp),
// what ggml's mul_mat calls first when built with GGML_LLAMAFILE (the
// default) and M >= 2: Y[M,N] = Xq[M] . W[N] with W's rows of type `type`
// and Xq's of its vec_dot_type, thread `ith` of `nth` (call from every
// thread of an OpenMP parallel region). Returns 0 where tinyBLAS has no
// kernel for the type (then ggml falls back to vec_dot).
int lowbitGgmlLlamafileSgemm(const LowbitGgmlCpuType *type, int ith, int nth,
                             int64_t N, int64_t M, int64_t K, const void *W,
                             const void *Xq, float *Y);
#endif

#ifdef __cplusplus
}
#endif

#endif // LOWBIT_BENCH_CPU_GGMLCPU_H
