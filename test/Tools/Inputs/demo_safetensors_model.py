# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""A tiny safetensors Llama for the demo's --model (llama-demo.test):
demo_safetensors_model.py DIR writes DIR/model.safetensors and
config.json (test/Compile/Inputs/llama_ref.py: 2 layers, dim 64, random
weights, vocabulary 256) and DIR/tokenizer.json, a byte-level BPE over
the 256 bytes without merges (tokenizers)."""

import os
import sys

import tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Compile", "Inputs"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools",
                                "lowbit-demo"))
import model_tokenizer  # noqa: E402

import llama_ref  # noqa: E402


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    cfg = llama_ref.Config()
    llama_ref.write_safetensors(d, cfg, llama_ref.make_weights(cfg))
    b2u = model_tokenizer.bytes_to_unicode()
    t = tokenizers.Tokenizer(tokenizers.models.BPE(
        {b2u[b]: b for b in range(256)}, []))
    t.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(
        add_prefix_space=False)
    t.decoder = tokenizers.decoders.ByteLevel()
    t.save(os.path.join(d, "tokenizer.json"))


if __name__ == "__main__":
    main()
