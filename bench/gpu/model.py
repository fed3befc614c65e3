# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""An nvptx-compiled model on a GPU (lowbit-compile --target=nvptx).

    model.py make OUT     here: OUT/model.mlir (f16 activations; a W4A16
                          projection and an int8-quantized W8A8 one, random
                          constant weights) and OUT/x.npy
    model.py run BASE OUT loads BASE.so / BASE.json / BASE.weights through
                          ctypes (no lowbit package needed), runs the entry
                          point on OUT/x.npy, writes OUT/<name>.npy; with
                          --against REF.npz compares with another build's
                          outputs and times the call

prepare.sh compiles model.mlir for x86_64 (run here: the reference
outputs) and for nvptx sm_80 / sm_90; run.sh runs the nvptx build on the
GPU against them. The nvptx build's W4A16 differs from x86_64's by the
tensor cores' summation order (f16 result); its W8A8 sums are exact
int32 scaled once, where x86_64 rounds each dequantized operand to f16
first (docs/CodegenGPU.md), so both agree to f16 precision.
"""

import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np

M, N, K, G = 16, 4096, 4096, 128


def dense_resource(name, arr):
    return '      %s: "0x%08x%s"' % (name, 4, arr.tobytes().hex())


def make(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    q4 = rng.integers(-8, 8, (N, K))
    s4 = (rng.random((N, K // G)) * 0.02 + 0.005).astype(np.float16)
    codes = ((q4[:, 0::2] & 0xF) | ((q4[:, 1::2] & 0xF) << 4)).astype(
        np.uint8).view(np.int8)
    q8 = rng.integers(-127, 128, (N, K)).astype(np.int8)
    s8 = (rng.random(N) * 0.001 + 0.0005).astype(np.float32)
    t4 = f"!lowbit.qtensor<{N}x{K}xi4 : f16, per_group<[1 : {G}]>, scale = f16>"
    t8 = f"!lowbit.qtensor<{N}x{K}xi8, per_axis<0>>"
    tx = f"!lowbit.qtensor<{M}x{K}xi8 : f16, per_axis<0>>"
    text = f"""func.func @step(%x: tensor<{M}x{K}xf16>)
    -> (tensor<{M}x{N}xf16>, tensor<{M}x{N}xf32>) {{
  %w4 = lowbit.constant codes(dense_resource<c4> : tensor<{N}x{K // 2}xi8>)
      scales(dense_resource<s4> : tensor<{N}x{K // G}xf16>) : {t4}
  %y = lowbit.qmatmul %x, %w4 {{transpose_b}}
      : tensor<{M}x{K}xf16>, {t4} -> tensor<{M}x{N}xf16>
  %w8 = lowbit.constant codes(dense_resource<c8> : tensor<{N}x{K}xi8>)
      scales(dense_resource<s8> : tensor<{N}xf32>) : {t8}
  %xq = lowbit.quantize %x : tensor<{M}x{K}xf16> -> {tx}
  %z = lowbit.qmatmul %xq, %w8 {{transpose_b}}
      : {tx}, {t8} -> tensor<{M}x{N}xf32>
  return %y, %z : tensor<{M}x{N}xf16>, tensor<{M}x{N}xf32>
}}
{{-#
  dialect_resources: {{
    builtin: {{
{dense_resource("c4", codes)},
{dense_resource("s4", s4)},
{dense_resource("c8", q8)},
{dense_resource("s8", s8)}
    }}
  }}
#-}}
"""
    open(os.path.join(out, "model.mlir"), "w").write(text)
    np.save(os.path.join(out, "x.npy"),
            rng.standard_normal((M, K)).astype(np.float16))
    print("model.py: %s/model.mlir (W4A16 and W8A8, %dx%dx%d)" % (out, M, N,
                                                                 K))


C_TYPES = {"float": np.float32, "uint16_t": np.uint16, "int32_t": np.int32,
           "int8_t": np.int8, "double": np.float64}


def run(base, out, against=None, reps=20):
    man = json.load(open(base + ".json"))
    lib = ctypes.CDLL(base + ".so")
    blob = np.fromfile(base + ".weights", dtype=np.uint8)
    buf = np.empty(blob.size + 64, np.uint8)  # 64-byte aligned copy
    off = (-buf.ctypes.data) % 64
    aligned = buf[off:off + blob.size]
    aligned[:] = blob
    set_weights = getattr(lib, man["set_weights"])
    set_weights.restype = ctypes.c_int
    rc = set_weights(ctypes.c_void_p(aligned.ctypes.data),
                     ctypes.c_size_t(aligned.size))
    if rc:
        sys.exit("model.py: set_weights returned %d" % rc)
    entry = man["entry_points"][0]
    fn = getattr(lib, entry["symbol"])
    fn.restype = ctypes.c_int
    x = np.load(os.path.join(out, "x.npy")).view(np.uint16)
    outs = [np.full(r["shape"], 0x7E00 if r["c_type"] == "uint16_t"
                    else np.nan, C_TYPES[r["c_type"]])
            for r in entry["results"]]  # poisoned (NaN)
    args = [ctypes.c_void_p(x.ctypes.data)] + \
        [ctypes.c_void_p(o.ctypes.data) for o in outs]

    def call():
        rc = fn(*args)
        if rc:
            err = ""
            if man.get("last_error"):
                le = getattr(lib, man["last_error"])
                le.restype = ctypes.c_char_p
                err = le().decode()
            sys.exit("model.py: %s returned %d %s" % (entry["symbol"], rc,
                                                      err))
    call()
    name = man["target"] + ("_" + man["sm"] if man.get("sm") else "")
    np.savez(os.path.join(out, name + ".npz"), *outs)
    if not against:
        print("model.py: %s outputs in %s/%s.npz" % (name, out, name))
        return
    ref = np.load(against)
    ok = True
    for i, (o, r) in enumerate(zip(outs, [ref[k] for k in ref.files])):
        a = o.view(np.float16).astype(np.float64) if o.dtype == np.uint16 \
            else o.astype(np.float64)
        b = r.view(np.float16).astype(np.float64) if r.dtype == np.uint16 \
            else r.astype(np.float64)
        err = np.abs(a - b).max() / np.abs(b).max()
        good = np.isfinite(a).all() and err < 4e-3
        ok &= good
        print("result %d: rel err vs x86_64 %.2g: %s" % (i, err,
                                                           "ok" if good
                                                           else "WRONG"))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    print("%s: %.3f ms a call (median of %d; with the host copies)"
          % (name, 1e3 * np.median(times), reps))
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["make", "run"])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--against")
    a = ap.parse_args()
    if a.mode == "make":
        make(a.paths[0])
    else:
        run(a.paths[0], a.paths[1], a.against)


if __name__ == "__main__":
    main()
