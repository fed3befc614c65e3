# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Inputs for lowbit-calibrate.test and the check of its statistics against
numpy (argv: make DIR | check DIR)."""
import json
import os
import sys

import numpy as np

M, K, N = 6, 64, 32


def model_inputs():
    rng = np.random.default_rng(5)
    xs = []
    for i in range(4):
        x = rng.standard_normal((M, K)).astype(np.float32)
        x[:, 9] *= 25.0  # an outlier channel
        xs.append(x)
    w = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
    return xs, w


def make(d):
    xs, w = model_inputs()
    for i, x in enumerate(xs):
        np.save(os.path.join(d, "in%d.npy" % i), x)
    dense = "dense<[%s]>" % ", ".join(
        "[%s]" % ", ".join("0x%08X" % v for v in row.view(np.uint32)) for row in w)
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(f"""
func.func @net(%x: tensor<{M}x{K}xf32>) -> tensor<{M}x{N}xf32> {{
  %w = arith.constant {dense} : tensor<{K}x{N}xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{M}x{N}xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %h = linalg.matmul ins(%x, %w : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%z : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32> loc("proj/in")
  %r = math.tanh %h : tensor<{M}x{N}xf32>
  %w2 = arith.constant dense<0.5> : tensor<{N}x{N}xf32>
  %y = linalg.matmul ins(%r, %w2 : tensor<{M}x{N}xf32>, tensor<{N}x{N}xf32>) outs(%z : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32> loc("proj/out")
  return %y : tensor<{M}x{N}xf32>
}}
""")


def check(d):
    xs, w = model_inputs()
    x = np.concatenate(xs)
    r = np.tanh(x.astype(np.float64) @ w.astype(np.float64)).astype(np.float32)
    index = json.load(open(os.path.join(d, "index.json")))
    sites = {s["name"]: s for s in index["sites"]}
    assert list(sites) == ["proj/in", "proj/out"], sites
    s = sites["proj/in"]
    assert s["file"] == "proj_in" and s["channels"] == K and s["tokens"] == 4 * M
    assert s["non_finite"] == 0 and s["gram"]

    def load(n):
        return np.load(os.path.join(d, "proj_in." + n + ".npy"))

    # Exact: max/min reductions; sums and the Gram matrix to f32 rounding.
    assert np.array_equal(load("absmax"), np.abs(x).max(0))
    assert np.array_equal(load("min"), x.min(0))
    assert np.array_equal(load("max"), x.max(0))
    assert np.allclose(load("meanabs"), np.abs(x).mean(0), rtol=1e-6)
    g = x.T.astype(np.float64) @ x
    assert np.abs(load("gram") - g).max() <= 1e-5 * np.abs(g).max()
    hist = load("hist")
    assert hist.shape == (2048,) and hist.sum() == x.size
    assert s["hist_range"] == 2.0 ** (np.floor(np.log2(np.abs(x).max())) + 1)
    # The second site sees the first layer's output (through tanh).
    t = sites["proj/out"]
    a = np.load(os.path.join(d, "proj_out.absmax.npy"))
    assert t["channels"] == N and np.allclose(a, np.abs(r).max(0), rtol=1e-5)
    print("calibration statistics match numpy")


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2])
