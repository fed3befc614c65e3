# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: rm -rf %t && mkdir -p %t
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s %t %cxx %mlir_lib_dir | FileCheck %s
#
# lowbit-compile end to end (docs/Compile.md): a two-layer MLP compiled to
# a shared library or an object, C header and weights blob, linked into
# Inputs/driver.cpp and run. fp32 must match numpy; MXFP4 must match
# numpy on the library's dequantized weights (lowbit.fake_quant, the
# numerics reference) up to summation order; W4A8 (int8 activations) is
# checked against fp32 for quality. Then the error paths: a blob from
# another compilation, a truncated blob, a bad module (no file written),
# unknown phase, and nvptx on a module no GPU kernel covers (test/Compile/
# nvptx.py has the nvptx target).
#
# CHECK: fp32 shared: weights 49216 bytes, max rel err vs numpy {{[0-9.e-]+}}: ok
# CHECK: fp32 weights: in the blob, not in the library
# CHECK: mxfp4 shared: weights 6464 bytes, max rel err vs fake-quant reference {{[0-9.e-]+}}: ok
# CHECK: w4a8 object: weights {{[0-9]+}} bytes, rel L2 err vs fp32 {{[0-9.]+}}: ok
# CHECK: C symbols: mlp_get_threads mlp_mlp mlp_set_threads mlp_set_weights
# CHECK: llvm phase: llvm.func @mlp_mlp(
# CHECK: other model's blob: driver: {{.*}}not the weights this model was compiled with (-3)
# CHECK: truncated blob: driver: {{.*}}: 4096 bytes, this model's weights are 49216
# CHECK: dynamic shape: {{.*}}bad.mlir:1:1: error: entry point @f argument 0 is 'tensor<?x64xf32>'
# CHECK: dynamic shape: no output written
# CHECK: bad name: {{.*}}error: entry point @mlp-step: the C API names it <prefix>_mlp-step, so it must be a C identifier
# CHECK: unreplaceable output: lowbit-compile: error: cannot write {{.*}}dir.so: a directory ['dir.so']
# CHECK: unknown phase: lowbit-compile: error: unknown phase 'bogus'
# CHECK: nvptx: {{.*}}error: --target=nvptx: no GPU kernel covers an op of this module

import os
import sys

import numpy as np

import lowbit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "Inputs"))
import testutil as tu  # noqa: E402

dense = tu.dense_rows


def module(w1, w2):
    return f"""func.func @mlp(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {{
  %w1 = arith.constant {dense(w1)} : tensor<64x128xf32>
  %w2 = arith.constant {dense(w2)} : tensor<128x32xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<4x128xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x128xf32>) -> tensor<4x128xf32>
  %h0 = linalg.matmul ins(%x, %w1 : tensor<4x64xf32>, tensor<64x128xf32>) outs(%f1 : tensor<4x128xf32>) -> tensor<4x128xf32>
  %h = linalg.map {{ arith.maximumf }} ins(%h0, %f1 : tensor<4x128xf32>, tensor<4x128xf32>) outs(%e1 : tensor<4x128xf32>)
  %e2 = tensor.empty() : tensor<4x32xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = linalg.matmul ins(%h, %w2 : tensor<4x128xf32>, tensor<128x32xf32>) outs(%f2 : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}}
"""


run = tu.run


def main():
    global LLVM_LIB
    d, cxx, LLVM_LIB = sys.argv[1], sys.argv[2], sys.argv[3]
    driver = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "Inputs", "driver.cpp")
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((64, 128)) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((128, 32)) * 0.1).astype(np.float32)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    src = os.path.join(d, "mlp.mlir")
    open(src, "w").write(module(w1, w2))
    xin = os.path.join(d, "x.f32")
    x.tofile(xin)
    fp32 = np.maximum(x @ w1, 0) @ w2

    def build(name, extra, shared):
        out = os.path.join(d, name)
        os.makedirs(out)
        base = os.path.join(out, "mlp")
        r = run(["lowbit-compile", src, "-o", base] + extra +
                (["--shared"] if shared else []))
        assert r.returncode == 0, r.stderr
        exe = os.path.join(out, "driver")
        link = ([base + ".so", "-Wl,-rpath," + out] if shared else
                [base + ".o", "-L" + LLVM_LIB, "-Wl,-rpath," + LLVM_LIB,
                 "-lomp"])
        r = run([cxx, "-O1", "-I" + out, driver, "-o", exe] + link)
        assert r.returncode == 0, r.stderr
        y = os.path.join(out, "y.f32")
        r = run([exe, base + ".weights", xin, y])
        assert r.returncode == 0, r.stderr
        size = os.path.getsize(base + ".weights")
        return base, exe, np.fromfile(y, dtype=np.float32).reshape(4, 32), size

    base32, exe32, y, size = build("fp32", [], True)
    err = np.abs(y - fp32).max() / np.abs(fp32).max()
    assert err < 1e-5, err
    print("fp32 shared: weights %d bytes, max rel err vs numpy %.2g: ok"
          % (size, err))

    blob = open(base32 + ".weights", "rb").read()
    lib = open(base32 + ".so", "rb").read()
    inside = all(w.tobytes() in blob and w.tobytes()[:64] not in lib
                 for w in (w1, w2))
    print("fp32 weights:", "in the blob, not in the library" if inside
          else "MISPLACED")

    q1 = lowbit.fake_quant(w1.T, "mxfp4").T
    q2 = lowbit.fake_quant(w2.T, "mxfp4").T
    ref = np.maximum(x @ q1, 0) @ q2
    _, _, y, size = build("mxfp4", ["--pipeline=lowbit-mxfp4"], True)
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err < 1e-5, err
    print("mxfp4 shared: weights %d bytes, max rel err vs fake-quant "
          "reference %.2g: ok" % (size, err))

    basew4, _, y, size = build("w4a8", ["--pipeline=lowbit-w4a8{group=32}",
                                         "--target-cpu=x86-64-v3"], False)
    err = np.linalg.norm(y - fp32) / np.linalg.norm(fp32)
    assert err < 0.25, err
    print("w4a8 object: weights %d bytes, rel L2 err vs fp32 %.3f: ok"
          % (size, err))
    syms = run(["nm", "-D", "--defined-only", base32 + ".so"]).stdout.split()
    print("C symbols:", " ".join(sorted(s for s in syms
                                        if s.startswith("mlp_"))))

    r = run(["lowbit-compile", src, "--compile-to=llvm", "--prefix=mlp"])
    assert r.returncode == 0, r.stderr
    print("llvm phase:", next(line.strip()[:len("llvm.func @mlp_mlp(")]
                              for line in r.stdout.splitlines()
                              if "llvm.func @mlp_mlp(" in line))

    # The same model with other weights: same size, another fingerprint.
    other = os.path.join(d, "other.mlir")
    open(other, "w").write(module(w1 * 2, w2))
    r = run(["lowbit-compile", other, "-o", os.path.join(d, "other"),
             "--prefix=mlp"])
    assert r.returncode == 0, r.stderr
    r = run([exe32, os.path.join(d, "other.weights"), xin,
             os.path.join(d, "y.f32")])
    assert r.returncode == 1, (r.returncode, r.stderr)
    print("other model's blob:", r.stderr.strip())
    cut = os.path.join(d, "cut.weights")
    open(cut, "wb").write(open(base32 + ".weights", "rb").read()[:4096])
    r = run([exe32, cut, xin, os.path.join(d, "y.f32")])
    assert r.returncode == 1, (r.returncode, r.stderr)
    print("truncated blob:", r.stderr.strip())

    bad = os.path.join(d, "bad.mlir")
    open(bad, "w").write(
        "func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {\n"
        "  return %x : tensor<?x64xf32>\n}\n")
    r = run(["lowbit-compile", bad, "-o", os.path.join(d, "bad"),
             "--shared"])
    assert r.returncode == 1, r
    print("dynamic shape:", r.stderr.strip().splitlines()[0])
    left = [f for f in os.listdir(d) if f.startswith("bad.") and
            f != "bad.mlir"]
    print("dynamic shape:", "no output written" if not left else left)
    dash = os.path.join(d, "dash.mlir")
    open(dash, "w").write(module(w1, w2).replace("@mlp", '@"mlp-step"'))
    r = run(["lowbit-compile", dash, "-o", os.path.join(d, "dash")])
    assert r.returncode == 1
    print("bad name:", r.stderr.strip().splitlines()[0])
    os.makedirs(os.path.join(d, "dir.so"))
    r = run(["lowbit-compile", src, "-o", os.path.join(d, "dir"),
             "--shared"])
    assert r.returncode == 1
    left = sorted(f for f in os.listdir(d) if f.startswith("dir."))
    print("unreplaceable output:", r.stderr.strip(), left)
    r = run(["lowbit-compile", src, "--compile-to=bogus"])
    assert r.returncode == 1
    print("unknown phase:", r.stderr.strip())
    r = run(["lowbit-compile", src, "-o", os.path.join(d, "nv"),
             "--target=nvptx"])
    assert r.returncode == 1
    print("nvptx:", r.stderr.strip().splitlines()[0])


LLVM_LIB = None

if __name__ == "__main__":
    main()
