#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""lowbit's GPU kernels on a GPU (docs/CodegenGPU.md).

Loads the PTX that bench/gpu/prepare.sh made through lib/Runtime (ctypes;
the CUDA driver is opened with dlopen), checks every kernel of the manifest
on fresh random data against a float64 reference (outputs poisoned with
NaN first, so an unwritten element fails), then times the benchmark
problems with CUDA events (median of many runs after a warm-up, weights
rotated among copies that together exceed L2) beside cuBLAS fp16
(torch.matmul) and the measured HBM bandwidth, and prints one table.

    bench/gpu/run.sh            # builds lib/Runtime, then runs this
    bench/gpu/run.sh --quick    # fewer repetitions

Exit status 1 if a kernel is wrong (its row says no) or cannot run.
"""

import argparse
import ctypes
import json
import os
import re
import statistics
import sys

import torch


class Runtime:
    """lib/Runtime's C API (include/lowbit/Runtime/Runtime.h)."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        L = self.lib
        L.lbrt_last_error.restype = ctypes.c_char_p
        L.lbrt_open.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
        L.lbrt_device_info.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.c_size_t,
                                       ctypes.POINTER(ctypes.c_int),
                                       ctypes.POINTER(ctypes.c_int)]
        L.lbrt_load_ptx.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_void_p)]
        L.lbrt_get_kernel.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                      ctypes.POINTER(ctypes.c_void_p)]
        L.lbrt_launch.argtypes = [ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_uint),
                                  ctypes.POINTER(ctypes.c_uint), ctypes.c_uint,
                                  ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_void_p)]
        L.lbrt_module_info_log.restype = ctypes.c_char_p
        L.lbrt_module_info_log.argtypes = [ctypes.c_void_p]
        L.lbrt_synchronize.argtypes = [ctypes.c_void_p]
        self.ctx = ctypes.c_void_p()
        self.check(L.lbrt_open(0, ctypes.byref(self.ctx)), "lbrt_open")

    def check(self, status, what):
        if status != 0:
            raise RuntimeError("%s: %s" % (what, self.lib.lbrt_last_error()
                                           .decode()))

    def device(self):
        name = ctypes.create_string_buffer(256)
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.check(self.lib.lbrt_device_info(self.ctx, name, 256,
                                             ctypes.byref(major),
                                             ctypes.byref(minor)),
                   "lbrt_device_info")
        return name.value.decode(), major.value, minor.value

    def load(self, ptx_text):
        m = ctypes.c_void_p()
        self.check(self.lib.lbrt_load_ptx(self.ctx, ptx_text.encode(),
                                          ctypes.byref(m)), "lbrt_load_ptx")
        return m

    def advisories(self, module):
        """The JIT's advisory lines (ptxas C75xx) for a loaded module: the
        PTX relied on the JIT repairing it (test/GPU/ptx.test forbids them
        with the toolkit's ptxas; the driver's JIT may be newer)."""
        log = (self.lib.lbrt_module_info_log(module) or b"").decode()
        return [ln for ln in log.splitlines() if re.search(r"C75\d\d", ln)]

    def kernel(self, module, name):
        k = ctypes.c_void_p()
        self.check(self.lib.lbrt_get_kernel(module, name.encode(),
                                            ctypes.byref(k)),
                   "lbrt_get_kernel(%s)" % name)
        return k


class Launch:
    """One manifest entry: a kernel, its launch and its buffers."""

    def __init__(self, rt, module, entry):
        self.rt = rt
        self.name = entry["kernel"]
        self.k = rt.kernel(module, self.name)
        self.grid = (ctypes.c_uint * 3)(*entry["grid"])
        self.block = (ctypes.c_uint * 3)(*entry["block"])
        self.shared = entry["shared_bytes"]
        self.params = entry["params"]

    def __call__(self, *tensors):
        assert len(tensors) == len(self.params), self.name
        for t, p in zip(tensors, self.params):
            assert list(t.shape) == p["shape"], (self.name, t.shape, p)
            assert t.is_contiguous() and t.is_cuda
            assert t.data_ptr() % p.get("align", 1) == 0, (self.name, p)
        ptrs = [ctypes.c_uint64(t.data_ptr()) for t in tensors]
        args = (ctypes.c_void_p * len(ptrs))(
            *[ctypes.cast(ctypes.byref(p), ctypes.c_void_p) for p in ptrs])
        # On PyTorch's current stream: ordered with the tensors' producers
        # and with the CUDA events that time it.
        stream = torch.cuda.current_stream().cuda_stream
        self.rt.check(self.rt.lib.lbrt_launch(self.k, self.grid, self.block,
                                              self.shared, stream, args),
                      "lbrt_launch(%s)" % self.name)


def w4a16_problem(name):
    """int4 (w4a16), MXFP4 or NVFP4 weights, f16 activations: GEMV."""
    m = re.match(r"(w4a16|mxfp4|nvfp4)_(?:gemv|gemm)_(\d+)x(\d+)x(\d+)_"
                 r"g(\d+)_(xbf16_)?(f16|bf16|f32)(?:_v\d+)?$", name)
    if not m:
        return None
    M, N, K, g = (int(v) for v in m.groups()[1:5])
    types = {"f16": torch.float16, "bf16": torch.bfloat16,
             "f32": torch.float32}
    return (m.group(1), M, N, K, g, types[m.group(7)],
            torch.bfloat16 if m.group(6) else torch.float16)


E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
        -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def fp4_data(kind, M, N, K, g, gen):
    """E2M1 codes (all 16), E8M0 or E4M3 scale bytes, an f32 tensor scale
    (NVFP4), X; the codes as words and the weights as float64."""
    u = torch.randint(0, 16, (N, K), generator=gen, dtype=torch.int64)
    words = mma_b(u)
    vals = torch.tensor(E2M1, dtype=torch.float64)[u]
    if kind == "mxfp4":
        sb = torch.randint(120, 131, (N, K // g), generator=gen,
                           dtype=torch.int64)
        sv = torch.pow(2.0, (sb - 127).double())
        ts = None
    else:
        s = (torch.rand(N, K // g, generator=gen) * 400 + 0.01).to(
            torch.float8_e4m3fn)
        sv = s.double()
        sb = s.view(torch.uint8).to(torch.int64)
        ts = torch.rand((), generator=gen) * 0.01 + 0.001
        sv = sv * ts.double()
    # The kernel rounds each weight (value times scale, in f32) once to X's
    # type; the caller does that rounding.
    w = vals * sv.repeat_interleave(g, dim=1)
    sbytes = torch.where(sb >= 128, sb - 256, sb).to(torch.int8)
    x = torch.randn(M, K, generator=gen).half()
    return x, words, sbytes, ts, w


def mma_b(q):
    """int4 codes [N, K] in the kernel's "mma-b" tiles (docs/CodegenGPU.md;
    numerics::packInt4MmaB): lane 4 g + t, word ni, nibbles p and p + 4
    (p = 2 ks + j) hold channel 32 nb + 8 ni + g at inputs 32 kb + 16 ks +
    8 j + 2 t and + 1."""
    n, k = q.shape
    nb, kb = (n + 31) // 32, k // 32
    u = torch.zeros(nb * 32, k, dtype=torch.int64)
    u[:n] = q.to(torch.int64) & 15
    out = torch.zeros(nb, kb, 32, 4, dtype=torch.int64)
    for lane in range(32):
        g, t = divmod(lane, 4)
        for ni in range(4):
            rows = u[torch.arange(nb) * 32 + 8 * ni + g]
            word = torch.zeros(nb, kb, dtype=torch.int64)
            for pair in range(4):
                ks, j = divmod(pair, 2)
                k0 = torch.arange(kb) * 32 + 16 * ks + 8 * j + 2 * t
                word |= rows[:, k0] << (4 * pair)
                word |= rows[:, k0 + 1] << (4 * (pair + 4))
            out[:, :, lane, ni] = word
    out = torch.where(out >= 2**31, out - 2**32, out).to(torch.int32)
    return out.reshape(nb, kb, 128)


def w4a16_data(M, N, K, g, gen):
    """Random codes (all 16 nibble values), scales and X; the codes as the
    kernel reads them (mma-b tiles) and as numbers."""
    q = torch.randint(-8, 8, (N, K), generator=gen, dtype=torch.int32)
    words = mma_b(q)
    s = (torch.rand(N, K // g, generator=gen) * 0.02 + 0.001).half()
    x = torch.randn(M, K, generator=gen).half()
    return x, q, words, s


def gemm8_problem(name):
    m = re.match(r"(w8a8|fp8|fp8_wgmma)_gemm_(\d+)x(\d+)x(\d+)_(xrow|xt)_"
                 r"(wrow|wt)_"
                 r"(f16|f32)(?:_v\d+)?$", name)
    if not m:
        return None
    M, N, K = (int(v) for v in m.groups()[1:4])
    return (m.group(1).startswith("fp8"), M, N, K, m.group(5) == "xrow",
            m.group(6) == "wrow",
            torch.float16 if m.group(7) == "f16" else torch.float32)


def gemm8_data(fp8, M, N, K, sx_shape, sw_shape, gen):
    """Codes as the kernel reads them (bytes) and as numbers, and f32
    scales shaped like the qtensors' scales parts."""
    if fp8:
        x = (torch.randn(M, K, generator=gen) * 2).to(torch.float8_e4m3fn)
        w = (torch.randn(N, K, generator=gen) * 2).to(torch.float8_e4m3fn)
        xv, wv = x.double(), w.double()
        x, w = x.view(torch.int8), w.view(torch.int8)
    else:
        x = torch.randint(-127, 128, (M, K), generator=gen,
                          dtype=torch.int8)
        w = torch.randint(-127, 128, (N, K), generator=gen,
                          dtype=torch.int8)
        xv, wv = x.double(), w.double()
    sx = torch.rand(sx_shape, generator=gen) * 0.01 + 0.001
    sw = torch.rand(sw_shape, generator=gen) * 0.01 + 0.001
    return x, sx, w, sw, xv, wv


def gemm8_reference(xv, sx, wv, sw):
    # A scale per row / channel, or one (any shape of one element).
    return (xv @ wv.T) * sx.double().reshape(-1, 1) * sw.double().reshape(1, -1)


def rel_err(y, ref):
    y = y.double().cpu()
    if not torch.isfinite(y).all():
        return float("inf")
    return float((y - ref).norm() / ref.norm().clamp_min(1e-300))


def time_ms(fn, reps, warmup=5):
    for _ in range(warmup):
        fn(0)
    torch.cuda.synchronize()
    times = []
    for i in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn(i)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def hbm_gbs(reps):
    """Device-to-device copy of 1 GiB: bytes read plus written per second."""
    n = 1 << 29
    a = torch.empty(n, dtype=torch.float16, device="cuda")
    b = torch.empty_like(a)
    a.normal_()
    ms = time_ms(lambda i: b.copy_(a), reps)
    return 2 * a.numel() * 2 / ms / 1e6


def run_gemm8(launch, prob, gen, reps):
    """Checks and times a W8A8 / FP8 GEMM; baselines cuBLAS fp16 and, for
    FP8 with M a multiple of 16, cuBLAS FP8 (torch._scaled_mm)."""
    fp8, M, N, K, xrow, wrow, ydt = prob
    shapes = (launch.params[1]["shape"], launch.params[3]["shape"])
    errs = []
    for _ in range(2):
        x, sx, w, sw, xv, wv = gemm8_data(fp8, M, N, K, *shapes, gen)
        y = torch.full((M, N), float("nan"), dtype=ydt, device="cuda")
        launch(x.cuda(), sx.cuda(), w.cuda(), sw.cuda(), y)
        torch.cuda.synchronize()
        errs.append(rel_err(y, gemm8_reference(xv, sx, wv, sw)))
    err = max(errs)
    # f16 output: its rounding (2^-11 relative) dominates. int8, f32
    # output: exact integer sums, then f32 scaling (about 1e-7). FP8, f32
    # output: Hopper's FP8 tensor cores (wgmma; assumed of FP8 mma.sync
    # too) do not accumulate in full f32: they keep about 14 significant
    # bits (DeepSeek-V3 report, section 3.3.2: "limited to retaining
    # around 14 bits"), the products aligned to the largest addend and
    # truncated, so each k32 step adds errors of up to u = 2^-13 (1.2e-4)
    # of its largest addend. They average out as the terms do: modelled
    # on this data (randn * 2 in E4M3, 13 fraction bits kept, groups of 4
    # to 32 products), the norm-wise error is 0.5 u to 0.8 u, 6e-5 to
    # 1e-4 at 67x33x80 (about 7e-5 expected). The bound is u itself; a
    # chip that keeps fewer bits (2 u at 12) fails, as it should
    # (docs/CodegenGPU.md, Numerics).
    if ydt == torch.float16:
        tol = 2e-3
    elif fp8:
        tol = 2.0 ** -13
    else:
        tol = 1e-5
    row = {"kernel": launch.name, "M": M, "N": N, "K": K, "err": err,
           "ok": err < tol}
    if N * K < 1 << 24:
        return row
    copies = 2
    sets = []
    for _ in range(copies):
        x, sx, w, sw, _, _ = gemm8_data(fp8, M, N, K, *shapes, gen)
        sets.append((x.cuda(), sx.cuda(), w.cuda(), sw.cuda()))
    y = torch.empty((M, N), dtype=ydt, device="cuda")
    ms = time_ms(lambda i: launch(*sets[i % copies], y), reps)
    x16 = torch.randn(M, K, generator=gen).half().cuda()
    w16 = [torch.randn(N, K, generator=gen).half().cuda() for _ in range(2)]
    ms_cublas = time_ms(lambda i: torch.matmul(x16, w16[i % 2].T), reps)
    row.update(us=ms * 1e3, wgbs=N * K / ms / 1e6, hbm=float("nan"),
               cublas_us=ms_cublas * 1e3, vs_cublas=ms_cublas / ms,
               tops=2.0 * M * N * K / ms / 1e9)
    if fp8 and M % 16 == 0 and hasattr(torch, "_scaled_mm"):
        xs = [st[0].view(torch.float8_e4m3fn) for st in sets]
        ws = [st[2].view(torch.float8_e4m3fn) for st in sets]
        one = torch.ones((), device="cuda")
        ms_f8 = time_ms(lambda i: torch._scaled_mm(
            xs[i % copies], ws[i % copies].T, scale_a=one, scale_b=one,
            out_dtype=torch.float16), reps)
        row.update(cublas_fp8_us=ms_f8 * 1e3, vs_cublas_fp8=ms_f8 / ms)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--kernels", required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reps = 20 if args.quick else 200
    torch.cuda.init()
    rt = Runtime(args.runtime)
    name, major, minor = rt.device()
    chip = "sm_%d%d" % (major, minor)
    # Hopper (9.0): the sm_90a build (the FP8 GEMM on wgmma).
    kdir = os.path.join(args.kernels, "sm_90a" if (major, minor) == (9, 0)
                        else "sm_90" if major >= 9 else "sm_80")
    manifest = json.load(open(os.path.join(kdir, "manifest.json")))
    modules = {}
    advisories = []
    for key, fname in manifest["ptx"].items():
        modules[key.rsplit(".", 1)[0]] = rt.load(
            open(os.path.join(kdir, fname)).read())
        advisories += ["%s: %s" % (fname, ln) for ln in
                       rt.advisories(modules[key.rsplit(".", 1)[0]])]
    print("device: %s (%s); PTX for %s" % (name, chip, os.path.basename(kdir)))
    for a in advisories:
        print("JIT advisory (counts as a failure): %s" % a)
    hbm = hbm_gbs(reps)
    print("HBM copy: %.0f GB/s (read + write)" % hbm)
    gen = torch.Generator().manual_seed(1)
    rows, bad = [], 0
    seen = set()
    for entry in manifest["launches"]:
        if entry["kernel"] in seen:
            continue
        seen.add(entry["kernel"])
        launch = Launch(rt, modules[entry["module"]], entry)
        g8 = gemm8_problem(launch.name)
        if g8 is not None:
            row = run_gemm8(launch, g8, gen, reps)
            bad += not row["ok"]
            rows.append(row)
            continue
        prob = w4a16_problem(launch.name)
        if prob is None:
            print("skipping %s: no checker" % launch.name)
            continue
        kind, M, N, K, g, ydt, xdt = prob

        def data():
            """(kernel arguments but Y, float64 reference weights, X)."""
            if kind == "w4a16":
                x, q, words, s = w4a16_data(M, N, K, g, gen)
                x = x.to(xdt)
                # The kernel multiplies weights q * s rounded once to X's
                # type.
                w = (q.double() * s.double().repeat_interleave(g, dim=1))
                w = w.float().to(xdt).double()
                return [x.cuda(), words.cuda(), s.cuda()], w, x
            x, words, sb, ts, w = fp4_data(kind, M, N, K, g, gen)
            x = x.to(xdt)
            w = w.float().to(xdt).double()
            args = [x.cuda(), words.cuda(), sb.cuda()]
            if ts is not None:
                args.append(ts.reshape(launch.params[3]["shape"]).cuda())
            return args, w, x

        # Correctness on fresh data, twice (a race shows as a change).
        errs = []
        for _ in range(2):
            args, w, x = data()
            y = torch.full((M, N), float("nan"), dtype=ydt, device="cuda")
            launch(*args, y)
            torch.cuda.synchronize()
            errs.append(rel_err(y, x.double() @ w.T))
        err = max(errs)
        # f16 operands and output: about 1e-3; bf16 (8 bits): about 8e-3.
        ok = err < (1e-2 if torch.bfloat16 in (xdt, ydt) else 2e-3)
        bad += not ok
        row = {"kernel": launch.name, "M": M, "N": N, "K": K, "err": err,
               "ok": ok}
        if N * K >= 1 << 24:
            # Weights rotated among copies larger than L2 together.
            copies = 4
            sets = [data()[0] for _ in range(copies)]
            y = torch.empty((M, N), dtype=ydt, device="cuda")
            ms = time_ms(lambda i: launch(*sets[i % copies], y), reps)
            wbytes = N * K / 2 + N * (K // g) * (2 if kind == "w4a16" else 1)
            w16 = [torch.randn(N, K, generator=gen).half().cuda()
                   for _ in range(2)]
            xs = [st[0] for st in sets]
            ms_cublas = time_ms(lambda i: torch.matmul(xs[i % copies],
                                                       w16[i % 2].T), reps)
            row.update(us=ms * 1e3, wgbs=wbytes / ms / 1e6,
                       hbm=wbytes / ms / 1e6 / hbm,
                       cublas_us=ms_cublas * 1e3,
                       vs_cublas=ms_cublas / ms)
            del w16, sets
        rows.append(row)
    print("%-40s %4s %6s %6s %9s %8s %6s %8s %10s %9s %10s %9s %9s %3s" % (
        "kernel", "M", "N", "K", "time_us", "wGB/s", "xHBM", "TOP/s",
        "cublas_us", "vs_cuBLAS", "fp8_us", "vs_fp8", "rel_err", "ok"))
    for r in rows:
        def f(key, fmt):
            return fmt % r[key] if key in r and r[key] == r[key] else "-"
        print("%-40s %4d %6d %6d %9s %8s %6s %8s %10s %9s %10s %9s %9.2e %3s"
              % (r["kernel"], r["M"], r["N"], r["K"], f("us", "%.1f"),
                 f("wgbs", "%.0f"), f("hbm", "%.2f"), f("tops", "%.1f"),
                 f("cublas_us", "%.1f"), f("vs_cublas", "%.2fx"),
                 f("cublas_fp8_us", "%.1f"), f("vs_cublas_fp8", "%.2fx"),
                 r["err"], "yes" if r["ok"] else "no"))
    print("lowbit-bench-gpu: %d kernels, %d not ok, %d JIT advisories" % (
        len(rows), bad, len(advisories)))
    return 1 if bad or advisories else 0


if __name__ == "__main__":
    sys.exit(main())
