# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t %cxx | FileCheck %s
#
# The Llama importer and lowbit-compile end to end (docs/Import.md,
# docs/Compile.md): tiny Llama-architecture models (GQA: 4 heads over 2 KV
# heads) written as GGUF (by gguf-py) and safetensors (by safetensors,
# with config.json) are compiled to shared libraries, linked into
# Inputs/llama_driver.cpp and run for 12 decode steps; every step's logits
# are compared with the numpy decoder of Inputs/llama_ref.py on the same
# weights (float64): f32 weights (interleaved and rotate_half RoPE, tied
# and separate heads), f16 safetensors, and GGUF q4_0/q8_0 blocks kept as
# stored (the reference then quantizes those layers' inputs to int8 per
# row, as lowbit's GGUF kernels do), and the W4A8 pipeline (the reference
# with the library's int4 weights and int8 inputs). Then malformed models:
# clear errors.
#
# CHECK: gguf f32: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: safetensors f32 tied: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: safetensors f16: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf f16/bf16 kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf q4_0/q8_0 kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf q8_0 embedding tied kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: q8_0 table: one copy in the weights blob
# CHECK: gguf q4_1 embedding kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf q5_0 embedding kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf q5_1 embedding kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf q4_1/q5_1 kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gguf k-quants, iq4, tq1_0, tq2_0, mxfp4 kept: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: caches: updated in place (llm_decode takes 5 buffers)
# CHECK: token and position ranges: checked by the C entry point
# CHECK: gguf f32 + lowbit-w4a8: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: w4a8 vs fp32: rel L2 err {{[0-9.]+}}, top-1 {{[0-9]+}}/12
# CHECK: missing tensor: lowbit-compile: error: {{.*}}the model has no tensor 'blk.1.ffn_up.weight'
# CHECK: wrong shape: lowbit-compile: error: {{.*}}tensor 'blk.0.attn_k.weight' has shape 64x64, the config says 32x64
# CHECK: not llama: lowbit-compile: error: {{.*}}architecture 'gpt2' is not a decoder the importer knows (llama, mistral, qwen2, qwen3, phi3, gemma3)
# CHECK: bad heads: lowbit-compile: error: {{.*}}4 attention heads are not a multiple of 3 KV heads
# CHECK: no config.json: lowbit-compile: error: {{.*}}config.json: No such file or directory (a safetensors model needs its config.json beside it)
# CHECK: absurd head_dim: lowbit-compile: error: {{.*}}heads, KV heads and head size must not exceed the model dimension
# CHECK: truncated gguf: lowbit-compile: error: {{.*}}GGUF at byte {{[0-9]+}}: {{.*}}extends past the end of the file

import os
import shutil
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "Inputs"))
import llama_ref as r  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "Inputs"))
import testutil as tu  # noqa: E402

TOKENS = [1, 5, 9, 200, 17, 3, 3, 42, 255, 0, 77, 128]


run = tu.run


def compile_and_run(d, model, extra=()):
    return r.compile_and_run(d, model, TOKENS, CXX, extra)


compare = r.compare


def gguf_case(d, label, cfg, w, types):
    """Writes `w` as a GGUF with `types` ({name: GGML type}), compiles it
    with its weights as stored and compares 12 steps with the float64
    decoder on the same stored values (inputs of kept matrices quantized
    as lowbit's kernels take them). Returns the C header and the size of
    the weights blob."""
    path = os.path.join(d, "case.gguf")
    r.write_gguf(path, cfg, w, types)
    got, header = compile_and_run(d, path)
    compare(label, got,
            r.decode(cfg, r.dequantized(w, types), TOKENS,
                     int8_inputs=r.gguf_activation_blocks(types)))
    return header, os.path.getsize(os.path.join(d, "out", "llm.weights"))


def main():
    global CXX
    d, CXX = sys.argv[1], sys.argv[2]
    cfg = r.Config()

    w = r.make_weights(cfg)
    path = os.path.join(d, "f32.gguf")
    r.write_gguf(path, cfg, w)
    got, header = compile_and_run(d, path)
    fp32 = r.decode(cfg, w, TOKENS)
    compare("gguf f32", got, fp32)

    wt = r.make_weights(cfg, seed=1, tied=True)
    std = os.path.join(d, "st")
    os.makedirs(std)
    r.write_safetensors(std, cfg, wt)
    got, _ = compile_and_run(d, os.path.join(std, "model.safetensors"))
    compare("safetensors f32 tied", got,
            r.decode(cfg, wt, TOKENS, interleaved=False))

    h16 = os.path.join(d, "h16")
    os.makedirs(h16)
    r.write_safetensors(h16, cfg, w, dtype=np.float16)
    w16 = {k: v.astype(np.float16).astype(np.float32) for k, v in w.items()}
    got, _ = compile_and_run(d, os.path.join(h16, "model.safetensors"))
    compare("safetensors f16", got,
            r.decode(cfg, w16, TOKENS, interleaved=False))
    # Kept as f16 (the kernels widen them as they read): half the blob.
    blob16 = os.path.getsize(os.path.join(d, "out", "llm.weights"))
    assert blob16 < 0.6 * 4 * sum(v.size for v in w.values()), blob16
    # GGUF f16 matrices and a bf16 table tied to the head, as stored.
    wh = r.make_weights(cfg, seed=7, tied=True)
    th = {n: gguf.GGMLQuantizationType.F16 for n in wh
          if n.startswith("blk") and "norm" not in n}
    th["token_embd.weight"] = gguf.GGMLQuantizationType.BF16
    _, blobh = gguf_case(d, "gguf f16/bf16 kept", cfg, wh, th)
    assert blobh < 0.6 * 4 * sum(v.size for v in wh.values()), blobh

    types = {n: gguf.GGMLQuantizationType.Q4_0 for n in w
             if n.startswith("blk") and "norm" not in n}
    types["output.weight"] = gguf.GGMLQuantizationType.Q8_0
    header, _ = gguf_case(d, "gguf q4_0/q8_0 kept", cfg, w, types)
    # A q8_0 embedding table, tied as in SmolLM2's GGUF: rows decoded per
    # step from the stored blocks, and the head reads the same bytes (one
    # copy in the blob) with int8 inputs.
    wt1 = r.make_weights(cfg, seed=3, tied=True)
    types1 = {"token_embd.weight": gguf.GGMLQuantizationType.Q8_0}
    _, blob1 = gguf_case(d, "gguf q8_0 embedding tied kept", cfg, wt1,
                         types1)
    table = cfg.vocab * cfg.dim // 32 * 34
    others = 4 * sum(v.size for k, v in wt1.items()
                     if k != "token_embd.weight")
    assert table + others <= blob1 < 1.5 * table + others, (blob1, table,
                                                           others)
    print("q8_0 table: one copy in the weights blob")
    # Embedding tables of the other 32-input formats (Qwen2.5's is q5_0),
    # decoded per step from their blocks too; an f32 head.
    T = gguf.GGMLQuantizationType
    for emb in (T.Q4_1, T.Q5_0, T.Q5_1):
        we = r.make_weights(cfg, seed=5)
        te = {"token_embd.weight": emb}
        _, blob = gguf_case(d, "gguf %s embedding kept" % emb.name.lower(),
                            cfg, we, te)
        assert blob < 4 * sum(v.size for v in we.values()) - 2 * cfg.vocab \
            * cfg.dim, (emb.name, blob)
    # q4_1 and q5_1 matrices read as stored with int8 inputs per block of 32 (as
    # llama.cpp's q8_1), a q8_0 embedding and an f32 head.
    w41 = r.make_weights(cfg, seed=4)
    types41 = {n: gguf.GGMLQuantizationType.Q4_1 for n in w41
               if n.startswith("blk") and "norm" not in n}
    types41["token_embd.weight"] = gguf.GGMLQuantizationType.Q8_0
    for n in types41:  # the MLP in q5_1
        if "ffn" in n:
            types41[n] = gguf.GGMLQuantizationType.Q5_1
    gguf_case(d, "gguf q4_1/q5_1 kept", cfg, w41, types41)
    # Every other type the importer keeps (super-blocks of 256: a wider
    # model), as stored, with int8 inputs per block of 32 (f16 scales) or
    # 256 (f32).
    cfgk = r.Config(dim=256, heads=4, kv_heads=2, ffn=512, layers=2)
    wk = r.make_weights(cfgk, seed=6)
    typesk = {"blk.0.attn_q.weight": T.Q4_K, "blk.0.attn_k.weight": T.Q5_K,
              "blk.0.attn_v.weight": T.Q6_K,
              "blk.0.attn_output.weight": T.Q2_K,
              "blk.0.ffn_gate.weight": T.IQ4_XS,
              "blk.0.ffn_up.weight": T.IQ4_NL,
              "blk.0.ffn_down.weight": T.TQ2_0, "output.weight": T.Q3_K,
              "token_embd.weight": T.Q5_0,
              # the second layer: GGUF's mxfp4 and 32-input formats
              "blk.1.attn_q.weight": T.MXFP4, "blk.1.attn_k.weight": T.Q5_1,
              "blk.1.attn_v.weight": T.Q4_0,
              "blk.1.attn_output.weight": T.Q8_0,
              "blk.1.ffn_gate.weight": T.Q4_1, "blk.1.ffn_up.weight": T.MXFP4,
              "blk.1.ffn_down.weight": T.TQ1_0}
    _, blob = gguf_case(d, "gguf k-quants, iq4, tq1_0, tq2_0, mxfp4 kept",
                        cfgk, wk, typesk)
    # (under a byte a quantized weight: none expanded to f32)
    assert blob < sum((1 if k in typesk else 4) * v.size
                      for k, v in wk.items()), blob
    assert ("int llm_decode(const int32_t *arg0, const int32_t *arg1, "
            "float *arg2, float *arg3, float *result0);") in header, header
    print("caches: updated in place (llm_decode takes 5 buffers)")
    assert " *   arg0 elements must lie in [0, 255]: -2 otherwise" in header
    assert " *   arg1 elements must lie in [0, 15]: -2 otherwise" in header
    print("token and position ranges: checked by the C entry point")

    # W4A8: int4 weights in groups of 32 inputs, int8 activations per
    # row, at every matmul site (the embedding is a gather, not a site).
    # The reference uses lowbit's numerics library for both roundings.
    import lowbit
    got, _ = compile_and_run(d, os.path.join(d, "f32.gguf"),
                             ["--pipeline=lowbit-w4a8{group=32}"])
    sites = [n for n in w if n != "token_embd.weight" and "norm" not in n]
    w4 = dict(w)
    for n in sites:
        w4[n] = lowbit.fake_quant(w[n], "int4", 32)
    compare("gguf f32 + lowbit-w4a8", got,
            r.decode(cfg, w4, TOKENS, int8_inputs=set(sites)))
    err = np.linalg.norm(got - fp32) / np.linalg.norm(fp32)
    print("w4a8 vs fp32: rel L2 err %.3f, top-1 %d/12"
          % (err, int((got.argmax(1) == fp32.argmax(1)).sum())))

    def bad(label, path):
        res = run(["lowbit-compile", path, "-o", os.path.join(d, "bad"),
                   "--max-seq=16"])
        assert res.returncode == 1, (label, res)
        assert not [f for f in os.listdir(d) if f.startswith("bad.")]
        print("%s: %s" % (label, res.stderr.strip().splitlines()[0]))

    w_missing = dict(w)
    del w_missing["blk.1.ffn_up.weight"]
    r.write_gguf(os.path.join(d, "m1.gguf"), cfg, w_missing)
    bad("missing tensor", os.path.join(d, "m1.gguf"))
    w_shape = dict(w)
    w_shape["blk.0.attn_k.weight"] = w["blk.0.attn_q.weight"]
    r.write_gguf(os.path.join(d, "m2.gguf"), cfg, w_shape)
    bad("wrong shape", os.path.join(d, "m2.gguf"))
    wr = gguf.GGUFWriter(os.path.join(d, "m3.gguf"), "gpt2")
    wr.add_tensor("token_embd.weight", w["token_embd.weight"])
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    bad("not llama", os.path.join(d, "m3.gguf"))
    cfg3 = r.Config(kv_heads=3)
    r.write_gguf(os.path.join(d, "m4.gguf"), cfg3, w)
    bad("bad heads", os.path.join(d, "m4.gguf"))
    nc = os.path.join(d, "nocfg")
    os.makedirs(nc)
    shutil.copy(os.path.join(std, "model.safetensors"), nc)
    bad("no config.json", os.path.join(nc, "model.safetensors"))
    import json
    hd = os.path.join(d, "headdim")
    os.makedirs(hd)
    shutil.copy(os.path.join(std, "model.safetensors"), hd)
    cj = json.load(open(os.path.join(std, "config.json")))
    cj["head_dim"] = (1 << 62) + 16  # 4 heads x this wraps to 64 in int64
    json.dump(cj, open(os.path.join(hd, "config.json"), "w"))
    bad("absurd head_dim", os.path.join(hd, "model.safetensors"))
    blob = open(os.path.join(d, "f32.gguf"), "rb").read()
    open(os.path.join(d, "cut.gguf"), "wb").write(blob[:len(blob) - 100])
    bad("truncated gguf", os.path.join(d, "cut.gguf"))


CXX = None

if __name__ == "__main__":
    main()
