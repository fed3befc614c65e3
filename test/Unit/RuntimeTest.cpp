//===- RuntimeTest.cpp - lowbit's GPU runtime without a GPU ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What lib/Runtime does where there is no usable driver (CI, this
// machine): clear statuses and messages, never a crash; and its own logic
// against the stand-in driver (test/Runtime/Inputs/FakeCuda.cpp): which
// call a failure names, the JIT logs, the streams launches and copies go
// to. With a GPU the bench/gpu script exercises the rest.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Runtime/Runtime.h"

#include "JitLog.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

/// Sets LOWBIT_CUDA_DRIVER for one test.
struct DriverPath {
  explicit DriverPath(const char *path) {
    ::setenv("LOWBIT_CUDA_DRIVER", path, 1);
  }
  ~DriverPath() { ::unsetenv("LOWBIT_CUDA_DRIVER"); }
};

/// Sets an environment variable for one scope.
struct Env {
  Env(const char *name, const char *value) : name(name) {
    ::setenv(name, value, 1);
  }
  ~Env() { ::unsetenv(name); }
  const char *name;
};

TEST(Runtime, MissingDriver) {
  DriverPath env("/nonexistent/libcuda.so.1");
  lbrt_context *ctx = reinterpret_cast<lbrt_context *>(1);
  EXPECT_EQ(lbrt_open(0, &ctx), LBRT_NO_DRIVER);
  EXPECT_EQ(ctx, nullptr);
  std::string msg = lbrt_last_error();
  EXPECT_NE(msg.find("cannot load the CUDA driver /nonexistent/libcuda.so.1"),
            std::string::npos)
      << msg;
}

TEST(Runtime, NotADriver) {
  // A library without the driver's entry points.
  DriverPath env("libm.so.6");
  lbrt_context *ctx = nullptr;
  EXPECT_EQ(lbrt_open(0, &ctx), LBRT_NO_DRIVER);
  EXPECT_EQ(ctx, nullptr);
  EXPECT_NE(std::string(lbrt_last_error()).find("has no cuInit"),
            std::string::npos)
      << lbrt_last_error();
}

TEST(Runtime, StubDriver) {
  // The CUDA toolkit's stub libcuda has every entry point, and cuInit
  // fails: no device.
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  struct stat st;
  if (::stat(stub, &st) != 0)
    GTEST_SKIP() << "no CUDA toolkit stub at " << stub;
  DriverPath env(stub);
  lbrt_context *ctx = nullptr;
  EXPECT_EQ(lbrt_open(0, &ctx), LBRT_NO_DEVICE);
  EXPECT_EQ(ctx, nullptr);
  std::string msg = lbrt_last_error();
  EXPECT_NE(msg.find("cuInit failed: CUDA_ERROR_STUB_LIBRARY"),
            std::string::npos)
      << msg;
}

TEST(Runtime, NullArguments) {
  EXPECT_EQ(lbrt_open(0, nullptr), LBRT_INVALID_ARGUMENT);
  EXPECT_EQ(lbrt_load_ptx(nullptr, ".version 8.0", nullptr),
            LBRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lbrt_last_error()).find("lbrt_load_ptx"),
            std::string::npos);
  unsigned dims[3] = {1, 1, 1};
  EXPECT_EQ(lbrt_launch(nullptr, dims, dims, 0, nullptr, nullptr),
            LBRT_INVALID_ARGUMENT);
  EXPECT_EQ(lbrt_event_record(nullptr, nullptr), LBRT_INVALID_ARGUMENT);
  EXPECT_STREQ(lbrt_module_info_log(nullptr), "");
  lbrt_devptr p;
  EXPECT_EQ(lbrt_malloc(nullptr, 16, &p), LBRT_INVALID_ARGUMENT);
  lbrt_close(nullptr);
  lbrt_unload(nullptr);
  lbrt_event_destroy(nullptr);
}

TEST(Runtime, ModelWithoutDriver) {
  // A compiled model's first call: no driver, -1 with the reason, and the
  // model's lock is not left held (a second try fails the same way).
  DriverPath env("/nonexistent/libcuda.so.1");
  static const char ptx[] = ".version 8.0\n";
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(lbrt_model_begin(ptx), -1);
    EXPECT_NE(std::string(lbrt_last_error())
                  .find("cannot load the CUDA "
                        "driver"),
              std::string::npos)
        << lbrt_last_error();
  }
}

TEST(Runtime, ModelCallsOutOfOrder) {
  static const int64_t desc[] = {1, 1, 1, 32, 1, 1, 0, 0};
  void *buffers[1] = {nullptr};
  EXPECT_EQ(lbrt_model_launch("ptx", "k", desc, buffers), -1);
  EXPECT_NE(std::string(lbrt_last_error()).find("no lbrt_model_begin"),
            std::string::npos)
      << lbrt_last_error();
  EXPECT_EQ(lbrt_model_end("ptx"), -1);
  EXPECT_EQ(lbrt_model_begin(nullptr), -1);
  EXPECT_EQ(lbrt_model_begin_on_stream(nullptr, nullptr), -1);
}

TEST(Runtime, JitAdvisories) {
  using lowbit::runtime::findJitAdvisories;
  EXPECT_EQ(findJitAdvisories(nullptr), "");
  EXPECT_EQ(findJitAdvisories(""), "");
  // ptxas -v's own lines are no advisories.
  EXPECT_EQ(findJitAdvisories("ptxas info    : 0 bytes gmem\n"
                              "ptxas info    : Used 90 registers, used 1 "
                              "barriers, 8192 bytes smem\n"),
            "");
  // What ptxas 13 printed for the FP8 wgmma tail kernel before the fence
  // moved into the wgmma block, and a serialization advisory; the line
  // ends (\r\n too) are dropped, the lines kept whole.
  EXPECT_EQ(
      findJitAdvisories(
          "ptxas info    : (C7519) warpgroup.arrive is injected in around "
          "line 2199 by compiler to allow use of registers in GMMA in "
          "function 'fp8_wgmma_gemm_67x33x80_xrow_wrow_f32'\r\n"
          "ptxas info    : Function properties for k\n"
          "ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async "
          "instructions are serialized"),
      "ptxas info    : (C7519) warpgroup.arrive is injected in around line "
      "2199 by compiler to allow use of registers in GMMA in function "
      "'fp8_wgmma_gemm_67x33x80_xrow_wrow_f32'\n"
      "ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async "
      "instructions are serialized");
  // C75 and two digits, nothing else.
  EXPECT_EQ(findJitAdvisories("C75\nC7x19\n(C7400)\nC75a1\nwarning C7508"),
            "warning C7508");
}

/// The stand-in driver, with its log in a fresh file.
struct FakeDriver {
  FakeDriver()
      : driver("LOWBIT_CUDA_DRIVER", LOWBIT_FAKE_CUDA_DRIVER),
        logPath(::testing::TempDir() + "lowbit-fake-cuda-" +
                std::to_string(::getpid()) + ".log"),
        log("LOWBIT_FAKE_CUDA_LOG", logPath.c_str()) {
    std::remove(logPath.c_str());
  }
  ~FakeDriver() { std::remove(logPath.c_str()); }
  /// The log's lines so far; empties it.
  std::string take() {
    std::ifstream f(logPath);
    std::stringstream ss;
    ss << f.rdbuf();
    std::remove(logPath.c_str());
    return ss.str();
  }
  Env driver;
  std::string logPath;
  Env log;
};

TEST(Runtime, OpenNamesTheFailingCall) {
  FakeDriver fake;
  lbrt_context *ctx = nullptr;
  {
    Env fail("LOWBIT_FAKE_CUDA_FAIL", "cuDevicePrimaryCtxRetain");
    EXPECT_EQ(lbrt_open(0, &ctx), LBRT_DRIVER_ERROR);
    EXPECT_EQ(ctx, nullptr);
    EXPECT_EQ(std::string(lbrt_last_error())
                  .rfind("cuDevicePrimaryCtxRetain failed: "
                         "CUDA_ERROR_INVALID_VALUE",
                         0),
              0u)
        << lbrt_last_error();
  }
  {
    Env fail("LOWBIT_FAKE_CUDA_FAIL", "cuDeviceGet");
    EXPECT_EQ(lbrt_open(0, &ctx), LBRT_DRIVER_ERROR);
    EXPECT_EQ(std::string(lbrt_last_error()).rfind("cuDeviceGet failed: ", 0),
              0u)
        << lbrt_last_error();
  }
  ASSERT_EQ(lbrt_open(0, &ctx), LBRT_OK) << lbrt_last_error();
  lbrt_close(ctx);
}

constexpr const char *kQuantizePtx =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry quantize_i8_rows_2x4_f32(\n.param .u64 x,\n"
    ".param .u64 q,\n.param .u64 s\n)\n{\nret;\n}\n";

TEST(Runtime, JitLogs) {
  FakeDriver fake;
  lbrt_context *ctx = nullptr;
  ASSERT_EQ(lbrt_open(0, &ctx), LBRT_OK) << lbrt_last_error();
  lbrt_module *m = nullptr;
  {
    // The info log is asked for and kept.
    Env info("LOWBIT_FAKE_CUDA_JIT_INFO", "ptxas info    : 0 bytes gmem\n");
    ASSERT_EQ(lbrt_load_ptx(ctx, kQuantizePtx, &m), LBRT_OK)
        << lbrt_last_error();
    EXPECT_STREQ(lbrt_module_info_log(m), "ptxas info    : 0 bytes gmem\n");
    lbrt_unload(m);
  }
  {
    // An advisory: a warning on stderr, or with LOWBIT_JIT_ADVISORIES=error
    // a failure naming it.
    Env info("LOWBIT_FAKE_CUDA_JIT_INFO",
             "ptxas info    : (C7519) warpgroup.arrive is injected in around "
             "line 9 by compiler to allow use of registers in GMMA in "
             "function 'k'\n");
    ::testing::internal::CaptureStderr();
    ASSERT_EQ(lbrt_load_ptx(ctx, kQuantizePtx, &m), LBRT_OK)
        << lbrt_last_error();
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("warning: the CUDA JIT reported advisories"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("(C7519) warpgroup.arrive is injected"),
              std::string::npos)
        << err;
    EXPECT_NE(std::string(lbrt_module_info_log(m)).find("(C7519)"),
              std::string::npos);
    lbrt_unload(m);
    Env mode("LOWBIT_JIT_ADVISORIES", "error");
    EXPECT_EQ(lbrt_load_ptx(ctx, kQuantizePtx, &m), LBRT_DRIVER_ERROR);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(lbrt_last_error())
                  .find("advisories (LOWBIT_JIT_ADVISORIES=error): ptxas info "
                        "   : (C7519)"),
              std::string::npos)
        << lbrt_last_error();
  }
  // A PTX the JIT rejects: its error log in the message.
  EXPECT_EQ(lbrt_load_ptx(ctx, "not PTX", &m), LBRT_DRIVER_ERROR);
  EXPECT_NE(std::string(lbrt_last_error())
                .find("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_VALUE"),
            std::string::npos)
      << lbrt_last_error();
  EXPECT_NE(std::string(lbrt_last_error())
                .find("JIT log: ptxas fatal : no .version or .entry"),
            std::string::npos)
      << lbrt_last_error();
  lbrt_close(ctx);
}

TEST(Runtime, LaunchOnStream) {
  FakeDriver fake;
  lbrt_context *ctx = nullptr;
  ASSERT_EQ(lbrt_open(0, &ctx), LBRT_OK) << lbrt_last_error();
  lbrt_module *m = nullptr;
  ASSERT_EQ(lbrt_load_ptx(ctx, kQuantizePtx, &m), LBRT_OK) << lbrt_last_error();
  lbrt_kernel *k = nullptr;
  ASSERT_EQ(lbrt_get_kernel(m, "quantize_i8_rows_2x4_f32", &k), LBRT_OK)
      << lbrt_last_error();
  lbrt_devptr x = 0, q = 0, sc = 0;
  ASSERT_EQ(lbrt_malloc(ctx, 32, &x), LBRT_OK);
  ASSERT_EQ(lbrt_malloc(ctx, 8, &q), LBRT_OK);
  ASSERT_EQ(lbrt_malloc(ctx, 8, &sc), LBRT_OK);
  void *params[] = {&x, &q, &sc};
  const unsigned grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
  void *stream = reinterpret_cast<void *>(uintptr_t(0x5000));
  fake.take();
  ASSERT_EQ(lbrt_launch(k, grid, block, 0, stream, params), LBRT_OK)
      << lbrt_last_error();
  EXPECT_NE(fake.take().find("launch quantize_i8_rows_2x4_f32 grid 1,1,1 "
                             "block 32,1,1 shared 0 stream 0x5000\n"),
            std::string::npos);
  // NULL: the legacy default stream, as before streams were an argument.
  ASSERT_EQ(lbrt_launch(k, grid, block, 0, nullptr, params), LBRT_OK);
  EXPECT_EQ(fake.take(), "launch quantize_i8_rows_2x4_f32 grid 1,1,1 "
                         "block 32,1,1 shared 0\n");
  lbrt_event *e = nullptr;
  ASSERT_EQ(lbrt_event_create(ctx, &e), LBRT_OK);
  ASSERT_EQ(lbrt_event_record(e, stream), LBRT_OK);
  EXPECT_EQ(fake.take(), "event record stream 0x5000\n");
  lbrt_event_destroy(e);
  for (lbrt_devptr p : {x, q, sc})
    EXPECT_EQ(lbrt_free(ctx, p), LBRT_OK);
  lbrt_unload(m);
  lbrt_close(ctx);
}

TEST(Runtime, ModelOnStream) {
  // A model call on a stream: inputs copied, the kernel launched and the
  // outputs copied back in the stream's order, then the stream's end; on
  // NULL synchronous copies as before.
  FakeDriver fake;
  static const char ptx[] =
      ".version 8.0\n.target sm_80\n.address_size 64\n"
      ".visible .entry quantize_i8_rows_2x4_f32(\n)\n{\nret;\n}\n";
  static const int64_t desc[] = {1, 1, 1, 32, 1, 1, 0, 3, 32, 0, 8, 1, 8, 1};
  float x[8] = {1, -2, 3, 127, 0, 0, 0, -0.5f};
  int8_t q[8] = {0};
  float s[2] = {0, 0};
  void *buffers[] = {x, q, s};
  void *stream = reinterpret_cast<void *>(uintptr_t(0x6000));
  ASSERT_EQ(lbrt_model_begin_on_stream(ptx, stream), 0) << lbrt_last_error();
  fake.take();
  EXPECT_EQ(lbrt_model_launch(ptx, "quantize_i8_rows_2x4_f32", desc, buffers),
            0)
      << lbrt_last_error();
  EXPECT_EQ(lbrt_model_end(ptx), 0) << lbrt_last_error();
  EXPECT_EQ(fake.take(), "copy to device 32 bytes stream 0x6000\n"
                         "launch quantize_i8_rows_2x4_f32 grid 1,1,1 block "
                         "32,1,1 shared 0 stream 0x6000\n"
                         "copy to host 8 bytes stream 0x6000\n"
                         "copy to host 8 bytes stream 0x6000\n"
                         "synchronize stream 0x6000\n");
  EXPECT_EQ(q[3], 127);
  EXPECT_FLOAT_EQ(s[0], 1.0f);
  ASSERT_EQ(lbrt_model_begin(ptx), 0) << lbrt_last_error();
  EXPECT_EQ(lbrt_model_launch(ptx, "quantize_i8_rows_2x4_f32", desc, buffers),
            0)
      << lbrt_last_error();
  EXPECT_EQ(lbrt_model_end(ptx), 0) << lbrt_last_error();
  EXPECT_EQ(fake.take(), "copy to device 32 bytes\n"
                         "launch quantize_i8_rows_2x4_f32 grid 1,1,1 block "
                         "32,1,1 shared 0\n"
                         "copy to host 8 bytes\n"
                         "copy to host 8 bytes\n");
}

} // namespace
