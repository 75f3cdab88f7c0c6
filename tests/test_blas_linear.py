"""A big float32 Linear layer with a bias as one sgemm that starts from the bias
(``blas.linear_sgemm``, through ``linalg._affine``): NumPy's bits where the inner size
fits OpenBLAS's block, PyTorch's values and gradients, the fused layers' bits, and the
general path wherever the call does not apply."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla import blas
from nabla.ops import linalg

ROWS, OUT = 128, 32768  # 4M outputs: threads.STREAM


@pytest.fixture
def calls(monkeypatch):
    seen = []
    real = linalg.linear_sgemm

    def counted(*a):
        out = real(*a)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(linalg, "linear_sgemm", counted)
    return seen


def _arrays(k, dtype=np.float32, seed=0, lead=()):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(lead + (ROWS, k)).astype(dtype)
    w = (rng.standard_normal((OUT, k)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(OUT).astype(dtype)
    return x, w, b


def test_numpys_bits_and_torchs_gradients(calls):
    torch = pytest.importorskip("torch")
    x0, w0, b0 = _arrays(64)
    g0 = np.random.default_rng(1).standard_normal((ROWS, OUT)).astype(np.float32)
    got, want = [], []
    for lib, out in ((nabla, got), (torch, want)):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        y = lib.nn.functional.linear(x, w, b)
        y.backward(lib.tensor(g0))
        out += [y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
    assert calls == [True]
    expected = np.matmul(x0, w0.T)
    expected += b0
    np.testing.assert_array_equal(got[0], expected)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_a_long_inner_size_is_within_rounding(calls):
    x0, w0, b0 = _arrays(1024)
    y = nabla.nn.functional.linear(*(nabla.tensor(a) for a in (x0, w0, b0))).numpy()
    assert calls == [True]
    expected = np.matmul(x0, w0.T) + b0
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("layout", ["3-D", "3-D transposed view"])
def test_leading_axes(layout, calls):
    x0, w0, b0 = _arrays(48, lead=(2,))
    x = nabla.tensor(x0)
    if layout != "3-D":
        x = nabla.tensor(np.ascontiguousarray(x0.swapaxes(0, 1))).transpose(0, 1)
    y = nabla.nn.functional.linear(x, nabla.tensor(w0), nabla.tensor(b0)).numpy()
    assert calls == [True] and y.shape == (2, ROWS, OUT)
    # nabla multiplies all 256 rows in one sgemm; NumPy's stacked matmul makes one call a
    # slice, and OpenBLAS's Haswell kernels round some outputs differently with the rows
    # split another way (its SkylakeX kernels do not), so the reference is the one call.
    expected = np.matmul(x0.reshape(-1, x0.shape[-1]), w0.T).reshape(y.shape)
    expected += b0
    np.testing.assert_array_equal(y, expected)


def test_the_fused_relu_layer_has_the_plain_layers_bits(calls):
    x0, w0, b0 = _arrays(64)
    lin = nabla.nn.Linear(64, OUT)
    with nabla.no_grad():
        lin.weight.copy_(nabla.tensor(w0))
        lin.bias.copy_(nabla.tensor(b0))
    net = nabla.nn.Sequential(lin, nabla.nn.ReLU())
    x = nabla.tensor(x0, requires_grad=True)
    fused = net(x)
    fused.sum().backward()
    fused_grad = x.grad.numpy().copy()
    x.grad = None
    plain = nabla.relu(lin(x))
    plain.sum().backward()
    assert calls == [True, True]
    np.testing.assert_array_equal(fused.detach().numpy(), plain.detach().numpy())
    np.testing.assert_array_equal(fused_grad, x.grad.numpy())


@pytest.mark.parametrize("case", ["float64", "no bias", "small", "weight view", "swap rows"])
def test_elsewhere_the_general_path(case, calls):
    dtype = np.float64 if case == "float64" else np.float32
    x0, w0, b0 = _arrays(32, dtype)
    if case == "small":
        w0, b0 = w0[:100], b0[:100]
    if case == "swap rows":  # 64 rows of 65536: _product's swapped product, not this call
        x0, w0, b0 = x0[:64], np.concatenate([w0, w0]), np.concatenate([b0, b0])
    w = nabla.tensor(w0)
    if case == "weight view":
        w = nabla.tensor(np.asfortranarray(w0))
    b = None if case == "no bias" else nabla.tensor(b0)
    y = nabla.nn.functional.linear(nabla.tensor(x0), w, b).numpy()
    assert not any(calls)
    expected = x0 @ w0.T + (0 if b is None else b0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_linear_sgemm_refuses_what_it_cannot_do():
    x, w, b = _arrays(8)
    assert blas.linear_sgemm(x.astype(np.float64), w, b) is None
    assert blas.linear_sgemm(x, np.asfortranarray(w), b) is None
    assert blas.linear_sgemm(x, w, b[:-1]) is None
    assert blas.linear_sgemm(x[:, :4], w, b) is None
