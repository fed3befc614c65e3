# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t %cxx | FileCheck %s
#
# Prefill (lowbit-compile --prefill, docs/Prefill.md): a prompt run
# through the prefill_<C> entry points (chunks of 8 and 4 tokens, then
# decode steps for the rest) must leave the cache and give the last
# logits that as many decode steps do. Tiny models (GQA 4/2 heads) with
# every KV cache kind and every architecture, two prompts: 21 tokens from
# an empty cache (8 + 8 + 4 + 1), then 14 more from position 21 (8 + 4 +
# 1 + 1; with a KIVI cache they complete the group of positions 0-31).
# Within 1e-5 relative (logits: of the largest; each cache part: of its
# largest element), and the same as the float64 numpy decoder (reading
# the cache as the mode stores it) within 1e-5 too. Where the GEMM
# kernels add a dot product's terms in the GEMV's order the results are
# the same bits; the test says which. Also: a W4A8 pipeline's weights blob
# no bigger with prefill (equal constants stored once), and the C
# header's <prefix>_prefill (the same dispatch) from a C program, and its
# errors.
#
# CHECK: llama q4_0/q8_0 f32 cache: prefill = decode (bit-identical), reference {{[0-9.e-]+}}
# CHECK: llama q4_0/q8_0 f16 cache: prefill = decode (bit-identical)
# CHECK: llama q4_0/q8_0 int8 cache: prefill = decode (bit-identical), reference {{[0-9.e-]+}}
# CHECK: llama q4_0/q8_0 fp8 cache: prefill = decode (bit-identical), reference {{[0-9.e-]+}}
# CHECK: llama q4_0/q8_0 int4 cache: prefill = decode (bit-identical), reference {{[0-9.e-]+}}
# CHECK: llama q4_0/q8_0 int2 cache: prefill = decode (bit-identical), reference {{[0-9.e-]+}}
# CHECK: llama f32 f32 cache: prefill = decode (within 1e-5), reference {{[0-9.e-]+}}
# CHECK: qwen2 f32 cache: prefill = decode (within 1e-5), reference {{[0-9.e-]+}}
# CHECK: qwen3 f32 cache: prefill = decode (within 1e-5), reference {{[0-9.e-]+}}
# CHECK: phi3 f32 cache: prefill = decode (within 1e-5), reference {{[0-9.e-]+}}
# CHECK: gemma3 window 3 f32 cache: prefill = decode (within 1e-5), reference {{[0-9.e-]+}}
# CHECK: mistral window 4 f32 cache: prefill = decode (within 1e-5), reference {{[0-9.e-]+}}
# CHECK: w4a8 with prefill: weights {{[0-9]+}} bytes, as without
# CHECK: C prefill: the same logits and cache (bit-identical)
# CHECK: C prefill errors: -2 -2 -2 -2
# CHECK: python prefill errors: ValueError ValueError

import os
import subprocess
import sys

import numpy as np

import lowbit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "Inputs"))
import llama_ref as r  # noqa: E402

MAX_SEQ = 64
CHUNKS = "--prefill=8,4"
rng = np.random.default_rng(5)
FIRST = [int(t) for t in rng.integers(0, 256, 21)]
SECOND = [int(t) for t in rng.integers(0, 256, 14)]


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.abs(b).max()
    return np.abs(a - b).max() / (scale if scale > 0 else 1.0)


def check(label, path, kv, reference=None, extra=()):
    m = lowbit.compile(path, max_seq=MAX_SEQ,
                       extra_args=["--kv-cache=" + kv, CHUNKS] + list(extra))
    assert m.prefill_chunks == [8, 4], m.prefill_chunks
    stepped, chunked = m.new_cache(), m.new_cache()
    same = True
    for start, prompt in ((0, FIRST), (len(FIRST), SECOND)):
        for i, t in enumerate(prompt):
            want = m.decode(np.array([t], np.int32),
                            np.array([start + i], np.int32), *stepped)[0]
        got = m.prefill(prompt, start, chunked)
        err = rel(got, want)
        assert err < 1e-5, (label, "logits", err)
        same = same and np.array_equal(got, want)
        for a, b in zip(chunked, stepped):
            err = rel(a.view(np.float16) if a.dtype == np.uint16 else a,
                      b.view(np.float16) if b.dtype == np.uint16 else b)
            assert err < 1e-5, (label, "cache", a.shape, err)
            same = same and np.array_equal(a, b)
    text = "%s %s cache: prefill = decode (%s)" % (
        label, kv, "bit-identical" if same else "within 1e-5")
    if reference is not None:
        ref = reference()[-1]
        err = rel(got[0], ref)
        assert err < 1e-5, (label, "reference", err)
        text += ", reference %.2g" % err
    print(text)
    return m, same


def c_prefill(d, cxx, m, path):
    """<prefix>_prefill from C: FIRST then SECOND into one cache, the
    logits and cache against Python's; then the four -2 cases."""
    base = os.path.join(d, "cmodel")
    lowbit.compile(path, max_seq=MAX_SEQ, output=base, prefix="llm",
                   extra_args=["--kv-cache=f32", CHUNKS])
    src = os.path.join(d, "prefill.c")
    with open(src, "w") as f:
        f.write(r"""
#include "cmodel.h"
#include <stdio.h>
#include <stdlib.h>
static int32_t tokens[64];
int main(int argc, char **argv) {
  char err[256];
  float *k = (float *)calloc(LLM_DECODE_ARG2_ELEMENTS, 4);
  float *v = (float *)calloc(LLM_DECODE_ARG3_ELEMENTS, 4);
  float logits[LLM_DECODE_RESULT0_ELEMENTS];
  FILE *in = fopen(argv[2], "rb");
  int n1 = atoi(argv[3]), n2 = atoi(argv[4]);
  if (fread(tokens, 4, n1 + n2, in) != (size_t)(n1 + n2) ||
      llm_load_weights(argv[1], err, sizeof err) != 0)
    return 1;
  if (llm_prefill(tokens, n1, 0, k, v, logits) != 0 ||
      llm_prefill(tokens + n1, n2, n1, k, v, logits) != 0)
    return 2;
  FILE *out = fopen(argv[5], "wb");
  fwrite(logits, 4, LLM_DECODE_RESULT0_ELEMENTS, out);
  fwrite(k, 4, LLM_DECODE_ARG2_ELEMENTS, out);
  fwrite(v, 4, LLM_DECODE_ARG3_ELEMENTS, out);
  fclose(out);
  tokens[3] = 256; /* outside the vocabulary */
  printf("%d %d %d %d\n", llm_prefill(tokens, 5, 0, k, v, logits),
         llm_prefill(tokens + 4, 0, 0, k, v, logits),
         llm_prefill(tokens + 4, 2, 63, k, v, logits),
         llm_prefill(tokens + 4, 2, -1, k, v, logits));
  return 0;
}
""")
    exe = os.path.join(d, "prefill")
    res = subprocess.run([cxx, "-x", "c++", "-O1", "-I" + d, src, "-x",
                          "none", base + ".so", "-Wl,-rpath," + d, "-o", exe],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    tok = os.path.join(d, "tokens.i32")
    np.array(FIRST + SECOND, np.int32).tofile(tok)
    out = os.path.join(d, "out.f32")
    res = subprocess.run([exe, base + ".weights", tok, str(len(FIRST)),
                          str(len(SECOND)), out], capture_output=True,
                         text=True)
    assert res.returncode == 0, (res.returncode, res.stderr)
    cache = m.new_cache()
    m.prefill(FIRST, 0, cache)
    want = np.concatenate([m.prefill(SECOND, len(FIRST), cache).ravel()] +
                          [c.ravel() for c in cache])
    got = np.fromfile(out, np.float32)
    assert np.array_equal(got, want), rel(got, want)
    print("C prefill: the same logits and cache (bit-identical)")
    print("C prefill errors: %s" % res.stdout.strip())


def main():
    d, cxx = sys.argv[1], sys.argv[2]
    everything = FIRST + SECOND

    # GGUF blocks kept as stored (as users run GGUF files): the prefill's
    # projections are the GEMM kernels (M = 8, 4) with int8 inputs per
    # block, as the GEMV's; every cache kind.
    import gguf
    cfg = r.Config(layers=2, ctx=MAX_SEQ)
    w = r.make_weights(cfg, seed=21)
    types = {n: gguf.GGMLQuantizationType.Q4_0 for n in w
             if n.startswith("blk") and "norm" not in n}
    types["output.weight"] = gguf.GGMLQuantizationType.Q8_0
    kept = os.path.join(d, "q.gguf")
    r.write_gguf(kept, cfg, w, types)
    wq = r.dequantized(w, types)
    blocks = r.gguf_activation_blocks(types)
    for kv in ("f32", "f16", "int8", "fp8", "int4", "int2"):
        ref = None
        if kv != "f16":  # kv-cache-f16.py checks f16's roundings
            def ref(kv=kv):
                return r.decode(cfg, wq, everything, int8_inputs=blocks,
                                kv=kv)
        check("llama q4_0/q8_0", kept, kv, ref)

    # f32 weights: the f32 GEMM kernel adds in another order than the
    # GEMV (one chain per output, not four).
    llama = os.path.join(d, "llama.gguf")
    r.write_gguf(llama, cfg, w)
    f32, _ = check("llama f32", llama, "f32",
                   lambda: r.decode(cfg, w, everything))

    for arch in ("qwen2", "qwen3", "phi3"):
        c = r.Config(arch=arch, head_dim=32 if arch == "qwen3" else None,
                     ctx=MAX_SEQ)
        wa = r.make_weights(c, seed=22)
        p = os.path.join(d, arch + ".gguf")
        r.write_gguf(p, c, wa)
        check(arch, p, "f32", lambda c=c, wa=wa: r.decode(
            c, wa, everything, interleaved=False))

    c = r.Config(arch="gemma3", layers=6, theta=1e6, ctx=MAX_SEQ)
    c.window = 3
    wg = r.make_weights(c, seed=23, tied=True)
    p = os.path.join(d, "gemma3.gguf")
    r.write_gguf(p, c, wg)
    check("gemma3 window 3", p, "f32",
          lambda: r.decode(c, wg, everything, interleaved=False))

    c = r.Config(ctx=MAX_SEQ)
    c.window = 4
    wm = r.make_weights(c, seed=24)
    p = os.path.join(d, "mistral.gguf")
    r.write_gguf(p, c, wm)
    check("mistral window 4", p, "f32", lambda: r.decode(c, wm, everything))

    # A quantization pipeline quantizes each step function's copy of a
    # weight: the blob keeps one copy of equal bytes (docs/Compile.md).
    sizes = []
    for extra in ([], [CHUNKS]):
        q = lowbit.compile(llama, max_seq=MAX_SEQ,
                           pipeline="lowbit-w4a8{group=32}",
                           extra_args=extra)
        sizes.append(q.weights_bytes)
    assert sizes[0] == sizes[1], sizes
    print("w4a8 with prefill: weights %d bytes, as without" % sizes[1])

    c_prefill(d, cxx, f32, llama)
    errors = []
    for bad in (lambda: f32.prefill([1, 2], MAX_SEQ - 1, f32.new_cache()),
                lambda: f32.prefill([1, 256], 0, f32.new_cache())):
        try:
            bad()
            errors.append("none")
        except ValueError:
            errors.append("ValueError")
    print("python prefill errors: %s" % " ".join(errors))


if __name__ == "__main__":
    main()
