//===- Runtime.cpp - CUDA driver API through dlopen -----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lowbit's GPU runtime (docs/CodegenGPU.md): the few CUDA driver entry
// points it needs, resolved from libcuda.so.1 at run time. The driver's
// types are declared here as the driver ABI defines them (cuda.h is not
// needed to build this file).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Runtime/Runtime.h"

#include "JitLog.h"

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace {

// The driver ABI (cuda.h): results are ints, handles opaque pointers.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
constexpr CUresult kSuccess = 0;
constexpr CUresult kNoDevice = 100;
constexpr CUresult kStubLibrary = 34;
// CUjit_option: CU_JIT_INFO_LOG_BUFFER, _SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
// _SIZE_BYTES.
constexpr int kJitInfoLogBuffer = 3, kJitInfoLogBufferSize = 4;
constexpr int kJitErrorLogBuffer = 5, kJitErrorLogBufferSize = 6;
constexpr int kComputeCapabilityMajor = 75, kComputeCapabilityMinor = 76;
constexpr int kFuncMaxDynamicShared = 8;

struct Driver {
  void *lib = nullptr;
  CUresult (*init)(unsigned);
  CUresult (*deviceGetCount)(int *);
  CUresult (*deviceGet)(CUdevice *, int);
  CUresult (*deviceGetName)(char *, int, CUdevice);
  CUresult (*deviceGetAttribute)(int *, int, CUdevice);
  CUresult (*primaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*primaryCtxRelease)(CUdevice);
  CUresult (*ctxSetCurrent)(CUcontext);
  CUresult (*ctxSynchronize)();
  CUresult (*ctxPushCurrent)(CUcontext);
  CUresult (*ctxPopCurrent)(CUcontext *);
  CUresult (*moduleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                               void **);
  CUresult (*moduleUnload)(CUmodule);
  CUresult (*moduleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*funcSetAttribute)(CUfunction, int, int);
  CUresult (*launchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*memAlloc)(CUdeviceptr *, size_t);
  CUresult (*memFree)(CUdeviceptr);
  CUresult (*memcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*memcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*memcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*memcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*streamSynchronize)(CUstream);
  CUresult (*eventCreate)(CUevent *, unsigned);
  CUresult (*eventDestroy)(CUevent);
  CUresult (*eventRecord)(CUevent, CUstream);
  CUresult (*eventSynchronize)(CUevent);
  CUresult (*eventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*getErrorName)(CUresult, const char **);
  CUresult (*getErrorString)(CUresult, const char **);
};

thread_local std::string lastError;

lbrt_status fail(lbrt_status s, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lastError = buf;
  return s;
}

} // namespace

struct lbrt_context {
  Driver d;
  CUdevice device = 0;
  CUcontext ctx = nullptr;
};
struct lbrt_module {
  lbrt_context *ctx;
  CUmodule module;
  std::vector<lbrt_kernel *> kernels;
  std::string infoLog; // the JIT's
};
struct lbrt_kernel {
  lbrt_context *ctx;
  CUfunction fn;
  std::string name;
};
struct lbrt_event {
  lbrt_context *ctx;
  CUevent event;
};

namespace {

/// "cuX failed: CUDA_ERROR_Y (text)".
lbrt_status driverError(const Driver &d, const char *call, CUresult r) {
  const char *name = nullptr, *text = nullptr;
  if (!d.getErrorName || d.getErrorName(r, &name) != kSuccess || !name)
    name = r == kStubLibrary ? "CUDA_ERROR_STUB_LIBRARY"
           : r == kNoDevice  ? "CUDA_ERROR_NO_DEVICE"
                             : "unknown error";
  if (r == kStubLibrary)
    text = "this libcuda is the toolkit's stub, not a driver";
  if (!text &&
      (!d.getErrorString || d.getErrorString(r, &text) != kSuccess || !text))
    text = "";
  return fail(LBRT_DRIVER_ERROR, "%s failed: %s (%d)%s%s", call, name, r,
              *text ? ": " : "", text);
}

template <typename F>
bool resolve(void *lib, F &fn, const char *name, const char *alt = nullptr) {
  void *p = dlsym(lib, name);
  if (!p && alt)
    p = dlsym(lib, alt);
  fn = reinterpret_cast<F>(p);
  return p != nullptr;
}

#define LBRT_CHECK(ctx, call, ...)                                             \
  do {                                                                         \
    CUresult r_ = (ctx)->d.call(__VA_ARGS__);                                  \
    if (r_ != kSuccess)                                                        \
      return driverError((ctx)->d, "cu" #call, r_);                            \
  } while (0)

} // namespace

std::string lowbit::runtime::findJitAdvisories(const char *log) {
  std::string found;
  if (!log)
    return found;
  for (const char *line = log; *line;) {
    const char *end = std::strchr(line, '\n');
    if (!end)
      end = line + std::strlen(line);
    for (const char *c = line; c + 5 <= end; ++c)
      if (c[0] == 'C' && c[1] == '7' && c[2] == '5' && c[3] >= '0' &&
          c[3] <= '9' && c[4] >= '0' && c[4] <= '9') {
        const char *e = end;
        while (e > line && (e[-1] == '\r' || e[-1] == ' '))
          --e;
        if (!found.empty())
          found += '\n';
        found.append(line, size_t(e - line));
        break;
      }
    line = *end ? end + 1 : end;
  }
  return found;
}

extern "C" {

const char *lbrt_last_error(void) { return lastError.c_str(); }

lbrt_status lbrt_open(int device, lbrt_context **out) {
  if (!out)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_open: null output");
  *out = nullptr;
  const char *env = std::getenv("LOWBIT_CUDA_DRIVER");
  const char *path = env && *env ? env : "libcuda.so.1";
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    return fail(LBRT_NO_DRIVER,
                "cannot load the CUDA driver %s: %s (is an NVIDIA driver "
                "installed? LOWBIT_CUDA_DRIVER names another path)",
                path, why ? why : "unknown reason");
  }
  auto *c = new lbrt_context();
  Driver &d = c->d;
  d.lib = lib;
  resolve(lib, d.getErrorName, "cuGetErrorName");
  resolve(lib, d.getErrorString, "cuGetErrorString");
  struct Need {
    bool ok;
    const char *name;
  };
  const Need needs[] = {
      {resolve(lib, d.init, "cuInit"), "cuInit"},
      {resolve(lib, d.deviceGetCount, "cuDeviceGetCount"), "cuDeviceGetCount"},
      {resolve(lib, d.deviceGet, "cuDeviceGet"), "cuDeviceGet"},
      {resolve(lib, d.deviceGetName, "cuDeviceGetName"), "cuDeviceGetName"},
      {resolve(lib, d.deviceGetAttribute, "cuDeviceGetAttribute"),
       "cuDeviceGetAttribute"},
      {resolve(lib, d.primaryCtxRetain, "cuDevicePrimaryCtxRetain"),
       "cuDevicePrimaryCtxRetain"},
      {resolve(lib, d.primaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
               "cuDevicePrimaryCtxRelease"),
       "cuDevicePrimaryCtxRelease"},
      {resolve(lib, d.ctxSetCurrent, "cuCtxSetCurrent"), "cuCtxSetCurrent"},
      {resolve(lib, d.ctxSynchronize, "cuCtxSynchronize"), "cuCtxSynchronize"},
      {resolve(lib, d.ctxPushCurrent, "cuCtxPushCurrent_v2",
               "cuCtxPushCurrent"),
       "cuCtxPushCurrent"},
      {resolve(lib, d.ctxPopCurrent, "cuCtxPopCurrent_v2", "cuCtxPopCurrent"),
       "cuCtxPopCurrent"},
      {resolve(lib, d.moduleLoadDataEx, "cuModuleLoadDataEx"),
       "cuModuleLoadDataEx"},
      {resolve(lib, d.moduleUnload, "cuModuleUnload"), "cuModuleUnload"},
      {resolve(lib, d.moduleGetFunction, "cuModuleGetFunction"),
       "cuModuleGetFunction"},
      {resolve(lib, d.funcSetAttribute, "cuFuncSetAttribute"),
       "cuFuncSetAttribute"},
      {resolve(lib, d.launchKernel, "cuLaunchKernel"), "cuLaunchKernel"},
      {resolve(lib, d.memAlloc, "cuMemAlloc_v2"), "cuMemAlloc_v2"},
      {resolve(lib, d.memFree, "cuMemFree_v2"), "cuMemFree_v2"},
      {resolve(lib, d.memcpyHtoD, "cuMemcpyHtoD_v2"), "cuMemcpyHtoD_v2"},
      {resolve(lib, d.memcpyDtoH, "cuMemcpyDtoH_v2"), "cuMemcpyDtoH_v2"},
      {resolve(lib, d.memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
       "cuMemcpyHtoDAsync_v2"},
      {resolve(lib, d.memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
       "cuMemcpyDtoHAsync_v2"},
      {resolve(lib, d.streamSynchronize, "cuStreamSynchronize"),
       "cuStreamSynchronize"},
      {resolve(lib, d.eventCreate, "cuEventCreate"), "cuEventCreate"},
      {resolve(lib, d.eventDestroy, "cuEventDestroy_v2", "cuEventDestroy"),
       "cuEventDestroy"},
      {resolve(lib, d.eventRecord, "cuEventRecord"), "cuEventRecord"},
      {resolve(lib, d.eventSynchronize, "cuEventSynchronize"),
       "cuEventSynchronize"},
      {resolve(lib, d.eventElapsedTime, "cuEventElapsedTime_v2",
               "cuEventElapsedTime"),
       "cuEventElapsedTime"},
  };
  for (const Need &n : needs)
    if (!n.ok) {
      dlclose(lib);
      delete c;
      return fail(LBRT_NO_DRIVER, "the CUDA driver %s has no %s (too old?)",
                  path, n.name);
    }
  CUresult r = d.init(0);
  if (r != kSuccess) {
    lbrt_status s = driverError(d, "cuInit", r);
    if (r == kNoDevice || r == kStubLibrary)
      s = LBRT_NO_DEVICE;
    dlclose(lib);
    delete c;
    return s;
  }
  int count = 0;
  r = d.deviceGetCount(&count);
  if (r != kSuccess || device < 0 || device >= count) {
    lbrt_status s =
        r != kSuccess
            ? driverError(d, "cuDeviceGetCount", r)
            : fail(LBRT_NO_DEVICE, "no CUDA device %d (the driver sees %d)",
                   device, count);
    if (r == kSuccess || r == kNoDevice)
      s = LBRT_NO_DEVICE;
    dlclose(lib);
    delete c;
    return s;
  }
  // Each call named by itself: a failed retain leaves c->ctx unset, so
  // the context cannot tell which of the two failed.
  const char *failed = nullptr;
  if ((r = d.deviceGet(&c->device, device)) != kSuccess)
    failed = "cuDeviceGet";
  else if ((r = d.primaryCtxRetain(&c->ctx, c->device)) != kSuccess)
    failed = "cuDevicePrimaryCtxRetain";
  if (failed) {
    lbrt_status s = driverError(d, failed, r);
    dlclose(lib);
    delete c;
    return s;
  }
  if ((r = d.ctxSetCurrent(c->ctx)) != kSuccess) {
    lbrt_status s = driverError(d, "cuCtxSetCurrent", r);
    d.primaryCtxRelease(c->device);
    dlclose(lib);
    delete c;
    return s;
  }
  *out = c;
  return LBRT_OK;
}

void lbrt_close(lbrt_context *ctx) {
  if (!ctx)
    return;
  ctx->d.primaryCtxRelease(ctx->device);
  // The driver library stays loaded: other users of the primary context
  // (PyTorch) may still call into it.
  delete ctx;
}

lbrt_status lbrt_device_info(lbrt_context *ctx, char *name, size_t nameSize,
                             int *major, int *minor) {
  if (!ctx)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_device_info: null context");
  if (name && nameSize)
    LBRT_CHECK(ctx, deviceGetName, name, int(nameSize), ctx->device);
  if (major)
    LBRT_CHECK(ctx, deviceGetAttribute, major, kComputeCapabilityMajor,
               ctx->device);
  if (minor)
    LBRT_CHECK(ctx, deviceGetAttribute, minor, kComputeCapabilityMinor,
               ctx->device);
  return LBRT_OK;
}

lbrt_status lbrt_load_ptx(lbrt_context *ctx, const char *ptx,
                          lbrt_module **out) {
  if (!ctx || !ptx || !out)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_load_ptx: null argument");
  *out = nullptr;
  // Both logs, NUL-terminated (the driver fills at most size - 1 bytes of
  // the zeroed buffers).
  std::vector<char> info(65536, 0), log(16384, 0);
  int options[] = {kJitInfoLogBuffer, kJitInfoLogBufferSize, kJitErrorLogBuffer,
                   kJitErrorLogBufferSize};
  void *values[] = {
      info.data(), reinterpret_cast<void *>(uintptr_t(info.size() - 1)),
      log.data(), reinterpret_cast<void *>(uintptr_t(log.size() - 1))};
  CUmodule m = nullptr;
  CUresult r = ctx->d.moduleLoadDataEx(&m, ptx, 4, options, values);
  info.back() = log.back() = 0;
  if (r != kSuccess) {
    driverError(ctx->d, "cuModuleLoadDataEx", r);
    if (log[0])
      lastError += std::string("; JIT log: ") + log.data();
    if (info[0])
      lastError += std::string("; JIT info log: ") + info.data();
    return LBRT_DRIVER_ERROR;
  }
  // Advisories (ptxas C75xx): lowbit's PTX should need no repair by the
  // JIT (test/GPU/ptx.test fails on them with CUDA's ptxas); a driver's
  // JIT may be newer and say more, so they warn unless asked to fail.
  std::string advisories = lowbit::runtime::findJitAdvisories(info.data());
  if (!advisories.empty()) {
    const char *mode = std::getenv("LOWBIT_JIT_ADVISORIES");
    if (mode && std::strcmp(mode, "error") == 0) {
      ctx->d.moduleUnload(m);
      // Not through fail(): its buffer would cut a long list.
      lastError = "cuModuleLoadDataEx: the JIT reported advisories "
                  "(LOWBIT_JIT_ADVISORIES=error): " +
                  advisories;
      return LBRT_DRIVER_ERROR;
    }
    std::fprintf(stderr,
                 "lowbit runtime: warning: the CUDA JIT reported advisories "
                 "on lowbit's PTX (please report them; "
                 "LOWBIT_JIT_ADVISORIES=error makes them errors):\n%s\n",
                 advisories.c_str());
  }
  *out = new lbrt_module{ctx, m, {}, info.data()};
  return LBRT_OK;
}

const char *lbrt_module_info_log(const lbrt_module *module) {
  return module ? module->infoLog.c_str() : "";
}

void lbrt_unload(lbrt_module *module) {
  if (!module)
    return;
  for (lbrt_kernel *k : module->kernels)
    delete k;
  module->ctx->d.moduleUnload(module->module);
  delete module;
}

lbrt_status lbrt_get_kernel(lbrt_module *module, const char *name,
                            lbrt_kernel **out) {
  if (!module || !name || !out)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_get_kernel: null argument");
  *out = nullptr;
  CUfunction fn = nullptr;
  CUresult r = module->ctx->d.moduleGetFunction(&fn, module->module, name);
  if (r != kSuccess) {
    driverError(module->ctx->d, "cuModuleGetFunction", r);
    lastError += std::string(" (kernel '") + name + "')";
    return LBRT_DRIVER_ERROR;
  }
  auto *k = new lbrt_kernel{module->ctx, fn, name};
  module->kernels.push_back(k);
  *out = k;
  return LBRT_OK;
}

lbrt_status lbrt_set_max_dynamic_shared(lbrt_kernel *kernel, int bytes) {
  if (!kernel || bytes < 0)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_set_max_dynamic_shared: bad "
                                       "argument");
  LBRT_CHECK(kernel->ctx, funcSetAttribute, kernel->fn, kFuncMaxDynamicShared,
             bytes);
  return LBRT_OK;
}

lbrt_status lbrt_launch(lbrt_kernel *kernel, const unsigned grid[3],
                        const unsigned block[3], unsigned sharedBytes,
                        void *stream, void **params) {
  if (!kernel || !grid || !block)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_launch: null argument");
  for (int i = 0; i < 3; ++i)
    if (!grid[i] || !block[i])
      return fail(LBRT_INVALID_ARGUMENT,
                  "lbrt_launch(%s): empty grid or block (%u,%u,%u x %u,%u,%u)",
                  kernel->name.c_str(), grid[0], grid[1], grid[2], block[0],
                  block[1], block[2]);
  CUresult r = kernel->ctx->d.launchKernel(
      kernel->fn, grid[0], grid[1], grid[2], block[0], block[1], block[2],
      sharedBytes, static_cast<CUstream>(stream), params, nullptr);
  if (r != kSuccess) {
    driverError(kernel->ctx->d, "cuLaunchKernel", r);
    lastError += " (kernel '" + kernel->name + "')";
    return LBRT_DRIVER_ERROR;
  }
  return LBRT_OK;
}

lbrt_status lbrt_synchronize(lbrt_context *ctx) {
  if (!ctx)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_synchronize: null context");
  LBRT_CHECK(ctx, ctxSynchronize);
  return LBRT_OK;
}

lbrt_status lbrt_malloc(lbrt_context *ctx, size_t bytes, lbrt_devptr *out) {
  if (!ctx || !out)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_malloc: null argument");
  CUdeviceptr p = 0;
  LBRT_CHECK(ctx, memAlloc, &p, bytes);
  *out = p;
  return LBRT_OK;
}

lbrt_status lbrt_free(lbrt_context *ctx, lbrt_devptr ptr) {
  if (!ctx)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_free: null context");
  if (ptr)
    LBRT_CHECK(ctx, memFree, ptr);
  return LBRT_OK;
}

lbrt_status lbrt_copy_to_device(lbrt_context *ctx, lbrt_devptr dst,
                                const void *src, size_t bytes) {
  if (!ctx || (!src && bytes))
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_copy_to_device: null argument");
  if (bytes)
    LBRT_CHECK(ctx, memcpyHtoD, dst, src, bytes);
  return LBRT_OK;
}

lbrt_status lbrt_copy_to_host(lbrt_context *ctx, void *dst, lbrt_devptr src,
                              size_t bytes) {
  if (!ctx || (!dst && bytes))
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_copy_to_host: null argument");
  if (bytes)
    LBRT_CHECK(ctx, memcpyDtoH, dst, src, bytes);
  return LBRT_OK;
}

lbrt_status lbrt_event_create(lbrt_context *ctx, lbrt_event **out) {
  if (!ctx || !out)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_event_create: null argument");
  CUevent e = nullptr;
  LBRT_CHECK(ctx, eventCreate, &e, 0);
  *out = new lbrt_event{ctx, e};
  return LBRT_OK;
}

void lbrt_event_destroy(lbrt_event *event) {
  if (!event)
    return;
  event->ctx->d.eventDestroy(event->event);
  delete event;
}

lbrt_status lbrt_event_record(lbrt_event *event, void *stream) {
  if (!event)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_event_record: null event");
  LBRT_CHECK(event->ctx, eventRecord, event->event,
             static_cast<CUstream>(stream));
  return LBRT_OK;
}

lbrt_status lbrt_event_elapsed(lbrt_event *start, lbrt_event *end, float *ms) {
  if (!start || !end || !ms)
    return fail(LBRT_INVALID_ARGUMENT, "lbrt_event_elapsed: null argument");
  LBRT_CHECK(end->ctx, eventSynchronize, end->event);
  LBRT_CHECK(end->ctx, eventElapsedTime, ms, start->event, end->event);
  return LBRT_OK;
}

} // extern "C"

//===----------------------------------------------------------------------===//
// Compiled models
//===----------------------------------------------------------------------===//

namespace {

struct ModelLaunch {
  lbrt_kernel *kernel = nullptr;
  std::vector<lbrt_devptr> scratch; // per buffer (0 for weights)
};

struct Model {
  std::mutex lock; // held from lbrt_model_begin to lbrt_model_end
  lbrt_context *ctx = nullptr;
  lbrt_module *module = nullptr;
  std::map<const int64_t *, ModelLaunch> launches; // by descriptor
  std::map<std::pair<const void *, int64_t>, lbrt_devptr> weights;
};

std::mutex modelsLock;
/// The models by PTX, live until exit: the map is never destroyed, so no
/// exit-time destructor tears down driver state under a running thread (and
/// leak checkers still reach every model through it).
std::map<const char *, Model *> &models() {
  static auto *byPtx = new std::map<const char *, Model *>();
  return *byPtx;
}

thread_local Model *current = nullptr;
thread_local CUstream currentStream = nullptr; // of the current model call
thread_local bool launchFailed = false;

/// Host to device: synchronous on the legacy default stream, else in the
/// order of `stream`.
lbrt_status toDevice(lbrt_context *ctx, CUstream stream, lbrt_devptr dst,
                     const void *src, size_t bytes) {
  if (!stream || !bytes)
    return lbrt_copy_to_device(ctx, dst, src, bytes);
  LBRT_CHECK(ctx, memcpyHtoDAsync, dst, src, bytes, stream);
  return LBRT_OK;
}

Model *modelFor(const char *ptx) {
  std::lock_guard<std::mutex> g(modelsLock);
  Model *&m = models()[ptx];
  if (!m)
    m = new Model();
  return m;
}

/// The launch's kernel and scratch buffers, made the first time.
lbrt_status prepareLaunch(Model &m, const char *kernel, const int64_t *desc,
                          ModelLaunch *&out) {
  auto it = m.launches.find(desc);
  if (it != m.launches.end()) {
    out = &it->second;
    return LBRT_OK;
  }
  ModelLaunch l;
  if (lbrt_status s = lbrt_get_kernel(m.module, kernel, &l.kernel))
    return s;
  if (desc[6] > 48 * 1024)
    if (lbrt_status s = lbrt_set_max_dynamic_shared(l.kernel, int(desc[6])))
      return s;
  int64_t n = desc[7];
  l.scratch.assign(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t bytes = desc[8 + 2 * i], kind = desc[9 + 2 * i];
    if (kind == 2)
      continue;
    if (lbrt_status s = lbrt_malloc(m.ctx, size_t(bytes ? bytes : 1),
                                    &l.scratch[size_t(i)])) {
      for (lbrt_devptr p : l.scratch)
        lbrt_free(m.ctx, p);
      return s;
    }
  }
  out = &m.launches.emplace(desc, std::move(l)).first->second;
  return LBRT_OK;
}

lbrt_status runLaunch(Model &m, const char *kernel, const int64_t *desc,
                      void *const *buffers) {
  for (int i = 0; i < 6; ++i)
    if (desc[i] < 1 || desc[i] > 0x7fffffff)
      return fail(LBRT_INVALID_ARGUMENT,
                  "lbrt_model_launch(%s): bad launch descriptor", kernel);
  ModelLaunch *l = nullptr;
  if (lbrt_status s = prepareLaunch(m, kernel, desc, l))
    return s;
  int64_t n = desc[7];
  std::vector<lbrt_devptr> args(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t bytes = desc[8 + 2 * i], kind = desc[9 + 2 * i];
    if (!buffers[i] && bytes)
      return fail(LBRT_INVALID_ARGUMENT,
                  "lbrt_model_launch(%s): buffer %lld is null", kernel,
                  (long long)i);
    if (kind == 2) {
      lbrt_devptr &w = m.weights[{buffers[i], bytes}];
      if (!w) {
        if (lbrt_status s = lbrt_malloc(m.ctx, size_t(bytes ? bytes : 1), &w))
          return s;
        if (lbrt_status s =
                toDevice(m.ctx, currentStream, w, buffers[i], size_t(bytes))) {
          lbrt_free(m.ctx, w);
          w = 0;
          return s;
        }
      }
      args[size_t(i)] = w;
      continue;
    }
    args[size_t(i)] = l->scratch[size_t(i)];
    if (kind == 0)
      if (lbrt_status s = toDevice(m.ctx, currentStream, args[size_t(i)],
                                   buffers[i], size_t(bytes)))
        return s;
  }
  std::vector<void *> params;
  for (lbrt_devptr &p : args)
    params.push_back(&p);
  const unsigned grid[3] = {unsigned(desc[0]), unsigned(desc[1]),
                            unsigned(desc[2])};
  const unsigned block[3] = {unsigned(desc[3]), unsigned(desc[4]),
                             unsigned(desc[5])};
  if (lbrt_status s = lbrt_launch(l->kernel, grid, block, unsigned(desc[6]),
                                  currentStream, params.data()))
    return s;
  if (!currentStream) {
    // Synchronous copies on the default stream wait for the kernel (and
    // report its errors).
    for (int64_t i = 0; i < n; ++i)
      if (desc[9 + 2 * i] == 1)
        if (lbrt_status s = lbrt_copy_to_host(
                m.ctx, buffers[i], args[size_t(i)], size_t(desc[8 + 2 * i])))
          return s;
    return LBRT_OK;
  }
  // On the caller's stream: copies after the kernel in stream order, then
  // the stream's end (the outputs are on the host when the call returns).
  for (int64_t i = 0; i < n; ++i)
    if (desc[9 + 2 * i] == 1 && desc[8 + 2 * i])
      LBRT_CHECK(m.ctx, memcpyDtoHAsync, buffers[i], args[size_t(i)],
                 size_t(desc[8 + 2 * i]), currentStream);
  LBRT_CHECK(m.ctx, streamSynchronize, currentStream);
  return LBRT_OK;
}

} // namespace

extern "C" {

int32_t lbrt_model_begin(const char *ptx) {
  return lbrt_model_begin_on_stream(ptx, nullptr);
}

int32_t lbrt_model_begin_on_stream(const char *ptx, void *stream) {
  if (!ptx) {
    fail(LBRT_INVALID_ARGUMENT, "lbrt_model_begin: null PTX");
    return -1;
  }
  if (current) {
    // Entry points do not call each other; a model's host code running
    // inside another's would deadlock on the lock or lose its state.
    fail(LBRT_INVALID_ARGUMENT,
         "lbrt_model_begin: a model call is already running on this thread");
    return -1;
  }
  Model *m = modelFor(ptx);
  m->lock.lock();
  if (!m->ctx) {
    const char *env = std::getenv("LOWBIT_CUDA_DEVICE");
    int device = env && *env ? std::atoi(env) : 0;
    lbrt_context *ctx = nullptr;
    if (lbrt_open(device, &ctx) != LBRT_OK) {
      m->lock.unlock();
      return -1;
    }
    lbrt_module *module = nullptr;
    if (lbrt_load_ptx(ctx, ptx, &module) != LBRT_OK) {
      lbrt_close(ctx);
      m->lock.unlock();
      return -1;
    }
    m->ctx = ctx;
    m->module = module;
  }
  // The model's context is current on this thread for the call (whatever
  // thread calls), and the caller's own current context comes back at end.
  CUresult r = m->ctx->d.ctxPushCurrent(m->ctx->ctx);
  if (r != kSuccess) {
    driverError(m->ctx->d, "cuCtxPushCurrent", r);
    m->lock.unlock();
    return -1;
  }
  current = m;
  currentStream = static_cast<CUstream>(stream);
  launchFailed = false;
  return 0;
}

int32_t lbrt_model_launch(const char *ptx, const char *kernel,
                          const int64_t *desc, void *const *buffers) {
  if (launchFailed)
    return -1;
  if (!current || !ptx || !kernel || !desc || !buffers) {
    fail(LBRT_INVALID_ARGUMENT, "lbrt_model_launch: %s",
         current ? "null argument" : "no lbrt_model_begin before it");
    launchFailed = true;
    return -1;
  }
  if (runLaunch(*current, kernel, desc, buffers) != LBRT_OK) {
    launchFailed = true;
    return -1;
  }
  return 0;
}

int32_t lbrt_model_end(const char *ptx) {
  Model *m = current;
  if (!m) {
    fail(LBRT_INVALID_ARGUMENT, "lbrt_model_end: no lbrt_model_begin");
    return -1;
  }
  current = nullptr;
  currentStream = nullptr;
  bool failed = launchFailed;
  launchFailed = false;
  CUcontext popped = nullptr;
  CUresult r = m->ctx->d.ctxPopCurrent(&popped);
  if (r != kSuccess && !failed) {
    driverError(m->ctx->d, "cuCtxPopCurrent", r);
    failed = true;
  }
  m->lock.unlock();
  return failed ? -1 : 0;
}

int32_t lbrt_model_weights_changed(const char *ptx) {
  Model *m = nullptr;
  {
    std::lock_guard<std::mutex> g(modelsLock);
    auto it = models().find(ptx);
    if (it == models().end())
      return 0;
    m = it->second;
  }
  std::lock_guard<std::mutex> g(m->lock);
  if (!m->ctx || m->weights.empty())
    return 0;
  int32_t rc = 0;
  if (m->ctx->d.ctxPushCurrent(m->ctx->ctx) != kSuccess)
    rc = -1;
  for (auto &kv : m->weights)
    if (rc == 0 && lbrt_free(m->ctx, kv.second) != LBRT_OK)
      rc = -1;
  m->weights.clear();
  CUcontext popped = nullptr;
  if (rc == 0)
    m->ctx->d.ctxPopCurrent(&popped);
  return rc;
}

} // extern "C"
