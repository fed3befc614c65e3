# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""HQQ against an independent numpy transcription of mobiusml/hqq's
proximal solver (core/optimize.py, optimize_weights_proximal_legacy) as
lowbit adapts it to integer zero points (docs/Numerics.md, "Weight
algorithms"), and against round-to-nearest on the reconstruction error
mean |W - W_r| that HQQ minimises."""

import numpy as np
import pytest

import lowbit
from references import F32


def rtn_params(wg, bits):
    """lowbit's asymmetric scale and zero point of each group (last axis)."""
    qmax = (1 << bits) - 1
    lo = np.minimum(wg.min(-1), F32(0))
    hi = np.maximum(wg.max(-1), F32(0))
    s = ((hi - lo) / F32(qmax)).astype(F32)
    s = np.where(s == 0, F32(1), s).astype(F32)
    z = np.clip(np.rint(-lo / s), 0, qmax).astype(F32)
    return s, z, qmax


def shrink_lp(e, beta, p):
    """sign(e) relu(|e| - |e|^(p-1) / beta), in float32."""
    ae = np.abs(e)
    pm1 = np.float64(F32(p) - F32(1))
    with np.errstate(divide="ignore"):
        # The power in float64, rounded (as lowbit computes it).
        m = ae - F32(1.0 / beta) * np.power(ae.astype(np.float64),
                                            pm1).astype(F32)
    m = np.where(ae > 0, m, F32(0))
    return (np.sign(e) * np.maximum(m, F32(0))).astype(F32)


def ref_hqq(w, bits, g, iters=20, p=0.7, beta=10.0, kappa=1.01,
            early_stop=True, optimize_scale=True):
    """Returns (dequantized, codes, scales, zero points, errors, best)."""
    rows, cols = w.shape
    W = w.astype(F32).reshape(rows, cols // g, g)
    s, z, qmax = rtn_params(W, bits)
    best_err, best, errors = np.inf, 0, []
    best_s, best_z = s, z
    for it in range(iters + 1):
        q = np.clip(np.rint(W / s[..., None]) + z[..., None], 0, qmax)
        q = q.astype(F32)
        wr = ((q - z[..., None]) * s[..., None]).astype(F32)
        e = (W - wr).astype(F32)
        err = float(np.abs(e).astype(np.float64).sum() / W.size)
        errors.append(err)
        if err < best_err:
            best_err, best, best_s, best_z = err, it, s, z
        elif early_stop:
            break
        if it == iters:
            break
        t = (W - shrink_lp(e, beta, p)).astype(F32)
        # HQQ's zero-point step, rounded to a code.
        zf = (q - t / s[..., None]).astype(F32).astype(np.float64).mean(-1)
        z_new = np.clip(np.rint(zf.astype(F32)), 0, qmax).astype(F32)
        if optimize_scale:
            c = (q - z_new[..., None]).astype(np.float64)
            num = (t.astype(np.float64) * c).sum(-1)
            den = (c * c).sum(-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                cand = (num / den).astype(F32)
            ok = (den > 0) & np.isfinite(cand) & (cand > 0)
            s = np.where(ok, cand, s).astype(F32)
        z = z_new
        beta *= kappa
    q = np.clip(np.rint(W / best_s[..., None]) + best_z[..., None], 0, qmax)
    deq = ((q - best_z[..., None]) * best_s[..., None]).astype(F32)
    return (deq.reshape(rows, cols), q.astype(np.int32).reshape(rows, cols),
            best_s, best_z.astype(np.int32), errors, best)


def codes_of(q, bits, cols):
    """Unpacked unsigned codes of a QuantizedArray (4-bit: two per byte,
    element 2i in the low nibble; 3-bit: one byte each)."""
    c = np.asarray(q.codes)
    if bits == 4:
        out = np.empty(c.shape[:-1] + (2 * c.shape[-1],), np.int32)
        out[..., 0::2] = c & 0xF
        out[..., 1::2] = c >> 4
        return out[..., :cols]
    if bits == 2:
        out = np.stack([(c >> (2 * k)) & 3 for k in range(4)], -1)
        return out.reshape(c.shape[:-1] + (-1,))[..., :cols].astype(np.int32)
    return c.astype(np.int32)


def heavy_weights(seed, rows=128, cols=512, magnitude=0.02):
    rng = np.random.default_rng(seed)
    w = (rng.standard_t(4, (rows, cols)) * magnitude).astype(F32)
    w[3, :] = 0.0             # an all-zero row: RTN's scale 1.0, zp 0
    w[5, 64:128] = 0.25       # a constant group
    return w


def mean_abs_err(w, deq):
    return float(np.abs(w.astype(np.float64) - deq).mean())


def rtn(w, element, g):
    return lowbit.quantize_scheme(w, element, blocks=(1, g),
                                  asymmetric=True).dequantize()


# HQQ is not scale invariant: the shrinkage only acts on errors above
# beta^(-1 / (2 - p)) (0.17 with the defaults), so weights of magnitude 0.02
# (errors ~1e-3) get plain least-squares refits and larger ones the l_p
# shrinkage too; both regimes are covered.
CASES = [(4, 64, 0.02), (3, 64, 0.02), (4, 128, 0.02), (3, 128, 0.02),
         (2, 32, 0.02), (4, 64, 1.0), (3, 64, 0.3), (3, 128, 1.0)]


@pytest.mark.parametrize("bits,g,magnitude", CASES)
def test_hqq_matches_reference_and_beats_rtn(bits, g, magnitude):
    w = heavy_weights(bits * 1000 + g, magnitude=magnitude)
    element = "ui%d" % bits
    q, info = lowbit.hqq(w, element, group_size=g, return_info=True)
    got = q.dequantize()
    want, want_codes, want_s, want_z, want_errors, want_best = ref_hqq(
        w, bits, g)
    # Sums run in another order (and powf may differ in the last bit), so a
    # refitted scale can differ in its last bit and a code can flip.
    got_codes = codes_of(q, bits, w.shape[1])
    agree = np.mean(got_codes == want_codes)
    assert agree > 0.99, agree
    assert np.mean(np.asarray(q.zero_points) == want_z) > 0.99
    np.testing.assert_allclose(np.asarray(q.scales), want_s, rtol=1e-4)
    e_got, e_want = mean_abs_err(w, got), mean_abs_err(w, want)
    assert abs(e_got - e_want) <= 0.01 * e_want, (e_got, e_want)
    n = min(len(info["errors"]), len(want_errors))
    np.testing.assert_allclose(info["errors"][:n], want_errors[:n], rtol=1e-3)
    assert abs(int(info["best"]) - want_best) <= 1
    # The returned iterate is the best one and its error is what the
    # history says.
    assert info["best"] == int(np.argmin(info["errors"]))
    assert abs(e_got - info["errors"][info["best"]]) <= 1e-6 * e_got
    # HQQ lowers the reconstruction error below RTN's (RTN is iterate 0).
    e_rtn = mean_abs_err(w, rtn(w, element, g))
    assert info["errors"][0] == pytest.approx(e_rtn, rel=1e-6)
    limit = 0.985 if bits == 4 else 0.95
    assert e_got < limit * e_rtn, (e_got, e_rtn)
    # Storage is the scheme's own: (code - zp) * scale.
    scales = np.repeat(np.asarray(q.scales), g, axis=1)
    zps = np.repeat(np.asarray(q.zero_points), g, axis=1)
    np.testing.assert_array_equal(got, ((got_codes - zps) * scales).astype(F32))
    assert (got_codes >= 0).all() and (got_codes < (1 << bits)).all()
    assert (got[3] == 0).all()  # the zero row stays zero


def test_hqq_zero_point_only_stays_at_rtn():
    # With the scale fixed, an integer zero point only chooses which
    # multiples of the scale are representable: the reference's zero-point
    # step rounded to a code cannot improve on RTN (docs/Numerics.md).
    w = heavy_weights(7)
    for bits in (3, 4):
        element = "ui%d" % bits
        q = lowbit.hqq(w, element, group_size=64, optimize_scale=False)
        want = ref_hqq(w, bits, 64, optimize_scale=False)[0]
        np.testing.assert_array_equal(q.dequantize(), want)
        e_rtn = mean_abs_err(w, rtn(w, element, 64))
        assert mean_abs_err(w, q.dequantize()) == pytest.approx(e_rtn,
                                                                rel=1e-3)


def test_hqq_options():
    w = heavy_weights(11, rows=64, cols=256)
    # No iterations: RTN exactly.
    q0 = lowbit.hqq(w, "ui4", group_size=64, iters=0)
    np.testing.assert_array_equal(q0.dequantize(), rtn(w, "ui4", 64))
    # Without early stopping every iteration runs; the best is still kept.
    q, info = lowbit.hqq(w, "ui3", group_size=64, iters=30, early_stop=False,
                         return_info=True)
    assert len(info["errors"]) == 31
    want = ref_hqq(w, 3, 64, iters=30, early_stop=False)
    assert np.mean(codes_of(q, 3, 256) == want[1]) > 0.99
    # Per output channel (group_size 0) and other hyperparameters.
    q, info = lowbit.hqq(w, "ui4", group_size=0, lp_norm=1.0, beta=5.0,
                         kappa=1.05, return_info=True)
    want = ref_hqq(w, 4, 256, p=1.0, beta=5.0, kappa=1.05)
    assert np.mean(codes_of(q, 4, 256) == want[1]) > 0.99
    assert q.scales.shape == (64, 1)
    # f16 scales: every refitted scale is rounded to f16 storage.
    q16 = lowbit.hqq(w, "ui4", group_size=64, scale="f16")
    assert q16.scales.dtype == np.float16
    e16 = mean_abs_err(w, q16.dequantize())
    rtn16 = lowbit.quantize_scheme(w, "ui4", blocks=(1, 64), scale="f16",
                                   asymmetric=True).dequantize()
    assert e16 < 0.99 * mean_abs_err(w, rtn16)


def test_hqq_errors():
    w = heavy_weights(1, rows=8, cols=64)
    with pytest.raises(ValueError, match=r"w must be \[out, in\]"):
        lowbit.hqq(w[0], "ui4", group_size=32)
    bad = w.copy()
    bad[2, 3] = np.inf
    with pytest.raises(ValueError,
                       match=r"weight element \[2, 3\] is not finite"):
        lowbit.hqq(bad, "ui4", group_size=32)
    bad[2, 3] = np.nan
    with pytest.raises(ValueError,
                       match=r"weight element \[2, 3\] is not finite"):
        lowbit.hqq(bad, "ui4", group_size=32)
    with pytest.raises(ValueError, match="not a multiple"):
        lowbit.hqq(w, "ui4", group_size=48)
    with pytest.raises(ValueError, match="non-empty weight"):
        lowbit.hqq(np.zeros((0, 64), F32), "ui4", group_size=32)
    with pytest.raises(ValueError, match="asymmetric integer scheme"):
        lowbit.hqq(w, "f4e2m1fn", group_size=32)
    with pytest.raises(ValueError, match="asymmetric integer scheme"):
        lowbit.hqq(w, "ui4", group_size=32, scale="f8e8m0fnu")
    with pytest.raises(ValueError, match=r"lp_norm must be in \(0, 1\]"):
        lowbit.hqq(w, "ui4", group_size=32, lp_norm=0.0)
    with pytest.raises(ValueError, match="beta and kappa"):
        lowbit.hqq(w, "ui4", group_size=32, beta=-1.0)
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        lowbit.hqq(w, "ui4", group_size=32, iters=-1)
