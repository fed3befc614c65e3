//===- CpuBench.cpp - lowbit-bench-cpu: CPU matmul baselines --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Prints one table: for each weight shape (K, N), each M (activation rows)
// and each thread count, the time of Y[M,N] = X[M,K] * W[N,K]^T with
//   - dram-read: a STREAM-style read/sum loop over a buffer far larger than
//     the last-level cache (one row per thread count: the memory bound that
//     the wGB/s column is compared with),
//   - openblas-f32: OpenBLAS sgemv (M = 1) / sgemm (M > 1) on fp32 weights,
//   - onednn-u8s8: oneDNN's int8 matmul primitive, u8 activations (one
//     scale and zero point per tensor, constants of the primitive) x s8
//     weights (one scale per output channel) -> f32, weights reordered to
//     the primitive's layout up front; activations quantized untimed,
//   - ggml-<type>: llama.cpp's CPU backend dot products for q4_0, q8_0, q4_k
//     and mxfp4 weights, called like ggml's mul_mat (activations quantized
//     to q8_0/q8_K once per call, inside the timing; one vec_dot per output;
//     output rows split evenly across the threads); ggml-lf-<type>: the
//     same with llamafile_sgemm (tinyBLAS) for M >= 2, which ggml's mul_mat
//     uses instead for q4_0 and q8_0 when built with GGML_LLAMAFILE,
// with weights evicted from the caches before each repetition ("cold") or
// not ("hot"). Each result is checked against an fp64 dot product of the
// fp32 data on sampled outputs (column err, ok).
//
// bench/README.md describes the columns; bench/results/cpu-matmul.md holds
// a full-size table.
//
//===----------------------------------------------------------------------===//

#include <cblas.h>
#include <omp.h>

#include "LowbitKernels.h"
#include "lowbit/Numerics/Numerics.h"

#if LOWBIT_HAVE_DNNL
#include <dnnl.hpp>
#endif
#if LOWBIT_HAVE_GGML_CPU
#include "GgmlCpu.h"
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

struct Shape {
  int64_t K, N;
};

struct Options {
  std::vector<int64_t> ms = {1, 8, 64, 128};
  std::vector<Shape> shapes = {{4096, 4096}, {4096, 14336}, {14336, 4096}};
  std::vector<int> threads = {1, 2};
  bool cold = true, hot = true;
  int reps = 0; // 0: chosen per problem (see defaultReps)
  size_t dramMiB = 1024;
  size_t evictMiB = 256;
  bool small = false;
};

[[noreturn]] void usage(const char *msg) {
  if (msg)
    std::fprintf(stderr, "lowbit-bench-cpu: %s\n", msg);
  std::fprintf(
      stderr,
      "usage: lowbit-bench-cpu [--m 1,8,64,128] "
      "[--shapes 4096x4096,4096x14336,14336x4096] [--threads 1,2]\n"
      "                        [--cold | --hot] [--reps N] [--dram-mib 1024] "
      "[--evict-mib 256] [--small]\n"
      "  shapes are KxN: W is N x K (N outputs, K inputs), X is M x K.\n"
      "  --cold / --hot: only weights evicted before each rep / only weights "
      "left in cache (default both)\n"
      "  --reps N: best of N timed reps after one warm-up (default: by size)\n"
      "  --small: tiny sizes, for the lit smoke test\n");
  std::exit(2);
}

std::vector<std::string> splitList(const std::string &s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos)
      comma = s.size();
    if (comma > pos)
      out.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

int64_t parsePositive(const std::string &s) {
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (!end || *end || v <= 0)
    usage(("not a positive integer: '" + s + "'").c_str());
  return v;
}

Options parseOptions(int argc, char **argv) {
  Options o;
  bool sawCold = false, sawHot = false, sawReps = false, sawM = false,
       sawShapes = false, sawDram = false, sawEvict = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--m") {
      o.ms.clear();
      for (auto &s : splitList(value()))
        o.ms.push_back(parsePositive(s));
      sawM = true;
    } else if (a == "--shapes") {
      o.shapes.clear();
      for (auto &s : splitList(value())) {
        size_t x = s.find('x');
        if (x == std::string::npos)
          usage(("shape is not KxN: '" + s + "'").c_str());
        o.shapes.push_back(
            {parsePositive(s.substr(0, x)), parsePositive(s.substr(x + 1))});
      }
      sawShapes = true;
    } else if (a == "--threads") {
      o.threads.clear();
      for (auto &s : splitList(value()))
        o.threads.push_back((int)parsePositive(s));
    } else if (a == "--cold") {
      sawCold = true;
    } else if (a == "--hot") {
      sawHot = true;
    } else if (a == "--reps") {
      o.reps = (int)parsePositive(value());
      sawReps = true;
    } else if (a == "--dram-mib") {
      o.dramMiB = parsePositive(value());
      sawDram = true;
    } else if (a == "--evict-mib") {
      o.evictMiB = parsePositive(value());
      sawEvict = true;
    } else if (a == "--small") {
      o.small = true;
    } else if (a == "-h" || a == "--help") {
      usage(nullptr);
    } else {
      usage(("unknown option '" + a + "'").c_str());
    }
  }
  if (sawCold || sawHot) {
    o.cold = sawCold;
    o.hot = sawHot;
  }
  if (o.small) {
    // K a multiple of 256 (q4_k's super-blocks); odd M and N.
    if (!sawM)
      o.ms = {1, 3, 17};
    if (!sawShapes)
      o.shapes = {{512, 80}, {768, 33}};
    if (!sawReps)
      o.reps = 1;
    if (!sawDram)
      o.dramMiB = 32;
    if (!sawEvict)
      o.evictMiB = 8;
  }
  for (const Shape &s : o.shapes)
    if (s.K % 256)
      usage("K must be a multiple of 256 (q4_k's super-block)");
  return o;
}

//===----------------------------------------------------------------------===//
// Timing, caches, data
//===----------------------------------------------------------------------===//

double nowUs() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The DRAM buffer: uint64 words i * 3 + 1, so that the read loop's sum is
// known in advance.
struct DramBuffer {
  uint64_t *data = nullptr;
  size_t words = 0;

  explicit DramBuffer(size_t bytes) {
    words = bytes / sizeof(uint64_t);
    data = static_cast<uint64_t *>(std::aligned_alloc(64, words * 8));
    if (!data) {
      std::fprintf(stderr, "lowbit-bench-cpu: cannot allocate %zu bytes\n",
                   bytes);
      std::exit(1);
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < words; ++i)
      data[i] = i * 3 + 1;
  }
  ~DramBuffer() { std::free(data); }

  static uint64_t expectedSum(size_t n) {
    // sum_{i<n} (3i + 1) mod 2^64
    unsigned __int128 s = (unsigned __int128)3 * n * (n - 1) / 2 + n;
    return (uint64_t)s;
  }
};

uint64_t readSum(const uint64_t *p, size_t n, int threads) {
  uint64_t s = 0;
#pragma omp parallel for simd num_threads(threads) schedule(static)            \
    reduction(+ : s)
  for (size_t i = 0; i < n; ++i)
    s += p[i];
  return s;
}

// Every thread reads the whole eviction buffer: the cores may not share one
// last-level cache (a VM's two vCPUs can sit on two CCDs).
struct Evictor {
  const DramBuffer &buf;
  size_t words;
  int threads;
  volatile uint64_t sink = 0;
  void operator()() {
    uint64_t total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      uint64_t s = 0;
#pragma omp simd reduction(+ : s)
      for (size_t i = 0; i < words; ++i)
        s += buf.data[i];
      total += s;
    }
    sink = sink + total;
  }
};

// Best of `reps` timed runs after one warm-up; `evict` before each when
// non-null.
double bestUs(const std::function<void()> &run, int reps,
              const std::function<void()> *evict) {
  if (evict)
    (*evict)();
  run();
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < reps; ++r) {
    if (evict)
      (*evict)();
    double t0 = nowUs();
    run();
    best = std::min(best, nowUs() - t0);
  }
  return best;
}

// Deterministic Gaussian data, per row so that rows fill in parallel.
void fillGaussian(float *x, int64_t rows, int64_t cols, uint64_t seed) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    uint64_t s =
        seed * 0x9E3779B97F4A7C15ull + (uint64_t)r * 0xD1B54A32D192ED03ull + 1;
    auto next = [&]() {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      return (double)(s >> 11) * (1.0 / 9007199254740992.0);
    };
    float *row = x + r * cols;
    for (int64_t c = 0; c < cols; c += 2) {
      double u1 = std::max(next(), 1e-300), u2 = next();
      double m = std::sqrt(-2.0 * std::log(u1));
      row[c] = (float)(m * std::cos(2 * M_PI * u2));
      if (c + 1 < cols)
        row[c + 1] = (float)(m * std::sin(2 * M_PI * u2));
    }
  }
}

//===----------------------------------------------------------------------===//
// Problems and the fp64 reference
//===----------------------------------------------------------------------===//

struct Problem {
  Shape shape;
  std::vector<float> W; // N x K
};

struct Activations {
  int64_t K;
  std::vector<float> X; // maxM x K
};

// Sampled outputs: rows {0, M/2, M-1} x up to 48 columns spread over N.
struct Samples {
  std::vector<std::pair<int64_t, int64_t>> at; // (m, n)
  std::vector<double> ref;
};

Samples referenceSamples(const Problem &p, const float *X, int64_t M) {
  Samples s;
  std::vector<int64_t> rows = {0, M / 2, M - 1};
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  int64_t N = p.shape.N, K = p.shape.K;
  int64_t cols = std::min<int64_t>(N, 48);
  for (int64_t m : rows)
    for (int64_t j = 0; j < cols; ++j) {
      int64_t n = cols == N ? j : (j * (N - 1)) / (cols - 1);
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += (double)X[m * K + k] * p.W[n * K + k];
      s.at.push_back({m, n});
      s.ref.push_back(acc);
    }
  return s;
}

double relError(const Samples &s, const float *Y, int64_t N) {
  double num = 0, den = 0;
  for (size_t i = 0; i < s.at.size(); ++i) {
    double y = Y[s.at[i].first * N + s.at[i].second];
    if (!std::isfinite(y))
      return std::numeric_limits<double>::infinity();
    num += (y - s.ref[i]) * (y - s.ref[i]);
    den += s.ref[i] * s.ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

//===----------------------------------------------------------------------===//
// Baselines
//===----------------------------------------------------------------------===//

// One implementation of Y = X W^T. prepareShape converts the fp32 weights
// (untimed, once per shape); prepareCall does per-(M, threads) set-up
// (untimed); run is what is timed.
struct Baseline {
  virtual ~Baseline() = default;
  virtual std::string name() const = 0;
  // Stored bytes of the weights of a K x N layer (scales included).
  virtual double weightBytes(int64_t K, int64_t N) const = 0;
  // Loose bound on the relative error against the fp32 product.
  virtual double tolerance() const = 0;
  // Whether this implementation has a row for (M, shape, threads).
  virtual bool supports(int64_t M, const Shape &s, int threads) const {
    return true;
  }
  virtual void prepareShape(const Problem &p) = 0;
  virtual void releaseShape() = 0;
  virtual void prepareCall(const float *X, int64_t M, int threads) = 0;
  virtual void run() = 0;
  virtual const float *output() const = 0;
};

class OpenBlasF32 : public Baseline {
  const Problem *p = nullptr;
  const float *X = nullptr;
  int64_t M = 0;
  std::vector<float> Y;

public:
  std::string name() const override { return "openblas-f32"; }
  double weightBytes(int64_t K, int64_t N) const override {
    return 4.0 * K * N;
  }
  double tolerance() const override { return 1e-4; }
  void prepareShape(const Problem &prob) override { p = &prob; }
  void releaseShape() override { p = nullptr; }
  void prepareCall(const float *x, int64_t m, int threads) override {
    X = x;
    M = m;
    Y.assign(M * p->shape.N, 0.f);
    openblas_set_num_threads(threads);
  }
  void run() override {
    int64_t K = p->shape.K, N = p->shape.N;
    if (M == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.f, p->W.data(), K, X, 1,
                  0.f, Y.data(), 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, X, K,
                  p->W.data(), K, 0.f, Y.data(), N);
  }
  const float *output() const override { return Y.data(); }
};

#if LOWBIT_HAVE_DNNL
class OneDnnU8S8 : public Baseline {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  int64_t K = 0, N = 0, M = 0;
  std::vector<int8_t> wq;    // N x K, per-row scales
  std::vector<float> wScale; // N
  std::vector<uint8_t> xq;   // M x K
  std::vector<float> scales; // N: xScale * wScale[n]
  int32_t zeroPoint = 0;
  std::vector<float> Y;
  dnnl::matmul prim;
  dnnl::memory src, wei, dst;

public:
  std::string name() const override { return "onednn-u8s8"; }
  double weightBytes(int64_t k, int64_t n) const override {
    return 1.0 * k * n + 4.0 * n;
  }
  double tolerance() const override { return 0.05; }
  void prepareShape(const Problem &p) override {
    K = p.shape.K;
    N = p.shape.N;
    wq.resize(K * N);
    wScale.resize(N);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float *w = p.W.data() + n * K;
      float amax = 0;
      for (int64_t k = 0; k < K; ++k)
        amax = std::max(amax, std::fabs(w[k]));
      float s = amax > 0 ? amax / 127.f : 1.f;
      wScale[n] = s;
      for (int64_t k = 0; k < K; ++k)
        wq[n * K + k] = (int8_t)std::lrint(std::clamp(w[k] / s, -127.f, 127.f));
    }
  }
  void releaseShape() override {
    prim = dnnl::matmul();
    wei = dnnl::memory();
    std::vector<int8_t>().swap(wq);
  }
  void prepareCall(const float *X, int64_t m, int threads) override {
    M = m;
    // Per-tensor asymmetric u8 activations (untimed).
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < M * K; ++i) {
      lo = std::min(lo, X[i]);
      hi = std::max(hi, X[i]);
    }
    float xScale = hi > lo ? (hi - lo) / 255.f : 1.f;
    zeroPoint = (int32_t)std::clamp(std::lrint(-lo / xScale), 0l, 255l);
    xq.resize(M * K);
    for (int64_t i = 0; i < M * K; ++i)
      xq[i] =
          (uint8_t)std::clamp(std::lrint(X[i] / xScale) + zeroPoint, 0l, 255l);
    scales.resize(N);
    for (int64_t n = 0; n < N; ++n)
      scales[n] = xScale * wScale[n];
    Y.assign(M * N, 0.f);

    // The primitive is created for this thread count (oneDNN's OpenMP
    // runtime reads omp_get_max_threads), weights reordered to its layout.
    // Scales and zero point are constants of the primitive (static
    // activation quantization, as with calibrated ranges): with run-time
    // ones (DNNL_RUNTIME_F32_VAL) oneDNN 2.6 leaves its brgemm VNNI kernel
    // for gemm:jit, 4-6x slower on this machine.
    omp_set_num_threads(threads);
    dnnl::memory::desc srcMd({M, K}, dt::u8, tag::ab);
    dnnl::memory::desc weiMd({K, N}, dt::s8, tag::any);
    dnnl::memory::desc dstMd({M, N}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, scales);
    attr.set_zero_points(DNNL_ARG_SRC, 0, {zeroPoint});
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(srcMd, weiMd, dstMd),
                                    attr, eng);
    prim = dnnl::matmul(pd);
    dnnl::memory userW({{K, N}, dt::s8, tag::ba}, eng, wq.data());
    wei = dnnl::memory(pd.weights_desc(), eng);
    dnnl::reorder(userW, wei).execute(strm, userW, wei);
    strm.wait();
    src = dnnl::memory(srcMd, eng, xq.data());
    dst = dnnl::memory(dstMd, eng, Y.data());
  }
  void run() override {
    prim.execute(
        strm,
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    strm.wait();
  }
  const float *output() const override { return Y.data(); }
};
#endif

#if LOWBIT_HAVE_GGML_CPU
class GgmlCpu : public Baseline {
protected:
  const LowbitGgmlCpuType &t;
  int64_t K = 0, N = 0, M = 0;
  int threads = 1;
  size_t wRow = 0, aRow = 0;
  std::vector<uint8_t> W, Xq;
  const float *X = nullptr;
  std::vector<float> Y;

public:
  explicit GgmlCpu(const LowbitGgmlCpuType &type) : t(type) {}
  std::string name() const override { return std::string("ggml-") + t.name; }
  double weightBytes(int64_t k, int64_t n) const override {
    return (double)(k / t.blockSize) * t.blockBytes * n;
  }
  double tolerance() const override {
    return t.blockBytes * 8.0 / t.blockSize > 6 ? 0.05 : 0.25;
  }
  void prepareShape(const Problem &p) override {
    K = p.shape.K;
    N = p.shape.N;
    wRow = (K / t.blockSize) * t.blockBytes;
    aRow = (K / t.actBlockSize) * t.actBlockBytes;
    W.resize(wRow * N);
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t n = 0; n < N; ++n)
      t.quantizeWeights(p.W.data() + n * K, W.data() + n * wRow, K);
  }
  void releaseShape() override { std::vector<uint8_t>().swap(W); }
  void prepareCall(const float *x, int64_t m, int th) override {
    X = x;
    M = m;
    threads = th;
    Xq.assign(aRow * M, 0);
    Y.assign(M * N, 0.f);
  }
  void run() override {
    const int64_t blk = 16; // ggml_compute_forward_mul_mat_one_chunk's tile
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
      for (int64_t m = 0; m < M; ++m)
        t.quantizeActivations(X + m * K, Xq.data() + m * aRow, K);
      int tid = omp_get_thread_num(), nt = omp_get_num_threads();
      int64_t n0 = N * tid / nt, n1 = N * (tid + 1) / nt;
      for (int64_t nb = n0; nb < n1; nb += blk)
        for (int64_t mb = 0; mb < M; mb += blk)
          for (int64_t m = mb; m < std::min(mb + blk, M); ++m)
            for (int64_t n = nb; n < std::min(nb + blk, n1); ++n)
              t.vecDot((int)K, &Y[m * N + n], 0, W.data() + n * wRow, 0,
                       Xq.data() + m * aRow, 0, 1);
    }
  }
  const float *output() const override { return Y.data(); }
};

#if LOWBIT_HAVE_GGML_LLAMAFILE
// The same weights and activation quantization, then llamafile_sgemm
// (tinyBLAS) instead of the vec_dot loop: ggml's mul_mat for M >= 2 when
// llama.cpp is built with GGML_LLAMAFILE (its default); tinyBLAS splits the
// output tiles across the threads itself.
class GgmlLlamafile : public GgmlCpu {
public:
  using GgmlCpu::GgmlCpu;
  std::string name() const override { return std::string("ggml-lf-") + t.name; }
  bool supports(int64_t M, const Shape &, int) const override { return M >= 2; }
  void run() override {
    bool ok = true;
#pragma omp parallel num_threads(threads) reduction(&& : ok)
    {
#pragma omp for schedule(static)
      for (int64_t m = 0; m < M; ++m)
        t.quantizeActivations(X + m * K, Xq.data() + m * aRow, K);
      ok = lowbitGgmlLlamafileSgemm(&t, omp_get_thread_num(),
                                    omp_get_num_threads(), N, M, K, W.data(),
                                    Xq.data(), Y.data());
    }
    if (!ok) {
      std::fprintf(stderr, "lowbit-bench-cpu: llamafile_sgemm refused %s\n",
                   t.name);
      std::exit(1);
    }
  }
};
#endif
#endif

// lowbit's generated kernels (LowbitKernels.h): int4 weights in groups of
// 32 inputs with f16 scales (4.5 bits per weight, as q4_0) or OCP MXFP4
// weights (E2M1, an E8M0 scale per 32: 4.25 bits, as ggml's mxfp4),
// quantized by lowbit's numerics library in the layout the qtensor's parts
// have (two codes per byte along K, row-major scales); activations f32 as
// they are (w4a32) or quantized to int8 per row inside the kernel's
// function (w4a8, mxfp4a8; timed, as ggml's q8_0); w8a8: int8 weights with
// an f32 scale per output channel, activations as w4a8; q4_0a8: GGUF q4_0
// blocks read as stored (the bytes ggml-q4_0 reads), activations as w4a8.
// Threads: the kernels' output-channel loop is an OpenMP parallel loop.
class LowbitW4 : public Baseline {
  std::string scheme;
  int64_t K = 0, N = 0, M = 0;
  lowbit::numerics::QTensor q;
  const LowbitKernelEntry *fn = nullptr;
  const float *X = nullptr;
  std::vector<float> Y;

  const LowbitKernelEntry *find(int64_t m, int64_t k, int64_t n) const {
    for (const LowbitKernelEntry &e : kLowbitKernels)
      if (e.M == m && e.K == k && e.N == n && scheme == e.scheme)
        return &e;
    return nullptr;
  }

public:
  explicit LowbitW4(std::string scheme) : scheme(std::move(scheme)) {}
  std::string name() const override { return "lowbit-" + scheme; }
  bool mx() const { return scheme == "mxfp4a8"; }
  bool w8() const { return scheme == "w8a8" || scheme == "w8a8q"; }
  bool preQuantized() const { return scheme == "w8a8q"; }
  lowbit::numerics::QTensor xq; // w8a8q: X quantized per row, untimed
  // w8a8, w8a8q: the weights in the int8 panel kernel's layout (packed
  // once per shape, untimed, as oneDNN's weights are reordered).
  std::vector<uint8_t> panels;
  bool q4_0() const { return scheme == "q4_0a8"; }
  bool q8_0() const { return scheme == "q8_0a8"; }
  bool q4_k() const { return scheme == "q4_ka8"; }
  bool gguf() const { return q4_0() || q8_0() || q4_k(); }
  double weightBytes(int64_t k, int64_t n) const override {
    if (w8())
      return 1.0 * k * n + 4.0 * n;
    if (q4_k())
      return k / 256 * 144.0 * n;
    if (q4_0() || q8_0())
      return k / 32 * (q4_0() ? 18.0 : 34.0) * n;
    return k * n / 2.0 + (k / 32) * n * (mx() ? 1.0 : 2.0);
  }
  double tolerance() const override { return w8() || q8_0() ? 0.05 : 0.25; }
  bool supports(int64_t m, const Shape &s, int threads) const override {
    return find(m, s.K, s.N) != nullptr;
  }
  void prepareShape(const Problem &p) override {
    K = p.shape.K;
    N = p.shape.N;
    lowbit::numerics::Scheme scheme;
    if (gguf()) {
      scheme.kind = lowbit::numerics::ElementKind::GGUF;
      scheme.gguf = q4_0()   ? lowbit::numerics::GGUFKind::Q4_0
                    : q4_k() ? lowbit::numerics::GGUFKind::Q4_K
                             : lowbit::numerics::GGUFKind::Q8_0;
    } else if (w8()) {
      scheme.bits = 8;
      scheme.scale = lowbit::numerics::ScaleType::F32;
    } else if (mx()) {
      scheme.kind = lowbit::numerics::ElementKind::MiniFloat;
      scheme.minifloat = lowbit::numerics::ElementType::F4E2M1FN;
      scheme.scale = lowbit::numerics::ScaleType::E8M0;
    } else {
      scheme.bits = 4;
      scheme.scale = lowbit::numerics::ScaleType::F16;
    }
    if (!gguf())
      scheme.blockSizes = {1, w8() ? K : 32};
    lowbit::numerics::Status st =
        lowbit::numerics::quantize(p.W.data(), {N, K}, scheme, q);
    if (st.ok() && w8() && N % 16 == 0 && K % 4 == 0)
      st = lowbit::numerics::packInt8Panels(q, panels);
    if (!st.ok()) {
      std::fprintf(stderr, "lowbit-bench-cpu: %s\n", st.message().c_str());
      std::exit(1);
    }
  }
  void releaseShape() override {
    q = lowbit::numerics::QTensor();
    panels.clear();
  }
  void prepareCall(const float *x, int64_t m, int threads) override {
    X = x;
    M = m;
    fn = find(M, K, N);
    // The kernels' scf.forall runs on OpenMP threads (libomp).
    omp_set_num_threads(threads);
    if (preQuantized()) {
      lowbit::numerics::Scheme xs;
      xs.blockSizes = {1, K};
      lowbit::numerics::Status st =
          lowbit::numerics::quantize(X, {M, K}, xs, xq);
      if (!st.ok()) {
        std::fprintf(stderr, "lowbit-bench-cpu: %s\n", st.message().c_str());
        std::exit(1);
      }
    }
    Y.assign(M * N, 0.f);
  }
  void run() override {
    const uint8_t *codes = fn->packed ? panels.data() : q.codes.data();
    if (fn->qFn)
      fn->qFn(reinterpret_cast<const int8_t *>(xq.codes.data()),
              reinterpret_cast<const float *>(xq.scales.data()), codes,
              q.scales.data(), Y.data());
    else if (fn->blockFn)
      fn->blockFn(X, codes, Y.data());
    else
      fn->fn(X, codes, q.scales.data(), Y.data());
  }
  const float *output() const override { return Y.data(); }
};

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

struct Row {
  std::string impl;
  int64_t M = 0, K = 0, N = 0;
  int threads = 1;
  bool cold = true;
  double us = 0, gops = 0, wgbs = 0, xdram = 0, err = 0;
  bool ok = false;
  bool dram = false;
};

void printHeader() {
  std::printf("%-14s %5s %6s %6s %3s %-4s %11s %9s %8s %6s %9s %3s\n", "impl",
              "M", "K", "N", "thr", "w", "time_us", "GOP/s", "wGB/s", "xDRAM",
              "err", "ok");
}

void printRow(const Row &r) {
  if (r.dram) {
    std::printf("%-14s %5s %6s %6s %3d %-4s %11.1f %9s %8.2f %6.2f %9s %3s\n",
                r.impl.c_str(), "-", "-", "-", r.threads, "-", r.us, "-",
                r.wgbs, 1.0, "-", r.ok ? "yes" : "no");
    return;
  }
  std::printf("%-14s %5lld %6lld %6lld %3d %-4s %11.1f %9.2f %8.2f %6.2f "
              "%9.2e %3s\n",
              r.impl.c_str(), (long long)r.M, (long long)r.K, (long long)r.N,
              r.threads, r.cold ? "cold" : "hot", r.us, r.gops, r.wgbs, r.xdram,
              r.err, r.ok ? "yes" : "no");
}

// Reps when --reps is not given: enough for a stable best-of while keeping
// the default full run under three minutes.
int defaultReps(double flops) {
  if (flops < 1e8)
    return 10;
  if (flops < 2e9)
    return 5;
  return 3;
}

} // namespace

int main(int argc, char **argv) {
  Options opt = parseOptions(argc, argv);
#if LOWBIT_HAVE_GGML_CPU
  lowbitGgmlCpuInit();
#endif
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Progress on stderr while measuring, when it is a terminal.
  const bool progress = isatty(2);

  int64_t maxM = *std::max_element(opt.ms.begin(), opt.ms.end());
  std::printf(
      "lowbit-bench-cpu: Y[M,N] = X[M,K] W[N,K]^T; best of %s reps "
      "after a warm-up; cold = %zu MiB read by each thread before each rep; "
      "DRAM buffer %zu MiB\n",
      opt.reps ? std::to_string(opt.reps).c_str() : "3-10", opt.evictMiB,
      opt.dramMiB);

  DramBuffer dram(opt.dramMiB << 20);
  Evictor evictor{dram, std::min(dram.words, (opt.evictMiB << 20) / 8),
                  *std::max_element(opt.threads.begin(), opt.threads.end())};
  std::function<void()> evict = [&] { evictor(); };

  std::vector<Row> rows;
  std::map<int, double> dramGBs;
  for (int th : opt.threads) {
    Row r;
    r.impl = "dram-read";
    r.threads = th;
    r.dram = true;
    uint64_t sum = 0;
    r.us = bestUs([&] { sum = readSum(dram.data, dram.words, th); },
                  opt.reps ? std::max(opt.reps, 3) : 5, nullptr);
    r.ok = sum == DramBuffer::expectedSum(dram.words);
    r.wgbs = dram.words * 8.0 / (r.us * 1e3);
    dramGBs[th] = r.wgbs;
    rows.push_back(r);
  }

  // Data: W per shape, X per K (the first M rows serve every M).
  std::vector<Problem> problems;
  std::map<int64_t, Activations> acts;
  for (size_t i = 0; i < opt.shapes.size(); ++i) {
    Problem p;
    p.shape = opt.shapes[i];
    p.W.resize(p.shape.K * p.shape.N);
    fillGaussian(p.W.data(), p.shape.N, p.shape.K, 1000 + i);
    problems.push_back(std::move(p));
    Activations &a = acts[opt.shapes[i].K];
    if (a.X.empty()) {
      a.K = opt.shapes[i].K;
      a.X.resize(maxM * a.K);
      fillGaussian(a.X.data(), maxM, a.K, 7 + a.K);
    }
  }
  std::map<std::pair<size_t, int64_t>, Samples> refs;
  for (size_t i = 0; i < problems.size(); ++i)
    for (int64_t M : opt.ms)
      refs[{i, M}] =
          referenceSamples(problems[i], acts[problems[i].shape.K].X.data(), M);

  std::vector<std::unique_ptr<Baseline>> baselines;
  baselines.push_back(std::make_unique<LowbitW4>("w4a32"));
  baselines.push_back(std::make_unique<LowbitW4>("w4a8"));
  baselines.push_back(std::make_unique<LowbitW4>("mxfp4a8"));
  baselines.push_back(std::make_unique<LowbitW4>("w8a8"));
  baselines.push_back(std::make_unique<LowbitW4>("w8a8q"));
  baselines.push_back(std::make_unique<LowbitW4>("q4_0a8"));
  baselines.push_back(std::make_unique<LowbitW4>("q8_0a8"));
  baselines.push_back(std::make_unique<LowbitW4>("q4_ka8"));
  baselines.push_back(std::make_unique<OpenBlasF32>());
#if LOWBIT_HAVE_DNNL
  baselines.push_back(std::make_unique<OneDnnU8S8>());
#endif
#if LOWBIT_HAVE_GGML_CPU
  {
    size_t n = 0;
    const LowbitGgmlCpuType *types = lowbitGgmlCpuTypes(&n);
    for (size_t i = 0; i < n; ++i)
      baselines.push_back(std::make_unique<GgmlCpu>(types[i]));
#if LOWBIT_HAVE_GGML_LLAMAFILE
    // tinyBLAS has x86 kernels for q4_0 and q8_0 only (the others fall back
    // to vec_dot in ggml too).
    for (size_t i = 0; i < n; ++i)
      if (std::string(types[i].name) == "q4_0" ||
          std::string(types[i].name) == "q8_0")
        baselines.push_back(std::make_unique<GgmlLlamafile>(types[i]));
#endif
  }
#endif

  // Measured baseline by baseline (OpenBLAS's idle worker threads spin for a
  // while after each call and would steal a core from the next baseline's
  // threads), printed grouped by problem afterwards.
  for (auto &b : baselines) {
    for (size_t pi = 0; pi < problems.size(); ++pi) {
      const Problem &p = problems[pi];
      b->prepareShape(p);
      for (int th : opt.threads)
        for (int64_t M : opt.ms) {
          if (!b->supports(M, p.shape, th))
            continue;
          const float *X = acts[p.shape.K].X.data();
          b->prepareCall(X, M, th);
          double flops = 2.0 * M * p.shape.K * p.shape.N;
          int reps = opt.reps ? opt.reps : defaultReps(flops);
          for (bool cold : {true, false}) {
            if (cold ? !opt.cold : !opt.hot)
              continue;
            Row r;
            r.impl = b->name();
            r.M = M;
            r.K = p.shape.K;
            r.N = p.shape.N;
            r.threads = th;
            r.cold = cold;
            r.us = bestUs([&] { b->run(); }, reps, cold ? &evict : nullptr);
            r.gops = flops / (r.us * 1e3);
            r.wgbs = b->weightBytes(p.shape.K, p.shape.N) / (r.us * 1e3);
            r.xdram = r.wgbs / dramGBs[th];
            r.err = relError(refs[{pi, M}], b->output(), p.shape.N);
            r.ok = r.err <= b->tolerance();
            rows.push_back(r);
            if (progress)
              std::fprintf(stderr,
                           "\r%-14s K=%-6lld N=%-6lld M=%-4lld thr=%d  ",
                           r.impl.c_str(), (long long)r.K, (long long)r.N,
                           (long long)M, th);
          }
        }
      b->releaseShape();
    }
    if (b->name() == "openblas-f32" &&
        *std::max_element(opt.threads.begin(), opt.threads.end()) > 1 &&
        !opt.small)
      std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (progress)
    std::fprintf(stderr, "\r%60s\r", "");

  // One table: the DRAM rows, then by shape, M, threads, cold/hot, baseline.
  printHeader();
  size_t bad = 0;
  for (const Row &r : rows) {
    if (r.dram)
      printRow(r);
    bad += !r.ok;
  }
  for (const Shape &s : opt.shapes)
    for (int64_t M : opt.ms)
      for (int th : opt.threads)
        for (bool cold : {true, false})
          for (auto &b : baselines)
            for (const Row &r : rows)
              if (!r.dram && r.K == s.K && r.N == s.N && r.M == M &&
                  r.threads == th && r.cold == cold && r.impl == b->name())
                printRow(r);

  // Same-run ratios of lowbit's rows: baseline time / lowbit time (above 1:
  // lowbit is faster), for the baselines of the same numerics class.
  static const char *const ratioBaselines[] = {
      "ggml-q4_0",  "ggml-lf-q4_0", "ggml-q8_0",   "ggml-q4_k",
      "ggml-mxfp4", "onednn-u8s8",  "openblas-f32"};
  bool header = false;
  for (const Row &r : rows) {
    if (r.dram || r.impl.rfind("lowbit-", 0) != 0)
      continue;
    if (!header) {
      std::printf("ratios: baseline time / lowbit time in this run (> 1: "
                  "lowbit faster)\n");
      std::printf("%-14s %5s %6s %6s %3s %-4s", "impl", "M", "K", "N", "thr",
                  "w");
      for (const char *b : ratioBaselines)
        std::printf(" %13s", b);
      std::printf(" %6s\n", "xDRAM");
      header = true;
    }
    std::printf("%-14s %5lld %6lld %6lld %3d %-4s", r.impl.c_str(),
                (long long)r.M, (long long)r.K, (long long)r.N, r.threads,
                r.cold ? "cold" : "hot");
    for (const char *b : ratioBaselines) {
      const Row *other = nullptr;
      for (const Row &o : rows)
        if (!o.dram && o.impl == b && o.K == r.K && o.N == r.N && o.M == r.M &&
            o.threads == r.threads && o.cold == r.cold)
          other = &o;
      if (other)
        std::printf(" %13.2f", other->us / r.us);
      else
        std::printf(" %13s", "-");
    }
    std::printf(" %6.2f\n", r.xdram);
  }
  std::printf("lowbit-bench-cpu: %zu rows, %zu not ok\n", rows.size(), bad);
  return bad ? 1 : 0;
}
