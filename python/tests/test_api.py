# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The Python API itself: shapes, input conversion, the parts of a
QuantizedArray, tobytes() against lowbit-quantize, errors."""

import gc
import os
import pathlib
import subprocess

import ml_dtypes
import numpy as np
import pytest

import lowbit
from references import F32, assert_same_floats, assert_same_ints

# One representative per family, with its last-axis block.
FORMATS = {
    "int8": 1, "int4": 2, "ternary": 4, "f8e4m3fn": 1, "f4e2m1fn": 2,
    "mxfp8_e4m3": 32, "mxfp4": 32, "mxint8": 32, "nvfp4": 16, "q4_0": 32,
    "q8_0": 32, "q4_k": 256, "gguf_mxfp4": 32,
}
EXPECTED_NAMES = [
    "f8e4m3fn", "f8e5m2", "f6e2m3fn", "f6e3m2fn", "f4e2m1fn", "mxfp8_e4m3",
    "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8", "nvfp4",
    "int8", "int4", "ternary", "q4_0", "q4_1", "q5_0", "q8_0", "q4_k", "q6_k",
    "gguf_mxfp4",
]


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


def same_quantized(a, b):
    assert a.tobytes() == b.tobytes()
    assert_same_floats(a.dequantize(), b.dequantize())


def test_formats():
    names = lowbit.formats()
    assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    for n in EXPECTED_NAMES:
        assert n in names
    assert lowbit.element_types() == [
        "f16", "bf16", "f8e4m3fn", "f8e5m2", "f6e2m3fn", "f6e3m2fn",
        "f4e2m1fn", "f8e8m0fnu"]


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_roundtrip_shapes(fmt, rank):
    cols = 256 if fmt == "q4_k" else 64
    shape = (2, 3, 1)[:rank - 1] + (cols,)
    x = rand(shape, seed=rank)
    q = lowbit.quantize(x, fmt)
    assert q.shape == shape and q.format == fmt
    assert q.codes.dtype == np.uint8 and q.codes.shape[:-1] == shape[:-1]
    out = q.dequantize()
    assert out.dtype == np.float32 and out.shape == shape
    assert_same_floats(lowbit.fake_quant(x, fmt), out)
    assert len(q.tobytes()) == q.nbytes
    if q.scales is not None:
        assert q.scales.shape[:-1] == shape[:-1]
    # Quantization is along the last axis: each row on its own gives the
    # same codes (per-tensor parts, NVFP4's tensor scale, excepted).
    if fmt != "nvfp4":
        rows = x.reshape(-1, cols)
        codes = q.codes.reshape(rows.shape[0], -1)
        for i in range(rows.shape[0]):
            assert_same_ints(lowbit.quantize(rows[i], fmt).codes, codes[i])


def test_quantized_parts_are_read_only_and_outlive_the_object():
    x = rand((4, 64))
    q = lowbit.quantize(x, "int4", group_size=32, asymmetric=True)
    codes, scales, zps = q.codes, q.scales, q.zero_points
    expected = (codes.copy(), scales.copy(), zps.copy())
    with pytest.raises(ValueError):
        codes[0, 0] = 1
    del q
    gc.collect()
    assert_same_ints(codes, expected[0])
    assert_same_floats(scales, expected[1])
    assert_same_ints(zps, expected[2])


def test_float16_bfloat16_and_float64_input():
    x = rand((4, 64))
    x16 = x.astype(np.float16)
    same_quantized(lowbit.quantize(x16, "int8"),
                   lowbit.quantize(x16.astype(F32), "int8"))
    xb = x.astype(ml_dtypes.bfloat16)
    same_quantized(lowbit.quantize(xb, "mxfp4"),
                   lowbit.quantize(xb.astype(F32), "mxfp4"))
    same_quantized(lowbit.quantize(x.astype(np.float64), "q8_0"),
                   lowbit.quantize(x, "q8_0"))
    assert_same_floats(lowbit.fake_quant(x16, "nvfp4"),
                       lowbit.fake_quant(x16.astype(F32), "nvfp4"))
    assert_same_ints(lowbit.cast(x16, "f8e4m3fn"),
                     lowbit.cast(x16.astype(F32), "f8e4m3fn"))


def test_non_contiguous_input():
    base = rand((8, 128))
    for view in (base[:, ::2], base.T[:64].T[::2], base[::-1, 64:],
                 np.asfortranarray(base)):
        assert not view.flags.c_contiguous
        for fmt in ("int4", "mxfp8_e4m3", "q4_0"):
            same_quantized(lowbit.quantize(view, fmt),
                           lowbit.quantize(np.ascontiguousarray(view), fmt))
        assert_same_floats(lowbit.fake_quant(view, "nvfp4"),
                           lowbit.fake_quant(np.ascontiguousarray(view),
                                             "nvfp4"))


def test_input_is_not_modified():
    x = rand((4, 64))
    keep = x.copy()
    lowbit.quantize(x, "nvfp4")
    lowbit.fake_quant(x, "int4")
    lowbit.cast(x, "f4e2m1fn")
    assert np.array_equal(x, keep)


def test_tobytes_layout():
    """codes, scales, zero points (int32 LE), tensor scale (f32 LE)."""
    x = rand((3, 64))
    q = lowbit.quantize(x, "int4", group_size=32, asymmetric=True)
    want = (q.codes.tobytes() + q.scales.astype("<f4").tobytes() +
            q.zero_points.astype("<i4").tobytes())
    assert q.tobytes() == want and q.nbytes == len(want) == 3 * 32 + 6 * 8
    q = lowbit.quantize(x, "nvfp4")
    want = (q.codes.tobytes() + q.scales.tobytes() +
            np.float32(q.tensor_scale).astype("<f4").tobytes())
    assert q.tobytes() == want and q.nbytes == 3 * 32 + 3 * 4 + 4
    q = lowbit.quantize(x, "f8e4m3fn")
    assert q.scales is None and q.tobytes() == q.codes.tobytes()


def _tool():
    exe = (pathlib.Path(lowbit.__file__).resolve().parents[2] / "bin" /
           "lowbit-quantize")
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    return exe


@pytest.mark.parametrize("fmt,group,asym", [
    ("int4", 32, True), ("int8", 0, False), ("mxfp4", 0, False),
    ("mxint8", 0, False), ("nvfp4", 0, False), ("q4_k", 0, False),
    ("gguf_mxfp4", 0, False), ("f8e5m2", 0, False)])
def test_tobytes_matches_lowbit_quantize(tmp_path, fmt, group, asym):
    exe = _tool()
    x = rand((4, 256), seed=5)
    np.save(tmp_path / "x.npy", x)
    args = [str(exe), "--format", fmt]
    if group:
        args += ["--group-size", str(group)]
    if asym:
        args += ["--asymmetric"]
    subprocess.run(args + [str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "x.bin")], check=True)
    subprocess.run(args + ["--roundtrip", str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "y.npy")], check=True)
    q = lowbit.quantize(x, fmt, group_size=group, asymmetric=asym)
    assert (tmp_path / "x.bin").read_bytes() == q.tobytes()
    assert_same_floats(np.load(tmp_path / "y.npy"), q.dequantize())


def test_cast_and_decode_shapes():
    x = rand((2, 3, 4))
    c = lowbit.cast(x, "f8e5m2")
    assert c.dtype == np.uint8 and c.shape == x.shape
    assert lowbit.decode(c, "f8e5m2").shape == x.shape
    assert lowbit.cast(x, "bf16").dtype == np.uint16
    # MLIR's spelling is accepted too.
    assert_same_ints(lowbit.cast(x, "f8E5M2"), c)
    assert_same_floats(lowbit.decode(np.array([0x38], np.int64), "f8e4m3fn"),
                       np.array([1.0], F32))


@pytest.mark.parametrize("call,match", [
    (lambda: lowbit.quantize(rand((2, 64)), "int3"), "unknown format"),
    (lambda: lowbit.fake_quant(rand((2, 64)), "nope"), "unknown format"),
    (lambda: lowbit.quantize(rand((2, 33)), "mxfp4"), "33"),
    (lambda: lowbit.quantize(rand((2, 40)), "nvfp4"), "40"),
    (lambda: lowbit.quantize(rand((2, 48)), "q4_0"), "48"),
    (lambda: lowbit.quantize(rand((2, 64)), "int4", group_size=48), "48"),
    (lambda: lowbit.quantize(rand((2, 64)), "int4", group_size=-1), "group"),
    (lambda: lowbit.quantize(rand((2, 64)), "mxfp4", group_size=32), "group"),
    (lambda: lowbit.quantize(rand((2, 64)), "q4_0", asymmetric=True),
     "asymmetric"),
    (lambda: lowbit.quantize(np.float32(1.0), "int8"), "rank"),
    (lambda: lowbit.cast(rand(4), "f7"), "element type"),
    (lambda: lowbit.decode(np.array([16]), "f4e2m1fn"), "codes"),
    (lambda: lowbit.decode(np.array([-1]), "f8e4m3fn"), "codes"),
])
def test_errors_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("fmt", ["int4", "int8", "ternary", "f4e2m1fn",
                                 "f6e2m3fn", "nvfp4", "q4_0", "q4_k",
                                 "gguf_mxfp4"])
def test_nan_rejected_where_the_format_cannot_hold_it(fmt):
    cols = 256 if fmt == "q4_k" else 64
    x = rand((2, cols))
    x[1, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lowbit.quantize(x, fmt)
    with pytest.raises(ValueError, match="NaN"):
        lowbit.fake_quant(x, fmt)


@pytest.mark.parametrize("fmt", ["f8e4m3fn", "f8e5m2", "mxfp8_e4m3"])
def test_nan_kept_where_the_format_holds_it(fmt):
    x = rand((2, 64))
    x[1, 7] = np.nan
    out = lowbit.fake_quant(x, fmt)
    assert np.isnan(out[1, 7])


def test_type_errors():
    with pytest.raises(TypeError):
        lowbit.quantize(np.array(["a", "b"]), "int8")
    with pytest.raises(TypeError):
        lowbit.quantize(np.ones(32, np.complex64), "int8")
    with pytest.raises(TypeError):
        lowbit.decode(np.array([0.5]), "f8e4m3fn")


def test_threads_share_the_library():
    """Calls from several threads (the GIL is released) give the same
    results as sequential ones."""
    from concurrent.futures import ThreadPoolExecutor

    xs = [rand((64, 256), seed=i) for i in range(8)]
    want = [lowbit.quantize(x, "q4_k").tobytes() for x in xs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: lowbit.quantize(x, "q4_k").tobytes(), xs))
    assert got == want


def test_repr():
    q = lowbit.quantize(rand((2, 32)), "mxfp4")
    assert "mxfp4" in repr(q) and "(2, 32)" in repr(q)
    assert os.path.basename(lowbit._lowbit.__file__).startswith("_lowbit")


def test_quantize_scheme_matches_named_formats_and_axes():
    x = np.random.default_rng(5).standard_normal((6, 64)).astype(np.float32)
    named = lowbit.quantize(x, "int8")
    general = lowbit.quantize_scheme(x, "i8", blocks=(1, 64))
    assert np.array_equal(named.codes, general.codes)
    assert np.array_equal(named.scales, general.scales)
    # Per column of x is per row of x.T.
    cols = lowbit.quantize_scheme(x, "i4", blocks=(6, 1))
    rows = lowbit.quantize_scheme(np.ascontiguousarray(x.T), "i4",
                                  blocks=(1, 6))
    assert cols.scales.shape == (1, 64)
    assert np.array_equal(cols.scales.reshape(-1), rows.scales.reshape(-1))
    assert np.array_equal(cols.dequantize(), rows.dequantize().T)
    # Per tensor by default; f16 scales come back as float16.
    t = lowbit.quantize_scheme(x, "i8", scale="f16")
    assert t.scales.dtype == np.float16 and t.scales.shape == (1, 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(element="i9"), "i2..i8"),
    (dict(element="f5"), "unknown element type"),
    (dict(element="i8", blocks=(4, 32)), "not a multiple of the block size"),
    (dict(element="i8", scale="f64"), "unknown scale type"),
    (dict(element="i8", rounding="down"), "nearest_even or nearest_away"),
    (dict(element="f4e2m1fn", asymmetric=True),
     "asymmetric schemes need integer"),
])
def test_quantize_scheme_errors(kwargs, message):
    x = np.ones((6, 64), np.float32)
    with pytest.raises(ValueError, match=message):
        lowbit.quantize_scheme(x, **kwargs)


def test_edge_shapes():
    with pytest.raises(ValueError, match="LB-T1"):
        lowbit.quantize_scheme(np.float32(1.5), "i8")
    q = lowbit.quantize(np.empty((0, 64), np.float32), "int4")
    assert q.codes.shape == (0, 32) and q.dequantize().shape == (0, 64)


def test_f16_scales_never_overflow_or_vanish():
    """f16/bf16 scales saturate and a non-zero scale never rounds to 0, so
    finite input gives finite output (docs/Spec.md section 5): values too
    large clamp at qmax times the largest scale, values far below the
    smallest scale's step decode to zero, never NaN."""
    for scale, big in (("f16", 1e10), ("bf16", 3e38)):
        for mag in (big, 1e-9, 1e-30, 1e-44):
            x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32) * mag
            q = lowbit.quantize_scheme(x, "i8", blocks=(1, 32), scale=scale)
            y = q.dequantize()
            assert np.isfinite(y).all(), (scale, mag)
            assert (q.scales.astype(np.float32) > 0).all(), (scale, mag)
            if scale == "f16" and mag == big:  # 1e10 / 127 > 65504
                assert np.abs(y).max() == np.float32(127 * 65504.0)


@pytest.mark.parametrize("kwargs, rule", [
    (dict(element="ui4"), "LB-S4"),
    (dict(element="i8", asymmetric=True, full_range=True), "LB-S5"),
    (dict(element="ternary", full_range=True), "LB-S5"),
    (dict(element="i8", scale="f8e4m3fn", tensor_scale=True), "LB-S8"),
    (dict(element="f6e2m3fn", saturate=False), "LB-S11"),
])
def test_scheme_rules_match_the_ir(kwargs, rule):
    with pytest.raises(ValueError, match=rule):
        lowbit.quantize_scheme(np.ones((2, 32), np.float32), blocks=(1, 32),
                               **kwargs)
