//===- ggml-ref-quantize.c - llama.cpp's quantizers as a tool -----*- C -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The reference that test/GGUF holds lowbit-quantize to, byte for byte:
//
//   ggml-ref-quantize TYPE IN.npy OUT.bin
//       each row (last axis) of a float32 .npy through llama.cpp's
//       quantize_row_<TYPE>_ref; OUT.bin holds the block structs row after
//       row (the layout of `lowbit-quantize --format TYPE IN.npy -o OUT.bin`)
//   ggml-ref-quantize --roundtrip TYPE IN.npy OUT.npy
//       the same blocks decoded again with dequantize_row_<TYPE>, as a
//       float32 .npy of IN's shape (`lowbit-quantize --roundtrip`)
//   ggml-ref-quantize --dequantize TYPE IN.bin ROWS COLS OUT.npy
//       block structs (for example lowbit's) decoded by dequantize_row_<TYPE>
//
// TYPE: q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k gguf_mxfp4 iq4_nl
// iq4_xs tq1_0 tq2_0. Inputs are little-endian float32 C-order .npy files
// (format versions 1-3).
//
//===----------------------------------------------------------------------===//

#include "GgmlRef.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *argv0 = "ggml-ref-quantize";

static void fail(const char *fmt, const char *arg) {
  fprintf(stderr, "%s: error: ", argv0);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

static unsigned char *readFile(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fail("cannot open %s", path);
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap)
      buf = realloc(buf, cap *= 2);
  }
  if (!buf || ferror(f))
    fail("cannot read %s", path);
  fclose(f);
  *size = n;
  return buf;
}

static void writeFile(const char *path, const void *header, size_t headerSize,
                      const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(header, 1, headerSize, f) != headerSize ||
      fwrite(data, 1, size, f) != size || fclose(f) != 0)
    fail("cannot write %s", path);
}

// A float32 .npy: its shape, and the data (rows x cols, cols the last axis).
typedef struct {
  int rank;
  long long shape[8];
  float *data;
  long long rows, cols;
} Npy;

static void readNpy(const char *path, Npy *npy) {
  size_t size;
  unsigned char *p = readFile(path, &size);
  if (size < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
    fail("%s is not a .npy file", path);
  size_t headerLen, start;
  if (p[6] == 1) {
    headerLen = p[8] | (size_t)p[9] << 8;
    start = 10;
  } else {
    if (size < 12)
      fail("%s: truncated .npy header", path);
    headerLen =
        p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    start = 12;
  }
  if (start + headerLen > size)
    fail("%s: truncated .npy header", path);
  char *header = malloc(headerLen + 1);
  memcpy(header, p + start, headerLen);
  header[headerLen] = 0;
  if (!strstr(header, "'descr': '<f4'"))
    fail("%s: only little-endian float32 (<f4) is supported", path);
  if (!strstr(header, "'fortran_order': False"))
    fail("%s: only C order is supported", path);
  const char *s = strstr(header, "'shape': (");
  if (!s)
    fail("%s: no shape in the .npy header", path);
  s += strlen("'shape': (");
  npy->rank = 0;
  long long count = 1;
  while (*s != ')') {
    char *end;
    errno = 0;
    long long d = strtoll(s, &end, 10);
    if (end == s || errno || d < 0 || npy->rank == 8)
      fail("%s: malformed shape in the .npy header", path);
    npy->shape[npy->rank++] = d;
    count *= d;
    s = end;
    while (*s == ',' || *s == ' ')
      ++s;
  }
  free(header);
  if (npy->rank == 0)
    fail("%s: a 0-d array has no rows", path);
  npy->cols = npy->shape[npy->rank - 1];
  npy->rows = npy->cols ? count / npy->cols : 0;
  if (size - start - headerLen != (size_t)count * 4)
    fail("%s: data size does not match the shape", path);
  // An aligned copy (headers need not be padded to a multiple of 4).
  float *data = malloc((size_t)count * 4 + 4);
  memcpy(data, p + start + headerLen, (size_t)count * 4);
  free(p);
  npy->data = data;
}

static void writeNpy(const char *path, int rank, const long long *shape,
                     const float *data) {
  char dict[256];
  int n = snprintf(dict, sizeof(dict),
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  long long count = 1;
  for (int i = 0; i < rank; ++i) {
    n += snprintf(dict + n, sizeof(dict) - n, i ? ", %lld" : "%lld", shape[i]);
    count *= shape[i];
  }
  n += snprintf(dict + n, sizeof(dict) - n, rank == 1 ? ",), }" : "), }");
  // numpy's layout: magic, version 1.0, length, dict padded with spaces to a
  // multiple of 64 bytes in all, '\n'.
  size_t total = (10 + n + 1 + 63) / 64 * 64;
  unsigned char header[320];
  memcpy(header, "\x93NUMPY\x01\x00", 8);
  header[8] = (unsigned char)((total - 10) & 0xff);
  header[9] = (unsigned char)((total - 10) >> 8);
  memcpy(header + 10, dict, n);
  memset(header + 10 + n, ' ', total - 10 - n - 1);
  header[total - 1] = '\n';
  writeFile(path, header, total, data, (size_t)count * 4);
}

static const GgmlRefType *findType(const char *name) {
  const GgmlRefType *type = ggmlRefFind(name);
  if (!type)
    fail("unknown type '%s' (q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k "
         "q6_k gguf_mxfp4 iq4_nl iq4_xs tq1_0 tq2_0)",
         name);
  return type;
}

static void checkCols(const GgmlRefType *type, long long cols) {
  if (cols % type->blockSize != 0) {
    char msg[128];
    snprintf(msg, sizeof(msg), "rows of %lld values are not whole %s blocks",
             cols, type->name);
    fail("%s", msg);
  }
}

static int usage(void) {
  fprintf(stderr,
          "usage: %s TYPE IN.npy OUT.bin\n"
          "       %s --roundtrip TYPE IN.npy OUT.npy\n"
          "       %s --dequantize TYPE IN.bin ROWS COLS OUT.npy\n"
          "TYPE: q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k gguf_mxfp4\n"
          "      iq4_nl iq4_xs tq1_0 tq2_0\n",
          argv0, argv0, argv0);
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 4 || (argc == 5 && strcmp(argv[1], "--roundtrip") == 0)) {
    int roundtrip = argc == 5;
    const GgmlRefType *type = findType(argv[1 + roundtrip]);
    Npy in;
    readNpy(argv[2 + roundtrip], &in);
    checkCols(type, in.cols);
    size_t rowBytes = (size_t)(in.cols / type->blockSize) * type->blockBytes;
    unsigned char *blocks =
        calloc(in.rows ? in.rows : 1, rowBytes ? rowBytes : 1);
    for (long long r = 0; r < in.rows; ++r)
      type->quantizeRow(in.data + r * in.cols, blocks + r * rowBytes, in.cols);
    if (!roundtrip) {
      writeFile(argv[3], "", 0, blocks, (size_t)in.rows * rowBytes);
      free(blocks);
      free(in.data);
      return 0;
    }
    float *out = malloc((size_t)(in.rows * in.cols + 1) * sizeof(float));
    for (long long r = 0; r < in.rows; ++r)
      type->dequantizeRow(blocks + r * rowBytes, out + r * in.cols, in.cols);
    writeNpy(argv[4], in.rank, in.shape, out);
    free(out);
    free(blocks);
    free(in.data);
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "--dequantize") == 0) {
    const GgmlRefType *type = findType(argv[2]);
    long long shape[2];
    for (int i = 0; i < 2; ++i) {
      char *end;
      shape[i] = strtoll(argv[4 + i], &end, 10);
      if (*end || end == argv[4 + i] || shape[i] < 0)
        fail("bad ROWS or COLS '%s'", argv[4 + i]);
    }
    checkCols(type, shape[1]);
    size_t size;
    unsigned char *blocks = readFile(argv[3], &size);
    size_t rowBytes = (size_t)(shape[1] / type->blockSize) * type->blockBytes;
    if (size != (size_t)shape[0] * rowBytes)
      fail("%s does not hold ROWS x COLS values in blocks of this type",
           argv[3]);
    float *out = malloc((size_t)(shape[0] * shape[1] + 1) * sizeof(float));
    for (long long r = 0; r < shape[0]; ++r)
      type->dequantizeRow(blocks + r * rowBytes, out + r * shape[1], shape[1]);
    writeNpy(argv[6], 2, shape, out);
    free(out);
    free(blocks);
    return 0;
  }
  return usage();
}
