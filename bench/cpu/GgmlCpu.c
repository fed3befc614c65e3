//===- GgmlCpu.c - llama.cpp's CPU quantized dot products -------*- C -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The type table of GgmlCpu.h, and the three lookup tables that the CPU
// backend's quants.c files refer to (defined and filled by ggml-cpu.c in
// llama.cpp, which lowbit does not build).
//
//===----------------------------------------------------------------------===//

#include "GgmlCpu.h"

#define GGML_COMMON_DECL_C
#include "ggml-common.h"
#include "ggml-cpu-impl.h"
#include "ggml-impl.h"
#include "ggml-quants.h"
#include "quants.h"
#if LOWBIT_HAVE_GGML_LLAMAFILE
#include "llamafile/sgemm.h"
#endif

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

float ggml_table_f32_f16[1 << 16];
float ggml_table_f32_e8m0_half[1 << 8];
float ggml_table_f32_ue4m3[1 << 8];

void lowbitGgmlCpuInit(void) {
  for (int i = 0; i < (1 << 16); ++i) {
    union {
      uint16_t u16;
      ggml_fp16_t fp16;
    } u = {(uint16_t)i};
    ggml_table_f32_f16[i] = GGML_COMPUTE_FP16_TO_FP32(u.fp16);
  }
  for (int i = 0; i < (1 << 8); ++i) {
    ggml_table_f32_e8m0_half[i] = GGML_E8M0_TO_FP32_HALF(i);
    ggml_table_f32_ue4m3[i] = ggml_ue4m3_to_fp32((uint8_t)i);
  }
}

#define LOWBIT_WEIGHT_QUANT(gtype)                                             \
  static void quantizeWeights_##gtype(const float *x, void *y, int64_t k) {    \
    quantize_row_##gtype##_ref(x, (block_##gtype *)y, k);                      \
  }
LOWBIT_WEIGHT_QUANT(q4_0)
LOWBIT_WEIGHT_QUANT(q8_0)
LOWBIT_WEIGHT_QUANT(q4_K)
LOWBIT_WEIGHT_QUANT(mxfp4)

static const LowbitGgmlCpuType types[] = {
    {"q4_0", QK4_0, sizeof(block_q4_0), quantizeWeights_q4_0, "q8_0", QK8_0,
     sizeof(block_q8_0), quantize_row_q8_0, ggml_vec_dot_q4_0_q8_0,
     GGML_TYPE_Q4_0, GGML_TYPE_Q8_0},
    {"q8_0", QK8_0, sizeof(block_q8_0), quantizeWeights_q8_0, "q8_0", QK8_0,
     sizeof(block_q8_0), quantize_row_q8_0, ggml_vec_dot_q8_0_q8_0,
     GGML_TYPE_Q8_0, GGML_TYPE_Q8_0},
    {"q4_k", QK_K, sizeof(block_q4_K), quantizeWeights_q4_K, "q8_K", QK_K,
     sizeof(block_q8_K), quantize_row_q8_K, ggml_vec_dot_q4_K_q8_K,
     GGML_TYPE_Q4_K, GGML_TYPE_Q8_K},
    {"mxfp4", QK_MXFP4, sizeof(block_mxfp4), quantizeWeights_mxfp4, "q8_0",
     QK8_0, sizeof(block_q8_0), quantize_row_q8_0, ggml_vec_dot_mxfp4_q8_0,
     GGML_TYPE_MXFP4, GGML_TYPE_Q8_0},
};

const LowbitGgmlCpuType *lowbitGgmlCpuTypes(size_t *count) {
  *count = sizeof(types) / sizeof(types[0]);
  return types;
}

#if LOWBIT_HAVE_GGML_LLAMAFILE
// ggml-cpu.c's thread pool, as far as sgemm.cpp uses it, on OpenMP: the
// callers run inside an OpenMP parallel region.
struct ggml_threadpool {
  atomic_int chunk;
};

void ggml_barrier(struct ggml_threadpool *tp) {
  (void)tp;
#pragma omp barrier
}

void ggml_threadpool_chunk_set(struct ggml_threadpool *tp, int value) {
  atomic_store(&tp->chunk, value);
}

int ggml_threadpool_chunk_add(struct ggml_threadpool *tp, int value) {
  return atomic_fetch_add(&tp->chunk, value);
}

// ggml.c's logger (sgemm.cpp logs unsupported cases).
void ggml_log_internal(enum ggml_log_level level, const char *format, ...) {
  (void)level;
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
}

int lowbitGgmlLlamafileSgemm(const LowbitGgmlCpuType *type, int ith, int nth,
                             int64_t N, int64_t M, int64_t K, const void *W,
                             const void *Xq, float *Y) {
  static struct ggml_threadpool pool;
  struct ggml_compute_params params = {ith, nth, 0, NULL, &pool, false};
  // As ggml_compute_forward_mul_mat calls it: m = weight rows, n =
  // activation rows, k and the leading dimensions in blocks; C column-major
  // with ldc = N, i.e. Y row-major M x N.
  int64_t kb = K / type->blockSize, kbAct = K / type->actBlockSize;
  return llamafile_sgemm(&params, N, M, kb, W, kb, Xq, kbAct, Y, N,
                         type->ggmlType, type->ggmlActType, GGML_TYPE_F32);
}
#endif
