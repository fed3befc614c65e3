# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The demo's tokenizer (tools/lowbit-demo/model_tokenizer.py) against
llama.cpp's own (llama-cpp-python, vocab_only):

    demo_tokenizer_llama_cpp.py MODEL.gguf[,MODEL.gguf...] TEXT
    demo_tokenizer_llama_cpp.py --pre-tokenizers DIR

On real GGUF files: for each, the token ids of TEXT (the bundled story)
and of a string of digits, contractions, non-ASCII text and whitespace
runs must equal `llm.tokenize(text, add_bos=True)` (BOS as the model
says), and decode back to the text. A file whose tokenizer the module
takes from llama.cpp (not a byte-level BPE: Gemma's SentencePiece) is
listed as such.

With --pre-tokenizers: the small GGUF of demo_tokenizer.py under every
tokenizer.ggml.pre the module builds (and none), the same comparison on
demo_tokenizer.py's strings and a few more.
"""

import os
import sys

import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools",
                                "lowbit-demo"))
import demo_tokenizer  # noqa: E402
import model_tokenizer as mt  # noqa: E402

MIXED = ("Hello world!  It's 12345 apples,\n\n\tdon't   CAN'T 'LL caf\u00e9 "
         "na\u00efve \u65e5\u672c\u8a9e \U0001f600 x\r\n  end   ")


def pre_tokenizers(work):
    texts = [c[0] for c in demo_tokenizer.CASES] + [
        MIXED, "a+b=c $5 ^~|| ...!! (x) 1234567", "the the  the\n\n cat's"]
    failed = []
    for pre in [None] + sorted(mt.PRE_SPLITS):
        path = demo_tokenizer.write_gguf(
            os.path.join(work, "pre-%s.gguf" % pre), pre=pre)
        tok = mt.load(path)
        llm = llama_cpp.Llama(model_path=path, vocab_only=True,
                              verbose=False)
        bad = [t for t in texts
               if tok.encode(t) != llm.tokenize(t.encode("utf-8"),
                                                add_bos=True)]
        print("pre %s: %d strings, %s" % (
            pre, len(texts), "ids equal llama.cpp's" if not bad else
            "ids DIFFER from llama.cpp's on %r" % bad))
        if bad:
            failed.append(str(pre))
    print("differ: %s" % ", ".join(failed) if failed else
          "all pre-tokenizers: ids equal llama.cpp's")
    sys.exit(1 if failed else 0)


def main():
    if sys.argv[1] == "--pre-tokenizers":
        pre_tokenizers(sys.argv[2])
    paths, text_path = sys.argv[1].split(","), sys.argv[2]
    with open(text_path, encoding="utf-8") as f:
        story = f.read()
    failed = set()
    for path in paths:
        name = os.path.basename(path)
        tok = mt.load(path)
        own = not tok.kind.startswith("llama.cpp")
        llm = llama_cpp.Llama(model_path=path, vocab_only=True,
                              verbose=False)
        for label, text in (("story", story), ("mixed", MIXED)):
            ids = tok.encode(text)
            ref = llm.tokenize(text.encode("utf-8"), add_bos=True)
            same = ids == ref
            first = next((i for i, (a, b) in enumerate(zip(ids, ref))
                          if a != b), min(len(ids), len(ref)))
            back = not own or tok.decode(
                ids[1:] if ids[:1] == [llm.token_bos()] else ids) == text
            if not (same and back):
                failed.add(name)
            print("%s %s: %d tokens, %s%s" % (
                name, label, len(ids),
                "ids equal llama.cpp's" if same else
                "ids DIFFER from llama.cpp's from token %d (%s vs %s)"
                % (first, ids[first:first + 4], ref[first:first + 4]),
                "" if back else ", DECODES DIFFERENTLY"))
        print("%s: %s" % (name, "tokenizers, built from the GGUF" if own
                          else "llama.cpp's own tokenizer (the fallback)"))
    print("differ: %s" % ", ".join(sorted(failed)) if failed else
          "all %d files: ids equal llama.cpp's" % len(paths))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
