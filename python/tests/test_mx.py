# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""OCP MX formats against the numpy reference of the spec rule
(references.ref_mx): shared_exp from the exact fp32 exponent of the block
amax minus emax_elem, clamped to [-127, 127]; elements are ml_dtypes' RNE
saturating casts of x / 2^shared_exp; MXINT8 q = clip(RNE(x * 2^-e * 64))."""

import numpy as np
import pytest

import lowbit
from references import (
    F32,
    MX_FORMATS,
    all_codes,
    assert_same_floats,
    assert_same_ints,
    ref_decode,
    ref_mx,
)

FORMATS = list(MX_FORMATS)


def element_points(fmt):
    """Positive finite element values and the midpoints between them."""
    elem, _ = MX_FORMATS[fmt]
    if elem is None:  # MXINT8: k/64 and (k + 1/2)/64
        k = np.arange(128, dtype=np.float64)
        return np.concatenate([k / 64, (k[:-1] + 0.5) / 64])
    dec = ref_decode(all_codes(elem), elem)
    pos = np.unique(dec[np.isfinite(dec) & (dec > 0)]).astype(np.float64)
    return np.concatenate([pos, (pos[:-1] + pos[1:]) / 2, [pos[0] / 2]])


def tie_blocks(fmt, shift):
    """Blocks whose amax is in [2^emax, 2^(emax+1)) (shared_exp = shift
    after scaling by 2^shift) and whose elements are every element value,
    every midpoint (ties, subnormal ones included) and values past the
    largest element, with both signs."""
    _, emax = MX_FORMATS[fmt]
    pts = element_points(fmt)
    # Past the largest element but below 2^(emax+1): saturates.
    top = pts.max()
    pts = np.concatenate([pts, [(top + 2.0**(emax + 1)) / 2,
                                np.nextafter(2.0**(emax + 1), 0)]])
    vals = np.concatenate([pts, -pts])
    n = -(-vals.size // 31)
    vals = np.resize(vals, n * 31).reshape(n, 31)
    head = np.full((n, 1), 2.0**emax)
    head[1::2] *= -1
    return (np.concatenate([head, vals], axis=1) * 2.0**shift).astype(F32)


def random_blocks(rng, n, lo_exp, hi_exp):
    """Random blocks whose amax is 2^u, u uniform in [lo_exp, hi_exp]."""
    v = rng.standard_normal((n, 32))
    v /= np.abs(v).max(axis=1, keepdims=True)
    return (v * 2.0 ** rng.uniform(lo_exp, hi_exp, (n, 1))).astype(F32)


def make_input(fmt, seed):
    rng = np.random.default_rng(seed)
    _, emax = MX_FORMATS[fmt]
    fi = np.finfo(F32)
    blocks = [
        random_blocks(rng, 64, -30, 30),
        tie_blocks(fmt, 0),
        tie_blocks(fmt, -7),
        tie_blocks(fmt, 11),
        # Just below the next binade: 0x40FFFFFF = 7.9999995 has exponent 2
        # (floorf(log2f(x)) says 3), and every format's 2^(emax+1)^-.
        np.full((1, 32), np.float32(7.9999995), F32),
        np.concatenate([[np.float32(7.9999995)],
                        rng.uniform(-8, 8, 31)]).astype(F32)[None],
        np.full((1, 32), np.nextafter(F32(2.0**(emax + 1)), F32(0)), F32),
        # Zero blocks, with and without negative zeros.
        np.zeros((1, 32), F32),
        np.where(np.arange(32) % 2 == 0, F32(0.0), F32(-0.0))[None],
        # Scale clamp at the bottom: amax ~ 2^-130 .. 2^-149 (fp32
        # subnormals), shared_exp clamps to -127.
        random_blocks(rng, 4, -131, -127),
        random_blocks(rng, 4, -141, -138),
        np.full((1, 32), fi.smallest_subnormal, F32),
        # Top of the fp32 range: amax ~ 2^127 (MXINT8 reaches the clamp).
        random_blocks(rng, 4, 126, 127.9),
        np.full((1, 32), fi.max, F32),
        np.concatenate([[fi.max], rng.standard_normal(31)]).astype(F32)[None],
    ]
    x = np.concatenate(blocks, axis=0).astype(F32)
    # Rows of 4 blocks (128 columns): pad to a multiple of 4 blocks with
    # random ones.
    pad = (-x.shape[0]) % 4
    if pad:
        x = np.concatenate([x, random_blocks(rng, pad, -5, 5)])
    return x.reshape(-1, 128)


def check(x, fmt, q):
    codes, scale_codes, deq, special = ref_mx(x, fmt)
    assert q.scales.dtype == np.uint8
    assert q.scales.shape == x.shape[:-1] + (x.shape[-1] // 32,)
    assert_same_ints(q.scales.reshape(scale_codes.shape), scale_codes,
                     what=f"{fmt} scale codes")
    rows = codes.shape[0]
    actual = q.codes.reshape(rows, -1)
    # Element codes of NaN/Inf blocks are left open by the rule.
    per_block = actual.shape[1] // special.shape[1]
    keep = ~np.repeat(special, per_block, axis=1)
    assert_same_ints(np.where(keep, actual, 0), np.where(keep, codes, 0),
                     what=f"{fmt} element codes")
    assert_same_floats(q.dequantize(), deq, inputs=x,
                       what=f"{fmt} dequantized")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mx_matches_reference(fmt):
    x = make_input(fmt, seed=len(fmt))
    q = lowbit.quantize(x, fmt)
    assert q.zero_points is None and q.tensor_scale is None
    check(x, fmt, q)
    assert_same_floats(lowbit.fake_quant(x, fmt), q.dequantize())


@pytest.mark.parametrize("fmt", FORMATS)
def test_mx_floor_log2_from_exponent_bits(fmt):
    """amax = 7.9999995 (0x40FFFFFF): ilogb is 2; floorf(log2f(x)) = 3
    would halve every element."""
    _, emax = MX_FORMATS[fmt]
    x = np.full((1, 32), np.float32(7.9999995), F32)
    q = lowbit.quantize(x, fmt)
    assert int(q.scales[0, 0]) == 127 + 2 - emax
    check(x, fmt, q)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_mx_nonfinite_block(fmt, bad):
    """A NaN or Inf in a block gives the block scale 0xFF (NaN) and the
    whole block dequantizes to NaN; other blocks are untouched."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 64)).astype(F32)
    x[0, 40] = bad
    q = lowbit.quantize(x, fmt)
    assert q.scales.tolist()[0][1] == 0xFF
    out = q.dequantize()
    assert np.isnan(out[0, 32:]).all()
    assert not np.isnan(out[0, :32]).any() and not np.isnan(out[1]).any()
    check(x, fmt, q)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mx_scale_clamps(fmt):
    """shared_exp clamps to [-127, 127]: amax 2^-140 gives scale code 0,
    amax = FLT_MAX gives 127 + 127 - emax_elem (MXINT8: 254)."""
    _, emax = MX_FORMATS[fmt]
    x = np.zeros((2, 32), F32)
    x[0, 0] = 2.0**-140
    x[1, 0] = np.finfo(F32).max
    x[1, 1] = -1.0
    q = lowbit.quantize(x, fmt)
    assert q.scales.reshape(-1).tolist() == [0, 127 + 127 - emax]
    check(x, fmt, q)
