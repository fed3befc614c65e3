/*===- Runtime.h - lowbit's GPU runtime (C API) -----------------*- C -*-===*\
|*                                                                          *|
|* SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception                  *|
|*                                                                          *|
|* Loads PTX and launches kernels through the CUDA driver API, which it     *|
|* opens at run time with dlopen("libcuda.so.1"): neither lowbit nor the    *|
|* programs it compiles link against CUDA, and this library needs no LLVM   *|
|* or MLIR (plain C++17 and CMake; docs/CodegenGPU.md).                     *|
|*                                                                          *|
|* Every function returns a status; on failure lbrt_last_error() (per       *|
|* thread) names the call and gives the driver's own error text.            *|
|*                                                                          *|
\*===----------------------------------------------------------------------===*/

#ifndef LOWBIT_RUNTIME_RUNTIME_H
#define LOWBIT_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LBRT_OK = 0,
  /* libcuda.so.1 (or $LOWBIT_CUDA_DRIVER) missing or incomplete. */
  LBRT_NO_DRIVER = 1,
  /* The driver loaded but has no usable device with this index. */
  LBRT_NO_DEVICE = 2,
  /* A driver call failed (message: the call and the driver's error). */
  LBRT_DRIVER_ERROR = 3,
  LBRT_INVALID_ARGUMENT = 4,
} lbrt_status;

typedef struct lbrt_context lbrt_context;
typedef struct lbrt_module lbrt_module;
typedef struct lbrt_kernel lbrt_kernel;
typedef struct lbrt_event lbrt_event;
/* A device address (CUdeviceptr). */
typedef uint64_t lbrt_devptr;

/* The message of the last failed call on this thread ("" if none). */
const char *lbrt_last_error(void);

/* Opens the driver (dlopen of $LOWBIT_CUDA_DRIVER if set, else
 * libcuda.so.1), initializes it and makes device `device`'s primary
 * context current on this thread: the context PyTorch and CuPy use, so
 * their device pointers are valid here. */
lbrt_status lbrt_open(int device, lbrt_context **out);
/* Releases the primary context; modules must be unloaded first. */
void lbrt_close(lbrt_context *ctx);

/* The device's name and compute capability (e.g. 9, 0 for sm_90). */
lbrt_status lbrt_device_info(lbrt_context *ctx, char *name, size_t nameSize,
                             int *major, int *minor);

/* JIT-compiles `ptx` (NUL-terminated) for the device; on failure the
 * message holds the JIT's error log (and its info log). The JIT's info log
 * is kept (lbrt_module_info_log). Advisory messages in it (ptxas's
 * C75xx, e.g. C7519 "warpgroup.arrive is injected": the PTX relies on the
 * JIT repairing it) are a warning on stderr, or, with
 * $LOWBIT_JIT_ADVISORIES=error, a failure (LBRT_DRIVER_ERROR, the
 * messages in lbrt_last_error()). docs/CodegenGPU.md says why. */
lbrt_status lbrt_load_ptx(lbrt_context *ctx, const char *ptx,
                          lbrt_module **out);
/* The JIT's info log of a loaded module ("" if none or module is null). */
const char *lbrt_module_info_log(const lbrt_module *module);
void lbrt_unload(lbrt_module *module);
lbrt_status lbrt_get_kernel(lbrt_module *module, const char *name,
                            lbrt_kernel **out);
/* Allows up to `bytes` of dynamic shared memory (above 48 KiB needs it). */
lbrt_status lbrt_set_max_dynamic_shared(lbrt_kernel *kernel, int bytes);

/* Launches on `stream`, a CUstream of the context (one a framework made,
 * e.g. torch.cuda.current_stream().cuda_stream), so the launch is ordered
 * with that stream's work; NULL is the legacy default stream. `params[i]`
 * points to the value of the kernel's i-th parameter (a device pointer,
 * an integer). */
lbrt_status lbrt_launch(lbrt_kernel *kernel, const unsigned grid[3],
                        const unsigned block[3], unsigned sharedBytes,
                        void *stream, void **params);
lbrt_status lbrt_synchronize(lbrt_context *ctx);

lbrt_status lbrt_malloc(lbrt_context *ctx, size_t bytes, lbrt_devptr *out);
lbrt_status lbrt_free(lbrt_context *ctx, lbrt_devptr ptr);
lbrt_status lbrt_copy_to_device(lbrt_context *ctx, lbrt_devptr dst,
                                const void *src, size_t bytes);
lbrt_status lbrt_copy_to_host(lbrt_context *ctx, void *dst, lbrt_devptr src,
                              size_t bytes);

/* Events, for timing: recorded on `stream` (a CUstream; NULL is the legacy
 * default stream), the one the timed launches use. */
lbrt_status lbrt_event_create(lbrt_context *ctx, lbrt_event **out);
void lbrt_event_destroy(lbrt_event *event);
lbrt_status lbrt_event_record(lbrt_event *event, void *stream);
/* Milliseconds between two recorded events (waits for `end`). */
lbrt_status lbrt_event_elapsed(lbrt_event *start, lbrt_event *end, float *ms);

/* ---- Compiled models (lowbit-compile --target=nvptx, docs/Compile.md) ----
 *
 * What the host code of a compiled model calls; applications do not call
 * these. A model is named by its embedded PTX (the pointer). Its state
 * (context of device $LOWBIT_CUDA_DEVICE or 0, module, kernels, device
 * copies of the weights, scratch buffers) is created at the first
 * lbrt_model_begin and kept until the process ends. */

/* Takes the model's lock and, the first time, opens the driver and
 * JIT-loads the PTX, then pushes the model's context on this thread: 0, or
 * -1 (lock not held; lbrt_last_error says why). One model call per thread
 * at a time. */
int32_t lbrt_model_begin(const char *ptx);
/* lbrt_model_begin, with the call's launches and copies on `stream` (a
 * CUstream of the model's device's primary context; NULL is
 * lbrt_model_begin): inputs are copied and kernels launched in stream
 * order after the stream's earlier work, and each launch's outputs are
 * copied back and the stream synchronized before lbrt_model_launch
 * returns. */
int32_t lbrt_model_begin_on_stream(const char *ptx, void *stream);
/* One launch between begin and end. desc = {grid x, y, z, block x, y, z,
 * dynamic shared bytes, n, then per buffer: bytes, kind}, kind 0 an input
 * (copied to the device), 1 an output (copied back after the kernel), 2 a
 * constant input (a weight: copied once, kept on the device, keyed by its
 * host address and size). buffers[i] is buffer i's host address. After a
 * failure the following launches until end do nothing. 0 or -1. */
int32_t lbrt_model_launch(const char *ptx, const char *kernel,
                          const int64_t *desc, void *const *buffers);
/* Releases the lock: 0, or -1 if a launch since begin failed (the first
 * failure's message is lbrt_last_error()). */
int32_t lbrt_model_end(const char *ptx);
/* The model's weights moved (<prefix>_set_weights): frees their device
 * copies, so the next launches upload them again. 0, or -1. */
int32_t lbrt_model_weights_changed(const char *ptx);

#ifdef __cplusplus
}
#endif

#endif /* LOWBIT_RUNTIME_RUNTIME_H */
