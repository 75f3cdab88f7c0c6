"""The compiled elementwise kernels (``ops/elementwise_kernels.py``: softmax rows, tanh's
gradient, the cube and the powers' gradients) against the NumPy passes they replace and
against PyTorch: masked rows, a row of -inf, NaN, float64; where they must not run; and
the switches that keep to NumPy."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _compiled_helpers import count_calls, real_kernels

import nabla
from nabla.ops import elementwise as E

pytest.importorskip("numba")


def _real():
    return real_kernels(E.elementwise_kernels, "the elementwise kernels")


@pytest.fixture
def calls(monkeypatch):
    return count_calls(monkeypatch, E, "_kernels", _real(), {})


def _small_too(monkeypatch):
    monkeypatch.setattr(E, "_COMPILED_MIN", 1)  # read by every caller of _compiled_for


def _numpy_only(monkeypatch):
    monkeypatch.setattr(E, "_kernels", [None])


def _scores(shape=(8, 4, 32, 32), dtype=np.float32, seed=0):
    """Attention scores, causally masked with -inf; one row all -inf, one NaN."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * 4).astype(dtype)
    a[..., np.triu(np.ones(shape[-2:], bool), 1)] = -np.inf
    a[0, 0, 5] = -np.inf
    a[1, 2, 7, 3] = np.nan
    return a


def _softmax(a, dim=-1, seed=1):
    x = nabla.tensor(a, requires_grad=True)
    y = nabla.nn.functional.softmax(x, dim=dim)
    g = np.random.default_rng(seed).standard_normal(a.shape).astype(a.dtype)
    y.backward(nabla.tensor(g))
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_equals_the_numpy_passes(dtype, calls, monkeypatch):
    a = _scores(dtype=dtype)
    got = _softmax(a)
    assert calls["shift_by_row_max"] == 1 and calls["softmax_grad"] == 1
    _numpy_only(monkeypatch)
    want = _softmax(a)
    rel = 1e-6 if dtype == np.float32 else 1e-14
    for x, y in zip(got, want):
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        np.testing.assert_allclose(x, y, rtol=0, atol=rel * np.nanmax(np.abs(y)))
    assert np.isnan(got[0][0, 0, 5]).all() and np.isnan(got[0][1, 2, 7]).all()


def test_softmax_equals_torch(calls):
    torch = pytest.importorskip("torch")
    a = _scores()
    a[0, 0, 5] = 0.0  # (PyTorch agrees on NaN rows; the values are compared here)
    a[1, 2, 7, 3] = 0.0
    got = _softmax(a)
    x = torch.tensor(a, requires_grad=True)
    y = torch.softmax(x, -1)
    y.backward(torch.tensor(np.random.default_rng(1).standard_normal(a.shape),
                            dtype=torch.float32))
    for a, b in zip(got, (y.detach().numpy(), x.grad.numpy())):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * np.abs(b).max())


def test_softmax_elsewhere_keeps_to_numpy(calls):
    _softmax(_scores(), dim=1)  # not the last axis
    _softmax(np.random.default_rng(0).standard_normal((2, 3, 8)))  # too small to gain
    t = nabla.randn(32, 200, requires_grad=True)  # a makemore MLP's tanh: too small
    t.tanh().sum().backward()
    assert calls == {}


def test_small_arrays_when_allowed(calls, monkeypatch):
    """The kernels themselves on small and odd shapes (the threshold lowered)."""
    _small_too(monkeypatch)
    a = _scores((2, 3, 9, 7))
    got = _softmax(a)
    assert calls["shift_by_row_max"] == 1
    _numpy_only(monkeypatch)
    want = _softmax(a)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6 * np.nanmax(np.abs(y)))


def test_tanh_grad_bit_for_bit(calls, monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((128, 256)).astype(np.float32) * 3
    g = rng.standard_normal((128, 256)).astype(np.float32)

    def grad():
        t = nabla.tensor(x, requires_grad=True)
        t.tanh().backward(nabla.tensor(g))
        return t.grad.numpy()

    got = grad()
    assert calls["tanh_grad"] == 1
    _numpy_only(monkeypatch)
    np.testing.assert_array_equal(got, grad())


@pytest.mark.parametrize("p", [2, 3, 3.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_powers_bit_for_bit(p, dtype, calls, monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 32, 64)).astype(dtype) * 2
    x[0, 0, :3] = [np.inf, -np.inf, np.nan]
    g = rng.standard_normal(x.shape).astype(dtype)

    def run():
        t = nabla.tensor(x, requires_grad=True)
        y = nabla.pow(t, p)
        y.backward(nabla.tensor(g))
        return y.detach().numpy(), t.grad.numpy()

    got = run()
    assert calls.get("power_grad") == 1 and calls.get("cube", 0) == (p == 3)
    _numpy_only(monkeypatch)
    for a, b in zip(got, run()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(64, 64, 24, 24), (1024, 1024)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_grad_bit_for_bit(shape, dtype, calls, monkeypatch, two_threads):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:3] = [0.0, np.nan, -1.0]
    g = rng.standard_normal(shape).astype(dtype)
    g.reshape(-1)[2] = np.inf  # where the unit is off: inf * 0, NaN as in NumPy

    def grad():
        t = nabla.tensor(x, requires_grad=True)
        t.relu().backward(nabla.tensor(g))
        return t.grad.numpy()

    got = grad()
    assert calls["relu_grad"] == 2  # a part on each thread
    _numpy_only(monkeypatch)
    np.testing.assert_array_equal(got, grad())


def test_relu_grad_does_not_load_numba_itself(calls, monkeypatch):
    """Where no other path has imported Numba, ReLU's gradient does not either."""
    monkeypatch.delitem(sys.modules, "numba")
    t = nabla.randn(1024, 1024, requires_grad=True)
    t.relu().sum().backward()
    assert "relu_grad" not in calls


def test_relu_grad_below_big_keeps_to_numpy(calls):
    t = nabla.randn(64, 6, 12, 12, requires_grad=True)  # LeNet's: Numba not worth loading
    t.relu().sum().backward()
    assert "relu_grad" not in calls


@pytest.mark.parametrize("mask_shape, compiled", [
    ((1, 1, 32, 32), True),  # minGPT's registered causal mask
    ((32, 32), True),
    ((8, 4, 32, 32), True),  # as big as the scores
    ((8, 1, 32, 32), False),  # broadcast along a middle axis: NumPy's masked copy
])
def test_masked_fill_bit_for_bit(mask_shape, compiled, calls, monkeypatch):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((8, 4, 32, 32)).astype(np.float32)
    a[0, 0, 0, :2] = [np.nan, np.inf]
    mask = rng.random(mask_shape) < 0.4
    g = rng.standard_normal(a.shape).astype(np.float32)

    def run():
        t = nabla.tensor(a, requires_grad=True)
        y = t.masked_fill(nabla.tensor(mask), float("-inf"))
        y.backward(nabla.tensor(g))
        return y.detach().numpy(), t.grad.numpy()

    got = run()
    assert calls.get("masked_fill", 0) == (2 if compiled else 0)  # forward and backward
    _numpy_only(monkeypatch)
    for x, y in zip(got, run()):
        np.testing.assert_array_equal(x, y)


def test_switched_off(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    monkeypatch.setattr(E, "_kernels", [])
    assert E.elementwise_kernels() is None
    assert _softmax(_scores())[0].shape == (8, 4, 32, 32)


def test_a_failing_check_warns_and_keeps_to_numpy(monkeypatch):
    real = _real().divide_by_row_sum

    def off(e):
        real(e)
        e *= 1.001

    monkeypatch.setenv("NABLA_NUMBA", "1")
    monkeypatch.setattr(E, "_kernels", [])
    import nabla.ops.elementwise_kernels as ak

    monkeypatch.setattr(ak, "divide_by_row_sum", off)
    with pytest.warns(UserWarning, match="elementwise kernels.*wrong values.*NumPy"):
        assert E.elementwise_kernels() is None


# ------------------------------------------ log-softmax over long float32 rows
def test_exp_nonpositive_within_two_ulp():
    """The kernels' own exp, through the gradient kernel (``g - exp(out) * sum(g)`` with
    ``g = (-1, 0, 0, ...)`` and ``out[0] = -inf`` is ``exp(out)`` past the first entry):
    on a dense grid of [-90, 0] within a relative 2 ** -22 (two units of float32's last
    mantissa bit; NumPy's float32 exp: 1.7 units) of the exact value, 0 below -87,
    exactly 1 at 0, and -inf -> 0, NaN -> NaN."""
    k = _real()
    t = np.concatenate([[-np.inf], -np.linspace(0, 90, 3_000_001), [np.nan]])
    t = t.astype(np.float32)[None]
    g = np.zeros_like(t)
    g[0, 0] = -1
    e = np.empty_like(t)
    k.log_softmax_grad_rows(g, t, e)
    assert e[0, 0] == -1 and e[0, 1] == 1 and np.isnan(e[0, -1])
    e, t = e[0, 1:-1], t[0, 1:-1]
    exact = np.exp(t.astype(np.float64))
    normal = t >= -87
    assert (np.abs(e[normal] - exact[normal]) / exact[normal]).max() <= 2 ** -22
    assert (e[~normal] == 0).all()


def _long_rows(dtype=np.float32, seed=7):
    """40 rows of 30000 logits (past the blocked path's million elements): -inf entries,
    a row all -inf, a row with +inf, one with NaN, one around 1000 (exp(x) unshifted
    would overflow)."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((40, 30000)) * 4).astype(dtype)
    a[0, :50] = -np.inf
    a[1] = -np.inf
    a[2, 9] = np.inf
    a[3, 11] = np.nan
    a[4] += 1000
    return a


def _log_softmax(a):
    x = nabla.tensor(a, requires_grad=True)
    y = nabla.nn.functional.log_softmax(x, dim=1)
    g = np.random.default_rng(8).standard_normal((len(a), 2 * a.shape[1])).astype(a.dtype)
    y.backward(nabla.from_numpy(g[:, ::2]))  # strided, as a slice's gradient would be
    return y.detach().numpy(), x.grad.numpy()


def test_log_softmax_long_rows_equal_the_numpy_passes(calls, monkeypatch):
    a = _long_rows()
    got = _log_softmax(a)
    assert calls["log_softmax_rows"] >= 1 and calls["log_softmax_grad_rows"] >= 1
    _numpy_only(monkeypatch)
    with np.errstate(invalid="ignore"):
        want = _log_softmax(a)
    for x, y in zip(got, want):
        assert x.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        # (Relative to the largest value: a gradient row's sum of 30000 values times
        # exp(out), where out near 0 differs in its last bits between the two.)
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-5 * np.abs(y[np.isfinite(y)]).max())
    assert np.isnan(got[0][1:4]).all() and (got[0][0, :50] == -np.inf).all()


def test_log_softmax_long_rows_of_float64_keep_to_numpy(calls):
    _log_softmax(_long_rows(np.float64)[4:])
    assert "log_softmax_rows" not in calls and "log_softmax_grad_rows" not in calls


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_long_rows_equal_the_numpy_passes(reduction, calls, monkeypatch):
    """Cross-entropy over long float32 rows through ``softmax_xent_rows``: the loss and
    gradient of the NumPy passes, with rows around 1000 (unshifted, exp would overflow)
    and -inf logits."""
    rng = np.random.default_rng(9)
    a = (rng.standard_normal((40, 30000)) * 4).astype(np.float32)
    a[4] += 1000
    a[0, :50] = -np.inf
    t = rng.integers(50, 30000, 40)

    def run():
        x = nabla.tensor(a, requires_grad=True)
        loss = nabla.nn.functional.cross_entropy(x, nabla.tensor(t), reduction=reduction)
        loss.backward()
        return loss.item(), x.grad.numpy()

    got = run()
    assert calls["softmax_xent_rows"] >= 1
    _numpy_only(monkeypatch)
    want = run()
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert got[1].dtype == np.float32
    # (Row sums in another order: the kernels are within 3e-6 relative of float64
    # values here, the NumPy passes 1.5e-6, PyTorch's float32 5e-6.)
    np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-5 * np.abs(want[1]).max())
    assert (got[1][0, :50] == 0).all()
