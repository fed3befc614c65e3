# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
# RUN: not lowbit-compile %t/rope-freqs.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=FREQS
# RUN: not lowbit-compile %t/rope-type.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=ROPE-TYPE
# RUN: not lowbit-compile %t/rope-factor.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=ROPE-FACTOR
# RUN: not lowbit-compile %t/rope-ext.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=ROPE-EXT
# RUN: not lowbit-compile %t/rope-attn.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=ROPE-ATTN
# RUN: not lowbit-compile %t/rope-beta.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=ROPE-BETA
# RUN: not lowbit-compile %t/experts.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=EXPERTS
# RUN: not lowbit-compile %t/key-length.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=KEY-LENGTH
# RUN: not lowbit-compile %t/logit-scale.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=LOGIT-SCALE
# RUN: not lowbit-compile %t/layer-norm.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=LAYER-NORM
# RUN: not lowbit-compile %t/bias.gguf --compile-to=input 2>&1 | FileCheck %s --check-prefix=BIAS
# RUN: not lowbit-compile %t/hf-rope-scaling/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-ROPE
# RUN: not lowbit-compile %t/hf-rope-dynamic/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-ROPE-TYPE
# RUN: not lowbit-compile %t/hf-rope-key/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-ROPE-KEY
# RUN: not lowbit-compile %t/hf-act/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-ACT
# RUN: not lowbit-compile %t/hf-bias/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-BIAS
# RUN: not lowbit-compile %t/hf-window/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-WINDOW
# RUN: not lowbit-compile %t/hf-untied/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-UNTIED
# RUN: not lowbit-compile %t/hf-tied/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-TIED
# RUN: not lowbit-compile %t/hf-type/model.safetensors --compile-to=input 2>&1 | FileCheck %s --check-prefix=HF-TYPE
#
# Model metadata that would change what the model computes and that the
# importer does not implement (docs/Import.md), or that is malformed: each
# is an error naming the key or tensor, never silently ignored. (The RoPE
# scaling the importer does implement is checked by
# test/Compile/rope-scaling.py.) Tiny synthetic Llama models
# (width 32, 2 heads of 16, one layer, context 8), each with one addition.

# FREQS: error: {{.*}}rope-freqs.gguf: tensor 'rope_freqs.weight' must be f32 of 8 elements (half the head size)
# ROPE-TYPE: error: {{.*}}rope-type.gguf: llama.rope.scaling.type 'longrope': RoPE scaling of this type is not supported (linear, yarn, or Llama 3's rope_freqs.weight)
# ROPE-FACTOR: error: {{.*}}rope-factor.gguf: llama.rope.scaling.factor 4 with rope.scaling.type 'none': a scaling factor without a type
# ROPE-EXT: error: {{.*}}rope-ext.gguf: llama.rope.scaling.yarn_ext_factor 0.5: a YaRN ramp weight other than 1 (for rope.scaling.type 'yarn') is not supported
# ROPE-ATTN: error: {{.*}}rope-attn.gguf: llama.rope.scaling.attn_factor 1.25: a RoPE attention factor is supported with rope.scaling.type 'yarn' only
# ROPE-BETA: error: {{.*}}rope-beta.gguf: llama.rope.scaling.yarn_beta_fast -32 must be a positive number
# EXPERTS: error: {{.*}}experts.gguf: llama.expert_count 8: mixture of experts is not supported
# KEY-LENGTH: error: {{.*}}key-length.gguf: llama.attention.value_length 32: a value head size other than the key head size (16) is not supported
# LOGIT-SCALE: error: {{.*}}logit-scale.gguf: llama.logit_scale 0.5: scaled logits is not supported
# LAYER-NORM: error: {{.*}}layer-norm.gguf: llama.attention.layer_norm_epsilon is set: LayerNorm is not supported (RMSNorm only)
# BIAS: error: {{.*}}bias.gguf: tensor 'blk.0.attn_q.bias' is not part of llama's recipe (the importer would ignore it)
# HF-ROPE: error: {{.*}}config.json: rope_scaling needs 'original_max_position_embeddings'
# HF-ROPE-TYPE: error: {{.*}}config.json: rope_scaling rope_type 'dynamic' is not supported (default, linear, llama3, yarn)
# HF-ROPE-KEY: error: {{.*}}config.json: rope_scaling key 'short_factor' is not understood for rope_type 'linear'
# HF-ACT: error: {{.*}}config.json: hidden_act 'gelu' is not supported (SwiGLU with silu)
# HF-BIAS: error: {{.*}}config.json: attention_bias is true: projections with biases are not supported
# HF-WINDOW: error: {{.*}}model.safetensors: sliding_window must not be negative
# HF-UNTIED: error: {{.*}}config.json: tie_word_embeddings is false but the checkpoint has no lm_head.weight
# HF-TIED: error: {{.*}}config.json: tie_word_embeddings is true but the checkpoint's lm_head.weight differs from its embedding
# HF-TYPE: error: {{.*}}config.json: model_type 'gpt2' is not a decoder the importer knows

import json
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "Compile", "Inputs"))
import llama_ref as r  # noqa: E402

CFG = r.Config(dim=32, layers=1, heads=2, kv_heads=1, ffn=32, vocab=16,
               ctx=8)


def write_gguf(path, w, keys=()):
    """r.write_gguf's model plus (method, key, value) metadata."""
    wr = gguf.GGUFWriter(path, "llama")
    wr.add_context_length(CFG.ctx)
    wr.add_embedding_length(CFG.dim)
    wr.add_block_count(CFG.layers)
    wr.add_feed_forward_length(CFG.ffn)
    wr.add_head_count(CFG.heads)
    wr.add_head_count_kv(CFG.kv_heads)
    wr.add_rope_freq_base(CFG.theta)
    wr.add_layer_norm_rms_eps(CFG.eps)
    for method, key, value in keys:
        getattr(wr, method)(key, value)
    for name, a in w.items():
        wr.add_tensor(name, a)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def write_hf(d, w, **config):
    """r.write_safetensors's checkpoint with config.json entries changed
    (None removes one)."""
    os.makedirs(d)
    r.write_safetensors(d, CFG, w)
    path = os.path.join(d, "config.json")
    cj = json.load(open(path))
    for k, v in config.items():
        if v is None:
            cj.pop(k, None)
        else:
            cj[k] = v
    json.dump(cj, open(path, "w"))


def main():
    d = sys.argv[1]
    w = r.make_weights(CFG)
    freqs = dict(w)
    freqs["rope_freqs.weight"] = np.ones(CFG.hd, dtype=np.float32)
    write_gguf(os.path.join(d, "rope-freqs.gguf"), freqs)
    write_gguf(os.path.join(d, "rope-type.gguf"), w,
               [("add_string", "llama.rope.scaling.type", "longrope")])
    write_gguf(os.path.join(d, "rope-factor.gguf"), w,
               [("add_string", "llama.rope.scaling.type", "none"),
                ("add_float32", "llama.rope.scaling.factor", 4.0)])
    yarn = [("add_string", "llama.rope.scaling.type", "yarn"),
            ("add_float32", "llama.rope.scaling.factor", 4.0)]
    write_gguf(os.path.join(d, "rope-ext.gguf"), w,
               yarn + [("add_float32", "llama.rope.scaling.yarn_ext_factor",
                        0.5)])
    write_gguf(os.path.join(d, "rope-attn.gguf"), w,
               [("add_string", "llama.rope.scaling.type", "linear"),
                ("add_float32", "llama.rope.scaling.factor", 4.0),
                ("add_float32", "llama.rope.scaling.attn_factor", 1.25)])
    write_gguf(os.path.join(d, "rope-beta.gguf"), w,
               yarn + [("add_float32", "llama.rope.scaling.yarn_beta_fast",
                        -32.0)])
    write_gguf(os.path.join(d, "experts.gguf"), w,
               [("add_uint32", "llama.expert_count", 8)])
    write_gguf(os.path.join(d, "key-length.gguf"), w,
               [("add_uint32", "llama.attention.value_length", 32)])
    write_gguf(os.path.join(d, "logit-scale.gguf"), w,
               [("add_float32", "llama.logit_scale", 0.5)])
    write_gguf(os.path.join(d, "layer-norm.gguf"), w,
               [("add_float32", "llama.attention.layer_norm_epsilon", 1e-5)])
    bias = dict(w)
    bias["blk.0.attn_q.bias"] = np.zeros(CFG.dim, dtype=np.float32)
    write_gguf(os.path.join(d, "bias.gguf"), bias)

    write_hf(os.path.join(d, "hf-rope-scaling"), w,
             rope_scaling={"rope_type": "llama3", "factor": 8.0})
    write_hf(os.path.join(d, "hf-rope-dynamic"), w,
             rope_scaling={"rope_type": "dynamic", "factor": 2.0})
    write_hf(os.path.join(d, "hf-rope-key"), w,
             rope_scaling={"type": "linear", "factor": 2.0,
                           "short_factor": [1.0]})
    write_hf(os.path.join(d, "hf-act"), w, hidden_act="gelu")
    write_hf(os.path.join(d, "hf-bias"), w, attention_bias=True)
    write_hf(os.path.join(d, "hf-window"), w, sliding_window=-4)
    untied = dict(w)
    del untied["output.weight"]
    write_hf(os.path.join(d, "hf-untied"), untied, tie_word_embeddings=False)
    write_hf(os.path.join(d, "hf-tied"), w, tie_word_embeddings=True)
    write_hf(os.path.join(d, "hf-type"), w, architectures=None,
             model_type="gpt2")


if __name__ == "__main__":
    main()
