#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The README's main command (./lowbit.sh demo): a real Llama-architecture
model compiled ahead of time by lowbit-compile, fp32 and quantized, run
through the generated C API, and compared.

    llama_demo.py --lowbit-compile BIN --model MODEL.gguf --work DIR
                  [--text FILE] [--max-seq N] [--gen N] [--quick]

For each configuration it compiles MODEL to a shared library, header and
weights blob, loads them with ctypes, and reports against the fp32 build
of the same model: perplexity on the bundled text (teacher forced),
next-token (top-1) agreement and relative logits error per step, greedy
tokens from a prompt, weights + KV cache memory, and decode tokens/s.
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

# ---------------------------------------------------------------------------
# GGUF metadata and a byte-level BPE tokenizer (GPT-2 style, what the
# model's tokenizer.ggml.model = "gpt2" vocabulary needs).
# ---------------------------------------------------------------------------

def read_vocab(path):
    import gguf
    r = gguf.GGUFReader(path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8", "replace") for i in f.data]

    def scalar(key, default=None):
        if key not in r.fields:
            return default
        f = r.fields[key]
        return f.parts[f.data[0]][0].item()

    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    return {
        "tokens": strings("tokenizer.ggml.tokens"),
        "merges": strings("tokenizer.ggml.merges")
        if "tokenizer.ggml.merges" in r.fields else [],
        "bos": scalar("tokenizer.ggml.bos_token_id", 1),
        "layers": scalar(arch + ".block_count"),
        "heads_kv": scalar(arch + ".attention.head_count_kv",
                           scalar(arch + ".attention.head_count")),
        "dim": scalar(arch + ".embedding_length"),
        "heads": scalar(arch + ".attention.head_count"),
        "name": bytes(r.fields["general.name"].parts[-1]).decode()
        if "general.name" in r.fields else os.path.basename(path),
    }


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) +
          list(range(ord("\xa1"), ord("\xac") + 1)) +
          list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Tokenizer:
    # GPT-2's pre-tokenizer with Python's re (letters as [^\W\d_]).
    PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d"""
                     r"""| ?[^\s\w]+|\s+(?!\S)|\s+""")

    def __init__(self, vocab):
        self.tokens = vocab["tokens"]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {tuple(m.split(" ")): i
                      for i, m in enumerate(vocab["merges"])}
        self.b2u = bytes_to_unicode()
        self.u2b = {v: k for k, v in self.b2u.items()}

    def _bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            best = min(((self.ranks.get((a, b), 1 << 30), i)
                        for i, (a, b) in enumerate(zip(parts, parts[1:]))))
            if best[0] == 1 << 30:
                break
            i = best[1]
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def encode(self, text):
        out = []
        for piece in self.PAT.findall(text):
            word = "".join(self.b2u[b] for b in piece.encode("utf-8"))
            for p in self._bpe(word):
                if p in self.ids:
                    out.append(self.ids[p])
                else:
                    out.extend(self.ids[c] for c in p if c in self.ids)
        return out

    def decode(self, ids):
        s = "".join(self.tokens[i] for i in ids)
        return bytes(self.u2b.get(c, ord("?")) for c in s).decode(
            "utf-8", "replace")


# ---------------------------------------------------------------------------
# A compiled model through its C API.
# ---------------------------------------------------------------------------

class Compiled:
    """A library of lowbit-compile through its manifest (OUT.json): the
    decode step, its KV cache buffers, the weights blob mapped."""

    C_TYPES = {"float": np.float32, "int8_t": np.int8, "int32_t": np.int32,
               "uint16_t": np.uint16}  # f16 (a cache), as its bits

    def __init__(self, base):
        self.manifest = json.load(open(base + ".json"))
        self.lib = ctypes.CDLL(base + ".so")
        self.blob = np.memmap(base + ".weights", dtype=np.uint8, mode="r")
        rc = getattr(self.lib, self.manifest["set_weights"])(
            ctypes.c_void_p(self.blob.ctypes.data),
            ctypes.c_size_t(self.blob.size))
        if rc != 0:
            raise RuntimeError("%s.weights: set_weights returned %d"
                               % (base, rc))
        entry = self.manifest["entry_points"][0]
        self.fn = getattr(self.lib, entry["symbol"])
        self.tok = np.zeros(1, np.int32)
        self.pos = np.zeros(1, np.int32)
        self.cache = [np.zeros(a["shape"], self.C_TYPES[a["c_type"]])
                      for a in entry["args"] if a["updated_in_place"]]
        self.logits = np.zeros(entry["results"][0]["shape"], np.float32)
        P = ctypes.c_void_p
        self.args = [P(a.ctypes.data) for a in
                     [self.tok, self.pos] + self.cache + [self.logits]]
        self.weights_bytes = self.blob.size
        self.cache_bytes = sum(a.nbytes for a in self.cache)

    def step(self, token, pos):
        self.tok[0], self.pos[0] = token, pos
        if self.fn(*self.args) != 0:
            raise RuntimeError("decode step failed at position %d" % pos)
        return self.logits[0]


def log_softmax(x):
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def evaluate(model, text_ids, prompt_ids, gen):
    """Teacher-forced logits over the text, then greedy generation."""
    logits, nll = [], 0.0
    for i, t in enumerate(text_ids[:-1]):
        lg = model.step(t, i).astype(np.float64)
        logits.append(lg.copy())
        nll -= log_softmax(lg)[text_ids[i + 1]]
    ppl = float(np.exp(nll / (len(text_ids) - 1)))
    for i, t in enumerate(prompt_ids):
        lg = model.step(t, i)
    out, times = [], []
    for i in range(gen):
        nt = int(lg.argmax())
        out.append(nt)
        t0 = time.perf_counter()
        lg = model.step(nt, len(prompt_ids) + i)
        times.append(time.perf_counter() - t0)
    return np.array(logits), ppl, out, 1.0 / np.median(times)


CONFIGS = [
    ("fp32", ["--dequantize-gguf"]),
    ("GGUF as stored (Q4_1, q8_0 head)", []),
    ("W8A8 (i8 per channel, i8 per token)",
     ["--pipeline=builtin.module(func.func(lowbit-quantize-matmuls{"
      "weight-scheme='i8, per_axis<out>' "
      "activation-scheme='i8, per_axis<out>'}),lowbit-fold-constant-quantize)",
      "--dequantize-gguf"]),
    ("W4A8 g32 (lowbit-w4a8)",
     ["--pipeline=lowbit-w4a8{group=32}", "--dequantize-gguf"]),
    ("W4 g32 weight-only (RTN, f32 act.)",
     ["--pipeline=builtin.module(lowbit-quantize-weights{"
      "scheme='i4, per_group<[in : 32]>' method=rtn},"
      "func.func(lowbit-fuse-dequant-matmul))", "--dequantize-gguf"]),
    ("MXFP4 weights (lowbit-mxfp4)",
     ["--pipeline=lowbit-mxfp4", "--dequantize-gguf"]),
    ("W8A8 + int8 KV cache", ["--kv-cache=int8"]),
    ("W8A8 + int4 KV cache (KIVI)", ["--kv-cache=int4"]),
]
# The KV cache rows use the W8A8 weights.
for _i in (6, 7):
    CONFIGS[_i] = (CONFIGS[_i][0], CONFIGS[2][1] + CONFIGS[_i][1])


def write_synthetic(path):
    """A deterministic stand-in (random weights, byte vocabulary) for when
    the real model cannot be fetched: the pipeline runs, the quality
    figures mean nothing."""
    import gguf
    rng = np.random.default_rng(7)
    D, L, H, K, F, V = 256, 4, 8, 2, 768, 256
    hd = D // H
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("lowbit synthetic Llama (random weights)")
    w.add_context_length(1024)
    w.add_embedding_length(D)
    w.add_block_count(L)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(K)
    w.add_layer_norm_rms_eps(1e-5)
    b2u = bytes_to_unicode()
    w.add_tokenizer_model("gpt2")
    w.add_token_list([b2u[b] for b in range(V)])
    w.add_token_merges([])

    def mat(o, i):
        return (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)

    w.add_tensor("token_embd.weight",
                 rng.standard_normal((V, D)).astype(np.float32))
    for layer in range(L):
        p = "blk.%d." % layer
        w.add_tensor(p + "attn_norm.weight", np.ones(D, np.float32))
        w.add_tensor(p + "attn_q.weight", mat(H * hd, D))
        w.add_tensor(p + "attn_k.weight", mat(K * hd, D))
        w.add_tensor(p + "attn_v.weight", mat(K * hd, D))
        w.add_tensor(p + "attn_output.weight", mat(D, H * hd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(D, np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(F, D))
        w.add_tensor(p + "ffn_up.weight", mat(F, D))
        w.add_tensor(p + "ffn_down.weight", mat(D, F))
    w.add_tensor("output_norm.weight", np.ones(D, np.float32))
    w.add_tensor("output.weight", mat(V, D))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lowbit-compile", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--max-seq", type=int, default=256)
    ap.add_argument("--gen", type=int, default=24)
    ap.add_argument("--prompt", default="Once upon a time,")
    ap.add_argument("--quick", action="store_true",
                    help="fp32 and W4A8 only")
    ap.add_argument("--no-llama-cpp", action="store_true",
                    help="skip the comparison with llama.cpp")
    args = ap.parse_args()
    if not os.path.exists(args.model):
        print("(%s is missing: using a synthetic model with random weights "
              "instead; its quality figures mean nothing)" % args.model)
        os.makedirs(args.work, exist_ok=True)
        args.model = os.path.join(args.work, "synthetic.gguf")
        write_synthetic(args.model)

    vocab = read_vocab(args.model)
    tok = Tokenizer(vocab)
    text_ids = tok.encode(open(args.text).read())[:args.max_seq]
    prompt_ids = tok.encode(args.prompt)
    print("model: %s (%s), %d layers, dim %d, %d heads over %d KV heads, "
          "vocabulary %d" % (vocab["name"], os.path.basename(args.model),
                             vocab["layers"], vocab["dim"], vocab["heads"],
                             vocab["heads_kv"], len(vocab["tokens"])))
    print("text: %s, %d tokens (teacher forced); prompt %r, %d greedy "
          "tokens; KV cache %d tokens" % (os.path.basename(args.text),
                                          len(text_ids), args.prompt,
                                          args.gen, args.max_seq))
    print()
    configs = CONFIGS[:1] + CONFIGS[3:4] if args.quick else CONFIGS
    os.makedirs(args.work, exist_ok=True)
    rows, ref = [], None
    for label, flags in configs:
        name = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:24]
        base = os.path.join(args.work, name)
        t0 = time.time()
        compiler = shutil.which(args.lowbit_compile) or args.lowbit_compile
        res = subprocess.run([compiler, args.model, "-o", base,
                              "--prefix=llm", "--shared",
                              "--max-seq=%d" % args.max_seq] + flags,
                             capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit("lowbit-compile failed for %s:\n%s" % (label,
                                                           res.stderr))
        compile_s = time.time() - t0
        m = Compiled(base)
        logits, ppl, gen, tps = evaluate(m, text_ids, prompt_ids, args.gen)
        if ref is None:
            ref = (logits, gen)
        agree = float((logits.argmax(1) == ref[0].argmax(1)).mean())
        rel = float(np.linalg.norm(logits - ref[0]) /
                    np.linalg.norm(ref[0]))
        same = sum(a == b for a, b in zip(gen, ref[1]))
        rows.append((label, m.weights_bytes, m.cache_bytes, ppl, agree, rel,
                     same, tps, compile_s, tok.decode(gen), gen))
        print("  compiled %-38s in %5.1f s" % (label, compile_s), flush=True)
    print()
    hdr = ("%-38s %10s %9s %8s %8s %9s %7s %8s" %
           ("configuration", "weights", "KV cache", "ppl", "top-1",
            "rel err", "greedy", "tok/s"))
    print(hdr)
    print("-" * len(hdr))
    for (label, wb, cb, ppl, agree, rel, same, tps, _, _, _) in rows:
        print("%-38s %7.1f MB %6.1f MB %8.2f %7.1f%% %9.4f %3d/%-3d %8.1f"
              % (label, wb / 1e6, cb / 1e6, ppl, 100 * agree, rel, same,
                 args.gen, tps))
    print()
    print("top-1 and rel err: per teacher-forced step against fp32; greedy: "
          "tokens equal to fp32's from the prompt; tok/s: median decode "
          "step, this machine (%d cores)." % os.cpu_count())
    print()
    for row in rows:
        print("%-38s %r" % (row[0], args.prompt + row[9]))
    if not args.no_llama_cpp:
        compare_llama_cpp(args, prompt_ids, rows, tok)


def compare_llama_cpp(args, prompt_ids, rows, tok):
    """llama.cpp (llama-cpp-python) on the same GGUF file: greedy tokens
    from the same prompt ids and decode tok/s, beside lowbit's rows."""
    print()
    try:
        import llama_cpp
    except ImportError as e:
        print("llama.cpp comparison skipped: llama-cpp-python is not "
              "installed (%s)" % e)
        return
    threads = os.cpu_count()
    try:
        llm = llama_cpp.Llama(model_path=args.model, n_ctx=args.max_seq,
                              n_threads=threads, n_batch=1,
                              logits_all=True, verbose=False)
    except Exception as e:  # llama.cpp refuses the file
        print("llama.cpp comparison skipped: llama.cpp cannot load %s (%s)"
              % (args.model, e))
        return
    llm.reset()
    gen, times = [], []
    for i, t in enumerate(prompt_ids):
        llm.eval([t])
    logits = np.array(llm.scores[llm.n_tokens - 1])
    for i in range(args.gen):
        nt = int(logits.argmax())
        gen.append(nt)
        t0 = time.perf_counter()
        llm.eval([nt])
        times.append(time.perf_counter() - t0)
        logits = np.array(llm.scores[llm.n_tokens - 1])
    tps = 1.0 / np.median(times)
    print("llama.cpp (llama-cpp-python %s, %d threads, the GGUF's own "
          "Q4_1 / Q8_0 kernels), same prompt token ids:"
          % (getattr(llama_cpp, "__version__", "?"), threads))
    print("%-38s %8s %-14s" % ("", "tok/s", "greedy = llama.cpp's"))
    print("%-38s %8.1f %-14s" % ("llama.cpp", tps, "%d/%d" % (args.gen,
                                                             args.gen)))
    for row in rows:
        same = sum(a == b for a, b in zip(row[10], gen))
        print("%-38s %8.1f %d/%d" % ("lowbit " + row[0], row[7], same,
                                     args.gen))
    print("%-38s %r" % ("llama.cpp", args.prompt + tok.decode(gen)))


if __name__ == "__main__":
    main()
