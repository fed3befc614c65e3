# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""lowbit.compile and lowbit.quantize_model (python/lowbit/compiler.py):
compiled modules called on numpy arrays, checked against numpy and against
the numpy Llama decoder of test/Compile/Inputs/llama_ref.py."""

import os
import sys

import numpy as np
import pytest

import lowbit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir,
                                os.pardir, "test", "Compile", "Inputs"))
import llama_ref  # noqa: E402

TOKENS = [3, 1, 4, 1, 5, 9, 2, 6]


def matmul_ir(w):
    rows = ",".join("[" + ",".join("%.9e" % v for v in r) + "]" for r in w)
    k, n = w.shape
    return f"""
func.func @f(%x: tensor<2x{k}xf32>) -> tensor<2x{n}xf32> {{
  %w = arith.constant dense<[{rows}]> : tensor<{k}x{n}xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<2x{n}xf32>)
      -> tensor<2x{n}xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x{k}xf32>, tensor<{k}x{n}xf32>)
      outs(%f : tensor<2x{n}xf32>) -> tensor<2x{n}xf32>
  return %y : tensor<2x{n}xf32>
}}
"""


def test_compile_matmul_matches_numpy():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    m = lowbit.compile(matmul_ir(w))
    assert set(m.entry_points) == {"f"}
    y = m(x)
    assert y.shape == (2, 32) and y.dtype == np.float32
    np.testing.assert_allclose(y, x @ w, rtol=1e-5, atol=1e-5)
    # Other real dtypes are converted; the named entry point works too.
    np.testing.assert_allclose(m.f(x.astype(np.float64)), y)
    assert m.weights_bytes >= w.nbytes
    assert all(os.path.exists(f) for f in m.files)


def test_compile_with_pipeline():
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((64, 32)) * 0.1).astype(np.float32)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    m = lowbit.compile(matmul_ir(w), pipeline="lowbit-mxfp4")
    ref = x @ lowbit.fake_quant(w.T, "mxfp4").T
    np.testing.assert_allclose(m(x), ref, rtol=1e-5, atol=1e-5)
    assert m.weights_bytes < w.nbytes // 4


def test_compile_errors():
    with pytest.raises(lowbit.CompileError, match=r"1:1: error: .*static"):
        lowbit.compile("func.func @g(%x: tensor<?xf32>) -> tensor<?xf32> "
                       "{\n  return %x : tensor<?xf32>\n}\n")
    with pytest.raises(lowbit.CompileError, match="error"):
        lowbit.compile("func.func @g( {\n")
    m = lowbit.compile(matmul_ir(np.eye(64, 32, dtype=np.float32)))
    with pytest.raises(ValueError, match=r"shape \(3, 64\)"):
        m(np.zeros((3, 64), np.float32))
    with pytest.raises(TypeError, match="takes 1 arrays, got 2"):
        m(np.zeros((2, 64)), np.zeros((2, 64)))
    with pytest.raises(FileNotFoundError):
        lowbit.compile("no/such/model.gguf")



@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    d = tmp_path_factory.mktemp("llama")
    cfg = llama_ref.Config()
    w = llama_ref.make_weights(cfg, seed=5)
    path = str(d / "tiny.gguf")
    llama_ref.write_gguf(path, cfg, w)
    return cfg, w, path


def test_compile_llama_decode_and_generate(tiny_llama):
    cfg, w, path = tiny_llama
    m = lowbit.compile(path, max_seq=16)
    k, v = m.new_cache()
    ref = llama_ref.decode(cfg, w, TOKENS)
    for pos, t in enumerate(TOKENS):
        logits, k2, v2 = m.decode(np.array([t], np.int32),
                                  np.array([pos], np.int32), k, v)
        assert k2 is k and v2 is v  # the caches, updated in place
        np.testing.assert_allclose(logits[0], ref[pos], rtol=1e-5,
                                   atol=1e-4)
    assert np.abs(k).sum() > 0
    gen = m.generate(TOKENS, 4)
    # Greedy continuation = the reference's argmax chain.
    toks = list(TOKENS)
    for _ in range(4):
        toks.append(int(llama_ref.decode(cfg, w, toks)[-1].argmax()))
    assert gen == toks[len(TOKENS):]
    with pytest.raises(ValueError, match="updated in place"):
        m.decode(np.array([1], np.int32), np.array([0], np.int32),
                 k.astype(np.float64), v)
    # Token and position outside the vocabulary / the cache: the C entry
    # point returns -2 before anything is written.
    before = k.copy()
    for tok, pos in ((cfg.vocab, 0), (-1, 0), (0, 16), (0, -3)):
        with pytest.raises(ValueError, match=r"argument 0 in \[0, 255\], "
                                             r"argument 1 in \[0, 15\]"):
            m.decode(np.array([tok], np.int32), np.array([pos], np.int32),
                     k, v)
    assert np.array_equal(k, before)
    # Cache positions after pos are never read into the result, even when
    # they hold NaN (uninitialised C buffers).
    kn, vn = m.new_cache()
    kn[:, 1:] = np.nan
    vn[:, 1:] = np.inf
    logits = m.decode(np.array([TOKENS[0]], np.int32),
                      np.array([0], np.int32), kn, vn)[0]
    np.testing.assert_allclose(logits[0], ref[0], rtol=1e-5, atol=1e-4)


def test_quantize_model_progress(tiny_llama, capfd):
    cfg, w, path = tiny_llama
    m = lowbit.quantize_model(path, scheme="i4, per_group<[in : 32]>",
                              method="rtn", max_seq=16)
    err = capfd.readouterr().err
    sites = 7 * cfg.layers + 1
    assert "quantizing (rtn) [" in err
    assert "%d/%d" % (sites, sites) in err
    # Weight-only int4 (groups of 32 inputs) at every site, f32 inputs.
    wq = {n: (lowbit.fake_quant(a, "int4", 32)
              if n != "token_embd.weight" and "norm" not in n else a)
          for n, a in w.items()}
    ref = llama_ref.decode(cfg, wq, TOKENS)
    k, v = m.new_cache()
    for pos, t in enumerate(TOKENS):
        logits = m.decode(np.array([t], np.int32), np.array([pos], np.int32),
                          k, v)[0]
        np.testing.assert_allclose(logits[0], ref[pos], rtol=1e-5,
                                   atol=1e-4)
