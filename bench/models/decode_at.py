# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Decode speed of a compiled model at given positions: steps from
position 0 to FIRST (untimed), then the median time of the steps at FIRST
.. LAST - 1 as tokens/s (docs/Prefill.md's table of attention over the
filled cache).

  lowbit-compile MODEL.gguf --max-seq 2048 --kv-cache=f16 --shared -o m
  OMP_NUM_THREADS=2 python3 bench/models/decode_at.py m 1984 2040
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "lowbit-demo"))
from llama_demo import Compiled  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="the compiled model (lowbit-compile -o)")
    ap.add_argument("first", type=int)
    ap.add_argument("last", type=int)
    ap.add_argument("--token", type=int, default=1)
    args = ap.parse_args()
    m = Compiled(args.base)
    for pos in range(args.first):
        m.step(args.token, pos)
    times = []
    for pos in range(args.first, args.last):
        t0 = time.perf_counter()
        m.step(args.token, pos)
        times.append(time.perf_counter() - t0)
    times.sort()
    print("%s: positions %d-%d: %.1f tok/s (median step)"
          % (args.base, args.first, args.last, 1 / times[len(times) // 2]))


if __name__ == "__main__":
    main()
