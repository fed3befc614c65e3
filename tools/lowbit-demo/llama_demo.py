#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The README's main command (./lowbit.sh demo): a real LLM compiled
ahead of time by lowbit-compile, fp32 and quantized, run through the
generated C API, and compared.

    llama_demo.py --lowbit-compile BIN (--model PATH | --default-model PATH)
                  --work DIR --text FILE [--max-seq N] [--gen N] [--quick]
                  [--no-llama-cpp]

--model is any model lowbit-compile takes: a GGUF file, or a safetensors
model (its directory, model.safetensors or model.safetensors.index.json,
with config.json and tokenizer.json beside it); a path that is not one is
an error. Without it the model is --default-model (lowbit.sh passes
SmolLM2-135M), or a synthetic model with random weights when that file is
missing (no network). The text and prompt are tokenized by the model's
own tokenizer (model_tokenizer.py: Hugging Face `tokenizers`, or
llama.cpp's for GGUF tokenizers that are not byte-level BPE).

For each configuration it compiles the model to a shared library, header
and weights blob, loads them with ctypes, and reports against the fp32
build of the same model: perplexity on the bundled text (teacher forced),
next-token (top-1) agreement and relative logits error per step, greedy
tokens from a prompt, weights + KV cache memory, and decode tokens/s;
then, for a GGUF file, llama.cpp's greedy tokens and speed on the same
file (llama-cpp-python, when installed).
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

import model_tokenizer
import numpy as np

# ---------------------------------------------------------------------------
# The model: a GGUF file or a safetensors model, what lowbit-compile takes.
# ---------------------------------------------------------------------------

class ModelError(Exception):
    """A --model that is not a model the demo can run (one line)."""


def safetensors_dtypes(d):
    """The dtypes of a safetensors model's matrices (all shards), most
    frequent first."""
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.isfile(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    counts = {}
    for name in files:
        with open(os.path.join(d, name), "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        for key, t in header.items():
            if key != "__metadata__" and len(t["shape"]) >= 2:
                counts[t["dtype"]] = counts.get(t["dtype"], 0) + 1
    return sorted(counts, key=lambda k: -counts[k])


def describe(path):
    """What the demo prints of the model and needs to run it: name, shape,
    its weights' storage, and its tokenizer."""
    if model_tokenizer.is_gguf(path):
        try:
            meta = model_tokenizer.GGUFMetadata(path)
        except Exception as e:  # gguf-py's errors
            raise ModelError("%s: gguf-py cannot read it (%s: %s)"
                             % (path, type(e).__name__, e)) from None
        arch = meta["general.architecture"]
        counts = {}
        for _, ty, dims in meta.tensors:
            if dims >= 2:
                counts[ty] = counts.get(ty, 0) + 1
        heads = meta.get(arch + ".attention.head_count")
        info = {
            "format": "GGUF",
            "name": meta.get("general.name", os.path.basename(path)),
            "layers": meta.get(arch + ".block_count"),
            "dim": meta.get(arch + ".embedding_length"),
            "heads": heads,
            "heads_kv": meta.get(arch + ".attention.head_count_kv", heads),
            "vocab": len(meta.get("tokenizer.ggml.tokens", [])),
            "stored": sorted(counts, key=lambda k: -counts[k]),
        }
    else:
        d = model_tokenizer.safetensors_dir(path)
        if d is None:
            raise ModelError("%s is neither a GGUF file nor a safetensors "
                             "model (a directory with model.safetensors or "
                             "model.safetensors.index.json, or one of "
                             "those files)" % path)
        meta = None
        try:
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
        except (OSError, ValueError) as e:
            raise ModelError("%s: cannot read its config.json (%s)"
                             % (d, e)) from None
        heads = cfg.get("num_attention_heads")
        info = {
            "format": "safetensors",
            "name": cfg.get("_name_or_path") or
            (cfg.get("architectures") or ["safetensors model"])[0],
            "layers": cfg.get("num_hidden_layers"),
            "dim": cfg.get("hidden_size"),
            "heads": heads,
            "heads_kv": cfg.get("num_key_value_heads", heads),
            "vocab": cfg.get("vocab_size"),
        }
        try:
            info["stored"] = safetensors_dtypes(d)
        except (OSError, ValueError, KeyError, TypeError,
                AttributeError) as e:
            raise ModelError("%s: cannot read its safetensors headers (%s: "
                             "%s)" % (d, type(e).__name__, e)) from None
    try:
        info["tokenizer"] = model_tokenizer.load(path, meta)
    except model_tokenizer.TokenizerError as e:
        raise ModelError(str(e)) from None
    return info


# ---------------------------------------------------------------------------
# A compiled model through its C API.
# ---------------------------------------------------------------------------

class Compiled:
    """A library of lowbit-compile through its manifest (OUT.json): the
    decode step, the prefill chunks (lowbit-compile --prefill), their KV
    cache buffers, the weights blob mapped."""

    C_TYPES = {"float": np.float32, "int8_t": np.int8, "int32_t": np.int32,
               "uint16_t": np.uint16}  # f16 (a cache), as its bits

    def __init__(self, base, threads=None):
        self.manifest = json.load(open(base + ".json"))
        self.lib = ctypes.CDLL(base + ".so")
        self._set_threads = self._get_threads = None
        if "set_threads" in self.manifest:  # <prefix>_set_threads
            self._set_threads = getattr(self.lib, self.manifest["set_threads"])
            self._set_threads.argtypes = [ctypes.c_int]
            self._get_threads = getattr(self.lib, self.manifest["get_threads"])
        if threads is not None:
            self.set_threads(threads)
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
        # prefill_<C>: C tokens, their start position, then the decode
        # step's cache and logits buffers; (C, function, tokens buffer,
        # arguments), largest C first.
        self.chunks = []
        for e in self.manifest["entry_points"]:
            name = e["name"]
            if name.startswith("prefill_") and name[8:].isdigit():
                toks = np.zeros(int(name[8:]), np.int32)
                self.chunks.append((
                    toks.size, getattr(self.lib, e["symbol"]), toks,
                    [P(a.ctypes.data) for a in
                     [toks, self.pos] + self.cache + [self.logits]]))
        self.chunks.sort(key=lambda c: -c[0])
        self.weights_bytes = self.blob.size
        self.cache_bytes = sum(a.nbytes for a in self.cache)

    def set_threads(self, n):
        """Threads of the library's parallel loops from now on (OpenMP;
        docs/Compile.md)."""
        if self._set_threads is None:
            raise RuntimeError("this library has no <prefix>_set_threads: "
                               "recompile it")
        if self._set_threads(int(n)) != 0:
            raise ValueError("threads must be >= 1, not %r" % (n,))

    @property
    def threads(self):
        """The thread count the next step runs with."""
        if self._get_threads is None:
            return None
        return int(self._get_threads())

    def step(self, token, pos):
        self.tok[0], self.pos[0] = token, pos
        if self.fn(*self.args) != 0:
            raise RuntimeError("decode step failed at position %d" % pos)
        return self.logits[0]

    def reset(self):
        """Empties the KV cache (zeroes it)."""
        for c in self.cache:
            c.fill(0)

    def prefill(self, tokens, start):
        """Runs `tokens` at positions start, start + 1, ... into the cache:
        the largest prefill chunk that fits the tokens left, again and
        again, then decode steps for the rest (as the lowbit package's
        CompiledModule.prefill). Returns the last token's logits."""
        done = 0
        for c, fn, toks, args in self.chunks:
            while len(tokens) - done >= c:
                toks[:] = tokens[done:done + c]
                self.pos[0] = start + done
                if fn(*args) != 0:
                    raise RuntimeError("prefill_%d failed at position %d"
                                       % (c, start + done))
                done += c
        for i in range(done, len(tokens)):
            self.step(tokens[i], start + i)
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


def prefill_speed(reset, run, n):
    """Tokens/s of `run`, one prefill call of n tokens, after `reset`
    empties the cache: the faster of two runs (the first also warms up)."""
    times = []
    for _ in range(2):
        reset()
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return n / min(times)


CONFIGS = [
    ("fp32", ["--dequantize-gguf"]),
    ("as stored", []),  # the label names the model's storage
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
    b2u = model_tokenizer.bytes_to_unicode()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
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


def model_path(args):
    """The model to run: --model (an error when it is not there), else
    --default-model (lowbit.sh's SmolLM2; a synthetic model when it could
    not be fetched)."""
    if args.model:
        if not os.path.exists(args.model):
            raise ModelError("%s does not exist" % args.model)
        return args.model
    if args.default_model and os.path.exists(args.default_model):
        return args.default_model
    print("(%s is missing: using a synthetic model with random weights "
          "instead; its quality figures mean nothing)"
          % (args.default_model or "the default model"))
    os.makedirs(args.work, exist_ok=True)
    path = os.path.join(args.work, "synthetic.gguf")
    write_synthetic(path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lowbit-compile", required=True)
    ap.add_argument("--model",
                    help="a GGUF file or a safetensors model (directory, "
                    "model.safetensors or model.safetensors.index.json)")
    ap.add_argument("--default-model",
                    help="the model without --model; when it is missing, a "
                    "synthetic one")
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
    given = "--model " if args.model else ""
    try:
        args.model = model_path(args)
        info = describe(args.model)
    except ModelError as e:
        sys.exit("llama_demo.py: error: %s%s" % (given, e))

    tok = info["tokenizer"]
    with open(args.text, encoding="utf-8") as f:
        text_ids = tok.encode(f.read())[:args.max_seq]
    prompt_ids = tok.encode(args.prompt)
    if len(prompt_ids) + args.gen > args.max_seq:
        sys.exit("llama_demo.py: error: the prompt (%d tokens) and --gen %d "
                 "exceed --max-seq %d" % (len(prompt_ids), args.gen,
                                          args.max_seq))
    print("model: %s (%s), %d layers, dim %d, %d heads over %d KV heads, "
          "vocabulary %d" % (info["name"], os.path.basename(args.model),
                             info["layers"], info["dim"], info["heads"],
                             info["heads_kv"], info["vocab"]))
    print("tokenizer: %s" % tok.kind)
    print("text: %s, %d tokens (teacher forced); prompt %r, %d greedy "
          "tokens; KV cache %d tokens" % (os.path.basename(args.text),
                                          len(text_ids), args.prompt,
                                          args.gen, args.max_seq))
    print()
    stored = "%s as stored (%s)" % (info["format"],
                                    ", ".join(info["stored"][:3]))
    configs = [(stored if label == "as stored" else label, flags)
               for label, flags in CONFIGS]
    if args.quick:
        configs = configs[:1] + configs[3:4]
    os.makedirs(args.work, exist_ok=True)
    # Prefill entry points of 64-token chunks, where the cache holds one.
    prefill = ["--prefill=64"] if args.max_seq >= 64 else []
    rows, ref = [], None
    for label, flags in configs:
        name = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:24]
        base = os.path.join(args.work, name)
        t0 = time.time()
        compiler = shutil.which(args.lowbit_compile) or args.lowbit_compile
        res = subprocess.run([compiler, args.model, "-o", base,
                              "--prefix=llm", "--shared",
                              "--max-seq=%d" % args.max_seq] + prefill +
                             flags,
                             capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit("lowbit-compile failed for %s:\n%s" % (label,
                                                            res.stderr))
        compile_s = time.time() - t0
        m = Compiled(base)
        logits, ppl, gen, tps = evaluate(m, text_ids, prompt_ids, args.gen)
        prefill_tps = prefill_speed(m.reset, lambda: m.prefill(text_ids, 0),
                                    len(text_ids))
        if ref is None:
            ref = (logits, gen)
        agree = float((logits.argmax(1) == ref[0].argmax(1)).mean())
        rel = float(np.linalg.norm(logits - ref[0]) /
                    np.linalg.norm(ref[0]))
        same = sum(a == b for a, b in zip(gen, ref[1]))
        rows.append((label, m.weights_bytes, m.cache_bytes, ppl, agree, rel,
                     same, tps, compile_s, tok.decode(gen), gen,
                     prefill_tps))
        print("  compiled %-38s in %5.1f s" % (label, compile_s), flush=True)
    print()
    hdr = ("%-38s %10s %9s %8s %8s %9s %7s %8s %13s" %
           ("configuration", "weights", "KV cache", "ppl", "top-1",
            "rel err", "greedy", "tok/s", "prefill tok/s"))
    print(hdr)
    print("-" * len(hdr))
    for (label, wb, cb, ppl, agree, rel, same, tps, _, _, _,
         prefill_tps) in rows:
        print("%-38s %7.1f MB %6.1f MB %8.2f %7.1f%% %9.4f %3d/%-3d %8.1f "
              "%13.1f" % (label, wb / 1e6, cb / 1e6, ppl, 100 * agree, rel,
                          same, args.gen, tps, prefill_tps))
    print()
    print("top-1 and rel err: per teacher-forced step against fp32; greedy: "
          "tokens equal to fp32's from the prompt; tok/s: median decode "
          "step; prefill tok/s: the text's %d tokens from an empty cache in "
          "one call (lowbit: prefill_64 chunks where --max-seq >= 64, "
          "then decode steps); this machine (%d cores)."
          % (len(text_ids), os.cpu_count()))
    print()
    for row in rows:
        print("%-38s %r" % (row[0], args.prompt + row[9]))
    if args.no_llama_cpp:
        return
    if info["format"] != "GGUF":
        print()
        print("llama.cpp comparison skipped: llama.cpp runs GGUF files only")
        return
    compare_llama_cpp(args, text_ids, prompt_ids, rows, tok)


def compare_llama_cpp(args, text_ids, prompt_ids, rows, tok):
    """llama.cpp (llama-cpp-python) on the same GGUF file: greedy tokens
    from the same prompt ids, decode and prefill tok/s, beside lowbit's
    rows."""
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
    # Prefill: the text in one batch (n_batch covers it), only the last
    # token's logits computed, as lowbit's prefill (logits_all would add
    # the output matmul of every token).
    llm_prefill = llama_cpp.Llama(model_path=args.model, n_ctx=args.max_seq,
                                  n_threads=threads, n_threads_batch=threads,
                                  n_batch=args.max_seq, verbose=False)
    prefill_tps = prefill_speed(llm_prefill.reset,
                                lambda: llm_prefill.eval(text_ids),
                                len(text_ids))
    print("llama.cpp (llama-cpp-python %s, %d threads, the GGUF's own "
          "kernels), same prompt token ids:"
          % (getattr(llama_cpp, "__version__", "?"), threads))
    print("%-45s %8s %13s %-14s" % ("", "tok/s", "prefill tok/s",
                                    "greedy = llama.cpp's"))
    print("%-45s %8.1f %13.1f %d/%d" % ("llama.cpp", tps, prefill_tps,
                                        args.gen, args.gen))
    for row in rows:
        same = sum(a == b for a, b in zip(row[10], gen))
        print("%-45s %8.1f %13.1f %d/%d" % ("lowbit " + row[0], row[7],
                                            row[11], same, args.gen))
    print("%-38s %r" % ("llama.cpp", args.prompt + tok.decode(gen)))


if __name__ == "__main__":
    main()
