# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: %python %s %t | FileCheck %s
#
# Every kind of GPU kernel (lowbit-lower-to-gpu, docs/CodegenGPU.md), run on
# the CPU by lowbit-gpu-emulate (the ops' PTX semantics, all threads in lock
# step) on random data with partial tiles, against a float64 reference of
# the documented numerics (the worst row's or column's relative error). No GPU needed: this checks the kernels' indexing,
# decoding, tails, shared-memory staging and reductions; bench/gpu checks
# the same kernels on a GPU.
#
# CHECK: w4a16_gemv_3x10x96_g32_f32 ok
# CHECK: w4a16_gemv_1x133x1056_g32_f16 ok
# CHECK: w4a16_gemv_2x7x64_g32_xbf16_f32 ok
# CHECK: mxfp4_gemv_2x6x64_g32_f32 ok
# CHECK: nvfp4_gemv_1x5x96_g16_f32 ok
# CHECK: mxfp4_gemm_33x70x128_g32_xbf16_f32 ok
# CHECK: nvfp4_gemm_20x45x96_g16_f16 ok
# CHECK: w4a16_gemm_19x70x96_g32_f32 ok
# CHECK: w4a16_gemm_17x9x64_g32_xbf16_f32 ok
# CHECK: w4a16_gemv_16x40x64_g32_f32 ok
# CHECK: w8a8_gemm_5x70x48_xt_wrow_f32 ok
# CHECK: w8a8_gemm_67x33x80_xrow_wt_f16 ok
# CHECK: fp8_gemm_67x33x80_xrow_wrow_f32 ok
# CHECK: quantize_i8_rows_5x300_f16 ok (codes and scales bit-identical)
# CHECK: quantize_i8_rows_3x129_f32 ok (codes and scales bit-identical)
# CHECK: quantize_fp8_rows_4x70_bf16 ok (codes and scales bit-identical)
# CHECK: quantize_i8_rows_3x200_f16 ok (codes and scales bit-identical)
# CHECK: fp8_wgmma_gemm_67x33x80_xrow_wrow_f32 ok
# CHECK: fp8_wgmma_gemm_130x70x208_xt_wrow_f16 ok
# CHECK: 19 kernels, 0 wrong

import os
import re
import subprocess
import sys

import ml_dtypes
import numpy as np

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3,
                 -4, -6], np.float64)

# (function name, MLIR signature body). W: weights, X: activations.
PROBLEMS = [
    ("int4", 3, 10, 96, 32, "f16", "f32"),
    ("int4", 1, 133, 1056, 32, "f16", "f16"),
    ("int4", 2, 7, 64, 32, "bf16", "f32"),
    ("mxfp4", 2, 6, 64, 32, "f16", "f32"),
    ("nvfp4", 1, 5, 96, 16, "f16", "f32"),
    ("mxfp4", 33, 70, 128, 32, "bf16", "f32"),
    ("nvfp4", 20, 45, 96, 16, "f16", "f16"),
    ("int4", 19, 70, 96, 32, "f16", "f32"),
    ("int4", 17, 9, 64, 32, "bf16", "f32"),
    ("int4", 16, 40, 64, 32, "f16", "f32"),
    ("w8", 5, 70, 48, "xt_wrow", None, "f32"),
    ("w8", 67, 33, 80, "xrow_wt", None, "f16"),
    ("fp8", 67, 33, 80, "xrow_wrow", None, "f32"),
    # Activation quantization per row (int8; E4M3), K not a multiple of
    # the 128 threads; a NaN, an all-zero row and a subnormal row.
    ("q_i8", 5, 0, 300, None, "f16", None),
    ("q_i8", 3, 0, 129, None, "f32", None),
    ("q_fp8", 4, 0, 70, None, "bf16", None),
    # Ties away from zero (round = nearest_away): cvt.rzi and a step.
    ("q_i8a", 3, 0, 200, None, "f16", None),
]
# sm_90a: the FP8 GEMM on wgmma (shared memory descriptors, the
# warpgroup's accumulator fragment), tails in M, N and K.
PROBLEMS_90A = [
    ("fp8", 67, 33, 80, "xrow_wrow", None, "f32"),
    ("fp8", 130, 70, 208, "xt_wrow", None, "f16"),
]


def qtype(kind, n, k, g):
    if kind == "int4":
        return "!lowbit.qtensor<%dx%dxi4, per_group<[1 : %d]>, scale = f16>" % (
            n, k, g)
    if kind == "mxfp4":
        return ("!lowbit.qtensor<%dx%dxf4E2M1FN, per_group<[1 : %d]>, "
                "scale = f8E8M0FNU>" % (n, k, g))
    if kind == "nvfp4":
        return ("!lowbit.qtensor<%dx%dxf4E2M1FN, per_group<[1 : %d]>, "
                "scale = f8E4M3FN, tensor_scale>" % (n, k, g))
    raise ValueError(kind)


def eight(kind, rows, k, per_row):
    el = "f8E4M3FN" if kind == "fp8" else "i8"
    return "!lowbit.qtensor<%dx%dx%s, %s>" % (
        rows, k, el, "per_axis<0>" if per_row else "per_tensor")


def module(problems):
    funcs = []
    for i, (kind, m, n, k, g, xe, ye) in enumerate(problems):
        if kind.startswith("q_"):
            xt = "tensor<%dx%dx%s>" % (m, k, xe)
            qt = "!lowbit.qtensor<%dx%dx%s : %s, per_axis<0>%s>" % (
                m, k, "f8E4M3FN" if kind == "q_fp8" else "i8", xe,
                ", round = nearest_away" if kind == "q_i8a" else "")
            funcs.append(
                "func.func @p%d(%%x: %s) -> %s {\n"
                "  %%q = lowbit.quantize %%x : %s -> %s\n"
                "  return %%q : %s\n}\n" % (i, xt, qt, xt, qt, qt))
            continue
        if kind in ("w8", "fp8"):
            xt = eight(kind, m, k, g.startswith("xrow"))
            wt = eight(kind, n, k, g.endswith("wrow"))
        else:
            xt = "tensor<%dx%dx%s>" % (m, k, xe)
            wt = qtype(kind, n, k, g)
        yt = "tensor<%dx%dx%s>" % (m, n, ye)
        funcs.append(
            "func.func @p%d(%%x: %s, %%w: %s) -> %s {\n"
            "  %%y = lowbit.qmatmul %%x, %%w {transpose_b} : %s, %s -> %s\n"
            "  return %%y : %s\n}\n" % (i, xt, wt, yt, xt, wt, yt, yt))
    return "".join(funcs)


def mma_b(q):
    """The "mma-b" tiles of docs/CodegenGPU.md, written from the kernel's
    side: lane 4 g + t, word ni, nibbles p and p + 4 (p = 2 ks + j) hold
    channel 32 nb + 8 ni + g at inputs 32 kb + 16 ks + 8 j + 2 t and + 1."""
    n, k = q.shape
    nb, kb = (n + 31) // 32, k // 32
    u = np.zeros((nb * 32, k), np.uint64)
    u[:n] = q & 15
    out = np.zeros((nb, kb, 32, 4), np.uint64)
    for lane in range(32):
        g, t = divmod(lane, 4)
        for ni in range(4):
            rows = u[np.arange(nb) * 32 + 8 * ni + g]  # [nb, k]
            word = np.zeros((nb, kb), np.uint64)
            for pair in range(4):
                ks, j = divmod(pair, 2)
                k0 = np.arange(kb) * 32 + 16 * ks + 8 * j + 2 * t
                word |= rows[:, k0] << np.uint64(4 * pair)
                word |= rows[:, k0 + 1] << np.uint64(4 * (pair + 4))
            out[:, :, lane, ni] = word
    return out.astype(np.uint32).view(np.int32).reshape(nb, kb, 128)


def half(xe):
    return np.float16 if xe == "f16" else ml_dtypes.bfloat16


def problem_data(kind, m, n, k, g, xe, ye, rng, params):
    """Kernel arguments (but Y) and the float64 reference."""
    if kind in ("w8", "fp8"):
        if kind == "w8":
            x = rng.integers(-127, 128, (m, k), dtype=np.int8)
            w = rng.integers(-127, 128, (n, k), dtype=np.int8)
            xv, wv = x.astype(np.float64), w.astype(np.float64)
        else:
            x = (rng.standard_normal((m, k)) * 3).astype(
                ml_dtypes.float8_e4m3fn)
            w = (rng.standard_normal((n, k)) * 3).astype(
                ml_dtypes.float8_e4m3fn)
            xv, wv = x.astype(np.float64), w.astype(np.float64)
            x, w = x.view(np.int8), w.view(np.int8)
        sx = (rng.random(params[1]) * 0.01 + 0.001).astype(np.float32)
        sw = (rng.random(params[3]) * 0.01 + 0.001).astype(np.float32)
        ref = (xv @ wv.T) * sx.astype(np.float64).reshape(-1, 1) \
            * sw.astype(np.float64).reshape(1, -1)
        return [x, sx, w, sw], ref
    hx = half(xe)
    x = rng.standard_normal((m, k)).astype(hx)
    if kind == "int4":
        q = rng.integers(-8, 8, (n, k))
        s = (rng.random((n, k // g)) * 0.02 + 0.001).astype(np.float16)
        w = q * np.repeat(s.astype(np.float64), g, axis=1)
        # The tensor-core kernel multiplies weights rounded once to X's
        # type (q * s is exact in f32).
        w = w.astype(np.float32).astype(hx).astype(np.float64)
        args = [x, mma_b(q), s]
    else:
        u = rng.integers(0, 16, (n, k))
        # The kernel: E2M1 value times the scale in f32 (NVFP4: the E4M3
        # scale times the tensor scale first), rounded once to X's type.
        vals = E2M1[u].astype(np.float32)
        if kind == "mxfp4":
            sb = rng.integers(120, 131, (n, k // g)).astype(np.uint8)
            if xe == "bf16":
                # The ends of E8M0 (bf16 holds them): 2^-127, 2^114.
                sb[0, 0] = 0
                sb[1, :] = 241
            sv = np.exp2(sb.astype(np.float64) - 127).astype(np.float32)
            args = [x, mma_b(u), sb.view(np.int8)]
        else:
            sc = (rng.random((n, k // g)) * 400 + 0.01).astype(
                ml_dtypes.float8_e4m3fn)
            ts = np.array(rng.random() * 0.01 + 0.001, np.float32)
            sv = sc.astype(np.float32) * ts
            args = [x, mma_b(u), sc.view(np.int8), ts.reshape(params[3])]
        w = (vals * np.repeat(sv, g, axis=1)).astype(hx).astype(np.float64)
    return args, x.astype(np.float64) @ w.T


def run_quantize(d, kernels_mlir, name, launch, prob, rng):
    kind, m, _, k, _, xe, _ = prob
    x, codes, s = quantize_case(kind, m, k, xe, rng)
    paths = [os.path.join(d, "%s.%d.bin" % (name, i)) for i in range(3)]
    x.tofile(paths[0])
    np.full((m, k), 0x55, np.uint8).tofile(paths[1])  # poisoned
    np.full(m, np.nan, np.float32).tofile(paths[2])
    cmd = ["lowbit-gpu-emulate", kernels_mlir, "--kernel", name, "--grid",
           ",".join(launch.split(", ")[:3])]
    for path in paths:
        cmd += ["--arg", path]
    cmd += ["--write", "1=" + paths[1], "--write", "2=" + paths[2]]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print("%s failed: %s" % (name, r.stderr.strip()))
        return False
    got_codes = np.fromfile(paths[1], np.int8).reshape(m, k)
    got_s = np.fromfile(paths[2], np.float32)
    same = (np.array_equal(got_codes, codes)
            and np.array_equal(got_s.view(np.uint32), s.view(np.uint32)))
    print("%s %s (codes and scales %s)" % (
        name, "ok" if same else "WRONG",
        "bit-identical" if same else "differ"))
    return same


def quantize_case(kind, m, k, xe, rng):
    """X with a NaN, a zero row and a tiny row; the exact codes and scales
    of docs/Spec.md section 5 (f32 arithmetic)."""
    x = (rng.standard_normal((m, k)) * 3).astype(np.float32)
    if kind != "q_fp8":
        x[0, 5] = np.nan
    if kind == "q_i8a":
        # Exact ties: values that are k + 1/2 times the scale.
        x[0, :40] = (np.arange(40) - 20 + 0.5).astype(np.float32) / 4
    x[1] = 0
    x[2] = x[2] * 1e-30
    dt = {"f16": np.float16, "bf16": ml_dtypes.bfloat16,
          "f32": np.float32}[xe]
    x = x.astype(dt)
    xf = x.astype(np.float32)
    amax = np.nanmax(np.abs(xf), axis=1)
    qmax = np.float32(448 if kind == "q_fp8" else 127)
    s = (amax / qmax).astype(np.float32)
    s[s == 0] = 1
    v = (xf / s[:, None]).astype(np.float32)
    if kind == "q_i8a":
        v64 = v.astype(np.float64)
        r = np.sign(v64) * np.floor(np.abs(v64) + 0.5)
        r[np.isnan(r)] = 0
        codes = np.clip(r, -127, 127).astype(np.int8)
    elif kind == "q_i8":
        r = np.rint(v)
        r[np.isnan(r)] = 0
        codes = np.clip(r, -127, 127).astype(np.int8)
    else:
        codes = v.astype(ml_dtypes.float8_e4m3fn).view(np.int8)
    return x, codes, s


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    bad = total = 0
    for chip, problems in (("sm_90", PROBLEMS), ("sm_90a", PROBLEMS_90A)):
        b, n = run_chip(d, chip, problems, rng)
        bad += b
        total += n
    print("%d kernels, %d wrong" % (total, bad))


def run_chip(d, chip, problems, rng):
    src = os.path.join(d, "problems_%s.mlir" % chip)
    with open(src, "w") as f:
        f.write(module(problems))
    ir = subprocess.run(["lowbit-opt", src,
                         "--lowbit-lower-to-gpu=chip=" + chip],
                        check=True, capture_output=True, text=True).stdout
    kernels_mlir = os.path.join(d, "kernels_%s.mlir" % chip)
    with open(kernels_mlir, "w") as f:
        f.write(ir)
    ops = re.findall(r"lowbit.gpu_kernel = @lowbit_gpu::@(\w+), "
                     r"lowbit.gpu_launch = array<i64: ([\d, ]+)>, "
                     r"lowbit.gpu_params = \[([^\]]*)\]", ir)
    assert len(ops) == len(problems), (len(ops), ops)
    bad = 0
    for (name, launch, params), prob in zip(ops, problems):
        shapes = []
        for p in re.findall(r"memref<([^>]*)>", params):
            dims = p.split("x")[:-1]
            shapes.append(tuple(int(v) for v in dims))
        if prob[0].startswith("q_"):
            bad += not run_quantize(d, kernels_mlir, name, launch, prob, rng)
            continue
        args, ref = problem_data(*prob, rng, shapes)
        m, n = ref.shape
        ye = prob[6]
        ydt = {"f16": np.float16, "f32": np.float32}[ye]
        files = []
        for i, a in enumerate(args):
            path = os.path.join(d, "%s.%d.bin" % (name, i))
            np.ascontiguousarray(a).tofile(path)
            files.append(path)
        ypath = os.path.join(d, "%s.y.bin" % name)
        np.full((m, n), np.nan, ydt).tofile(ypath)  # poisoned
        files.append(ypath)
        grid = ",".join(launch.split(", ")[:3])
        cmd = ["lowbit-gpu-emulate", kernels_mlir, "--kernel", name,
               "--grid", grid]
        for path in files:
            cmd += ["--arg", path]
        cmd += ["--write", "%d=%s" % (len(files) - 1, ypath)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            print("%s failed: %s" % (name, r.stderr.strip()))
            bad += 1
            continue
        y = np.fromfile(ypath, ydt).reshape(m, n).astype(np.float64)
        # Relative error per row and per column (a channel of huge
        # weights must not hide the others), the worst of them.
        def worst(axis):
            return float(np.max(np.linalg.norm(y - ref, axis=axis) /
                                np.maximum(np.linalg.norm(ref, axis=axis),
                                           1e-300)))
        err = max(worst(0), worst(1)) if np.isfinite(y).all() else np.inf
        # f16 output: one rounding (2^-11 relative); f32: fp32 sums.
        tol = 1e-3 if ye == "f16" else 1e-5
        ok = err < tol
        bad += not ok
        print("%s %s (relative error %.2e, bound %.0e)"
              % (name, "ok" if ok else "WRONG", err, tol))
    return bad, len(problems)


if __name__ == "__main__":
    main()
