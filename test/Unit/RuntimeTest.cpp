//===- RuntimeTest.cpp - lowbit's GPU runtime without a GPU ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// What lib/Runtime does where there is no usable driver (CI, this
// machine): clear statuses and messages, never a crash. With a GPU the
// bench/gpu script exercises the rest.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Runtime/Runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace {

/// Sets LOWBIT_CUDA_DRIVER for one test.
struct DriverPath {
  explicit DriverPath(const char *path) {
    ::setenv("LOWBIT_CUDA_DRIVER", path, 1);
  }
  ~DriverPath() { ::unsetenv("LOWBIT_CUDA_DRIVER"); }
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
  EXPECT_EQ(lbrt_launch(nullptr, dims, dims, 0, nullptr),
            LBRT_INVALID_ARGUMENT);
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
}

} // namespace
