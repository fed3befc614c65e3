# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t | FileCheck %s
#
# The f16 KV cache (lowbit-compile --kv-cache=f16, docs/Import.md): what
# llama.cpp computes over its default f16 cache without flash attention.
# Keys and values are stored as f16 (round to nearest even); the two dot
# products of attention take their other operand rounded to f16 too (q
# after RoPE, before the score scale; the normalized probabilities) and
# accumulate in f32. Tiny one-layer models (GQA 4/2 heads) run for 40
# decode steps through lowbit.compile against a numpy decoder that rounds
# the same values: a Llama, a Mistral (sliding window of 8) and a Phi-3
# (head size 24, whose q llama.cpp scales before attention, so q * scale
# is what is rounded). The keys and values lowbit stores are the
# reference's f16 roundings but where lowbit's f32 value and the
# reference's float64 one lie on either side of a tie (rare; then one f16
# step apart, or near 0 as close in absolute terms). Such a key or value stays in the cache, which is why the
# logits' error is the mean over them relative to their mean magnitude,
# and why the models have one layer (a second would take the difference
# into its own keys and values). Each model is also shown to be
# measurably off the f32 cache's reference (lowbit's f32 cache is checked
# by kv-cache.py), Phi-3 off the reference that rounds q before the
# scale, and the cache takes half the f32 cache's bytes. (Without any one
# of the four roundings, the error would be some 1e-4.)
#
# CHECK: llama: 40 steps, mean rel err {{[0-9.e-]+}} (< 2e-05), f32 cache reference {{[0-9.e-]+}} away; stored as the reference rounds: {{[0-9]+}}/2560; cache 8192 bytes (f32: 16384)
# CHECK: mistral, window 8: 40 steps, mean rel err {{[0-9.e-]+}} (< 2e-05), f32 cache reference {{[0-9.e-]+}} away; stored as the reference rounds: {{[0-9]+}}/2560; cache 8192 bytes (f32: 16384)
# CHECK: phi3, q scaled first: 40 steps, mean rel err {{[0-9.e-]+}} (< 2e-05), f32 cache reference {{[0-9.e-]+}} away, q scaled after {{[0-9.e-]+}} away; stored as the reference rounds: {{[0-9]+}}/3840; cache 12288 bytes (f32: 24576)

import os
import sys

import numpy as np

import lowbit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "Inputs"))
import llama_ref as r  # noqa: E402

TOL = 2e-5


def f16(x):
    """x rounded to f16 from the f32 value lowbit holds."""
    return x.astype(np.float32).astype(np.float16).astype(np.float64)


def decode_f16(cfg, w, tokens, interleaved, scale_first):
    """(logits, keys, values) of feeding `tokens` one at a time to a
    Llama-family model of llama_ref (plain, windowed, or Phi-3's fused
    matrices) with an f16 cache and llama.cpp's roundings in attention;
    keys and values [layers, len(tokens), KV heads, head size] as cached."""
    H, K, hd = cfg.heads, cfg.kv_heads, cfg.hd
    W = {k: v.astype(np.float64) for k, v in w.items()}
    if "blk.0.attn_qkv.weight" in W:  # Phi-3: Q, K, V rows; gate, up rows
        for layer in range(cfg.layers):
            p = "blk.%d." % layer
            q, k, v = np.split(W.pop(p + "attn_qkv.weight"),
                               [H * hd, (H + K) * hd])
            W[p + "attn_q.weight"], W[p + "attn_k.weight"] = q, k
            W[p + "attn_v.weight"] = v
            W[p + "ffn_gate.weight"], W[p + "ffn_up.weight"] = np.split(
                W[p + "ffn_up.weight"], 2)
    freqs, att = r.rope_frequencies(cfg)
    freqs = freqs.astype(np.float32).astype(np.float64)
    # The importer's constant (7 significant digits, then f32).
    scale = float(np.float32("%e" % (1 / np.sqrt(hd))))
    kc = np.zeros((cfg.layers, len(tokens), K, hd))
    vc = np.zeros_like(kc)

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x) + cfg.eps) * g

    def rope(x, pos):  # x [heads, hd]
        ang = pos * freqs
        c, s = att * np.cos(ang), att * np.sin(ang)
        if interleaved:
            a, b = x[:, 0::2], x[:, 1::2]
        else:
            a, b = x[:, :hd // 2], x[:, hd // 2:]
        y = np.empty_like(x)
        if interleaved:
            y[:, 0::2], y[:, 1::2] = a * c - b * s, b * c + a * s
        else:
            y[:, :hd // 2], y[:, hd // 2:] = a * c - b * s, b * c + a * s
        return y

    out = []
    for pos, tok in enumerate(tokens):
        x = W["token_embd.weight"][tok].copy()
        for layer in range(cfg.layers):
            p = "blk.%d." % layer
            h = rms(x, W[p + "attn_norm.weight"])
            q = rope((W[p + "attn_q.weight"] @ h).reshape(H, hd), pos)
            k = rope((W[p + "attn_k.weight"] @ h).reshape(K, hd), pos)
            v = (W[p + "attn_v.weight"] @ h).reshape(K, hd)
            kc[layer, pos], vc[layer, pos] = f16(k), f16(v)
            start = max(0, pos + 1 - cfg.window) if cfg.window else 0
            ks, vs = kc[layer, start:pos + 1], vc[layer, start:pos + 1]
            q16 = f16(q * scale) if scale_first else f16(q)
            o = np.empty((H, hd))
            for hh in range(H):
                g = hh // (H // K)
                s = ks[:, g] @ q16[hh]
                if not scale_first:
                    s = s * scale
                e = np.exp(s - s.max())
                o[hh] = f16(e / e.sum()) @ vs[:, g]
            x = x + W[p + "attn_output.weight"] @ o.reshape(-1)
            h = rms(x, W[p + "ffn_norm.weight"])
            gt = W[p + "ffn_gate.weight"] @ h
            up = W[p + "ffn_up.weight"] @ h
            x = x + W[p + "ffn_down.weight"] @ (gt / (1 + np.exp(-gt)) * up)
        hn = rms(x, W["output_norm.weight"])
        out.append(W["output.weight"] @ hn)
    return np.array(out), kc, vc


def rel(a, b):
    """The mean error of logits a relative to the mean magnitude of b."""
    return np.abs(a - b).mean() / np.abs(b).mean()


def main():
    d = sys.argv[1]
    rng = np.random.default_rng(0)
    cases = []
    cfg = r.Config(layers=1, ctx=64)
    cases.append(("llama", cfg, r.make_weights(cfg, seed=3), True))
    cfg = r.Config(layers=1, ctx=64)
    cfg.window = 8
    cases.append(("mistral, window 8", cfg, r.make_weights(cfg, seed=4),
                  True))
    cfg = r.Config(arch="phi3", dim=96, layers=1, ctx=64)
    cases.append(("phi3, q scaled first", cfg, r.make_weights(cfg, seed=5),
                  False))
    for label, cfg, w, interleaved in cases:
        path = os.path.join(d, label.split(",")[0] + ".gguf")
        r.write_gguf(path, cfg, w)
        n = 40
        tokens = [int(t) for t in rng.integers(0, cfg.vocab, n)]
        m = lowbit.compile(path, max_seq=64, extra_args=["--kv-cache=f16"])
        cache = m.new_cache()
        assert [c.dtype for c in cache] == [np.float16] * 2, cache
        got = np.array([m.decode(np.array([t], np.int32),
                                 np.array([p], np.int32), *cache)[0][0]
                        for p, t in enumerate(tokens)])
        first = cfg.arch == "phi3"
        ref, keys, values = decode_f16(cfg, w, tokens, interleaved, first)
        err = rel(got, ref)
        assert err < TOL, (label, err)
        # The cache holds the reference's roundings, or their neighbours
        # (or, near 0, values as close in absolute terms).
        stored = np.stack([c[:, :n] for c in cache])
        want = np.stack([keys, values]).astype(np.float16)
        same = int((stored == want).sum())
        diff = np.abs(stored.astype(np.float64) - want)
        allow = np.maximum(np.abs(np.spacing(want)).astype(np.float64),
                           1e-5 * np.abs(want).max())
        assert (diff <= allow).all() and same >= 0.99 * want.size, \
            (label, same, want.size)
        # The f32 cache's reference, and the other place of the scale
        # (where it is not a power of 2), are measurably further away.
        away = rel(got, r.decode(cfg, w, tokens, interleaved=interleaved))
        assert away > 2 * TOL, (label, err, away)
        note = ""
        if first:
            after = rel(got, decode_f16(cfg, w, tokens, interleaved,
                                        False)[0])
            assert after > 2 * TOL, (label, err, after)
            note = ", q scaled after %.2g away" % after
        f32 = lowbit.compile(path, max_seq=64)
        assert 2 * m.cache_bytes == f32.cache_bytes
        print("%s: %d steps, mean rel err %.2g (< %g), f32 cache reference "
              "%.2g away%s; stored as the reference rounds: %d/%d; cache %d "
              "bytes (f32: %d)"
              % (label, n, err, TOL, away, note, same, want.size,
                 m.cache_bytes, f32.cache_bytes))


if __name__ == "__main__":
    main()
