#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""lowbit quality bench: output error of the weight algorithms on a synthetic
transformer block (bench/README.md, "quality.py").

Four linear layers shaped like one block of a small LLM (hidden 1024, MLP
2816): q_proj and o_proj [1024, 1024], up_proj [2816, 1024] and down_proj
[1024, 2816]. Weights are heavy-tailed (Student-t). Activations are
correlated and heavy-tailed, and the inputs of q_proj, up_proj and down_proj
have outlier channels (a few channels tens of times larger than the rest,
with a consistent sign, as LLM activations have); down_proj's input is
silu(x Wg^T) * (x Wu^T) of up_proj's own input and weight. Every layer gets
calibration tokens (GPTQ's Hessian, AWQ's search, SmoothQuant's max |x|)
and separate held-out tokens, on which the error is measured:

    relative output error = ||Y - Y_q|| / ||Y||,  Y = X W^T

per layer, and over all four layers together (sqrt of the summed squared
errors over the summed squared norms). Methods, all through the lowbit
package (the same C++ library as the compiler passes):

  w4 g128 / w3 g128  asymmetric ui4 / ui3 weights, groups of 128 inputs:
                     RTN (baseline), GPTQ (H = X^T X), AWQ, HQQ
  w8a8               i8 per-output-channel weights, i8 per-token
                     activations (fake quantized): plain (baseline), and
                     after SmoothQuant (alpha 0.5, lowbit.smoothquant_scales)

Each row shows its baseline from the same run and the ratio to it. The last
line says whether GPTQ and AWQ beat RTN at both widths and SmoothQuant beats
plain W8A8 (all-layer error): test/Bench/quality.test checks it at --small
size.
"""

import argparse
import sys
import time

import numpy as np

import lowbit

F32 = np.float32


def input_distribution(rng, dim, rank, outliers, outlier_scale):
    """Parameters of one layer's input: a low-rank mixing (correlation),
    log-normal channel scales, and `outliers` channels scaled up with a
    consistent sign."""
    mix = rng.standard_normal((rank, dim)) / np.sqrt(rank)
    chan = np.exp(rng.normal(0.0, 0.4, dim))
    idx = rng.choice(dim, outliers, replace=False) if outliers else []
    sign = np.sign(rng.standard_normal(len(idx)))
    return mix, chan, idx, sign, outlier_scale


def sample(rng, dist, tokens):
    mix, chan, idx, sign, big = dist
    dim = mix.shape[1]
    z = rng.standard_t(5, (tokens, mix.shape[0])) @ mix
    z += 0.5 * rng.standard_normal((tokens, dim))
    x = z * chan
    if len(idx):
        x[:, idx] = x[:, idx] * big + sign * big
    return x.astype(F32)


def silu(v):
    return v / (1.0 + np.exp(-v))


def make_layers(seed, hidden, mlp, calib, heldout):
    """[(name, W [out, in], X_calib, X_heldout)]."""
    rng = np.random.default_rng(seed)

    def weight(out, inp):
        w = rng.standard_t(4, (out, inp)) * 0.02
        w *= np.exp(rng.normal(0.0, 0.2, (out, 1)))  # row scales vary
        return w.astype(F32)

    n = calib + heldout
    attn_in = input_distribution(rng, hidden, 64, max(2, hidden // 128), 25.0)
    attn_out = input_distribution(rng, hidden, 48, 0, 1.0)
    mlp_in = input_distribution(rng, hidden, 64, max(2, hidden // 128), 20.0)
    wq, wo = weight(hidden, hidden), weight(hidden, hidden)
    wu, wg = weight(mlp, hidden), weight(mlp, hidden)
    wd = weight(hidden, mlp)
    xq = sample(rng, attn_in, n)
    xo = sample(rng, attn_out, n)
    xu = sample(rng, mlp_in, n)
    xd = silu(xu @ wg.T) * (xu @ wu.T)
    spikes = rng.choice(mlp, max(2, mlp // 512), replace=False)
    xd[:, spikes] *= 30.0  # massive activations at down_proj's input
    xd = xd.astype(F32)
    layers = []
    for name, w, x in (("q_proj", wq, xq), ("o_proj", wo, xo),
                       ("up_proj", wu, xu), ("down_proj", wd, xd)):
        layers.append((name, w, np.ascontiguousarray(x[:calib]),
                       np.ascontiguousarray(x[calib:])))
    return layers


def fq(x, element, blocks, asymmetric=False):
    return lowbit.quantize_scheme(x, element, blocks=blocks,
                                  asymmetric=asymmetric).dequantize()


def method_outputs(method, bits, group, w, xc, xh):
    """Y_q on the held-out tokens, for one method and layer."""
    element = "ui%d" % bits
    cols = w.shape[1]
    if method == "RTN":
        return xh @ fq(w, element, (1, group), True).T
    if method == "GPTQ":
        h = (xc.T.astype(np.float64) @ xc).astype(F32)
        q = lowbit.gptq(w, h, element, group_size=group, asymmetric=True)
        return xh @ q.dequantize().T
    if method == "AWQ":
        q, s = lowbit.awq(w, xc, element, group_size=group, asymmetric=True)
        return (xh / s).astype(F32) @ q.dequantize().T
    if method == "HQQ":
        return xh @ lowbit.hqq(w, element, group_size=group).dequantize().T
    if method == "W8A8":
        return fq(xh, "i8", (1, cols)) @ fq(w, "i8", (1, cols)).T
    if method == "SmoothQuant":
        s = lowbit.smoothquant_scales(np.abs(xc).max(0), np.abs(w).max(0),
                                      0.5)
        ws = (w * s).astype(F32)
        xs = (xh / s).astype(F32)
        return fq(xs, "i8", (1, cols)) @ fq(ws, "i8", (1, cols)).T
    if method == "LLM.int8()":
        # lowbit-split-outliers, static: input channels whose calibration
        # max |x| reaches 6 stay in f32, the rest is W8A8 with those
        # columns of X zeroed (so per-token scales ignore them).
        out = np.abs(xc).max(0) >= 6.0
        xr = np.where(out, F32(0), xh).astype(F32)
        wr = np.where(out[None, :], F32(0), w).astype(F32)
        y = fq(xr, "i8", (1, cols)) @ fq(wr, "i8", (1, cols)).T
        return y + xh[:, out] @ w[:, out].T
    raise ValueError(method)


CONFIGS = [
    ("w4 g128", 4, 128, ["RTN", "GPTQ", "AWQ", "HQQ"]),
    ("w3 g128", 3, 128, ["RTN", "GPTQ", "AWQ", "HQQ"]),
    ("w8a8", 8, 0, ["W8A8", "SmoothQuant", "LLM.int8()"]),
]


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="lowbit quality bench: output error of the weight "
        "algorithms on a synthetic transformer block (bench/README.md)")
    ap.add_argument("--small", action="store_true",
                    help="tiny sizes (hidden 128, MLP 384, 512 + 256 tokens)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calib", type=int, default=None,
                    help="calibration tokens per layer (default 2048)")
    ap.add_argument("--heldout", type=int, default=None,
                    help="held-out tokens per layer (default 1024)")
    args = ap.parse_args(argv)
    hidden, mlp = (128, 384) if args.small else (1024, 2816)
    calib = args.calib or (512 if args.small else 2048)
    heldout = args.heldout or (256 if args.small else 1024)

    layers = make_layers(args.seed, hidden, mlp, calib, heldout)
    ys = [xh.astype(np.float64) @ w.T.astype(np.float64)
          for _, w, _, xh in layers]
    names = [n for n, _, _, _ in layers]
    shapes = ", ".join("%s %dx%d" % (n, w.shape[0], w.shape[1])
                       for n, w, _, _ in layers)
    print("lowbit quality bench: %s; %d calibration + %d held-out tokens "
          "per layer, seed %d" % (shapes, calib, heldout, args.seed))
    print("relative output error ||Y - Yq|| / ||Y|| on held-out tokens "
          "(all = the four layers together)")
    header = ["config", "method"] + names + ["all", "baseline", "ratio",
                                             "time s"]
    rows = [header]
    results = {}
    weight_err = {}
    for config, bits, group, methods in CONFIGS:
        base_all = None
        for method in methods:
            t0 = time.perf_counter()
            errs, num, den = [], 0.0, 0.0
            for (name, w, xc, xh), y in zip(layers, ys):
                yq = method_outputs(method, bits, group, w, xc, xh)
                d = float(np.sum((y - yq) ** 2))
                n2 = float(np.sum(y ** 2))
                errs.append(np.sqrt(d / n2))
                num, den = num + d, den + n2
            dt = time.perf_counter() - t0
            err_all = np.sqrt(num / den)
            if base_all is None:
                base_all = err_all
            results[(config, method)] = err_all
            rows.append([config, method] + ["%.4f" % e for e in errs] +
                        ["%.4f" % err_all, "%.4f" % base_all,
                         "%.3f" % (err_all / base_all), "%.1f" % dt])
        if bits in (3, 4):
            # What HQQ minimises: mean |W - W_r| over all weights.
            e_rtn = e_hqq = 0.0
            count = 0
            for _, w, _, _ in layers:
                element = "ui%d" % bits
                e_rtn += float(np.abs(w - fq(w, element, (1, group),
                                                True)).sum())
                e_hqq += float(np.abs(w - lowbit.hqq(
                    w, element, group_size=group).dequantize()).sum())
                count += w.size
            weight_err[config] = (e_rtn / count, e_hqq / count)

    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                        for i, c in enumerate(r)))
    print()
    print("weight reconstruction mean |W - W_r| (what HQQ minimises), all "
          "layers")
    print("config   RTN (baseline)  HQQ         ratio")
    for config, (e_rtn, e_hqq) in weight_err.items():
        print("%-8s %-15.4e %-11.4e %.3f" % (config, e_rtn, e_hqq,
                                            e_hqq / e_rtn))
    print()
    checks = []
    for config in ("w4 g128", "w3 g128"):
        for method in ("GPTQ", "AWQ"):
            checks.append(results[(config, method)] <
                          results[(config, "RTN")])
    checks.append(results[("w8a8", "SmoothQuant")] <
                  results[("w8a8", "W8A8")])
    checks.append(results[("w8a8", "LLM.int8()")] <
                  results[("w8a8", "W8A8")])
    print("ordering (GPTQ < RTN and AWQ < RTN at w4 and w3, SmoothQuant < "
          "W8A8, LLM.int8() < W8A8): %s" % ("yes" if all(checks) else "no"))
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
