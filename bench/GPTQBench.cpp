//===- GPTQBench.cpp - GPTQ time and quality on one layer -----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit-bench-gptq [--rows R] [--cols C] [--tokens T] [--group G] [--bits B]
//
// One synthetic layer W [rows x cols] (N(0, 0.02)) and T calibration tokens
// with correlated, heavy-tailed activations and a few outlier channels,
// generated in chunks of 4096 tokens and folded into the Hessian H = X^T X
// as they come (numerics::accumulateGram), so memory stays at one chunk.
// Then RTN (the baseline) and GPTQ with the same scheme (B-bit symmetric,
// groups of G inputs). The table gives each step's time and the relative
// proxy loss tr(E H E^T) / tr(W H W^T) of the quantization error E, the
// quantity GPTQ minimises; the ratio column compares with RTN.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Numerics/Numerics.h"

#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace lowbit;

namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// tr(E H E^T) for E [rows x cols], H [cols x cols]: (E H) by sgemm, then
/// a row-wise dot product accumulated in double.
double proxyLoss(const std::vector<float> &e, const std::vector<float> &h,
                 int64_t rows, int64_t cols) {
  std::vector<float> eh(e.size());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(rows),
              blasint(cols), blasint(cols), 1.0f, e.data(), blasint(cols),
              h.data(), blasint(cols), 0.0f, eh.data(), blasint(cols));
  double total = 0;
  for (size_t i = 0; i < e.size(); ++i)
    total += double(eh[i]) * double(e[i]);
  return total;
}

int usage() {
  std::fprintf(stderr, "usage: lowbit-bench-gptq [--rows R] [--cols C] "
                       "[--tokens T] [--group G] [--bits B]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  int64_t rows = 4096, cols = 4096, tokens = 65536, group = 128, bits = 4;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return usage();
    long long v = std::atoll(argv[++i]);
    if (v <= 0)
      return usage();
    if (a == "--rows")
      rows = v;
    else if (a == "--cols")
      cols = v;
    else if (a == "--tokens")
      tokens = v;
    else if (a == "--group")
      group = v;
    else if (a == "--bits")
      bits = v;
    else
      return usage();
  }
  if (cols % group || bits < 2 || bits > 8)
    return usage();

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float &v : w)
    v = 0.02f * normal(rng);
  // Activations: a fixed per-channel scale (log-normal, with 8 outlier
  // channels x 20) times a shared low-rank component plus noise.
  std::vector<float> chanScale(static_cast<size_t>(cols)),
      mixA(static_cast<size_t>(cols)), mixB(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    chanScale[size_t(j)] = std::exp(0.5f * normal(rng));
    mixA[size_t(j)] = normal(rng);
    mixB[size_t(j)] = normal(rng);
  }
  for (int k = 0; k < 8; ++k)
    chanScale[size_t(rng() % uint32_t(cols))] *= 20.0f;

  std::printf("lowbit-bench-gptq: W %lld x %lld, %lld calibration tokens, "
              "%lld-bit symmetric, groups of %lld\n",
              (long long)rows, (long long)cols, (long long)tokens,
              (long long)bits, (long long)group);
  const int64_t chunk = 4096;
  std::vector<float> x(static_cast<size_t>(chunk * cols));
  std::vector<float> h(static_cast<size_t>(cols * cols), 0.0f);
  double genTime = 0, gramTime = 0;
  for (int64_t t0 = 0; t0 < tokens; t0 += chunk) {
    const int64_t n = std::min(chunk, tokens - t0);
    double g0 = now();
    for (int64_t t = 0; t < n; ++t) {
      float a = normal(rng), b = normal(rng);
      float *xr = &x[size_t(t * cols)];
      for (int64_t j = 0; j < cols; ++j)
        xr[j] = chanScale[size_t(j)] *
                (a * mixA[size_t(j)] + b * mixB[size_t(j)] + normal(rng));
    }
    double g1 = now();
    numerics::accumulateGram(x.data(), n, cols, h.data());
    gramTime += now() - g1;
    genTime += g1 - g0;
  }

  numerics::Scheme scheme;
  scheme.kind = numerics::ElementKind::Int;
  scheme.bits = unsigned(bits);
  scheme.blockSizes = {1, group};
  std::vector<float> deq(w.size()), err(w.size());

  double r0 = now();
  numerics::QTensor rtn;
  numerics::Status st = numerics::quantize(w.data(), {rows, cols}, scheme, rtn);
  double rtnTime = now() - r0;
  if (!st.ok() || !numerics::dequantize(rtn, deq.data()).ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  for (size_t i = 0; i < w.size(); ++i)
    err[i] = w[i] - deq[i];
  double base = proxyLoss(w, h, rows, cols);
  double rtnLoss = proxyLoss(err, h, rows, cols) / base;

  double q0 = now();
  numerics::QTensor gq;
  st = numerics::gptq(w.data(), rows, cols, h.data(), scheme, {}, gq);
  double gptqTime = now() - q0;
  if (!st.ok() || !numerics::dequantize(gq, deq.data()).ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  for (size_t i = 0; i < w.size(); ++i)
    err[i] = w[i] - deq[i];
  double gptqLoss = proxyLoss(err, h, rows, cols) / base;

  std::printf("%-28s %10s %14s %10s\n", "step", "seconds", "rel. loss",
              "vs RTN");
  std::printf("%-28s %10.2f %14s %10s\n", "generate activations", genTime, "-",
              "-");
  std::printf("%-28s %10.2f %14s %10s\n", "Hessian X^T X (ssyrk)", gramTime,
              "-", "-");
  std::printf("%-28s %10.2f %14.3e %10s\n", "RTN (baseline)", rtnTime, rtnLoss,
              "1.000");
  std::printf("%-28s %10.2f %14.3e %10.3f\n", "GPTQ", gptqTime, gptqLoss,
              gptqLoss / rtnLoss);
  std::printf("GPTQ total (Hessian + GPTQ): %.2f s\n", gramTime + gptqTime);
  return 0;
}
