# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""lowbit: quantize numpy arrays with lowbit's numerics library.

The functions here call the same C++ implementation as the compiler passes
and ``lowbit-quantize`` (include/lowbit/Numerics/Numerics.h), so results are
bit-identical with theirs. Arrays go in and come out as numpy arrays:

>>> import numpy as np, lowbit
>>> x = np.random.default_rng(0).standard_normal((4, 64), dtype=np.float32)
>>> q = lowbit.quantize(x, "int4", group_size=32)
>>> q.codes.shape, q.scales.shape          # two int4 codes per byte
((4, 32), (4, 2))
>>> y = q.dequantize()                     # float32, shape (4, 64)
>>> np.array_equal(y, lowbit.fake_quant(x, "int4", group_size=32))
True

Input is read in place when it is a C-contiguous float32 array; any other
real array (float16, float64, integers, ml_dtypes' bfloat16, strided views)
is converted to float32 once. Quantization is along the last axis.

Errors in the library (an unknown format, a last axis that is not a multiple
of the block, NaN where the format cannot hold it, +-Inf where its scale rule
cannot absorb it, ...) raise ValueError with the library's message. The C++
work runs without the GIL. See python/README.md.

``lowbit.compile(ir_or_path, pipeline=...)`` compiles MLIR (or a GGUF /
safetensors Llama model) ahead of time with ``lowbit-compile`` and returns
a callable on numpy arrays; ``lowbit.quantize_model(path, scheme=...,
method=...)`` quantizes a model's weights on the way, with a progress bar
(lowbit/compiler.py, docs/Compile.md).
"""

import numpy as _np

from . import _lowbit
from .compiler import CompiledModule, CompileError, compile, quantize_model

__all__ = [
    "CompileError",
    "CompiledModule",
    "QuantizedArray",
    "compile",
    "quantize_model",
    "awq",
    "cast",
    "decode",
    "element_types",
    "fake_quant",
    "formats",
    "gptq",
    "hqq",
    "quantize",
    "quantize_scheme",
    "smoothquant_scales",
]

# (name -> bits) from the library's own table.
_ELEMENT_BITS = dict(_lowbit.element_types())


def _as_float32(x):
    """`x` as a C-contiguous float32 array, converted at most once."""
    a = _np.asarray(x)
    if a.dtype == _np.float32 and a.flags.c_contiguous:
        return a
    kind = a.dtype.kind
    # ml_dtypes' types (bfloat16, float8_*) are numpy "void"-kind dtypes
    # with registered casts to float32.
    from_ml_dtypes = kind == "V" and getattr(
        a.dtype.type, "__module__", "").startswith("ml_dtypes")
    if kind not in "fiu" and not from_ml_dtypes:
        raise TypeError(f"expected a real array, got dtype {a.dtype}")
    return _np.ascontiguousarray(a.astype(_np.float32, copy=False))


def _element_bits(element_type):
    name = str(element_type).lower()
    if name not in _ELEMENT_BITS:
        raise ValueError(f"unknown element type '{element_type}' (known: "
                         f"{', '.join(_ELEMENT_BITS)})")
    return name, _ELEMENT_BITS[name]


def _scale_dtype(scale_type):
    if scale_type == "f32":
        return _np.dtype("<f4")
    if scale_type == "f16":
        return _np.dtype("<f2")
    if scale_type == "bf16":
        try:
            import ml_dtypes

            return _np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            return _np.dtype("<u2")
    # f8e8m0fnu, f8e4m3fn: the raw bytes.
    return _np.dtype(_np.uint8)


class QuantizedArray:
    """A quantized array: the parts of lowbit's run-time layout.

    Attributes (numpy arrays are read-only views of the C++ result):

    - ``format``: the format name given to :func:`quantize`.
    - ``shape``: the shape of the input.
    - ``codes``: uint8, the packed codes exactly as the library stores them,
      shaped ``shape[:-1] + (bytes per row,)`` (4-bit codes two per byte,
      element 2i in the low nibble; GGUF formats: llama.cpp's block structs).
    - ``scales``: float32 (integer formats), float16/bfloat16 where the
      scheme says so, uint8 raw bytes for E8M0 (MX) and E4M3 (NVFP4) scales,
      shaped like the scheme's scale tensor; None without scales (GGUF
      formats keep theirs inside the blocks).
    - ``zero_points``: int32, same shape as ``scales``, or None (symmetric).
    - ``tensor_scale``: float (NVFP4's second-level scale) or None.
    - ``nbytes``: the size of :meth:`tobytes`.
    """

    __slots__ = ("_q",)

    def __init__(self, qtensor):
        self._q = qtensor

    @property
    def format(self):
        return self._q.format

    @property
    def shape(self):
        return self._q.shape

    @property
    def codes(self):
        return self._q.codes.reshape(self._q.codes_shape)

    @property
    def scales(self):
        raw = self._q.scale_bytes
        if raw is None:
            return None
        return raw.view(_scale_dtype(self._q.scale_type)).reshape(
            self._q.scale_shape)

    @property
    def zero_points(self):
        zp = self._q.zero_points
        if zp is None:
            return None
        return zp.reshape(self._q.scale_shape)

    @property
    def tensor_scale(self):
        return self._q.tensor_scale

    @property
    def nbytes(self):
        n = self._q.codes.nbytes
        if self._q.scale_bytes is not None:
            n += self._q.scale_bytes.nbytes
        if self._q.zero_points is not None:
            n += 4 * self._q.zero_points.size
        if self._q.tensor_scale is not None:
            n += 4
        return n

    def dequantize(self):
        """The decoded values: float32, shape ``self.shape``."""
        return self._q.dequantize()

    def tobytes(self):
        """The bytes ``lowbit-quantize`` writes (without --roundtrip): codes,
        scales, zero points (int32 LE), tensor scale (f32 LE); absent parts
        skipped."""
        parts = [self._q.codes.tobytes()]
        if self._q.scale_bytes is not None:
            parts.append(self._q.scale_bytes.tobytes())
        if self._q.zero_points is not None:
            parts.append(self._q.zero_points.astype("<i4").tobytes())
        if self._q.tensor_scale is not None:
            parts.append(_np.float32(self._q.tensor_scale).astype("<f4").tobytes())
        return b"".join(parts)

    def __repr__(self):
        return (f"QuantizedArray(format={self.format!r}, shape={self.shape}, "
                f"nbytes={self.nbytes})")


def formats():
    """The format names :func:`quantize` accepts."""
    return list(_lowbit.formats())


def element_types():
    """The element type names :func:`cast` and :func:`decode` accept."""
    return list(_ELEMENT_BITS)


def quantize(array, format, group_size=0, asymmetric=False):
    """Quantizes `array` along its last axis into a :class:`QuantizedArray`.

    `group_size` (int8/int4 only) is the number of elements per scale along
    the last axis, 0 for one scale per row; `asymmetric` (int8/int4 only)
    adds zero points.
    """
    x = _as_float32(array)
    return QuantizedArray(
        _lowbit.quantize(x, str(format), int(group_size), bool(asymmetric)))


def quantize_scheme(array, element, blocks=None, *, scale="f32",
                    asymmetric=False, full_range=False,
                    rounding="nearest_even", saturate=True,
                    tensor_scale=False, strict=True):
    """Quantizes `array` with a general scheme, the mirror of the IR's
    ``#lowbit.scheme`` (docs/Spec.md): `element` is ``"i2"``..``"i8"``,
    ``"ui2"``..``"ui8"``, ``"ternary"`` or a float element type; `blocks`
    gives every dimension its block size (scales have shape
    ``shape[i] // blocks[i]``: ``(1, shape[1])`` is per row of a matrix,
    ``(shape[0], 1)`` per column, ``shape`` per tensor); `scale` is
    ``"f32"``, ``"f16"``, ``"bf16"``, ``"f8e8m0fnu"`` (MX),
    ``"f8e4m3fn"`` (NVFP4, with `tensor_scale`) or ``"none"`` (an element
    cast, `blocks` ignored). `strict` rejects NaN/Inf the scheme cannot
    hold; without it the total IR semantics apply."""
    x = _as_float32(array)
    if blocks is None:
        blocks = x.shape
    return QuantizedArray(_lowbit.quantize_scheme(
        x, str(element), [int(b) for b in blocks], str(scale),
        bool(asymmetric), bool(full_range), str(rounding), bool(saturate),
        bool(tensor_scale), bool(strict)))


def gptq(w, h, element="i4", group_size=128, *, asymmetric=False,
         scale="f32", act_order=False, static_groups=False, damp=0.01,
         block_size=128):
    """GPTQ (Frantar et al.) of the weight `w` [out, in] given the input
    Hessian `h` = sum of x x^T over calibration tokens [in, in]: codes
    chosen with GPTQ's error feedback, scales and zero points by lowbit's
    rules for the scheme (`element`, groups of `group_size` inputs, 0 = one
    scale per output channel). Returns a :class:`QuantizedArray` of shape
    [out, in]. With `act_order` and groups, `static_groups` is required."""
    return QuantizedArray(_lowbit.gptq(
        _as_float32(w), _as_float32(h), str(element), int(group_size),
        bool(asymmetric), str(scale), bool(act_order), bool(static_groups),
        float(damp), int(block_size)))


def fake_quant(array, format, group_size=0, asymmetric=False):
    """``quantize(array, ...).dequantize()`` in one call: float32."""
    x = _as_float32(array)
    return _lowbit.fake_quant(x, str(format), int(group_size), bool(asymmetric))


def cast(array, element_type, saturate=True):
    """Encodes each element of `array` as `element_type` (see
    :func:`element_types`): uint16 codes for f16/bf16, else uint8 (the code
    in the low bits). Rounds to nearest even. With `saturate`, overflow and
    +-Inf become +-max finite; without it overflow follows ml_dtypes (Inf
    where the format has one, else NaN; fp4/fp6 always saturate)."""
    name, _ = _element_bits(element_type)
    return _lowbit.cast(_as_float32(array), name, bool(saturate))


def decode(codes, element_type):
    """Decodes integer `codes` of `element_type` to float32 exactly."""
    name, bits = _element_bits(element_type)
    c = _np.asarray(codes)
    if c.dtype.kind not in "ui":
        raise TypeError(f"codes must be integers, got dtype {c.dtype}")
    if c.size and (int(c.min()) < 0 or int(c.max()) >= (1 << bits)):
        raise ValueError(f"codes of {name} must be in [0, {1 << bits})")
    code_dtype = _np.uint16 if bits > 8 else _np.uint8
    return _lowbit.decode(
        _np.ascontiguousarray(c.astype(code_dtype, copy=False)), name)


def hqq(w, element="ui4", group_size=64, *, iters=20, lp_norm=0.7, beta=10.0,
        kappa=1.01, early_stop=True, optimize_scale=True, scale="f32",
        return_info=False):
    """HQQ (half-quadratic quantization, mobiusml/hqq) of the weight `w`
    [out, in], without calibration data: starting from round-to-nearest,
    the scale and zero point of each group of `group_size` inputs (0 = one
    group per output channel) are refitted to minimise the l_p error
    (p = `lp_norm`) of the reconstruction, for up to `iters` iterations
    (penalty `beta`, multiplied by `kappa` each time; `early_stop` at the
    first iteration whose mean |W - W_r| does not improve). `element` is an
    asymmetric integer type (``"ui4"``, ``"ui3"``, ...); zero points are
    integer codes, so lowbit refits the scale as well as the zero point
    (`optimize_scale`; docs/Numerics.md, "Weight algorithms").

    Returns a :class:`QuantizedArray` [out, in]; with `return_info`,
    ``(array, info)`` where ``info["errors"]`` holds the mean |W - W_r| of
    every iterate (RTN's first) and ``info["best"]`` the index returned."""
    q, info = _lowbit.hqq(
        _as_float32(w), str(element), int(group_size), str(scale), int(iters),
        float(lp_norm), float(beta), float(kappa), bool(early_stop),
        bool(optimize_scale))
    q = QuantizedArray(q)
    return (q, info) if return_info else q


def awq(w, x, element="ui4", group_size=128, asymmetric=True, *,
        scale="f32", x_mean_abs=None, n_grid=20, search_scale=True,
        clip=True, clip_grid=20, max_shrink=0.5, clip_tokens=512,
        return_info=False):
    """AWQ (activation-aware weight quantization, mit-han-lab/llm-awq) of
    the linear layer y = x w^T, `w` [out, in], with calibration activations
    `x` [tokens, in] (and optionally their mean |x| per input channel,
    `x_mean_abs`; computed from `x` otherwise).

    Searches the per-input-channel scale s = mean|x|^alpha (alpha = i /
    `n_grid`, normalised by sqrt(max s * min s)) minimising the output error
    of round-to-nearest of w diag(s) on `x`, then (`clip`) the clip of each
    output row's groups (amax * (1 - i / `clip_grid`), i <
    `max_shrink` * `clip_grid`, on every (tokens / `clip_tokens`)-th row),
    and quantizes the clipped, scaled weight with the scheme (`element`,
    groups of `group_size` inputs, `asymmetric`).

    Returns ``(array, scales)``: a :class:`QuantizedArray` of w diag(s) and
    the float32 scales s [in]; the layer computes ``(x / scales) @
    array.dequantize().T``, so 1/s folds into whatever produces x. With
    `return_info`, ``(array, scales, info)``: ``info["alpha"]``,
    ``info["losses"]`` (per alpha), ``info["clip_steps"]`` and
    ``info["clip_max"]`` ([out, in / group_size])."""
    m = None if x_mean_abs is None else _as_float32(x_mean_abs)
    q, s, info = _lowbit.awq(
        _as_float32(w), _as_float32(x), str(element), int(group_size),
        bool(asymmetric), str(scale), m, int(n_grid), bool(search_scale),
        bool(clip), int(clip_grid), float(max_shrink), int(clip_tokens))
    q = QuantizedArray(q)
    return (q, s, info) if return_info else (q, s)


def smoothquant_scales(x_absmax, w_absmax, alpha=0.5):
    """SmoothQuant's migration scales (mit-han-lab/smoothquant):
    s_j = x_absmax_j^alpha / max(w_absmax_j, 1e-5)^(1 - alpha), at least
    1e-5, from the activations' max |x| per input channel and the weights'
    max |w| per input channel (over every linear sharing the input). The
    weights are multiplied by s and the activations divided by it; the
    same function as the lowbit-smooth-activations pass."""
    return _lowbit.smoothquant_scales(
        _as_float32(x_absmax).reshape(-1), _as_float32(w_absmax).reshape(-1),
        float(alpha))
