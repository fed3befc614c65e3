# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t | FileCheck %s
#
# KV cache quantization (lowbit-compile --kv-cache, docs/Import.md): a tiny
# Llama (GQA 4/2 heads, head size 16) compiled with each cache mode and
# run for 40 decode steps (a complete KIVI group of 32 tokens and part of
# the next) through lowbit.compile; every step's logits against the numpy
# decoder whose attention reads the cache as the mode stores it (lowbit's
# numerics library rounds: int8 / E4M3 per token and head; KIVI int4 /
# int2 keys per channel over 32 tokens, values per token, asymmetric, the
# current group exact). Also: the cache's bytes, and the error a
# non-multiple-of-32 cache length gets.
#
# CHECK: f32: 40 steps, max rel err {{[0-9.e-]+}} (< 1e-5), cache 16384 bytes
# CHECK: int8: 40 steps, max rel err {{[0-9.e-]+}} (< 1e-5), cache 5120 bytes
# CHECK: fp8: 40 steps, max rel err {{[0-9.e-]+}} (< 1e-5), cache 5120 bytes
# CHECK: int4: 40 steps, max rel err {{[0-9.e-]+}} (< 1e-5), cache {{[0-9]+}} bytes
# CHECK: int2: 40 steps, max rel err {{[0-9.e-]+}} (< 1e-5), cache {{[0-9]+}} bytes
# CHECK: quantized caches differ from f32: int8 {{[0-9.e-]+}}, fp8 {{[0-9.e-]+}}, int4 {{[0-9.e-]+}}, int2 {{[0-9.e-]+}}
# CHECK: bad length: {{.*}}a KIVI cache (int4) needs a cache length that is a multiple of 32, not 48

import os
import sys

import numpy as np

import lowbit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "Inputs"))
import llama_ref as r  # noqa: E402


def main():
    d = sys.argv[1]
    cfg = r.Config(layers=1, ctx=64)
    w = r.make_weights(cfg, seed=3)
    path = os.path.join(d, "tiny.gguf")
    r.write_gguf(path, cfg, w)
    rng = np.random.default_rng(0)
    tokens = [int(t) for t in rng.integers(0, cfg.vocab, 40)]
    fp = None
    diffs = []
    for kv in ("f32", "int8", "fp8", "int4", "int2"):
        m = lowbit.compile(path, max_seq=64,
                           extra_args=["--kv-cache=" + kv])
        cache = m.new_cache()
        got = np.array([m.decode(np.array([t], np.int32),
                                 np.array([p], np.int32), *cache)[0][0]
                        for p, t in enumerate(tokens)])
        ref = r.decode(cfg, w, tokens, kv=kv)
        err = (np.abs(got - ref).max(1) / np.abs(ref).max(1)).max()
        assert err < 1e-5, (kv, err)
        print("%s: %d steps, max rel err %.2g (< 1e-5), cache %d bytes"
              % (kv, len(tokens), err, m.cache_bytes))
        if fp is None:
            fp = got
        else:
            diffs.append("%s %.3g" % (kv, np.abs(got - fp).max() /
                                      np.abs(fp).max()))
    print("quantized caches differ from f32:", ", ".join(diffs))
    try:
        lowbit.compile(path, max_seq=48, extra_args=["--kv-cache=int4"])
        print("bad length: accepted")
    except lowbit.CompileError as e:
        print("bad length:", str(e).splitlines()[0])


if __name__ == "__main__":
    main()
