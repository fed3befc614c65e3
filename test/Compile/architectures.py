# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t %cxx | FileCheck %s
#
# The importer's architecture descriptions beyond Llama (docs/Import.md):
# tiny models (width 64, 4 heads over 2 KV heads) written as GGUF (gguf-py,
# architecture qwen2/qwen3/phi3) and as Hugging Face safetensors with
# config.json (Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM),
# compiled with lowbit-compile and run for 12 decode steps against the
# float64 numpy decoder of Inputs/llama_ref.py. Qwen2 adds biases to Q, K
# and V; Qwen3 normalizes Q and K per head (RMSNorm) before RoPE and has a
# head size (32) other than width / heads (16); Phi-3 keeps Q, K and V in
# one matrix and gate and up in another; Gemma 3 (six layers: five local
# with RoPE base 10000, one global with base 1e6) scales the embedding by
# sqrt(width), normalizes Q and K per head and the attention and MLP
# outputs, gates with GELU (tanh), and its Hugging Face norms are 1 + w
# where GGUF stores w + 1. All rotate halves in GGUF as in Hugging Face.
# Qwen and Gemma models are first shown to differ from the same weights
# without the architecture's additions. Sliding-window attention (a window
# shorter than the 16-token cache) on every layer (Mistral) and on Gemma
# 3's local layers, each first shown to change the logits.
#
# CHECK: qwen2 gguf: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: qwen2 safetensors: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: qwen3 gguf: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: qwen3 safetensors tied: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: phi3 gguf: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: phi3 safetensors: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gemma3 gguf: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gemma3 safetensors tied: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gemma3 safetensors, query_pre_attn_scalar 24: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: mistral gguf, window 4: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: mistral safetensors, window 4: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gemma3 gguf, window 3 on local layers: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: qwen2 without biases: lowbit-compile: error: {{.*}}the model has no tensor 'blk.0.attn_q.bias'

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "Inputs"))
import llama_ref as r  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "Inputs"))
import testutil as tu  # noqa: E402

TOKENS = [1, 5, 9, 200, 17, 3, 3, 42, 255, 0, 77, 128]


def main():
    d, cxx = sys.argv[1], sys.argv[2]

    def check(label, model, cfg, w):
        got, _ = r.compile_and_run(d, model, TOKENS, cxx)
        ref = r.decode(cfg, w, TOKENS, interleaved=False)
        # Without the biases or the Q/K norms the logits are others.
        plain = {k: v for k, v in w.items()
                 if not k.endswith((".bias", "_q_norm.weight",
                                    "_k_norm.weight",
                                    "post_attention_norm.weight",
                                    "post_ffw_norm.weight"))}
        if len(plain) < len(w):
            other = r.decode(cfg, plain, TOKENS, interleaved=False)
            diff = np.abs(ref - other).max() / np.abs(other).max()
            assert diff > 1e-3, (label, "the addition changes nothing", diff)
        r.compare(label, got, ref)

    for arch, tied in (("qwen2", False), ("qwen3", True), ("phi3", False),
                       ("gemma3", True)):
        gemma = arch == "gemma3"
        cfg = r.Config(arch=arch, head_dim=32 if arch == "qwen3" else None,
                       layers=6 if gemma else 2,
                       theta=1e6 if gemma else 10000.0)
        w = r.make_weights(cfg, seed=11, tied=tied)
        path = os.path.join(d, arch + ".gguf")
        r.write_gguf(path, cfg, w)
        check(arch + " gguf", path, cfg, w)
        hf = os.path.join(d, arch + "-hf")
        os.makedirs(hf)
        r.write_safetensors(hf, cfg, w)
        check(arch + " safetensors" + (" tied" if tied else ""),
              os.path.join(hf, "model.safetensors"), cfg, w)

    # Gemma 3 with a score scale other than 1 / sqrt(head size).
    cfg = r.Config(arch="gemma3", layers=6, theta=1e6)
    cfg.attn_scale = 24 ** -0.5
    w = r.make_weights(cfg, seed=12, tied=True)
    hf = os.path.join(d, "gemma3-scalar")
    os.makedirs(hf)
    r.write_safetensors(hf, cfg, w)
    check("gemma3 safetensors, query_pre_attn_scalar 24",
          os.path.join(hf, "model.safetensors"), cfg, w)

    # Sliding windows shorter than the cache.
    def windowed(label, cfg, w, model):
        got, _ = r.compile_and_run(d, model, TOKENS, cxx)
        interleaved = cfg.arch == "llama" and model.endswith(".gguf")
        ref = r.decode(cfg, w, TOKENS, interleaved=interleaved)
        window, cfg.window = cfg.window, None
        other = r.decode(cfg, w, TOKENS, interleaved=interleaved)
        cfg.window = window
        diff = np.abs(ref - other).max() / np.abs(other).max()
        assert diff > 1e-3, (label, "the window changes nothing", diff)
        r.compare(label, got, ref)

    cfg = r.Config()
    cfg.window = 4
    w = r.make_weights(cfg, seed=13)
    path = os.path.join(d, "mistral.gguf")
    r.write_gguf(path, cfg, w)
    windowed("mistral gguf, window 4", cfg, w, path)
    hf = os.path.join(d, "mistral-hf")
    os.makedirs(hf)
    r.write_safetensors(hf, cfg, w)
    windowed("mistral safetensors, window 4", cfg, w,
             os.path.join(hf, "model.safetensors"))
    cfg = r.Config(arch="gemma3", layers=6, theta=1e6)
    cfg.window = 3
    w = r.make_weights(cfg, seed=14, tied=True)
    path = os.path.join(d, "gemma3-window.gguf")
    r.write_gguf(path, cfg, w)
    windowed("gemma3 gguf, window 3 on local layers", cfg, w, path)

    # A Qwen2 file without its biases: an error, not a model without them.
    cfg = r.Config(arch="qwen2")
    w = {k: v for k, v in r.make_weights(cfg, seed=11).items()
         if not k.endswith(".bias")}
    path = os.path.join(d, "nobias.gguf")
    r.write_gguf(path, cfg, w)
    res = tu.run(["lowbit-compile", path, "-o", os.path.join(d, "bad"),
                  "--max-seq=16"])
    assert res.returncode == 1, res
    print("qwen2 without biases: %s" % res.stderr.strip().splitlines()[0])


if __name__ == "__main__":
    main()
