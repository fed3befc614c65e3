# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""int8/int4 formats (symmetric and asymmetric, per row and per group)
against the numpy reference of docs/Spec.md section 5 (references.ref_int):
codes, scales and zero points exactly, dequantized values bit for bit."""

import numpy as np
import pytest

import lowbit
from references import F32, assert_same_floats, assert_same_ints, ref_int


def special_block(kind, g, bits, asymmetric, rng):
    qmax = (1 << (bits - 1)) - 1
    umax = (1 << bits) - 1
    if kind == "random":
        return rng.standard_normal(g) * 10.0 ** rng.integers(-6, 7)
    if kind == "const":
        return np.full(g, 0.3)
    if kind == "negconst":
        return np.full(g, -0.3)
    if kind == "zero":
        return np.zeros(g)
    if kind == "positive":
        return rng.uniform(0.5, 3.0, g)
    if kind == "negative":
        return -rng.uniform(0.5, 3.0, g)
    if kind in ("ties", "ties_scaled"):
        unit = 1.0 if kind == "ties" else 2.0**-3
        if not asymmetric:
            # amax = qmax * unit gives scale = unit exactly; x / scale then
            # lands on k + 1/2.
            ties = np.concatenate([np.arange(qmax) + 0.5,
                                   -(np.arange(qmax) + 0.5)])
            head = [qmax]
        else:
            # min = -2, max = umax - 2: scale = unit, zero point 2; x / scale
            # lands on k + 1/2 (negative too).
            ties = np.concatenate([np.arange(umax - 3) + 0.5, [-0.5, -1.5]])
            head = [umax - 2, -2]
        vals = np.resize(ties, g - len(head))
        return np.concatenate([head, vals]) * unit
    if kind == "subnormal":
        return rng.standard_normal(g) * 1e-39
    if kind == "huge":
        return rng.standard_normal(g) * 1e36
    raise AssertionError(kind)


KINDS = ["random", "const", "negconst", "zero", "positive", "negative",
         "ties", "ties_scaled", "subnormal", "huge"]


def make_input(g, cols, bits, asymmetric, seed):
    """Rows of `cols` whose blocks of `g` cycle through every kind of block,
    plus fully random rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for start in range(len(KINDS)):
        row = [special_block(KINDS[(start + b) % len(KINDS)], g, bits,
                             asymmetric, rng) for b in range(cols // g)]
        rows.append(np.concatenate(row))
    for _ in range(6):
        rows.append(rng.standard_normal(cols) * 10.0 ** rng.integers(-3, 4))
    # Extremes: subnormal blocks (the scale underflows to 0 in f32 below
    # qmax * 2^-149, and then is 1.0), a subnormal constant, near-max values.
    rows.append(rng.standard_normal(cols) * 1e-44)
    rows.append(np.full(cols, 1.469e-39))
    rows.append(rng.uniform(-1, 1, cols) * 3e38)
    return np.array(rows, dtype=F32)


CASES = [(bits, asym, g) for bits in (8, 4) for asym in (False, True)
         for g in (0, 32, 128)]


@pytest.mark.parametrize("bits,asymmetric,group_size", CASES)
def test_int_matches_reference(bits, asymmetric, group_size):
    fmt = f"int{bits}"
    cols = 256
    g = group_size or cols
    x = make_input(g, cols, bits, asymmetric, seed=bits * 10 + group_size)
    q = lowbit.quantize(x, fmt, group_size=group_size, asymmetric=asymmetric)
    codes, scales, zps, deq = ref_int(x, bits, group_size, asymmetric)
    what = f"{fmt} g={group_size} asym={asymmetric}"

    assert q.format == fmt and q.shape == x.shape
    assert q.codes.dtype == np.uint8
    assert_same_ints(q.codes, codes, what=what + " codes")
    assert q.scales.dtype == np.float32
    assert q.scales.shape == (x.shape[0], cols // g)
    assert_same_floats(q.scales, scales, what=what + " scales")
    if asymmetric:
        assert q.zero_points is not None and q.zero_points.dtype == np.int32
        assert_same_ints(q.zero_points, zps, what=what + " zero points")
    else:
        assert q.zero_points is None
    assert q.tensor_scale is None
    out = q.dequantize()
    assert_same_floats(out, deq, inputs=x, what=what + " dequantized")
    assert_same_floats(lowbit.fake_quant(x, fmt, group_size=group_size,
                                         asymmetric=asymmetric),
                       deq, inputs=x, what=what + " fake_quant")


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_int_rank3_groups(bits, asymmetric):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 64)).astype(F32)
    q = lowbit.quantize(x, f"int{bits}", group_size=32, asymmetric=asymmetric)
    codes, scales, zps, deq = ref_int(x, bits, 32, asymmetric)
    assert q.codes.shape == (2, 3, 64 * bits // 8)
    assert_same_ints(q.codes.reshape(6, -1), codes)
    assert q.scales.shape == (2, 3, 2)
    assert_same_floats(q.scales.reshape(6, 2), scales)
    if asymmetric:
        assert q.zero_points.shape == (2, 3, 2)
        assert_same_ints(q.zero_points.reshape(6, 2), zps)
    assert_same_floats(q.dequantize(), deq, inputs=x)


def test_int4_odd_row_is_padded():
    """Rows of an odd length pad to whole bytes with a zero high nibble."""
    x = np.array([[1.0, -2.0, 3.0, -7.0, 7.0],
                  [0.5, 0.0, -0.25, 0.125, 1.0]], F32)
    q = lowbit.quantize(x, "int4")
    codes, scales, _, deq = ref_int(x, 4, 0, False)
    assert q.codes.shape == (2, 3)
    assert_same_ints(q.codes, codes)
    assert int(q.codes[0, 2]) >> 4 == 0
    assert_same_floats(q.scales.reshape(2, 1), scales)
    assert_same_floats(q.dequantize(), deq, inputs=x)


def test_int8_exact_ties_round_to_even():
    """amax 127 gives scale 1.0 and x/1 = k + 0.5 rounds to even."""
    x = np.array([[127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5]], F32)
    q = lowbit.quantize(x, "int8")
    assert float(q.scales.reshape(-1)[0]) == 1.0
    assert q.codes.view(np.int8).tolist() == [[127, 0, 2, 2, 0, -2, -2, 126]]


def test_int_constant_block_asymmetric():
    """Asymmetric: the range always includes 0, so a constant positive block
    has zero point 0 and every code at qmax."""
    x = np.full((1, 32), 0.3, F32)
    q = lowbit.quantize(x, "int4", asymmetric=True)
    assert int(q.zero_points.reshape(-1)[0]) == 0
    assert set(q.codes.reshape(-1).tolist()) == {0xFF}
    assert_same_floats(q.dequantize(), ref_int(x, 4, 0, True)[3])
