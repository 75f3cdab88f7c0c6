"""The compiled 2x2 max pooling (``ops/pool_kernels.py``) against the NumPy passes it
replaces and against PyTorch, bit for bit: ties, NaNs, -inf, odd sizes, float64, the
batch split over threads; where it must not run; and the switches that keep to NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from _compiled_helpers import count_calls, real_kernels

import nabla
from nabla.ops import pool as P

pytest.importorskip("numba")

BIG_SHAPE = (4, 16, 130, 131)  # over threads.BIG elements: what the compiled path needs


def _real():
    return real_kernels(P.pool_kernels, "the max pooling kernels")


@pytest.fixture
def calls(monkeypatch):
    return count_calls(monkeypatch, P, "_kernels", _real(), {"forward": 0, "backward": 0})


def _data(shape, dtype=np.float32, seed=0):
    """Integers (many ties), some NaNs (two in one window), -inf, a window of -inf."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape).astype(dtype)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = np.nan
    x[0, 1, 2, 3] = np.nan
    x[1, 0, :2, :2] = -np.inf
    x[1, 1, 5, 5] = -np.inf
    return x


def _pool(x, g_seed=1, **kw):
    t = nabla.tensor(x, requires_grad=True)
    y = nabla.nn.functional.max_pool2d(t, 2, **kw)
    g = np.random.default_rng(g_seed).standard_normal(tuple(y.shape)).astype(x.dtype)
    y.backward(nabla.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_the_numpy_passes(dtype, calls, monkeypatch, two_threads):
    x = _data(BIG_SHAPE, dtype)
    got = _pool(x)
    assert calls["forward"] > 0 and calls["backward"] > 0
    monkeypatch.setattr(P, "_kernels", [None])
    want = _pool(x)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_equals_torch(calls):
    torch = pytest.importorskip("torch")
    x = _data(BIG_SHAPE)
    got = _pool(x)
    t = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.max_pool2d(t, 2)
    y.backward(torch.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)),
                            dtype=torch.float32))
    assert calls["forward"] > 0
    np.testing.assert_array_equal(got[0], y.detach().numpy())
    np.testing.assert_array_equal(got[1], t.grad.numpy())


@pytest.mark.parametrize("kw", [
    {"stride": 1}, {"padding": 1}, {"dilation": 2}, {"ceil_mode": True},
    {"return_indices": True},
])
def test_runs_only_for_plain_2x2(kw, calls):
    t = nabla.tensor(_data(BIG_SHAPE))
    nabla.nn.functional.max_pool2d(t, 2, **kw)
    assert calls["forward"] == 0


def test_small_inputs_keep_to_numpy(calls):
    nabla.nn.functional.max_pool2d(nabla.ones(2, 3, 8, 8), 2)
    assert calls["forward"] == 0


def test_switched_off(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    monkeypatch.setattr(P, "_kernels", [])
    assert P.pool_kernels() is None
    y = nabla.nn.functional.max_pool2d(nabla.ones(*BIG_SHAPE), 2)
    assert y.shape == (4, 16, 65, 65)


def test_a_failing_check_warns_and_keeps_to_numpy(monkeypatch):
    real_forward = _real().forward

    def first_tap_always(x, lo, hi, out, won):
        real_forward(x, lo, hi, out, won)
        won[...] = 0

    monkeypatch.setenv("NABLA_NUMBA", "1")
    monkeypatch.setattr(P, "_kernels", [])
    import nabla.ops.pool_kernels as pk

    monkeypatch.setattr(pk, "forward", first_tap_always)
    with pytest.warns(UserWarning, match="max pooling kernels.*wrong values.*NumPy"):
        assert P.pool_kernels() is None
