#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""lowbit's fp32 build of the real GGUF files against a float64 numpy
forward pass of the same architecture, on the same dequantized weights.

    fp32_reference.py [--models smollm2,gemma3,qwen2.5] [--tokens 16]
                      [--max-seq 64] [--offline] [--deps DIR]

Per model (bench/models/fetch.py finds it; --offline skips the missing
ones instead of fetching them):

- lowbit: `lowbit-compile MODEL.gguf --dequantize-gguf --kv-cache=f32
  --max-seq 64 --shared`, every weight widened to f32, run one decode
  step per id (tools/lowbit-demo's runner of a compiled model) in a child
  process;
- the reference: the GGUF read with gguf-py (`gguf.GGUFReader`), every
  tensor dequantized by `gguf.quants.dequantize` and widened to float64,
  the hyper-parameters taken from the file's metadata, and the float64
  decoder of test/Compile/Inputs/llama_ref.py (`decode`) run over the
  same ids: GGUF names and [out, in] layouts as stored, RoPE on
  interleaved pairs for `llama` files (llama.cpp's converter permutes Q
  and K rows into that order) and on halves for the others (llama.cpp's
  NEOX rope: qwen2, gemma3); Gemma 3 with its norms as stored (GGUF holds
  1 + w), the embedding scaled by sqrt(width), RoPE base 10000 on its
  local layers (or `gemma3.rope.freq_base_swa`), every sixth layer
  global, the file's sliding window.

The ids: the first --tokens of the bundled text (tools/lowbit-demo/
story.txt) as llama.cpp tokenizes it (`llm.tokenize(text, add_bos=True)`,
llama-cpp-python, vocab only), as agreement.py does.

Figures, per model: max relative error, as llama_ref.compare defines it
(per step max |lowbit - ref| / max |ref| over the vocabulary, the worst
step), top-1 agreement, and pass / fail against 1e-4. Exit status 1 when
a model misses 1e-4 or a top-1 (or does not compile). A markdown table
names the host (agreement.py's host line).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import agreement  # noqa: E402
import fetch  # noqa: E402

ROOT = fetch.ROOT
sys.path.insert(0, os.path.join(ROOT, "test", "Compile", "Inputs"))
import llama_ref  # noqa: E402

BOUND = 1e-4
# llama.cpp's RoPE on these architectures: LLAMA_ROPE_TYPE_NORM
# (interleaved pairs, Q/K rows permuted by the converter) for llama,
# NEOX (halves, as Hugging Face) for the others llama_ref decodes.
INTERLEAVED = {"llama": True, "qwen2": False, "qwen3": False,
               "gemma3": False}


# ---------------------------------------------------------------------------
# The reference: GGUF -> llama_ref.Config and float64 weights.
# ---------------------------------------------------------------------------

def gguf_fields(reader):
    """The metadata as {key: value} (arrays left out)."""
    out = {}
    for k, f in reader.fields.items():
        if k.startswith("tokenizer.ggml.") or k.startswith("GGUF."):
            continue
        try:
            out[k] = f.contents()
        except (ValueError, IndexError, TypeError):
            pass
    return out


def gguf_weights(reader):
    """GGUF name -> float64 [rows, cols] (1-D for vectors): each tensor
    dequantized by gguf-py, then widened."""
    import gguf
    import numpy as np
    w = {}
    for t in reader.tensors:
        shape = [int(n) for n in reversed(t.shape)]  # GGUF: ne0 first
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        w[t.name] = np.asarray(a, np.float64).reshape(shape)
    return w


def gguf_config(meta, w):
    """llama_ref.Config from the file's metadata; an error for what the
    decoder does not model."""
    arch = meta["general.architecture"]
    if arch not in INTERLEAVED:
        raise RuntimeError("architecture %r: the float64 decoder has no "
                           "description of it" % arch)

    def key(name, default=None):
        v = meta.get("%s.%s" % (arch, name), default)
        if v is None:
            raise RuntimeError("the GGUF has no %s.%s" % (arch, name))
        return v

    heads = int(key("attention.head_count"))
    dim = int(key("embedding_length"))
    hd = int(key("attention.key_length", dim // heads))
    if int(key("attention.value_length", hd)) != hd:
        raise RuntimeError("key and value head sizes differ")
    if int(key("rope.dimension_count", hd)) != hd:
        raise RuntimeError("partial RoPE (rope.dimension_count %s of %d)"
                           % (key("rope.dimension_count"), hd))
    if "rope_freqs.weight" in w:
        raise RuntimeError("rope_freqs.weight (Llama 3 RoPE factors)")
    scaling = meta.get("%s.rope.scaling.type" % arch, "none")
    rope_scaling = None
    if scaling == "linear":
        rope_scaling = {"type": "linear",
                        "factor": float(key("rope.scaling.factor"))}
    elif scaling != "none":
        raise RuntimeError("rope.scaling.type %r" % scaling)
    cfg = llama_ref.Config(
        arch=arch, dim=dim, layers=int(key("block_count")), heads=heads,
        kv_heads=int(key("attention.head_count_kv", heads)),
        ffn=int(key("feed_forward_length")),
        vocab=w["token_embd.weight"].shape[0],
        ctx=int(key("context_length")),
        theta=float(key("rope.freq_base", 10000.0)),
        eps=float(key("attention.layer_norm_rms_epsilon")),
        rope_scaling=rope_scaling, head_dim=hd)
    window = meta.get("%s.attention.sliding_window" % arch)
    if arch == "gemma3":
        # llama.cpp: local layers' base rope.freq_base_swa (10000 when
        # absent), five local layers then a global one.
        cfg.theta_local = float(key("rope.freq_base_swa", 10000.0))
        cfg.window = int(window) if window else None
    elif window:
        cfg.window = int(window)
    return cfg


def reference(path, ids):
    """The float64 decoder's logits [len(ids), vocab] and a description
    of the configuration."""
    import gguf
    reader = gguf.GGUFReader(path)
    meta = gguf_fields(reader)
    w = gguf_weights(reader)
    del reader
    cfg = gguf_config(meta, w)
    interleaved = INTERLEAVED[cfg.arch]
    desc = ("%s: %d layers, width %d, %d/%d heads of %d, ffn %d, vocab %d, "
            "RoPE base %g (%s)%s%s, eps %g, %s head"
            % (cfg.arch, cfg.layers, cfg.dim, cfg.heads, cfg.kv_heads, cfg.hd,
               cfg.ffn, cfg.vocab, cfg.theta,
               "pairs" if interleaved else "halves",
               ", local base %g" % cfg.theta_local
               if cfg.arch == "gemma3" else "",
               ", window %d" % cfg.window if cfg.window else "", cfg.eps,
               "separate" if "output.weight" in w else "tied"))
    logits = llama_ref.decode(cfg, w, ids, interleaved=interleaved)
    return logits, desc


# ---------------------------------------------------------------------------
# lowbit (a child process: the library stays loaded until it exits).
# ---------------------------------------------------------------------------

def worker_lowbit(a):
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "tools", "lowbit-demo"))
    from llama_demo import Compiled
    ids = json.load(open(a.ids))
    m = Compiled(a.base)
    # step() returns its buffer, overwritten by the next step: copied.
    np.array([m.step(t, i).copy() for i, t in enumerate(ids)],
             np.float32).tofile(a.out)


def compile_model(args, model, base):
    cmd = [args.lowbit_compile, model, "--dequantize-gguf", "--kv-cache=f32",
           "--max-seq=%d" % args.max_seq, "--shared", "--prefix=llm",
           "-o", base]
    return agreement.run_child(args, cmd, "lowbit-compile")


def tokenize(path, text, tokens):
    """llama.cpp's ids of the text, BOS as the model says (a child
    process: llama.cpp's library is not needed afterwards)."""
    code = ("import json, sys, llama_cpp\n"
            "llm = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, "
            "verbose=False)\n"
            "print(json.dumps(llm.tokenize(open(sys.argv[2], 'rb').read(), "
            "add_bos=True)))\n")
    res = subprocess.run([sys.executable, "-c", code, path, text],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("tokenizing with llama-cpp-python failed:\n%s"
                           % res.stderr.strip()[-2000:])
    ids = json.loads(res.stdout)
    if len(ids) < tokens:
        raise RuntimeError("the text has %d tokens, fewer than --tokens %d"
                           % (len(ids), tokens))
    return ids[:tokens]


def one_model(args, key):
    import numpy as np
    m = fetch.BY_KEY[key]
    row = {"key": key, "name": m.name}
    path, missing = fetch.locate(key, args.deps, not args.offline)
    if missing:
        return dict(row, **missing)
    work = os.path.join(args.work, key)
    os.makedirs(work, exist_ok=True)
    base = os.path.join(work, "model")
    out = os.path.join(work, "lowbit.f32")
    try:
        ids = tokenize(path, args.text, args.tokens)
        with open(out + ".ids", "w") as f:
            json.dump(ids, f)
        print("%s: compiling %s (fp32)" % (key, path), file=sys.stderr,
              flush=True)
        row["compile_s"] = compile_model(args, path, base)
        print("%s: lowbit" % key, file=sys.stderr, flush=True)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker",
               "--base", base, "--ids", out + ".ids", "--out", out]
        agreement.run_child(args, cmd, "lowbit run")
        got = np.fromfile(out, np.float32).reshape(len(ids), -1)
        print("%s: float64 reference" % key, file=sys.stderr, flush=True)
        t0 = time.time()
        ref, row["config"] = reference(path, ids)
        row["ref_s"] = time.time() - t0
    except RuntimeError as e:
        row["error"] = str(e)
        return row
    finally:
        for f in (out, base + ".weights"):
            if os.path.exists(f) and not args.keep:
                os.remove(f)
    if got.shape[1] < ref.shape[1]:
        row["error"] = ("vocabularies differ: lowbit %d, the reference %d"
                        % (got.shape[1], ref.shape[1]))
        return row
    got = got[:, :ref.shape[1]].astype(np.float64)
    err = llama_ref.step_errors(got, ref)
    row.update(steps=len(ids), err=float(err.max()),
               worst=int(err.argmax()),
               top1=int((got.argmax(1) == ref.argmax(1)).sum()))
    row["ok"] = row["err"] < BOUND and row["top1"] == len(ids)
    return row


def report(args, rows):
    print("## lowbit's fp32 build against a float64 reference")
    print()
    print("host: %s; lowbit %d threads, niced" % (agreement.host(),
                                                  args.threads))
    print("lowbit: lowbit-compile MODEL.gguf --dequantize-gguf "
          "--kv-cache=f32 --max-seq=%d --shared; reference: every tensor "
          "dequantized by gguf-py, float64 (test/Compile/Inputs/"
          "llama_ref.py decode)" % args.max_seq)
    print("text: %s, the first %d ids of llama.cpp's tokenization (BOS as "
          "the model says), one decode step each"
          % (os.path.relpath(args.text, ROOT), args.tokens))
    print()
    print("| model | steps | max rel err (worst step) | top-1 | bound "
          "| result |")
    print("|---|---|---|---|---|---|")
    notes = []
    for r in rows:
        if "skip" in r:
            print("| %s | skipped: %s | | | | |" % (r["name"], r["skip"]))
        elif "error" in r:
            print("| %s | **error** (below) | | | %g | **fail** |"
                  % (r["name"], BOUND))
            notes.append("%s: %s" % (r["key"], r["error"]))
        else:
            print("| %s | %d | %.2e (step %d) | %d/%d | %g | %s |"
                  % (r["name"], r["steps"], r["err"], r["worst"], r["top1"],
                     r["steps"], BOUND, "pass" if r["ok"] else "**fail**"))
    print()
    print("Max rel err: as llama_ref.compare, per step max |lowbit - ref| "
          "over the vocabulary divided by max |ref|, the worst step.")
    for r in rows:
        if "config" in r:
            print()
            print("%s: %s; compile %.1f s, reference %.1f s"
                  % (r["key"], r["config"], r["compile_s"], r["ref_s"]))
    for n in notes:
        print()
        print(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    agreement.add_model_args(ap, "models-fp32")
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--max-seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nice", type=int, default=19)
    ap.add_argument("--keep", action="store_true",
                    help="keep the compiled .weights and lowbit's logits")
    ap.add_argument("--text", default=agreement.TEXT)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for w in ("--out", "--base", "--ids"):
        ap.add_argument(w, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_lowbit(args)
    keys = [k for k in re.split(r"[,\s]+", args.models) if k]
    for k in keys:
        if k not in fetch.BY_KEY:
            ap.error("unknown model %r (known: %s)"
                     % (k, ", ".join(fetch.BY_KEY)))
    if not 0 < args.tokens <= args.max_seq:
        ap.error("need 0 < --tokens <= --max-seq")
    os.makedirs(args.work, exist_ok=True)
    rows = [one_model(args, k) for k in keys]
    report(args, rows)
    ran = [r for r in rows if "skip" not in r]
    print()
    if not ran:
        print("no model file found (--offline, in %s): nothing compared"
              % fetch.deps_dir(args.deps))
        return 0
    bad = [r["key"] for r in ran if not r.get("ok")]
    if bad:
        print("FAILED: %s (bound %g)" % (", ".join(bad), BOUND))
        return 1
    print("all compared models within %g" % BOUND)
    return 0


if __name__ == "__main__":
    sys.exit(main())
