# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# SmoothQuant and LLM.int8() outlier splitting end to end: calibrate,
# rewrite, run on the CPU.
# In f32 the smoothed model equals the original within 1e-5 (relative);
# with W8A8 (per-channel weights, per-token activations) after it, the
# error against f32 is well below W8A8 without it, on inputs with outlier
# channels. The model has a norm-like producer (its weight absorbs 1/s)
# feeding two sites, and a site fed by the argument (explicit division).
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s make %t
# RUN: lowbit-calibrate %t/model.mlir --entry net --inputs-from %t/inputs.txt -o %t/stats
# RUN: lowbit-opt %t/model.mlir --lowbit-smooth-activations=calibration=%t/stats -o %t/smooth.mlir
# RUN: FileCheck --check-prefix=IR %s < %t/smooth.mlir
# RUN: lowbit-opt %t/model.mlir --lowbit-reference-to-llvm | %run_cpu > %t/fp32.out
# RUN: lowbit-opt %t/smooth.mlir --lowbit-reference-to-llvm | %run_cpu > %t/smooth.out
# RUN: lowbit-opt %t/model.mlir --pass-pipeline="builtin.module(func.func(lowbit-quantize-matmuls{weight-scheme='i8, per_axis<out>' activation-scheme='i8, per_axis<out>'}))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/w8a8.out
# RUN: lowbit-opt %t/smooth.mlir --pass-pipeline="builtin.module(func.func(lowbit-quantize-matmuls{weight-scheme='i8, per_axis<out>' activation-scheme='i8, per_axis<out>'}))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/sq-w8a8.out
# RUN: lowbit-opt %t/model.mlir --lowbit-split-outliers="calibration=%t/stats" -o %t/split.mlir
# RUN: FileCheck --check-prefix=SPLIT %s < %t/split.mlir
# RUN: lowbit-opt %t/split.mlir --lowbit-reference-to-llvm | %run_cpu > %t/int8-static.out
# RUN: lowbit-opt %t/model.mlir --lowbit-split-outliers="mode=dynamic threshold=6.0" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/int8-dynamic.out
# RUN: %python %s check %t | FileCheck %s
#
# The norm's weight and both weights of its sites are rewritten; the third
# site gets an explicit x / s, right after x's definition (the function
# start).
# IR-LABEL: func.func @net
# IR: arith.divf
# IR: arith.mulf
# IR: arith.mulf
# IR-COUNT-3: linalg.matmul
#
# LLM.int8() static: the outlier columns are gathered (tensor.concat of
# slices) for an f32 matmul, the rest goes through an int8 qmatmul.
# SPLIT-LABEL: func.func @net
# SPLIT: tensor.extract_slice
# SPLIT: tensor.concat
# SPLIT: linalg.matmul
# SPLIT: lowbit.quantize
# SPLIT: lowbit.qmatmul
# SPLIT: arith.addf
#
# CHECK: smoothed vs original: {{[0-9.e-]+}} (< 1e-5)
# CHECK: W8A8 error vs f32: plain {{[0-9.]+}}, smoothquant {{[0-9.]+}} (ratio 0.{{[0-5][0-9]*}})
# CHECK: LLM.int8() static: {{[0-9.]+}} (ratio 0.{{[0-5][0-9]*}}), dynamic: {{[0-9.]+}} (ratio 0.{{[0-5][0-9]*}})

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402

T, K, N, CALLS = 16, 64, 32, 8


def data():
    rng = np.random.default_rng(21)
    outliers = rng.choice(K, 4, replace=False)

    def acts():
        x = rng.standard_normal((T, K)).astype(np.float32)
        x[:, outliers] *= 40.0
        return x

    calib = [acts() for _ in range(CALLS)]
    held = acts()
    gamma = rng.uniform(0.5, 1.5, K).astype(np.float32)
    wq = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
    wk = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
    wv = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
    return calib, held, gamma, wq, wk, wv


def make(d):
    calib, held, gamma, wq, wk, wv = data()
    with open(os.path.join(d, "inputs.txt"), "w") as f:
        for i, x in enumerate(calib):
            p = os.path.join(d, "in%d.npy" % i)
            np.save(p, x)
            f.write(p + "\n")
    mm = ("linalg.matmul ins(%{a}, %{w} : tensor<{T}x{K}xf32>, tensor<{K}x{N}xf32>) "
          "outs(%z : tensor<{T}x{N}xf32>) -> tensor<{T}x{N}xf32>")
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(f"""
func.func private @printMemrefI32(tensor<*xi32>)
func.func @net(%x: tensor<{T}x{K}xf32>) -> tensor<{T}x{N}xf32> {{
  %gamma = arith.constant {g.dense_f32(gamma)} : tensor<{K}xf32>
  %half = arith.constant 0.5 : f32
  %en = tensor.empty() : tensor<{T}x{K}xf32>
  %n = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %gamma : tensor<{T}x{K}xf32>, tensor<{K}xf32>) outs(%en : tensor<{T}x{K}xf32>) {{
    ^bb0(%a: f32, %gm: f32, %o: f32):
      %s = arith.mulf %a, %half : f32
      %r = arith.mulf %s, %gm : f32
      linalg.yield %r : f32
  }} -> tensor<{T}x{K}xf32>
  %wq = arith.constant {g.dense_f32(wq)} : tensor<{K}x{N}xf32>
  %wk = arith.constant {g.dense_f32(wk)} : tensor<{K}x{N}xf32>
  %wv = arith.constant {g.dense_f32(wv)} : tensor<{K}x{N}xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{T}x{N}xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<{T}x{N}xf32>) -> tensor<{T}x{N}xf32>
  %q = {mm.format(a="n", w="wq", T=T, K=K, N=N)} loc("q")
  %k = {mm.format(a="n", w="wk", T=T, K=K, N=N)} loc("k")
  %v = {mm.format(a="x", w="wv", T=T, K=K, N=N)} loc("v")
  %s1 = arith.addf %q, %k : tensor<{T}x{N}xf32>
  %y = arith.addf %s1, %v : tensor<{T}x{N}xf32>
  return %y : tensor<{T}x{N}xf32>
}}
func.func @main() {{
  %x = arith.constant {g.dense_f32(held)} : tensor<{T}x{K}xf32>
  %y = call @net(%x) : (tensor<{T}x{K}xf32>) -> tensor<{T}x{N}xf32>
  %b = arith.bitcast %y : tensor<{T}x{N}xf32> to tensor<{T}x{N}xi32>
  %u = tensor.cast %b : tensor<{T}x{N}xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}}
""")


def read(path):
    return g.printed_f32(path).reshape(T, N).astype(np.float64)


def check(d):
    y = {k: read(os.path.join(d, k + ".out"))
         for k in ("fp32", "smooth", "w8a8", "sq-w8a8", "int8-static",
                   "int8-dynamic")}

    def rel(a):
        return np.linalg.norm(a - y["fp32"]) / np.linalg.norm(y["fp32"])

    same = rel(y["smooth"])
    print("smoothed vs original: %.3g (%s 1e-5)" % (same, "<" if same < 1e-5 else ">="))
    plain, sq = rel(y["w8a8"]), rel(y["sq-w8a8"])
    print("W8A8 error vs f32: plain %.5f, smoothquant %.5f (ratio %.3f)"
          % (plain, sq, sq / plain))
    st, dy = rel(y["int8-static"]), rel(y["int8-dynamic"])
    print("LLM.int8() static: %.5f (ratio %.3f), dynamic: %.5f (ratio %.3f)"
          % (st, st / plain, dy, dy / plain))


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2])
