# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t %cxx | FileCheck %s
#
# RoPE scaling (docs/Import.md, "RoPE scaling"): tiny Llama models (GQA,
# head size 16, context 64) whose RoPE is scaled, compiled with
# lowbit-compile and run for 12 decode steps at positions 0..11, against
# the float64 numpy decoder of Inputs/llama_ref.py with Hugging Face's
# formulas. GGUF: Llama 3 scaling as llama.cpp's converter stores it
# (per-frequency factors in the tensor rope_freqs.weight), linear scaling
# (rope.scaling.type/factor) and YaRN with llama.cpp's keys (whose
# Hugging Face equivalent is the reference). config.json: rope_scaling of rope_type
# linear, llama3 and yarn (YaRN also scales cos and sin). Each scaled
# model is first shown to differ from the unscaled one, so that a
# compiler ignoring the scaling fails the comparison.
#
# CHECK: gguf rope_freqs (llama3): 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf linear x4: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf yarn: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf yarn, betas, attn_factor, log multiplier: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: hf linear x4: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: hf llama3: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: hf yarn: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: hf yarn, attention_factor given: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok

import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "Inputs"))
import llama_ref as r  # noqa: E402

TOKENS = [1, 5, 9, 200, 17, 3, 3, 42, 255, 0, 77, 128]

# Llama 3.1's scaling, shrunk to a context of 64: frequencies with
# wavelengths under 8 tokens kept, over 32 divided by 8, a blend between.
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 32}


def main():
    d, cxx = sys.argv[1], sys.argv[2]
    w = r.make_weights(r.Config(), seed=7)

    def check(label, model, cfg, interleaved):
        got, _ = r.compile_and_run(d, model, TOKENS, cxx)
        ref = r.decode(cfg, w, TOKENS, interleaved=interleaved)
        plain = r.decode(r.Config(), w, TOKENS, interleaved=interleaved)
        # Position 0 is unrotated; later positions must tell the two apart.
        diff = np.abs(ref[1:] - plain[1:]).max() / np.abs(plain).max()
        assert diff > 1e-3, (label, "scaling changes nothing", diff)
        r.compare(label, got, ref)

    cfg = r.Config(rope_scaling=LLAMA3)
    w3 = dict(w)
    w3["rope_freqs.weight"] = r.llama3_rope_factors(LLAMA3, cfg.hd, cfg.theta)
    path = os.path.join(d, "llama3.gguf")
    r.write_gguf(path, cfg, w3)
    check("gguf rope_freqs (llama3)", path, cfg, True)

    linear = {"rope_type": "linear", "factor": 4.0}
    path = os.path.join(d, "linear.gguf")
    r.write_gguf(path, cfg, w,
                 keys=[("add_string", "llama.rope.scaling.type", "linear"),
                       ("add_float32", "llama.rope.scaling.factor", 4.0)])
    check("gguf linear x4", path, r.Config(rope_scaling=linear), True)

    def mscale(factor, m):
        return 0.1 * m * math.log(factor) + 1.0

    yarn = [("add_string", "llama.rope.scaling.type", "yarn"),
            ("add_float32", "llama.rope.scaling.factor", 4.0),
            ("add_uint32", "llama.rope.scaling.original_context_length", 16)]
    for label, keys, rs in [
            ("gguf yarn", yarn,
             {"rope_type": "yarn", "factor": 4.0,
              "original_max_position_embeddings": 16}),
            # llama.cpp: cos and sin times get_mscale(4, 1) /
            # get_mscale(4, log multiplier) times attn_factor.
            ("gguf yarn, betas, attn_factor, log multiplier",
             yarn + [("add_float32", "llama.rope.scaling.yarn_beta_fast", 16.0),
                     ("add_float32", "llama.rope.scaling.yarn_beta_slow", 2.0),
                     ("add_float32", "llama.rope.scaling.attn_factor", 1.25),
                     ("add_float32", "llama.rope.scaling.yarn_log_multiplier",
                      0.5)],
             {"rope_type": "yarn", "factor": 4.0, "beta_fast": 16,
              "beta_slow": 2, "original_max_position_embeddings": 16,
              "attention_factor": 1.25 * mscale(4, 1) / mscale(4, 0.5)})]:
        path = os.path.join(d, label.replace(" ", "-").replace(",", "") +
                            ".gguf")
        r.write_gguf(path, cfg, w, keys=keys)
        check(label, path, r.Config(rope_scaling=rs), True)

    for label, rs in [
            ("hf linear x4", {"type": "linear", "factor": 4.0}),
            ("hf llama3", LLAMA3),
            ("hf yarn", {"rope_type": "yarn", "factor": 4.0,
                         "original_max_position_embeddings": 16}),
            ("hf yarn, attention_factor given",
             {"rope_type": "yarn", "factor": 4.0, "beta_fast": 16,
              "beta_slow": 2, "attention_factor": 1.25,
              "original_max_position_embeddings": 16, "truncate": False})]:
        cfg = r.Config(rope_scaling=rs)
        hf = os.path.join(d, label.replace(" ", "-").replace(",", ""))
        os.makedirs(hf)
        r.write_safetensors(hf, cfg, w)
        check(label, os.path.join(hf, "model.safetensors"), cfg, False)


if __name__ == "__main__":
    main()
