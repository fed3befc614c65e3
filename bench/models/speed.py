#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""End-to-end speed of lowbit and llama.cpp side by side, in one run, on
the real GGUF files (llama-bench's measures).

    speed.py [--models smollm2,gemma3,qwen2.5] [--threads 1,2] [--pp 512]
             [--tg 128] [--reps 3] [--offline] [--deps DIR] [--work DIR]
             [--lowbit-compile PATH] [--nice N] [--dry-run]

Per model (fetched as bench/models/agreement.py does; --offline skips the
missing ones): lowbit-compile with the weights as stored, the f16 KV
cache as llama.cpp's default and prefill chunks of --chunk tokens
(`--shared --kv-cache=f16 --max-seq=max(pp, tg) --prefill=CHUNK`),
timed, its peak RSS taken from the kernel (wait4's ru_maxrss). Then, per
thread count, each side in a child process of its own (this script with
--worker), on the same pseudo-random token ids (seed 0, as llama-bench
feeds random tokens):

- pp: a --pp token prompt from an empty cache, tokens/s. llama.cpp
  evaluates it in one batch (n_batch 512, n_ctx 1024, its default path:
  llama-cpp-python's Llama(...) with only those and the threads set).
  lowbit runs it through its prefill entry point (docs/Prefill.md):
  chunks of --chunk tokens in one call each, then decode steps for the
  rest (--chunk 0: --pp decode steps, one token each).
- tg: --tg tokens generated from an empty cache, one token a step,
  tokens/s (no sampling on either side: fixed ids, as llama-bench).
- peak RSS: VmHWM of the child (its Python + numpy baseline before the
  model loads in brackets).

Threads: lowbit's through <prefix>_set_threads (docs/Compile.md, and
OMP_NUM_THREADS in the child's environment), llama.cpp's n_threads and
n_threads_batch. Each measure is the mean of --reps runs after a warm-up
step. The markdown table names the host CPU and its ISA.
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
import agreement as ag  # noqa: E402  (host, vm, mb, child_env)
import fetch  # noqa: E402

ROOT = fetch.ROOT


# ---------------------------------------------------------------------------
# Workers (child processes): each writes its results to OUT.
# ---------------------------------------------------------------------------

def worker_llama(a):
    """llama.cpp: pp as one batch, tg one token a step."""
    import llama_cpp
    ids = json.load(open(a.ids))
    base_rss = ag.vm("VmRSS")
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.n_ctx,
                          n_batch=a.n_batch, n_threads=a.threads,
                          n_threads_batch=a.threads, verbose=False)
    llm.eval(ids[:1])  # warm-up
    pp, tg = [], []
    for _ in range(a.reps):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids[:a.pp])
        pp.append(a.pp / (time.perf_counter() - t0))
        llm.reset()
        t0 = time.perf_counter()
        for t in ids[:a.tg]:
            llm.eval([t])
        tg.append(a.tg / (time.perf_counter() - t0))
    json.dump({"pp": pp, "tg": tg, "peak_rss": ag.vm("VmHWM"),
               "base_rss": base_rss, "threads": a.threads,
               "version": getattr(llama_cpp, "__version__", "?")},
              open(a.out, "w"))


def worker_lowbit(a):
    """The compiled model: pp through its prefill chunks, tg as decode
    steps, each from a zeroed cache."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "lowbit-demo"))
    from llama_demo import Compiled  # the demo's runner of a compiled model
    ids = json.load(open(a.ids))
    base_rss = ag.vm("VmRSS")
    m = Compiled(a.base, threads=a.threads)
    if m.threads != a.threads:
        sys.exit("get_threads says %s after set_threads(%d)"
                 % (m.threads, a.threads))

    def steps(n, prefill=False):
        for c in m.cache:
            c[...] = 0
        t0 = time.perf_counter()
        if prefill:
            m.prefill(ids[:n], 0)
        else:
            for i, t in enumerate(ids[:n]):
                m.step(t, i)
        return n / (time.perf_counter() - t0)

    m.step(ids[0], 0)  # warm-up
    if a.chunk:
        m.prefill(ids[:a.chunk], 0)
    pp, tg = [], []
    for _ in range(a.reps):
        pp.append(steps(a.pp, prefill=a.chunk > 0))
        tg.append(steps(a.tg))
    json.dump({"pp": pp, "tg": tg, "peak_rss": ag.vm("VmHWM"),
               "base_rss": base_rss, "threads": m.threads}, open(a.out, "w"))


# ---------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------

def run_measured(cmd, args, threads):
    """Runs `cmd` niced; (wall seconds, peak RSS bytes of the child,
    stderr). Raises RuntimeError when it fails."""
    with tempfile.TemporaryFile() as err:
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=ag.child_env(threads),
                                stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: os.nice(args.nice))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd),
                                                   proc.returncode,
                                                   text.strip()[-2000:]))
    return wall, usage.ru_maxrss * 1024, text


def compile_cmd(args, model, base):
    return [args.lowbit_compile, model, "-o", base, "--prefix=llm",
            "--shared", "--max-seq=%d" % max(args.pp, args.tg),
            "--kv-cache=f16"] + (["--prefill=%d" % args.chunk]
                                 if args.chunk else [])


def worker_cmd(args, kind, threads, extra):
    return [sys.executable, os.path.abspath(__file__), "--worker", kind,
            "--threads", str(threads), "--pp", str(args.pp), "--tg",
            str(args.tg), "--reps", str(args.reps), "--n-ctx",
            str(args.n_ctx), "--n-batch", str(args.n_batch), "--chunk",
            str(args.chunk)] + extra


def one_model(args, key):
    m = fetch.BY_KEY[key]
    row = {"key": key, "name": m.name}
    path, missing = fetch.locate(
        key, args.deps, not (args.offline or args.dry_run),
        "--offline" if args.offline else "--dry-run")
    if missing:
        return dict(row, **missing)
    work = os.path.join(args.work, key)
    base = os.path.join(work, "model")
    ids = os.path.join(work, "ids.json")
    cmd = compile_cmd(args, path, base)
    if args.dry_run:
        print(" ".join(cmd))
        for n in args.threads:
            for kind, extra in (("lowbit", ["--base", base]),
                                ("llama", ["--model", path])):
                print(" ".join(worker_cmd(args, kind, n, extra + [
                    "--ids", ids, "--out", os.path.join(
                        work, "%s-%d.json" % (kind, n))])))
        row["skip"] = "--dry-run"
        return row
    os.makedirs(work, exist_ok=True)
    try:
        print("%s: compiling %s" % (key, path), file=sys.stderr, flush=True)
        row["compile_s"], row["compile_rss"], _ = run_measured(
            cmd, args, max(args.threads))
        # The token ids: pseudo-random in the model's vocabulary (the
        # decode step's token range, which the manifest states).
        import numpy as np
        man = json.load(open(base + ".json"))
        vocab = man["entry_points"][0]["args"][0]["range"][1] + 1
        rng = np.random.default_rng(0)
        with open(ids, "w") as f:
            json.dump([int(t) for t in rng.integers(
                0, vocab, max(args.pp, args.tg))], f)
        row["runs"] = []
        for n in args.threads:
            res = {"threads": n}
            for kind, extra in (("lowbit", ["--base", base]),
                                ("llama", ["--model", path])):
                out = os.path.join(work, "%s-%d.json" % (kind, n))
                print("%s: %s, %d thread%s" % (key, kind, n,
                                               "s" if n > 1 else ""),
                      file=sys.stderr, flush=True)
                run_measured(worker_cmd(args, kind, n, extra + [
                    "--ids", ids, "--out", out]), args, n)
                res[kind] = json.load(open(out))
            row["runs"].append(res)
    except RuntimeError as e:
        row["error"] = str(e)
    return row


def mean(xs):
    return sum(xs) / len(xs)


def report(args, rows):
    print("## lowbit vs llama.cpp: end-to-end speed")
    print()
    print("host: %s; niced %d" % (ag.host(), args.nice))
    ver = next((r["runs"][0]["llama"]["version"] for r in rows
                if r.get("runs")), None)
    if ver:
        print("llama.cpp: llama-cpp-python %s, n_batch %d, n_ctx %d, f16 KV "
              "cache, its default path" % (ver, args.n_batch, args.n_ctx))
    if args.chunk:
        how = ("--prefill=%d (weights as stored); its pp%d runs chunks of "
               "%d tokens in one call each, then decode steps for the rest"
               % (args.chunk, args.pp, args.chunk))
    else:
        how = ("(weights as stored); its pp%d is %d decode steps, one token "
               "each" % (args.pp, args.pp))
    print("lowbit: lowbit-compile MODEL.gguf --shared --kv-cache=f16 "
          "--max-seq=%d %s" % (max(args.pp, args.tg), how))
    print("pp%d: a %d-token prompt from an empty cache; tg%d: %d tokens "
          "generated one at a time from an empty cache; tokens/s, the mean "
          "of %d runs after a warm-up step; pseudo-random token ids (seed "
          "0), the same on both sides"
          % (args.pp, args.pp, args.tg, args.tg, args.reps))
    print()
    pp, tg = "pp%d" % args.pp, "tg%d" % args.tg
    print("| model | threads | %s lowbit | %s llama.cpp | ratio | %s lowbit "
          "| %s llama.cpp | ratio | peak RSS lowbit (base) | peak RSS "
          "llama.cpp (base) | compile s | compile peak RSS |" % (pp, pp, tg,
                                                                 tg))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for r in rows:
        if "skip" in r:
            print("| %s | skipped: %s |" % (r["name"], r["skip"]))
            continue
        if "error" in r:
            print("| %s | **error** (below) |" % r["name"])
            notes.append("%s: %s" % (r["key"], r["error"]))
            continue
        for res in r["runs"]:
            b, q = res["lowbit"], res["llama"]
            print("| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f "
                  "| %s (%s) | %s (%s) | %.1f | %s |"
                  % (r["name"], res["threads"], mean(b["pp"]), mean(q["pp"]),
                     mean(b["pp"]) / mean(q["pp"]), mean(b["tg"]),
                     mean(q["tg"]), mean(b["tg"]) / mean(q["tg"]),
                     ag.mb(b["peak_rss"]), ag.mb(b["base_rss"]),
                     ag.mb(q["peak_rss"]), ag.mb(q["base_rss"]),
                     r["compile_s"], ag.mb(r["compile_rss"])))
    print()
    print("ratio: lowbit / llama.cpp (above 1: lowbit faster). Peak RSS: "
          "VmHWM of each child process (its Python + numpy baseline before "
          "the model loads in brackets). compile: lowbit-compile's wall "
          "time and peak RSS, once per model (the thread count is a "
          "run-time setting).")
    for n in notes:
        print()
        print(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ag.add_model_args(ap, "models-speed")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--pp", type=int, default=512,
                    help="prompt tokens (lowbit: through its prefill "
                    "chunks, see --chunk)")
    ap.add_argument("--tg", type=int, default=128,
                    help="generated tokens")
    ap.add_argument("--reps", type=int, default=3,
                    help="runs of each measure, averaged")
    ap.add_argument("--chunk", type=int, default=128,
                    help="lowbit's prefill chunk (lowbit-compile --prefill; "
                    "0: the prompt as decode steps)")
    ap.add_argument("--n-ctx", type=int, default=1024,
                    help="llama.cpp's context")
    ap.add_argument("--n-batch", type=int, default=512,
                    help="llama.cpp's batch")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of the children (default 0)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the commands (compile, workers) and the "
                    "table's header; run and fetch nothing")
    ag.add_worker_args(ap)
    args = ap.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        return (worker_llama if args.worker == "llama" else
                worker_lowbit)(args)
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        ap.error("--threads: comma-separated integers")
    if not args.threads or min(args.threads) < 1:
        ap.error("--threads: at least one count, each >= 1")
    if min(args.pp, args.tg, args.reps) < 1:
        ap.error("--pp, --tg and --reps must be >= 1")
    if args.pp > args.n_ctx or args.tg > args.n_ctx:
        ap.error("--pp and --tg must fit llama.cpp's --n-ctx")
    keys = [k for k in re.split(r"[,\s]+", args.models) if k]
    for k in keys:
        if k not in fetch.BY_KEY:
            ap.error("unknown model %r (known: %s)"
                     % (k, ", ".join(fetch.BY_KEY)))
    if not args.dry_run:
        try:
            import llama_cpp  # noqa: F401
        except ImportError as e:
            sys.exit("llama-cpp-python is not installed (%s): `./lowbit.sh "
                     "demo` installs the pinned version" % e)
        os.makedirs(args.work, exist_ok=True)
    rows = [one_model(args, k) for k in keys]
    report(args, rows)
    if not args.dry_run and not any("runs" in r for r in rows):
        print()
        print("no model measured (--offline: none found in %s)"
              % fetch.deps_dir(args.deps))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
