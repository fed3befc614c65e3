# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""What test/Import/gguf-reader.py and safetensors-reader.py both do with
lowbit-inspect: run it on a file, expect a located error on a corrupted
one, and reject every truncation of a good one cleanly."""

import os
import subprocess


def run(path):
    r = subprocess.run(["lowbit-inspect", path], capture_output=True,
                       text=True)
    return r.returncode, r.stdout, r.stderr


def check(d, ext, label, blob):
    """`blob` must be rejected with an error that names a byte offset."""
    q = os.path.join(d, "bad" + ext)
    open(q, "wb").write(blob)
    rc, out, err = run(q)
    assert rc == 1 and "error:" in err and "at byte" in err, (label, rc, err)
    print("%s: %s" % (label, err.strip().split("lowbit-inspect: ")[1]))


def check_truncations(d, ext, good):
    """Every proper prefix of `good` is rejected with an error."""
    for n in range(len(good)):
        q = os.path.join(d, "cut" + ext)
        open(q, "wb").write(good[:n])
        rc, _, err = run(q)
        assert rc == 1 and "error:" in err, (n, rc, err)
    print("truncations: %d prefixes, all rejected cleanly" % len(good))
