# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Cross-check: the numerics library (through the Python package) and the
# MLIR reference lowering must agree bit for bit on the same arrays.
#
# REQUIRES: python-bindings
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s emit %t.mlir
# RUN: lowbit-opt %t.mlir --lowbit-reference-to-llvm | %run_cpu > %t.out
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s check %t.out
#
# For every named format the reference lowering covers (element casts, MX,
# NVFP4, int8/int4 symmetric and asymmetric, per row and per group,
# ternary), and for general schemes (SCHEME_CASES: other and several block
# axes, per tensor, rounding options, scale types), the module (1)
# quantizes and dequantizes the input with
# lowbit.quantize/dequantize and (2) dequantizes a lowbit.constant built from
# the library's own packed codes, scales and zero points. Both must equal the
# library's dequantize bitwise: (1) checks the scale and rounding rules,
# (2) the storage layout; together they pin every code (decoding is
# injective except for NaN payloads, compared as "any NaN").

import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_e2e as g  # noqa: E402  (MLIR text helpers)
import lowbit  # noqa: E402

R, C = 12, 128


def inputs(seed):
    """One row per hazard: ties, zero/constant rows, subnormal and huge
    magnitudes, the MX scale clamps, log-uniform magnitudes."""
    rng = np.random.default_rng(seed)
    x = np.zeros((R, C), np.float32)
    x[0] = rng.standard_normal(C)
    x[1] = rng.standard_normal(C) * 1e-3
    x[1, ::37] = 0.5
    # Midpoints of the fp4 grid and of the int4 grid with amax 6 / 7.
    ties = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0, 0.5, 1.5,
                     -2.5, -0.25, -5.0, 4.5, -3.5, 7.0], np.float32)
    x[2] = np.tile(ties, C // ties.size)
    x[3] = 0.0
    x[4] = 0.3
    x[5] = -2.5
    x[6] = rng.standard_normal(C) * 1e-40  # f32 subnormals
    x[7] = rng.standard_normal(C) * 1e30
    x[8] = rng.uniform(-1, 1, C) * 2.0**-130  # E8M0 lower clamp
    x[9] = rng.uniform(-1, 1, C) * 3e38  # E8M0 upper clamp
    x[10] = (rng.choice([-1, 1], C) *
             2.0 ** rng.uniform(-20, 20, C)).astype(np.float32)
    x[11] = rng.standard_normal(C) * 100
    x[11, 5] = -0.0
    return x.astype(np.float32)


# (format, group_size, asymmetric, IR scheme body, IR scale element type)
CASES = [
    ("f8e4m3fn", 0, False, "f8E4M3FN", None),
    ("f8e5m2", 0, False, "f8E5M2", None),
    ("f6e2m3fn", 0, False, "f6E2M3FN", None),
    ("f6e3m2fn", 0, False, "f6E3M2FN", None),
    ("f4e2m1fn", 0, False, "f4E2M1FN", None),
    ("mxfp8_e4m3", 0, False, "f8E4M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU"),
    ("mxfp8_e5m2", 0, False, "f8E5M2, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU"),
    ("mxfp6_e2m3", 0, False, "f6E2M3FN, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU"),
    ("mxfp6_e3m2", 0, False, "f6E3M2FN, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU"),
    ("mxfp4", 0, False, "f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU"),
    ("mxint8", 0, False, "i8, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU"),
    ("nvfp4", 0, False, "f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale", "f8E4M3FN"),
    ("int8", 0, False, "i8, per_axis<0>", "f32"),
    ("int8", 32, False, "i8, per_group<[1 : 32]>", "f32"),
    ("int8", 128, True, "ui8, per_group<[1 : 128]>, asymmetric", "f32"),
    ("int4", 0, True, "ui4, per_axis<0>, asymmetric", "f32"),
    ("int4", 32, False, "i4, per_group<[1 : 32]>", "f32"),
    ("int4", 64, True, "ui4, per_group<[1 : 64]>, asymmetric", "f32"),
    ("ternary", 0, False, "ternary, per_axis<0>", "f32"),
    ("ternary", 64, False, "ternary, per_group<[1 : 64]>", "f32"),
]


# General schemes through lowbit.quantize_scheme: (label, keyword arguments,
# IR scheme body, IR scale element type, IR scale shape). They cover what
# the named formats do not: blocks along other and several axes, per
# tensor, rounding away, no_saturate, full_range, f16/bf16 scales, odd and
# 2-bit widths.
SCHEME_CASES = [
    ("i8 per column", dict(element="i8", blocks=(R, 1)),
     "i8, per_axis<1>", "f32", (C,)),
    ("i4 4x32 blocks", dict(element="i4", blocks=(4, 32)),
     "i4, per_group<[0 : 4, 1 : 32]>", "f32", (R // 4, C // 32)),
    ("ui4 2x64 asymmetric", dict(element="ui4", blocks=(2, 64), asymmetric=True),
     "ui4, per_group<[0 : 2, 1 : 64]>, asymmetric", "f32", (R // 2, C // 64)),
    ("i8 per tensor", dict(element="i8", blocks=(R, C)),
     "i8, per_tensor", "f32", ()),
    ("i8 full range", dict(element="i8", blocks=(1, C), full_range=True),
     "i8, per_axis<0>, full_range", "f32", (R,)),
    ("i4 ties away", dict(element="i4", blocks=(1, 32), rounding="nearest_away"),
     "i4, per_group<[1 : 32]>, round = nearest_away", "f32", (R, C // 32)),
    ("e4m3 per tensor", dict(element="f8e4m3fn", blocks=(R, C)),
     "f8E4M3FN, per_tensor", "f32", ()),
    ("e5m2 no_saturate", dict(element="f8e5m2", blocks=(1, C), saturate=False),
     "f8E5M2, per_axis<0>, no_saturate", "f32", (R,)),
    ("i8 f16 scales", dict(element="i8", blocks=(1, 32), scale="f16"),
     "i8, per_group<[1 : 32]>, scale = f16", "f16", (R, C // 32)),
    ("ui8 bf16 scales", dict(element="ui8", blocks=(1, C), scale="bf16", asymmetric=True),
     "ui8, per_axis<0>, asymmetric, scale = bf16", "bf16", (R,)),
    ("i3", dict(element="i3", blocks=(1, 16)),
     "i3, per_group<[1 : 16]>", "f32", (R, C // 16)),
    ("ui2 asymmetric", dict(element="ui2", blocks=(1, 32), asymmetric=True),
     "ui2, per_group<[1 : 32]>, asymmetric", "f32", (R, C // 32)),
    ("e3m2 per column", dict(element="f6e3m2fn", blocks=(R, 1)),
     "f6E3M2FN, per_axis<1>", "f32", (C,)),
    ("ternary 4x16", dict(element="ternary", blocks=(4, 16)),
     "ternary, per_group<[0 : 4, 1 : 16]>", "f32", (R // 4, C // 16)),
]


# The same general schemes, plus MX and NVFP4, on non-finite and extreme
# input with the library's total (non-strict) semantics, as the IR has.
NONFINITE_EXTRA = [
    ("mxfp4", dict(element="f4e2m1fn", blocks=(1, 32), scale="f8e8m0fnu"),
     "f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU", (R, C // 32)),
    ("mxint8", dict(element="i8", blocks=(1, 32), scale="f8e8m0fnu"),
     "i8, per_group<[1 : 32]>, scale = f8E8M0FNU", "f8E8M0FNU", (R, C // 32)),
    ("nvfp4", dict(element="f4e2m1fn", blocks=(1, 16), scale="f8e4m3fn",
                   tensor_scale=True),
     "f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale",
     "f8E4M3FN", (R, C // 16)),
    ("e4m3 cast", dict(element="f8e4m3fn", scale="none"), "f8E4M3FN", None, None),
    ("e5m2 cast", dict(element="f8e5m2", scale="none"), "f8E5M2", None, None),
    ("fp4 cast", dict(element="f4e2m1fn", scale="none"), "f4E2M1FN", None, None),
]


def nonfinite_inputs(seed):
    """Rows with NaN, +-Inf, values that overflow or underflow f16/bf16
    scales, and subnormal constant blocks."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((R, C)).astype(np.float32)
    x[0, 5] = np.nan
    x[1, 70] = np.inf
    x[2, 17] = -np.inf
    x[3, ::9] = np.nan
    x[3, 1::9] = -np.inf
    x[4] = rng.standard_normal(C) * 1e10   # f16 scale overflow
    x[5] = rng.standard_normal(C) * 1e-9   # f16 scale underflow
    x[6] = 1.5e-39                         # subnormal constant
    x[7] = -3e-44
    x[8, :64] = np.inf
    x[9] = rng.standard_normal(C) * 1e37   # bf16 and f32 scale limits
    return x.astype(np.float32)


def dense_bits16(arr):
    return "dense<%s>" % g.dense_nd(np.asarray(arr).view(np.uint16),
                                    lambda v: "0x%04X" % int(v))


def ir_scale_shape(scheme, lib_shape):
    # per_axis scales are rank 1 in the IR; the library keeps the rank.
    return (lib_shape[0],) if "per_axis" in scheme else tuple(lib_shape)


def all_cases():
    """(label, input, library result, IR scheme, IR scale element, IR scale
    shape) for every case."""
    x = inputs(7)
    for fmt, gs, asym, scheme, scale_elem in CASES:
        q = lowbit.quantize(x, fmt, group_size=gs, asymmetric=asym)
        shape = None
        if scale_elem is not None:
            shape = ir_scale_shape(scheme, np.shape(q.scales))
        yield ("%s group %d%s" % (fmt, gs, " asymmetric" if asym else ""),
               x, q, scheme, scale_elem, shape)
    for label, kwargs, scheme, scale_elem, shape in SCHEME_CASES:
        yield (label, x, lowbit.quantize_scheme(x, **kwargs), scheme,
               scale_elem, shape)
    y = nonfinite_inputs(8)
    for label, kwargs, scheme, scale_elem, shape in SCHEME_CASES + NONFINITE_EXTRA:
        yield (label + " (non-finite)", y,
               lowbit.quantize_scheme(y, strict=False, **kwargs), scheme,
               scale_elem, shape)


def emit(path):
    xt = g.ttype((R, C), "f32")
    body, dumps = [], []
    for i, case in enumerate(all_cases()):
        label, x, q, scheme, scale_elem, scale_shape = case
        qt = g.qtype(x.shape, scheme)
        body.append("  // %s" % label)
        body.append("  %%x%d = arith.constant %s : %s" % (i, g.dense_f32(x), xt))
        body.append("  %%q%d = lowbit.quantize %%x%d : %s -> %s" % (i, i, xt, qt))
        body.append("  %%y%d = lowbit.dequantize %%q%d : %s -> %s" % (i, i, qt, xt))
        codes = np.asarray(q.codes, np.uint8).reshape(R, -1)
        parts = ["codes(%s : %s)" % (g.dense_int(codes, 8), g.ttype(codes.shape, "i8"))]
        if scale_elem is not None:
            sc = np.asarray(q.scales).reshape(scale_shape)
            if scale_elem == "f32":
                dense = g.dense_f32(sc)
            elif scale_elem in ("f16", "bf16"):
                dense = dense_bits16(sc)
            else:
                dense = g.dense_hex8(sc)
            parts.append("scales(%s : %s)" % (dense, g.ttype(scale_shape, scale_elem)))
        if q.zero_points is not None:
            z = np.asarray(q.zero_points).reshape(scale_shape)
            parts.append("zero_points(%s : %s)" % (g.dense_int(z, 32), g.ttype(z.shape, "i32")))
        if q.tensor_scale is not None:
            parts.append("tensor_scale(dense<%s> : tensor<f32>)" % g.hex32(q.tensor_scale))
        body.append("  %%w%d = lowbit.constant %s" % (i, "\n      ".join(parts)))
        body.append("      : %s" % qt)
        body.append("  %%v%d = lowbit.dequantize %%w%d : %s -> %s" % (i, i, qt, xt))
        body.append("  call @dump(%%y%d) : (%s) -> ()" % (i, xt))
        body.append("  call @dump(%%v%d) : (%s) -> ()" % (i, xt))
        dumps.append(q.dequantize())
    n = R * C
    text = [
        "func.func private @printMemrefI32(tensor<*xi32>)",
        "func.func @dump(%%y: %s) {" % xt,
        "  %%b = arith.bitcast %%y : %s to %s" % (xt, g.ttype((R, C), "i32")),
        "  %%f = tensor.collapse_shape %%b [[0, 1]] : %s into tensor<%dxi32>"
        % (g.ttype((R, C), "i32"), n),
        "  %%u = tensor.cast %%f : tensor<%dxi32> to tensor<*xi32>" % n,
        "  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()",
        "  return",
        "}",
        "func.func @main() {",
    ] + body + ["  return", "}", ""]
    with open(path, "w") as f:
        f.write("\n".join(text))
    np.save(path + ".expected.npy", np.stack(dumps))


def check(out_path):
    expected = np.load(out_path.replace(".out", ".mlir") + ".expected.npy")
    text = open(out_path).read()
    arrays = [np.array([int(v) for v in m.split(",")], np.int64).astype(np.int32)
              for m in re.findall(r"data =\s*\n\[([^\]]*)\]", text)]
    labels = [c[0] for c in all_cases()]
    if len(arrays) != 2 * len(labels):
        print("expected %d printed arrays, found %d" % (2 * len(labels), len(arrays)))
        return 1
    bad = 0
    for i, label in enumerate(labels):
        want = expected[i].reshape(-1)
        wbits = want.view(np.int32)
        for k, what in enumerate(("quantize -> dequantize", "library bytes -> dequantize")):
            got = arrays[2 * i + k]
            gotf = got.view(np.float32)
            same = (got == wbits) | (np.isnan(gotf) & np.isnan(want))
            if not same.all():
                j = int(np.argmin(same))
                r, c = divmod(j, C)
                print("MISMATCH %s (%s): %d of %d differ; first [%d, %d]: "
                      "lowering %r (0x%08x), library %r (0x%08x)"
                      % (label, what, int((~same).sum()), same.size, r, c,
                         float(gotf[j]), int(got[j]) & 0xFFFFFFFF, float(want[j]),
                         int(wbits[j]) & 0xFFFFFFFF))
                bad += 1
    print("%d schemes x 2 checks, %d mismatching" % (len(labels), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "emit":
        emit(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
