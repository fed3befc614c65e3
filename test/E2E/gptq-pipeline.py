# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Calibration to GPTQ through the tools: lowbit-calibrate --gram records the
# Gram matrix of a layer's inputs (correlated, with outlier channels);
# lowbit-quantize-weights{method=gptq} uses it; the quantized model runs on
# the CPU. On held-out inputs its output error against fp32 must be well
# below round-to-nearest's with the same 3-bit scheme.
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s make %t
# RUN: lowbit-calibrate %t/model.mlir --entry net --inputs-from %t/inputs.txt --gram -o %t/stats
# RUN: lowbit-opt %t/model.mlir --pass-pipeline="builtin.module(lowbit-quantize-weights{method=gptq calibration=%t/stats scheme='i3, per_group<[in : 32]>'}, func.func(lowbit-fuse-dequant-matmul))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/gptq.out
# RUN: lowbit-opt %t/model.mlir --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i3, per_group<[in : 32]>'}, func.func(lowbit-fuse-dequant-matmul))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/rtn.out
# RUN: %python %s check %t | FileCheck %s
# CHECK: gptq/rtn error ratio {{0\.[0-7][0-9]*}}

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402

T, K, N, CALLS = 32, 128, 64, 32


def data():
    rng = np.random.default_rng(3)
    mix = (rng.standard_normal((K, K)) * 0.3 + np.eye(K)).astype(np.float32)
    scale = np.exp(rng.standard_normal(K) * 0.5).astype(np.float32)
    scale[rng.choice(K, 3, replace=False)] *= 10

    def acts():
        return ((rng.standard_normal((T, K)) @ mix) * scale).astype(np.float32)

    calib = [acts() for _ in range(CALLS)]
    held = acts()
    w = (rng.standard_normal((K, N)) * 0.05).astype(np.float32)
    return calib, held, w


def make(d):
    calib, held, w = data()
    with open(os.path.join(d, "inputs.txt"), "w") as f:
        for i, x in enumerate(calib):
            p = os.path.join(d, "in%d.npy" % i)
            np.save(p, x)
            f.write(p + "\n")
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(f"""
func.func private @printMemrefI32(tensor<*xi32>)
func.func @net(%x: tensor<{T}x{K}xf32>) -> tensor<{T}x{N}xf32> {{
  %w = arith.constant {g.dense_f32(w)} : tensor<{K}x{N}xf32>
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{T}x{N}xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<{T}x{N}xf32>) -> tensor<{T}x{N}xf32>
  %y = linalg.matmul ins(%x, %w : tensor<{T}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%z : tensor<{T}x{N}xf32>) -> tensor<{T}x{N}xf32> loc("layer")
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
    return g.printed_f32(path).reshape(T, N)


def check(d):
    _, held, w = data()
    ref = held.astype(np.float64) @ w.astype(np.float64)
    err = {k: np.linalg.norm(read(os.path.join(d, k + ".out")) - ref)
              / np.linalg.norm(ref) for k in ("gptq", "rtn")}
    print("relative output error: gptq %.4f, rtn %.4f" % (err["gptq"], err["rtn"]))
    print("gptq/rtn error ratio %.3f" % (err["gptq"] / err["rtn"]))


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2])
