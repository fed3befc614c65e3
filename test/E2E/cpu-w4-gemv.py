# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# CPU code generation (docs/CodegenCPU.md): lowbit-lower-to-cpu turns
# qmatmuls of weights stored per output channel into generated vector
# kernels: int4 per-group weights with f32 activations (W4A32) or int8
# activations (W4A8, AVX-512 VNNI), MXFP4 weights with f32 activations,
# FP8 E4M3 weights with f32 or FP8 activations (subnormal codes included);
# every other op keeps the reference lowering. On odd shapes (M = 1..257, N = 1..40 so that both
# the 4-row and 2-row output tiles have tails, K with and without a tail of
# the 128-input VNNI chunk, groups of 32 to 256, f32/f16/bf16 scales,
# weights as constants and as function arguments) the results equal the
# reference lowering's within fp32 reassociation (relative error per output
# row below 1e-5).
#
# This file runs the W4A32 cases; cpu-w4a8.test runs the W4A8 ones through
# it.
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s make %t f32
# RUN: lowbit-opt %t/model.mlir --lowbit-lower-to-cpu -o %t/cpu.mlir
# RUN: FileCheck %s --check-prefix=IR < %t/cpu.mlir
# RUN: lowbit-opt %t/model.mlir --lowbit-reference-to-llvm | %run_cpu > %t/ref.out
# RUN: lowbit-opt %t/model.mlir --lowbit-cpu-to-llvm | %run_cpu > %t/cpu.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t f32 | FileCheck %s
# The x86-64-v3 (AVX2) variants, wherever the host can run them:
# RUN: %if x86-64-v3 %{ rm -rf %t/v3 && mkdir -p %t/v3 && cp %t/ref.out %t/v3/ref.out %}
# RUN: %if x86-64-v3 %{ lowbit-opt %t/model.mlir --lowbit-cpu-to-llvm=target-cpu=x86-64-v3 | %run_cpu > %t/v3/cpu.out %}
# RUN: %if x86-64-v3 %{ env PYTHONPATH=%lowbit_obj/python %python %s check %t/v3 f32 | FileCheck %s %}
#
# IR-DAG: func.func private @__lowbit_w4_f32_1x17x64_g32_f32(%{{.*}}: tensor<1x64xf32>, %{{.*}}: tensor<17x32xi8>, %{{.*}}: tensor<17x2xf32>, %{{.*}}: tensor<1x17xf32>) -> tensor<1x17xf32>
# IR-DAG: func.func private @__lowbit_w4_f32_3x40x96_g32_f32
# IR-DAG: func.func private @__lowbit_w4_f32_5x1x256_g64_f32
# IR-DAG: func.func private @__lowbit_w4_f32_8x33x128_g32_f16
# IR-DAG: func.func private @__lowbit_w4_f32_257x6x64_g32_bf16
# IR-DAG: func.func private @__lowbit_w4_f32_1x7x160_g32_f32
# IR-DAG: func.func @f5(%{{.*}}: tensor<1x160xf32>, %{{.*}}: tensor<7x80xi8>, %{{.*}}: tensor<7x5xf32>)
# IR-DAG: func.func private @__lowbit_f8_f32_1x21x200_f32(%{{.*}}: tensor<1x200xf32>, %{{.*}}: tensor<21x200xi8>, %{{.*}}: tensor<21xf32>, %{{.*}}: tensor<1x21xf32>) -> tensor<1x21xf32>
# IR-DAG: func.func private @__lowbit_f8_f32_5x9x64_f16
# IR-DAG: func.func private @__lowbit_f8_f8_3x10x96_f32(%{{.*}}: tensor<3x96xi8>, %{{.*}}: tensor<f32>, %{{.*}}: tensor<10x96xi8>, %{{.*}}: tensor<f32>
# IR-DAG: func.func private @__lowbit_f8_f8_6x7x80_f32
# IR-DAG: func.func private @__lowbit_mxfp4_f32_3x13x96_g32_f8E8M0FNU(%{{.*}}: tensor<3x96xf32>, %{{.*}}: tensor<13x48xi8>, %{{.*}}: tensor<13x3xi8>, %{{.*}}: tensor<3x13xf32>) -> tensor<3x13xf32>
# IR-DAG: func.func private @__lowbit_mxfp4_f32_1x40x64_g32_f8E8M0FNU
# IR-DAG: func.func private @__lowbit_w4_f16_1x19x128_g32_f16_ef16(%{{.*}}: tensor<1x128xf16>, %{{.*}}: tensor<19x64xi8>, %{{.*}}: tensor<19x4xf16>, %{{.*}}: tensor<1x19xf32>) -> tensor<1x19xf32>
# IR-DAG: func.func private @__lowbit_w4_bf16_5x7x64_g64_bf16_ebf16_ybf16(%{{.*}}: tensor<5x64xbf16>, %{{.*}}: tensor<7x32xi8>, %{{.*}}: tensor<7x1xbf16>, %{{.*}}: tensor<5x7xbf16>) -> tensor<5x7xbf16>
# IR-DAG: func.func private @__lowbit_mxfp4_f16_1x8x64_g32_f8E8M0FNU_ef16
# IR-DAG: vector.fma
# IR-NOT: lowbit.
# CHECK: 16 shapes, max relative error {{[0-9.e-]+}} (< 1e-5)
# CHECK: bf16 results within one ulp: yes

import os
import sys

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402
import lowbit  # noqa: E402

# (M, N, K, group, scale type (e8m0: MXFP4 weights; nvfp4: NVFP4 weights;
# w8, w8f16: int8
# weights per output channel, w8tensor: per tensor; else int4), weights as a
# function argument, activations: f32, i8 per row (per_axis<0>) or i8 per
# tensor)
SHAPES = [(1, 17, 64, 32, "f32", False, "f32"),
          (3, 40, 96, 32, "f32", False, "f32"),
          (5, 1, 256, 64, "f32", False, "f32"),
          (8, 33, 128, 32, "f16", False, "f32"),
          (257, 6, 64, 32, "bf16", False, "f32"),
          (1, 7, 160, 32, "f32", True, "f32"),
          (1, 21, 200, 0, "f8", False, "f32"),
          # W4A16: f16/bf16 activations, weights expressed in f16/bf16
          # (each dequantized weight rounded to it, as the reference
          # does), f32 or bf16 results.
          (1, 19, 128, 32, "f16", False, "f16"),
          (5, 7, 64, 64, "bf16", True, "bf16y"),
          # MXFP4 expressed in f16: each v * s rounded to f16 (large
          # scales, so that 2 v s would overflow f16 where v s does not).
          (1, 8, 64, 32, "e8m0big", False, "f16"),
          # int4 with one scale per row: no kernel (scales are not
          # [N, K / g]), the reference lowering runs.
          (2, 6, 64, 0, "i4axis", False, "f32"),
          (3, 13, 96, 32, "e8m0", False, "f32"),
          (1, 40, 64, 32, "e8m0", True, "f32"),
          (5, 9, 64, 0, "f8f16", True, "f32"),
          (3, 10, 96, 0, "f8tensor", False, "f8tensor"),
          (6, 7, 80, 0, "f8", False, "f8row"),
          (1, 17, 64, 32, "f32", False, "row"),
          (3, 40, 320, 64, "f32", True, "row"),
          (5, 9, 256, 128, "f16", False, "row"),
          (8, 33, 384, 32, "bf16", False, "row"),
          (2, 5, 512, 256, "f32", False, "row"),
          (4, 7, 128, 32, "f32", False, "tensor"),
          (1, 9, 96, 32, "e8m0", False, "row"),
          (3, 17, 256, 32, "e8m0", True, "row"),
          (5, 4, 128, 32, "e8m0", False, "tensor"),
          (1, 9, 96, 16, "nvfp4", False, "row"),
          (4, 6, 256, 16, "nvfp4", True, "tensor"),
          (1, 9, 200, 0, "w8", False, "row"),
          (5, 11, 128, 0, "w8f16", True, "row"),
          (6, 4, 64, 0, "w8tensor", False, "tensor"),
          # W8A8 on constant weights: the panel kernel (packed at compile
          # time). GEMM with an N tail of 6 (one partial panel) and a K
          # tail of 2 (a padded quad); two units of 128 channels and a
          # tail of 72 (a full tile and 8); GEMV over a unit of 256
          # channels, a tail of 44, 257 quads (4-way unrolled) and a K
          # tail of 2.
          (13, 70, 202, 0, "w8", False, "row"),
          (20, 328, 4096, 0, "w8", False, "tensor"),
          # K > 8192: 12 x 32 tiles (a tail of 1 row and of 2 channels).
          (13, 34, 8196, 0, "w8", False, "row"),
          (1, 300, 1030, 0, "w8f16", False, "row"),
          # The same kernel on weights passed as an argument marked
          # lowbit.packed (packed.mlir: the caller hands over the panels'
          # bytes; the results must equal this constant case's exactly).
          (3, 48, 128, 0, "w8packed", False, "row"),
          # GEMM over blocks of output channels (128 rows of 4 KiB fill
          # half of L2): two blocks, the second of 2 channels.
          (7, 130, 4096, 0, "w8", True, "row"),
          # GEMV over 4 parallel units of 16 channels (OpenMP threads) and
          # a tail of 6.
          (1, 70, 128, 32, "f32", False, "row"),
          # Ternary (BitNet b1.58) weights per row, per group, per tensor.
          (1, 37, 512, 0, "tern_row", False, "row"),
          (3, 11, 320, 64, "tern_g64", True, "row"),
          (5, 6, 256, 0, "tern_tensor", False, "tensor"),
          # Per tensor written as per_group<[0 : N, 1 : K]> (scales 1x1).
          (3, 5, 256, 0, "tern_2d", False, "row"),
          # The shape of the first W4A8 case with per-tensor activation
          # scales: a second kernel of the same shape and another
          # signature.
          (1, 17, 64, 32, "f32", False, "tensor")]


def dense_float(arr):
    return "dense<%s>" % g.dense_nd(np.asarray(arr, np.float64),
                                    lambda v: repr(float(v)))


def suite(name):
    """f32: kernels without integer dot products (f32 or FP8 activations);
    i8: the VNNI kernels (int8 activations)."""
    return [s for s in SHAPES
            if (s[6] in ("f32", "f8row", "f8tensor", "f16", "bf16y"))
            == (name == "f32")]


# W4A16 cases: activation (= expressed) type and result type.
HALF = {"f16": ("f16", "f32"), "bf16y": ("bf16", "bf16")}


def panels(codes):
    """numerics::packInt8Panels for N % 16 == 0, K % 4 == 0: [N/16][K/4]
    [16][4] bytes, codes + 128, returned as the [N, K] bytes."""
    n, k = codes.shape
    u = (codes.astype(np.int16) + 128).astype(np.uint8)
    return u.reshape(n // 16, 16, k // 4, 4).transpose(0, 2, 1, 3).reshape(n, k)


def make(d, name):
    rng = np.random.default_rng(12)
    body, funcs = [], []
    pbody, pfuncs = [], []
    for i, (m, n, k, gs, st, arg, act) in enumerate(suite(name)):
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = (rng.standard_normal((n, k)) * 0.1).astype(np.float32)
        w[0, :32] = 0  # an all-zero block
        packed4 = (not st.startswith(("w8", "f8", "tern"))
                   and st not in ("nvfp4", "i4axis"))
        if st.startswith("tern"):
            blocks = {"tern_row": (1, k), "tern_g64": (1, max(gs, 1)),
                      "tern_tensor": (n, k), "tern_2d": (n, k)}[st]
            q = lowbit.quantize_scheme(w, "ternary", blocks=blocks)
            gran = {"tern_row": "per_axis<0>",
                    "tern_g64": "per_group<[1 : %d]>" % gs,
                    "tern_tensor": "per_tensor",
                    "tern_2d": "per_group<[0 : %d, 1 : %d]>" % (n, k)}[st]
            qt = "!lowbit.qtensor<%dx%dxternary, %s>" % (n, k, gran)
            sc = np.asarray(q.scales, np.float32)
            shape = {"tern_row": (n,), "tern_g64": (n, k // max(gs, 1)),
                     "tern_tensor": (), "tern_2d": (1, 1)}[st]
            stype = "tensor<%sf32>" % "".join("%dx" % d for d in shape)
            codes = np.asarray(q.codes, np.uint8).reshape(n, k // 4)
            const = f"""lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{k // 4}xi8>)
      scales({dense_float(sc.reshape(shape))} : {stype}) : {qt}"""
        elif st.startswith("f8"):
            per_tensor = st == "f8tensor"
            sst = "f16" if st == "f8f16" else "f32"
            if per_tensor:
                w[1] *= 1e-5  # E4M3 subnormal codes
            q = lowbit.quantize_scheme(
                w, "f8E4M3FN", blocks=(n, k) if per_tensor else (1, k),
                scale=sst)
            qt = "!lowbit.qtensor<%dx%dxf8E4M3FN, %s%s>" % (
                n, k, "per_tensor" if per_tensor else "per_axis<0>",
                "" if sst == "f32" else ", scale = " + sst)
            sc = np.asarray(q.scales)
            sdense = dense_float(sc.reshape(()) if per_tensor
                                 else sc.reshape(n))
            codes = np.asarray(q.codes, np.uint8).reshape(n, k)
            stype = "tensor<%s>" % (sst if per_tensor else "%dx%s" % (n, sst))
            const = f"""lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{k}xi8>)
      scales({sdense} : {stype}) : {qt}"""
        elif st.startswith("w8"):
            per_tensor = st == "w8tensor"
            sst = "f16" if st == "w8f16" else "f32"
            q = lowbit.quantize_scheme(
                w, "i8", blocks=(n, k) if per_tensor else (1, k), scale=sst)
            qt = "!lowbit.qtensor<%dx%dxi8, %s%s>" % (
                n, k, "per_tensor" if per_tensor else "per_axis<0>",
                "" if sst == "f32" else ", scale = " + sst)
            sc = np.asarray(q.scales)
            sdense = dense_float(sc.reshape(()) if per_tensor
                                 else sc.reshape(n))
            codes = np.asarray(q.codes, np.uint8).reshape(n, k)
            stype = "tensor<%s>" % (sst if per_tensor else "%dx%s" % (n, sst))
            const = f"""lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{k}xi8>)
      scales({sdense} : {stype}) : {qt}"""
            if st == "w8packed":
                pconst = const.replace(
                    g.dense_int(codes, 8),
                    g.dense_int(panels(codes.view(np.int8)), 8))
        elif st == "nvfp4":
            w[1] *= 1e-5  # E4M3 block scales below 2^-6: subnormal
            q = lowbit.quantize_scheme(w, "f4E2M1FN", blocks=(1, gs),
                                       scale="f8e4m3fn", tensor_scale=True)
            qt = ("!lowbit.qtensor<%dx%dxf4E2M1FN, per_group<[1 : %d]>, "
                  "scale = f8E4M3FN, tensor_scale>" % (n, k, gs))
            codes = np.asarray(q.codes, np.uint8).reshape(n, -1)
            ts = g.dense_f32(np.float32(q.tensor_scale))
            const = f"""lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{k // 2}xi8>)
      scales({g.dense_hex8(q.scales)} : tensor<{n}x{k // gs}xf8E4M3FN>)
      tensor_scale({ts} : tensor<f32>) : {qt}"""
        elif st == "e8m0big":
            q = lowbit.quantize_scheme(w * 2.0 ** 17, "f4E2M1FN",
                                       blocks=(1, gs), scale="f8e8m0fnu")
            qt = ("!lowbit.qtensor<%dx%dxf4E2M1FN : %s, per_group<[1 : %d]>, "
                  "scale = f8E8M0FNU>" % (n, k, HALF[act][0], gs))
            sdense = g.dense_hex8(q.scales)
            st = "f8E8M0FNU"
        elif st == "i4axis":
            q = lowbit.quantize_scheme(w, "i4", blocks=(1, k))
            qt = "!lowbit.qtensor<%dx%dxi4, per_axis<0>>" % (n, k)
            codes = np.asarray(q.codes, np.uint8).reshape(n, -1)
            const = f"""lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{k // 2}xi8>)
      scales({dense_float(np.asarray(q.scales).reshape(n))} : tensor<{n}xf32>) : {qt}"""
        elif st == "e8m0":
            q = lowbit.quantize_scheme(w, "f4E2M1FN", blocks=(1, gs),
                                       scale="f8e8m0fnu")
            qt = ("!lowbit.qtensor<%dx%dxf4E2M1FN, per_group<[1 : %d]>, "
                  "scale = f8E8M0FNU>" % (n, k, gs))
            sdense = g.dense_hex8(q.scales)
            st = "f8E8M0FNU"
        else:
            q = lowbit.quantize_scheme(w, "i4", blocks=(1, gs), scale=st)
            qt = "!lowbit.qtensor<%dx%dxi4%s, per_group<[1 : %d]>%s>" % (
                n, k, " : " + HALF[act][0] if act in HALF else "", gs,
                "" if st == "f32" else ", scale = " + st)
            sdense = dense_float(q.scales)
        if packed4:
            codes = np.asarray(q.codes, np.uint8).reshape(n, -1)
            const = f"""lowbit.constant codes({g.dense_int(codes, 8)} : tensor<{n}x{k // 2}xi8>)
      scales({sdense} : tensor<{n}x{k // gs}x{st}>) : {qt}"""
        wdef = "" if arg else f"\n  %w = {const}"
        warg = f", %w: {qt}" if arg else ""
        xe, ye = HALF.get(act, ("f32", "f32"))
        if act in HALF:  # X exactly representable in its type
            x = x.astype(ml_dtypes.bfloat16 if xe == "bf16"
                         else np.float16).astype(np.float32)
        xt = f"tensor<{m}x{k}x{xe}>"
        xdef = ""
        if act != "f32" and act not in HALF:
            xt = "!lowbit.qtensor<%dx%dx%s, %s>" % (
                m, k, "f8E4M3FN" if act.startswith("f8") else "i8",
                "per_axis<0>" if act.endswith("row") else "per_tensor")
            xdef = (f"\n  %xq = lowbit.quantize %x : tensor<{m}x{k}xf32> "
                    f"-> {xt}")
        xv = "%x" if xdef == "" else "%xq"
        xin = f"tensor<{m}x{k}x{xe}>"
        yt = f"tensor<{m}x{n}x{ye}>"
        funcs.append(f"""
func.func @f{i}(%x: {xin}{warg}) -> {yt} {{{wdef}{xdef}
  %y = lowbit.qmatmul {xv}, %w {{transpose_b}} : {xt}, {qt} -> {yt}
  return %y : {yt}
}}""")
        if st == "w8packed":
            pfuncs.append(f"""
func.func @p{i}(%x: {xin}, %w: {qt} {{lowbit.packed}}) -> {yt} {{{xdef}
  %y = lowbit.qmatmul {xv}, %w {{transpose_b}} : {xt}, {qt} -> {yt}
  return %y : {yt}
}}""")
            pbody.append(f"""
  %x{i} = arith.constant {g.dense_f32(x)} : {xin}
  %w{i} = {pconst}
  %y{i} = call @p{i}(%x{i}, %w{i}) : ({xin}, {qt}) -> {yt}
{g.print_f32_bits(i, f"%y{i}", (m, n))}""")
        call = (f"%w{i} = {const}\n  %y{i} = call @f{i}(%x{i}, %w{i}) : "
                f"({xin}, {qt})" if arg else
                f"%y{i} = call @f{i}(%x{i}) : ({xin})")
        xconst = (g.dense_f32(x) if xe == "f32" else dense_float(x))
        widen = ("" if ye == "f32" else
                 f"\n  %y{i}w = arith.extf %y{i} : {yt} to tensor<{m}x{n}xf32>")
        yv = f"%y{i}" if ye == "f32" else f"%y{i}w"
        body.append(f"""
  %x{i} = arith.constant {xconst} : {xin}
  {call} -> {yt}{widen}
{g.print_f32_bits(i, yv, (m, n))}""")
    with open(os.path.join(d, "model.mlir"), "w") as f:
        f.write(g.PRINT_DECL + "\n")
        f.write("\n".join(funcs))
        f.write("\nfunc.func @main() {" + "".join(body) + "\n  return\n}\n")
    if pfuncs:
        with open(os.path.join(d, "packed.mlir"), "w") as f:
            f.write(g.PRINT_DECL + "\n")
            f.write("\n".join(pfuncs))
            f.write("\nfunc.func @main() {" + "".join(pbody)
                    + "\n  return\n}\n")


def check(d, name):
    shapes = suite(name)
    pout = os.path.join(d, "packed.out")
    ref = g.printed_f32_arrays(os.path.join(d, "ref.out"))
    cpu = g.printed_f32_arrays(os.path.join(d, "cpu.out"))
    assert len(ref) == len(cpu) == len(shapes), (len(ref), len(cpu))
    worst, ulps = 0.0, 0
    for (m, n, k, gs, st, arg, act), a, b in zip(shapes, ref, cpu):
        a, b = a.reshape(m, n), b.reshape(m, n)
        if HALF.get(act, ("", "f32"))[1] == "bf16":
            # Both round the same f32 sum up to reassociation to bf16: at
            # most one unit in the last place apart.
            ab = a.astype(np.float32).astype(ml_dtypes.bfloat16)
            bb = b.astype(np.float32).astype(ml_dtypes.bfloat16)
            d = np.abs(ab.view(np.int16).astype(np.int32)
                       - bb.view(np.int16).astype(np.int32))
            ulps = max(ulps, int(d.max()))
            continue
        err = g.row_rel_err(a, b)
        worst = max(worst, float(err.max()))
    print("%d shapes, max relative error %.3g (%s 1e-5)"
          % (len(shapes), worst, "<" if worst < 1e-5 else ">="))
    if os.path.exists(pout):
        # Weights handed over packed (lowbit.packed): the same outputs,
        # bit for bit, as the kernel on the same weights as a constant.
        packed = g.printed_f32_arrays(pout)
        twins = [b for s, b in zip(shapes, cpu) if s[4] == "w8packed"]
        assert len(packed) == len(twins) > 0, (len(packed), len(twins))
        same = all(np.array_equal(a.view(np.uint32), b.view(np.uint32))
                   for a, b in zip(packed, twins))
        print("packed weights: %d cases, %s" % (
            len(twins), "identical" if same else "DIFFERENT"))
    if name == "f32":
        print("bf16 results within one ulp: %s (%d)"
              % ("yes" if ulps <= 1 else "no", ulps))


if __name__ == "__main__":
    (make if sys.argv[1] == "make" else check)(sys.argv[2], sys.argv[3])
