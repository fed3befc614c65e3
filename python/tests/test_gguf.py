# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""GGUF block formats against gguf-py 0.19.0 (gguf.quants), whose numpy
quantizers follow llama.cpp's reference quantizers (ggml-quants.c) in their
non-FMA form: quantize byte for byte where gguf-py has a quantizer, and
dequantize lowbit's own bytes with gguf-py for every format."""

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

import lowbit
from references import F32, assert_same_floats, assert_same_ints

GGUF = {
    "q4_0": T.Q4_0,
    "q4_1": T.Q4_1,
    "q5_0": T.Q5_0,
    "q5_1": T.Q5_1,
    "q8_0": T.Q8_0,
    "q2_k": T.Q2_K,
    "q3_k": T.Q3_K,
    "q4_k": T.Q4_K,
    "q5_k": T.Q5_K,
    "q6_k": T.Q6_K,
    "gguf_mxfp4": T.MXFP4,
    "iq4_nl": T.IQ4_NL,
    "iq4_xs": T.IQ4_XS,
    "tq1_0": T.TQ1_0,
    "tq2_0": T.TQ2_0,
}
# gguf-py 0.19.0 has numpy quantizers for these (none for the K-quants and
# the iq4 formats).
WITH_QUANTIZER = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "gguf_mxfp4",
                  "tq1_0", "tq2_0"]


def tie_rows(fmt):
    """Rows of 256 whose 32-blocks hit exact ties of the format's rounding:
    the block's scale makes x * id land on k + 1/2 (or on the midpoint
    between two E2M1 values for MXFP4)."""
    k = np.arange(31, dtype=np.float64)
    if fmt == "q8_0":       # d = 127/127 = 1: roundf ties away from zero
        blocks = [np.concatenate([[127.0], (k - 15) + 0.5]),
                  np.concatenate([[-127.0], -(k - 15) - 0.5])]
    elif fmt in ("q4_0", "q5_0"):  # max = -8 (or -16): d = 1, id = 1
        m = 8.0 if fmt == "q4_0" else 16.0
        blocks = [np.concatenate([[-m], np.resize(np.arange(-m, m) + 0.5, 31)]),
                  np.concatenate([[m], np.resize(np.arange(-m, m) + 0.5, 31)])]
    elif fmt in ("q4_1", "q5_1"):  # min 0, max 15 (31): d = 1
        top = 15.0 if fmt == "q4_1" else 31.0
        blocks = [np.concatenate([[0.0, top],
                                  np.resize(np.arange(int(top)) + 0.5, 30)])]
    elif fmt == "gguf_mxfp4":  # amax 6 -> e = 2 - 2 + 127, d = 1
        mids = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]
        vals = np.resize(mids + [-m for m in mids], 31)
        blocks = [np.concatenate([[6.0], vals]),
                  np.concatenate([[-6.0], vals * 0.5])]
    else:
        blocks = [np.zeros(32)]
    row = np.resize(np.concatenate(blocks), 256)
    return np.stack([row, row * 0.125, -row])


def make_input(fmt, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for e in (-6, -3, 0, 2, 4):
        rows.append(rng.standard_normal(256) * 10.0**e)
    rows.append(rng.uniform(0.0, 1.0, 256))            # non-negative
    rows.append(-rng.uniform(0.0, 1.0, 256))           # non-positive
    neg_max = rng.standard_normal(256)
    neg_max[::32] = -8.0                               # negative max |x|
    rows.append(neg_max)
    first_wins = rng.uniform(-1, 1, 256)
    first_wins[3::32], first_wins[17::32] = -2.0, 2.0  # equal |x|: first wins
    rows.append(first_wins)
    first_wins2 = rng.uniform(-1, 1, 256)
    first_wins2[3::32], first_wins2[17::32] = 2.0, -2.0
    rows.append(first_wins2)
    rows.append(np.zeros(256))                         # zero row
    sparse = np.zeros(256)
    sparse[5::64] = rng.standard_normal(4)             # mostly zero blocks
    rows.append(sparse)
    consts = np.repeat(rng.uniform(-3, 3, 8), 32)      # constant blocks
    rows.append(consts)
    # Block maxima just below powers of two (MXFP4's log2f exponent).
    pow2 = rng.uniform(-0.5, 0.5, 256)
    pow2[::32] = [np.nextafter(F32(2.0**k), F32(0)) for k in range(-6, 10, 2)]
    rows.append(pow2)
    x = np.concatenate([np.array(rows), tie_rows(fmt)]).astype(F32)
    return x


@pytest.mark.parametrize("fmt", WITH_QUANTIZER)
def test_gguf_quantize_matches_gguf_py(fmt):
    x = make_input(fmt, seed=3)
    q = lowbit.quantize(x, fmt)
    expected = quants.quantize(x, GGUF[fmt])
    assert q.scales is None and q.zero_points is None
    assert q.codes.shape == expected.shape
    block_elems, block_bytes = quants.GGML_QUANT_SIZES[GGUF[fmt]]
    # Compare block by block so a failure names the block.
    actual_blocks = q.codes.reshape(-1, block_bytes)
    expected_blocks = expected.reshape(-1, block_bytes)
    bad = np.nonzero((actual_blocks != expected_blocks).any(axis=1))[0]
    if bad.size:
        b = int(bad[0])
        per_row = x.shape[1] // block_elems
        row, col = divmod(b, per_row)
        block = x[row, col * block_elems:(col + 1) * block_elems]
        pytest.fail(
            f"{fmt}: {bad.size} of {len(actual_blocks)} blocks differ; first "
            f"is row {row} block {col}:\n  input {block.tolist()}\n"
            f"  gguf-py {expected_blocks[b].tobytes().hex()}\n"
            f"  lowbit  {actual_blocks[b].tobytes().hex()}")


@pytest.mark.parametrize("fmt", list(GGUF))
def test_gguf_dequantize_matches_gguf_py(fmt):
    x = make_input(fmt, seed=4)
    q = lowbit.quantize(x, fmt)
    expected = quants.dequantize(np.ascontiguousarray(q.codes), GGUF[fmt])
    assert_same_floats(q.dequantize(), expected.astype(F32), inputs=x,
                       what=f"{fmt} dequantize")


@pytest.mark.parametrize("fmt", list(GGUF))
def test_gguf_layout(fmt):
    """Codes are llama.cpp's block structs, row after row."""
    x = np.random.default_rng(9).standard_normal((3, 512)).astype(F32)
    q = lowbit.quantize(x, fmt)
    block, size = quants.GGML_QUANT_SIZES[GGUF[fmt]]
    assert q.codes.dtype == np.uint8
    assert q.codes.shape == (3, 512 // block * size)
    assert q.nbytes == 3 * 512 // block * size
    assert q.tobytes() == q.codes.tobytes()
    # A row's bytes depend only on that row.
    assert_same_ints(lowbit.quantize(x[1:2], fmt).codes[0], q.codes[1])


def test_gguf_py_version():
    """The references above are gguf-py 0.19.0's (lowbit.sh installs it)."""
    from importlib.metadata import version

    assert version("gguf") == "0.19.0"
