# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t | FileCheck %s
#
# The GGUF reader (lib/Import, lowbit-inspect): a file written by gguf-py
# (the reference writer) is read back, metadata, tensor types, dims,
# offsets and sizes included, and the bytes at the reported offsets are
# the tensors written; then a small hand-built file is damaged in every
# way a reader must survive: every truncation, absurd counts and sizes,
# bad magic, version, dims, types, alignment and offsets, and random byte
# flips. Each gives exit 1 with an error naming the byte offset, never a
# crash.
#
# CHECK: GGUF v3, {{[0-9]+}} metadata, 3 tensors, alignment 32
# CHECK-DAG: general.architecture = str "llama"
# CHECK-DAG: llama.block_count = u32 2
# CHECK-DAG: tokenizer.ggml.tokens = arr[str] 5 ["<unk>", "<s>", "a", "b", ...]
# CHECK-DAG: test.scale = f32 0.5
# CHECK: tensor token_embd.weight f32 [64, 8] offset 0 bytes 2048
# CHECK: tensor blk.0.ffn_up.weight q4_0 [64, 16] offset {{[0-9]+}} bytes 576
# CHECK: tensor blk.0.ffn_down.weight q8_0 [32, 3] offset {{[0-9]+}} bytes 102
# CHECK: tensor bytes at the reported offsets: equal
# CHECK: truncations: {{[0-9]+}} prefixes, all rejected cleanly
# CHECK: bad magic: error: {{.*}}GGUF at byte 0: not a GGUF file
# CHECK: version 4: error: {{.*}}unsupported GGUF version 4
# CHECK: huge metadata count: error: {{.*}}metadata entries cannot fit in the file
# CHECK: huge tensor count: error: {{.*}}tensors cannot fit in the file
# CHECK: huge string: error: {{.*}}only {{[0-9]+}} left
# CHECK: huge array: error: {{.*}}cannot fit in the
# CHECK: 5 dims: error: {{.*}}has 5 dimensions (1 to 4)
# CHECK: zero dim: error: {{.*}}invalid dimension 0
# CHECK: unknown type: error: {{.*}}unsupported type 77
# CHECK: partial block: error: {{.*}}is not whole q4_0 blocks of 32
# CHECK: misaligned offset: error: {{.*}}not a multiple of the alignment 32
# CHECK: offset past the end: error: {{.*}}extends past the end of the file
# CHECK: bad alignment: error: {{.*}}general.alignment must be a power of two
# CHECK: random flips: {{[0-9]+}} files, {{[0-9]+}} rejected, 0 crashes

import os
import random
import struct
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "Inputs"))
import inspect_checks as ic  # noqa: E402
from inspect_checks import run  # noqa: E402


def main():
    d = sys.argv[1]
    rng = np.random.default_rng(3)
    # A file from the reference writer.
    path = os.path.join(d, "model.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(2)
    w.add_array("tokenizer.ggml.tokens", ["<unk>", "<s>", "a", "b", "c"])
    w.add_float32("test.scale", 0.5)
    emb = rng.standard_normal((8, 64)).astype(np.float32)
    up = rng.standard_normal((16, 64)).astype(np.float32)
    down = rng.standard_normal((3, 32)).astype(np.float32)
    q4 = gguf.quantize(up, gguf.GGMLQuantizationType.Q4_0)
    q8 = gguf.quantize(down, gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("token_embd.weight", emb)
    w.add_tensor("blk.0.ffn_up.weight", q4, raw_shape=q4.shape,
                 raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    w.add_tensor("blk.0.ffn_down.weight", q8, raw_shape=q8.shape,
                 raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    rc, out, err = run(path)
    assert rc == 0, err
    sys.stdout.write(out)
    data_at = int(out.split("data at ")[1].split()[0])
    blob = open(path, "rb").read()
    want = {"token_embd.weight": emb.tobytes(),
            "blk.0.ffn_up.weight": q4.tobytes(),
            "blk.0.ffn_down.weight": q8.tobytes()}
    same = True
    for line in out.splitlines():
        if line.startswith("tensor "):
            name = line.split()[1]
            off = int(line.split(" offset ")[1].split()[0])
            n = int(line.split(" bytes ")[1])
            same &= blob[data_at + off:data_at + off + n] == want[name]
    print("tensor bytes at the reported offsets:",
          "equal" if same else "DIFFERENT")

    # A small file built by hand: header, 3 key/values, 1 q4_0 tensor.
    def kv_str(k, v):
        kb, vb = k.encode(), v.encode()
        return (struct.pack("<Q", len(kb)) + kb + struct.pack("<I", 8) +
                struct.pack("<Q", len(vb)) + vb)

    def build(magic=b"GGUF", version=3, n_kv=None, n_tensors=1, kvs=None,
              name=b"w", dims=(64, 2), ttype=2, offset=0, data=None,
              align_kv=None):
        kvs = kvs if kvs is not None else [
            kv_str("general.architecture", "llama"),
            struct.pack("<Q", 10) + b"test.array" + struct.pack("<IIQ", 9, 4, 3)
            + struct.pack("<3I", 1, 2, 3)]
        if align_kv is not None:
            kvs = kvs + [struct.pack("<Q", 17) + b"general.alignment" +
                         struct.pack("<I", 4) + struct.pack("<I", align_kv)]
        head = magic + struct.pack("<I", version)
        head += struct.pack("<QQ", n_tensors, len(kvs) if n_kv is None
                            else n_kv)
        body = b"".join(kvs)
        info = struct.pack("<Q", len(name)) + name + struct.pack(
            "<I", len(dims)) + b"".join(struct.pack("<Q", x) for x in dims)
        info += struct.pack("<IQ", ttype, offset)
        blob = head + body + info
        blob += b"\0" * ((32 - len(blob) % 32) % 32)
        return blob + (data if data is not None else bytes(36 * 2))

    good = build()
    p = os.path.join(d, "small.gguf")
    open(p, "wb").write(good)
    rc, out, err = run(p)
    assert rc == 0 and "tensor w q4_0 [64, 2] offset 0 bytes 72" in out, err

    def check(label, blob):
        ic.check(d, ".gguf", label, blob)

    ic.check_truncations(d, ".gguf", good)
    check("bad magic", b"GGML" + good[4:])
    check("version 4", build(version=4))
    check("huge metadata count", build(n_kv=1 << 60))
    check("huge tensor count", build(n_tensors=1 << 60))
    check("huge string", build(kvs=[struct.pack("<Q", 1 << 62) + b"x"]))
    check("huge array", build(kvs=[struct.pack("<Q", 1) + b"a" +
                                   struct.pack("<IIQ", 9, 10, 1 << 61)]))
    check("5 dims", build(dims=(32, 1, 1, 1, 1)))
    check("zero dim", build(dims=(64, 0)))
    check("unknown type", build(ttype=77))
    check("partial block", build(dims=(48, 2)))
    check("misaligned offset", build(offset=8))
    check("offset past the end", build(offset=64))
    check("bad alignment", build(align_kv=24))

    # Random byte flips of the small file: accepted or rejected, never a
    # crash (a signal is a negative return code).
    r = random.Random(11)
    rejected = 0
    n = 1500
    for _ in range(n):
        b = bytearray(good)
        for _ in range(r.randint(1, 4)):
            b[r.randrange(len(b))] = r.randrange(256)
        q = os.path.join(d, "flip.gguf")
        open(q, "wb").write(bytes(b))
        rc, _, err = run(q)
        assert rc in (0, 1), (rc, err)
        rejected += rc == 1
    print("random flips: %d files, %d rejected, 0 crashes" % (n, rejected))


if __name__ == "__main__":
    main()
