# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# lowbit-quantize-weights + lowbit-fuse-dequant-matmul, run on the CPU: the
# model's output equals, bit for bit, a numpy reference that multiplies by
# the library's fake-quantized weights (lowbit.quantize_scheme) with the
# same sequential f32 accumulation as the reference lowering.
#
# REQUIRES: python-bindings
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s emit %t.mlir
# RUN: lowbit-opt %t.mlir --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='i4, per_group<[in : 32]>, asymmetric' policy='lm_head=i8, per_axis<out>' progress=1}, func.func(lowbit-fuse-dequant-matmul))" -o %t.q.mlir 2> %t.progress
# RUN: FileCheck --check-prefix=PROGRESS %s < %t.progress
# PROGRESS: lowbit-quantize-weights: 1 layers.0.up (rtn, 8192 weights)
# PROGRESS: lowbit-quantize-weights: 2 lm_head (rtn, 4096 weights)
# RUN: FileCheck --check-prefix=IR %s < %t.q.mlir
# RUN: lowbit-opt %t.q.mlir --lowbit-reference-to-llvm | %run_cpu > %t.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t.out int4
# RUN: lowbit-opt %t.mlir --pass-pipeline="builtin.module(lowbit-quantize-weights{scheme='f4E2M1FN, per_group<[in : 32]>, scale = f8E8M0FNU' policy='lm_head=keep'}, func.func(lowbit-fuse-dequant-matmul))" | lowbit-opt --lowbit-reference-to-llvm | %run_cpu > %t.mx.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t.mx.out mxfp4
#
# IR: lowbit.constant codes(dense_resource<layers.0.up> : tensor<64x64xi8>)
# IR: lowbit.constant codes(dense_resource<lm_head> : tensor<32x128xi8>)
# IR: lowbit.qmatmul {{.*}} -> tensor<8x128xf32>
# IR: lowbit.qmatmul {{.*}} {transpose_b} {{.*}} -> tensor<8x32xf32>

import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402
import lowbit  # noqa: E402

M, K, N, OUT = 8, 64, 128, 32


def model():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((M, K)).astype(np.float32)
    x[:, 3] *= 20.0  # an outlier input channel
    w1 = (rng.standard_t(4, (K, N)) * 0.1).astype(np.float32)
    w2 = (rng.standard_t(4, (OUT, N)) * 0.1).astype(np.float32)  # [out, in]
    return x, w1, w2


def emit(path):
    x, w1, w2 = model()
    maps = ("[affine_map<(d0, d1, d2) -> (d0, d2)>, "
            "affine_map<(d0, d1, d2) -> (d1, d2)>, "
            "affine_map<(d0, d1, d2) -> (d0, d1)>]")
    text = f"""
func.func private @printMemrefI32(tensor<*xi32>)
func.func @mlp(%x: tensor<{M}x{K}xf32>) -> tensor<{M}x{OUT}xf32> {{
  %w1 = arith.constant {g.dense_f32(w1)} : tensor<{K}x{N}xf32>
  %w2 = arith.constant {g.dense_f32(w2)} : tensor<{OUT}x{N}xf32>
  %c0 = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<{M}x{N}xf32>
  %z1 = linalg.fill ins(%c0 : f32) outs(%e1 : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%z1 : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32> loc("layers.0.up")
  %e2 = tensor.empty() : tensor<{M}x{OUT}xf32>
  %z2 = linalg.fill ins(%c0 : f32) outs(%e2 : tensor<{M}x{OUT}xf32>) -> tensor<{M}x{OUT}xf32>
  %y = linalg.matmul indexing_maps = {maps} ins(%h, %w2 : tensor<{M}x{N}xf32>, tensor<{OUT}x{N}xf32>) outs(%z2 : tensor<{M}x{OUT}xf32>) -> tensor<{M}x{OUT}xf32> loc("lm_head")
  return %y : tensor<{M}x{OUT}xf32>
}}
func.func @main() {{
  %x = arith.constant {g.dense_f32(x)} : tensor<{M}x{K}xf32>
  %y = call @mlp(%x) : (tensor<{M}x{K}xf32>) -> tensor<{M}x{OUT}xf32>
  %b = arith.bitcast %y : tensor<{M}x{OUT}xf32> to tensor<{M}x{OUT}xi32>
  %u = tensor.cast %b : tensor<{M}x{OUT}xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}}
"""
    with open(path, "w") as f:
        f.write(text)


def seq_matmul(a, b):
    """a @ b in f32 with k accumulated in order, no FMA (the reference
    lowering's loop)."""
    acc = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for k in range(a.shape[1]):
        acc = acc + a[:, k:k + 1] * b[k:k + 1, :]
    return acc


def check(out_path, config):
    x, w1, w2 = model()
    if config == "int4":
        q1 = lowbit.quantize_scheme(w1, "ui4", blocks=(32, 1), asymmetric=True)
        q2 = lowbit.quantize_scheme(w2, "i8", blocks=(1, N))
        w2q = q2.dequantize()
    else:
        q1 = lowbit.quantize_scheme(w1, "f4e2m1fn", blocks=(32, 1),
                                    scale="f8e8m0fnu")
        w2q = w2
    want = seq_matmul(seq_matmul(x, q1.dequantize()), w2q.T.copy())
    text = open(out_path).read()
    m = re.search(r"data =\s*\n(.*)", text, re.S)
    got = np.array([int(v) for v in re.findall(r"-?\d+", m.group(1))],
                   np.int64).astype(np.int32).view(np.float32).reshape(M, OUT)
    fp32 = seq_matmul(seq_matmul(x, w1), w2.T.copy())
    err = np.linalg.norm(got - fp32) / np.linalg.norm(fp32)
    same = got.view(np.int32) == want.view(np.int32)
    print("%s: %d/%d outputs bit-identical to the reference; "
          "relative error vs fp32 %.4f" % (config, same.sum(), same.size, err))
    if not same.all() or not err > 1e-3:
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "emit":
        emit(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
