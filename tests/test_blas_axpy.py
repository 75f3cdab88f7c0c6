"""nabla.blas.axpy (y += alpha * x in NumPy's OpenBLAS) and plain SGD's use of it."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla import blas
from nabla.optim import sgd

torch = pytest.importorskip("torch")


def _openblas():
    from nabla.threads import openblas

    return openblas() is not None


needs_openblas = pytest.mark.skipif(not _openblas(), reason="NumPy's BLAS is not OpenBLAS")


@needs_openblas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_has_torchs_bits(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10_000).astype(dtype)
    y = rng.standard_normal(10_000).astype(dtype)
    want = torch.tensor(y).add_(torch.tensor(x), alpha=-0.013).numpy()
    # NumPy's two passes round twice: not always the same bits (so the test can tell).
    assert not np.array_equal(y - np.asarray(0.013, dtype) * x, want)
    assert blas.axpy(-0.013, x, y)
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("x,y", [
    (np.ones(6, np.int64), np.ones(6, np.int64)),  # not a BLAS type
    (np.ones(6, np.float32), np.ones(6, np.float64)),  # mixed dtypes
    (np.ones(6), np.ones(5)),  # mixed shapes
    (np.ones((4, 6))[:, ::2], np.ones((4, 3))),  # not contiguous
])
def test_axpy_refuses_what_blas_cannot_do(x, y):
    before = y.copy()
    assert not blas.axpy(2.0, x, y)
    np.testing.assert_array_equal(y, before)


def _sgd_steps(lib, w0, grads, lr=0.05):
    w = lib.tensor(w0.copy(), requires_grad=True)
    opt = lib.optim.SGD([w], lr=lr)
    for g in grads:
        w.grad = lib.tensor(g)
        opt.step()
    return w.detach().numpy()


@needs_openblas
def test_plain_sgd_on_a_big_parameter_has_torchs_bits():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((256, 256)).astype(np.float32)  # 2^16 elements: BLAS axpy
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    np.testing.assert_array_equal(_sgd_steps(nabla, w0, grads), _sgd_steps(torch, w0, grads))


def test_plain_sgd_without_blas_is_within_a_rounding(monkeypatch):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((256, 256)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    want = _sgd_steps(torch, w0, grads)
    monkeypatch.setattr(sgd, "axpy", lambda alpha, x, y: False)  # as without OpenBLAS
    got = _sgd_steps(nabla, w0, grads)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(got, w0)


@needs_openblas
@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_sgd_on_a_big_parameter_has_torchs_bits(nesterov):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((256, 256)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]

    def run(lib):
        w = lib.tensor(w0.copy(), requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.05, momentum=0.9, nesterov=nesterov)
        for g in grads:
            w.grad = lib.tensor(g)
            opt.step()
        return w.detach().numpy()

    np.testing.assert_array_equal(run(nabla), run(torch))
