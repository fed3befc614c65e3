# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The demo's tokenizer: the model's own, through a maintained library.

    tok = load(path)            # a GGUF file or a safetensors model
    ids = tok.encode(text)      # BOS first when the model asks for it
    text = tok.decode(ids)

- A GGUF whose `tokenizer.ggml.model` is "gpt2" (byte-level BPE: SmolLM2,
  Qwen2, Llama 3, ...) becomes a Hugging Face `tokenizers` BPE built from
  `tokenizer.ggml.tokens` and `tokenizer.ggml.merges`, split first by the
  regular expressions llama.cpp uses for its `tokenizer.ggml.pre`
  (src/llama-vocab.cpp, PRE_SPLITS below), with the BOS token
  (`tokenizer.ggml.bos_token_id`) first when `tokenizer.ggml.add_bos_token`
  says so. Tokens of type "user defined" are matched whole, as llama.cpp
  does; control tokens ("<|im_start|>") are not parsed from the text
  (llama.cpp's `tokenize(..., special=False)`, its default).
- Any other GGUF tokenizer (SentencePiece "llama" of Gemma and Llama 2,
  "t5", ...) or a "gpt2" one with a pre-tokenizer not in PRE_SPLITS is
  llama.cpp's own, through llama-cpp-python (`vocab_only=True`) when that
  is installed, and an error naming the metadata when it is not.
- A safetensors model (a directory, its model.safetensors or its
  model.safetensors.index.json) uses the tokenizer.json beside it
  (`tokenizers.Tokenizer.from_file`), its special tokens as that file says.

Tests (test/Tools): demo-tokenizer.test, the GGUF construction on a
small vocabulary (known ids, round trips, errors) and a tokenizer.json;
demo-tokenizer-pre.test, that small GGUF under every pre-tokenizer
against llama.cpp's tokenizer; demo-tokenizer-llama-cpp.test, the ids of
the bundled text against llama.cpp's on the real GGUF files.
"""

import os

GGUF_MAGIC = b"GGUF"

# llama.cpp's pre-tokenizer splits (llm_tokenizer_bpe, src/llama-vocab.cpp
# of the pinned llama-cpp-python) by `tokenizer.ggml.pre`: each regex in
# turn splits the pieces of the one before (matches and the text between
# them both kept), then the pieces go through BPE one by one.
_GPT2 = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"
         r"|\s+(?!\S)")
_LLAMA3 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
           r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
          r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_DEFAULT = [r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"]
_STARCODER = [r"\p{N}", _GPT2]

# name -> (splits, ignore_merges: a piece that is a whole token is taken
# as it is, add_bos default before tokenizer.ggml.add_bos_token).
PRE_SPLITS = {
    "default": (_DEFAULT, False, False),
    "gpt-2": ([_GPT2], False, False),
    "phi-2": ([_GPT2], False, False),
    "mpt": ([_GPT2], False, False),
    "olmo": ([_GPT2], False, False),
    "starcoder": (_STARCODER, False, False),
    "refact": (_STARCODER, False, False),
    "smollm": (_STARCODER, False, False),
    "codeshell": (_STARCODER, False, False),
    "qwen2": ([_QWEN2], False, False),
    "deepseek-r1-qwen": ([_QWEN2], False, False),
    "stablelm2": ([_QWEN2], False, False),
    "llama3": ([_LLAMA3], True, True),
    "llama-v3": ([_LLAMA3], True, True),
    "llama-bpe": ([_LLAMA3], True, True),
    "falcon3": ([_LLAMA3], True, True),
    "dbrx": ([_LLAMA3], False, False),
    "smaug-bpe": ([_LLAMA3], False, False),
}

# tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
TOKEN_USER_DEFINED = 4


class TokenizerError(Exception):
    """A model whose tokenizer this module cannot build (one line)."""


def bytes_to_unicode():
    """GPT-2's byte-level alphabet: byte -> the character that stands for
    it in the vocabulary ("Ġ" for a space)."""
    bs = (list(range(ord("!"), ord("~") + 1)) +
          list(range(ord("\xa1"), ord("\xac") + 1)) +
          list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Tokenizer:
    """encode(text) -> ids (with BOS when the model adds one), decode(ids)
    -> text; `kind` says which tokenizer it is, in words."""

    def __init__(self, encode, decode, kind):
        self._encode, self._decode, self.kind = encode, decode, kind

    def encode(self, text):
        return self._encode(text)

    def decode(self, ids):
        return self._decode(ids)


def is_gguf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def safetensors_dir(path):
    """The directory of a safetensors model given as the directory, its
    model.safetensors or its model.safetensors.index.json (what
    lowbit-compile takes), or None."""
    if os.path.isdir(path):
        if any(os.path.isfile(os.path.join(path, n)) for n in
               ("model.safetensors", "model.safetensors.index.json")):
            return path
        return None
    if os.path.isfile(path) and path.endswith(
            (".safetensors", ".safetensors.index.json")):
        return os.path.dirname(os.path.abspath(path))
    return None


def load(path, meta=None):
    """The tokenizer of the model at `path` (a GGUF file, whose
    GGUFMetadata `meta` may be given, or a safetensors model);
    TokenizerError when it cannot be built."""
    if is_gguf(path):
        return from_gguf(path, meta)
    d = safetensors_dir(path)
    if d is not None:
        return from_tokenizer_json(os.path.join(d, "tokenizer.json"))
    raise TokenizerError("%s: neither a GGUF file nor a safetensors model"
                         % path)


def _tokenizers():
    try:
        import tokenizers
    except ImportError as e:
        raise TokenizerError(
            "the `tokenizers` package is missing (%s): pip install the "
            "version python/requirements.txt pins" % e) from None
    return tokenizers


def from_tokenizer_json(path):
    if not os.path.isfile(path):
        raise TokenizerError("%s is missing: a safetensors model needs its "
                             "tokenizer.json beside it" % path)
    tokenizers = _tokenizers()
    try:
        t = tokenizers.Tokenizer.from_file(path)
    except Exception as e:  # tokenizers' own errors
        raise TokenizerError("%s: %s" % (path, e)) from None
    return Tokenizer(lambda s: t.encode(s).ids,
                     lambda ids: t.decode(ids, skip_special_tokens=False),
                     "tokenizers %s, the model's tokenizer.json"
                     % tokenizers.__version__)


class GGUFMetadata:
    """The key-value metadata of a GGUF file, read with gguf-py: meta[key]
    (a string, number or list), meta.get(key, default)."""

    def __init__(self, path):
        import gguf
        r = gguf.GGUFReader(path)
        self._fields = r.fields
        # (name, ggml type name, dimensions) of each tensor.
        self.tensors = [(t.name, t.tensor_type.name, len(t.shape))
                        for t in r.tensors]

    def __contains__(self, key):
        return key in self._fields

    def __getitem__(self, key):
        return self._fields[key].contents()

    def get(self, key, default=None):
        return self[key] if key in self else default


def from_gguf(path, meta=None):
    if meta is None:
        meta = GGUFMetadata(path)
    model = meta.get("tokenizer.ggml.model")
    pre = meta.get("tokenizer.ggml.pre", "default")
    if model == "gpt2" and pre in PRE_SPLITS:
        return _bpe_from_gguf(meta, pre)
    if model != "gpt2":
        why = ('tokenizer.ggml.model = %r, not "gpt2" (byte-level BPE), the '
               "one this demo builds" % model)
    else:
        why = ("tokenizer.ggml.pre = %r, not a pre-tokenizer this demo "
               "builds (%s)" % (pre, ", ".join(sorted(PRE_SPLITS))))
    return _llama_cpp(path, why)


def _bpe_from_gguf(meta, pre):
    tk = _tokenizers()
    splits, ignore_merges, add_bos = PRE_SPLITS[pre]
    tokens = meta["tokenizer.ggml.tokens"]
    # A string listed twice is its last id, as in llama.cpp's token_to_id.
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for m in meta.get("tokenizer.ggml.merges", []):
        cut = m.find(" ", 1)  # as llama.cpp splits them
        if cut < 0:
            raise TokenizerError("tokenizer.ggml.merges: %r is not two "
                                 "tokens" % m)
        merges.append((m[:cut], m[cut + 1:]))
    t = tk.Tokenizer(tk.models.BPE(vocab, merges,
                                   ignore_merges=ignore_merges))
    t.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [tk.pre_tokenizers.Split(tk.Regex(r), behavior="isolated")
         for r in splits] +
        [tk.pre_tokenizers.ByteLevel(add_prefix_space=False,
                                     use_regex=False)])
    t.decoder = tk.decoders.ByteLevel()
    types = meta.get("tokenizer.ggml.token_type", [])
    user = [tokens[i] for i, ty in enumerate(types)
            if ty == TOKEN_USER_DEFINED]
    if user:
        t.add_tokens([tk.AddedToken(s, normalized=False) for s in user])
    add_bos = meta.get("tokenizer.ggml.add_bos_token", add_bos)
    bos = meta.get("tokenizer.ggml.bos_token_id")
    if add_bos:
        if bos is None:
            raise TokenizerError("tokenizer.ggml.add_bos_token is set but "
                                 "tokenizer.ggml.bos_token_id is missing")
        t.post_processor = tk.processors.TemplateProcessing(
            single="%s $A" % tokens[bos], special_tokens=[(tokens[bos], bos)])
    return Tokenizer(lambda s: t.encode(s).ids,
                     lambda ids: t.decode(ids, skip_special_tokens=False),
                     "tokenizers %s BPE from the GGUF's vocabulary and merges "
                     "(pre-tokenizer %r%s)" % (tk.__version__, pre,
                                               ", BOS first" if add_bos
                                               else ""))


def _llama_cpp(path, why):
    """llama.cpp's own tokenizer of the file (llama-cpp-python)."""
    try:
        import llama_cpp
    except ImportError:
        raise TokenizerError("%s: %s; its tokenizer is then llama.cpp's, "
                             "and llama-cpp-python is not installed"
                             % (path, why)) from None
    try:
        llm = llama_cpp.Llama(model_path=path, vocab_only=True,
                              verbose=False)
    except Exception as e:  # llama.cpp refuses the file
        raise TokenizerError("%s: llama.cpp cannot read its tokenizer (%s)"
                             % (path, e)) from None
    return Tokenizer(
        lambda s: llm.tokenize(s.encode("utf-8"), add_bos=True),
        lambda ids: llm.detokenize(ids).decode("utf-8", "replace"),
        "llama.cpp's (llama-cpp-python %s), the GGUF's %s"
        % (getattr(llama_cpp, "__version__", "?"), why.split(",")[0]))

