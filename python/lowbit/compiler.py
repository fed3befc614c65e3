# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""Ahead-of-time compilation from Python: ``lowbit.compile`` and
``lowbit.quantize_model`` (docs/Compile.md).

Both run ``lowbit-compile`` (the C++ compiler; found through the
LOWBIT_COMPILE environment variable, the build tree this package sits in,
or PATH), load the shared library it writes with ctypes, map its weights
blob and return a :class:`CompiledModule` whose entry points take and
return numpy arrays.
"""

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as _np

__all__ = ["CompiledModule", "CompileError", "compile", "quantize_model"]


class CompileError(RuntimeError):
    """lowbit-compile rejected the input; the message is its diagnostics."""


def _compiler():
    env = os.environ.get("LOWBIT_COMPILE")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    # build/python/lowbit -> build/bin
    tree = os.path.join(here, os.pardir, os.pardir, "bin", "lowbit-compile")
    if os.path.exists(tree):
        return os.path.normpath(tree)
    found = shutil.which("lowbit-compile")
    if found:
        return found
    raise CompileError("lowbit-compile not found: set LOWBIT_COMPILE or put "
                       "it on PATH")


_C_TYPES = {
    "float": _np.float32, "double": _np.float64, "int8_t": _np.int8,
    "uint8_t": _np.uint8, "int16_t": _np.int16, "uint16_t": _np.uint16,
    "int32_t": _np.int32, "uint32_t": _np.uint32, "int64_t": _np.int64,
    "uint64_t": _np.uint64,
}


def _dtype(buf):
    """numpy dtype of a manifest buffer (f16: float16; bf16: ml_dtypes)."""
    if buf["mlir_type"].endswith("xf16>"):
        return _np.dtype(_np.float16)
    if buf["mlir_type"].endswith("xbf16>"):
        import ml_dtypes
        return _np.dtype(ml_dtypes.bfloat16)
    return _np.dtype(_C_TYPES[buf["c_type"]])


class _EntryPoint:
    def __init__(self, lib, entry, last_error=None):
        self.name = entry["name"]
        self.fn = getattr(lib, entry["symbol"])
        self.fn.restype = ctypes.c_int
        self.last_error = last_error
        self.args = entry["args"]
        self.results = entry["results"]

    def __call__(self, *arrays):
        if len(arrays) != len(self.args):
            raise TypeError("%s takes %d arrays, got %d"
                            % (self.name, len(self.args), len(arrays)))
        ptrs, keep = [], []
        for i, (a, sig) in enumerate(zip(arrays, self.args)):
            dt, shape = _dtype(sig), tuple(sig["shape"])
            if sig["updated_in_place"]:
                # Written by the call: it must be the caller's own buffer.
                if not (isinstance(a, _np.ndarray) and a.dtype == dt and
                        a.shape == shape and a.flags.c_contiguous and
                        a.flags.writeable):
                    raise ValueError(
                        "%s: argument %d is updated in place and must be a "
                        "writable C-contiguous %s array of shape %s"
                        % (self.name, i, dt, shape))
                arr = a
            else:
                arr = _np.ascontiguousarray(a, dtype=dt)
                if arr.shape != shape:
                    raise ValueError("%s: argument %d has shape %s, the "
                                     "compiled model takes %s"
                                     % (self.name, i, arr.shape, shape))
            keep.append(arr)
            ptrs.append(ctypes.c_void_p(arr.ctypes.data))
        outs = []
        for sig in self.results:
            if sig["tied_to_arg"] >= 0:
                outs.append(keep[sig["tied_to_arg"]])
            else:
                out = _np.empty(tuple(sig["shape"]), dtype=_dtype(sig))
                outs.append(out)
                ptrs.append(ctypes.c_void_p(out.ctypes.data))
        rc = self.fn(*ptrs)
        if rc == -2:
            bad = [(i, sig["range"]) for i, sig in enumerate(self.args)
                   if "range" in sig]
            raise ValueError("%s: an argument is outside its range (%s)"
                             % (self.name, ", ".join(
                                 "argument %d in [%d, %d]" % (i, r[0], r[1])
                                 for i, r in bad)))
        if rc == -3 and self.last_error is not None:
            raise RuntimeError("%s: GPU failure: %s" % (
                self.name, self.last_error().decode(errors="replace")))
        if rc != 0:
            raise RuntimeError("%s returned %d (weights not set)"
                               % (self.name, rc))
        return outs[0] if len(outs) == 1 else tuple(outs)


class CompiledModule:
    """A compiled module: ``m(*arrays)`` when it has one entry point,
    ``m.<name>(*arrays)`` for each; ``m.manifest`` describes them and
    ``m.files`` lists the outputs (library, header, manifest, weights)."""

    def __init__(self, base, workdir=None):
        self.base = base
        self._workdir = workdir  # a TemporaryDirectory kept alive
        self.manifest = json.load(open(base + ".json"))
        self.files = [base + ext for ext in (".so", ".h", ".json",
                                              ".weights")]
        self._lib = ctypes.CDLL(base + ".so")
        self._blob = _np.memmap(base + ".weights", dtype=_np.uint8,
                                mode="r")
        set_weights = getattr(self._lib, self.manifest["set_weights"])
        set_weights.restype = ctypes.c_int
        rc = set_weights(ctypes.c_void_p(self._blob.ctypes.data),
                         ctypes.c_size_t(self._blob.size))
        if rc != 0:
            raise RuntimeError("%s.weights: not this library's weights (%d)"
                               % (base, rc))
        last_error = None
        if self.manifest.get("last_error"):  # target nvptx
            last_error = getattr(self._lib, self.manifest["last_error"])
            last_error.restype = ctypes.c_char_p
        self.entry_points = {e["name"]: _EntryPoint(self._lib, e, last_error)
                             for e in self.manifest["entry_points"]}
        self._set_threads = self._get_threads = None
        if "set_threads" in self.manifest:  # libraries since the threads API
            self._set_threads = getattr(self._lib,
                                        self.manifest["set_threads"])
            self._set_threads.restype = ctypes.c_int
            self._set_threads.argtypes = [ctypes.c_int]
            self._get_threads = getattr(self._lib,
                                        self.manifest["get_threads"])
            self._get_threads.restype = ctypes.c_int
            self._get_threads.argtypes = []

    @property
    def threads(self):
        """Threads of the model's parallel loops (OpenMP): the count set
        here, else OMP_NUM_THREADS or one per CPU; 1 for a module without
        parallel loops. Setting it (n >= 1) applies to every later call,
        from any thread (``<prefix>_set_threads``, docs/Compile.md)."""
        if self._get_threads is None:
            raise AttributeError("this library predates <prefix>_get_threads:"
                                 " recompile it")
        return int(self._get_threads())

    @threads.setter
    def threads(self, n):
        if self._set_threads is None:
            raise AttributeError("this library predates <prefix>_set_threads:"
                                 " recompile it")
        if int(n) != n or self._set_threads(int(n)) != 0:
            raise ValueError("threads must be an integer >= 1, not %r" % (n,))

    @property
    def weights_bytes(self):
        return int(self.manifest["weights_size"])

    def __getattr__(self, name):
        eps = self.__dict__.get("entry_points", {})
        if name in eps:
            return eps[name]
        raise AttributeError(name)

    def __call__(self, *arrays):
        if len(self.entry_points) != 1:
            raise TypeError("the module has entry points %s: call one by "
                            "name" % sorted(self.entry_points))
        return next(iter(self.entry_points.values()))(*arrays)

    def new_cache(self):
        """Zeroed KV cache buffers for a model imported by lowbit (entry
        point ``decode``): the f32 caches, or a quantized cache's parts
        and windows, in argument order."""
        args = self.manifest["entry_points"][0]["args"]
        return tuple(_np.zeros(tuple(a["shape"]), _dtype(a))
                     for a in args if a["updated_in_place"])

    @property
    def cache_bytes(self):
        """Bytes of the KV cache buffers."""
        return sum(a.nbytes for a in self.new_cache())

    @property
    def prefill_chunks(self):
        """The chunk sizes of the model's prefill entry points
        (``prefill_<C>``, lowbit-compile --prefill), largest first."""
        sizes = []
        for name in self.entry_points:
            if name.startswith("prefill_") and name[8:].isdigit():
                sizes.append(int(name[8:]))
        return sorted(sizes, reverse=True)

    def prefill(self, tokens, start, cache):
        """Runs the prompt `tokens` at positions start, start + 1, ... of
        `cache` (new_cache's buffers, updated in place): the prefill
        chunks, largest first, then decode steps for the rest, as the C
        header's <prefix>_prefill does (docs/Prefill.md). Returns the last
        token's next-token logits [1, vocab]."""
        toks = _np.asarray(tokens, dtype=_np.int64).reshape(-1)
        dec = self.entry_points["decode"]
        lo, hi = dec.args[0]["range"]
        max_seq = dec.args[1]["range"][1] + 1
        n, start = len(toks), int(start)
        if n < 1 or start < 0 or start + n > max_seq:
            raise ValueError("prefill: %d tokens at %d do not fit the cache "
                             "(%d positions)" % (n, start, max_seq))
        if toks.min() < lo or toks.max() > hi:
            raise ValueError("prefill: a token outside [%d, %d]" % (lo, hi))
        toks = toks.astype(_np.int32)
        chunks = self.prefill_chunks
        done, logits = 0, None
        while done < n:
            c = next((c for c in chunks if c <= n - done), 1)
            step = self.entry_points["prefill_%d" % c] if c > 1 else dec
            logits = step(toks[done:done + c],
                          _np.array([start + done], _np.int32), *cache)[0]
            done += c
        return logits

    def generate(self, tokens, n, cache=None):
        """Greedy decoding with an imported model: runs the prompt
        `tokens` (prefill), then returns `n` generated token ids."""
        if not len(tokens):
            raise ValueError("generate needs at least one prompt token")
        cache = cache if cache is not None else self.new_cache()
        logits = self.prefill(tokens, 0, cache)
        out = []
        for i in range(n):
            nt = int(logits[0].argmax())
            out.append(nt)
            logits = self.decode(_np.array([nt], _np.int32),
                                 _np.array([len(tokens) + i], _np.int32),
                                 *cache)[0]
        return out


def _run(cmd, progress=None):
    """Runs lowbit-compile; `progress(line)` sees its stderr lines. stdout
    goes to a file (no pipe to fill while stderr is read)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE,
                                text=True)
        err = []
        for line in proc.stderr:
            if progress and line.startswith("lowbit-quantize-weights: "):
                progress(line)
            else:
                err.append(line)
        proc.wait()
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise CompileError("".join(err).strip() or
                           "lowbit-compile failed (%d)" % proc.returncode)
    return text


def compile(ir_or_module, pipeline=None, target="x86_64", target_cpu="host",
            output=None, prefix="model", max_seq=None, extra_args=(),
            sm=None):
    """Compiles MLIR text, or a path to a .mlir, .gguf or .safetensors
    model, and loads it.

    `pipeline` is a registered pipeline (``"lowbit-w4a8{group=32}"``) or a
    ``builtin.module(...)`` string; `target_cpu` selects the kernels
    (``"host"``, ``"x86-64-v3"``, ...). `target="nvptx"` runs what the GPU
    kernels cover on the GPU of compute capability `sm` (``"sm_90"``;
    default sm_80); a GPU failure raises RuntimeError with the runtime's
    message. The outputs go to `output` (a path
    without extension) or a temporary directory that lives as long as the
    returned module. Errors (bad IR, unsupported shapes, ...) raise
    :class:`CompileError` with the compiler's located diagnostics.
    """
    workdir = None
    if output is None:
        workdir = tempfile.TemporaryDirectory(prefix="lowbit-")
        output = os.path.join(workdir.name, prefix)
    src = ir_or_module
    if isinstance(src, os.PathLike) or (
            isinstance(src, str) and "\n" not in src and
            re.search(r"\.(mlir|gguf|safetensors)$", src)):
        src = os.fspath(src)
        if not os.path.exists(src):
            raise FileNotFoundError(src)
    elif isinstance(src, str):
        path = output + ".input.mlir"
        with open(path, "w") as f:
            f.write(src)
        src = path
    else:
        raise TypeError("compile takes MLIR text or a path, not %s"
                        % type(src).__name__)
    cmd = [_compiler(), src, "-o", output, "--shared", "--prefix=" + prefix,
           "--target=" + target, "--target-cpu=" + target_cpu]
    if pipeline:
        cmd.append("--pipeline=" + pipeline)
    if sm:
        cmd.append("--sm=" + sm)
    if max_seq:
        cmd.append("--max-seq=%d" % max_seq)
    cmd += list(extra_args)
    _run(cmd)
    return CompiledModule(output, workdir)


class _Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, total, label, stream=None):
        self.total, self.label, self.n = total, label, 0
        self.stream = stream or sys.stderr

    def __call__(self, line):
        self.n += 1
        m = re.match(r"lowbit-quantize-weights: \d+ (\S+)", line)
        name = m.group(1) if m else ""
        width = 30
        done = min(self.n, self.total) if self.total else self.n
        frac = done / self.total if self.total else 0.0
        bar = "#" * int(width * frac) + "-" * (width - int(width * frac))
        self.stream.write("\r%s [%s] %d/%s %-28s" % (
            self.label, bar, self.n, self.total or "?", name[:28]))
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def _count_sites(path):
    """Matmul sites of an imported Llama model: 7 per layer + the head."""
    try:
        if path.endswith(".gguf"):
            import gguf
            r = gguf.GGUFReader(path)
            arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
            f = r.fields[arch + ".block_count"]
            return int(f.parts[f.data[0]][0]) * 7 + 1
        cfg = json.load(open(os.path.join(os.path.dirname(path),
                                          "config.json")))
        return int(cfg["num_hidden_layers"]) * 7 + 1
    except Exception:
        return None


def quantize_model(path, scheme="i4, per_group<[in : 32]>", method="rtn",
                   calibration=None, max_seq=256, output=None,
                   progress=True, target_cpu="host"):
    """Imports the Llama-family model at `path` (.gguf, or .safetensors
    with its config.json), quantizes its matmul weights with
    ``lowbit-quantize-weights`` (`method` rtn, hqq, gptq or awq; gptq and
    awq need `calibration`, a lowbit-calibrate directory), compiles it and
    returns the :class:`CompiledModule` (``decode``, ``generate``). GGUF
    weights are dequantized first, so `scheme` applies to every site.
    With `progress`, a bar on stderr advances per quantized site."""
    opts = "scheme='%s' method=%s progress=1" % (scheme, method)
    if calibration:
        opts += " calibration=%s" % calibration
    pipeline = ("builtin.module(lowbit-quantize-weights{%s},"
                "func.func(lowbit-fuse-dequant-matmul))" % opts)
    workdir = None
    if output is None:
        workdir = tempfile.TemporaryDirectory(prefix="lowbit-")
        output = os.path.join(workdir.name, "model")
    bar = _Progress(_count_sites(os.fspath(path)),
                    "quantizing (%s)" % method) if progress else None
    cmd = [_compiler(), os.fspath(path), "-o", output, "--shared",
           "--prefix=model", "--target-cpu=" + target_cpu,
           "--max-seq=%d" % max_seq, "--dequantize-gguf",
           "--pipeline=" + pipeline]
    try:
        _run(cmd, progress=bar)
    finally:
        if bar:
            bar.close()
    return CompiledModule(output, workdir)
