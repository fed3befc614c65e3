# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""NVFP4 against ModelOpt's division form (references.ref_nvfp4):
S = amax/(6*448), s_b = e4m3(amax_b/(6*S)) (zero block 1.0),
q = fp4 RNE(x/(s_b*S)) saturating, packed (q[2i+1] << 4) | q[2i]."""

import numpy as np
import pytest

import lowbit
from references import (
    F32,
    assert_same_floats,
    assert_same_ints,
    fhex,
    ref_nvfp4,
)

FP4_TIES = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]


def check(x, q):
    codes, sb_codes, S, deq = ref_nvfp4(x)
    assert q.tensor_scale is not None
    assert F32(q.tensor_scale) == S, (
        f"tensor scale {fhex(q.tensor_scale)}, expected {fhex(S)}")
    assert q.scales.dtype == np.uint8
    assert q.scales.shape == x.shape[:-1] + (x.shape[-1] // 16,)
    assert_same_ints(q.scales.reshape(sb_codes.shape), sb_codes,
                     what="nvfp4 block scale codes")
    assert q.codes.shape == x.shape[:-1] + (x.shape[-1] // 2,)
    assert_same_ints(q.codes.reshape(codes.shape), codes,
                     what="nvfp4 codes")
    assert_same_floats(q.dequantize(), deq, inputs=x,
                       what="nvfp4 dequantized")
    assert q.zero_points is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nvfp4_random(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 64)) * 10.0 ** rng.integers(-4, 5, (8, 1))
    x = x.astype(F32)
    check(x, lowbit.quantize(x, "nvfp4"))
    assert_same_floats(lowbit.fake_quant(x, "nvfp4"),
                       lowbit.quantize(x, "nvfp4").dequantize())


def test_nvfp4_extreme_magnitudes():
    """Tensor amax near fp32's limits and blocks whose amax_b / (6 S)
    underflows fp32 (ModelOpt then uses s_b = 1.0)."""
    x = np.zeros((4, 32), F32)
    x[0, :16] = 3e38
    x[0, 16:] = 1e-30
    x[1] = np.linspace(-1e-44, 1e-44, 32)
    x[2, 3] = 1e-45
    x[3] = np.linspace(-2e-38, 2e-38, 32)
    check(x, lowbit.quantize(x, "nvfp4"))
    y = np.full((2, 16), 1e-41, F32)
    check(y, lowbit.quantize(y, "nvfp4"))


def test_nvfp4_ties_and_zero_blocks():
    """amax_tensor = 2688 makes S = 1; blocks with amax 6 and 12 get s_b = 1
    and 2, and their other elements sit on the fp4 ties."""
    ties = np.array(FP4_TIES + [-t for t in FP4_TIES] + [0.0, 6.0])
    blocks = [
        np.concatenate([[2688.0], np.zeros(15)]),
        np.concatenate([[6.0], ties[:15]]),
        np.concatenate([[-6.0], ties[1:16]]),
        np.concatenate([[12.0], 2 * ties[:15]]),
        np.zeros(16),                                   # zero block: 1.0
        np.concatenate([[6.375], np.full(15, -6.2)]),   # saturation at 6
        np.concatenate([[6.75], ties[:15] * 1.125]),
        np.full(16, 3.0),
    ]
    x = np.concatenate(blocks).reshape(2, 64).astype(F32)
    q = lowbit.quantize(x, "nvfp4")
    assert F32(q.tensor_scale) == F32(1.0)
    assert q.scales.reshape(-1)[4] == 0x38  # 1.0
    check(x, q)


def test_nvfp4_block_scale_underflow_uses_smallest_subnormal():
    """A non-zero block whose s_b rounds to 0 in E4M3 takes code 1 (2^-9)
    (docs/Spec.md section 5; ModelOpt would divide by zero)."""
    x = np.zeros((1, 64), F32)
    x[0, 0] = 2688.0                     # S = 1
    x[0, 16:20] = [6 * 2.0**-11, -3 * 2.0**-11, 2.0**-12, 0.0]  # ratio 2^-11
    x[0, 32:34] = [6 * 2.0**-10, 2.0**-10]  # ratio 2^-10: tie to 0
    x[0, 48] = 6 * 2.0**-13
    q = lowbit.quantize(x, "nvfp4")
    assert q.scales.reshape(-1).tolist()[1:] == [1, 1, 1]
    check(x, q)


def test_nvfp4_all_zero_tensor():
    x = np.zeros((2, 32), F32)
    q = lowbit.quantize(x, "nvfp4")
    assert F32(q.tensor_scale) == F32(1.0)
    assert (q.scales == 0x38).all() and (q.codes == 0).all()
    check(x, q)


def test_nvfp4_rank3():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 32)).astype(F32)
    check(x, lowbit.quantize(x, "nvfp4"))
