# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Helpers shared by the Python tests outside test/E2E (test/E2E/gen_e2e.py
holds the MLIR and mlir-runner helpers of the end-to-end generators).

    sys.path.insert(0, os.path.join(<test dir>, "..", "Inputs"))
    import testutil as tu
"""

import subprocess


def run(cmd, **kw):
    """Runs `cmd`, capturing stdout and stderr as text."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def dense_rows(a, fmt="%.9g"):
    """`dense<[[...], ...]>` of a 2-D array, each element printed with
    `fmt`."""
    return "dense<[" + ",".join(
        "[" + ",".join(fmt % v for v in r) + "]" for r in a) + "]>"
