# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Prefill speed and memory of a compiled model: N tokens from an empty
cache through its prefill entry points (lowbit-compile --prefill), the
best of --reps runs as tokens/s, and the process's peak RSS after one
decode step and after the prefills (docs/Prefill.md, docs/Performance.md).

  lowbit-compile MODEL.gguf --max-seq 512 --kv-cache=f16 --prefill=128 \\
      --shared -o m
  OMP_NUM_THREADS=2 python3 bench/models/prefill_speed.py m 512
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import agreement as ag  # noqa: E402  (vm)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "tools", "lowbit-demo"))
from llama_demo import Compiled  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the compiled model (lowbit-compile -o)")
    ap.add_argument("n", type=int, help="prompt tokens")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--token", type=int, default=1)
    args = ap.parse_args()
    m = Compiled(args.base)
    if not m.chunks:
        sys.exit("%s has no prefill entry point (lowbit-compile --prefill)"
                 % args.base)
    m.step(args.token, 0)
    after_decode = ag.vm("VmHWM")
    ids = [args.token] * args.n
    best = None
    for _ in range(args.reps):
        m.reset()
        t0 = time.perf_counter()
        m.prefill(ids, 0)
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    print("%s: %d tokens through chunks of %s: %.1f tok/s (best of %d); "
          "peak RSS %.1f MB after a decode step, %.1f MB after the prefills"
          % (args.base, args.n, ", ".join(str(c[0]) for c in m.chunks),
             args.n / best, args.reps, after_decode / 1e6,
             ag.vm("VmHWM") / 1e6))


if __name__ == "__main__":
    main()
