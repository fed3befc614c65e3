# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Input arrays for lowbit-quantize.test (written into the directory argv[1])."""
import os
import sys

import numpy as np

d = sys.argv[1]
rng = np.random.default_rng(3)
x = rng.standard_normal((3, 64)).astype(np.float32)
np.save(os.path.join(d, "x.npy"), x)
np.save(os.path.join(d, "x3.npy"), rng.standard_normal((2, 3, 32)).astype(np.float32))
np.save(os.path.join(d, "xc.npy"), x)
np.save(os.path.join(d, "xf.npy"), np.asfortranarray(x))
np.save(os.path.join(d, "x16.npy"), x.astype(np.float16))
np.save(os.path.join(d, "x48.npy"), np.ones((2, 48), np.float32))
np.save(os.path.join(d, "x256.npy"), rng.standard_normal((2, 256)).astype(np.float32))
n = x.copy()
n[1, 5] = np.nan
np.save(os.path.join(d, "nan.npy"), n)
i = x.copy()
i[0, 2] = -np.inf
np.save(os.path.join(d, "inf.npy"), i)
np.save(os.path.join(d, "int.npy"), np.zeros((3, 64), np.int32))
np.save(os.path.join(d, "scalar.npy"), np.float32(1.0))
with open(os.path.join(d, "x.npy"), "rb") as f:
    data = f.read()
header_end = data.index(b"\n") + 1
with open(os.path.join(d, "trunc.npy"), "wb") as f:
    f.write(data[:header_end + 100])
with open(os.path.join(d, "garbage.npy"), "wb") as f:
    f.write(b"this is not an array")
