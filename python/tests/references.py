# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Independent numpy references for lowbit's numerics, and comparison helpers.

Nothing here calls lowbit: every rule is written from the published
definitions (docs/Spec.md section 5, docs/Numerics.md, the OCP MX
specification, ModelOpt's NVFP4 code) over numpy float32 arithmetic and
ml_dtypes' conversions, so that a disagreement points at one of the two.
"""

import ml_dtypes
import numpy as np

F32 = np.float32

# name -> (numpy/ml_dtypes type, bits, max finite)
ELEMENT_TYPES = {
    "f16": (np.float16, 16, 65504.0),
    "bf16": (ml_dtypes.bfloat16, 16,
             float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)),
    "f8e4m3fn": (ml_dtypes.float8_e4m3fn, 8, 448.0),
    "f8e5m2": (ml_dtypes.float8_e5m2, 8, 57344.0),
    "f6e2m3fn": (ml_dtypes.float6_e2m3fn, 6, 7.5),
    "f6e3m2fn": (ml_dtypes.float6_e3m2fn, 6, 28.0),
    "f4e2m1fn": (ml_dtypes.float4_e2m1fn, 4, 6.0),
    "f8e8m0fnu": (ml_dtypes.float8_e8m0fnu, 8, 2.0**127),
}


def code_dtype(bits):
    return np.uint16 if bits > 8 else np.uint8


def all_codes(name):
    _, bits, _ = ELEMENT_TYPES[name]
    return np.arange(1 << bits, dtype=np.uint32).astype(code_dtype(bits))


def ref_decode(codes, name):
    """ml_dtypes' (numpy's for f16) decode of integer codes to float32."""
    t, bits, _ = ELEMENT_TYPES[name]
    return np.asarray(codes).astype(code_dtype(bits)).view(t).astype(F32)


def ref_encode(x, name, saturate):
    """ml_dtypes' conversion `x.astype(T)`, saturating as np.clip first."""
    t, bits, mx = ELEMENT_TYPES[name]
    x = np.asarray(x, F32)
    with np.errstate(all="ignore"):
        if saturate:
            x = np.clip(x, F32(-mx), F32(mx))
        return x.astype(t).view(code_dtype(bits))


def bits32(a):
    return np.ascontiguousarray(np.asarray(a, F32)).view(np.uint32)


def fhex(v):
    """A float32 as hex bits and value, for failure messages."""
    v = F32(v)
    return f"0x{int(np.array(v).view(np.uint32)):08X} ({float(v)!r})"


def _fmt(v):
    if isinstance(v, (np.floating, float)) or (
            isinstance(v, np.ndarray) and v.dtype == F32):
        return fhex(v)
    if isinstance(v, (np.integer, int)):
        return f"0x{int(v):X}"
    return repr(v)


def report(what, idx, inputs, expected, actual, limit=8):
    """A failure message naming the first mismatches, smallest |input| first
    when `inputs` is float."""
    idx = np.asarray(idx)
    if inputs is not None:
        flat_in = np.asarray(inputs).reshape(-1)
        if flat_in.dtype == F32:
            with np.errstate(all="ignore"):
                order = np.argsort(np.abs(flat_in[idx]), kind="stable")
            idx = idx[order]
    lines = [f"{what}: {idx.size} mismatches"]
    for i in idx[:limit]:
        line = f"  [{int(i)}]"
        if inputs is not None:
            line += f" input {_fmt(np.asarray(inputs).reshape(-1)[i])}"
        line += (f" expected {_fmt(np.asarray(expected).reshape(-1)[i])}"
                 f" actual {_fmt(np.asarray(actual).reshape(-1)[i])}")
        lines.append(line)
    return "\n".join(lines)


def assert_same_floats(actual, expected, inputs=None, what="values"):
    """float32 arrays equal bit for bit; any NaN matches any NaN."""
    actual = np.asarray(actual)
    expected = np.asarray(expected, F32)
    assert actual.dtype == F32, f"{what}: dtype {actual.dtype}, want float32"
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, want {expected.shape}")
    a, e = bits32(actual).reshape(-1), bits32(expected).reshape(-1)
    both_nan = np.isnan(actual).reshape(-1) & np.isnan(expected).reshape(-1)
    bad = np.nonzero((a != e) & ~both_nan)[0]
    assert bad.size == 0, report(what, bad, inputs, expected, actual)


def assert_same_ints(actual, expected, inputs=None, what="codes"):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, want {expected.shape}")
    bad = np.nonzero(actual.reshape(-1).astype(np.int64) !=
                     expected.reshape(-1).astype(np.int64))[0]
    assert bad.size == 0, report(what, bad, inputs, expected, actual)


def rows_of(x):
    x = np.asarray(x, F32)
    return x.reshape(-1, x.shape[-1])


def pack_nibbles(q):
    """Codes (rows, n) in 0..15 -> bytes (rows, ceil(n/2)), element 2i in the
    low nibble, a missing last high nibble 0."""
    q = np.asarray(q).astype(np.uint8) & 0xF
    if q.shape[-1] % 2:
        q = np.concatenate([q, np.zeros(q.shape[:-1] + (1,), np.uint8)], -1)
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


#===----------------------------------------------------------------------===#
# Integers (docs/Spec.md section 5)
#===----------------------------------------------------------------------===#


def ref_int(x, bits, group_size, asymmetric):
    """Returns (codes bytes per row, scales (rows, groups), zero points or
    None, dequantized) for lowbit's int8/int4 formats: symmetric iN with
    codes -qmax..qmax, or asymmetric uiN."""
    rows = rows_of(x)
    r, c = rows.shape
    g = group_size or c
    blocks = rows.reshape(r, c // g, g)
    with np.errstate(all="ignore"):
        if not asymmetric:
            qmax = (1 << (bits - 1)) - 1
            amax = np.abs(blocks).max(-1)
            # 1.0 when amax / qmax is zero in f32 (an all-zero block, or
            # one below qmax * 2^-149).
            scale = (amax / F32(qmax)).astype(F32)
            scale = np.where(scale == 0, F32(1), scale).astype(F32)
            q = np.clip(np.rint(blocks / scale[..., None]), -qmax, qmax)
            q = q.astype(np.int32)
            zp = None
            deq = q.astype(F32) * scale[..., None]
        else:
            qmin, qmax = 0, (1 << bits) - 1
            lo = np.minimum(blocks.min(-1), F32(0))
            hi = np.maximum(blocks.max(-1), F32(0))
            scale = ((hi - lo) / F32(qmax - qmin)).astype(F32)
            scale = np.where(scale == 0, F32(1), scale).astype(F32)
            zp = np.clip(qmin + np.rint(-lo / scale), qmin,
                         qmax).astype(np.int32)
            q = np.clip(np.rint(blocks / scale[..., None]) + zp[..., None],
                        qmin, qmax).astype(np.int32)
            deq = (q - zp[..., None]).astype(F32) * scale[..., None]
    q = q.reshape(r, c)
    if bits == 4:
        codes = pack_nibbles(q & 0xF)
    else:
        codes = (q & 0xFF).astype(np.uint8)
    return codes, scale, zp, deq.reshape(np.shape(x)).astype(F32)


#===----------------------------------------------------------------------===#
# OCP MX
#===----------------------------------------------------------------------===#

# format -> (element name or None for MXINT8, emax_elem)
MX_FORMATS = {
    "mxfp8_e4m3": ("f8e4m3fn", 8),
    "mxfp8_e5m2": ("f8e5m2", 15),
    "mxfp6_e2m3": ("f6e2m3fn", 2),
    "mxfp6_e3m2": ("f6e3m2fn", 4),
    "mxfp4": ("f4e2m1fn", 2),
    "mxint8": (None, 0),
}


def ref_mx(x, fmt):
    """Returns (codes bytes per row, scale codes (rows, blocks), dequantized,
    special (rows, blocks): blocks holding NaN/Inf, whose element codes the
    rule leaves open)."""
    elem, emax = MX_FORMATS[fmt]
    rows = rows_of(x)
    r, c = rows.shape
    blocks = rows.reshape(r, c // 32, 32)
    special = ~np.isfinite(blocks).all(-1)
    with np.errstate(all="ignore"):
        amax = np.abs(blocks).max(-1)
        _, e = np.frexp(np.where(special, F32(1), amax))
        # frexp: amax = m * 2^e, m in [0.5, 1): floor(log2 amax) = e - 1.
        shared = np.clip(e.astype(np.int64) - 1 - emax, -127, 127)
        shared = np.where(amax == 0, -127, shared)
        scale_codes = np.where(special, 255, shared + 127).astype(np.uint8)
        inv = np.exp2(-shared).astype(F32)[..., None]  # exact powers of two
        x_scaled = blocks * inv  # = x / 2^shared_exp, one rounding
        scale = np.exp2(shared).astype(F32)[..., None]
        if elem is None:
            q = np.clip(np.rint(x_scaled * F32(64)), -127, 127).astype(np.int32)
            codes = (q & 0xFF).astype(np.uint8).reshape(r, c)
            deq = (q.astype(F32) * F32(1.0 / 64)) * scale
        else:
            q = ref_encode(x_scaled, elem, saturate=True).astype(np.uint8)
            deq = ref_decode(q, elem) * scale
            q = q.reshape(r, c)
            codes = pack_nibbles(q) if elem == "f4e2m1fn" else q
        deq = np.where(special[..., None], F32(np.nan), deq).astype(F32)
    return codes, scale_codes, deq.reshape(np.shape(x)), special


#===----------------------------------------------------------------------===#
# NVFP4 (ModelOpt's division form)
#===----------------------------------------------------------------------===#


def ref_nvfp4(x):
    """Returns (codes bytes per row, scale codes (rows, blocks), tensor scale,
    dequantized). ModelOpt (nvfp4_tensor.py): S = amax/(6*448);
    s_b = e4m3(amax_b / (6*S)), zero blocks 1.0; q = fp4(x / (s_b*S));
    dequantized = fp4 value * (s_b*S). lowbit's documented choices on top:
    an all-zero tensor has S = 1.0, and a non-zero block whose s_b rounds to
    0 in E4M3 takes code 1 (2^-9)."""
    rows = rows_of(x)
    r, c = rows.shape
    blocks = rows.reshape(r, c // 16, 16)
    amax_t = F32(np.abs(rows).max())
    S = F32(amax_t / F32(6.0 * 448.0))
    S = S if S != 0 else F32(1.0)
    amax_b = np.abs(blocks).max(-1)
    with np.errstate(all="ignore"):
        sb = (amax_b / (F32(6.0) * S)).astype(F32)
    # ModelOpt: 1.0 when amax_b / (6 S) is zero in f32.
    sb = np.where(sb == 0, F32(1.0), sb).astype(F32)
    sb_codes = ref_encode(sb, "f8e4m3fn", saturate=False).astype(np.uint8)
    sb_codes = np.where(sb_codes == 0, 1, sb_codes).astype(np.uint8)
    denom = (ref_decode(sb_codes, "f8e4m3fn") * S).astype(F32)
    with np.errstate(all="ignore"):
        v = blocks / denom[..., None]
    q = ref_encode(v, "f4e2m1fn", saturate=True).astype(np.uint8)
    deq = ref_decode(q, "f4e2m1fn") * denom[..., None]
    return (pack_nibbles(q.reshape(r, c)), sb_codes, S,
            deq.reshape(np.shape(x)).astype(F32))
