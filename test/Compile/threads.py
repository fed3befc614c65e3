# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env OMP_NUM_THREADS=1 PYTHONPATH=%lowbit_obj/python %python %s %t | FileCheck %s
#
# The thread count as a run-time argument (docs/Compile.md, "Threads"):
# a tiny Llama (llama_ref, one layer) compiled by lowbit.compile runs 24
# decode steps at 1, 2 and 3 threads set through <prefix>_set_threads
# (CompiledModule.threads). The kernels split output channels over the
# threads, so every count gives bit-identical logits. That the count
# reaches the parallel regions is seen from outside: libomp starts its
# worker threads at the first region that needs them and keeps them, so
# the process has n - 1 more threads after a call at n (omp_get_num_threads
# inside a kernel is not observable from C). The count is the model's: a
# call from another thread (whose own OpenMP count is OMP_NUM_THREADS, 1)
# runs with it too and gives the same logits. set_threads(0) is -2 and
# changes nothing; a module without parallel loops links no libomp, and
# its set_threads succeeds and does nothing (get_threads is 1).
#
# CHECK: parallel: True, threads before set_threads: 1 (OMP_NUM_THREADS=1)
# CHECK: 1 thread: 24 steps, libomp workers 0
# CHECK: 2 threads: get_threads 2, logits identical to 1 thread, libomp workers 1
# CHECK: 3 threads: get_threads 3, logits identical to 1 thread, libomp workers 2
# CHECK: another thread: get_threads 3, logits identical to 1 thread
# CHECK: set_threads(0): -2, get_threads still 3; threads = 0: ValueError
# CHECK: no parallel loops: parallel False, links libomp: False, set_threads(4) 0, get_threads 1

import ctypes
import os
import subprocess
import sys
import threading

import numpy as np

import lowbit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "Inputs"))
import llama_ref as r  # noqa: E402


def tasks():
    """Threads of this process (libomp's workers included)."""
    return len(os.listdir("/proc/self/task"))


def run(m, tokens):
    cache = m.new_cache()
    return np.array([m.decode(np.array([t], np.int32),
                              np.array([p], np.int32), *cache)[0][0]
                     for p, t in enumerate(tokens)])


def main():
    d = sys.argv[1]
    cfg = r.Config(layers=1, ctx=64)
    w = r.make_weights(cfg, seed=5)
    path = os.path.join(d, "tiny.gguf")
    r.write_gguf(path, cfg, w)
    rng = np.random.default_rng(0)
    tokens = [int(t) for t in rng.integers(0, cfg.vocab, 24)]
    m = lowbit.compile(path, max_seq=64)
    print("parallel: %s, threads before set_threads: %d (OMP_NUM_THREADS=%s)"
          % (m.manifest["parallel"], m.threads,
             os.environ.get("OMP_NUM_THREADS")))

    base = tasks()
    m.threads = 1
    one = run(m, tokens)
    assert m.threads == 1
    print("1 thread: %d steps, libomp workers %d" % (len(tokens),
                                                       tasks() - base))
    for n in (2, 3):
        m.threads = n
        got = run(m, tokens)
        same = np.array_equal(got.view(np.uint32), one.view(np.uint32))
        assert same, (n, np.abs(got - one).max())
        print("%d threads: get_threads %d, logits %s to 1 thread, libomp "
              "workers %d" % (n, m.threads,
                              "identical" if same else "NOT identical",
                              tasks() - base))

    seen = {}

    def other():
        seen["threads"] = m.threads
        seen["logits"] = run(m, tokens)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    same = np.array_equal(seen["logits"].view(np.uint32), one.view(np.uint32))
    print("another thread: get_threads %d, logits %s to 1 thread"
          % (seen["threads"], "identical" if same else "NOT identical"))

    raw = getattr(m._lib, m.manifest["set_threads"])
    raw.restype, raw.argtypes = ctypes.c_int, [ctypes.c_int]
    rc = raw(0)
    try:
        m.threads = 0
        err = "accepted"
    except ValueError:
        err = "ValueError"
    print("set_threads(0): %d, get_threads still %d; threads = 0: %s"
          % (rc, m.threads, err))

    # No parallel loops: an elementwise function.
    src = os.path.join(d, "add.mlir")
    with open(src, "w") as f:
        f.write("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
                "  %y = arith.addf %x, %x : tensor<4xf32>\n"
                "  return %y : tensor<4xf32>\n}\n")
    e = lowbit.compile(open(src).read())
    so = next(p for p in e.files if p.endswith(".so"))
    needed = subprocess.run(["readelf", "-d", so], capture_output=True,
                            text=True, check=True).stdout
    setf = getattr(e._lib, e.manifest["set_threads"])
    setf.restype, setf.argtypes = ctypes.c_int, [ctypes.c_int]
    rc = setf(4)
    assert np.array_equal(e(np.arange(4, dtype=np.float32)),
                          2 * np.arange(4, dtype=np.float32))
    print("no parallel loops: parallel %s, links libomp: %s, set_threads(4) "
          "%d, get_threads %d" % (e.manifest["parallel"], "libomp" in needed,
                                  rc, e.threads))


if __name__ == "__main__":
    main()
