#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""lowbit against llama.cpp on real GGUF files, each compiled with its
weights as stored (plain `lowbit-compile MODEL.gguf`, no quantization
pipeline).

    agreement.py [--models smollm2,gemma3,qwen2.5] [--tokens 128]
                 [--gen 32] [--max-seq 256] [--offline] [--deps DIR]
                 [--kv-cache f16] [--f32-kv] [--floor]

Per model: fetch the GGUF when missing (bench/models/fetch.py; --offline
skips missing models instead), compile it, tokenize the bundled text
(tools/lowbit-demo/story.txt) with llama.cpp's own tokenizer
(`llm.tokenize(text, add_bos=True)`) and feed the same ids to both:

- teacher forced over the first --tokens ids: top-1 agreement of the
  next-token argmax, and KL(p_llama || p_lowbit) per position (mean, max);
- greedy: --gen tokens from the first --prompt-tokens ids, both greedy;
- memory: the compiled .weights file and the lowbit process's peak RSS
  (VmHWM; its Python + numpy baseline before the library loads is shown
  apart) against the GGUF file, and llama.cpp's peak RSS;
- compile time, and decode tok/s of both (median greedy step).

The KV caches: llama.cpp's default f16 cache (flash attention off), and
lowbit-compile --kv-cache=f16, the same numerics (docs/Import.md);
--f32-kv makes llama.cpp's cache f32 and lowbit's f32 too, unless
--kv-cache names lowbit's.

lowbit and llama.cpp each run in a child process of their own (this
script with --worker), niced, with --threads threads (OMP_NUM_THREADS,
n_threads), so their peak RSS are their own. Goals: greedy identical,
top-1 >= 99%, mean KL <= 0.005 nats; exit status 1 when a model misses
one (or does not compile), unless it is named in --known-misses (then
exit 1 when it meets them all: the known miss is fixed). A markdown table
names the host CPU and its ISA.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fetch  # noqa: E402

ROOT = fetch.ROOT
TEXT = os.path.join(ROOT, "tools", "lowbit-demo", "story.txt")
GOAL_TOP1 = 0.99
GOAL_KL = 0.005


def vm(field):
    """A /proc/self/status field in bytes (VmHWM, VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def add_worker_args(ap):
    """The hidden options of a script's child processes (--worker llama |
    lowbit and the paths they read and write)."""
    ap.add_argument("--worker", choices=["llama", "lowbit"],
                    help=argparse.SUPPRESS)
    for w in ("--model", "--out", "--base", "--ids"):
        ap.add_argument(w, help=argparse.SUPPRESS)


def host():
    name, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name == "unknown CPU":
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        isa = "AVX-512" + (" VNNI" if "avx512_vnni" in flags else "")
    elif "avx2" in flags:
        isa = "AVX2"
    else:
        isa = "no AVX2"
    return "%s, %s, %d logical CPUs" % (name, isa, os.cpu_count())


# ---------------------------------------------------------------------------
# Workers (child processes): each writes its results to OUT.
# ---------------------------------------------------------------------------

def two_best(logits):
    """The two likeliest tokens and their probabilities."""
    import numpy as np
    x = logits.astype(np.float64)
    p = np.exp(x - x.max())
    p /= p.sum()
    i = np.argsort(-p)[:2]
    return [[int(i[0]), float(p[i[0]])], [int(i[1]), float(p[i[1]])]]


def worker_llama(a):
    """llama.cpp: tokenize, teacher-forced logits, greedy generation."""
    import llama_cpp
    import numpy as np
    base_rss = vm("VmRSS")
    # GGML_TYPE_F32; llama.cpp's default is GGML_TYPE_F16.
    kv = {"type_k": 0, "type_v": 0} if a.f32_kv else {}
    llm = llama_cpp.Llama(model_path=a.model, logits_all=True,
                          n_ctx=a.max_seq, n_threads=a.threads,
                          n_threads_batch=a.threads, verbose=False, **kv)
    with open(a.text, "rb") as f:
        ids = llm.tokenize(f.read(), add_bos=True)
    if len(ids) < a.tokens:
        sys.exit("the text has %d tokens, fewer than --tokens %d"
                 % (len(ids), a.tokens))
    ids = ids[:a.tokens]
    llm.reset()
    llm.eval(ids)
    np.asarray(llm.scores[:a.tokens], np.float32).tofile(a.out + ".logits")
    prompt = ids[:a.prompt_tokens]
    llm.reset()
    llm.eval(prompt)
    lg = np.array(llm.scores[llm.n_tokens - 1])
    gen, top2, times = [], [], []
    for _ in range(a.gen):
        nt = int(lg.argmax())
        gen.append(nt)
        top2.append(two_best(lg))
        t0 = time.perf_counter()
        llm.eval([nt])
        times.append(time.perf_counter() - t0)
        lg = np.array(llm.scores[llm.n_tokens - 1])
    json.dump({"ids": ids, "gen": gen, "top2": top2,
               "n_vocab": llm.n_vocab(),
               "text": llm.detokenize(gen).decode("utf-8", "replace"),
               "tok_s": 1.0 / float(np.median(times)),
               "peak_rss": vm("VmHWM"), "base_rss": base_rss,
               "version": getattr(llama_cpp, "__version__", "?")},
              open(a.out, "w"))


def worker_lowbit(a):
    """The compiled model: the same ids, one decode step each."""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "tools", "lowbit-demo"))
    from llama_demo import Compiled  # the demo's runner of a compiled model
    ids = json.load(open(a.ids))
    base_rss = vm("VmRSS")
    m = Compiled(a.base)
    with open(a.out + ".logits", "wb") as f:  # row by row: no big arrays
        for i, t in enumerate(ids):
            f.write(m.step(t, i).tobytes())
    prompt = ids[:a.prompt_tokens]
    for i, t in enumerate(prompt):
        lg = m.step(t, i)
    gen, top2, times = [], [], []
    for i in range(a.gen):
        nt = int(lg.argmax())
        gen.append(nt)
        top2.append(two_best(lg))
        t0 = time.perf_counter()
        lg = m.step(nt, len(prompt) + i)
        times.append(time.perf_counter() - t0)
    json.dump({"gen": gen, "top2": top2, "tok_s": 1.0 / float(np.median(times)),
               "peak_rss": vm("VmHWM"), "base_rss": base_rss},
              open(a.out, "w"))


# ---------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------

def child_env(threads):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_worker(kind, args, extra, f32_kv=None):
    """Runs a worker; `f32_kv` (default: --f32-kv) picks llama.cpp's
    cache."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind,
           "--threads", str(args.threads), "--max-seq", str(args.max_seq),
           "--tokens", str(args.tokens), "--gen", str(args.gen),
           "--prompt-tokens", str(args.prompt_tokens)] + extra
    if args.f32_kv if f32_kv is None else f32_kv:
        cmd.append("--f32-kv")
    run_child(args, cmd, "%s run" % kind)


def run_child(args, cmd, what):
    """Runs `cmd` niced by --nice with --threads threads (child_env);
    RuntimeError naming `what` and the command when it fails. Its wall
    time in seconds."""
    t0 = time.time()
    res = subprocess.run(cmd, env=child_env(args.threads),
                         preexec_fn=lambda: os.nice(args.nice),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%s):\n%s"
                           % (what, " ".join(cmd), res.stderr.strip()[-2000:]))
    return time.time() - t0


def compile_model(args, model, base):
    cmd = [args.lowbit_compile, model, "-o", base, "--prefix=llm", "--shared",
           "--max-seq=%d" % args.max_seq,
           "--kv-cache=%s" % args.kv_cache] + args.compile_flag
    return run_child(args, cmd, "lowbit-compile")


def compare(a, b_path, n_vocab, tokens):
    """top-1 agreement and KL(p_a || p_b) per position, llama.cpp's
    logits A (file) against lowbit's (file), row by row."""
    import numpy as np
    la = np.fromfile(a, np.float32).reshape(tokens, -1)
    lb = np.fromfile(b_path, np.float32).reshape(tokens, -1)
    if la.shape[1] != n_vocab or lb.shape[1] < n_vocab:
        raise RuntimeError("vocabularies differ: llama.cpp %d, lowbit %d"
                           % (la.shape[1], lb.shape[1]))
    lb = lb[:, :n_vocab]
    agree, kls = 0, []
    for x, y in zip(la.astype(np.float64), lb.astype(np.float64)):
        agree += int(x.argmax() == y.argmax())
        lx = x - x.max()
        lx -= np.log(np.exp(lx).sum())
        ly = y - y.max()
        ly -= np.log(np.exp(ly).sum())
        kls.append(float((np.exp(lx) * (lx - ly)).sum()))
    return agree / tokens, float(np.mean(kls)), float(np.max(kls))


def one_model(args, key):
    m = fetch.BY_KEY[key]
    row = {"key": key, "name": m.name,
           "file": os.path.basename(fetch.model_path(key, args.deps))}
    path, missing = fetch.locate(key, args.deps, not args.offline)
    if missing:
        return dict(row, **missing)
    row["gguf_bytes"] = os.path.getsize(path)
    work = os.path.join(args.work, key)
    os.makedirs(work, exist_ok=True)
    base = os.path.join(work, "model")
    ref = os.path.join(work, "llama_cpp.json")
    low = os.path.join(work, "lowbit.json")
    alt = os.path.join(work, "llama_cpp_other_cache.json")
    try:
        print("%s: compiling %s" % (key, path), file=sys.stderr, flush=True)
        row["compile_s"] = compile_model(args, path, base)
        row["weights_bytes"] = os.path.getsize(base + ".weights")
        print("%s: llama.cpp" % key, file=sys.stderr, flush=True)
        run_worker("llama", args, ["--model", path, "--text", args.text,
                                   "--out", ref])
        r = json.load(open(ref))
        with open(low + ".ids", "w") as f:
            json.dump(r["ids"], f)
        print("%s: lowbit" % key, file=sys.stderr, flush=True)
        run_worker("lowbit", args, ["--base", base, "--ids", low + ".ids",
                                    "--out", low])
        b = json.load(open(low))
        top1, kl, kl_max = compare(ref + ".logits", low + ".logits",
                                   r["n_vocab"], args.tokens)
        if args.floor:  # llama.cpp against itself, the other cache
            print("%s: llama.cpp, the other cache" % key, file=sys.stderr,
                  flush=True)
            run_worker("llama", args, ["--model", path, "--text", args.text,
                                       "--out", alt], f32_kv=not args.f32_kv)
            row["floor"] = compare(ref + ".logits", alt + ".logits",
                                   r["n_vocab"], args.tokens)
    except RuntimeError as e:
        row["error"] = str(e)
        return row
    finally:
        for f in (ref + ".logits", low + ".logits", alt + ".logits"):
            if os.path.exists(f):
                os.remove(f)
    same = sum(x == y for x, y in zip(r["gen"], b["gen"]))
    first = next((i for i, (x, y) in enumerate(zip(r["gen"], b["gen"]))
                  if x != y), None)
    row.update(tokens=args.tokens, greedy=same, greedy_first_diff=first,
               top1=top1, kl=kl, kl_max=kl_max, lowbit=b, llama=r,
               text=r["text"], lowbit_text=detokenize(path, b["gen"]))
    row["ok"] = (same == args.gen and top1 >= GOAL_TOP1 and kl <= GOAL_KL)
    return row


def detokenize(path, ids):
    import llama_cpp
    try:
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        return llm.detokenize(ids).decode("utf-8", "replace")
    except Exception as e:  # only for the report
        return "(%s)" % e


def mb(n):
    return "%.1f MB" % (n / 1e6)


def report(args, rows):
    print("## lowbit vs llama.cpp on real GGUF files")
    print()
    print("host: %s; %d threads each, niced" % (host(), args.threads))
    if args.compile_flag:
        print("lowbit-compile flags: %s (a diagnostic, not the weights as "
              "stored)" % " ".join(args.compile_flag))
    ver = next((r["llama"]["version"] for r in rows if "llama" in r), None)
    if ver:
        print("llama.cpp: llama-cpp-python %s" % ver)
    print("text: %s, %d tokens teacher forced (llama.cpp's tokenizer, BOS "
          "as the model says); greedy: %d tokens after the first %d; "
          "KV cache %d tokens, llama.cpp's %s, lowbit's %s"
          % (os.path.relpath(args.text, ROOT), args.tokens, args.gen,
             args.prompt_tokens, args.max_seq,
             "f32" if args.f32_kv else "f16", args.kv_cache))
    print()
    print("| model | tokens | greedy = llama.cpp | top-1 | mean KL | max KL "
          "| GGUF file | .weights | peak RSS lowbit (base) "
          "| peak RSS llama.cpp | compile | tok/s lowbit | tok/s llama.cpp "
          "| goals |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for r in rows:
        if "skip" in r:
            print("| %s | skipped: %s |" % (r["name"], r["skip"]))
            continue
        if "error" in r:
            print("| %s | **error** (below) | | | | | %s | | | | | | | %s |"
                  % (r["name"], mb(r.get("gguf_bytes", 0)), verdict(args, r)))
            notes.append("%s: %s" % (r["key"], r["error"]))
            continue
        b, q = r["lowbit"], r["llama"]
        g = "%d/%d" % (r["greedy"], args.gen)
        if r["greedy_first_diff"] is not None:
            g += " (first differs at %d)" % r["greedy_first_diff"]
        print("| %s | %d | %s | %.2f%% | %.5f | %.4f | %s | %s (%.2fx) "
              "| %s (%s) | %s | %.1f s | %.1f | %.1f | %s |"
              % (r["name"], r["tokens"], g, 100 * r["top1"], r["kl"],
                 r["kl_max"], mb(r["gguf_bytes"]), mb(r["weights_bytes"]),
                 r["weights_bytes"] / r["gguf_bytes"], mb(b["peak_rss"]),
                 mb(b["base_rss"]), mb(q["peak_rss"]), r["compile_s"],
                 b["tok_s"], q["tok_s"], verdict(args, r)))
    print()
    print("Goals: greedy identical, top-1 >= %.0f%%, mean KL(p_llama.cpp || "
          "p_lowbit) <= %g nats. Peak RSS: VmHWM of each process (lowbit's "
          "includes its Python + numpy baseline, in brackets; llama.cpp's "
          "its logits_all buffers)." % (100 * GOAL_TOP1, GOAL_KL))
    floors = [r for r in rows if "floor" in r]
    if floors:
        print()
        print("The floor (--floor): llama.cpp with its %s cache against "
              "llama.cpp with its %s cache, same ids:"
              % (("f32", "f16") if args.f32_kv else ("f16", "f32")))
        print()
        print("| model | top-1 | mean KL | max KL |")
        print("|---|---|---|---|")
        for r in floors:
            top1, kl, kl_max = r["floor"]
            print("| %s | %.2f%% | %.5f | %.4f |"
                  % (r["name"], 100 * top1, kl, kl_max))
    for r in rows:
        if "text" in r:
            print()
            print("%s greedy, llama.cpp: %r" % (r["key"], r["text"]))
            i = r["greedy_first_diff"]
            if i is not None:
                print("%s greedy, lowbit:    %r" % (r["key"],
                                                    r["lowbit_text"]))
                print("%s greedy step %d (same prefix): llama.cpp's two "
                      "best %s, lowbit's %s ([token, p])"
                      % (r["key"], i, r["llama"]["top2"][i],
                         r["lowbit"]["top2"][i]))
    for n in notes:
        print()
        print(n)


def verdict(args, r):
    known = r["key"] in args.known_misses
    if r.get("ok"):
        return "met" + (" (listed as a known miss: fixed?)" if known else "")
    return "known miss" if known else "**missed**"


def add_model_args(ap, work):
    """The options every bench/models script takes: which models, where
    they are (fetched unless --offline), where the work goes (build/`work`
    by default) and which lowbit-compile."""
    ap.add_argument("--models", default=",".join(fetch.BY_KEY),
                    help="comma-separated: " + ", ".join(fetch.BY_KEY))
    ap.add_argument("--deps", help="where the GGUF files are (default: $%s "
                    "or build/_deps)" % fetch.DEPS_ENV)
    ap.add_argument("--offline", action="store_true",
                    help="fetch nothing: skip the models that are missing")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", work))
    ap.add_argument("--lowbit-compile",
                    default=os.path.join(ROOT, "build", "bin",
                                         "lowbit-compile"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_args(ap, "models-agreement")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--max-seq", type=int, default=256,
                    help="KV cache / context of both (Gemma 3: at most its "
                    "512-token sliding window)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nice", type=int, default=19)
    ap.add_argument("--known-misses", default="",
                    help="comma-separated models whose miss does not fail")
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--compile-flag", action="append", default=[],
                    help="an extra lowbit-compile flag (a diagnostic: the "
                    "goals are for the weights as stored, no flag)")
    ap.add_argument("--kv-cache",
                    choices=["f32", "f16", "int8", "fp8", "int4", "int2"],
                    help="lowbit's KV cache (lowbit-compile --kv-cache; "
                    "default: f16 as llama.cpp's, f32 with --f32-kv)")
    ap.add_argument("--floor", action="store_true",
                    help="also compare llama.cpp with itself, its cache "
                    "in the other precision (f16 / f32): how far llama.cpp's "
                    "own numerics move its logits")
    ap.add_argument("--f32-kv", action="store_true",
                    help="llama.cpp's KV cache in f32 instead of its default "
                    "f16 (and lowbit's, unless --kv-cache is given)")
    add_worker_args(ap)
    args = ap.parse_args()
    if args.worker == "llama":
        return worker_llama(args)
    if args.worker == "lowbit":
        return worker_lowbit(args)
    if args.kv_cache is None:
        args.kv_cache = "f32" if args.f32_kv else "f16"
    if any(f.startswith("--kv-cache") for f in args.compile_flag):
        ap.error("lowbit's KV cache is --kv-cache, not a --compile-flag")
    keys = [k for k in re.split(r"[,\s]+", args.models) if k]
    args.known_misses = [k for k in args.known_misses.split(",") if k]
    for k in keys + args.known_misses:
        if k not in fetch.BY_KEY:
            ap.error("unknown model %r (known: %s)"
                     % (k, ", ".join(fetch.BY_KEY)))
    if args.tokens < args.prompt_tokens or \
            max(args.tokens, args.prompt_tokens + args.gen) > args.max_seq:
        ap.error("need --prompt-tokens <= --tokens, and --tokens and "
                 "--prompt-tokens + --gen at most --max-seq")
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        sys.exit("llama-cpp-python is not installed (%s): `./lowbit.sh "
                 "demo` installs the pinned version" % e)
    os.makedirs(args.work, exist_ok=True)
    tempfile.tempdir = args.work
    rows = [one_model(args, k) for k in keys]
    report(args, rows)
    ran = [r for r in rows if "skip" not in r]
    if not ran:
        print()
        print("no model file found (--offline, in %s): nothing compared"
              % fetch.deps_dir(args.deps))
        return 0
    bad = [r["key"] for r in ran
           if bool(r.get("ok")) == (r["key"] in args.known_misses)]
    print()
    if bad:
        print("FAILED: %s" % ", ".join(
            "%s %s" % (k, "met the goals but is listed as a known miss"
                       if k in args.known_misses else "missed the goals")
            for k in bad))
        return 1
    print("all compared models as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
