# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t %cxx | FileCheck %s
#
# Sharded and pre-quantized safetensors checkpoints (docs/Import.md) of a
# tiny Llama (test/Compile/Inputs/llama_ref.py), written here with numpy
# from the formats' documentation: GPTQ (AutoGPTQ's v1 format, without
# and with act-order, zero points that wrap; GPTQModel's v2 with 8 bits
# and one group), AWQ (GEMM), compressed-tensors pack-quantized W4A16
# (symmetric groups with f16 scales, asymmetric per channel with bf16
# scales) and float-quantized FP8 per channel and per tensor. For each:
# (a) `lowbit-compile --compile-to=input` holds a lowbit.constant per
# matrix whose values (decoded here from its printed parts, as
# docs/Spec.md lays them out) equal the checkpoint's numpy dequantization
# bit for bit, and (b) the compiled model's logits match the numpy decoder
# run on those dequantized weights (the FP8 per-channel model also has its
# embedding quantized, which the importer dequantizes to f32). Then a sharded checkpoint (by its
# index and by its directory), and malformed ones: clear errors.
#
# CHECK: gptq: 14 lowbit.constant, bit-exact, ui4, per_group<[1 : 32]>, asymmetric, scale = f16
# CHECK: gptq: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gptq act-order: 14 lowbit.constant, bit-exact, ui4, per_group<[1 : 32]>, asymmetric, scale = f16
# CHECK: gptq act-order: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: gptq 8-bit v2 per channel: 14 lowbit.constant, bit-exact, ui8, per_axis<0>, asymmetric, scale = f16
# CHECK: gptq 8-bit v2 per channel: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: awq: 14 lowbit.constant, bit-exact, ui4, per_group<[1 : 32]>, asymmetric, scale = f16
# CHECK: awq: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: w4a16 groups: 14 lowbit.constant, bit-exact, i4, per_group<[1 : 32]>, full_range, scale = f16
# CHECK: w4a16 groups: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: w4a16 asym channel bf16: 14 lowbit.constant, bit-exact, ui4, per_axis<0>, asymmetric, scale = bf16
# CHECK: w4a16 asym channel bf16: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: fp8 channel: 14 lowbit.constant, bit-exact, f8E4M3FN, per_axis<0>
# CHECK: fp8 channel: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: fp8 tensor: 14 lowbit.constant, bit-exact, f8E4M3FN, per_tensor
# CHECK: fp8 tensor: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: sharded index: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: sharded dir: 12 steps, max rel err {{[0-9.e-]+}}, top-1 12/12: ok
# CHECK: two shards: lowbit-compile: error: {{.*}}model-00001-of-00002.safetensors: tensor 'model.norm.weight' is in this shard but the weight_map names shard 'model-00002-of-00002.safetensors'
# CHECK: missing shard: lowbit-compile: error: {{.*}}shard 'model-00003-of-00003.safetensors' (of tensor 'extra.weight') does not exist
# CHECK: tensor not in shard: lowbit-compile: error: {{.*}}weight_map names tensor 'model.ghost.weight' in shard 'model-00002-of-00002.safetensors', which lacks it
# CHECK: unlisted tensor: lowbit-compile: error: {{.*}}tensor 'lm_head.weight' is in this shard but the weight_map does not list it
# CHECK: gptq 3 bits: lowbit-compile: error: {{.*}}config.json: quantization_config: 'bits' is 3: lowbit reads 4- and 8-bit GPTQ
# CHECK: gptq format: lowbit-compile: error: {{.*}}'checkpoint_format' must be "gptq" or "gptq_v2"
# CHECK: gptq no qzeros: lowbit-compile: error: {{.*}}tensor 'model.layers.0.mlp.down_proj.qzeros' is missing (GPTQ)
# CHECK: gptq uneven g_idx: lowbit-compile: error: {{.*}}tensor 'model.layers.0.mlp.down_proj.g_idx' does not give every group 32 inputs
# CHECK: awq gemv: lowbit-compile: error: {{.*}}'version' must be "gemm"
# CHECK: unknown method: lowbit-compile: error: {{.*}}'quant_method' is 'bitsandbytes': lowbit reads gptq, awq and compressed-tensors
# CHECK: w8a8: lowbit-compile: error: {{.*}}'config_groups.group_0.input_activations' quantizes activations
# CHECK: fp8 block: lowbit-compile: error: {{.*}}'config_groups.group_0.weights.strategy' is 'block'

import json
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Compile", "Inputs"))
import llama_ref as r  # noqa: E402

TOKENS = [1, 5, 9, 200, 17, 3, 3, 42, 255, 0, 77, 128]
D = sys.argv[1]
CXX = sys.argv[2]
G = 32  # group size
CFG = r.Config()
W = r.make_weights(CFG, seed=3)
MATRICES = [n for n, a in W.items() if a.ndim == 2 and n.startswith("blk.")]
HF = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
      "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
      "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
      "ffn_down": "mlp.down_proj"}


def hf_module(name):
    _, layer, part, _ = name.split(".")
    return "model.layers.%s.%s" % (layer, HF[part])


# -- safetensors, written by hand (any dtype, F8_E4M3 included) ------------

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
          np.dtype(np.int32): "I32", np.dtype(np.int64): "I64",
          np.dtype(np.int8): "I8"}


def write_st(path, tensors):
    """tensors: name -> numpy array, or (dtype name, shape, bytes)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        if isinstance(t, np.ndarray):
            t = (DTYPES[t.dtype], list(t.shape),
                 np.ascontiguousarray(t).tobytes())
        header[name] = {"dtype": t[0], "shape": list(t[1]),
                        "data_offsets": [off, off + len(t[2])]}
        blobs.append(t[2])
        off += len(t[2])
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def model_dir(name, tensors, qc=None, index=None):
    """A checkpoint directory: config.json (with quantization_config
    `qc`) and model.safetensors, or the shards of `index`."""
    d = os.path.join(D, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    r.write_safetensors(d, CFG, W)  # config.json (and f32 weights)
    cfg = json.load(open(os.path.join(d, "config.json")))
    if qc is not None:
        cfg["quantization_config"] = qc
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    if tensors is not None:
        write_st(os.path.join(d, "model.safetensors"), tensors)
    return d


def float_tensors():
    """The f32 checkpoint's tensors (Hugging Face names)."""
    from safetensors.numpy import load_file
    d = model_dir("f32", None)
    return load_file(os.path.join(d, "model.safetensors"))


BASE = float_tensors()


def quantized_checkpoint(make, embedding=False):
    """The f32 checkpoint with every layer matrix (and the embedding, with
    `embedding`) replaced by make(w): a dict of the module's tensors, and
    its dequantized [out, in] f32."""
    tensors = {k: v for k, v in BASE.items() if ".layers." not in k or
               v.ndim == 1}
    deq = dict(W)
    for n in MATRICES + (["token_embd.weight"] if embedding else []):
        parts, w = make(W[n])
        module = ("model.embed_tokens" if n == "token_embd.weight"
                  else hf_module(n))
        tensors.pop(module + ".weight", None)
        for k, v in parts.items():
            tensors[module + "." + k] = v
        deq[n] = w
    return tensors, deq


# -- the formats -----------------------------------------------------------

def rtn_asym(w, groups_of, bits=4):
    """Asymmetric RTN of w [out, in] with input i in group groups_of[i]:
    codes [out, in], zeros and f16 scales [groups, out]."""
    out, n = w.shape
    top = (1 << bits) - 1
    ng = groups_of.max() + 1
    q = np.zeros((out, n), np.int64)
    z = np.zeros((ng, out), np.int64)
    s = np.zeros((ng, out), np.float16)
    for g in range(ng):
        cols = groups_of == g
        lo = np.minimum(w[:, cols].min(1), 0)
        hi = np.maximum(w[:, cols].max(1), 0)
        sc = ((hi - lo) / top).astype(np.float16)
        zz = np.clip(np.round(-lo / sc.astype(np.float32)), 0, top)
        q[:, cols] = np.clip(np.round(w[:, cols] / sc.astype(np.float32)[:, None])
                             + zz[:, None], 0, top)
        z[g], s[g] = zz, sc
    return q, z, s


def pack_rows(a, bits=4):
    """[r, c] codes -> int32 [r / (32/bits), c]: code j of a word at bits
    j*bits along the rows (GPTQ's qweight)."""
    p = 32 // bits
    a = a.astype(np.uint32)
    out = np.zeros((a.shape[0] // p, a.shape[1]), np.uint32)
    for j in range(p):
        out |= a[j::p] << np.uint32(bits * j)
    return out.view(np.int32)


def pack_cols(a, bits=4, order=None):
    """[r, c] codes -> int32 [r, c / (32/bits)]: word k's code j (bits
    j*bits) is column p*k + order[j]."""
    p = 32 // bits
    order = order or list(range(p))
    a = a.astype(np.uint32)
    out = np.zeros((a.shape[0], a.shape[1] // p), np.uint32)
    for j in range(p):
        out |= a[:, order[j]::p] << np.uint32(bits * j)
    return out.view(np.int32)


def unpack(words, axis, bits=4, order=None):
    """Inverse of pack_rows (axis 0) / pack_cols (axis 1)."""
    p = 32 // bits
    order = order or list(range(p))
    u = words.view(np.uint32)
    parts = [(u >> np.uint32(bits * j)) & np.uint32((1 << bits) - 1)
             for j in range(p)]
    shape = list(u.shape)
    shape[axis] *= p
    out = np.zeros(shape, np.int64)
    for j in range(p):
        if axis == 0:
            out[order[j]::p] = parts[j]
        else:
            out[:, order[j]::p] = parts[j]
    return out


def gptq(act_order):
    """AutoGPTQ's v1 checkpoint: qzeros stores z - 1, and its
    dequantization is (q - (stored + 1)) * s with group g_idx[i]."""
    rng = np.random.default_rng(7)

    def make(w):
        out, n = w.shape
        w = w.copy()
        w[0] = np.abs(w[0])  # row 0: every z = 0, stored as 15
        if act_order:
            perm = rng.permutation(n)  # the order GPTQ quantized in
            g_idx = np.empty(n, np.int32)
            g_idx[perm] = np.arange(n) // G
        else:
            g_idx = (np.arange(n) // G).astype(np.int32)
        q, z, s = rtn_asym(w, g_idx)
        parts = {"qweight": pack_rows(q.T), "qzeros": pack_cols((z - 1) & 15),
                 "scales": s, "g_idx": g_idx}
        # What AutoGPTQ computes from the tensors alone (qlinear_cuda_old:
        # zeros + 1, then the mask).
        qq = unpack(parts["qweight"], 0)  # [in, out]
        zz = (unpack(parts["qzeros"], 1) + 1) & 15  # [groups, out]
        assert (unpack(parts["qzeros"], 1)[:, 0] == 15).all()
        ss = parts["scales"].astype(np.float32)
        gi = parts["g_idx"]
        deq = ((qq - zz[gi]).astype(np.float32) * ss[gi]).T
        return parts, np.ascontiguousarray(deq)
    qc = {"quant_method": "gptq", "bits": 4, "group_size": G,
          "desc_act": act_order, "sym": False, "checkpoint_format": "gptq"}
    return make, qc


def gptq_v2_8bit():
    """GPTQ's v2 format (z stored as is), 8 bits, one group (-1)."""
    def make(w):
        out, n = w.shape
        g_idx = np.zeros(n, np.int32)
        q, z, s = rtn_asym(w, g_idx, bits=8)
        parts = {"qweight": pack_rows(q.T, 8), "qzeros": pack_cols(z, 8),
                 "scales": s, "g_idx": g_idx}
        qq = unpack(parts["qweight"], 0, 8)
        zz = unpack(parts["qzeros"], 1, 8)
        ss = parts["scales"].astype(np.float32)
        deq = ((qq - zz[g_idx]).astype(np.float32) * ss[g_idx]).T
        return parts, np.ascontiguousarray(deq)
    qc = {"quant_method": "gptq", "bits": 8, "group_size": -1,
          "desc_act": False, "sym": False, "checkpoint_format": "gptq_v2"}
    return make, qc


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def awq():
    def make(w):
        out, n = w.shape
        q, z, s = rtn_asym(w, np.arange(n) // G)
        parts = {"qweight": pack_cols(q.T, order=AWQ_ORDER),
                 "qzeros": pack_cols(z, order=AWQ_ORDER), "scales": s}
        qq = unpack(parts["qweight"], 1, order=AWQ_ORDER)  # [in, out]
        zz = unpack(parts["qzeros"], 1, order=AWQ_ORDER)
        ss = parts["scales"].astype(np.float32)
        gi = np.arange(n) // G
        deq = ((qq - zz[gi]).astype(np.float32) * ss[gi]).T
        return parts, np.ascontiguousarray(deq)
    qc = {"quant_method": "awq", "bits": 4, "group_size": G,
          "version": "gemm", "zero_point": True}
    return make, qc


def ct_config(fmt, weights, inputs=None):
    return {"quant_method": "compressed-tensors", "format": fmt,
            "quantization_status": "compressed",
            "config_groups": {"group_0": {
                "targets": ["Linear"], "weights": weights,
                "input_activations": inputs, "output_activations": None,
                "format": fmt}}, "ignore": ["lm_head"]}


def w4a16():
    """compressed-tensors pack-quantized: signed q in [-8, 7] stored as
    q + 8, 8 per int32 along the inputs; w = q * s."""
    def make(w):
        out, n = w.shape
        gw = w.reshape(out, n // G, G)
        s = (np.abs(gw).max(2) / 7).astype(np.float16)  # [out, groups]
        sf = s.astype(np.float32)
        q = np.clip(np.round(gw / sf[:, :, None]), -8, 7).reshape(out, n)
        parts = {"weight_packed": pack_cols(q.astype(np.int64) + 8),
                 "weight_scale": s,
                 "weight_shape": np.array([out, n], np.int64)}
        qq = unpack(parts["weight_packed"], 1) - 8
        deq = qq.astype(np.float32) * np.repeat(sf, G, axis=1)
        return parts, deq
    qc = ct_config("pack-quantized", {
        "num_bits": 4, "type": "int", "symmetric": True, "strategy": "group",
        "group_size": G, "dynamic": False, "actorder": None})
    return make, qc


def bf16_bytes(x):
    """bf16 bytes of x, which must be exact in bf16."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    assert not (u & 0xFFFF).any()
    return (u >> 16).astype(np.uint16).tobytes()


def w4a16_asym():
    """pack-quantized asymmetric per channel: q and z in [-8, 7] (q + 8
    stored packed, z as int8 [out, 1]), bf16 scales; w = (q - z) * s."""
    def make(w):
        out, n = w.shape
        lo = np.minimum(w.min(1, keepdims=True), 0)
        hi = np.maximum(w.max(1, keepdims=True), 0)
        s = ((hi - lo) / 15).astype(np.float32)
        s = (s.view(np.uint32) & 0xFFFF0000).view(np.float32)  # bf16
        z = np.clip(np.round(-lo / s) - 8, -8, 7)
        q = np.clip(np.round(w / s) + z, -8, 7)
        parts = {"weight_packed": pack_cols(q.astype(np.int64) + 8),
                 "weight_scale": ("BF16", [out, 1], bf16_bytes(s)),
                 "weight_zero_point": z.astype(np.int8),
                 "weight_shape": np.array([out, n], np.int64)}
        qq = unpack(parts["weight_packed"], 1) - 8
        zz = parts["weight_zero_point"].astype(np.int64)
        return parts, ((qq - zz).astype(np.float32) * s).astype(np.float32)
    qc = ct_config("pack-quantized", {
        "num_bits": 4, "type": "int", "symmetric": False,
        "strategy": "channel", "dynamic": False})
    return make, qc


def fp8(strategy, inputs=None):
    import lowbit

    def make(w):
        out, n = w.shape
        if strategy == "channel":
            s = (np.abs(w).max(1, keepdims=True) / 448).astype(np.float32)
        else:
            s = np.array([np.abs(w).max() / 448], np.float32)
        codes = lowbit.cast(w / (s if strategy == "channel" else s[0]),
                            "f8e4m3fn")
        parts = {"weight": ("F8_E4M3", [out, n], codes.tobytes()),
                 "weight_scale": s}
        deq = lowbit.decode(codes, "f8e4m3fn") * (
            s if strategy == "channel" else s[0])
        return parts, deq.astype(np.float32)
    qc = ct_config("float-quantized", {
        "num_bits": 8, "type": "float", "symmetric": True,
        "strategy": strategy, "dynamic": False}, inputs)
    return make, qc


# -- reading lowbit.constant back from the printed module -------------------

def blobs_of(text):
    out = {}
    for m in re.finditer(r'^\s*"?([\w.]+)"?: "0x([0-9A-F]+)"', text, re.M):
        out[m.group(1)] = bytes.fromhex(m.group(2))[4:]  # alignment first
    return out


def constants_of(text):
    """(weight name, scheme text, dequantized [out, in] in the file's input
    order) of each lowbit.constant."""
    blobs = blobs_of(text)
    out = []
    for line in text.splitlines():
        if "lowbit.constant" not in line:
            continue
        names = re.findall(r"dense_resource<([\w.]+)>", line)
        name = names[0][:-len(".codes")]
        m = re.search(r": <(\d+)x(\d+)x(.*)>$", line)
        o, n, scheme = int(m.group(1)), int(m.group(2)), m.group(3)
        codes = np.frombuffer(blobs[name + ".codes"], np.uint8)
        sc = blobs.get(name + ".scales")
        if sc is None:  # one scale, inline: dense<1.5e-03> or dense<0x...>
            v = re.search(r"scales\(dense<([^>]+)>", line).group(1)
            sc = (struct.pack("<I", int(v, 16)) if v.startswith("0x")
                  else np.float32(float(v)).tobytes())
        if "scale = f16" in scheme:
            s = np.frombuffer(sc, np.float16).astype(np.float32)
        elif "scale = bf16" in scheme:
            s = (np.frombuffer(sc, np.uint16).astype(np.uint32)
                 << 16).view(np.float32)
        else:
            s = np.frombuffer(sc, np.float32)
        if "f8E4M3FN" in scheme:
            import lowbit
            q = lowbit.decode(codes.reshape(o, n), "f8e4m3fn")
        elif scheme.startswith("ui8"):
            q = codes.reshape(o, n).astype(np.int64)
        else:
            lo, hi = codes & 15, codes >> 4
            q = np.stack([lo, hi], 1).reshape(o, n).astype(np.int64)
            if scheme.startswith("i4"):
                q = np.where(q >= 8, q - 16, q)
        if "per_group" in scheme:
            g = int(re.search(r"per_group<\[1 : (\d+)\]>", scheme).group(1))
            s = np.repeat(s.reshape(o, n // g), g, axis=1)
            if "asymmetric" in scheme:
                z = np.frombuffer(blobs[name + ".zero_points"], np.int32)
                q = q - np.repeat(z.reshape(o, n // g), g, axis=1)
        elif "per_axis" in scheme:
            s = s[:, None]
            if "asymmetric" in scheme:
                z = np.frombuffer(blobs[name + ".zero_points"], np.int32)
                q = q - z[:, None]
        w = (q.astype(np.float32) * s).astype(np.float32)
        if name + ".input_order" in blobs:
            order = np.frombuffer(blobs[name + ".input_order"], np.int32)
            assert sorted(order) == list(range(n))
            ww = np.empty_like(w)
            ww[:, order] = w
            w = ww
        out.append((name, scheme, w))
    return out


def run(args):
    return subprocess.run(["lowbit-compile"] + args, capture_output=True,
                          text=True)


def check_prequantized(label, fmt, embedding=False):
    make, qc = fmt
    tensors, deq = quantized_checkpoint(make, embedding)
    d = model_dir(label.replace(" ", "-"), tensors, qc)
    res = run([os.path.join(d, "model.safetensors"), "--compile-to=input"])
    assert res.returncode == 0, res.stderr
    consts = constants_of(res.stdout)
    assert len(consts) == len(MATRICES), len(consts)
    for name, scheme, w in consts:
        assert w.tobytes() == deq[name].tobytes(), (label, name)
    schemes = {s for _, s, _ in consts}
    assert len(schemes) == 1, schemes
    shown = re.sub(r", expressed = f32|, rounding = \w+", "", schemes.pop())
    print("%s: %d lowbit.constant, bit-exact, %s" % (label, len(consts),
                                                     shown))
    got, _ = r.compile_and_run(d, os.path.join(d, "model.safetensors"),
                               TOKENS, CXX)
    ref = r.decode(CFG, deq, TOKENS, interleaved=False)
    r.compare(label, got, ref)
    return d


check_prequantized("gptq", gptq(False))
check_prequantized("gptq act-order", gptq(True))
check_prequantized("gptq 8-bit v2 per channel", gptq_v2_8bit())
check_prequantized("awq", awq())
check_prequantized("w4a16 groups", w4a16())
check_prequantized("w4a16 asym channel bf16", w4a16_asym())
check_prequantized("fp8 channel", fp8("channel"), embedding=True)
check_prequantized("fp8 tensor", fp8("tensor"))

# -- sharded ---------------------------------------------------------------

REF = r.decode(CFG, W, TOKENS, interleaved=False)


def sharded(name, shards, weight_map):
    """shards: file -> tensor names (of BASE)."""
    d = model_dir(name, None)
    os.remove(os.path.join(d, "model.safetensors"))
    for f, names in shards.items():
        write_st(os.path.join(d, f), {n: BASE[n] for n in names})
    json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map},
              open(os.path.join(d, "model.safetensors.index.json"), "w"))
    return d


names = sorted(BASE)
half = len(names) // 2
S1, S2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
wm = {n: (S1 if i < half else S2) for i, n in enumerate(names)}
d = sharded("sharded", {S1: names[:half], S2: names[half:]}, wm)
got, _ = r.compile_and_run(d, os.path.join(
    d, "model.safetensors.index.json"), TOKENS, CXX)
r.compare("sharded index", got, REF)
got, _ = r.compile_and_run(d, d, TOKENS, CXX)
r.compare("sharded dir", got, REF)


def error(label, model):
    res = run([model, "--compile-to=input"])
    assert res.returncode != 0 and not res.stdout, label
    print("%s: %s" % (label, res.stderr.strip()))


idx = "model.safetensors.index.json"
d = sharded("two-shards", {S1: names[:half] + ["model.norm.weight"],
                           S2: names[half:]}, wm)
error("two shards", os.path.join(d, idx))
wm3 = dict(wm, **{"extra.weight": "model-00003-of-00003.safetensors"})
d = sharded("missing-shard", {S1: names[:half], S2: names[half:]}, wm3)
error("missing shard", os.path.join(d, idx))
d = sharded("ghost", {S1: names[:half], S2: names[half:]},
            dict(wm, **{"model.ghost.weight": S2}))
error("tensor not in shard", os.path.join(d, idx))
d = sharded("unlisted", {S1: names[:half], S2: names[half:]},
            {k: v for k, v in wm.items() if k != "lm_head.weight"})
error("unlisted tensor", os.path.join(d, idx))

# -- malformed pre-quantized checkpoints ------------------------------------


def bad(label, fmt, edit_qc=None, edit_tensors=None):
    make, qc = fmt
    tensors, _ = quantized_checkpoint(make)
    if edit_qc:
        edit_qc(qc)
    if edit_tensors:
        edit_tensors(tensors)
    d = model_dir("bad-" + label.replace(" ", "-"), tensors, qc)
    error(label, os.path.join(d, "model.safetensors"))


bad("gptq 3 bits", gptq(False), lambda qc: qc.update(bits=3))
bad("gptq format", gptq(False),
    lambda qc: qc.update(checkpoint_format="marlin"))
bad("gptq no qzeros", gptq(False), None,
    lambda t: t.pop("model.layers.0.mlp.down_proj.qzeros"))


def uneven(t):
    gi = t["model.layers.0.mlp.down_proj.g_idx"]
    t["model.layers.0.mlp.down_proj.g_idx"] = np.where(
        np.arange(gi.size) == 40, 0, gi).astype(np.int32)


bad("gptq uneven g_idx", gptq(True), None, uneven)
bad("awq gemv", awq(), lambda qc: qc.update(version="gemv"))
bad("unknown method", awq(),
    lambda qc: qc.update(quant_method="bitsandbytes"))
bad("w8a8", fp8("channel", {"num_bits": 8, "type": "float",
                            "strategy": "token", "dynamic": True}))
bad("fp8 block", fp8("channel"), lambda qc: qc["config_groups"]["group_0"][
    "weights"].update(strategy="block"))
