"""Layer norm's compiled kernels (``ops/norm_kernels.py``) against the NumPy passes they
replace and against PyTorch: with and without the affine, float32 and float64, every
subset of wanted gradients, NaN rows; and the switches that keep to NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from _compiled_helpers import count_calls, real_kernels

import nabla
from nabla.ops import norm as N

pytest.importorskip("numba")


def _real():
    return real_kernels(N.norm_kernels, "the layer norm kernels")


@pytest.fixture
def calls(monkeypatch):
    monkeypatch.setattr(N, "_COMPILED_MIN", 1)  # small cases too (see the last test)
    return count_calls(monkeypatch, N, "_kernels", _real(), {"forward": 0, "backward": 0})


def _run(shape, normalized, affine=True, needs=(True, True, True), dtype=np.float32,
         seed=0):
    rng = np.random.default_rng(seed)
    x = nabla.tensor(rng.standard_normal(shape).astype(dtype) * 3 + 1,
                     requires_grad=needs[0])
    w = b = None
    if affine:
        w = nabla.tensor(rng.standard_normal(normalized).astype(dtype), requires_grad=needs[1])
        b = nabla.tensor(rng.standard_normal(normalized).astype(dtype), requires_grad=needs[2])
    y = nabla.nn.functional.layer_norm(x, normalized, w, b)
    g = nabla.tensor(rng.standard_normal(shape).astype(dtype))
    if any(t is not None and t.requires_grad for t in (x, w, b)):
        (y * g).sum().backward()
    return [y.detach().numpy()] + [None if t is None or t.grad is None else t.grad.numpy()
                                   for t in (x, w, b)]


def _close(got, want, rel=1e-5):
    for a, b in zip(got, want):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=0, atol=rel * np.abs(b).max())


@pytest.mark.parametrize("shape, normalized, affine, dtype", [
    ((16, 32, 64), (64,), True, np.float32),  # a small GPT's activations
    ((7, 5, 6), (5, 6), True, np.float32),  # two normalised axes
    ((9, 33), (33,), False, np.float32),
    ((4, 3, 10), (10,), True, np.float64),
])
def test_equals_the_numpy_passes(shape, normalized, affine, dtype, calls, monkeypatch):
    got = _run(shape, normalized, affine, dtype=dtype)
    assert calls["forward"] == 1 and calls["backward"] == 1
    monkeypatch.setattr(N, "_kernels", [None])
    _close(got, _run(shape, normalized, affine, dtype=dtype),
           1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False),
                                   (False, False, True), (False, True, True)])
def test_wanted_gradients_only(needs, calls, monkeypatch):
    got = _run((6, 20), (20,), needs=needs)
    monkeypatch.setattr(N, "_kernels", [None])
    _close(got, _run((6, 20), (20,), needs=needs))


def test_equals_torch(calls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 64)).astype(np.float32) * 5 - 2
    w, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    g = rng.standard_normal((32, 64)).astype(np.float32)
    outs = []
    for lib, as_t in ((nabla, nabla.tensor), (torch, torch.tensor)):
        ts = [as_t(a, requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.layer_norm(ts[0], (64,), ts[1], ts[2])
        y.backward(as_t(g))
        outs.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    assert calls["forward"] == 1
    _close(*outs)


def test_a_nan_stays_in_its_row(calls):
    x = np.ones((3, 8), np.float32) * np.arange(8, dtype=np.float32)
    x[1, 4] = np.nan
    y = nabla.nn.functional.layer_norm(nabla.tensor(x), (8,)).numpy()
    assert np.isnan(y[1]).all() and np.isfinite(y[[0, 2]]).all()


def test_small_inputs_keep_to_numpy(calls, monkeypatch):
    from nabla.ops import elementwise

    monkeypatch.setattr(N, "_COMPILED_MIN", elementwise._COMPILED_MIN)
    _run((16, 20), (20,))  # a small model's: not worth loading Numba for
    assert calls == {"forward": 0, "backward": 0}
    _run((64, 512), (512,))
    assert calls == {"forward": 1, "backward": 1}


def test_switched_off(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    monkeypatch.setattr(N, "_kernels", [])
    assert N.norm_kernels() is None
    assert nabla.nn.functional.layer_norm(nabla.randn(2, 4), (4,)).shape == (2, 4)


def test_a_failing_check_warns_and_keeps_to_numpy(monkeypatch):
    real_forward = _real().forward

    def off_by_a_bit(x, w, b, eps, out, xhat, invstd):
        real_forward(x, w, b, eps, out, xhat, invstd)
        out += 1e-3

    monkeypatch.setenv("NABLA_NUMBA", "1")
    monkeypatch.setattr(N, "_kernels", [])
    import nabla.ops.norm_kernels as nk

    monkeypatch.setattr(nk, "forward", off_by_a_bit)
    with pytest.warns(UserWarning, match="layer norm kernels.*wrong values.*NumPy"):
        assert N.norm_kernels() is None
