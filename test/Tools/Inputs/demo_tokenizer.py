# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The demo's tokenizer (tools/lowbit-demo/model_tokenizer.py) on small
models written here: demo_tokenizer.py DIR

- a GGUF with a byte-level vocabulary, a few merges, a BOS token and a
  user-defined token (gguf-py's GGUFWriter): known strings encode to the
  ids the merges give, under the "gpt-2" and "smollm" pre-tokenizers
  (which differ on digits) and with tokenizer.ggml.add_bos_token; every
  string decodes back to itself;
- a GGUF tokenizer the module does not build (SentencePiece "llama", an
  unknown pre-tokenizer), llama-cpp-python hidden: one-line errors that
  name the metadata;
- a safetensors model directory: its tokenizer.json, through
  tokenizers.Tokenizer.from_file.
"""

import os
import sys

import gguf
import tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools",
                                "lowbit-demo"))
import model_tokenizer as mt  # noqa: E402

B2U = mt.bytes_to_unicode()
MERGED = ["Ġt", "he", "Ġthe", "at", "Ġc", "Ġcat", "20"]
MERGES = ["Ġ t", "h e", "Ġt he", "a t", "Ġ c", "Ġc at", "2 0"]
BOS, USER = 263, 264  # after the 256 bytes and the 7 merged tokens
TOKENS = [B2U[b] for b in range(256)] + MERGED + ["<s>", "<tag>"]
TYPES = [1] * 263 + [3, 4]  # normal, then control (BOS), user defined
ID = {t: i for i, t in enumerate(TOKENS)}


def write_gguf(path, model="gpt2", pre="gpt-2", add_bos=None):
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model(model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(TOKENS)
    w.add_token_types(TYPES)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(BOS)
    if add_bos is not None:
        w.add_add_bos_token(add_bos)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    return path


def b(s):
    """The ids of the bytes of s (no merge applies)."""
    return [ID[B2U[c]] for c in s.encode("utf-8")]


# (text, ids under "gpt-2", ids under "smollm" where they differ)
CASES = [
    ("the cat", b("t") + [ID["he"], ID["Ġcat"]], None),
    (" the", [ID["Ġthe"]], None),
    ("at the cat", [ID["at"], ID["Ġthe"], ID["Ġcat"]], None),
    ("it's", b("it") + b("'s"), None),
    ("2024", [ID["20"]] + b("24"), b("2024")),
    (" 2024", b(" ") + [ID["20"]] + b("24"), b(" 2024")),
    ("café\n", b("caf") + b("é") + b("\n"), None),
    ("a<tag>b", b("a") + [USER] + b("b"), None),
    ("<s>", b("<s>"), None),  # control tokens are not parsed from text
]

failed = 0


def check(label, got, want):
    global failed
    ok = got == want
    failed += not ok
    print("%s: %s%s" % (label, "ok" if ok else "FAIL",
                        "" if ok else " (got %s, want %s)" % (got, want)))


def main():
    work = sys.argv[1]
    for pre in ("gpt-2", "smollm"):
        tok = mt.load(write_gguf(os.path.join(work, pre + ".gguf"),
                                 pre=pre))
        print("gguf %s: %s" % (pre, tok.kind))
        for text, ids, smollm in CASES:
            want = smollm if pre == "smollm" and smollm else ids
            check("  %r" % text, tok.encode(text), want)
            check("  %r decodes back" % text, tok.decode(want), text)
    tok = mt.load(write_gguf(os.path.join(work, "bos.gguf"), add_bos=True))
    print("gguf add_bos_token: %s" % tok.kind)
    check("  BOS first", tok.encode(" the"), [BOS, ID["Ġthe"]])

    # Tokenizers the module does not build, without llama.cpp's.
    sys.modules["llama_cpp"] = None  # `import llama_cpp` raises
    for name, kw in (("spm", {"model": "llama"}),
                     ("pre", {"pre": "lowbit-unknown"})):
        path = write_gguf(os.path.join(work, name + ".gguf"), **kw)
        try:
            mt.load(path)
            print("%s: no error" % name)
        except mt.TokenizerError as e:
            print("%s error: %s" % (name, str(e).replace(work, "DIR")))

    # A safetensors model: its tokenizer.json.
    d = os.path.join(work, "st")
    os.makedirs(d)
    t = tokenizers.Tokenizer(tokenizers.models.BPE(
        ID, [tuple(m.split(" ")) for m in MERGES]))
    t.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(
        add_prefix_space=False)
    t.decoder = tokenizers.decoders.ByteLevel()
    t.save(os.path.join(d, "tokenizer.json"))
    try:
        mt.load(d)
    except mt.TokenizerError as e:
        print("no weights: %s" % str(e).replace(work, "DIR"))
    open(os.path.join(d, "model.safetensors"), "wb").close()
    for path in (d, os.path.join(d, "model.safetensors")):
        tok = mt.load(path)
        check("tokenizer.json via %s" % os.path.basename(path),
              tok.encode("at the cat"), [ID["at"], ID["Ġthe"], ID["Ġcat"]])
    os.remove(os.path.join(d, "tokenizer.json"))
    try:
        mt.load(d)
    except mt.TokenizerError as e:
        print("no tokenizer.json: %s" % str(e).replace(work, "DIR"))
    print("%d failed" % failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
