# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Randomised Hadamard rotation (QuaRot) end to end on the CPU: the rotated
# model equals the original within 1e-5 (relative), and quantizing after
# the rotation loses less than before it on outlier-heavy activations
# (W8A8 with per-tensor activation scales) and heavy-tailed weights (4-bit
# RTN). Layer widths 64 (Sylvester) and 40 (Paley, order 20, doubled).
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s make %t
# RUN: lowbit-opt %t/model.mlir --lowbit-apply-hadamard=seed=3 -o %t/rot.mlir
# RUN: FileCheck --check-prefix=IR %s < %t/rot.mlir
# RUN: lowbit-opt %t/model.mlir --lowbit-reference-to-llvm | %run_cpu > %t/fp32.out
# RUN: lowbit-opt %t/rot.mlir --lowbit-reference-to-llvm | %run_cpu > %t/rot.out
# RUN: lowbit-opt %t/model.mlir --lowbit-quantize-matmuls="weight-scheme={i8, per_axis<out>} activation-scheme={i8, per_tensor}" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/w8a8.out
# RUN: lowbit-opt %t/rot.mlir --lowbit-quantize-matmuls="weight-scheme={i8, per_axis<out>} activation-scheme={i8, per_tensor}" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/rot-w8a8.out
# RUN: lowbit-opt %t/model.mlir --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_axis<out>'}, func.func(lowbit-fuse-dequant-matmul))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/w4.out
# RUN: lowbit-opt %t/rot.mlir --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_axis<out>'}, func.func(lowbit-fuse-dequant-matmul))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t/rot-w4.out
# RUN: %python %s check %t | FileCheck %s
#
# IR-LABEL: func.func @net
# IR: linalg.matmul {lowbit.not_a_site} ins(%arg0, %{{.*}} : tensor<16x64xf32>, tensor<64x64xf32>)
# IR: linalg.matmul
# IR: linalg.matmul {lowbit.not_a_site} ins(%{{.*}}, %{{.*}} : tensor<16x40xf32>, tensor<40x40xf32>)
# IR: linalg.matmul
#
# CHECK: rotated vs original: {{[0-9.e-]+}} (< 1e-5)
# CHECK: W8A8 per-tensor: {{[0-9.]+}} -> {{[0-9.]+}} (ratio 0.{{[0-6][0-9]*}})
# CHECK: W4 RTN per-channel: {{[0-9.]+}} -> {{[0-9.]+}} (ratio 0.{{[0-8][0-9]*}})

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402

T, K, H, OUT = 16, 64, 40, 24


def make(d):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, K)).astype(np.float32)
    x[:, [3, 17]] *= 50.0
    w1 = (rng.standard_t(3, (K, H)) * 0.05).astype(np.float32)
    w2 = (rng.standard_t(3, (H, OUT)) * 0.05).astype(np.float32)
    mm = ("linalg.matmul ins(%{a}, %{w} : tensor<{T}x{k}xf32>, tensor<{k}x{n}xf32>) "
          "outs(%{z} : tensor<{T}x{n}xf32>) -> tensor<{T}x{n}xf32>")
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(f"""
func.func private @printMemrefI32(tensor<*xi32>)
func.func @net(%x: tensor<{T}x{K}xf32>) -> tensor<{T}x{OUT}xf32> {{
  %w1 = arith.constant {g.dense_f32(w1)} : tensor<{K}x{H}xf32>
  %w2 = arith.constant {g.dense_f32(w2)} : tensor<{H}x{OUT}xf32>
  %c0 = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<{T}x{H}xf32>
  %z1 = linalg.fill ins(%c0 : f32) outs(%e1 : tensor<{T}x{H}xf32>) -> tensor<{T}x{H}xf32>
  %h = {mm.format(a="x", w="w1", z="z1", T=T, k=K, n=H)}
  %e2 = tensor.empty() : tensor<{T}x{OUT}xf32>
  %z2 = linalg.fill ins(%c0 : f32) outs(%e2 : tensor<{T}x{OUT}xf32>) -> tensor<{T}x{OUT}xf32>
  %y = {mm.format(a="h", w="w2", z="z2", T=T, k=H, n=OUT)}
  return %y : tensor<{T}x{OUT}xf32>
}}
func.func @main() {{
  %x = arith.constant {g.dense_f32(x)} : tensor<{T}x{K}xf32>
  %y = call @net(%x) : (tensor<{T}x{K}xf32>) -> tensor<{T}x{OUT}xf32>
  %b = arith.bitcast %y : tensor<{T}x{OUT}xf32> to tensor<{T}x{OUT}xi32>
  %u = tensor.cast %b : tensor<{T}x{OUT}xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}}
""")


def read(path):
    return g.printed_f32(path).astype(np.float64)


def check(d):
    y = {k: read(os.path.join(d, k + ".out"))
         for k in ("fp32", "rot", "w8a8", "rot-w8a8", "w4", "rot-w4")}

    def rel(a):
        return np.linalg.norm(a - y["fp32"]) / np.linalg.norm(y["fp32"])

    same = rel(y["rot"])
    print("rotated vs original: %.3g (%s 1e-5)" % (same, "<" if same < 1e-5 else ">="))
    for label, a, b in (("W8A8 per-tensor", "w8a8", "rot-w8a8"),
                        ("W4 RTN per-channel", "w4", "rot-w4")):
        print("%s: %.5f -> %.5f (ratio %.3f)"
              % (label, rel(y[a]), rel(y[b]), rel(y[b]) / rel(y[a])))


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2])
