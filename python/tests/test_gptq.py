# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""GPTQ against an independent numpy transcription of IST-DASLab/gptq's
`fasterquant` loop (with lowbit's scale rules, docs/Spec.md section 5), and
against round-to-nearest on the layer-output proxy loss tr(E H E^T)."""

import numpy as np
import pytest

import lowbit
from references import F32


def params(block, bits, asymmetric):
    """lowbit's per-row scale (and zero point) of a [rows, g] block."""
    if not asymmetric:
        qmax = (1 << (bits - 1)) - 1
        s = (np.abs(block).max(1) / F32(qmax)).astype(F32)
        s = np.where(s == 0, F32(1), s).astype(F32)
        return s, np.zeros_like(s, dtype=np.int32), -qmax, qmax
    qmax = (1 << bits) - 1
    lo = np.minimum(block.min(1), F32(0))
    hi = np.maximum(block.max(1), F32(0))
    s = ((hi - lo) / F32(qmax)).astype(F32)
    s = np.where(s == 0, F32(1), s).astype(F32)
    zp = np.clip(np.rint(-lo / s), 0, qmax).astype(np.int32)
    return s, zp, 0, qmax


def quant(col, s, zp, qmin, qmax):
    q = np.clip(np.rint(col / s) + zp, qmin, qmax)
    return ((q - zp) * s).astype(F32), q.astype(np.int32)


def ref_gptq(w, h, bits, g, asymmetric, act_order=False, static=False,
             damp=0.01, bs=128):
    W = w.astype(F32).copy()
    H = h.astype(F32).copy()
    rows, cols = W.shape
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    g = g or cols
    groups = [params(W[:, k:k + g], bits, asymmetric)
              for k in range(0, cols, g)] if (static or g == cols) else None
    perm = np.arange(cols)
    if act_order:
        perm = np.argsort(-np.diag(H), kind="stable")
        W, H = W[:, perm], H[perm][:, perm]
    H = H + np.eye(cols, dtype=F32) * F32(damp * np.mean(np.diag(H)))
    Hinv = np.linalg.inv(H.astype(np.float64))
    U = np.linalg.cholesky(Hinv).T.astype(F32)  # upper: Hinv = U^T U
    Q = np.zeros_like(W)
    codes = np.zeros(W.shape, np.int32)
    cur = None
    for i1 in range(0, cols, bs):
        i2 = min(i1 + bs, cols)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        for i in range(i2 - i1):
            j = i1 + i
            if groups is not None:
                cur = groups[perm[j] // g]
            elif j % g == 0:
                cur = params(W[:, j:j + g], bits, asymmetric)
            q, c = quant(W1[:, i], *cur)
            Q[:, j], codes[:, j] = q, c
            err = (W1[:, i] - q) / U[j, j]
            W1[:, i + 1:] -= np.outer(err, U[j, j + 1:i2])
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    inv = np.argsort(perm)
    return Q[:, inv], codes[:, inv]


def proxy_loss(w, q, h):
    e = (w - q).astype(np.float64)
    return float(np.einsum("ij,jk,ik->", e, h.astype(np.float64), e))


def layer(seed, rows=96, cols=256, tokens=1024):
    rng = np.random.default_rng(seed)
    # Correlated, heavy-tailed inputs with a few large channels: where
    # GPTQ's error feedback pays off.
    mix = rng.standard_normal((cols, cols)) * 0.2 + np.eye(cols)
    x = rng.standard_t(5, (tokens, cols)) @ mix
    x[:, rng.choice(cols, 4, replace=False)] *= 8.0
    x = x.astype(F32)
    w = (rng.standard_normal((rows, cols)) * 0.05).astype(F32)
    w[:, 7] = 0.0
    x[:, 11] = 0.0  # a dead input channel
    h = (x.T.astype(np.float64) @ x).astype(F32)
    return w, h


CASES = [
    (4, 128, False, False, False),
    (4, 128, True, False, False),
    (4, 0, False, False, False),
    (3, 64, True, False, False),
    (4, 64, False, True, True),
    (8, 128, False, False, False),
]


@pytest.mark.parametrize("bits,g,asym,act_order,static", CASES)
def test_gptq_matches_reference_and_beats_rtn(bits, g, asym, act_order,
                                              static):
    w, h = layer(bits * 100 + g)
    element = ("ui%d" if asym else "i%d") % bits
    q = lowbit.gptq(w, h, element, group_size=g, asymmetric=asym,
                    act_order=act_order, static_groups=static)
    got = q.dequantize()
    want, want_codes = ref_gptq(w, h, bits, g, asym, act_order, static)
    # The reference inverts in float64 and multiplies with numpy, lowbit in
    # float32 through LAPACK/BLAS: rounding differs (a scale may differ in
    # its last bit, a code may flip), so compare codes and the loss.
    gs = g or w.shape[1]
    scales = np.repeat(q.scales.astype(F32), gs, axis=1)
    zps = (np.repeat(q.zero_points, gs, axis=1) if asym
           else np.zeros(w.shape, np.int32))
    got_codes = np.rint(got / scales).astype(np.int32) + zps
    agree = np.mean(got_codes == want_codes)
    assert agree > 0.99, agree
    l_got, l_want = proxy_loss(w, got, h), proxy_loss(w, want, h)
    assert abs(l_got - l_want) <= 0.02 * l_want, (l_got, l_want)
    # GPTQ beats round-to-nearest with the same scheme.
    blocks = (1, g or w.shape[1])
    rtn = lowbit.quantize_scheme(w, element, blocks=blocks,
                                 asymmetric=asym).dequantize()
    l_rtn = proxy_loss(w, rtn, h)
    assert l_got < 0.9 * l_rtn, (l_got, l_rtn)
    # Storage is the scheme's own: requantizing with the returned scales
    # reproduces the values exactly.
    assert q.shape == w.shape
    assert np.isfinite(got).all()
    assert (got[:, 11] == 0).all()  # dead column


def test_gptq_errors():
    w, h = layer(1, rows=8, cols=64, tokens=64)
    with pytest.raises(ValueError, match="static groups"):
        lowbit.gptq(w, h, "i4", group_size=32, act_order=True)
    with pytest.raises(ValueError, match=r"w must be \[out, in\]"):
        lowbit.gptq(w, h[:32, :32], "i4")
    bad = w.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError,
                       match=r"weight element \[2, 3\] is not finite"):
        lowbit.gptq(bad, h, "i4", group_size=32)
    with pytest.raises(ValueError, match="not a multiple"):
        lowbit.gptq(w, h, "i4", group_size=48)
    # A zero Hessian is fully dead: every weight quantizes to zero.
    q = lowbit.gptq(w, np.zeros_like(h), "i4", group_size=32)
    assert (q.dequantize() == 0).all()
