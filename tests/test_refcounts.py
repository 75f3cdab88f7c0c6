"""Where reference counts cannot be trusted (``refcounts.EXACT`` False: CPython 3.14 on),
the engine, ``free_consumed`` and the recurrent buffers take their safe paths, and the
results are the same: these tests run those paths on any Python."""

import weakref

import numpy as np
import pytest

import nabla
from nabla import refcounts

N = 128  # 64 KiB of float32: what free_consumed would let go of


def _x(seed=0, shape=(N, N)):
    rng = np.random.default_rng(seed)
    return nabla.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)


@pytest.fixture(params=[True, False], ids=["counts-exact", "counts-untrusted"])
def exact(request, monkeypatch):
    monkeypatch.setattr(refcounts, "EXACT", request.param)
    return request.param


def test_a_dropped_intermediate_is_freed_only_where_counts_are_exact(exact):
    x = _x()
    a = x * 2.0
    gone = weakref.ref(a._data)
    b = a + 1.0
    del a
    c = b.tanh()
    assert (gone() is None) == exact
    c.sum().backward()
    want = 2.0 * (1.0 - np.tanh(2.0 * x.detach().numpy() + 1.0) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5, atol=1e-6)


def _train(steps=3):
    """A small MLP whose gradients are accumulated over two backward passes a step (the
    engine's in-place sums and the leaves' arrays), with a GELU written out (the freed
    intermediates), and an LSTM (the recurrent buffers)."""
    nabla.manual_seed(0)
    mlp = nabla.nn.Sequential(nabla.nn.Linear(N, 64), nabla.nn.Tanh(), nabla.nn.Linear(64, 4))
    lstm = nabla.nn.LSTM(8, 16, batch_first=True)
    opt = nabla.optim.SGD(list(mlp.parameters()) + list(lstm.parameters()), lr=0.1)
    rng = np.random.default_rng(1)
    x = nabla.tensor(rng.standard_normal((N, N)).astype(np.float32))
    seq = nabla.tensor(rng.standard_normal((4, 6, 8)).astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        for half in (x[: N // 2], x[N // 2:]):
            h = half * 1.5
            g = 0.5 * h * (1 + (0.79788456 * (h + 0.044715 * h * h * h)).tanh())
            mlp(g).pow(2).mean().backward()
        out, _ = lstm(seq)
        out.sum().backward()
        opt.step()
    return [p.detach().numpy().copy() for p in (*mlp.parameters(), *lstm.parameters())]


def test_training_gives_the_same_bits_on_the_safe_paths(monkeypatch):
    want = _train()
    monkeypatch.setattr(refcounts, "EXACT", False)
    got = _train()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_a_leaf_never_takes_an_array_someone_holds(exact):
    x = nabla.tensor(np.ones(4, np.float32), requires_grad=True)
    seed = np.full(4, 2.0, np.float32)
    (x * 1.0).backward(seed)
    x.grad += 1.0  # must not reach the caller's array
    assert seed.tolist() == [2.0] * 4 and x.grad.tolist() == [3.0] * 4
