# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# REQUIRES: python-bindings
# RUN: env PYTHONPATH=%lowbit_obj/python %python %s | FileCheck %s
#
# lowbit-approximate-exp (docs/Passes.md): the compiled code's f32 exp is
# f64 arithmetic rounded once, not libm's expf. Through lowbit.compile
# (x86_64, the kernels' pipeline): exp of 2^20 values in [-87, 88] against
# float64 numpy's exp rounded to f32 (the correct rounding, but for
# numpy's own last-bit error): at most one bit apart, and apart for at
# most 1 in 10^5 values (glibc's expf, which lowbit called before, is
# apart for 1 in 2000 of them); the special values exact (exp(+-0) = 1,
# exp(-inf) = 0, exp(+inf) = +inf, NaN, underflow to 0, overflow to
# +inf); and the loop's vector body and its scalar tail giving the same
# bits (a tensor of 2^20 + 13 elements and one of 13).
#
# CHECK: 1048589 values: {{[0-9]+}} one bit from the correct rounding, none further
# CHECK: special values: exact
# CHECK: vector body = scalar tail: same bits

import numpy as np

import lowbit

IR = """
#id = affine_map<(d0) -> (d0)>
func.func @exp(%x: tensor<Nxf32>) -> tensor<Nxf32> {
  %e = tensor.empty() : tensor<Nxf32>
  %y = linalg.generic {indexing_maps = [#id, #id],
                       iterator_types = ["parallel"]}
      ins(%x : tensor<Nxf32>) outs(%e : tensor<Nxf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<Nxf32>
  return %y : tensor<Nxf32>
}
"""


def compiled(n):
    return lowbit.compile(IR.replace("N", str(n)))


def main():
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, -np.inf, np.inf, np.nan, -104.0, -200.0,
                        89.0, 100.0, 88.72, -87.3, 1e-30, -1e-30],
                       np.float32)
    x = np.concatenate([rng.uniform(-87.0, 88.0, 1 << 20).astype(np.float32),
                        special])
    m = compiled(x.size)
    got = m(x)
    with np.errstate(over="ignore"):  # exp(89) and up: +inf in f32
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    bits = np.abs(got.view(np.int32).astype(np.int64) -
                  want.view(np.int32).astype(np.int64))
    finite = np.isfinite(want)
    off = int((bits[finite] != 0).sum())
    assert bits[finite].max() <= 1 and off * 100000 <= x.size, (
        bits[finite].max(), off)
    print("%d values: %d one bit from the correct rounding, none further"
          % (x.size, off))
    s = got[-special.size:]
    assert s[0] == 1.0 and s[1] == 1.0, s[:2]
    assert s[2] == 0.0 and s[3] == np.inf and np.isnan(s[4]), s[2:5]
    assert s[5] == 0.0 and s[6] == 0.0, s[5:7]  # underflow
    assert s[7] == np.inf, s[7]  # exp(89) > the largest f32
    assert s[8] == np.inf, s[8]  # overflow
    assert s[11] == 1.0 and s[12] == 1.0, s[11:]
    print("special values: exact")
    tail = compiled(13)(x[:13])
    assert np.array_equal(tail.view(np.uint32), got[:13].view(np.uint32))
    print("vector body = scalar tail: same bits")


if __name__ == "__main__":
    main()
