//===- RuntimeTest.cpp - lowbit's GPU runtime without a GPU ---------------===//
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

} // namespace
