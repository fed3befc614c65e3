# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Dequantize-matmul fusion of IR from other frontends: a linalg.generic that
# dequantizes constant integer codes (extui/uitofp/subf/mulf, or
# sitofp/mulf) feeding a matmul is raised to lowbit.constant +
# lowbit.qmatmul. The raised model computes exactly the same outputs on the
# CPU (bit for bit), and the IR holds packed codes, scales and zero points.
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s make %t
# RUN: lowbit-opt %t/model.mlir --lowbit-fuse-dequant-matmul -o %t/fused.mlir
# RUN: FileCheck %s --implicit-check-not=uitofp --implicit-check-not=sitofp < %t/fused.mlir
# RUN: lowbit-opt %t/model.mlir --lowbit-reference-to-llvm | %run_cpu > %t/raw.out
# RUN: lowbit-opt %t/fused.mlir --lowbit-reference-to-llvm | %run_cpu > %t/fused.out
# RUN: %python %s check %t | FileCheck --check-prefix=SAME %s
#
# CHECK-LABEL: func.func @net
# CHECK: lowbit.constant {{.*}} : <64x32xui4, per_group<[0 : 32]>, asymmetric>
# CHECK: lowbit.qmatmul
# CHECK: lowbit.constant {{.*}} : <16x32xi8, per_axis<0>, full_range>
# CHECK: lowbit.qmatmul {{.*}} {transpose_b}
# CHECK: lowbit.constant {{.*}} : <32x16xi4, per_axis<0>, full_range, scale = f16>
# CHECK: lowbit.qmatmul
# CHECK-LABEL: func.func @main
# SAME: 128/128 outputs bit-identical

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402

M, K, N, OUT = 4, 64, 32, 16


def dense_ints(a, elem):
    return "dense<%s> : tensor<%s>" % (
        g.dense_nd(np.asarray(a), lambda v: str(int(v))),
        "x".join(map(str, a.shape)) + "x" + elem)


def make(d):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((M, K)).astype(np.float32)
    c1 = rng.integers(0, 16, (K, N))                 # ui4, groups of 32 along K
    s1 = rng.uniform(0.01, 0.1, (K // 32, N)).astype(np.float32)
    z1 = rng.integers(0, 16, (K // 32, N)).astype(np.float32)
    c2 = rng.integers(-128, 128, (OUT, N))             # i8 per output row, [OUT, N]
    c2[0, 0] = -128
    s2 = rng.uniform(0.001, 0.01, (OUT,)).astype(np.float32)
    c3 = rng.integers(-8, 8, (N, OUT))                 # i4 (-8 used: full_range), f16 scales per row
    c3[1, 1] = -8
    s3 = rng.uniform(0.01, 0.1, (N, OUT // 16)).astype(np.float16)
    tmaps = ("[affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, "
             "affine_map<(d0, d1, d2) -> (d0, d1)>]")
    s3txt = "dense<%s> : tensor<%dx%dxf16>" % (
        g.dense_nd(s3.view(np.uint16), lambda v: "0x%04X" % int(v)), N, OUT // 16)
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(f"""
func.func private @printMemrefI32(tensor<*xi32>)
func.func @net(%x: tensor<{M}x{K}xf32>) -> tensor<{M}x{OUT}xf32> {{
  %c1 = arith.constant {dense_ints(c1, "i4")}
  %s1 = arith.constant {g.dense_f32(s1)} : tensor<{K // 32}x{N}xf32>
  %z1 = arith.constant {g.dense_f32(z1)} : tensor<{K // 32}x{N}xf32>
  %e1 = tensor.empty() : tensor<{K}x{N}xf32>
  %w1 = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i floordiv 32, j)>, affine_map<(i, j) -> (i floordiv 32, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%c1, %s1, %z1 : tensor<{K}x{N}xi4>, tensor<{K // 32}x{N}xf32>, tensor<{K // 32}x{N}xf32>) outs(%e1 : tensor<{K}x{N}xf32>) {{
    ^bb0(%q: i4, %s: f32, %z: f32, %o: f32):
      %e = arith.extui %q : i4 to i32
      %f = arith.uitofp %e : i32 to f32
      %d = arith.subf %f, %z : f32
      %m = arith.mulf %d, %s : f32
      linalg.yield %m : f32
  }} -> tensor<{K}x{N}xf32>
  %c0 = arith.constant 0.0 : f32
  %ea = tensor.empty() : tensor<{M}x{N}xf32>
  %za = linalg.fill ins(%c0 : f32) outs(%ea : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%za : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %c2 = arith.constant {dense_ints(c2, "i8")}
  %s2 = arith.constant {g.dense_f32(s2)} : tensor<{OUT}xf32>
  %e2 = tensor.empty() : tensor<{OUT}x{N}xf32>
  %w2 = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%c2, %s2 : tensor<{OUT}x{N}xi8>, tensor<{OUT}xf32>) outs(%e2 : tensor<{OUT}x{N}xf32>) {{
    ^bb0(%q: i8, %s: f32, %o: f32):
      %f = arith.sitofp %q : i8 to f32
      %m = arith.mulf %s, %f : f32
      linalg.yield %m : f32
  }} -> tensor<{OUT}x{N}xf32>
  %eb = tensor.empty() : tensor<{M}x{OUT}xf32>
  %zb = linalg.fill ins(%c0 : f32) outs(%eb : tensor<{M}x{OUT}xf32>) -> tensor<{M}x{OUT}xf32>
  %y = linalg.matmul indexing_maps = {tmaps} ins(%h, %w2 : tensor<{M}x{N}xf32>, tensor<{OUT}x{N}xf32>) outs(%zb : tensor<{M}x{OUT}xf32>) -> tensor<{M}x{OUT}xf32>
  %c3 = arith.constant {dense_ints(c3, "i4")}
  %s3 = arith.constant {s3txt}
  %e3 = tensor.empty() : tensor<{N}x{OUT}xf32>
  %w3 = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j floordiv 16)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%c3, %s3 : tensor<{N}x{OUT}xi4>, tensor<{N}x{OUT // 16}xf16>) outs(%e3 : tensor<{N}x{OUT}xf32>) {{
    ^bb0(%q: i4, %s: f16, %o: f32):
      %e = arith.extsi %q : i4 to i32
      %f = arith.sitofp %e : i32 to f32
      %sf = arith.extf %s : f16 to f32
      %m = arith.mulf %f, %sf : f32
      linalg.yield %m : f32
  }} -> tensor<{N}x{OUT}xf32>
  %y3 = linalg.matmul ins(%h, %w3 : tensor<{M}x{N}xf32>, tensor<{N}x{OUT}xf32>) outs(%zb : tensor<{M}x{OUT}xf32>) -> tensor<{M}x{OUT}xf32>
  %r = arith.addf %y, %y3 : tensor<{M}x{OUT}xf32>
  return %r : tensor<{M}x{OUT}xf32>
}}
func.func @main() {{
  %x = arith.constant {g.dense_f32(x)} : tensor<{M}x{K}xf32>
  %y = call @net(%x) : (tensor<{M}x{K}xf32>) -> tensor<{M}x{OUT}xf32>
  %y2 = call @net(%x) : (tensor<{M}x{K}xf32>) -> tensor<{M}x{OUT}xf32>
  %yy = tensor.concat dim(0) %y, %y2 : (tensor<{M}x{OUT}xf32>, tensor<{M}x{OUT}xf32>) -> tensor<{2 * M}x{OUT}xf32>
  %b = arith.bitcast %yy : tensor<{2 * M}x{OUT}xf32> to tensor<{2 * M}x{OUT}xi32>
  %u = tensor.cast %b : tensor<{2 * M}x{OUT}xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}}
""")


def read(path):
    return g.printed_ints(path)


def check(d):
    a, b = read(os.path.join(d, "raw.out")), read(os.path.join(d, "fused.out"))
    print("%d/%d outputs bit-identical" % (int((a == b).sum()), a.size))


if __name__ == "__main__":
    make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2])
