# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Explains a difference between lowbit's and llama.cpp's GGUF outputs.

  compare.py blocks FORMAT IN.npy LOWBIT.bin LLAMA.bin
      block structs of FORMAT for the rows of IN.npy: prints the first
      differing block of each file with its input values, exits 1 if any
      byte differs (run it after `cmp` fails)
  compare.py floats LOWBIT.npy LLAMA.npy
      float32 .npy data compared bit for bit (headers may differ): prints
      the first differences, exits 1 if any

Standard library only.
"""

import struct
import sys

# Elements per block and bytes per block struct (ggml-common.h).
BLOCKS = {
    "q4_0": (32, 18),
    "q4_1": (32, 20),
    "q5_0": (32, 22),
    "q5_1": (32, 24),
    "q8_0": (32, 34),
    "q2_k": (256, 84),
    "q3_k": (256, 110),
    "q4_k": (256, 144),
    "q5_k": (256, 176),
    "q6_k": (256, 210),
    "gguf_mxfp4": (32, 17),
    "iq4_nl": (32, 18),
    "iq4_xs": (256, 136),
    "tq1_0": (256, 54),
    "tq2_0": (256, 66),
}


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        sys.exit("%s: not a .npy file" % path)
    if data[6] == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    header = data[start:start + hlen].decode("latin1")
    if "'<f4'" not in header or "'fortran_order': False" not in header:
        sys.exit("%s: not a little-endian C-order float32 .npy" % path)
    shape_str = header.split("'shape': (")[1].split(")")[0]
    shape = tuple(int(d) for d in shape_str.replace(" ", "").split(",") if d)
    return shape, data[start + hlen:]


def floats(raw):
    return struct.unpack("<%df" % (len(raw) // 4), raw)


def hexwords(raw):
    words = struct.unpack("<%dI" % (len(raw) // 4), raw)
    return " ".join("%08x" % w for w in words)


def compare_blocks(fmt, in_path, a_path, b_path):
    qk, nbytes = BLOCKS[fmt]
    shape, raw = read_npy(in_path)
    cols = shape[-1]
    x = floats(raw)
    a = open(a_path, "rb").read()
    b = open(b_path, "rb").read()
    if len(a) != len(b):
        print("sizes differ: %s has %d bytes, %s has %d" %
              (a_path, len(a), b_path, len(b)))
        return 1
    per_row = cols // qk
    diffs = [i for i in range(len(a) // nbytes)
             if a[i * nbytes:(i + 1) * nbytes] !=
             b[i * nbytes:(i + 1) * nbytes]]
    if not diffs:
        return 0
    print("%s: %d of %d blocks differ" % (fmt, len(diffs), len(a) // nbytes))
    for i in diffs[:3]:
        row, blk = divmod(i, per_row)
        first = row * cols + blk * qk
        print("block %d (row %d, values [%d:%d] of the row):" %
              (i, row, blk * qk, (blk + 1) * qk))
        print("  lowbit: " + a[i * nbytes:(i + 1) * nbytes].hex())
        print("  llama : " + b[i * nbytes:(i + 1) * nbytes].hex())
        print("  input (fp32 bits): " +
              hexwords(raw[first * 4:(first + qk) * 4]))
        print("  input: " + " ".join("%.9g" % v for v in x[first:first + qk]))
    return 1


def compare_floats(a_path, b_path):
    sa, a = read_npy(a_path)
    sb, b = read_npy(b_path)
    if sa != sb:
        print("shapes differ: %s vs %s" % (sa, sb))
        return 1
    if a == b:
        return 0
    wa = struct.unpack("<%dI" % (len(a) // 4), a)
    wb = struct.unpack("<%dI" % (len(b) // 4), b)
    diffs = [i for i in range(len(wa)) if wa[i] != wb[i]]
    print("%d of %d values differ (bitwise)" % (len(diffs), len(wa)))
    fa, fb = floats(a), floats(b)
    for i in diffs[:8]:
        print("  [%d] lowbit %08x (%.9g)  llama %08x (%.9g)" %
              (i, wa[i], fa[i], wb[i], fb[i]))
    return 1


def main():
    args = sys.argv[1:]
    if len(args) == 5 and args[0] == "blocks" and args[1] in BLOCKS:
        rc = compare_blocks(*args[1:])
        if rc == 0:
            print("no difference found")
            rc = 1
        sys.exit(rc)
    if len(args) == 3 and args[0] == "floats":
        sys.exit(compare_floats(*args[1:]))
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
