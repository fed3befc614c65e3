//===- QuantizeBench.cpp - Quantize throughput of lowbit's numerics ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-bench-quantize [--rows R] [--cols C] [--reps N] [--formats a,b,..]
//
// Single-thread throughput, in GB/s of fp32 input, of numerics::quantize for
// the named formats of lowbit-quantize on a rows x cols matrix of N(0, 1)
// values (quantized along the last axis, into one QTensor reused across
// repetitions), best of N repetitions. Each row has baselines measured in
// the same run, interleaved with its repetitions: a read-only pass over the
// same input (the memory-bandwidth ceiling of a single core) and, for GGUF
// formats when built with LOWBIT_LLAMA_CPP_DIR, llama.cpp's reference
// quantizer quantize_row_<type>_ref on the same rows. bench/README.md
// explains the columns.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Numerics.h"

#ifdef LOWBIT_HAVE_GGML_REF
#include "GgmlRef.h"
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace lowbit;

namespace {

struct BenchRow {
  const char *label;
  const char *format;
  int64_t groupSize;
};

// int8/int4 are lowbit's integer formats (symmetric, fp32 scales); the others
// have fixed block sizes.
const BenchRow benchRows[] = {
    {"int8 per-row", "int8", 0}, {"int4 g128", "int4", 128},
    {"mxfp4", "mxfp4", 0},       {"nvfp4", "nvfp4", 0},
    {"q4_0", "q4_0", 0},         {"q4_1", "q4_1", 0},
    {"q5_0", "q5_0", 0},         {"q5_1", "q5_1", 0},
    {"q8_0", "q8_0", 0},         {"gguf_mxfp4", "gguf_mxfp4", 0},
    {"q4_k", "q4_k", 0},         {"q6_k", "q6_k", 0},
};

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

volatile uint64_t sink;

// Reads every fp32 word of `x` once (integer sum, so that the compiler may
// vectorize it freely).
void readPass(const float *x, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], sizeof(bits));
    sum += bits;
  }
  sink = sum;
}

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s [--rows R] [--cols C] [--reps N] "
               "[--formats a,b,...]\n"
               "  defaults: 4096 x 4096, 5 repetitions, all formats\n",
               argv0);
  return 2;
}

bool parseInt(const char *s, int64_t &out) {
  char *end;
  long long v = std::strtoll(s, &end, 10);
  if (end == s || *end || v <= 0)
    return false;
  out = v;
  return true;
}

std::string formatRate(double gbps) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", gbps);
  return buf;
}

std::string formatRatio(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fx", ratio);
  return buf;
}

} // namespace

int main(int argc, char **argv) {
  int64_t rows = 4096, cols = 4096, reps = 5;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      return usage(argv[0]);
    const char *value = argv[++i];
    if (arg == "--rows") {
      if (!parseInt(value, rows))
        return usage(argv[0]);
    } else if (arg == "--cols") {
      if (!parseInt(value, cols))
        return usage(argv[0]);
    } else if (arg == "--reps") {
      if (!parseInt(value, reps))
        return usage(argv[0]);
    } else if (arg == "--formats") {
      std::string list = value;
      for (size_t pos = 0; pos <= list.size();) {
        size_t comma = std::min(list.find(',', pos), list.size());
        if (comma > pos)
          only.push_back(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
    } else {
      return usage(argv[0]);
    }
  }

  const size_t n = size_t(rows) * size_t(cols);
  const double bytes = double(n) * sizeof(float);
  std::vector<float> x(n);
  std::mt19937 rng(0x10b17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float &v : x)
    v = normal(rng);
  const std::vector<int64_t> shape = {rows, cols};

  std::printf("lowbit-bench-quantize: %lld x %lld fp32 (%.1f MiB), "
              "single thread, best of %lld\n",
              (long long)rows, (long long)cols, bytes / (1 << 20),
              (long long)reps);
#ifndef LOWBIT_HAVE_GGML_REF
  std::printf("(built without LOWBIT_LLAMA_CPP_DIR: no llama.cpp baselines)\n");
#endif
  std::printf("%-14s %11s %11s %9s %7s %11s %8s\n", "format", "lowbit GB/s",
              "llama GB/s", "vs llama", "same", "read GB/s", "vs read");

  const std::vector<std::string> &known = numerics::formatNames();
  int status = 0;
  for (const BenchRow &row : benchRows) {
    if (!only.empty() &&
        std::find(only.begin(), only.end(), row.format) == only.end())
      continue;
    if (std::find(known.begin(), known.end(), row.format) == known.end()) {
      std::printf("%-14s (no format '%s' in this build)\n", row.label,
                  row.format);
      continue;
    }
    numerics::FormatOptions options;
    options.groupSize = row.groupSize;
    numerics::Scheme scheme;
    numerics::Status st =
        numerics::schemeForFormat(row.format, shape, options, scheme);
    if (!st.ok()) {
      std::printf("%-14s error: %s\n", row.label, st.message().c_str());
      status = 1;
      continue;
    }

#ifdef LOWBIT_HAVE_GGML_REF
    const GgmlRefType *ref = ggmlRefFind(row.format);
    std::vector<uint8_t> refOut;
    size_t refRowBytes = 0;
    if (ref && cols % ref->blockSize == 0) {
      refRowBytes = size_t(cols / ref->blockSize) * ref->blockBytes;
      refOut.resize(size_t(rows) * refRowBytes);
    } else {
      ref = nullptr;
    }
#endif

    numerics::QTensor q;
    double best = 1e30, bestRef = 1e30, bestRead = 1e30;
    // One untimed warm-up repetition (page faults of fresh outputs).
    for (int64_t rep = 0; rep <= reps; ++rep) {
      double t0 = now();
      st = numerics::quantize(x.data(), shape, scheme, q);
      double t1 = now();
      if (!st.ok())
        break;
      readPass(x.data(), n);
      double t2 = now();
#ifdef LOWBIT_HAVE_GGML_REF
      if (ref)
        for (int64_t r = 0; r < rows; ++r)
          ref->quantizeRow(x.data() + r * cols, refOut.data() + r * refRowBytes,
                           cols);
#endif
      double t3 = now();
      if (rep == 0)
        continue;
      best = std::min(best, t1 - t0);
      bestRead = std::min(bestRead, t2 - t1);
      bestRef = std::min(bestRef, t3 - t2);
    }
    if (!st.ok()) {
      std::printf("%-14s error: %s\n", row.label, st.message().c_str());
      status = 1;
      continue;
    }

    double rate = bytes / best / 1e9, readRate = bytes / bestRead / 1e9;
    std::string refRate = "-", vsRef = "-", same = "-";
#ifdef LOWBIT_HAVE_GGML_REF
    if (ref) {
      double r = bytes / bestRef / 1e9;
      refRate = formatRate(r);
      vsRef = formatRatio(rate / r);
      same = q.codes == refOut ? "yes" : "NO";
    }
#endif
    std::printf("%-14s %11s %11s %9s %7s %11s %8s\n", row.label,
                formatRate(rate).c_str(), refRate.c_str(), vsRef.c_str(),
                same.c_str(), formatRate(readRate).c_str(),
                formatRatio(rate / readRate).c_str());
  }
  return status;
}
