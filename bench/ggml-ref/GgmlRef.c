//===- GgmlRef.c - llama.cpp's reference GGUF quantizers ------*- C -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The table of GgmlRef.h, and the four ggml.c symbols that ggml-quants.c
// refers to (only from functions lowbit never calls: row validation and the
// chunked quantize_* entry points), so that ggml-quants.c links without the
// rest of ggml. The iq4 value table (kvalues_iq4nl) comes with ggml-quants.c,
// which includes ggml-common.h's tables.
//
//===----------------------------------------------------------------------===//

#include "GgmlRef.h"

#include "ggml-quants.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOWBIT_GGML_REF(gtype)                                                 \
  static void refQuantize_##gtype(const float *x, void *y, int64_t k) {        \
    quantize_row_##gtype##_ref(x, (block_##gtype *)y, k);                      \
  }                                                                            \
  static void refDequantize_##gtype(const void *x, float *y, int64_t k) {      \
    dequantize_row_##gtype((const block_##gtype *)x, y, k);                    \
  }

LOWBIT_GGML_REF(q4_0)
LOWBIT_GGML_REF(q4_1)
LOWBIT_GGML_REF(q5_0)
LOWBIT_GGML_REF(q5_1)
LOWBIT_GGML_REF(q8_0)
LOWBIT_GGML_REF(q2_K)
LOWBIT_GGML_REF(q3_K)
LOWBIT_GGML_REF(q4_K)
LOWBIT_GGML_REF(q5_K)
LOWBIT_GGML_REF(q6_K)
LOWBIT_GGML_REF(mxfp4)
LOWBIT_GGML_REF(iq4_xs)
LOWBIT_GGML_REF(tq1_0)
LOWBIT_GGML_REF(tq2_0)

// quantize_row_iq4_nl_ref leaves its local L[32] (the block's codes) as it
// was for a block whose largest |x| is below 1e-15, and packs it anyway: such
// a block repeats the codes of the block before it in the row, and the first
// block of a row reads uninitialised stack. lowbit defines those codes as
// zero (and carries them over within a row, as llama.cpp does); zeroing the
// stack the reference is about to use makes its bytes the same, and
// deterministic.
static __attribute__((noinline)) void zeroStackBelow(void) {
  volatile unsigned char scratch[8192];
  for (size_t i = 0; i < sizeof(scratch); ++i)
    scratch[i] = 0;
}
static void refQuantize_iq4_nl(const float *x, void *y, int64_t k) {
  zeroStackBelow();
  quantize_row_iq4_nl_ref(x, (block_iq4_nl *)y, k);
}
static void refDequantize_iq4_nl(const void *x, float *y, int64_t k) {
  dequantize_row_iq4_nl((const block_iq4_nl *)x, y, k);
}

#define LOWBIT_GGML_ENTRY(lname, gtype, qk)                                    \
  {#lname, qk, sizeof(block_##gtype), refQuantize_##gtype,                     \
   refDequantize_##gtype}

static const GgmlRefType types[] = {
    LOWBIT_GGML_ENTRY(q4_0, q4_0, QK4_0),
    LOWBIT_GGML_ENTRY(q4_1, q4_1, QK4_1),
    LOWBIT_GGML_ENTRY(q5_0, q5_0, QK5_0),
    LOWBIT_GGML_ENTRY(q5_1, q5_1, QK5_1),
    LOWBIT_GGML_ENTRY(q8_0, q8_0, QK8_0),
    LOWBIT_GGML_ENTRY(q2_k, q2_K, QK_K),
    LOWBIT_GGML_ENTRY(q3_k, q3_K, QK_K),
    LOWBIT_GGML_ENTRY(q4_k, q4_K, QK_K),
    LOWBIT_GGML_ENTRY(q5_k, q5_K, QK_K),
    LOWBIT_GGML_ENTRY(q6_k, q6_K, QK_K),
    LOWBIT_GGML_ENTRY(gguf_mxfp4, mxfp4, QK_MXFP4),
    LOWBIT_GGML_ENTRY(iq4_nl, iq4_nl, QK4_NL),
    LOWBIT_GGML_ENTRY(iq4_xs, iq4_xs, QK_K),
    LOWBIT_GGML_ENTRY(tq1_0, tq1_0, QK_K),
    LOWBIT_GGML_ENTRY(tq2_0, tq2_0, QK_K),
};

const GgmlRefType *ggmlRefTypes(size_t *count) {
  *count = sizeof(types) / sizeof(types[0]);
  return types;
}

const GgmlRefType *ggmlRefFind(const char *name) {
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); ++i)
    if (strcmp(types[i].name, name) == 0)
      return &types[i];
  return NULL;
}

// ggml.c symbols.

void ggml_abort(const char *file, int line, const char *fmt, ...) {
  fflush(stdout);
  fprintf(stderr, "%s:%d: ", file, line);
  va_list args;
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  abort();
}

static const struct {
  enum ggml_type type;
  const char *name;
  int64_t blockSize;
  size_t blockBytes;
} traits[] = {
    {GGML_TYPE_Q4_0, "q4_0", QK4_0, sizeof(block_q4_0)},
    {GGML_TYPE_Q4_1, "q4_1", QK4_1, sizeof(block_q4_1)},
    {GGML_TYPE_Q5_0, "q5_0", QK5_0, sizeof(block_q5_0)},
    {GGML_TYPE_Q5_1, "q5_1", QK5_1, sizeof(block_q5_1)},
    {GGML_TYPE_Q8_0, "q8_0", QK8_0, sizeof(block_q8_0)},
    {GGML_TYPE_Q2_K, "q2_K", QK_K, sizeof(block_q2_K)},
    {GGML_TYPE_Q3_K, "q3_K", QK_K, sizeof(block_q3_K)},
    {GGML_TYPE_Q4_K, "q4_K", QK_K, sizeof(block_q4_K)},
    {GGML_TYPE_Q5_K, "q5_K", QK_K, sizeof(block_q5_K)},
    {GGML_TYPE_Q6_K, "q6_K", QK_K, sizeof(block_q6_K)},
    {GGML_TYPE_MXFP4, "mxfp4", QK_MXFP4, sizeof(block_mxfp4)},
    {GGML_TYPE_IQ4_NL, "iq4_nl", QK4_NL, sizeof(block_iq4_nl)},
    {GGML_TYPE_IQ4_XS, "iq4_xs", QK_K, sizeof(block_iq4_xs)},
    {GGML_TYPE_TQ1_0, "tq1_0", QK_K, sizeof(block_tq1_0)},
    {GGML_TYPE_TQ2_0, "tq2_0", QK_K, sizeof(block_tq2_0)},
};

static int traitIndex(enum ggml_type type) {
  for (size_t i = 0; i < sizeof(traits) / sizeof(traits[0]); ++i)
    if (traits[i].type == type)
      return (int)i;
  ggml_abort(__FILE__, __LINE__, "ggml type %d is not in lowbit's GgmlRef",
             (int)type);
}

const char *ggml_type_name(enum ggml_type type) {
  return traits[traitIndex(type)].name;
}

size_t ggml_type_size(enum ggml_type type) {
  return traits[traitIndex(type)].blockBytes;
}

size_t ggml_row_size(enum ggml_type type, int64_t ne) {
  int i = traitIndex(type);
  return traits[i].blockBytes * (size_t)(ne / traits[i].blockSize);
}
