# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# The reference lowering of the GGUF block formats (docs/Spec.md, LB-L1),
# run through `lowbit-reference-to-llvm` (lowbit-lower-to-linalg only: no
# CPU kernel is involved) and mlir-runner:
#  - dequantize of random blocks of every format, with edge scales (f16
#    subnormals, +-0, negatives, the largest finite, +-Inf, quiet and
#    signalling NaNs with payloads; for mxfp4 the E8M0 bytes 0, 1, 2, 254,
#    255), compared bit for bit (int32 patterns, NaN payloads included) with
#    the numerics library's dequantizer (ggufDequantizeRow, compiled from
#    lib/Numerics here), with gguf-py's numpy dequantizer and, where built,
#    llama.cpp's dequantize_row_* (ggml-ref-quantize); an f16-expressed and a
#    rank-3 qtensor as well;
#  - qmatmul of f32 activations and GGUF weights (lowbit's quantizer) of
#    every format against f64 numpy on the library's dequantized weights.
#    The lowering sums the K products in f32, one rounding per product and
#    per sum, so |y - ref| <= gamma(K + 1) * sum_k |x_k w_k| with
#    gamma(n) = n u / (1 - n u), u = 2^-24 (Higham, Accuracy and Stability
#    of Numerical Algorithms, 3.5): the check uses that bound per element.
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s make %t
# RUN: %cxx -std=c++17 -I%lowbit_src/include %t/deq.cpp %lowbit_obj/lib/libLowbitNumerics.a -o %t/deq
# RUN: lowbit-opt %t/model.mlir --lowbit-reference-to-llvm | %run_cpu > %t/ref.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t %t/deq | FileCheck %s
# RUN: %if llama-cpp %{ env PYTHONPATH=%lowbit_obj/python %python %s llama %t | FileCheck %s --check-prefix=LLAMA %}
#
# The CPU pipeline lowers what its kernels do not cover (every dequantize,
# every qmatmul here but q4_1's, f32 activations) through the same
# reference lowering: the same bits, and q4_1's kernel within the bound.
# RUN: %if x86-64-v3 %{ lowbit-opt %t/model.mlir --lowbit-cpu-to-llvm | %run_cpu > %t/cpu.out %}
# RUN: %if x86-64-v3 %{ env PYTHONPATH=%lowbit_obj/python %python %s cpu %t | FileCheck %s --check-prefix=CPU %}
#
# CHECK-COUNT-15: {{^}}{{[a-z0-9_]+}}: {{[0-9]+}} values bit-identical to the library, gguf-py{{$}}
# CHECK-NEXT: q4_k f16 expressed: 3072 values bit-identical to the library
# CHECK-NEXT: q6_k rank 3: 1536 values bit-identical to the library
# CHECK-NEXT: qmatmul: 17 products within the f32 summation bound
# LLAMA: 15 formats bit-identical to llama.cpp
# CPU: lowbit-cpu-to-llvm: 17 dequantizes and 16 qmatmuls bit-identical to the reference lowering, 17 qmatmuls within the bound

import os
import re
import subprocess
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402

# dialect name: (numerics GGUFKind, lowbit.quantize name, gguf-py type,
# byte offsets of the block's f16 fields).
KINDS = {
    "q4_0": (1, "q4_0", T.Q4_0, [0]),
    "q4_1": (2, "q4_1", T.Q4_1, [0, 2]),
    "q5_0": (3, "q5_0", T.Q5_0, [0]),
    "q5_1": (4, "q5_1", T.Q5_1, [0, 2]),
    "q8_0": (5, "q8_0", T.Q8_0, [0]),
    "q2_k": (6, "q2_k", T.Q2_K, [80, 82]),
    "q3_k": (7, "q3_k", T.Q3_K, [108]),
    "q4_k": (8, "q4_k", T.Q4_K, [0, 2]),
    "q5_k": (9, "q5_k", T.Q5_K, [0, 2]),
    "q6_k": (10, "q6_k", T.Q6_K, [208]),
    "mxfp4": (11, "gguf_mxfp4", T.MXFP4, []),
    "iq4_nl": (12, "iq4_nl", T.IQ4_NL, [0]),
    "iq4_xs": (13, "iq4_xs", T.IQ4_XS, [0]),
    "tq1_0": (14, "tq1_0", T.TQ1_0, [52]),
    "tq2_0": (15, "tq2_0", T.TQ2_0, [64]),
}
ROWS, BLOCKS = 24, 2
# f16 bit patterns: +-0, subnormals (smallest, largest, negative), the
# smallest normal, +-largest finite, +-Inf, NaNs (quiet, signalling, with
# payloads, negative).
F16_EDGES = [0x0000, 0x8000, 0x0001, 0x03FF, 0x8001, 0x83FF, 0x0400, 0x7BFF,
             0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x7D55, 0xFE00, 0xFFFF]
E8M0_EDGES = [0, 1, 2, 3, 126, 127, 128, 253, 254, 255]
# (lowbit.quantize name, M, N, K, transpose_b) of the qmatmuls.
MATMULS = [(KINDS[k][1], 3, 5, 512, True) for k in KINDS] + [
    ("q4_0", 2, 64, 96, False), ("q4_k", 1, 256, 64, False)]

# ggufDequantizeRow of the numerics library on raw blocks: deq KIND COLS
# IN.bin OUT.bin.
DEQ_CPP = r"""
#include "lowbit/Numerics/Numerics.h"
#include <cstdio>
#include <cstdlib>
#include <vector>
int main(int argc, char **argv) {
  using namespace lowbit::numerics;
  if (argc != 5)
    return 2;
  auto kind = GGUFKind(std::atoi(argv[1]));
  long cols = std::atol(argv[2]);
  long rowBytes = cols / ggufBlockSize(kind) * ggufBlockBytes(kind);
  FILE *in = std::fopen(argv[3], "rb");
  std::vector<unsigned char> bytes;
  for (int c; in && (c = std::fgetc(in)) != EOF;)
    bytes.push_back((unsigned char)c);
  long rows = long(bytes.size()) / rowBytes;
  std::vector<float> out(rows * cols);
  for (long r = 0; r < rows; ++r)
    ggufDequantizeRow(kind, bytes.data() + r * rowBytes, out.data() + r * cols,
                      cols);
  FILE *o = std::fopen(argv[4], "wb");
  return o && std::fwrite(out.data(), 4, out.size(), o) == out.size() ? 0 : 1;
}
"""


def geometry(name):
    block_elems, block_bytes = quants.GGML_QUANT_SIZES[KINDS[name][2]]
    return block_elems, block_bytes


def random_blocks(name, rng, rows=ROWS, blocks=BLOCKS):
    """[rows, blocks * bytes] random block bytes whose scale fields mix
    ordinary values, edge patterns and random bit patterns."""
    elems, nbytes = geometry(name)
    b = rng.integers(0, 256, (rows, blocks, nbytes), dtype=np.uint8)
    for r in range(rows):
        for k in range(blocks):
            if name == "mxfp4":
                if rng.random() < 0.5:
                    b[r, k, 0] = E8M0_EDGES[rng.integers(len(E8M0_EDGES))]
                else:  # ordinary scales 2^-20 .. 2^10
                    b[r, k, 0] = rng.integers(107, 138)
                continue
            for off in KINDS[name][3]:
                u = rng.random()
                if u < 0.4:
                    h = np.float16(rng.uniform(-1, 1) * 2.0 ** rng.integers(
                        -14, 4)).view(np.uint16)
                elif u < 0.7:
                    h = F16_EDGES[rng.integers(len(F16_EDGES))]
                else:
                    h = rng.integers(0, 1 << 16)
                b[r, k, off], b[r, k, off + 1] = int(h) & 0xFF, int(h) >> 8
    return b.reshape(rows, blocks * nbytes)


def cases():
    """(label, dialect name, expressed type, qtensor shape, block bytes) of
    every dequantize."""
    rng = np.random.default_rng(7)
    out = []
    for name in KINDS:
        elems, _ = geometry(name)
        out.append((name, name, "f32", (ROWS, BLOCKS * elems),
                    random_blocks(name, rng)))
    out.append(("q4_k f16 expressed", "q4_k", "f16", (6, 512),
                random_blocks("q4_k", rng, 6, 2)))
    out.append(("q6_k rank 3", "q6_k", "f32", (2, 3, 256),
                random_blocks("q6_k", rng, 6, 1).reshape(2, 3, -1)))
    return out


def matmul_data():
    rng = np.random.default_rng(11)
    import lowbit
    for fmt, m, n, k, tb in MATMULS:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = (rng.standard_normal((n, k) if tb else (k, n)) *
             0.1).astype(np.float32)
        q = lowbit.quantize(w, fmt)
        codes = np.asarray(q.codes, np.uint8).reshape(w.shape[0], -1)
        yield fmt, m, n, k, tb, x, codes, np.asarray(q.dequantize())


def make(d):
    with open(os.path.join(d, "deq.cpp"), "w") as f:
        f.write(DEQ_CPP)
    funcs, body = [], []
    for i, (label, name, expr, shape, codes) in enumerate(cases()):
        qt = g.qtype(shape, "gguf<%s>%s" % (
            name, "" if expr == "f32" else " : " + expr))
        yt = g.ttype(shape, expr)
        ct = g.ttype(codes.shape, "i8")
        # Codes as a function argument (lowbit.pack), not a constant.
        funcs.append(f"""
func.func @deq{i}(%c: {ct}) -> tensor<{"x".join(map(str, shape))}xf32> {{
  %q = lowbit.pack %c : {ct} -> {qt}
  %y = lowbit.dequantize %q : {qt} -> {yt}""" + ("" if expr == "f32" else f"""
  %y32 = arith.extf %y : {yt} to {g.ttype(shape, "f32")}""") + f"""
  return {"%y" if expr == "f32" else "%y32"} : {g.ttype(shape, "f32")}
}}""")
        body.append(f"""
  %c{i} = arith.constant {g.dense_int(codes, 8)} : {ct}
  %y{i} = call @deq{i}(%c{i}) : ({ct}) -> {g.ttype(shape, "f32")}
{g.print_f32_bits(i, f"%y{i}", shape)}""")
    for i, (fmt, m, n, k, tb, x, codes, _) in enumerate(matmul_data()):
        name = fmt.replace("gguf_", "")
        wshape = (n, k) if tb else (k, n)
        qt = g.qtype(wshape, "gguf<%s>" % name)
        ct = g.ttype(codes.shape, "i8")
        attr = " {transpose_b}" if tb else ""
        funcs.append(f"""
func.func @mm{i}(%x: tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32> {{
  %w = lowbit.constant codes({g.dense_int(codes, 8)} : {ct}) : {qt}
  %y = lowbit.qmatmul %x, %w{attr} : tensor<{m}x{k}xf32>, {qt} -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}""")
        body.append(f"""
  %x{i} = arith.constant {g.dense_f32(x)} : tensor<{m}x{k}xf32>
  %z{i} = call @mm{i}(%x{i}) : (tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32>
{g.print_f32_bits("m%d" % i, f"%z{i}", (m, n))}""")
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(g.PRINT_DECL + "\n")
        f.write("\n".join(funcs))
        f.write("\nfunc.func @main() {" + "".join(body) + "\n  return\n}\n")


def printed_bits(path):
    """The f32 tensors a run printed as int32 bit patterns, in order, as
    uint32 arrays (flat; NaN payloads untouched)."""
    text = open(path).read()
    return [np.array([int(t) for t in re.findall(r"-?\d+", m)],
                     np.int64).astype(np.uint32)
            for m in re.findall(r"data =\s*\n(.*?)(?=Unranked|\Z)", text,
                                re.S)]


def library(deq, name, codes, cols):
    """The numerics library's dequantization of `codes` ([rows, bytes])."""
    d = os.path.dirname(deq)
    src, dst = os.path.join(d, "in.bin"), os.path.join(d, "out.bin")
    np.ascontiguousarray(codes, np.uint8).tofile(src)
    subprocess.run([deq, str(KINDS[name][0]), str(cols), src, dst],
                   check=True)
    return np.fromfile(dst, np.float32).reshape(codes.shape[0], cols)


def check(d, deq):
    np.seterr(all="ignore")  # Inf and NaN scales are the point
    outs = printed_bits(os.path.join(d, "ref.out"))
    deqs = cases()
    assert len(outs) == len(deqs) + len(MATMULS), len(outs)
    for (label, name, expr, shape, codes), y in zip(deqs, outs):
        got = y
        flat = codes.reshape(-1, codes.shape[-1])
        lib = library(deq, name, flat, shape[-1]).reshape(-1)
        if expr == "f16":  # RNE to f16 (the IR's arith.truncf), back to f32
            lib = lib.astype(np.float16).astype(np.float32)
        bad = np.flatnonzero(got != lib.view(np.uint32))
        assert bad.size == 0, "%s: %d differ, first at %d: %08x vs %08x" % (
            label, bad.size, bad[0], got[bad[0]], lib.view(np.uint32)[bad[0]])
        if expr != "f32" or len(shape) != 2:
            print("%s: %d values bit-identical to the library"
                  % (label, got.size))
            continue
        # gguf-py's numpy dequantizer: the same bits as well.
        py = quants.dequantize(flat, KINDS[name][2]).reshape(-1)
        bad = np.flatnonzero(py.view(np.uint32) != got)
        assert bad.size == 0, "%s: gguf-py differs at %d: %08x vs %08x" % (
            label, bad[0], py.view(np.uint32)[bad[0]], got[bad[0]])
        print("%s: %d values bit-identical to the library, gguf-py"
              % (label, got.size))
    for (fmt, m, n, k, tb, x, _, wd), y in zip(matmul_data(),
                                                outs[len(deqs):]):
        assert within_bound(fmt, m, n, k, tb, x, wd, y), fmt
    print("qmatmul: %d products within the f32 summation bound"
          % len(MATMULS))


def within_bound(fmt, m, n, k, tb, x, wd, y):
    """Whether every output of one qmatmul is within the f32 summation
    bound of the header."""
    u = 2.0 ** -24
    wk = wd.astype(np.float64).T if tb else wd.astype(np.float64)
    ref = x.astype(np.float64) @ wk
    bound = (k + 1) * u / (1 - (k + 1) * u) * (np.abs(x) @ np.abs(wk))
    return bool((np.abs(y.view(np.float32).reshape(m, n) - ref) <= bound)
                .all())


def cpu(d):
    """lowbit-cpu-to-llvm's results against the reference lowering's."""
    ref = printed_bits(os.path.join(d, "ref.out"))
    got = printed_bits(os.path.join(d, "cpu.out"))
    assert len(ref) == len(got), (len(ref), len(got))
    ndeq = len(cases())
    deq = sum(bool((a == b).all()) for a, b in zip(ref[:ndeq], got[:ndeq]))
    same = bound = 0
    for (fmt, m, n, k, tb, x, _, wd), a, b in zip(
            matmul_data(), ref[ndeq:], got[ndeq:]):
        same += bool((a == b).all())
        bound += within_bound(fmt, m, n, k, tb, x, wd, b)
    print("lowbit-cpu-to-llvm: %d dequantizes and %d qmatmuls bit-identical "
          "to the reference lowering, %d qmatmuls within the bound"
          % (deq, same, bound))


def llama(d):
    """llama.cpp's own dequantize_row_* (ggml-ref-quantize --dequantize) on
    the same blocks: the same bits as the lowering printed."""
    np.seterr(all="ignore")
    outs = printed_bits(os.path.join(d, "ref.out"))
    n = 0
    for (label, name, expr, shape, codes), y in zip(cases(), outs):
        if expr != "f32" or len(shape) != 2:
            continue
        src, dst = os.path.join(d, "in.bin"), os.path.join(d, "llama.npy")
        np.ascontiguousarray(codes, np.uint8).tofile(src)
        subprocess.run(["ggml-ref-quantize", "--dequantize", KINDS[name][1],
                        src, str(shape[0]), str(shape[1]), dst], check=True)
        ref = np.load(dst).astype(np.float32).reshape(-1).view(np.uint32)
        bad = np.flatnonzero(ref != y)
        assert bad.size == 0, "%s: llama.cpp differs at %d: %08x vs %08x" % (
            label, bad[0], ref[bad[0]], y[bad[0]])
        n += 1
    print("%d formats bit-identical to llama.cpp" % n)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "cpu":
        cpu(sys.argv[2])
    else:
        llama(sys.argv[2])
