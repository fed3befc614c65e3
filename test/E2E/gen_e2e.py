#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Generates the bit-exact end-to-end numerics tests in test/E2E/.

    python3 test/E2E/gen_e2e.py        # rewrites every test/E2E/*.mlir it owns

Each test quantizes deterministic inputs with `lowbit.quantize`, dequantizes
them and prints the f32 results as int32 bit patterns through mlir-runner.
The expected values come from the independent numpy/ml_dtypes reference
below, written from docs/Numerics.md and the quantization rules of
docs/Spec.md, never from the tool's output. Every test also builds the
qtensor from the reference's own packed codes, scales and zero points with
`lowbit.constant` and checks its dequantization, so that the run-time layout
(packing, nibble order, scale encodings) is checked as well: together the two
checks pin every code (dequantization is injective on codes for a fixed
scale, except for +-0 and NaN payloads).

Element casts use ml_dtypes (round to nearest even, subnormals kept); ml_dtypes
does not saturate float8 casts, so saturating quantizers clip to +-max finite
first (NaN passes through np.clip). fp4/fp6 casts always saturate.
"""

import math
import os
import re

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
F32 = np.float32

# Quiet NaNs of either sign: the sign of a NaN produced by a product with a
# NaN is not part of lowbit's contract.
NAN_PATTERN = "{{2143289344|-4194304}}"


def f32(a):
    return np.asarray(a, dtype=np.float32)


def pow2(e):
    """Exact 2^e as f32 (e in [-149, 127])."""
    return F32(math.ldexp(1.0, e))


# ---------------------------------------------------------------------------
# Element formats
# ---------------------------------------------------------------------------

class Fmt:
    def __init__(self, dtype, bits, maxf, emax):
        self.dtype, self.bits, self.maxf, self.emax = dtype, bits, F32(maxf), emax


E4M3 = Fmt(ml_dtypes.float8_e4m3fn, 8, 448.0, 8)
E5M2 = Fmt(ml_dtypes.float8_e5m2, 8, 57344.0, 15)
E2M3 = Fmt(ml_dtypes.float6_e2m3fn, 6, 7.5, 2)
E3M2 = Fmt(ml_dtypes.float6_e3m2fn, 6, 28.0, 4)
E2M1 = Fmt(ml_dtypes.float4_e2m1fn, 4, 6.0, 2)


def mf_encode(v, fmt, saturate=True):
    """f32 array -> (codes as uint8 bit patterns, decoded f32 values)."""
    v = f32(v)
    if saturate:
        v = np.clip(v, -fmt.maxf, fmt.maxf)  # NaN stays NaN
    q = v.astype(fmt.dtype)
    codes = q.view(np.uint8) & ((1 << fmt.bits) - 1)
    return codes.astype(np.uint8), q.astype(np.float32)


def mf_decode(codes, fmt):
    return np.asarray(codes, dtype=np.uint8).view(fmt.dtype).astype(np.float32)


def ilogb(a):
    """floor(log2(a)) for finite a > 0, exactly (frexp on the exact value)."""
    _, e = math.frexp(float(a))
    return e - 1


# ---------------------------------------------------------------------------
# Blocking: every case here is rank 2 ([R, C]) with per_tensor, per_axis<0>
# or per_group<[1 : g]>; blocks are returned as (scale index, flat slice).
# ---------------------------------------------------------------------------

def block_view(x, gran):
    """Returns x reshaped to [nblocks..., block] and the scale shape."""
    R, C = x.shape
    kind = gran[0]
    if kind == "tensor":
        return x.reshape(1, 1, R * C), ()
    if kind == "axis0":
        return x.reshape(R, 1, C), (R,)
    if kind == "group1":
        g = gran[1]
        return x.reshape(R, C // g, g), (R, C // g)
    raise ValueError(kind)


def unblock(xb, shape):
    return xb.reshape(shape)


# ---------------------------------------------------------------------------
# Reference quantizers.  Each returns a dict with
#   codes  : per-element code bit patterns (uint, storage width bits)
#   scales : stored scales (f32, or uint8 codes of E8M0/E4M3), scale shape
#   zps    : int32 zero points or None
#   ts     : f32 tensor scale or None
#   deq    : dequantized f32 values
# ---------------------------------------------------------------------------

def blockwise(x, gran, fn, code_dtype, scale_dtype, width, zps=False, ts=None):
    """Runs fn(block) -> (stored scale, zero point, codes, dequantized) over
    every block of x and assembles the reference dict."""
    x = f32(x)
    xb, sshape = block_view(x, gran)
    nb0, nb1, _ = xb.shape
    codes = np.zeros(xb.shape, dtype=code_dtype)
    deq = np.zeros(xb.shape, dtype=np.float32)
    scales = np.zeros((nb0, nb1), dtype=scale_dtype)
    zp_arr = np.zeros((nb0, nb1), dtype=np.int32)
    for i in range(nb0):
        for j in range(nb1):
            scales[i, j], zp_arr[i, j], codes[i, j], deq[i, j] = fn(xb[i, j])
    return dict(codes=unblock(codes, x.shape), scales=scales.reshape(sshape),
                zps=zp_arr.reshape(sshape) if zps else None, ts=ts,
                deq=unblock(deq, x.shape), width=width)


def e8m0_code(amax, emax):
    """OCP MX shared scale: NaN/Inf -> 255, 0 -> 0, else the clamped
    floor(log2 amax) - emax from the exponent bits, biased by 127."""
    if not np.isfinite(amax):
        return 255
    if amax == 0:
        return 0
    return min(max(ilogb(amax) - emax, -127), 127) + 127


def e8m0_value(code):
    if code == 255:
        return F32(np.nan)
    return pow2(-127) if code == 0 else pow2(code - 127)


def ref_int(x, gran, bits, signed=True, symmetric=True, mxint8=False,
            ternary=False):
    if signed:
        qmax = 2 ** (bits - 1) - 1
        qmin = -qmax if symmetric else -qmax - 1
    else:
        qmin, qmax = 0, 2 ** bits - 1
    if mxint8:
        qmin, qmax = -127, 127

    def block(blk):
        zp = 0
        if mxint8:
            stored = e8m0_code(np.max(np.abs(blk)), 0)  # NaN propagates
            sv = e8m0_value(stored)
            v = (blk / sv) * F32(64.0)
        elif ternary:
            # BitNet b1.58: gamma = mean |x| over the block, >= 1e-5.
            acc = F32(0)
            for e in np.abs(blk):  # the lowering sums in order
                acc = F32(acc + e)
            sv = stored = max(F32(acc / F32(blk.size)), F32(1e-5))
            v = blk / sv
        elif symmetric:
            amax = np.nanmax(np.abs(blk)) if not np.all(np.isnan(blk)) else F32(0)
            sv = F32(amax) / F32(qmax)
            if sv == 0:
                sv = F32(1)
            stored = sv
            v = blk / sv
        else:
            mn = min(F32(0), np.nanmin(blk))
            mx = max(F32(0), np.nanmax(blk))
            sv = F32(F32(mx - mn) / F32(qmax - qmin))
            if sv == 0:
                sv = F32(1)
            stored = sv
            zp = int(np.clip(qmin + np.rint(F32(-mn / sv)), qmin, qmax))
            v = blk / sv
        r = np.rint(f32(v))
        r = np.where(np.isnan(r), 0, r)
        q = np.clip(r.astype(np.int64) + zp, qmin, qmax)
        if mxint8:
            d = f32(q - zp).astype(np.float32) * F32(1.0 / 64) * sv
        else:
            d = f32(q - zp) * sv
        return stored, zp, q, d

    w = 2 if ternary else bits
    out = blockwise(x, gran, block, np.int64,
                    np.uint8 if mxint8 else np.float32, w, zps=not symmetric)
    out["codes"] = out["codes"] & ((1 << w) - 1)
    return out


def ref_float_f32scale(x, gran, fmt, saturate=True, static=None):
    """Float elements with an f32 scale = amax / max finite (NaN ignored), or
    the given static scale."""
    # Static scales in block order (row-major over the scale shape).
    statics = None
    if static is not None:
        statics = iter(np.asarray(static, np.float32).reshape(-1))

    def block(blk):
        amax = np.nanmax(np.abs(blk)) if not np.all(np.isnan(blk)) else F32(0)
        sv = F32(amax) / fmt.maxf
        if sv == 0:
            sv = F32(1)
        if statics is not None:
            sv = F32(next(statics))
        c, val = mf_encode(blk / sv, fmt, saturate)
        return sv, 0, c, val * sv

    return blockwise(x, gran, block, np.uint8, np.float32, fmt.bits)


def ref_mx(x, g, fmt):
    """OCP MX: E8M0 scale 2^(floor(log2 amax) - emax_elem), FLOOR mode."""
    def block(blk):
        code = e8m0_code(np.max(np.abs(blk)), fmt.emax)
        X = e8m0_value(code)
        # Check the E8M0 code against ml_dtypes' own decoding.
        dec = np.array([code], np.uint8).view(ml_dtypes.float8_e8m0fnu)
        dec = dec.astype(np.float32)[0]
        assert (np.isnan(dec) and np.isnan(X)) or dec == X, (code, dec, X)
        c, val = mf_encode(blk / X, fmt)
        return code, 0, c, val * X

    return blockwise(x, ("group1", g), block, np.uint8, np.uint8, fmt.bits)


def ref_nvfp4(x):
    """NVFP4 (ModelOpt division form): blocks of 16, E4M3 scale, f32 S."""
    x = f32(x)
    amax_t = np.nanmax(np.abs(x))
    S = F32(amax_t) / F32(2688.0)
    if S == 0:
        S = F32(1)
    denom = F32(F32(6.0) * S)

    def block(blk):
        amax = np.nanmax(np.abs(blk))
        sb = F32(amax / denom)
        if sb == 0:
            sb = F32(1)
        c, _ = mf_encode(np.array([sb], np.float32), E4M3)
        c = int(c[0])
        if c == 0 and amax != 0:
            c = 1  # smallest subnormal, 2^-9
        sv = F32(mf_decode([c], E4M3)[0] * S)
        q, val = mf_encode(blk / sv, E2M1)
        return c, 0, q, val * sv

    return blockwise(x, ("group1", 16), block, np.uint8, np.uint8, 4, ts=S)


# ---------------------------------------------------------------------------
# Packing (docs/Spec.md "Run-time layout"): widths 2 and 4 pack 8/w codes per
# byte along the last axis, element k*per + i at bits [i*w, (i+1)*w); the
# last byte of a row is zero-padded.  Other widths: one code per byte.
# ---------------------------------------------------------------------------

def pack(codes, w):
    codes = np.asarray(codes, dtype=np.int64) & ((1 << w) - 1)
    if w not in (2, 4):
        return codes.astype(np.uint8)
    per = 8 // w
    R, C = codes.shape
    P = (C + per - 1) // per
    out = np.zeros((R, P), dtype=np.int64)
    for r in range(R):
        for c in range(C):
            out[r, c // per] |= int(codes[r, c]) << ((c % per) * w)
    return out.astype(np.uint8)


# ---------------------------------------------------------------------------
# MLIR emission
# ---------------------------------------------------------------------------

def printed_f32_arrays(path):
    """The tensors a run printed with printMemrefI32 of f32 bit patterns,
    in order, as float64 arrays (flat)."""
    text = open(path).read()
    out = []
    for m in re.findall(r"data =\s*\n(.*?)(?=Unranked|\Z)", text, re.S):
        v = np.array([int(t) for t in re.findall(r"-?\d+", m)], np.int64)
        out.append(v.astype(np.int32).view(np.float32).astype(np.float64))
    return out


def printed_ints(path):
    """Every integer after the first `data =` of a run's output (what one
    printMemrefI32 printed, or several in a row), in order, as int64."""
    text = open(path).read()
    m = re.search(r"data =\s*\n(.*)", text, re.S)
    return np.array([int(t) for t in re.findall(r"-?\d+", m.group(1))],
                    np.int64)


def printed_f32(path):
    """printed_ints read as f32 bit patterns: the f32 values (flat)."""
    return printed_ints(path).astype(np.int32).view(np.float32)


PRINT_DECL = "func.func private @printMemrefI32(tensor<*xi32>)"


def print_f32_bits(name, value, shape):
    """MLIR lines (a function body's) printing the f32 tensor `value` of
    `shape` as int32 bit patterns with printMemrefI32 (PRINT_DECL); `name`
    makes the temporaries' names unique."""
    t = ttype(shape, "f32")
    ti = ttype(shape, "i32")
    return (f"  %b{name} = arith.bitcast {value} : {t} to {ti}\n"
            f"  %u{name} = tensor.cast %b{name} : {ti} to tensor<*xi32>\n"
            f"  call @printMemrefI32(%u{name}) : (tensor<*xi32>) -> ()")


def row_rel_err(ref, got):
    """Per row of 2-D results: the largest |ref - got| over the row's
    largest |ref| (at least 1e-30)."""
    return np.abs(ref - got).max(1) / np.maximum(np.abs(ref).max(1), 1e-30)


def yes(b):
    return "yes" if b else "NO"


def hex32(v):
    return "0x%08X" % (int(np.asarray(v, np.float32).view(np.uint32)))


def dense_nd(arr, fmt_elem):
    arr = np.asarray(arr)
    if arr.ndim == 0:
        return fmt_elem(arr[()])
    return "[" + ", ".join(dense_nd(a, fmt_elem) for a in arr) + "]"


def dense_f32(arr):
    return "dense<%s>" % dense_nd(f32(arr), hex32)


def dense_int(arr, bits):
    def fmt(v):
        v = int(v)
        if bits == 8 and v >= 128:
            v -= 256
        return str(v)
    return "dense<%s>" % dense_nd(np.asarray(arr), fmt)


def dense_hex8(arr):
    return "dense<%s>" % dense_nd(np.asarray(arr, np.uint8),
                                  lambda v: "0x%02X" % int(v))


def ttype(shape, elem):
    return "tensor<%s%s>" % ("".join("%dx" % d for d in shape), elem)


def qtype(shape, scheme):
    return "!lowbit.qtensor<%s%s>" % ("x".join(str(d) for d in shape), "x" + scheme)


PRINT_COLS = 16


def print_cols(shape):
    n = int(np.prod(shape))
    return PRINT_COLS if n % PRINT_COLS == 0 else shape[-1]


def check_lines(deq):
    """CHECK lines for the printed bit patterns of `deq`, print_cols a row."""
    flat = f32(deq).reshape(-1)
    n = flat.size
    cols = print_cols(deq.shape)
    rows = n // cols
    bits = flat.view(np.int32)
    lines = ["// CHECK: rank = 2 offset = 0 sizes = [%d, %d] strides = [%d, 1] data ="
             % (rows, cols, cols)]
    for r in range(rows):
        vals = []
        for c in range(cols):
            k = r * cols + c
            vals.append(NAN_PATTERN if np.isnan(flat[k]) else str(int(bits[k])))
        pre = "{{\\[\\[}}" if r == 0 else "["
        post = "]]" if r == rows - 1 else "],"
        lines.append("// CHECK-NEXT: %s%s%s" % (pre, ", ".join(vals), post))
    return lines


class TestFile:
    def __init__(self, name, title, notes):
        self.name, self.title, self.notes = name, title, notes
        self.body = []      # lines of @main
        self.checks = []
        self.dumps = set()  # shapes needing a @dump helper
        self.n = 0

    def dump(self, val, shape):
        self.dumps.add(tuple(shape))
        self.body.append("  call @dump_%s(%s) : (%s) -> ()"
                         % ("x".join(map(str, shape)), val, ttype(shape, "f32")))

    def constant(self, name, ref, qt, scale_elem="f32"):
        """`name = lowbit.constant` of the reference's packed codes, scales,
        zero points and tensor scale."""
        packed = pack(ref["codes"], ref["width"])
        parts = ["codes(%s : %s)" % (dense_int(packed, 8), ttype(packed.shape, "i8"))]
        sc = np.asarray(ref["scales"])
        if scale_elem == "f32":
            parts.append("scales(%s : %s)" % (dense_f32(sc), ttype(sc.shape, "f32")))
        else:
            parts.append("scales(%s : %s)" % (dense_hex8(sc), ttype(sc.shape, scale_elem)))
        if ref["zps"] is not None:
            z = np.asarray(ref["zps"])
            parts.append("zero_points(%s : %s)" % (dense_int(z, 32), ttype(z.shape, "i32")))
        if ref["ts"] is not None:
            parts.append("tensor_scale(dense<%s> : tensor<f32>)" % hex32(ref["ts"]))
        self.body.append("  %s = lowbit.constant %s" % (name, "\n      ".join(parts)))
        self.body.append("      : %s" % qt)

    def check(self, label, expected):
        """CHECK lines for one dump of the f32 values `expected`."""
        self.checks.append("// %s" % label)
        self.checks += check_lines(expected)

    def add(self, label, x, scheme, ref, scale_elem="f32", static_scale=None):
        """quantize -> dequantize of x, and lowbit.constant of the reference
        parts -> dequantize; both must print ref["deq"] bit-exactly."""
        x = f32(x)
        shape = x.shape
        qt = qtype(shape, scheme)
        xt = ttype(shape, "f32")
        i = self.n
        self.n += 1
        self.body.append("")
        self.body.append("  // %s" % label)
        self.body.append("  %%x%d = arith.constant %s : %s" % (i, dense_f32(x), xt))
        if static_scale is None:
            self.body.append("  %%q%d = lowbit.quantize %%x%d : %s -> %s" % (i, i, xt, qt))
        else:
            st = ttype(np.shape(static_scale), "f32")
            self.body.append("  %%s%d = arith.constant %s : %s"
                             % (i, dense_f32(static_scale), st))
            self.body.append("  %%q%d = lowbit.quantize %%x%d scale(%%s%d : %s) : %s -> %s"
                             % (i, i, i, st, xt, qt))
        self.body.append("  %%y%d = lowbit.dequantize %%q%d : %s -> %s" % (i, i, qt, xt))
        self.dump("%%y%d" % i, shape)
        # The reference's own run-time parts.
        self.constant("%%w%d" % i, ref, qt, scale_elem)
        self.body.append("  %%v%d = lowbit.dequantize %%w%d : %s -> %s" % (i, i, qt, xt))
        self.dump("%%v%d" % i, shape)
        lines = check_lines(ref["deq"])
        self.checks.append("// %s: quantize -> dequantize" % label)
        self.checks += lines
        self.checks.append("// %s: reference packed codes and scales -> dequantize" % label)
        self.checks += lines

    def text(self):
        out = ["// RUN: lowbit-opt %s --lowbit-reference-to-llvm | %run_cpu | FileCheck %s",
               "//",
               "// GENERATED by test/E2E/gen_e2e.py: edit the generator, not this file.",
               "// %s" % self.title]
        out += ["// " + n if n else "//" for n in self.notes]
        out += ["// Expected values: int32 bit patterns of the f32 results computed by",
                "// the independent numpy/ml_dtypes reference in gen_e2e.py.", ""]
        out += self.checks
        out += ["", "func.func private @printMemrefI32(tensor<*xi32>)", ""]
        for shape in sorted(self.dumps):
            n = int(np.prod(shape))
            cols = print_cols(shape)
            name = "x".join(map(str, shape))
            t = ttype(shape, "f32")
            ti = ttype(shape, "i32")
            collapse = "[[%s]]" % ", ".join(str(k) for k in range(len(shape)))
            out += [
                "func.func @dump_%s(%%y: %s) {" % (name, t),
                "  %%b = arith.bitcast %%y : %s to %s" % (t, ti),
                "  %%f = tensor.collapse_shape %%b %s : %s into tensor<%dxi32>"
                % (collapse, ti, n),
                "  %%r = tensor.expand_shape %%f [[0, 1]] output_shape [%d, %d]"
                " : tensor<%dxi32> into tensor<%dx%dxi32>" % (n // cols, cols, n, n // cols, cols),
                "  %%u = tensor.cast %%r : tensor<%dx%dxi32> to tensor<*xi32>"
                % (n // cols, cols),
                "  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()",
                "  return",
                "}", ""]
        out += ["func.func @main() {"] + self.body + ["  return", "}", ""]
        return "\n".join(out)

    def write(self):
        with open(os.path.join(HERE, self.name), "w") as f:
            f.write(self.text())


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def rng(seed):
    return np.random.default_rng(seed)


def case_int8_per_channel():
    r = rng(1)
    R, C = 6, 16
    x = np.zeros((R, C), np.float32)
    # row 0: amax 127 -> scale exactly 1: ties k + 0.5 round to even.
    x[0] = [127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 3.5,
            -0.0, 0.49999997, 0.50000006, -127.0, 64.25, 100.75]
    # row 1: all zeros (scale 1.0), with a negative zero.
    x[1] = 0.0
    x[1, 3] = -0.0
    # row 2: one outlier, tiny values flush to code 0 (denormal included).
    x[2] = r.normal(0, 1e-3, C)
    x[2, 5] = 1.0e4
    x[2, 6] = 1e-40
    x[2, 7] = -1e-40
    # row 3: amax 15.875 -> scale 0.125 exactly; ties on the 1/16 grid.
    x[3] = [15.875, 0.0625, 0.1875, -0.3125, 0.4375, -15.875, 7.9375, 1.0,
            -0.0625, 0.3125, 5.5625, -5.4375, 0.0, 2.0, 3.0625, -3.1875]
    # rows 4, 5: random data, scales not powers of two.
    x[4] = r.normal(0, 2.0, C)
    x[5] = r.uniform(-300, 50, C)
    x = f32(x)
    t = TestFile("int8_per_channel.mlir", "int8 per-channel symmetric: i8, per_axis<0>",
                 ["scale = amax/127 per row (amax 0 -> 1), q = clamp(RNE(x/scale), -127, 127),",
                  "dequant = float(q) * scale. Rows: ties at scale 1, zero row with -0,",
                  "outlier with flushed denormals, ties at scale 1/8, random."])
    t.add("int8 per_axis<0>, 6x16", x, "i8, per_axis<0>", ref_int(x, ("axis0",), 8))
    # Per-channel along axis 1 (columns): the transposed layout.
    xt = f32(r.normal(0, 1, (4, 8)) * np.array([1, 10, 0.01, 100, 1e-3, 0, 5, 1])[None, :])
    xt[2, 3] = 0.5 * float(np.max(np.abs(xt[:, 3])))
    t.add("int8 per_axis<1>, 4x8", xt, "i8, per_axis<1>", ref_int_axis1(xt, 8))
    return t


def ref_int_axis1(x, bits):
    # per_axis<1> == per_axis<0> of the transpose.
    ref = ref_int(x.T.copy(), ("axis0",), bits)
    ref["codes"] = ref["codes"].T.copy()
    ref["deq"] = ref["deq"].T.copy()
    return ref


def case_int4_per_group():
    r = rng(2)
    R, C = 4, 64
    x = f32(r.normal(0, 1, (R, C)))
    # group (0,0): mn = -7, mx = 8 -> scale 1, zp 7; ties on x/scale.
    x[0, :32] = f32(r.uniform(-7, 8, 32))
    x[0, 0:10] = [-7.0, 8.0, 0.5, 1.5, 2.5, -0.5, -1.5, -3.5, 6.5, -0.0]
    # group (0,1): mn = -6.5, mx = 8.5 -> scale 1, zp = RNE(6.5) = 6 (a tie
    # to even: floor(6.5 + 0.5) would give 7).
    x[0, 32:64] = f32(r.uniform(-6.5, 8.5, 32))
    x[0, 32:38] = [-6.5, 8.5, 0.5, -0.5, 4.5, -5.5]
    # group (1,0): all positive -> mn = 0, zp 0.
    x[1, :32] = f32(r.uniform(0.1, 3.0, 32))
    # group (1,1): all negative -> mx = 0, zp 15.
    x[1, 32:] = f32(r.uniform(-5.0, -0.2, 32))
    # group (2,0): all zero (scale 1, zp 0) with a -0.
    x[2, :32] = 0.0
    x[2, 7] = -0.0
    # group (2,1): constant positive.
    x[2, 32:] = 0.3
    # group (3,0): outlier.
    x[3, :32] = f32(r.normal(0, 0.01, 32))
    x[3, 20] = -250.0
    # group (3,1): random wide range.
    x[3, 32:] = f32(r.uniform(-1e3, 2e3, 32))
    x = f32(x)
    t = TestFile("int4_per_group.mlir",
                 "int4 per-group asymmetric: ui4, per_group<[1 : 32]>, asymmetric",
                 ["mn = min(0, min x), mx = max(0, max x) per group; scale = (mx - mn)/15",
                  "(0 -> 1); zp = clamp(RNE(-mn/scale), 0, 15); q = clamp(RNE(x/scale) + zp,",
                  "0, 15); dequant = float(q - zp) * scale. Codes packed two per byte,",
                  "element 2i in the low nibble."])
    t.add("ui4 per_group<[1 : 32]> asymmetric, 4x64", x,
          "ui4, per_group<[1 : 32]>, asymmetric",
          ref_int(x, ("group1", 32), 4, signed=False, symmetric=False))
    return t


def case_fp8_per_tensor():
    r = rng(3)
    # Input A: amax 448 -> scale exactly 1: ties and subnormals of E4M3.
    a = np.zeros((4, 16), np.float32)
    a[0] = [448.0, -448.0, 1.0625, 1.1875, 17.0, 19.0, 1.0, -1.0625,
            240.0, 232.0, 248.0, 0.0, -0.0, 3.25, 3.375, 100.0]
    a[1] = [2.0 ** -9, 2.0 ** -10, 3 * 2.0 ** -10, 5 * 2.0 ** -10,
            2.0 ** -6, 15 * 2.0 ** -10, 2.0 ** -6 - 2.0 ** -11,
            -(2.0 ** -10), -(3 * 2.0 ** -10), 2.0 ** -11, 1e-30,
            7 * 2.0 ** -9, 7.5 * 2.0 ** -9, 0.0, 0.015625, 0.0146484375]
    a[2] = f32(r.normal(0, 30, 16))
    a[3] = f32(r.uniform(-448, 448, 16))
    a[3, 5] = np.nan
    a[3, 6] = 447.99
    a[3, 7] = -440.0
    a = f32(a)
    # Input B: random, scale = amax / 448 not a power of two.
    b = f32(r.normal(0, 1, (4, 16)) * 3.7)
    b[1, 2] = -13.3
    b[2, 9] = -0.0
    t = TestFile("fp8_e4m3_per_tensor.mlir",
                 "FP8 E4M3 per-tensor: f8E4M3FN, per_tensor",
                 ["scale = amax/448 (NaN ignored, 0 -> 1); q = e4m3 RNE saturating of",
                  "x/scale (NaN stays NaN); dequant = float(q) * scale."])
    t.add("f8E4M3FN per_tensor, scale 1 (ties, subnormals, NaN)", a,
          "f8E4M3FN, per_tensor", ref_float_f32scale(a, ("tensor",), E4M3))
    t.add("f8E4M3FN per_tensor, random", b, "f8E4M3FN, per_tensor",
          ref_float_f32scale(b, ("tensor",), E4M3))
    return t


def mx_input(seed, fmt):
    """[8, 64] = 16 blocks of 32 with the interesting MX cases (fmt None:
    MXINT8)."""
    r = rng(seed)
    emax = 0 if fmt is None else fmt.emax
    blocks = []
    # 0: amax = 2^emax -> X = 1: ties (midpoints) of the element grid.
    b0 = f32(r.uniform(-1, 1, 32)) * F32(2.0 ** emax)
    mids = tie_points(fmt)
    b0[0] = 2.0 ** emax
    b0[1:3] = [-0.0, 0.0]
    b0[3:3 + len(mids)] = mids
    blocks.append(b0)
    # 1: amax just below 2^(emax+1): saturates to max finite.
    b1 = f32(r.uniform(-1, 1, 32))
    b1[3] = np.nextafter(F32(2.0 ** (emax + 1)), F32(0))
    blocks.append(b1)
    # 2: amax = 0x1.fffffep+2 (log2f returns exactly 3.0 for it).
    b2 = f32(r.normal(0, 1, 32))
    b2[0] = np.float32.fromhex("0x1.fffffep+2") if hasattr(np.float32, "fromhex") \
        else F32(float.fromhex("0x1.fffffep+2"))
    blocks.append(b2)
    # 3: zero block (scale code 0).
    blocks.append(np.zeros(32, np.float32))
    # 4: scale clamped at 2^-127: amax 1.5*2^-126 -> shared_exp < -127.
    b4 = np.zeros(32, np.float32)
    b4[:8] = [1.5 * 2.0 ** -126, 2.0 ** -128, 0.75 * 2.0 ** -127, -(2.0 ** -127),
              2.0 ** -130, 1.25 * 2.0 ** -127, -1.5 * 2.0 ** -127, 2.0 ** -149]
    blocks.append(b4)
    # 5: outlier.
    b5 = f32(r.normal(0, 0.01, 32))
    b5[17] = -1000.0
    blocks.append(b5)
    # 6: +Inf in the block -> scale code 0xFF, the block decodes to NaN.
    b6 = f32(r.normal(0, 1, 32))
    b6[9] = np.inf
    blocks.append(b6)
    # 7: large magnitudes.
    blocks.append(f32(r.normal(0, 1e30, 32)))
    # 8..15: random blocks of assorted magnitudes.
    for k in range(8):
        blocks.append(f32(r.normal(0, 1, 32) * F32(10.0 ** r.integers(-6, 7))))
    return f32(np.concatenate(blocks).reshape(8, 64))


def tie_points(fmt):
    """Twelve midpoints between neighbouring element values (X = 1), alternating
    in sign, below max finite (MXINT8 when fmt is None: (k + 0.5) / 64)."""
    if fmt is None:
        ks = [0, 1, 2, 3, 5, 62, 63, 100, 125, 126, 10, 11]
        mids = [(k + 0.5) / 64 for k in ks]
    else:
        vals = np.unique(mf_decode(np.arange(0, 1 << (fmt.bits - 1)), fmt))
        vals = vals[np.isfinite(vals)]
        mids = (vals[:-1] + vals[1:]) / 2
        idx = np.unique(np.linspace(0, len(mids) - 1, 12).round().astype(int))
        mids = list(mids[idx])
    return [m if k % 2 == 0 else -m for k, m in enumerate(mids)]


def case_mxfp4():
    x = mx_input(4, E2M1)
    t = TestFile("mxfp4.mlir", "MXFP4: f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU",
                 ["E8M0 code = clamp(floor(log2 amax) - 2, -127, 127) + 127 (ilogb),",
                  "amax 0 -> 0x00 (2^-127), Inf/NaN in the block -> 0xFF (NaN);",
                  "q = e2m1 RNE saturating of x / 2^e; dequant = float(q) * 2^e."])
    t.add("mxfp4, 8x64", x, "f4E2M1FN, per_group<[1 : 32]>, scale = f8E8M0FNU",
          ref_mx(x, 32, E2M1), scale_elem="f8E8M0FNU")
    return t


def nvfp4_inputs():
    r = rng(5)
    # A: amax_tensor 2688 -> S = 1 exactly; block amax 6 -> block scale 1.
    a = f32(r.normal(0, 1, (4, 64)))
    a[0, :16] = [6.0, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, -0.75, -0.0,
                 0.0, -2.5, -5.0, 0.125, -6.0, 4.0]
    a[0, 16:32] = 0.0                      # zero block: scale 1.0
    # Blocks whose scale amax_b/6 underflows E4M3 (< 2^-10, or exactly 2^-10,
    # a tie to even 0) and so use code 1 (2^-9): their elements still
    # quantize to non-zero codes.
    a[0, 32:48] = f32(r.uniform(-0.005, 0.005, 16))
    a[0, 32] = 0.0055
    a[0, 33] = 0.0039
    a[0, 34] = -0.00293
    a[3, 48:64] = f32(r.uniform(-0.005, 0.005, 16))
    a[3, 50] = -6 * 2.0 ** -10
    a[1, 5] = 2688.0                       # tensor amax, scale saturates at 448
    a[1, 20] = 2000.0
    a[2, 16:32] = f32(r.uniform(-3, 3, 16)) * F32(2.0 ** -8)  # E4M3 subnormal scales
    a[3, 40] = -0.0
    # B: random with an outlier: nothing is a power of two.
    b = f32(r.normal(0, 1, (4, 64)) * F32(0.37))
    b[2, 33] = 91.3
    b[3, :16] = f32(r.normal(0, 1e-3, 16))
    b[1, 16:32] = 0.0
    plant_nvfp4_rounding_cases(b)
    return a, b


def e2m1_code(v):
    return int(mf_encode(np.array([v], np.float32), E2M1)[0][0])


def e4m3_code(v):
    return int(mf_encode(np.array([v], np.float32), E4M3)[0][0])


def plant_nvfp4_rounding_cases(b):
    """Values where ModelOpt's exact division form differs from the
    alternatives in the last bit: block (0, 1) gets an amax for which
    amax / (6 * S) and (amax / 6) / S round to different E4M3 scales; block
    (0, 2) gets elements for which x / s and x * (1 / s) round to different
    E2M1 codes."""
    S = F32(np.max(np.abs(b))) / F32(2688.0)
    six_s = F32(F32(6.0) * S)
    blk_max = np.max(np.abs(b[0, 16:32]))
    found = None
    for m in (16.5, 17.0, 19.0, 21.0, 23.0, 25.0, 27.0, 29.0, 30.0, 34.0, 36.0, 38.0):
        base = F32(F32(m) * six_s)
        for k in range(-40, 41):
            am = F32(base)
            for _ in range(abs(k)):
                am = np.nextafter(am, F32(np.inf) if k > 0 else F32(0))
            if am <= blk_max or am >= 91.0:
                continue
            if e4m3_code(F32(am / six_s)) != e4m3_code(F32(F32(am / F32(6.0)) / S)):
                found = am
                break
        if found is not None:
            break
    assert found is not None
    b[0, 20] = found
    # Block (0, 2): fix its amax, then plant ties perturbed by rounding.
    b[0, 32] = 2.0
    amax = F32(np.max(np.abs(b[0, 32:48])))
    sb = e4m3_code(F32(amax / six_s))
    sv = F32(mf_decode([sb], E4M3)[0] * S)
    inv = F32(F32(1) / sv)
    slot = 33
    for t in (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0):
        base = F32(F32(t) * sv)
        for k in range(-8, 9):
            x = base
            for _ in range(abs(k)):
                x = np.nextafter(x, F32(np.inf) if k > 0 else F32(0))
            if x >= 2.0:
                continue
            if e2m1_code(F32(x / sv)) != e2m1_code(F32(x * inv)):
                b[0, slot] = x
                slot += 1
                break
    assert slot > 33, "no reciprocal-sensitive element found"


def case_nvfp4():
    a, b = nvfp4_inputs()
    t = TestFile("nvfp4.mlir",
                 "NVFP4: f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale",
                 ["S = amax_tensor / 2688 (0 -> 1); s_b = e4m3 RNE saturating of",
                  "amax_b / (6 * S) (0 -> 1; an underflow to code 0 of a non-zero block",
                  "-> code 1); block scale = float(s_b) * S; q = e2m1(x / that);",
                  "dequant = float(q) * that."])
    scheme = "f4E2M1FN, per_group<[1 : 16]>, scale = f8E4M3FN, tensor_scale"
    t.add("nvfp4, S = 1 (ties, zero block, underflowing scale)", a, scheme,
          ref_nvfp4(a), scale_elem="f8E4M3FN")
    t.add("nvfp4, random with outlier", b, scheme, ref_nvfp4(b), scale_elem="f8E4M3FN")
    return t


# ----- extra cases ---------------------------------------------------------

def case_int2_packing():
    r = rng(6)
    # Last dim 7 (not a multiple of 4): the last byte of a row is padded.
    x = f32(r.normal(0, 1, (3, 7)))
    x[0] = [1.0, -1.0, 0.5, -0.5, 0.49, -0.51, 0.0]  # scale 1: ties to even (0)
    x[1] = 0.0
    x = f32(x)
    t = TestFile("int2_packing.mlir",
                 "int2 symmetric per-channel with a last dim of 7: i2, per_axis<0>",
                 ["qmax = 1, q in {-1, 0, 1}; four codes a byte, element 4k+i at bits",
                  "[2i, 2i+2), the last byte of every row zero-padded."])
    ref = ref_int(x, ("axis0",), 2)
    t.add("i2 per_axis<0>, 3x7", x, "i2, per_axis<0>", ref)
    # Print 21 elements 7 a row.
    return t


def case_mxint8():
    x = mx_input(7, None)
    t = TestFile("mxint8.mlir", "MXINT8: i8, per_group<[1 : 32]>, scale = f8E8M0FNU",
                 ["E8M0 code = clamp(floor(log2 amax) - 0, -127, 127) + 127;",
                  "q = clamp(RNE(x / 2^e * 64), -127, 127); dequant = q * 2^-6 * 2^e."])
    t.add("mxint8, 8x64", x, "i8, per_group<[1 : 32]>, scale = f8E8M0FNU",
          ref_int(x, ("group1", 32), 8, mxint8=True), scale_elem="f8E8M0FNU")
    return t


def case_fp8_no_saturate():
    r = rng(8)
    t = TestFile("fp8_no_saturate.mlir",
                 "FP8 with static scales, saturating and no_saturate: f8E5M2 and f8E4M3FN",
                 ["Static scale operands (1.0 and 0.5) so that x/scale can exceed max",
                  "finite: no_saturate gives Inf (E5M2) or NaN (E4M3FN), the default",
                  "saturates to +-max finite; NaN stays NaN; dequant = q * scale."])
    a = f32(r.normal(0, 100, (2, 16)))
    a[0, :16] = [57344.0, -57344.0, 61439.0, 61440.0, -61440.0, 1e6, np.inf, -np.inf,
                 np.nan, 1.125, 1.375, 2.0 ** -16, 2.0 ** -17, 3 * 2.0 ** -17, -0.0, 5e-6]
    a[1, :4] = [49152.0 + 4096.0, 59392.0, 59393.0, -60000.0]
    a = f32(a)
    one = f32(1.0)
    t.add("f8E5M2 per_tensor no_saturate, static scale 1", a,
          "f8E5M2, per_tensor, no_saturate",
          ref_float_f32scale(a, ("tensor",), E5M2, saturate=False, static=one),
          static_scale=one)
    t.add("f8E5M2 per_tensor saturating, static scale 1", a, "f8E5M2, per_tensor",
          ref_float_f32scale(a, ("tensor",), E5M2, static=one), static_scale=one)
    b = f32(r.normal(0, 100, (2, 16)))
    b[0, :12] = [224.0, 232.0, 232.05, -240.0, 1e4, np.inf, -np.inf, np.nan, 0.5625,
                 2.0 ** -10, -0.0, 223.9]
    b = f32(b)
    half = f32([0.5, 2.0])
    t.add("f8E4M3FN per_axis<0> no_saturate, static scales [0.5, 2]", b,
          "f8E4M3FN, per_axis<0>, no_saturate",
          ref_float_f32scale(b, ("axis0",), E4M3, saturate=False, static=half),
          static_scale=half)
    t.add("f8E4M3FN per_axis<0> saturating, static scales [0.5, 2]", b,
          "f8E4M3FN, per_axis<0>",
          ref_float_f32scale(b, ("axis0",), E4M3, static=half), static_scale=half)
    c = f32(r.normal(0, 1, (4, 16)) * np.array([1, 1e-4, 1e3, 0])[:, None])
    t.add("f8E5M2 per_axis<0>, dynamic", c, "f8E5M2, per_axis<0>",
          ref_float_f32scale(c, ("axis0",), E5M2))
    return t


def case_mxfp6():
    t = TestFile("mxfp6.mlir", "MXFP6 and MXFP8: f6E2M3FN, f6E3M2FN, f8E4M3FN, f8E5M2 "
                 "with per_group<[1 : 32]>, scale = f8E8M0FNU",
                 ["E8M0 code = clamp(floor(log2 amax) - emax_elem, -127, 127) + 127",
                  "(emax 2, 4, 8, 15); element RNE saturating; one code a byte."])
    for seed, fmt, name in [(9, E2M3, "f6E2M3FN"), (10, E3M2, "f6E3M2FN"),
                            (11, E4M3, "f8E4M3FN"), (12, E5M2, "f8E5M2")]:
        x = mx_input(seed, fmt)
        t.add("mx %s, 8x64" % name, x,
              "%s, per_group<[1 : 32]>, scale = f8E8M0FNU" % name,
              ref_mx(x, 32, fmt), scale_elem="f8E8M0FNU")
    return t


def case_ternary():
    r = rng(13)
    x = f32(r.normal(0, 1, (4, 32)))
    x[1] = 0.0
    x[2, :4] = [2.0, -2.0, 0.0, 0.0]
    x[2, 4:] = 0.0
    x = f32(x)
    t = TestFile("ternary.mlir", "BitNet b1.58 ternary: ternary, per_axis<0>",
                 ["gamma = max(mean |x|, 1e-5) per row (sum in order, f32);",
                  "q = clamp(RNE(x / gamma), -1, 1) in 2 bits; dequant = q * gamma."])
    t.add("ternary per_axis<0>, 4x32", x, "ternary, per_axis<0>",
          ref_int(x, ("axis0",), 2, ternary=True))
    return t


# ----- qmatmul, requantize, f16 expressed type ------------------------------

def ref_matmul(a, b):
    """a [M, K] @ b [K, N] as the lowering computes it: per output, acc = +0.0,
    then for k = 0, 1, ...: acc = f32(acc + f32(a[m, k] * b[k, n])), a
    separate rounding after the multiply and after the add (no FMA)."""
    a, b = f32(a), f32(b)
    M, K = a.shape
    N = b.shape[1]
    y = np.zeros((M, N), np.float32)
    with np.errstate(all="ignore"):
        for m in range(M):
            for n in range(N):
                acc = F32(0.0)
                for k in range(K):
                    acc = F32(acc + F32(a[m, k] * b[k, n]))
                y[m, n] = acc
    return y


def matmul_alternatives(a, b):
    """Results of plausible wrong accumulations: fused multiply-add
    (emulated: the exact product, one f64 rounding, then f32), decreasing k,
    f64 accumulation, and an initial -0.0. The inputs are chosen so that each
    differs from ref_matmul somewhere."""
    a, b = f32(a), f32(b)
    M, K = a.shape
    N = b.shape[1]
    alts = {k: np.zeros((M, N), np.float32) for k in ("fma", "reverse", "f64", "-0")}
    for m in range(M):
        for n in range(N):
            fma, rev, acc64, neg = F32(0.0), F32(0.0), 0.0, F32(-0.0)
            for k in range(K):
                fma = F32(float(a[m, k]) * float(b[k, n]) + float(fma))
                acc64 += float(a[m, k]) * float(b[k, n])
                neg = F32(neg + F32(a[m, k] * b[k, n]))
            for k in reversed(range(K)):
                rev = F32(rev + F32(a[m, k] * b[k, n]))
            alts["fma"][m, n], alts["reverse"][m, n] = fma, rev
            alts["f64"][m, n], alts["-0"][m, n] = F32(acc64), neg
    return alts


def assert_sensitive(a, b, y, names=("fma", "reverse", "f64", "-0")):
    alts = matmul_alternatives(a, b)
    for name in names:
        alt = alts[name]
        same = f32(alt).view(np.int32) == f32(y).view(np.int32)
        assert not np.all(same), "inputs do not tell %s accumulation apart" % name


def case_qmatmul():
    r = rng(14)
    M, K, N = 3, 64, 5
    t = TestFile("qmatmul.mlir",
                 "lowbit.qmatmul: f32 x int4 per-group weights ({transpose_b}) and W8A8",
                 ["Each quantized operand is dequantized to f32 (rules of the other",
                  "tests), then y[m, n] = sum over k in increasing order starting from",
                  "+0.0, acc = f32(acc + f32(a * b)): separate multiply and add, no FMA.",
                  "The generator asserts that the inputs tell FMA, decreasing-k and f64",
                  "accumulation (and in (a) a -0.0 start) apart from that order."])

    # (a) f32 activations x ui4 per-group asymmetric weights [N, K].
    x = f32(r.normal(0, 1, (M, K)))
    # Row 2: -0.0 for k < 32 and negative for k >= 32, against weight row 1
    # (non-negative group 0, all-zero group 1): every product is -0.0, so the
    # +0.0 start decides the sign of y[2, 1].
    x[2, :32] = -0.0
    x[2, 32:] = -np.abs(x[2, 32:]) - F32(0.01)
    w = f32(r.normal(0, 1, (N, K)))
    w[1, :32] = f32(r.uniform(0.1, 2.0, 32))
    w[1, 32:] = 0.0
    w[3, 40] = 25.0                      # an outlier group
    w[4, :32] = f32(r.uniform(-3.0, -0.5, 32))  # all-negative group
    w = f32(w)
    ws = "ui4, per_group<[1 : 32]>, asymmetric"
    wref = ref_int(w, ("group1", 32), 4, signed=False, symmetric=False)
    y = ref_matmul(x, wref["deq"].T)
    assert_sensitive(x, wref["deq"].T, y)
    assert y[2, 1] == 0 and not np.signbit(y[2, 1])
    wq, xt, wt, yt = qtype((N, K), ws), ttype((M, K), "f32"), ttype((N, K), "f32"), \
        ttype((M, N), "f32")
    t.body += ["", "  // (a) f32 [%d, %d] x %s [%d, %d] {transpose_b}" % (M, K, ws, N, K),
               "  %%xa = arith.constant %s : %s" % (dense_f32(x), xt),
               "  %%wa = arith.constant %s : %s" % (dense_f32(w), wt),
               "  %%qa = lowbit.quantize %%wa : %s -> %s" % (wt, wq),
               "  %%ya = lowbit.qmatmul %%xa, %%qa {transpose_b} : %s, %s -> %s" % (xt, wq, yt)]
    t.dump("%ya", (M, N))
    t.check("(a) weights quantized in the test", y)
    t.constant("%ca", wref, wq)
    t.body.append("  %%yca = lowbit.qmatmul %%xa, %%ca {transpose_b} : %s, %s -> %s"
                  % (xt, wq, yt))
    t.dump("%yca", (M, N))
    t.check("(a) weights as lowbit.constant of the reference parts", y)

    # (b) W8A8: i8 per_axis<0> activations [M, K] x i8 per_axis<1> weights
    # [K, N], both quantized in the test.
    a = f32(r.normal(0, 1, (M, K)) * np.array([1.0, 30.0, 1e-3])[:, None])
    a[0, 8] = -0.0
    b = f32(r.normal(0, 1, (K, N)) * np.array([1.0, 0.05, 200.0, 1.0, 3.0])[None, :])
    b[10, 3] = -40.0                     # outlier column
    b = f32(b)
    a = f32(a)
    aref = ref_int(a, ("axis0",), 8)
    bref = ref_int_axis1(b, 8)
    y = ref_matmul(aref["deq"], bref["deq"])
    assert_sensitive(aref["deq"], bref["deq"], y, ("fma", "reverse", "f64"))
    aq, bq = qtype((M, K), "i8, per_axis<0>"), qtype((K, N), "i8, per_axis<1>")
    at, bt = ttype((M, K), "f32"), ttype((K, N), "f32")
    t.body += ["", "  // (b) W8A8: i8 per_axis<0> [%d, %d] x i8 per_axis<1> [%d, %d]"
               % (M, K, K, N),
               "  %%xb = arith.constant %s : %s" % (dense_f32(a), at),
               "  %%wb = arith.constant %s : %s" % (dense_f32(b), bt),
               "  %%qxb = lowbit.quantize %%xb : %s -> %s" % (at, aq),
               "  %%qwb = lowbit.quantize %%wb : %s -> %s" % (bt, bq),
               "  %%yb = lowbit.qmatmul %%qxb, %%qwb : %s, %s -> %s" % (aq, bq, yt)]
    t.dump("%yb", (M, N))
    t.check("(b) W8A8, both quantized in the test", y)
    t.constant("%cxb", aref, aq)
    t.constant("%cwb", bref, bq)
    t.body.append("  %%ycb = lowbit.qmatmul %%cxb, %%cwb : %s, %s -> %s" % (aq, bq, yt))
    t.dump("%ycb", (M, N))
    t.check("(b) W8A8, both as lowbit.constant of the reference parts", y)
    return t


def case_requantize():
    r = rng(15)
    R, C = 4, 64
    x = f32(r.normal(0, 1, (R, C)))
    # Row 0: amax 127 -> i8 scale 1, so the i8 stage is exact on integers
    # and rounds the .5 values to even; group 0 (amax 14) gets i4 scale 2:
    # odd integers are ties of the second stage.
    x[0, :16] = [14.0, 1.0, 3.0, 5.0, -1.0, -3.0, 13.0, -13.0, 2.5, -2.5, 7.0,
                 9.0, -11.0, 0.0, -0.0, 6.0]
    x[0, 16:32] = f32(r.integers(-60, 61, 16))
    x[0, 20] = 127.0
    x[0, 32:48] = 0.0                    # zero group: i4 scale 1
    x[0, 48:64] = f32(r.uniform(-7, 7, 16))
    x[0, 48] = 7.0                       # i4 scale 1: .5 ties of both stages
    x[0, 49:53] = [0.5, 1.5, -2.5, 3.5]
    # Row 1: an outlier: most i8 codes are small, whole i4 groups go to 0.
    x[1, 40] = 500.0
    # Row 2: all zero (scale 1 in both stages).
    x[2] = 0.0
    x = f32(x)
    r8 = ref_int(x, ("axis0",), 8)
    r4 = ref_int(r8["deq"], ("group1", 16), 4)
    direct = ref_int(x, ("group1", 16), 4)["deq"]
    assert np.any(direct.view(np.int32) != r4["deq"].view(np.int32)), \
        "requantize result equals direct quantization: the i8 stage is not seen"
    s8, s4 = "i8, per_axis<0>", "i4, per_group<[1 : 16]>"
    t = TestFile("requantize.mlir",
                 "lowbit.requantize: i8, per_axis<0> -> i4, per_group<[1 : 16]>",
                 ["Dequantize to f32 (float(q) * s8), then quantize with dynamic scales:",
                  "s4 = amax / 7 per group of 16 (0 -> 1), q = clamp(RNE(y / s4), -7, 7).",
                  "Row 0 has ties in both stages; the generator asserts that the result",
                  "differs from quantizing x to i4 directly."])
    q8, q4, xt = qtype((R, C), s8), qtype((R, C), s4), ttype((R, C), "f32")
    t.body += ["", "  // %s -> %s" % (s8, s4),
               "  %%x = arith.constant %s : %s" % (dense_f32(x), xt),
               "  %%q8 = lowbit.quantize %%x : %s -> %s" % (xt, q8),
               "  %%y8 = lowbit.dequantize %%q8 : %s -> %s" % (q8, xt)]
    t.dump("%y8", (R, C))
    t.check("the i8 stage: quantize -> dequantize", r8["deq"])
    t.body += ["  %%q4 = lowbit.requantize %%q8 : %s -> %s" % (q8, q4),
               "  %%y4 = lowbit.dequantize %%q4 : %s -> %s" % (q4, xt)]
    t.dump("%y4", (R, C))
    t.check("quantize -> requantize -> dequantize", r4["deq"])
    t.constant("%c8", r8, q8)
    t.body += ["  %%r4 = lowbit.requantize %%c8 : %s -> %s" % (q8, q4),
               "  %%yr = lowbit.dequantize %%r4 : %s -> %s" % (q4, xt)]
    t.dump("%yr", (R, C))
    t.check("reference i8 parts -> requantize -> dequantize", r4["deq"])
    t.constant("%c4", r4, q4)
    t.body.append("  %%yc = lowbit.dequantize %%c4 : %s -> %s" % (q4, xt))
    t.dump("%yc", (R, C))
    t.check("reference i4 parts (packed, signed nibbles) -> dequantize", r4["deq"])
    return t


def to_f16(v):
    """f32 -> f16, round to nearest even (numpy's cast), overflow to Inf."""
    with np.errstate(all="ignore"):
        return f32(v).astype(np.float16)


def case_f16_expressed():
    r = rng(16)
    R, C = 4, 32
    x = np.zeros((R, C), np.float16)
    x[0] = r.normal(0, 10, C)
    x[0, 3] = np.nan                     # integer NaN -> code 0
    x[0, 4] = -0.0
    x[1] = r.uniform(-65504, 65504, C)
    x[1, 0] = -65504.0                   # f16 max finite
    x[2] = r.uniform(-2e-4, 2e-4, C)     # results land in the f16 subnormals
    x[2, 1] = 6e-8                       # f16 subnormal inputs
    x[2, 2] = -3e-6
    x[3] = 0.0
    x[3, 5] = -0.0
    x16 = x
    x32 = x16.astype(np.float32)         # exact
    ref = ref_int(x32, ("axis0",), 8)
    y16 = to_f16(ref["deq"])
    # Hand-picked parts whose f32 products are f16 rounding cases: ties to
    # even in the normal and subnormal ranges, overflow to Inf.
    scales = f32([1.0 + 2.0 ** -11, 2.0 ** -25, 516.0, 0.1])
    codes = np.zeros((R, C), np.int64)
    codes[0, :12] = [1, -1, 2, -2, 3, 5, 6, 127, -127, 0, 64, -65]
    codes[1, :16] = [0, 1, -1, 2, 3, 5, 7, 127, -127, -3, 9, 11, 13, 63, 65, -1]
    codes[2, :8] = [127, -127, 126, -126, 1, -1, 0, 64]
    codes[0, 12:] = r.integers(-127, 128, C - 12)
    codes[1, 16:] = r.integers(-127, 128, C - 16)
    codes[2, 8:] = r.integers(-127, 128, C - 8)
    codes[3] = r.integers(-127, 128, C)
    hdeq = f32(codes) * scales[:, None]
    hand = dict(codes=codes & 0xFF, scales=scales, zps=None, ts=None, deq=hdeq, width=8)
    h16 = to_f16(hdeq)
    # Plain truncation or ties-away would give other results here.
    assert np.isinf(h16[2, 0]) and h16[0, 0] == 1.0 and h16[1, 1] == 0 \
        and np.signbit(h16[1, 2]) and h16[1, 7] == np.float16(2.0 ** -18)

    scheme = "i8 : f16, per_axis<0>"
    qt, xt16, xt32 = qtype((R, C), scheme), ttype((R, C), "f16"), ttype((R, C), "f32")
    t = TestFile("f16_expressed.mlir",
                 "f16 expressed type: !lowbit.qtensor<4x32xi8 : f16, per_axis<0>>",
                 ["f16 inputs are extended to f32 (exact); scales, codes and",
                  "float(q) * s are f32 as for f32 inputs; the dequantized f32 value",
                  "is rounded to f16 (RNE, overflow to Inf). Results are printed",
                  "through arith.extf to f32."])
    def dense_f16(a):
        return "dense<%s>" % dense_nd(np.asarray(a, np.float16),
                                      lambda v: "0x%04X" % int(np.asarray(v).view(np.uint16)))
    t.body += ["", "  // quantize tensor<4x32xf16> -> dequantize to f16",
               "  %%x = arith.constant %s : %s" % (dense_f16(x16), xt16),
               "  %%q = lowbit.quantize %%x : %s -> %s" % (xt16, qt),
               "  %%y = lowbit.dequantize %%q : %s -> %s" % (qt, xt16),
               "  %%ye = arith.extf %%y : %s to %s" % (xt16, xt32)]
    t.dump("%ye", (R, C))
    t.check("quantize -> dequantize", y16.astype(np.float32))
    t.constant("%c", ref, qt)
    t.body += ["  %%v = lowbit.dequantize %%c : %s -> %s" % (qt, xt16),
               "  %%ve = arith.extf %%v : %s to %s" % (xt16, xt32)]
    t.dump("%ve", (R, C))
    t.check("reference parts -> dequantize", y16.astype(np.float32))
    t.constant("%h", hand, qt)
    t.body += ["  %%hv = lowbit.dequantize %%h : %s -> %s" % (qt, xt16),
               "  %%he = arith.extf %%hv : %s to %s" % (xt16, xt32)]
    t.dump("%he", (R, C))
    t.check("hand-picked codes and scales (f16 ties, subnormals, overflow) -> "
            "dequantize", h16.astype(np.float32))
    return t


def main():
    cases = [case_int8_per_channel, case_int4_per_group, case_fp8_per_tensor,
             case_mxfp4, case_nvfp4, case_int2_packing, case_mxint8,
             case_fp8_no_saturate, case_mxfp6, case_ternary, case_qmatmul,
             case_requantize, case_f16_expressed]
    for c in cases:
        t = c()
        t.write()
        print("wrote", t.name)


if __name__ == "__main__":
    main()
