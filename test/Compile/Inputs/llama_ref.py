# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""A numpy Llama decoder (the reference of test/Compile/llama.py) and a
tiny GGUF / safetensors model writer.

The reference follows llama.cpp and Hugging Face: RMSNorm (x / sqrt(mean
x^2 + eps) * g), RoPE at theta^(-2i/d) on interleaved pairs (GGUF) or
halves (HF), scaled as Hugging Face's `rope_scaling` says (linear, llama3,
yarn), grouped-query attention with a KV cache, SwiGLU, tied or separate
output head. Computed in float64 from the same float32 weights.
"""

import json
import math
import os
import shutil
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


class Config:
    def __init__(self, dim=64, layers=2, heads=4, kv_heads=2, ffn=96,
                 vocab=256, ctx=64, theta=10000.0, eps=1e-5,
                 rope_scaling=None, arch="llama", head_dim=None):
        self.dim, self.layers, self.heads, self.kv_heads = (dim, layers,
                                                            heads, kv_heads)
        self.ffn, self.vocab, self.ctx = ffn, vocab, ctx
        self.theta, self.eps = theta, eps
        self.hd = head_dim or dim // heads
        # llama, qwen2 (Q, K, V biases), qwen3 (per-head Q and K norms),
        # phi3 (fused Q/K/V and gate/up matrices) or gemma3 (see decode).
        self.arch = arch
        # Gemma 3: the local layers' RoPE base, the period of global
        # layers (llama.cpp's fixed 6 for GGUF) and the score scale (None:
        # 1 / sqrt(head size)).
        self.theta_local, self.pattern, self.attn_scale = 10000.0, 6, None
        # Sliding-window attention (None: none): all layers, or Gemma 3's
        # local ones.
        self.window = None
        # Hugging Face's config.json `rope_scaling` (None: unscaled).
        self.rope_scaling = rope_scaling


def is_local(cfg, layer):
    """Gemma 3: whether `layer` attends locally (all but every
    cfg.pattern-th)."""
    return cfg.arch == "gemma3" and (layer + 1) % cfg.pattern != 0


def rope_frequencies(cfg):
    """(frequencies [hd/2], attention factor) of RoPE with
    cfg.rope_scaling applied, by the formulas of Hugging Face's
    transformers (modeling_rope_utils: _compute_linear_scaling_parameters,
    _compute_llama3_parameters, _compute_yarn_parameters)."""
    hd, base = cfg.hd, cfg.theta
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    rs = cfg.rope_scaling
    kind = rs and (rs.get("rope_type") or rs.get("type"))
    if not kind or kind == "default":
        return inv, 1.0
    factor = rs["factor"]
    if kind == "linear":
        return inv / factor, 1.0
    orig = rs.get("original_max_position_embeddings") or cfg.ctx
    if kind == "llama3":
        low, high = rs["low_freq_factor"], rs["high_freq_factor"]
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > orig / low, inv / factor, inv)
        smooth = (orig / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= orig / high) & (wavelen <= orig / low)
        return np.where(medium, smoothed, scaled), 1.0
    assert kind == "yarn", kind

    def mscale(scale, m=1.0):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    att = rs.get("attention_factor")
    if att is None:
        if rs.get("mscale") and rs.get("mscale_all_dim"):
            att = mscale(factor, rs["mscale"]) / mscale(factor,
                                                        rs["mscale_all_dim"])
        else:
            att = mscale(factor)

    def corr(rot):
        return hd * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(base))

    lo, hi = corr(rs.get("beta_fast", 32)), corr(rs.get("beta_slow", 1))
    if rs.get("truncate", True):
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, hd - 1)
    if lo == hi:
        hi += 0.001
    ramp = np.clip((np.arange(hd // 2) - lo) / (hi - lo), 0, 1)
    extra = 1 - ramp
    return inv / factor * (1 - extra) + inv * extra, att


def llama3_rope_factors(rs, hd, base):
    """GGUF `rope_freqs.weight` for a Llama 3 `rope_scaling`, as llama.cpp's
    converter (convert_hf_to_gguf.py) computes it: frequency i is divided
    by factor i."""
    factor, low, high = (rs["factor"], rs["low_freq_factor"],
                         rs["high_freq_factor"])
    orig = rs["original_max_position_embeddings"]
    out = []
    for f in base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd):
        wavelen = 2 * math.pi / f
        if wavelen < orig / high:
            out.append(1.0)
        elif wavelen > orig / low:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def make_weights(cfg, seed=0, tied=False):
    """GGUF names -> float32 arrays [out, in] (norms 1-D)."""
    rng = np.random.default_rng(seed)
    D, F, hd = cfg.dim, cfg.ffn, cfg.hd

    def mat(o, i):
        return (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = {"token_embd.weight": rng.standard_normal(
        (cfg.vocab, D)).astype(np.float32)}
    for layer in range(cfg.layers):
        p = "blk.%d." % layer
        w[p + "attn_norm.weight"] = norm(D)
        w[p + "attn_q.weight"] = mat(cfg.heads * hd, D)
        w[p + "attn_k.weight"] = mat(cfg.kv_heads * hd, D)
        w[p + "attn_v.weight"] = mat(cfg.kv_heads * hd, D)
        w[p + "attn_output.weight"] = mat(D, cfg.heads * hd)
        if cfg.arch == "qwen2":
            for part, n in (("q", cfg.heads), ("k", cfg.kv_heads),
                            ("v", cfg.kv_heads)):
                w[p + "attn_%s.bias" % part] = (
                    0.5 * rng.standard_normal(n * hd)).astype(np.float32)
        if cfg.arch == "qwen3":
            w[p + "attn_q_norm.weight"] = norm(hd)
            w[p + "attn_k_norm.weight"] = norm(hd)
        w[p + "ffn_norm.weight"] = norm(D)
        w[p + "ffn_gate.weight"] = mat(F, D)
        w[p + "ffn_up.weight"] = mat(F, D)
        w[p + "ffn_down.weight"] = mat(D, F)
        if cfg.arch == "gemma3":
            w[p + "attn_q_norm.weight"] = norm(hd)
            w[p + "attn_k_norm.weight"] = norm(hd)
            w[p + "post_attention_norm.weight"] = norm(D)
            w[p + "post_ffw_norm.weight"] = norm(D)
        if cfg.arch == "phi3":  # fused: Q, K, V rows; gate, up rows
            w[p + "attn_qkv.weight"] = np.concatenate(
                [w.pop(p + "attn_%s.weight" % x) for x in "qkv"])
            w[p + "ffn_up.weight"] = np.concatenate(
                [w.pop(p + "ffn_gate.weight"), w.pop(p + "ffn_up.weight")])
    w["output_norm.weight"] = norm(D)
    if not tied:
        w["output.weight"] = mat(cfg.vocab, D)
    return w


def gguf_quantize(a, t):
    """`a` [rows, K] in GGUF type `t`'s bytes: gguf-py's quantizer, or for
    the types it does not quantize (K-quants, iq4_*) lowbit's, which
    test/GGUF checks byte for byte against llama.cpp's."""
    import gguf
    try:
        return gguf.quantize(a, t)
    except NotImplementedError:
        import lowbit
        return np.asarray(lowbit.quantize(a, t.name.lower()).codes, np.uint8)


def write_gguf(path, cfg, w, types=None, keys=()):
    """`types`: GGUF name -> gguf.GGMLQuantizationType for quantized ones
    (the weights' float values are quantized by gguf-py); `keys`: more
    metadata as (GGUFWriter method, key, value)."""
    import gguf
    wr = gguf.GGUFWriter(path, cfg.arch)
    for method, key, value in keys:
        getattr(wr, method)(key, value)
    if cfg.hd != cfg.dim // cfg.heads:
        wr.add_key_length(cfg.hd)
        wr.add_value_length(cfg.hd)
    if cfg.window:
        wr.add_sliding_window(cfg.window)
    wr.add_context_length(cfg.ctx)
    wr.add_embedding_length(cfg.dim)
    wr.add_block_count(cfg.layers)
    wr.add_feed_forward_length(cfg.ffn)
    wr.add_head_count(cfg.heads)
    wr.add_head_count_kv(cfg.kv_heads)
    wr.add_rope_freq_base(cfg.theta)
    wr.add_layer_norm_rms_eps(cfg.eps)
    for name, a in w.items():
        t = (types or {}).get(name)
        if t is None:
            wr.add_tensor(name, a)
        else:
            q = gguf_quantize(a, t)
            wr.add_tensor(name, q, raw_shape=q.shape, raw_dtype=t)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def dequantized(w, types):
    """The weights as the model holds them after GGUF quantization."""
    import gguf
    out = dict(w)
    for name, t in (types or {}).items():
        out[name] = gguf.dequantize(gguf_quantize(w[name], t), t).astype(
            np.float32).reshape(w[name].shape)
    return out


HF_NAMES = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
}
HF_CLASSES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
              "qwen3": "Qwen3ForCausalLM", "phi3": "Phi3ForCausalLM",
              "gemma3": "Gemma3ForCausalLM"}
# Gemma 3's norms: GGUF's names -> Hugging Face's.
HF_GEMMA3 = {"post_attention_norm": "post_attention_layernorm",
             "ffn_norm": "pre_feedforward_layernorm",
             "post_ffw_norm": "post_feedforward_layernorm"}
HF_FUSED = {"attn_qkv": "self_attn.qkv_proj", "ffn_up": "mlp.gate_up_proj"}


def write_safetensors(d, cfg, w, dtype=np.float32):
    """A Hugging Face checkpoint of the same model (rotate_half RoPE: the
    reference is run with interleaved=False on these weights)."""
    from safetensors.numpy import save_file
    hf = {}
    for name, a in w.items():
        if name == "token_embd.weight":
            key = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            key = "model.norm.weight"
        elif name == "output.weight":
            key = "lm_head.weight"
        else:
            _, layer, part, kind = name.split(".")
            hf_part = (HF_FUSED[part] if cfg.arch == "phi3"
                       and part in HF_FUSED else
                       HF_GEMMA3[part] if cfg.arch == "gemma3"
                       and part in HF_GEMMA3 else HF_NAMES[part])
            key = "model.layers.%s.%s.%s" % (layer, hf_part, kind)
        if cfg.arch == "gemma3" and name.endswith("norm.weight"):
            a = a - np.float32(1)  # Hugging Face's Gemma norms are 1 + w
        hf[key] = a.astype(dtype)
    save_file(hf, os.path.join(d, "model.safetensors"))
    config = {
        "architectures": [HF_CLASSES[cfg.arch]], "hidden_size": cfg.dim,
        "head_dim": cfg.hd,
        "num_hidden_layers": cfg.layers, "num_attention_heads": cfg.heads,
        "num_key_value_heads": cfg.kv_heads, "intermediate_size": cfg.ffn,
        "vocab_size": cfg.vocab, "max_position_embeddings": cfg.ctx,
        "rms_norm_eps": cfg.eps, "rope_theta": cfg.theta,
        "tie_word_embeddings": "output.weight" not in w,
        "rope_scaling": cfg.rope_scaling,
    }
    if cfg.window:
        config["sliding_window"] = cfg.window
    if cfg.arch == "gemma3":
        config.update({
            "hidden_activation": "gelu_pytorch_tanh",
            "rope_local_base_freq": cfg.theta_local,
            "sliding_window_pattern": cfg.pattern,
            "query_pre_attn_scalar": (cfg.attn_scale ** -2 if cfg.attn_scale
                                      else cfg.hd)})
    json.dump(config, open(os.path.join(d, "config.json"), "w"))


KIVI_GROUP = 32


def kv_view(hist, key, kv):
    """What attention reads of a cache holding `hist` [n, KV, HD] (the
    exact history up to the current position) under KV cache mode `kv`
    (docs/Import.md), with lowbit's numerics library for the rounding."""
    if kv == "f32":
        return hist
    import lowbit
    n, K, hd = hist.shape
    h32 = hist.astype(np.float32)
    if kv in ("int8", "fp8"):
        elem = "i8" if kv == "int8" else "f8e4m3fn"
        return lowbit.quantize_scheme(h32, elem, (1, 1, hd)).dequantize() \
            .astype(np.float64)
    elem = "i4" if kv == "int4" else "i2"
    out = hist.copy()
    G = KIVI_GROUP
    for g in range((n - 1) // G):  # complete groups before the current one
        blk = h32[g * G:(g + 1) * G]
        blocks = (G, 1, 1) if key else (1, 1, hd)
        out[g * G:(g + 1) * G] = lowbit.quantize_scheme(
            blk, elem, blocks, asymmetric=True).dequantize()
    return out


def gguf_activation_blocks(types):
    """The activation blocks of the GGUF weights in `types` ({name: GGML
    type}) that lowbit keeps as stored and multiplies with int8 inputs:
    (32, "f16") for the formats of 32-input blocks (llama.cpp's q8_0),
    (256, "f32") for the K-quants (q8_K)."""
    import gguf
    T = gguf.GGMLQuantizationType
    blocks = {T.Q4_0: (32, "f16"), T.Q4_1: (32, "f16"), T.Q8_0: (32, "f16"),
              T.Q5_0: (32, "f16"), T.Q5_1: (32, "f16"),
              T.IQ4_NL: (32, "f16"), T.Q4_K: (256, "f32"), T.Q5_K: (256, "f32"),
              T.Q6_K: (256, "f32"), T.TQ2_0: (256, "f32"),
              T.IQ4_XS: (256, "f32"), T.Q2_K: (256, "f32"),
              T.Q3_K: (256, "f32"), T.MXFP4: (32, "f16"),
              T.TQ1_0: (256, "f32")}
    return {n: blocks[t] for n, t in types.items() if t in blocks}


def decode(cfg, w, tokens, interleaved=True, int8_inputs=(), kv="f32"):
    """Logits [len(tokens), vocab] of feeding `tokens` one at a time.
    The weights named in `int8_inputs` see their input quantized to int8:
    a dict gives each its activation blocks (`gguf_activation_blocks`, as
    lowbit's kept GGUF weights quantize their inputs: llama.cpp's q8_0 /
    q8_K), a set means one scale per row (lowbit.fake_quant "int8")."""
    H, K, hd = cfg.heads, cfg.kv_heads, cfg.hd
    G = H // K
    # Float64 weights as they are (no copy: a real model's are large).
    W = {k: np.asarray(v, np.float64) for k, v in w.items()}
    kc = np.zeros((cfg.layers, len(tokens), K, hd))
    vc = np.zeros_like(kc)
    freqs, att = rope_frequencies(cfg)
    freqs = freqs.astype(np.float32).astype(np.float64)
    gemma = cfg.arch == "gemma3"
    # Gemma 3's local layers: their own base, no scaling.
    local_freqs = (cfg.theta_local ** (-np.arange(0, hd, 2) / hd)).astype(
        np.float32).astype(np.float64)
    scale = cfg.attn_scale if gemma and cfg.attn_scale else 1 / np.sqrt(hd)

    def mv(name, x):
        if name in int8_inputs:
            import lowbit
            x32 = x.astype(np.float32)[None]
            blocks = int8_inputs.get(name) if isinstance(
                int8_inputs, dict) else None
            if blocks:
                x = lowbit.quantize_scheme(x32, "i8", (1, blocks[0]),
                                           scale=blocks[1]).dequantize()[0]
            else:
                x = lowbit.fake_quant(x32, "int8")[0]
            x = np.asarray(x, np.float64)
        return W[name] @ x

    def rms(x, g):  # over the last axis
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True)
                           + cfg.eps) * g

    def proj(p, part, h, heads):
        if p + "attn_qkv.weight" in W:  # fused: this part's rows
            at = {"q": 0, "k": H * hd, "v": (H + K) * hd}[part]
            y = mv(p + "attn_qkv.weight", h)[at:at + heads * hd]
            return y.reshape(heads, hd)
        y = mv(p + "attn_%s.weight" % part, h)
        if p + "attn_%s.bias" % part in W:
            y = y + W[p + "attn_%s.bias" % part]
        y = y.reshape(heads, hd)
        if p + "attn_%s_norm.weight" % part in W:
            y = rms(y, W[p + "attn_%s_norm.weight" % part])
        return y

    def rope(x, pos, local=False):  # x [heads, hd]
        if local:
            ang = pos * local_freqs
            c, s = np.cos(ang), np.sin(ang)
        else:
            ang = pos * freqs
            c, s = att * np.cos(ang), att * np.sin(ang)
        y = np.empty_like(x)
        if interleaved:
            a, b = x[:, 0::2], x[:, 1::2]
            y[:, 0::2] = a * c - b * s
            y[:, 1::2] = b * c + a * s
        else:
            a, b = x[:, :hd // 2], x[:, hd // 2:]
            y[:, :hd // 2] = a * c - b * s
            y[:, hd // 2:] = b * c + a * s
        return y

    out = []
    for pos, tok in enumerate(tokens):
        x = W["token_embd.weight"][tok].copy()
        if gemma:
            x = x * np.float32(np.sqrt(np.float32(cfg.dim)))
        for layer in range(cfg.layers):
            p = "blk.%d." % layer
            loc = is_local(cfg, layer)
            h = rms(x, W[p + "attn_norm.weight"])
            q = rope(proj(p, "q", h, H), pos, loc)
            k = rope(proj(p, "k", h, K), pos, loc)
            v = proj(p, "v", h, K)
            kc[layer, pos], vc[layer, pos] = k, v
            ks = kv_view(kc[layer, :pos + 1], True, kv)
            vs = kv_view(vc[layer, :pos + 1], False, kv)
            if cfg.window and (not gemma or loc):  # the last `window`
                ks, vs = ks[-cfg.window:], vs[-cfg.window:]
            o = np.empty((H, hd))
            for hh in range(H):
                g = hh // G
                s = ks[:, g] @ q[hh] * scale
                e = np.exp(s - s.max())
                o[hh] = (e / e.sum()) @ vs[:, g]
            o = mv(p + "attn_output.weight", o.reshape(-1))
            if p + "post_attention_norm.weight" in W:
                o = rms(o, W[p + "post_attention_norm.weight"])
            x = x + o
            h = rms(x, W[p + "ffn_norm.weight"])
            if p + "ffn_gate.weight" in W:
                gt = mv(p + "ffn_gate.weight", h)
                up = mv(p + "ffn_up.weight", h)
            else:  # fused: gate rows, then up rows
                gt, up = np.split(mv(p + "ffn_up.weight", h), 2)
            if gemma:  # GELU, tanh approximation
                u = np.sqrt(2 / np.pi) * (gt + 0.044715 * gt ** 3)
                act = 0.5 * gt * (1 + np.tanh(u))
            else:
                act = gt / (1 + np.exp(-gt))
            m = mv(p + "ffn_down.weight", act * up)
            if p + "post_ffw_norm.weight" in W:
                m = rms(m, W[p + "post_ffw_norm.weight"])
            x = x + m
        hn = rms(x, W["output_norm.weight"])
        out.append(mv("output.weight", hn) if "output.weight" in W
                   else mv("token_embd.weight", hn))
    return np.array(out)


def compile_and_run(d, model, tokens, cxx, extra=()):
    """Compiles `model` with lowbit-compile into a shared library, links
    it into llama_driver.cpp and feeds it `tokens`: (logits [n, vocab],
    the generated C header)."""
    out = os.path.join(d, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    base = os.path.join(out, "llm")
    res = subprocess.run(["lowbit-compile", model, "-o", base, "--max-seq=16",
                          "--shared"] + list(extra), capture_output=True,
                         text=True)
    assert res.returncode == 0 and not res.stderr, res.stderr  # no warning
    # No MLIR runtime library: a memref copy that bufferization could not
    # make in place (libmlir_c_runner_utils's memrefCopy) would also load
    # libMLIR and libLLVM (70 MB resident) into every user's process.
    needed = subprocess.run(["readelf", "-d", base + ".so"],
                            capture_output=True, text=True, check=True).stdout
    assert "mlir_c_runner_utils" not in needed, needed
    exe = os.path.join(out, "driver")
    res = subprocess.run([cxx, "-O1", "-I" + out,
                          os.path.join(HERE, "llama_driver.cpp"),
                          base + ".so", "-Wl,-rpath," + out, "-o", exe],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    tok = os.path.join(out, "tokens.i32")
    np.array(tokens, dtype=np.int32).tofile(tok)
    logits = os.path.join(out, "logits.f32")
    res = subprocess.run([exe, base + ".weights", tok, logits],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    header = open(base + ".h").read()
    return (np.fromfile(logits, dtype=np.float32).reshape(len(tokens), -1),
            header)


def step_errors(got, ref):
    """Each step's max |got - ref| over the vocabulary relative to its
    max |ref| (compare's measure; bench/models/fp32_reference.py's)."""
    return np.abs(got - ref).max(axis=1) / np.abs(ref).max(axis=1)


def compare(label, got, ref):
    """Asserts every step's logits within 1e-5 of the reference's largest
    (relative) and the same top-1 token, and prints the figures."""
    err = step_errors(got, ref).max()
    top = int((got.argmax(1) == ref.argmax(1)).sum())
    assert err < 1e-5 and top == len(ref), (label, err, top)
    print("%s: %d steps, max rel err %.2g, top-1 %d/%d: ok"
          % (label, len(ref), err, top, len(ref)))
