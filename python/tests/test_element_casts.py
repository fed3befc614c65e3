# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Element casts (lowbit.cast / lowbit.decode, i.e. encodeElement and
decodeElement) against ml_dtypes and numpy: every code of every format
decoded, and a large fp32 set encoded in plain and saturating mode."""

import numpy as np
import pytest

import lowbit
from references import (
    ELEMENT_TYPES,
    F32,
    all_codes,
    assert_same_floats,
    assert_same_ints,
    ref_decode,
    ref_encode,
)

ALL_TYPES = list(ELEMENT_TYPES)
FLOAT_TYPES = [t for t in ALL_TYPES if t != "f8e8m0fnu"]


def canonical_nans(bits):
    """Random uint32 patterns with every NaN replaced by the canonical quiet
    NaN of its sign (payloads are outside the contract)."""
    bits = bits.astype(np.uint32)
    f = bits.view(F32)
    nan = np.isnan(f)
    return np.where(nan, (bits & np.uint32(0x80000000)) | np.uint32(0x7FC00000),
                    bits).astype(np.uint32).view(F32)


def representable_points(name):
    """Every positive finite value of the format, every midpoint between
    neighbours (ties), half the smallest value, and the points past the
    largest value (the overflow tie and beyond): exact in fp32."""
    dec = ref_decode(all_codes(name), name)
    pos = np.unique(dec[np.isfinite(dec) & (dec > 0)]).astype(np.float64)
    mids = (pos[:-1] + pos[1:]) / 2
    top_ulp = pos[-1] - pos[-2]
    extra = np.array([pos[0] / 2, pos[-1] + top_ulp / 2, pos[-1] + top_ulp,
                      pos[-1] * 1.5, pos[-1] * 2])
    pts = np.concatenate([pos, mids, extra])
    with np.errstate(over="ignore"):
        f = pts.astype(F32)
    finite = np.isfinite(f)
    # The points that fit fp32 are exact there (the test relies on it).
    assert np.array_equal(f[finite].astype(np.float64), pts[finite])
    return f[finite]


def encode_inputs(name, seed=1234):
    rng = np.random.default_rng(seed)
    parts = []
    # 1. Random fp32 bit patterns (all exponents, subnormals included).
    parts.append(canonical_nans(rng.integers(0, 1 << 32, 300_000,
                                             dtype=np.uint64)))
    # 2. Random fp32 values over the format's range and a few binades
    # beyond it on both sides.
    pts = representable_points(name)
    lo = max(int(np.floor(np.log2(pts.min()))) - 4, -149)
    hi = min(int(np.floor(np.log2(pts.max()))) + 3, 127)
    n = 300_000
    mant = rng.integers(0, 1 << 23, n).astype(np.float64)
    exps = rng.integers(lo, hi + 1, n)
    with np.errstate(over="ignore"):
        vals = np.ldexp(1 + mant / (1 << 23), exps).astype(F32)
    sign = np.where(rng.integers(0, 2, n) == 1, F32(-1), F32(1))
    parts.append(vals * sign)
    # 3. Each representable value, midpoint and overflow point, and its fp32
    # neighbours on both sides, with both signs.
    with np.errstate(over="ignore"):
        near = np.concatenate([pts, np.nextafter(pts, F32(np.inf)),
                               np.nextafter(pts, F32(0))])
    parts += [near, -near]
    # 4. Specials and fp32 extremes.
    fi = np.finfo(F32)
    specials = np.array([0.0, np.inf, np.nan, fi.max, fi.tiny,
                         fi.smallest_subnormal, 2 * fi.smallest_subnormal,
                         np.nextafter(fi.tiny, F32(0)), 1.0, 0.5], F32)
    parts += [specials, -specials]
    return np.concatenate(parts).astype(F32)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_decode_every_code(name):
    codes = all_codes(name)
    actual = lowbit.decode(codes, name)
    assert_same_floats(actual, ref_decode(codes, name), inputs=codes,
                       what=f"decode {name}")


@pytest.mark.parametrize("name", ALL_TYPES)
def test_encode_plain(name):
    """saturate=False: exactly numpy's/ml_dtypes' `x.astype(T)`."""
    x = encode_inputs(name)
    actual = lowbit.cast(x, name, saturate=False)
    assert actual.dtype == (np.uint16 if ELEMENT_TYPES[name][1] > 8
                            else np.uint8)
    assert_same_ints(actual, ref_encode(x, name, saturate=False), inputs=x,
                     what=f"cast {name} (plain)")


@pytest.mark.parametrize("name", FLOAT_TYPES)
def test_encode_saturating(name):
    """saturate=True: `np.clip(x, -max, max).astype(T)`: overflow and +-Inf
    become +-max finite, NaN stays what the plain cast makes of it."""
    x = encode_inputs(name, seed=99)
    actual = lowbit.cast(x, name)  # saturating is the default
    assert_same_ints(actual, ref_encode(x, name, saturate=True), inputs=x,
                     what=f"cast {name} (saturating)")


def test_e8m0_saturating_documented():
    """encodeE8M0 with saturate (Numerics.h): +0 -> 0x00, overflow and +Inf
    -> 0xFE; NaN and negatives stay 0xFF; everything else as plain."""
    fi = np.finfo(F32)
    x = np.array([0.0, np.inf, fi.max, 1.5 * 2.0**127, 2.0**127, 1.0, 0.75,
                  2.0**-127, 2.0**-140, np.nan, -1.0], F32)
    want = [0x00, 0xFE, 0xFE, 0xFE, 0xFE, 0x7F, 0x7F, 0x00, 0x00, 0xFF, 0xFF]
    assert_same_ints(lowbit.cast(x, "f8e8m0fnu", saturate=True),
                     np.array(want, np.uint8), inputs=x, what="e8m0 saturate")


def test_e8m0_subnormals_round_to_nearest():
    """fp32 subnormals round like normal inputs (docs/Numerics.md): below
    1.5 * 2^-127 the nearest E8M0 value is 2^-127 (0x00), from it on 2^-126
    (0x01). Independent of the installed ml_dtypes (before 0.7.0 it rounded
    every subnormal above 2^-127 up)."""
    bits = np.array([0x00000001, 0x003FFFFF, 0x00400000, 0x00400001,
                     0x004000AC, 0x005FFFFF, 0x00600000, 0x007FFFFF],
                    np.uint32)
    want = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01]
    x = bits.view(F32)
    for saturate in (False, True):
        assert_same_ints(lowbit.cast(x, "f8e8m0fnu", saturate=saturate),
                         np.array(want, np.uint8), inputs=x,
                         what="e8m0 subnormals")


@pytest.mark.parametrize("name", FLOAT_TYPES)
def test_decode_encode_roundtrip(name):
    """Every non-NaN code survives decode then encode (either mode)."""
    codes = all_codes(name)
    values = lowbit.decode(codes, name)
    keep = ~np.isnan(values)
    for saturate in (False, True):
        back = lowbit.cast(values[keep], name, saturate=saturate)
        if saturate:
            # Saturating turns +-Inf (E5M2, f16, bf16) into +-max.
            inf = np.isinf(values[keep])
            assert_same_ints(back[~inf], codes[keep][~inf],
                             inputs=values[keep][~inf], what=name)
        else:
            assert_same_ints(back, codes[keep], inputs=values[keep], what=name)
