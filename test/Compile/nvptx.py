# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings, ptxas
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python LOWBIT_FAKE_CUDA=%lowbit_obj/lib/liblowbit_fake_cuda.so %python %s %t %cxx | FileCheck %s
#
# lowbit-compile --target=nvptx (docs/Compile.md) without a GPU: the
# model's GPU launches run against lowbit_fake_cuda (test/Runtime/Inputs/
# FakeCuda.cpp: host memory, C++ models of the kernels' documented
# contracts), so the host side is checked numerically against the x86_64
# build of the same module and a numpy reference: weights packed at
# compile time, parameter order, sizes, weights uploaded once, results
# copied back, errors reported by the entry point (-3, last_error).
#
# CHECK: ptx: 3 kernels, ptxas sm_90: ok
# CHECK: manifest: target nvptx sm_90, kernels quantize_i8_rows_3x64_f16 w4a16_gemv_3x40x64_g32_f16 w8a8_gemm_3x48x64_xrow_wrow_f32
# CHECK: no driver: RuntimeError: step: GPU failure: cannot load the CUDA driver /nonexistent/libcuda.so.1
# CHECK: w4a16: rel err vs numpy {{[0-9.e-]+}}, vs x86_64 {{[0-9.e-]+}}: ok
# CHECK: w8a8: rel err vs numpy {{[0-9.e-]+}}, vs x86_64 {{[0-9.e-]+}}: ok
# CHECK: second call: same results, weights not copied again: ok
# CHECK: other thread: same results: ok
# CHECK: weights set again: uploaded again, same results: ok
# CHECK: C driver (object file): {{.*}}rc 0, 120 + 144 outputs match: ok
# CHECK: unsupported kernel: RuntimeError: step: GPU failure: cuLaunchKernel failed: CUDA_ERROR_NOT_SUPPORTED
# CHECK: weights not constant: {{.*}}warning: runs on the CPU: the GPU kernel w4a16_gemv_3x40x64_g32_f16 reads weights packed at compile time
# CHECK: nothing covered: {{.*}}error: --target=nvptx: no GPU kernel covers an op of this module
# CHECK: unknown target: {{.*}}error: unknown target 'riscv' (x86_64 or nvptx)

import ctypes
import os
import sys
import threading

import numpy as np

import lowbit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "Inputs"))
import testutil as tu  # noqa: E402

M, N, K, G, N8 = 3, 40, 64, 32, 48


dense = tu.dense_rows


def module(q4, s4, q8, s8, weights_as_args=False):
    """W4A16 (f16 activations, int4 per group of 32, f16 scales) and W8A8
    (the same activations quantized per row, int8 per-channel weights)."""
    codes = ((q4[:, 0::2] & 0xF) | ((q4[:, 1::2] & 0xF) << 4)).astype(
        np.uint8).view(np.int8)
    t4 = (f"!lowbit.qtensor<{N}x{K}xi4 : f16, per_group<[1 : {G}]>, "
          "scale = f16>")
    t8 = f"!lowbit.qtensor<{N8}x{K}xi8, per_axis<0>>"
    tx = f"!lowbit.qtensor<{M}x{K}xi8 : f16, per_axis<0>>"
    if weights_as_args:
        sig = (f"%x: tensor<{M}x{K}xf16>, %c: tensor<{N}x{K // 2}xi8>, "
               f"%s: tensor<{N}x{K // G}xf16>")
        w4 = f"%w = lowbit.pack %c, %s : tensor<{N}x{K // 2}xi8>, " \
             f"tensor<{N}x{K // G}xf16> -> {t4}"
    else:
        sig = f"%x: tensor<{M}x{K}xf16>"
        w4 = (f"%w = lowbit.constant codes({dense(codes, '%d')} : "
              f"tensor<{N}x{K // 2}xi8>) scales({dense(s4, '%.9g')} : "
              f"tensor<{N}x{K // G}xf16>) : {t4}")
    return f"""func.func @step({sig}) -> (tensor<{M}x{N}xf16>, tensor<{M}x{N8}xf32>) {{
  {w4}
  %y = lowbit.qmatmul %x, %w {{transpose_b}} : tensor<{M}x{K}xf16>, {t4} -> tensor<{M}x{N}xf16>
  %w8 = lowbit.constant codes({dense(q8, '%d')} : tensor<{N8}x{K}xi8>) scales(dense<[{",".join("%.9g" % v for v in s8)}]> : tensor<{N8}xf32>) : {t8}
  %xq = lowbit.quantize %x : tensor<{M}x{K}xf16> -> {tx}
  %z = lowbit.qmatmul %xq, %w8 {{transpose_b}} : {tx}, {t8} -> tensor<{M}x{N8}xf32>
  return %y, %z : tensor<{M}x{N}xf16>, tensor<{M}x{N8}xf32>
}}
"""


DRIVER = r"""
#include "step.h"
#include <cstdio>
#include <vector>
int main(int argc, char **argv) {
  char err[512];
  if (step_load_weights(argv[1], err, sizeof err)) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  std::vector<uint16_t> x(STEP_STEP_ARG0_ELEMENTS);
  std::vector<uint16_t> y(STEP_STEP_RESULT0_ELEMENTS);
  std::vector<float> z(STEP_STEP_RESULT1_ELEMENTS);
  FILE *in = std::fopen(argv[2], "rb");
  if (!in || std::fread(x.data(), 2, x.size(), in) != x.size())
    return 2;
  std::fclose(in);
  int rc = step_step(x.data(), y.data(), z.data());
  std::printf("rc %d%s%s\n", rc, rc ? ": " : "", rc ? step_last_error() : "");
  FILE *out = std::fopen(argv[3], "wb");
  std::fwrite(y.data(), 2, y.size(), out);
  std::fwrite(z.data(), 4, z.size(), out);
  std::fclose(out);
  return rc ? 3 : 0;
}
"""


def run(cmd, **kw):
    r = tu.run(cmd, **kw)
    r.stderr = r.stderr[:3000]  # diagnostics quote whole constants
    return r


def main():
    d, cxx = sys.argv[1], sys.argv[2]
    fake = os.environ["LOWBIT_FAKE_CUDA"]
    log = os.path.join(d, "fake.log")
    os.environ["LOWBIT_FAKE_CUDA_LOG"] = log
    rng = np.random.default_rng(7)
    q4 = rng.integers(-8, 8, (N, K))
    s4 = (rng.random((N, K // G)) * 0.05 + 0.01).astype(np.float16)
    q8 = rng.integers(-127, 128, (N8, K))
    s8 = (rng.random(N8) * 0.01 + 0.001).astype(np.float32)
    x = rng.standard_normal((M, K)).astype(np.float16)
    src = os.path.join(d, "step.mlir")
    open(src, "w").write(module(q4, s4, q8, s8))

    # The PTX assembles.
    r = run(["lowbit-compile", src, "--target=nvptx", "--sm=sm_90",
             "--compile-to=ptx"])
    assert r.returncode == 0, r.stderr
    ptx = os.path.join(d, "step.ptx")
    open(ptx, "w").write(r.stdout)
    a = run(["/usr/local/cuda/bin/ptxas", "-arch=sm_90", ptx, "-o",
             os.path.join(d, "step.cubin")])
    assert a.returncode == 0, a.stderr
    print("ptx: %d kernels, ptxas sm_90: ok" % r.stdout.count(".entry "))

    gpu = lowbit.compile(src, target="nvptx", sm="sm_90",
                         output=os.path.join(d, "gpu"), prefix="step")
    cpu = lowbit.compile(src, output=os.path.join(d, "cpu"), prefix="step")
    man = gpu.manifest
    print("manifest: target %s %s, kernels %s" % (
        man["target"], man["sm"], " ".join(sorted(man["gpu_kernels"]))))

    # No driver: -3 with the runtime's message; a later call may succeed.
    os.environ["LOWBIT_CUDA_DRIVER"] = "/nonexistent/libcuda.so.1"
    try:
        gpu(x)
        print("no driver: ran")
    except RuntimeError as e:
        print("no driver: RuntimeError:", e)
    os.environ["LOWBIT_CUDA_DRIVER"] = fake

    y_gpu, z_gpu = gpu(x)
    y_cpu, z_cpu = cpu(x)
    y_gpu = y_gpu.view(np.float16).astype(np.float64)
    y_cpu = y_cpu.view(np.float16).astype(np.float64)
    w4 = (q4 * s4.astype(np.float64).repeat(G, axis=1)).astype(np.float16)
    ref = x.astype(np.float64) @ w4.astype(np.float64).T
    scale = np.abs(ref).max()
    e_np = np.abs(y_gpu - ref).max() / scale
    e_cpu = np.abs(y_gpu - y_cpu).max() / scale
    assert e_np < 2e-3 and e_cpu < 2e-3, (e_np, e_cpu)
    print("w4a16: rel err vs numpy %.2g, vs x86_64 %.2g: ok" % (e_np, e_cpu))
    # W8A8: codes and scales as the reference lowering makes them (s =
    # amax / 127 in f32, round half to even), exact int32 sums scaled
    # once. The x86_64 build rounds each dequantized operand to X's type
    # (f16) first (docs/CodegenGPU.md), so it agrees to f16 precision.
    xf = x.astype(np.float32)
    sx = np.abs(xf).max(axis=1, keepdims=True) / np.float32(127)
    qx = np.clip(np.rint(xf / sx), -128, 127).astype(np.int64)
    z_ref = (qx @ q8.T.astype(np.int64)).astype(np.float64) * sx * s8
    e8 = np.abs(z_gpu - z_ref).max() / np.abs(z_ref).max()
    e8c = np.abs(z_gpu - z_cpu).max() / np.abs(z_cpu).max()
    assert e8 < 1e-6 and e8c < 2e-3, (e8, e8c)
    print("w8a8: rel err vs numpy %.2g, vs x86_64 %.2g: ok" % (e8, e8c))

    # Again: the packed int4 tiles (2048 bytes) and int8 weights (3072)
    # were uploaded by the first call only.
    first = open(log).read()
    open(log, "w").close()
    y2, z2 = gpu(x)
    second = open(log).read()
    same = (np.array_equal(y2.view(np.float16).astype(np.float64), y_gpu)
            and np.array_equal(z2, z_gpu))
    weights_once = ("copy to device 2048 bytes" in first and
                    "copy to device 3072 bytes" in first and
                    "copy to device 2048 bytes" not in second and
                    "copy to device 3072 bytes" not in second and
                    second.count("launch ") == 3)
    assert same and weights_once, (first, second)
    print("second call: same results, weights not copied again: ok")

    # Another thread: the runtime makes the model's context current there.
    res = {}

    def worker():
        try:
            res["out"] = gpu(x)
        except Exception as e:  # reported below
            res["out"] = e
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    out = res["out"]
    assert not isinstance(out, Exception), out
    assert np.array_equal(out[1], z_gpu)
    print("other thread: same results: ok")

    # set_weights again (the blob may have moved): the device copies are
    # dropped and the next call uploads the weights again.
    set_weights = getattr(gpu._lib, man["set_weights"])
    blob = gpu._blob
    assert set_weights(ctypes.c_void_p(blob.ctypes.data),
                       ctypes.c_size_t(blob.size)) == 0
    open(log, "w").close()
    y3, z3 = gpu(x)
    again = open(log).read()
    assert np.array_equal(z3, z_gpu) and "copy to device 2048 bytes" in again
    print("weights set again: uploaded again, same results: ok")

    # The object file in a C++ program (runtime, -ldl, -lstdc++ on the
    # link line, as the header says).
    obj = os.path.join(d, "obj")
    os.makedirs(obj)
    r = run(["lowbit-compile", src, "-o", os.path.join(obj, "step"),
             "--target=nvptx", "--sm=sm_90"])
    assert r.returncode == 0, r.stderr
    drv = os.path.join(obj, "driver.cpp")
    open(drv, "w").write(DRIVER)
    lib = os.path.join(os.environ["PYTHONPATH"], "..", "lib", "Runtime",
                       "liblowbit_runtime.a")
    exe = os.path.join(obj, "driver")
    llvm_lib = run(["llvm-config-22", "--libdir"]).stdout.strip() or \
        "/usr/lib/llvm-22/lib"
    r = run([cxx, "-O1", "-I" + obj, drv, os.path.join(obj, "step.o"), lib,
             "-ldl", "-L" + llvm_lib, "-Wl,-rpath," + llvm_lib, "-lomp",
             "-o", exe])
    assert r.returncode == 0, r.stderr
    xin = os.path.join(obj, "x.f16")
    x.tofile(xin)
    out = os.path.join(obj, "out.bin")
    r = run([exe, os.path.join(obj, "step.weights"), xin, out])
    assert r.returncode == 0, (r.stdout, r.stderr)
    raw = open(out, "rb").read()
    yc = np.frombuffer(raw[:M * N * 2], np.float16).astype(np.float64)
    zc = np.frombuffer(raw[M * N * 2:], np.float32)
    ok = (np.array_equal(yc, y_gpu.ravel()) and
          np.array_equal(zc, z_gpu.ravel()))
    print("C driver (object file): %s, %d + %d outputs match: %s"
          % (r.stdout.strip(), yc.size, zc.size, "ok" if ok else "NO"))

    # A kernel the fake driver does not model: the launch fails, -3.
    mx = src.replace(".mlir", "_mx.mlir")
    t = ("!lowbit.qtensor<%dx%dxf4E2M1FN : f16, per_group<[1 : 32]>, "
         "scale = f8E8M0FNU>" % (N, K))
    codes = rng.integers(0, 256, (N, K // 2)).astype(np.uint8).view(np.int8)
    sc = 2.0 ** rng.integers(-7, 3, (N, K // 32))  # E8M0 values
    open(mx, "w").write(
        f"""func.func @step(%x: tensor<{M}x{K}xf16>) -> tensor<{M}x{N}xf16> {{
  %w = lowbit.constant codes({dense(codes, '%d')} : tensor<{N}x{K // 2}xi8>) scales({dense(sc, '%.10e')} : tensor<{N}x{K // 32}xf8E8M0FNU>) : {t}
  %y = lowbit.qmatmul %x, %w {{transpose_b}} : tensor<{M}x{K}xf16>, {t} -> tensor<{M}x{N}xf16>
  return %y : tensor<{M}x{N}xf16>
}}
""")
    m = lowbit.compile(mx, target="nvptx", sm="sm_90",
                       output=os.path.join(d, "mx"), prefix="mx")
    try:
        m(x)
        print("unsupported kernel: ran")
    except RuntimeError as e:
        print("unsupported kernel: RuntimeError:", str(e).split(" (")[0])

    # 4-bit weights given at run time stay on the CPU (a warning).
    args = src.replace(".mlir", "_args.mlir")
    open(args, "w").write(module(q4, s4, q8, s8, weights_as_args=True))
    r = run(["lowbit-compile", args, "--target=nvptx", "--sm=sm_90",
             "--compile-to=llvm"])
    assert r.returncode == 0, r.stderr
    print("weights not constant:", r.stderr.strip().splitlines()[0])

    fp = os.path.join(d, "fp32.mlir")
    open(fp, "w").write(
        "func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
        "  return %x : tensor<4xf32>\n}\n")
    r = run(["lowbit-compile", fp, "--target=nvptx", "-o",
             os.path.join(d, "fp32")])
    assert r.returncode == 1
    print("nothing covered:", r.stderr.strip().splitlines()[0])
    r = run(["lowbit-compile", fp, "--target=riscv", "-o",
             os.path.join(d, "fp32")])
    assert r.returncode == 1
    print("unknown target:", r.stderr.strip().splitlines()[0])
    assert not [f for f in os.listdir(d) if f.startswith("fp32.")
                and f != "fp32.mlir"]


if __name__ == "__main__":
    main()
