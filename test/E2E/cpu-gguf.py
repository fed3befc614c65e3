# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# GGUF weights read as stored by lowbit-lower-to-cpu (docs/CodegenCPU.md):
# q4_0, q5_0, q5_1, q8_0, mxfp4, q2_K, q3_K, q4_K, q5_K, q6_K, tq1_0, tq2_0, iq4_nl and iq4_xs blocks (llama.cpp's bytes, from lowbit's quantizer that
# test/GGUF checks against llama.cpp) times int8 activations quantized per row, or per
# block as llama.cpp's q8_0 / q8_K activations, by lowbit.quantize, and q4_1 blocks times f32 or int8 activations, on odd shapes (K with and without a tail of the
# 128-input chunk, N and M tails, a GEMV over parallel units). The
# reference is numpy: f64 products of the library's dequantized weights and
# activations (the same codes and scales the IR computes, bit for bit;
# test/E2E/gguf-reference.py checks the reference lowering's dequantize
# against the same library); relative error per output row below 1e-5.
#
# REQUIRES: python-bindings, x86-64-v3
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s make %t
# RUN: lowbit-opt %t/model.mlir --lowbit-lower-to-cpu | FileCheck %s --check-prefix=IR
# RUN: lowbit-opt %t/model.mlir --lowbit-cpu-to-llvm | %run_cpu > %t/cpu.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t | FileCheck %s
#
# Without VNNI (x86-64-v3) the same kernels run on AVX2 (vpmaddubsw; q8_0
# with the sign trick) and give the same results.
# RUN: lowbit-opt %t/model.mlir --lowbit-cpu-to-llvm=target-cpu=x86-64-v3 | %run_cpu > %t/cpu3.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t cpu3.out | FileCheck %s
#
# IR-DAG: func.func private @__lowbit_q4_0_i8_1x40x320_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x180xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q4_0_i8_5x9x256_g32_f16
# IR-DAG: func.func private @__lowbit_q4_0_i8_3x17x96_g32_f16
# IR-DAG: func.func private @__lowbit_q5_0_i8_1x40x320_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x220xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q5_0_i8_5x9x256_g32_f16
# IR-DAG: func.func private @__lowbit_q5_0_i8_3x17x96_g32_f16
# IR-DAG: func.func private @__lowbit_q8_0_i8_1x40x320_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x340xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q8_0_i8_4x9x96_g32_f16
# IR-DAG: func.func private @__lowbit_q4_k_i8_1x40x512_g32_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x288xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q4_k_i8_6x9x256_g32_f16
# IR-DAG: func.func private @__lowbit_q6_k_i8_1x40x512_g32_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x420xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q6_k_i8_6x9x256_g32_f16
# IR-DAG: func.func private @__lowbit_tq2_0_i8_1x40x512_g256_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x132xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_tq2_0_i8_5x9x256_g256_f16
# IR-DAG: func.func private @__lowbit_iq4_nl_i8_1x40x320_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x180xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_iq4_nl_i8_5x9x96_g32_f16
# IR-DAG: func.func private @__lowbit_q4_1_f32_1x40x320_g32_f16(%{{.*}}: tensor<1x320xf32>, %{{.*}}: tensor<40x200xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q4_1_f32_5x9x96_g32_f16
# IR-NOT: lowbit.
# IR-DAG: func.func private @__lowbit_q4_0_i8_1x40x320_xg32f16_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1x10xf16>, %{{.*}}: tensor<40x180xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q4_0_i8_2x9x256_xg64bf16_g32_f16
# IR-DAG: func.func private @__lowbit_q4_k_i8_6x9x768_xg256f32_g32_f16(%{{.*}}: tensor<6x768xi8>, %{{.*}}: tensor<6x3xf32>,
# IR-DAG: func.func private @__lowbit_tq2_0_i8_1x40x512_xg256f32_g256_f16
# IR-DAG: func.func private @__lowbit_q4_1_i8_1x40x320_xg32f16_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1x10xf16>, %{{.*}}: tensor<40x200xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q4_1_i8_3x17x256_g32_f16(%{{.*}}: tensor<3x256xi8>, %{{.*}}: tensor<3xf32>,
# IR-DAG: func.func private @__lowbit_q5_k_i8_1x40x512_g32_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x352xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q5_k_i8_6x9x768_xg256f32_g32_f16
# IR-DAG: func.func private @__lowbit_iq4_xs_i8_1x40x512_g32_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x272xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_iq4_xs_i8_6x9x768_xg256f32_g32_f16
# IR-DAG: func.func private @__lowbit_q5_1_i8_1x40x320_xg32f16_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1x10xf16>, %{{.*}}: tensor<40x240xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q2_k_i8_1x40x512_g16_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x168xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q2_k_i8_6x9x768_xg256f32_g16_f16
# IR-DAG: func.func private @__lowbit_q3_k_i8_1x40x512_g16_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x220xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_q3_k_i8_6x9x768_xg256f32_g16_f16
# IR-DAG: func.func private @__lowbit_gguf_mxfp4_i8_1x40x320_g32_f16(%{{.*}}: tensor<1x320xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x170xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# IR-DAG: func.func private @__lowbit_gguf_mxfp4_i8_5x9x96_xg32f16_g32_f16
# IR-DAG: func.func private @__lowbit_tq1_0_i8_1x40x512_g256_f16(%{{.*}}: tensor<1x512xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<40x108xi8>, %{{.*}}: tensor<1x40xf32>) -> tensor<1x40xf32>
# CHECK: 62 shapes, max relative error {{[0-9.e-]+}} (< 1e-5)

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402
import lowbit  # noqa: E402

# (M, N, K, block format, activation blocks): activations per row, or
# (xg, scale type): a scale per block of xg inputs, as llama.cpp's q8_0
# (32, f16) and q8_K (256, f32) activations.
# ROW: q4_1 with int8 activations per row.
Q8_0, Q8_K, ROW = (32, "f16"), (256, "f32"), (0, "f32")
SHAPES = [(1, 40, 320, "q4_0", None), (5, 9, 256, "q4_0", None),
          (3, 17, 96, "q4_0", None),
          (1, 40, 320, "q5_0", None), (5, 9, 256, "q5_0", None),
          (3, 17, 96, "q5_0", None),
          (1, 40, 320, "q8_0", None), (4, 9, 96, "q8_0", None),
          (1, 40, 512, "q4_k", None), (6, 9, 256, "q4_k", None),
          (1, 40, 512, "q6_k", None), (6, 9, 256, "q6_k", None),
          (1, 40, 512, "tq2_0", None), (5, 9, 256, "tq2_0", None),
          (1, 40, 320, "iq4_nl", None), (5, 9, 96, "iq4_nl", None),
          # q4_1 times f32 activations (no activation quantization).
          (1, 40, 320, "q4_1", None), (5, 9, 96, "q4_1", None),
          (1, 3, 32, "q4_1", None),
          # Activations per block (K tails of the 128-input chunk, one
          # block of a row, 64-input blocks over 2 per chunk).
          (1, 40, 320, "q4_0", Q8_0), (3, 17, 96, "q4_0", Q8_0),
          (1, 9, 32, "q4_0", Q8_0), (2, 9, 256, "q4_0", (64, "bf16")),
          (1, 40, 320, "q5_0", Q8_0), (5, 9, 96, "q5_0", Q8_0),
          (1, 40, 320, "q8_0", Q8_0), (4, 9, 96, "q8_0", Q8_0),
          (1, 40, 320, "iq4_nl", Q8_0), (5, 9, 96, "iq4_nl", Q8_0),
          (1, 40, 512, "q4_k", Q8_K), (6, 9, 768, "q4_k", Q8_K),
          (1, 40, 512, "q6_k", Q8_K), (6, 9, 768, "q6_k", Q8_K),
          (1, 40, 512, "q5_k", None), (6, 9, 256, "q5_k", None),
          (1, 40, 512, "q5_k", Q8_K), (6, 9, 768, "q5_k", Q8_K),
          (1, 40, 512, "q2_k", None), (6, 9, 256, "q2_k", None),
          (1, 40, 512, "q2_k", Q8_K), (6, 9, 768, "q2_k", Q8_K),
          (1, 40, 512, "q3_k", None), (6, 9, 256, "q3_k", None),
          (1, 40, 512, "q3_k", Q8_K), (6, 9, 768, "q3_k", Q8_K),
          (1, 40, 320, "gguf_mxfp4", None), (5, 9, 96, "gguf_mxfp4", Q8_0),
          (1, 40, 512, "tq1_0", None), (5, 9, 768, "tq1_0", Q8_K),
          (1, 40, 512, "iq4_xs", None), (5, 9, 256, "iq4_xs", None),
          (1, 40, 512, "iq4_xs", Q8_K), (6, 9, 768, "iq4_xs", Q8_K),
          (1, 40, 512, "tq2_0", Q8_K), (5, 9, 768, "tq2_0", Q8_K),
          # q4_1 times int8 activations (llama.cpp's q8_1 class): the
          # mins meet block sums of x.
          (1, 40, 320, "q4_1", Q8_0), (5, 9, 96, "q4_1", Q8_0),
          (1, 3, 32, "q4_1", Q8_0), (3, 17, 256, "q4_1", ROW),
          # q5_1: q4_1's mins and q5_0's fifth bits.
          (1, 40, 320, "q5_1", Q8_0), (5, 9, 96, "q5_1", Q8_0),
          (3, 17, 256, "q5_1", ROW)]


def data():
    rng = np.random.default_rng(21)
    for m, n, k, fmt, xb in SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        if xb and xb[0]:  # blocks of very different magnitudes, one zero
            x *= np.repeat(rng.uniform(0.01, 10, (m, k // xb[0])), xb[0],
                           axis=1).astype(np.float32)
            x[0, :xb[0]] = 0
        w = (rng.standard_normal((n, k)) * 0.1).astype(np.float32)
        w[0, :32] = 0  # an all-zero block
        yield m, n, k, fmt, xb, x, w


def make(d):
    body, funcs = [], []
    for i, (m, n, k, fmt, xb, x, w) in enumerate(data()):
        codes = np.asarray(lowbit.quantize(w, fmt).codes, np.uint8)
        qt = "!lowbit.qtensor<%dx%dxgguf<%s>>" % (
            n, k, fmt.replace("gguf_", ""))
        xt = "!lowbit.qtensor<%dx%dxi8, per_axis<0>>" % (m, k)
        if xb and xb[0]:
            xt = "!lowbit.qtensor<%dx%dxi8, per_group<[1 : %d]>%s>" % (
                m, k, xb[0], "" if xb[1] == "f32" else ", scale = " + xb[1])
        rb = codes.shape[1]
        if fmt == "q4_1" and not xb:
            funcs.append(f"""
func.func @f{i}(%x: tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32> {{
  %w = lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{rb}xi8>) : {qt}
  %y = lowbit.qmatmul %x, %w {{transpose_b}} : tensor<{m}x{k}xf32>, {qt} -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}""")
        else:
            funcs.append(f"""
func.func @f{i}(%x: tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32> {{
  %w = lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{rb}xi8>) : {qt}
  %xq = lowbit.quantize %x : tensor<{m}x{k}xf32> -> {xt}
  %y = lowbit.qmatmul %xq, %w {{transpose_b}} : {xt}, {qt} -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}""")
        body.append(f"""
  %x{i} = arith.constant {g.dense_f32(x)} : tensor<{m}x{k}xf32>
  %y{i} = call @f{i}(%x{i}) : (tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32>
{g.print_f32_bits(i, f"%y{i}", (m, n))}""")
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(g.PRINT_DECL + "\n")
        f.write("\n".join(funcs))
        f.write("\nfunc.func @main() {" + "".join(body) + "\n  return\n}\n")


def check(d, out="cpu.out"):
    outs = g.printed_f32_arrays(os.path.join(d, out))
    assert len(outs) == len(SHAPES), len(outs)
    worst = 0.0
    for (m, n, k, fmt, xb, x, w), y in zip(data(), outs):
        y = y.reshape(m, n)
        wd = np.asarray(lowbit.quantize(w, fmt).dequantize(), np.float64)
        xd = x.astype(np.float64) if fmt == "q4_1" and not xb else np.asarray(
            lowbit.quantize_scheme(x, "i8", blocks=(1, xb[0] if xb and xb[0]
                                                    else k),
                                   scale=xb[1] if xb else "f32").dequantize(),
            np.float64)
        ref = xd @ wd.T
        err = g.row_rel_err(ref, y)
        worst = max(worst, float(err.max()))
    print("%d shapes, max relative error %.3g (%s 1e-5)"
          % (len(SHAPES), worst, "<" if worst < 1e-5 else ">="))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(*sys.argv[2:])
