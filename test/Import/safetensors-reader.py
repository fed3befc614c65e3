# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# The safetensors reader (lib/Import, lowbit-inspect): a file written by
# the reference implementation (safetensors' save_file) is read back,
# metadata, dtypes, shapes and byte ranges included, and the bytes in each
# range are the tensor written; then a small file is damaged in every way
# a reader must survive (every truncation, bad header sizes, JSON errors,
# dtypes, shapes, offsets that leave gaps, overlap or run past the end),
# each an exit 1 with an error naming the byte offset; and random
# mutations of the header must get the reference's verdict (accepted or
# rejected) on every one, never a crash.
#
# CHECK: safetensors, header {{[0-9]+}} bytes, 2 metadata, 5 tensors
# CHECK-DAG: format = "np"
# CHECK-DAG: note = "h\xc3\xa9llo \"q\""
# CHECK-DAG: tensor embed.weight F32 [16, 8] bytes {{[0-9]+}}..{{[0-9]+}}
# CHECK-DAG: tensor up.weight F16 [4, 8] bytes
# CHECK-DAG: tensor head.weight BF16 [3, 8] bytes
# CHECK-DAG: tensor scalar F32 [] bytes
# CHECK-DAG: tensor empty F32 [0, 4] bytes [[E:[0-9]+]]..[[E]]
# CHECK: tensor bytes in the reported ranges: equal
# CHECK: truncations: {{[0-9]+}} prefixes, all rejected cleanly
# CHECK: short file: error: {{.*}}safetensors at byte 0: truncated file
# CHECK: huge header size: error: {{.*}}at byte 0: header size 18446744073709551615 is larger than the limit
# CHECK: header past the end: error: {{.*}}at byte 0: header size 5000 but only {{[0-9]+}} bytes follow
# CHECK: not UTF-8: error: {{.*}}at byte 10: header is not valid UTF-8
# CHECK: no brace: error: {{.*}}at byte 8: header does not start with '{'
# CHECK: deep nesting: error: {{.*}}nesting deeper than 32
# CHECK: unknown dtype: error: {{.*}}at byte 22: tensor 'a' has unsupported dtype 'Q4'
# CHECK: size mismatch: error: {{.*}}tensor 'a' spans 4 bytes but its F32 shape needs 8
# CHECK: overflowing shape: error: {{.*}}tensor 'a' is too large
# CHECK: huge integer: error: {{.*}}integer too large
# CHECK: end before begin: error: {{.*}}tensor 'a' ends (0) before it begins (4)
# CHECK: gap: error: {{.*}}tensor 'b' begins at 8 of the data, expected 4 (a gap before it)
# CHECK: overlap: error: {{.*}}tensor 'b' begins at 2 of the data, expected 4 (overlaps another tensor)
# CHECK: past the end: error: {{.*}}tensor 'a' extends past the end of the file (8 > 4 bytes of data)
# CHECK: excess data: error: {{.*}}4 bytes after the last tensor belong to no tensor
# CHECK: duplicate name: error: {{.*}}duplicate tensor 'a'
# CHECK: missing field: error: {{.*}}tensor 'a' lacks data_offsets
# CHECK: metadata number: error: {{.*}}__metadata__ value of 'k' is not a string
# CHECK: trailing junk: error: {{.*}}data after the header's JSON object
# CHECK: random mutations: {{[0-9]+}} files, {{[0-9]+}} rejected, verdicts equal to the reference's, 0 crashes

import os
import random
import struct
import sys

import ml_dtypes
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "Inputs"))
import inspect_checks as ic  # noqa: E402
from inspect_checks import run  # noqa: E402


def reference_accepts(path):
    try:
        with safe_open(path, framework="np") as f:
            f.keys()
        return True
    except Exception:
        return False


def main():
    d = sys.argv[1]
    rng = np.random.default_rng(3)
    path = os.path.join(d, "model.safetensors")
    tensors = {
        "embed.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "up.weight": rng.standard_normal((4, 8)).astype(np.float16),
        "head.weight": rng.standard_normal((3, 8)).astype(ml_dtypes.bfloat16),
        "scalar": np.array(1.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    save_file(tensors, path, metadata={"format": "np",
                                       "note": 'h\u00e9llo "q"'})
    rc, out, err = run(path)
    assert rc == 0, err
    sys.stdout.write(out)
    data_at = int(out.split("data at ")[1].split()[0])
    blob = open(path, "rb").read()
    same = True
    for line in out.splitlines():
        if line.startswith("tensor "):
            name = line.split()[1]
            b, e = map(int, line.split(" bytes ")[1].split(".."))
            same &= blob[data_at + b:data_at + e] == tensors[name].tobytes()
    print("tensor bytes in the reported ranges:",
          "equal" if same else "DIFFERENT")

    def make(header, data=b"\0" * 8):
        h = header.encode() if isinstance(header, str) else header
        return struct.pack("<Q", len(h)) + h + data

    two = ('{"__metadata__":{"k":"v"},'
           '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
           '"b":{"dtype":"U8","shape":[2,2],"data_offsets":[4,8]}}')
    good = make(two)
    p = os.path.join(d, "small.safetensors")
    open(p, "wb").write(good)
    rc, out, err = run(p)
    assert rc == 0 and "tensor b U8 [2, 2] bytes 4..8" in out, err

    def check(label, blob):
        ic.check(d, ".safetensors", label, blob)

    ic.check_truncations(d, ".safetensors", good)

    one = '{"a":{"dtype":"F32","shape":[%s],"data_offsets":[%s]}}'
    check("short file", b"\x10\0\0")
    check("huge header size", b"\xff" * 8 + b"{}")
    check("header past the end", struct.pack("<Q", 5000) + b"{}")
    check("not UTF-8", make(b'{"\xff":1}'))
    check("no brace", make("[]"))
    check("deep nesting", make('{"a":{"dtype":"F32","x":' + "[" * 40 +
                               "]" * 40 + "}}"))
    check("unknown dtype", make(one.replace("F32", "Q4") % ("1", "0,4"),
                                b"\0" * 4))
    check("size mismatch", make(one % ("2", "0,4"), b"\0" * 4))
    check("overflowing shape", make(one % ("4294967296,4294967296", "0,4"),
                                    b"\0" * 4))
    check("huge integer", make(one % ("99999999999999999999", "0,4")))
    check("end before begin", make(one % ("0", "4,0")))
    b_at = ',"b":{"dtype":"F32","shape":[1],"data_offsets":[%s]}}'
    check("gap", make(one[:-1] % ("1", "0,4") + b_at % "8,12", b"\0" * 12))
    check("overlap", make(one[:-1] % ("1", "0,4") + b_at % "2,6",
                          b"\0" * 6))
    check("past the end", make(one % ("2", "0,8"), b"\0" * 4))
    check("excess data", make(one % ("1", "0,4"), b"\0" * 8))
    check("duplicate name", make(one[:-1] % ("1", "0,4") + ',"a":' +
                                 one[5:] % ("1", "0,4"), b"\0" * 4))
    check("missing field", make('{"a":{"dtype":"F32","shape":[1]}}'))
    check("metadata number", make('{"__metadata__":{"k":1}}', b""))
    check("trailing junk", make("{} x", b""))

    # Random mutations of the header (JSON punctuation, digits, letters
    # and any byte): lowbit accepts exactly what the reference accepts.
    r = random.Random(11)
    rejected, n = 0, 1500
    hn = len(good) - 16
    alphabet = b'{}[],:"0123456789 abdefFSUIBE_\\x'
    for _ in range(n):
        b = bytearray(good)
        for _ in range(r.randint(1, 3)):
            b[r.randrange(8 + hn)] = (r.choice(alphabet) if r.random() < 0.7
                                      else r.randrange(256))
        q = os.path.join(d, "mut.safetensors")
        open(q, "wb").write(bytes(b))
        rc, _, err = run(q)
        assert rc in (0, 1), (rc, err)
        # Duplicate names: the reference keeps one silently, lowbit
        # rejects the file (documented in Safetensors.h).
        if "duplicate tensor" not in err:
            assert (rc == 0) == reference_accepts(q), (bytes(b), rc, err)
        rejected += rc == 1
    print("random mutations: %d files, %d rejected, verdicts equal to the "
          "reference's, 0 crashes" % (n, rejected))


if __name__ == "__main__":
    main()
