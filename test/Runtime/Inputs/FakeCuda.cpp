//===- FakeCuda.cpp - a CUDA driver stand-in for tests without a GPU ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// liblowbit_fake_cuda.so exports the driver entry points lib/Runtime opens
// ($LOWBIT_CUDA_DRIVER names it). "Device" memory is host memory (every
// copy is checked against its allocation), modules are the PTX text
// (kernels must be `.entry`s in it), and cuLaunchKernel executes a plain
// C++ model of the contracts of three lowbit kernels (docs/CodegenGPU.md),
// written from their documentation, not from lowbit's code:
//   w4a16_{gemv,gemm}_MxNxK_gG_{f16,f32}: f16 X [M, K]; int4 codes in
//     "mma-b" tiles; f16 scales [N, K/G]; Y = sum_k x * f16(q * s) (f32)
//   w8a8_gemm_MxNxK_x{row,t}_w{row,t}_{f16,f32}: int8 X, f32 scales per
//     row or tensor, int8 W [N, K], f32 scales; Y = sx * sw * exact sum
//   quantize_i8_rows_MxK_{f16,f32}: per-row amax / 127, round to nearest
//     even, NaN to 0, clamp to [-128, 127]
// Anything else fails with CUDA_ERROR_NOT_SUPPORTED. Contexts are current
// per thread (a stack, as in the driver): without one, memory, copies and
// launches fail with CUDA_ERROR_INVALID_CONTEXT. With
// $LOWBIT_FAKE_CUDA_LOG set, each launch, copy, stream synchronization and
// event record appends a line to it (naming its stream when not NULL).
// $LOWBIT_FAKE_CUDA_FAIL names one entry point that fails with
// CUDA_ERROR_INVALID_VALUE; $LOWBIT_FAKE_CUDA_JIT_INFO is the text
// cuModuleLoadDataEx writes into the JIT info log it is given (as a
// driver would report, say, ptxas's advisory C7519), and a PTX it rejects
// gets "ptxas fatal : ..." in the JIT error log.
//
//===----------------------------------------------------------------------===//

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using CUresult = int;
constexpr CUresult kOk = 0, kInvalidValue = 1, kNotInitialized = 3,
                   kInvalidContext = 201, kNotFound = 500, kNotSupported = 801;

bool initialized = false;
int contextToken;
// The driver's per-thread context stack: memory, copies and launches need
// a current context, as with the real driver.
thread_local std::vector<void *> contextStack;
bool haveContext() { return !contextStack.empty() && contextStack.back(); }
std::map<uintptr_t, size_t> allocations; // base -> bytes
struct Function {
  std::string name;
};
struct Module {
  std::string ptx;
  std::vector<Function *> functions;
};

void log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log(const char *fmt, ...) {
  const char *path = std::getenv("LOWBIT_FAKE_CUDA_LOG");
  if (!path || !*path)
    return;
  FILE *f = std::fopen(path, "a");
  if (!f)
    return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(f, fmt, ap);
  va_end(ap);
  std::fputc('\n', f);
  std::fclose(f);
}

/// Whether $LOWBIT_FAKE_CUDA_FAIL names `call`.
bool failing(const char *call) {
  const char *f = std::getenv("LOWBIT_FAKE_CUDA_FAIL");
  return f && std::strcmp(f, call) == 0;
}

/// " stream 0x..." for a stream other than NULL (the legacy default).
std::string streamText(void *stream) {
  if (!stream)
    return "";
  char buf[40];
  std::snprintf(buf, sizeof buf, " stream %p", stream);
  return buf;
}

/// A JIT log buffer of cuModuleLoadDataEx's options (`buffer` with its size
/// in option `buffer + 1`): filled with at most size - 1 bytes of `text`.
void fillLog(unsigned n, const int *options, void **values, int buffer,
             const char *text) {
  for (unsigned i = 0; i < n; ++i)
    if (options[i] == buffer)
      for (unsigned j = 0; j < n; ++j)
        if (options[j] == buffer + 1) {
          size_t size = size_t(reinterpret_cast<uintptr_t>(values[j]));
          if (size) {
            std::strncpy(static_cast<char *>(values[i]), text, size - 1);
            static_cast<char *>(values[i])[size - 1] = 0;
          }
        }
}

/// Whether [p, p + n) lies inside one allocation.
bool inDevice(uintptr_t p, size_t n) {
  auto it = allocations.upper_bound(p);
  if (it == allocations.begin())
    return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second;
}

float halfToFloat(uint16_t h) {
  _Float16 v;
  std::memcpy(&v, &h, 2);
  return float(v);
}
uint16_t floatToHalf(float f) {
  _Float16 v = _Float16(f); // round to nearest even
  uint16_t h;
  std::memcpy(&h, &v, 2);
  return h;
}

/// "w4a16_gemv_2x40x64_g32_f16" -> its numbers and the result type.
bool parseProblem(const std::string &name, const char *prefix, long &m, long &n,
                  long &k, long &g, std::string &rest) {
  size_t plen = std::strlen(prefix);
  if (name.compare(0, plen, prefix) != 0)
    return false;
  char tail[64] = {0};
  int got;
  if (g >= 0) {
    got = std::sscanf(name.c_str() + plen, "%ldx%ldx%ld_g%ld_%63s", &m, &n, &k,
                      &g, tail);
    if (got != 5)
      return false;
  } else {
    got =
        std::sscanf(name.c_str() + plen, "%ldx%ldx%ld_%63s", &m, &n, &k, tail);
    if (got != 4)
      return false;
  }
  rest = tail;
  return true;
}

void storeY(void *y, long i, float v, bool f16) {
  if (f16)
    static_cast<uint16_t *>(y)[i] = floatToHalf(v);
  else
    static_cast<float *>(y)[i] = v;
}

/// Kernel parameter i: a device pointer (the launch passes its address).
void *dev(void **params, int i) {
  return reinterpret_cast<void *>(*static_cast<uintptr_t *>(params[i]));
}

CUresult runW4A16(long m, long n, long k, long g, bool f16Out, void **params) {
  const uint16_t *x = static_cast<const uint16_t *>(dev(params, 0));
  const uint8_t *tiles = static_cast<const uint8_t *>(dev(params, 1));
  const uint16_t *scales = static_cast<const uint16_t *>(dev(params, 2));
  void *y = dev(params, 3);
  long kb = k / 32;
  if (!inDevice(uintptr_t(x), size_t(m * k * 2)) ||
      !inDevice(uintptr_t(tiles), size_t((n + 31) / 32 * kb * 512)) ||
      !inDevice(uintptr_t(scales), size_t(n * (k / g) * 2)) ||
      !inDevice(uintptr_t(y), size_t(m * n * (f16Out ? 2 : 4))))
    return kInvalidValue;
  std::vector<float> w(size_t(n * k));
  for (long c = 0; c < n; ++c)
    for (long i = 0; i < k; ++i) {
      // Lane 4g' + t owns 16 bytes (four words) of tile (c / 32, i / 32);
      // word ni holds channel 8 ni + g'; nibble p = 2 ks + j holds input
      // 16 ks + 8 j + 2 t of the tile, nibble p + 4 the next one.
      long r = i % 32, ks = r / 16, j = r % 16 / 8, t = r % 8 / 2;
      long gl = c % 8, ni = c % 32 / 8;
      long nibble = 2 * ks + j + 4 * (r % 2);
      const uint8_t *word =
          tiles + ((c / 32) * kb + i / 32) * 512 + 16 * (4 * gl + t) + 4 * ni;
      int code = (word[nibble / 2] >> (4 * (nibble % 2))) & 0xF;
      int q = code >= 8 ? code - 16 : code;
      float s = halfToFloat(scales[c * (k / g) + i / g]);
      w[size_t(c * k + i)] = halfToFloat(floatToHalf(float(q) * s));
    }
  for (long row = 0; row < m; ++row)
    for (long c = 0; c < n; ++c) {
      float acc = 0;
      for (long i = 0; i < k; ++i)
        acc += halfToFloat(x[row * k + i]) * w[size_t(c * k + i)];
      storeY(y, row * n + c, acc, f16Out);
    }
  return kOk;
}

CUresult runW8A8(long m, long n, long k, bool xRow, bool wRow, bool f16Out,
                 void **params) {
  const int8_t *x = static_cast<const int8_t *>(dev(params, 0));
  const float *sx = static_cast<const float *>(dev(params, 1));
  const int8_t *w = static_cast<const int8_t *>(dev(params, 2));
  const float *sw = static_cast<const float *>(dev(params, 3));
  void *y = dev(params, 4);
  if (!inDevice(uintptr_t(x), size_t(m * k)) ||
      !inDevice(uintptr_t(sx), size_t(xRow ? m * 4 : 4)) ||
      !inDevice(uintptr_t(w), size_t(n * k)) ||
      !inDevice(uintptr_t(sw), size_t(wRow ? n * 4 : 4)) ||
      !inDevice(uintptr_t(y), size_t(m * n * (f16Out ? 2 : 4))))
    return kInvalidValue;
  for (long r = 0; r < m; ++r)
    for (long c = 0; c < n; ++c) {
      int32_t acc = 0;
      for (long i = 0; i < k; ++i)
        acc += int32_t(x[r * k + i]) * int32_t(w[c * k + i]);
      storeY(y, r * n + c, float(acc) * sx[xRow ? r : 0] * sw[wRow ? c : 0],
             f16Out);
    }
  return kOk;
}

CUresult runQuantize(long m, long k, bool f16In, void **params) {
  const void *x = dev(params, 0);
  int8_t *codes = static_cast<int8_t *>(dev(params, 1));
  float *scales = static_cast<float *>(dev(params, 2));
  if (!inDevice(uintptr_t(x), size_t(m * k * (f16In ? 2 : 4))) ||
      !inDevice(uintptr_t(codes), size_t(m * k)) ||
      !inDevice(uintptr_t(scales), size_t(m * 4)))
    return kInvalidValue;
  auto at = [&](long i) {
    return f16In ? halfToFloat(static_cast<const uint16_t *>(x)[i])
                 : static_cast<const float *>(x)[i];
  };
  for (long r = 0; r < m; ++r) {
    float amax = 0;
    for (long i = 0; i < k; ++i) {
      float v = std::fabs(at(r * k + i));
      if (v > amax) // NaN never wins
        amax = v;
    }
    float s = amax / 127.0f;
    if (s == 0)
      s = 1;
    scales[r] = s;
    for (long i = 0; i < k; ++i) {
      float v = at(r * k + i) / s;
      float q = std::isnan(v) ? 0.0f : std::nearbyint(v);
      q = q < -128 ? -128 : q > 127 ? 127 : q;
      codes[r * k + i] = int8_t(q);
    }
  }
  return kOk;
}

} // namespace

extern "C" {

CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = r == kInvalidValue     ? "CUDA_ERROR_INVALID_VALUE"
       : r == kInvalidContext ? "CUDA_ERROR_INVALID_CONTEXT"
       : r == kNotInitialized ? "CUDA_ERROR_NOT_INITIALIZED"
       : r == kNotFound       ? "CUDA_ERROR_NOT_FOUND"
       : r == kNotSupported   ? "CUDA_ERROR_NOT_SUPPORTED"
                              : "CUDA_ERROR_UNKNOWN";
  return kOk;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
  *s = "lowbit's fake CUDA driver (tests)";
  return kOk;
}
CUresult cuInit(unsigned) {
  initialized = true;
  return kOk;
}
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return initialized ? kOk : kNotInitialized;
}
CUresult cuDeviceGet(int *d, int i) {
  if (i != 0 || failing("cuDeviceGet"))
    return kInvalidValue;
  *d = 0;
  return kOk;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, size_t(len), "lowbit fake CUDA device");
  return kOk;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
  *v = attr == 75 ? 9 : 0; // compute capability 9.0
  return kOk;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  if (failing("cuDevicePrimaryCtxRetain"))
    return kInvalidValue;
  *ctx = &contextToken;
  return kOk;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kOk; }
CUresult cuCtxSetCurrent(void *ctx) {
  if (contextStack.empty())
    contextStack.push_back(ctx);
  else
    contextStack.back() = ctx;
  return kOk;
}
CUresult cuCtxPushCurrent_v2(void *ctx) {
  contextStack.push_back(ctx);
  return kOk;
}
CUresult cuCtxPopCurrent_v2(void **ctx) {
  if (contextStack.empty())
    return kInvalidContext;
  if (ctx)
    *ctx = contextStack.back();
  contextStack.pop_back();
  return kOk;
}
CUresult cuCtxSynchronize() { return kOk; }
// Options: CU_JIT_INFO_LOG_BUFFER 3 (size in 4), CU_JIT_ERROR_LOG_BUFFER 5
// (size in 6).
CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n,
                            int *options, void **values) {
  const char *ptx = static_cast<const char *>(image);
  const char *info = std::getenv("LOWBIT_FAKE_CUDA_JIT_INFO");
  if (info)
    fillLog(n, options, values, 3, info);
  if (!std::strstr(ptx, ".version") || !std::strstr(ptx, ".entry")) {
    fillLog(n, options, values, 5, "ptxas fatal : no .version or .entry");
    return kInvalidValue;
  }
  *mod = new Module{ptx, {}};
  return kOk;
}
CUresult cuModuleUnload(void *mod) {
  auto *m = static_cast<Module *>(mod);
  for (Function *f : m->functions)
    delete f;
  delete m;
  return kOk;
}
CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
  auto *m = static_cast<Module *>(mod);
  if (m->ptx.find(".entry " + std::string(name) + "(") == std::string::npos)
    return kNotFound;
  auto *f = new Function{name};
  m->functions.push_back(f);
  *fn = f;
  return kOk;
}
CUresult cuFuncSetAttribute(void *, int, int) { return kOk; }
CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        void *stream, void **params, void **) {
  if (!haveContext())
    return kInvalidContext;
  const std::string &name = static_cast<Function *>(fn)->name;
  log("launch %s grid %u,%u,%u block %u,%u,%u shared %u%s", name.c_str(), gx,
      gy, gz, bx, by, bz, shared, streamText(stream).c_str());
  long m, n, k, g = 0;
  std::string rest;
  if (parseProblem(name, "w4a16_gemv_", m, n, k, g, rest) ||
      parseProblem(name, "w4a16_gemm_", m, n, k, g, rest)) {
    if (rest != "f16" && rest != "f32")
      return kNotSupported;
    return runW4A16(m, n, k, g, rest == "f16", params);
  }
  g = -1;
  if (parseProblem(name, "w8a8_gemm_", m, n, k, g, rest)) {
    bool xRow = rest.compare(0, 5, "xrow_") == 0;
    std::string w = rest.substr(xRow ? 5 : 3);
    bool wRow = w.compare(0, 5, "wrow_") == 0;
    std::string y = w.substr(wRow ? 5 : 3);
    if (y != "f16" && y != "f32")
      return kNotSupported;
    return runW8A8(m, n, k, xRow, wRow, y == "f16", params);
  }
  char type[16] = {0};
  if (std::sscanf(name.c_str(), "quantize_i8_rows_%ldx%ld_%15s", &m, &k,
                  type) == 3 &&
      (std::string(type) == "f16" || std::string(type) == "f32"))
    return runQuantize(m, k, std::string(type) == "f16", params);
  return kNotSupported;
}
CUresult cuMemAlloc_v2(uintptr_t *p, size_t bytes) {
  if (!haveContext())
    return kInvalidContext;
  void *mem = std::calloc(1, bytes ? bytes : 1);
  if (!mem)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  *p = uintptr_t(mem);
  allocations[*p] = bytes;
  return kOk;
}
CUresult cuMemFree_v2(uintptr_t p) {
  if (!haveContext())
    return kInvalidContext;
  auto it = allocations.find(p);
  if (it == allocations.end())
    return kInvalidValue;
  std::free(reinterpret_cast<void *>(p));
  allocations.erase(it);
  return kOk;
}
CUresult cuMemcpyHtoD_v2(uintptr_t dst, const void *src, size_t n) {
  log("copy to device %zu bytes", n);
  if (!haveContext())
    return kInvalidContext;
  if (!inDevice(dst, n))
    return kInvalidValue;
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kOk;
}
CUresult cuMemcpyDtoH_v2(void *dst, uintptr_t src, size_t n) {
  log("copy to host %zu bytes", n);
  if (!haveContext())
    return kInvalidContext;
  if (!inDevice(src, n))
    return kInvalidValue;
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kOk;
}
CUresult cuMemcpyHtoDAsync_v2(uintptr_t dst, const void *src, size_t n,
                              void *stream) {
  log("copy to device %zu bytes%s", n, streamText(stream).c_str());
  if (!haveContext())
    return kInvalidContext;
  if (!inDevice(dst, n))
    return kInvalidValue;
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kOk;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, uintptr_t src, size_t n,
                              void *stream) {
  log("copy to host %zu bytes%s", n, streamText(stream).c_str());
  if (!haveContext())
    return kInvalidContext;
  if (!inDevice(src, n))
    return kInvalidValue;
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kOk;
}
CUresult cuStreamSynchronize(void *stream) {
  log("synchronize%s", streamText(stream).c_str());
  return haveContext() ? kOk : kInvalidContext;
}
CUresult cuEventCreate(void **e, unsigned) {
  *e = new int(0);
  return kOk;
}
CUresult cuEventDestroy_v2(void *e) {
  delete static_cast<int *>(e);
  return kOk;
}
CUresult cuEventRecord(void *, void *stream) {
  log("event record%s", streamText(stream).c_str());
  return kOk;
}
CUresult cuEventSynchronize(void *) { return kOk; }
CUresult cuEventElapsedTime(float *ms, void *, void *) {
  *ms = 0;
  return kOk;
}

} // extern "C"
