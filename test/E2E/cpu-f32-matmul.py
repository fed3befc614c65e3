# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t | FileCheck %s
# RUN: lowbit-opt %t/f32.mlir --lowbit-lower-to-cpu | FileCheck %s --check-prefix=IR
#
# fp32 linalg.matmul with transposed-B maps (y[m, n] += x[m, k] * w[n, k],
# the form the Llama importer emits) becomes lowbit-lower-to-cpu's F32Kernel
# (FMA over 16 lanes, 4 chains per channel for GEMV) instead of the
# reference lowering's scalar loops. Shapes with K tails (not a multiple of
# 16 or 64), N tails of the parallel units, GEMM tiles with M tails, and a
# destination that is not zero (linalg.matmul accumulates into it, here an
# argument, so it is updated in place); every
# row within 1e-5 of float64 numpy (relative to the row's magnitude).
#
# IR: call @__lowbit_f32_1x37x70(
# IR: call @__lowbit_f32_1x300x4096(
# IR: call @__lowbit_f32_3x37x70(
# IR: call @__lowbit_f32_9x130x200(
# IR-NOT: linalg.matmul
# IR: func.func private @__lowbit_f32_1x37x70(
# IR: vector.fma
# CHECK: 1x37x70: ok
# CHECK: 1x300x4096: ok
# CHECK: 3x37x70: ok
# CHECK: 9x130x200: ok

import os
import sys

import numpy as np

import lowbit

SHAPES = [(1, 37, 70), (1, 300, 4096), (3, 37, 70), (9, 130, 200)]


def main():
    d = sys.argv[1]
    rng = np.random.default_rng(3)
    funcs, data = [], []
    for m, n, k in SHAPES:
        w = rng.standard_normal((n, k)).astype(np.float32)
        name = "mm_%dx%dx%d" % (m, n, k)
        # The weights as a dense_resource blob (hex), like the importer's.
        blob = "0x04000000" + w.tobytes().hex()
        funcs.append((name, m, n, k, blob))
        data.append((w, rng.standard_normal((m, k)).astype(np.float32),
                     rng.standard_normal((m, n)).astype(np.float32)))
    text = ""
    for name, m, n, k, _ in funcs:
        text += f"""func.func @{name}(%x: tensor<{m}x{k}xf32>, %c: tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %w = arith.constant dense_resource<{name}_w> : tensor<{n}x{k}xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] ins(%x, %w : tensor<{m}x{k}xf32>, tensor<{n}x{k}xf32>) outs(%c : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}
"""
    text += "{-#\n  dialect_resources: {\n    builtin: {\n"
    text += ",\n".join('      %s_w: "%s"' % (name, blob)
                       for name, _, _, _, blob in funcs)
    text += "\n    }\n  }\n#-}\n"
    src = os.path.join(d, "f32.mlir")
    open(src, "w").write(text)
    mod = lowbit.compile(src, output=os.path.join(d, "f32"), prefix="f32")
    for (name, m, n, k, _), (w, x, c) in zip(funcs, data):
        ref = c.astype(np.float64) + x.astype(np.float64) @ \
            w.astype(np.float64).T
        # The destination is the argument, updated in place (a tied
        # result: the C entry point writes c).
        y = getattr(mod, name)(x, c)
        assert y is c
        scale = np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64).T
        err = (np.abs(y - ref) / scale).max()
        assert err < 1e-5, (name, err)
        print("%dx%dx%d: %s" % (m, n, k, "ok"))


if __name__ == "__main__":
    main()
