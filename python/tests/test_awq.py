# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""AWQ against an independent numpy transcription of mit-han-lab/llm-awq's
scale search (auto_scale.py) and clip search (auto_clip.py) on one linear
layer, with lowbit's scale rules (docs/Spec.md section 5), and against
round-to-nearest on the output error on held-out activations."""

import numpy as np
import pytest

import lowbit
from references import F32


def rtn_fq(w, bits, g, asym):
    """lowbit's round-to-nearest fake quantization of [rows, cols] with
    groups of g along the last axis."""
    rows, cols = w.shape
    W = w.astype(F32).reshape(rows, cols // g, g)
    if asym:
        qmax = (1 << bits) - 1
        lo = np.minimum(W.min(-1), F32(0))
        hi = np.maximum(W.max(-1), F32(0))
        s = ((hi - lo) / F32(qmax)).astype(F32)
        s = np.where(s == 0, F32(1), s).astype(F32)
        z = np.clip(np.rint(-lo / s), 0, qmax).astype(F32)
        q = np.clip(np.rint(W / s[..., None]) + z[..., None], 0, qmax)
        out = (q - z[..., None]) * s[..., None]
    else:
        qmax = (1 << (bits - 1)) - 1
        s = (np.abs(W).max(-1) / F32(qmax)).astype(F32)
        s = np.where(s == 0, F32(1), s).astype(F32)
        q = np.clip(np.rint(W / s[..., None]), -qmax, qmax)
        out = q * s[..., None]
    return out.astype(F32).reshape(rows, cols)


def ref_awq(w, x, bits, g, asym=True, n_grid=20, clip_grid=20,
            max_shrink=0.5, clip_tokens=512, x_mean_abs=None):
    """Returns (dequantized W diag(s) after clipping, s, alpha, losses,
    clip steps [rows, groups])."""
    rows, cols = w.shape
    w = w.astype(F32)
    x = x.astype(F32)
    x64 = x.astype(np.float64)
    sx = (np.abs(x64).mean(0).astype(F32) if x_mean_abs is None
          else x_mean_abs.astype(F32))
    # auto_scale: grid over alpha, loss = mean((x w^T - x (Q(w s)/s)^T)^2).
    losses, best, best_s, alpha = [], np.inf, None, None
    for i in range(n_grid):
        a = F32(i / n_grid)
        # s_x^alpha in float64, rounded (as lowbit computes it).
        s = np.power(sx.astype(np.float64), np.float64(a)).astype(F32)
        s = np.maximum(s, F32(1e-4)).astype(F32)
        s = (s / np.sqrt(s.max() * s.min())).astype(F32)
        wd = (rtn_fq(w * s, bits, g, asym) / s).astype(F32)
        d = (w - wd).astype(np.float64)
        loss = float(np.mean((x64 @ d.T) ** 2))
        losses.append(loss)
        if loss < best:
            best, best_s, alpha = loss, s, float(a)
    s = best_s
    ws = (w * s).astype(F32)
    # auto_clip: per (row, group), max_val = amax (1 - i / n_grid).
    groups = cols // g
    stride = max(1, x.shape[0] // clip_tokens)
    xs = (x[::stride] / s).astype(F32).astype(np.float64)
    amax = np.abs(ws).reshape(rows, groups, g).max(-1)
    min_err = np.full((rows, groups), np.inf)
    best_max = amax.copy()
    steps = np.zeros((rows, groups), np.int32)
    for i in range(int(max_shrink * clip_grid)):
        mv = (amax * F32(1 - i / clip_grid)).astype(F32)
        m = np.repeat(mv, g, axis=1)
        wc = np.clip(ws, -m, m)
        d = (ws - rtn_fq(wc, bits, g, asym)).astype(np.float64)
        for gi in range(groups):
            sl = slice(gi * g, (gi + 1) * g)
            err = np.mean((xs[:, sl] @ d[:, sl].T) ** 2, axis=0)
            better = err < min_err[:, gi]
            min_err[better, gi] = err[better]
            best_max[better, gi] = mv[better, gi]
            steps[better, gi] = i
    m = np.repeat(best_max, g, axis=1)
    final = rtn_fq(np.clip(ws, -m, m), bits, g, asym)
    return final, s, alpha, np.array(losses), steps


def layer(seed, rows=128, cols=512, tokens=2048, heldout=1024):
    """A layer whose inputs have a few salient (large, consistently active)
    channels and correlated, heavy-tailed noise, and Student-t weights."""
    rng = np.random.default_rng(seed)
    n = tokens + heldout
    mix = (rng.standard_normal((cols, cols)) * (0.3 / np.sqrt(cols))
           + np.eye(cols))
    x = rng.standard_t(6, (n, cols)) @ mix
    x *= np.exp(rng.normal(0, 0.5, cols))  # log-normal channel scales
    salient = rng.choice(cols, 6, replace=False)
    x[:, salient] = x[:, salient] * 12 + 8 * np.sign(rng.standard_normal(6))
    x = x.astype(F32)
    w = (rng.standard_t(5, (rows, cols)) * 0.02).astype(F32)
    return w, x[:tokens], x[tokens:]


def rel_err(x, w, wq, s=None):
    y = x.astype(np.float64) @ w.T.astype(np.float64)
    xs = x if s is None else (x / s).astype(F32)
    yq = xs.astype(np.float64) @ wq.T.astype(np.float64)
    return float(np.linalg.norm(y - yq) / np.linalg.norm(y))


CASES = [(4, 128, True), (3, 128, True), (4, 64, False), (3, 0, True)]


@pytest.mark.parametrize("bits,g,asym", CASES)
def test_awq_matches_reference_and_beats_rtn(bits, g, asym):
    w, x, xh = layer(bits * 100 + g + asym)
    element = ("ui%d" if asym else "i%d") % bits
    q, s, info = lowbit.awq(w, x, element, group_size=g, asymmetric=asym,
                            return_info=True)
    gs = g or w.shape[1]
    want, want_s, want_alpha, want_losses, want_steps = ref_awq(
        w, x, bits, gs, asym)
    # The same alpha and scales, the losses within 1% (lowbit's products are
    # fp32 sgemm, the reference's float64).
    assert info["alpha"] == pytest.approx(want_alpha)
    np.testing.assert_array_equal(s, want_s)
    np.testing.assert_allclose(info["losses"], want_losses, rtol=0.01)
    # The same clip in (nearly) every group, and (nearly) the same codes.
    assert np.mean(info["clip_steps"] == want_steps) > 0.99
    got = q.dequantize()
    assert np.mean(got == want) > 0.99
    assert q.shape == w.shape
    # Better than RTN on held-out activations.
    e_awq = rel_err(xh, w, got, s)
    e_want = rel_err(xh, w, want, want_s)
    assert abs(e_awq - e_want) <= 0.01 * e_want
    rtn = lowbit.quantize_scheme(w, element, blocks=(1, gs),
                                 asymmetric=asym).dequantize()
    e_rtn = rel_err(xh, w, rtn)
    assert e_awq < 0.8 * e_rtn, (e_awq, e_rtn)
    # The search itself: alpha 0 is RTN (s = 1), and the chosen alpha's
    # calibration loss is the grid's minimum.
    assert want_alpha > 0
    assert info["losses"][int(round(info["alpha"] * 20))] == min(info["losses"])


def test_awq_without_searches_is_rtn():
    w, x, _ = layer(5, rows=64, cols=256, tokens=512)
    q, s = lowbit.awq(w, x, "ui4", group_size=64, search_scale=False,
                      clip=False)
    assert (s == 1).all()
    rtn = lowbit.quantize_scheme(w, "ui4", blocks=(1, 64), asymmetric=True)
    np.testing.assert_array_equal(q.dequantize(), rtn.dequantize())
    np.testing.assert_array_equal(q.codes, rtn.codes)
    # Clip only: never worse than RTN on the (sampled) calibration tokens
    # per group, since shrink step 0 is no clipping.
    q, s, info = lowbit.awq(w, x, "ui4", group_size=64, search_scale=False,
                            return_info=True)
    want = ref_awq(w, x, 4, 64, n_grid=1)
    np.testing.assert_array_equal(info["clip_steps"], want[4])
    assert info["clip_steps"].shape == (64, 4)
    assert info["clip_steps"].max() < 10


def test_awq_options():
    w, x, xh = layer(9, rows=64, cols=256, tokens=600)
    # An explicit mean |x| equal to the computed one changes nothing.
    m = np.abs(x.astype(np.float64)).mean(0).astype(F32)
    a = lowbit.awq(w, x, "ui4", group_size=64)
    b = lowbit.awq(w, x, "ui4", group_size=64, x_mean_abs=m)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0].codes, b[0].codes)
    # Another statistic (max |x|) is honoured.
    mx = np.abs(x).max(0)
    q, s, info = lowbit.awq(w, x, "ui4", group_size=64, x_mean_abs=mx,
                            return_info=True)
    want = ref_awq(w, x, 4, 64, x_mean_abs=mx)
    np.testing.assert_array_equal(s, want[1])
    # Fewer tokens than clip_tokens: every row is sampled; other grids.
    q, s, info = lowbit.awq(w, x, "ui3", group_size=64, n_grid=10,
                            clip_grid=10, max_shrink=0.3, clip_tokens=100,
                            return_info=True)
    want = ref_awq(w, x, 3, 64, n_grid=10, clip_grid=10, max_shrink=0.3,
                   clip_tokens=100)
    assert info["alpha"] == pytest.approx(want[2])
    assert len(info["losses"]) == 10
    assert np.mean(info["clip_steps"] == want[4]) > 0.99
    assert info["clip_steps"].max() <= 2
    # The returned tensor is the scheme's own layout.
    assert q.scales.shape == (64, 4) and q.zero_points.shape == (64, 4)


def test_awq_errors():
    w, x, _ = layer(1, rows=8, cols=64, tokens=32, heldout=1)
    with pytest.raises(ValueError, match=r"w must be \[out, in\] and x"):
        lowbit.awq(w, x[:, :32], "ui4", group_size=32)
    with pytest.raises(ValueError, match=r"w must be \[out, in\] and x"):
        lowbit.awq(w[0], x, "ui4", group_size=32)
    with pytest.raises(ValueError, match="at least one calibration token"):
        lowbit.awq(w, x[:0], "ui4", group_size=32)
    with pytest.raises(ValueError, match="non-empty weight"):
        lowbit.awq(w[:0], x, "ui4", group_size=32)
    bad = w.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError,
                       match=r"weight element \[2, 3\] is not finite"):
        lowbit.awq(bad, x, "ui4", group_size=32)
    badx = x.copy()
    badx[4, 5] = np.inf
    with pytest.raises(ValueError,
                       match=r"activation element \[4, 5\] is not finite"):
        lowbit.awq(w, badx, "ui4", group_size=32)
    with pytest.raises(ValueError, match="not a multiple"):
        lowbit.awq(w, x, "ui4", group_size=48)
    with pytest.raises(ValueError, match="per-block scales"):
        lowbit.awq(w, x, "f8e4m3fn", group_size=32, asymmetric=False,
                   scale="none")
    with pytest.raises(ValueError, match="one value per input channel"):
        lowbit.awq(w, x, "ui4", group_size=32, x_mean_abs=np.ones(3, F32))
    with pytest.raises(ValueError, match="negative or not finite"):
        lowbit.awq(w, x, "ui4", group_size=32,
                   x_mean_abs=-np.ones(64, F32))
    with pytest.raises(ValueError, match=r"max_shrink must be in \[0, 1\)"):
        lowbit.awq(w, x, "ui4", group_size=32, max_shrink=1.0)
    with pytest.raises(ValueError, match="asymmetric"):
        lowbit.awq(w, x, "ui4", group_size=32, asymmetric=False)


def test_smoothquant_scales():
    # The other activation-aware per-channel scale (mit-han-lab/smoothquant
    # smooth.py), the library function the lowbit-smooth-activations pass uses.
    rng = np.random.default_rng(3)
    xmax = np.abs(rng.standard_normal(64)).astype(F32) * 10
    wmax = np.abs(rng.standard_normal(64)).astype(F32) * 0.1
    xmax[3], wmax[5] = 0.0, 0.0
    for alpha in (0.5, 0.8):
        s = lowbit.smoothquant_scales(xmax, wmax, alpha)
        a = F32(alpha)
        want = (np.power(xmax, a) /
                np.power(np.maximum(wmax, F32(1e-5)), F32(1) - a))
        want = np.maximum(want, F32(1e-5))
        assert s.dtype == np.float32 and s.shape == (64,)
        np.testing.assert_allclose(s, want, rtol=1e-6)
    assert lowbit.smoothquant_scales(xmax, wmax)[3] == F32(1e-5)
    with pytest.raises(ValueError, match="same length"):
        lowbit.smoothquant_scales(xmax, wmax[:10])
