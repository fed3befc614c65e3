# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Inputs of the GGUF conformance tests: float32 .npy files in OUT_DIR.

Usage: gen_inputs.py OUT_DIR

Every array is 2-D with rows of 256 or 4096 values (whole blocks of every
GGUF format, K-quant super-blocks included) and is the same on every run
(fixed seeds; standard library only, so that the tests need no numpy).

  gauss      N(0, 1) with about 1% outliers (x20 .. x100) per row
  ties       exact rounding boundaries: half-integer grids scaled by powers
             of two so that x / d lands on k + 0.5 (q4_0, q4_1, q5_0, q8_0
             and the nearest_int of the K-quants), MXFP4 midpoints, and
             amax ties between +a and -a
  zeros      all-zero rows, zero blocks and sub-blocks among non-zero ones,
             a single non-zero value in a block
  const      constant blocks and rows (positive, negative, tiny, large)
  negmax     blocks whose largest magnitude is negative
  tiny       scales in fp16's subnormal range and below (values ~1e-3 ..
             1e-9), so that the stored fp16 scale is subnormal or zero
  subnormal  float32 subnormal inputs (~1e-40 .. 1e-45)
  large      N(0, 1) x 1e4 with outliers up to ~6e4
  huge       values up to ~1e7 and 3e38: fp16 scales overflow to inf
  many       64 x 4096, N(0, 1) with a different scale per row
"""

import math
import os
import random
import struct
import sys


def write_npy(path, rows):
    cols = len(rows[0])
    assert all(len(r) == cols for r in rows)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (
        len(rows), cols)
    total = (10 + len(header) + 1 + 63) // 64 * 64
    header = header + " " * (total - 10 - len(header) - 1) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        f.write(header.encode("latin1"))
        for r in rows:
            f.write(struct.pack("<%df" % cols, *r))


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def gauss_row(rng, n, scale=1.0):
    return [f32(rng.gauss(0.0, 1.0) * scale) for _ in range(n)]


def with_outliers(rng, row, frac=0.01):
    row = list(row)
    for _ in range(max(1, int(len(row) * frac))):
        i = rng.randrange(len(row))
        row[i] = f32(row[i] * rng.uniform(20.0, 100.0))
    return row


def gauss(rng):
    return [with_outliers(rng, gauss_row(rng, 1024)) for _ in range(16)]


def ties(rng):
    # Blocks of 32 values; each row of 256 is 8 blocks.
    blocks = []
    for e in (-3, 0, 2, 7):
        s = 2.0 ** e
        # q4_0: max = -8 * s gives d = s; x / d = -8 .. 7.5 in steps of 0.5.
        blocks.append([(-8 + 0.5 * j) * s for j in range(32)])
        # Same grid, amax positive (d = -s).
        blocks.append([(8 - 0.5 * j) * s for j in range(32)])
        # q5_0: max = -16 * s gives d = s; half-integers -16 .. 15.5.
        blocks.append([-16 * s] + [(-15.5 + j) * s for j in range(31)])
        # q8_0: amax = 127 * s gives d = s; half-integers around.
        b = [127 * s] + [(k + 0.5) * s for k in range(-124, 124, 8)]
        blocks.append(b[:32])
        # q4_1: min = 0, max = 15 * s gives d = s; values k + 0.5.
        blocks.append([0.0, 15 * s] + [((j % 15) + 0.5) * s
                                       for j in range(30)])
        # q5_1: min = 0, max = 31 * s gives d = s; values k + 0.5.
        blocks.append([0.0, 31 * s] + [((j % 31) + 0.5) * s
                                       for j in range(30)])
        # MXFP4: amax = 6 * s (e = floor(log2 6) - 2 + bias, d = s / 2 of
        # kvalues = E2M1 grid * s); values halfway between E2M1 grid points.
        mids = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]
        b = [6 * s, -6 * s]
        for j in range(30):
            m = mids[j % len(mids)] * s
            b.append(m if j % 2 == 0 else -m)
        blocks.append(b)
        # amax tie: +a first, then -a (and the reverse).
        b = gauss_row(rng, 32)
        b[3], b[17] = 4 * s, -4 * s
        blocks.append(b)
        b = gauss_row(rng, 32)
        b[3], b[17] = -4 * s, 4 * s
        blocks.append(b)
    # Quarter-integer grids (ties of the K-quants' inner scales after the
    # min/scale search) and shuffled copies of the grids above.
    for e in (-1, 1):
        s = 2.0 ** e
        blocks.append([(-4 + 0.25 * j) * s for j in range(32)])
        blocks.append([(0.25 * j) * s for j in range(32)])
    shuffled = []
    for b in blocks[:16]:
        b = list(b)
        rng.shuffle(b)
        shuffled.append(b)
    blocks += shuffled
    while len(blocks) % 8:
        blocks.append([(j - 16) * 0.5 for j in range(32)])
    rows = []
    for i in range(0, len(blocks), 8):
        rows.append([f32(v) for b in blocks[i:i + 8] for v in b])
    return rows


def zeros(rng):
    rows = [[0.0] * 256]
    # Alternating zero blocks of 32.
    r = gauss_row(rng, 256)
    for i in range(0, 256, 64):
        r[i:i + 32] = [0.0] * 32
    rows.append(r)
    # Zero sub-blocks of 16 (K-quant sub-blocks) and one zero half block.
    r = gauss_row(rng, 256)
    for i in range(16, 256, 48):
        r[i:i + 16] = [0.0] * 16
    rows.append(r)
    # A single non-zero value per block, of either sign.
    r = [0.0] * 256
    for i in range(0, 256, 32):
        r[i + (i // 32) % 32] = 1.5 if (i // 32) % 2 else -0.75
    rows.append(r)
    # Negative zeros.
    rows.append([-0.0] * 256)
    rows.append([(-0.0 if j % 3 else 0.0) for j in range(128)] +
                gauss_row(rng, 128))
    return rows


def const(rng):
    rows = []
    for c in (1.0, -1.0, 3.7, -1e-3, 100.0, 0.1, -65504.0 / 127):
        rows.append([f32(c)] * 256)
    # Constant blocks of 32 with different values.
    vals = [0.5, -2.0, 7.0, -7.0, 1e-2, 3.0, -0.3, 42.0]
    rows.append([f32(v) for v in vals for _ in range(32)])
    # Constant 16-value sub-blocks (K-quants).
    rows.append([f32(((i // 16) - 8) * 0.37) for i in range(256)])
    return rows


def negmax(rng):
    rows = []
    for _ in range(4):
        r = gauss_row(rng, 256)
        for i in range(0, 256, 32):
            b = r[i:i + 32]
            j = rng.randrange(32)
            r[i + j] = f32(-(max(abs(v) for v in b) + rng.uniform(0.1, 2.0)))
        rows.append(r)
    # All-negative blocks.
    rows.append([f32(-abs(v)) for v in gauss_row(rng, 256)])
    # Positive max and negative min of nearly the same magnitude.
    r = gauss_row(rng, 256)
    for i in range(0, 256, 32):
        r[i], r[i + 31] = f32(3.0), f32(-3.0000002)
    rows.append(r)
    return rows


def tiny(rng):
    rows = []
    for scale in (1e-3, 1e-4, 6e-5, 1e-5, 3e-6, 1e-7, 1e-8, 1e-9, 1e-12):
        rows.append(gauss_row(rng, 256, scale))
    # Mixed: blocks of very different magnitudes within one super-block.
    r = []
    for i in range(8):
        r += gauss_row(rng, 32, 10.0 ** (-i))
    rows.append(r)
    return rows


def subnormal(rng):
    rows = []
    for scale in (1e-38, 1e-40, 1e-42, 1e-44):
        rows.append(gauss_row(rng, 256, scale))
    # The smallest subnormal, alone and with zeros.
    r = [0.0] * 256
    for i in range(0, 256, 32):
        r[i + 5] = math.ldexp(1.0, -149) * (1 if i % 64 else -1)
    rows.append(r)
    return rows


def large(rng):
    rows = [with_outliers(rng, gauss_row(rng, 256, 1e4), 0.005)
            for _ in range(8)]
    for r in rows:
        for i in range(len(r)):
            r[i] = max(-6e4, min(6e4, r[i]))
    return rows


def huge(rng):
    rows = [gauss_row(rng, 256, scale) for scale in (1e5, 1e6, 1e7)]
    rows.append([max(-3e38, min(3e38, v)) for v in gauss_row(rng, 256, 1e38)])
    return rows


def many(rng):
    rows = []
    for i in range(64):
        scale = 2.0 ** rng.uniform(-8, 8)
        rows.append(gauss_row(rng, 4096, scale))
    return rows


GENERATORS = {
    "gauss": gauss,
    "ties": ties,
    "zeros": zeros,
    "const": const,
    "negmax": negmax,
    "tiny": tiny,
    "subnormal": subnormal,
    "large": large,
    "huge": huge,
    "many": many,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, (name, gen) in enumerate(GENERATORS.items()):
        rows = gen(random.Random(1000 + i))
        write_npy(os.path.join(out, name + ".npy"),
                  [[f32(v) for v in r] for r in rows])


if __name__ == "__main__":
    main()
