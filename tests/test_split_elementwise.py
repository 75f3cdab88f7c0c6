"""Big elementwise passes (relu, max pooling, Adadelta's update) run in parts on every
thread (``nabla.threads.split_rows``): the parts must give exactly what one pass gives.

``BIG`` is lowered so that these small inputs take the split path; each test also counts
the parts, so that it fails if the path is not taken.
"""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla import threads
from nabla.ops import elementwise, pool
from nabla.optim import adadelta

torch = pytest.importorskip("torch")


@pytest.fixture
def split_small(monkeypatch):
    """Two threads, and split anything of 64 elements or more; yields the part counts."""
    counts = []

    def counting(fn, a):
        parts = threads.split_rows(fn, a)
        counts.append(len(parts))
        return parts

    for mod in (elementwise, pool, adadelta):
        monkeypatch.setattr(mod, "BIG", 64)
        monkeypatch.setattr(mod, "split_rows", counting)
    monkeypatch.setattr(threads, "BIG", 64)
    before = nabla.get_num_threads()
    nabla.set_num_threads(2)
    yield counts
    nabla.set_num_threads(before)


def _pair(a):
    return (nabla.tensor(a, requires_grad=True),
            torch.tensor(a, requires_grad=True))


def test_relu_in_parts_is_relu(split_small):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((16, 3, 5, 5)).astype(np.float32)
    a[3, 0, 0, :2] = 0.0  # relu's gradient at 0 is 0, as in PyTorch
    g = rng.standard_normal(a.shape).astype(np.float32)
    x, xt = _pair(a)
    y, yt = nabla.relu(x), torch.relu(xt)
    y.backward(nabla.tensor(g))
    yt.backward(torch.tensor(g))
    assert split_small == [2, 2]  # forward and backward, each in two parts
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def _max_pool(a, g, kernel, stride, padding):
    x = nabla.tensor(a, requires_grad=True)
    y, i = nabla.nn.functional.max_pool2d(x, kernel, stride, padding, return_indices=True)
    y.backward(nabla.tensor(g))
    return y.detach().numpy(), i.numpy(), x.grad.numpy()


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 0)])
def test_max_pool_in_parts_is_max_pool(split_small, kernel, stride, padding, monkeypatch):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((12, 3, 9, 9)).astype(np.float32)
    a[0, 1, 2, 3] = np.nan  # a NaN in the first part only: it wins its windows
    a[7, 2, 4, 4:6] = a[7, 2, 4, 6]  # ties: the first maximum wins
    xt = torch.tensor(a, requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, kernel, stride, padding, return_indices=True)
    g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    yt.backward(torch.tensor(g))
    y, i, gx = _max_pool(a, g, kernel, stride, padding)
    assert split_small == [2, 2]
    # As PyTorch (overlapping windows add gradients in another order: to rounding)...
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(i, it.numpy())
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-6, atol=1e-6)
    # ... and exactly what one pass over the whole batch gives.
    monkeypatch.setattr(pool, "BIG", 1 << 40)
    whole = _max_pool(a, g, kernel, stride, padding)
    assert split_small == [2, 2]
    for part, one in zip((y, i, gx), whole):
        np.testing.assert_array_equal(part, one)


def test_adadelta_in_parts_is_adadelta(split_small, monkeypatch):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((40, 7)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]

    def run(lib):
        w = lib.tensor(w0.copy(), requires_grad=True)
        opt = lib.optim.Adadelta([w], lr=1.0, weight_decay=0.01)
        for g in grads:
            w.grad = lib.tensor(g)
            opt.step()
        return w.detach().numpy()

    parts = run(nabla)
    assert split_small == [2, 2, 2]
    np.testing.assert_allclose(parts, run(torch), rtol=1e-6, atol=1e-7)
    monkeypatch.setattr(adadelta, "BIG", 1 << 40)
    np.testing.assert_array_equal(parts, run(nabla))
    assert split_small == [2, 2, 2]

