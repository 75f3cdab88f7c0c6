"""The vectorized erf and GELU (ops/erf.py), the cheap powers, and stack's fast path."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nabla
from nabla.ops.elementwise import power
from nabla.ops.erf import erf


def _ulps(got, ref):
    ref = ref.astype(got.dtype)
    tiny = np.finfo(got.dtype).tiny
    return np.max(np.abs(got.astype(np.float64) - ref) / np.spacing(np.abs(ref) + tiny))


@pytest.mark.parametrize("dtype, bound", [(np.float64, 2), (np.float32, 1)])
def test_erf_matches_math_erf_on_a_dense_grid(dtype, bound):
    # every piece and both boundaries between them, plus tails and signed zeros
    x = np.concatenate([np.linspace(-7, 7, 40001), [0.0, -0.0, 1e-300, -1e-20, 5.9, 6.0, 6.1]])
    x = x.astype(dtype)
    ref = np.array([math.erf(v) for v in x.astype(np.float64)])
    got = erf(x)
    assert got.dtype == dtype
    # max 2 ulps in float64 (1.0 measured on 200k points in [-7, 7] is the float64
    # rounding of math.erf's own result; 2 is the worst seen), 1 in float32 (a double rounding)
    assert _ulps(got, ref) <= bound
    np.testing.assert_array_equal(np.signbit(erf(np.array([0.0, -0.0]))), [False, True])


def test_erf_special_values_and_shapes():
    out = erf(np.array([np.inf, -np.inf, np.nan, 30.0]))
    np.testing.assert_array_equal(out[[0, 1, 3]], [1.0, -1.0, 1.0])
    assert np.isnan(out[2])
    assert erf(np.array(0.5)).shape == ()
    assert erf(np.array([1, 2])).dtype == np.float64  # integers give float64
    assert erf(np.zeros((2, 0, 3))).shape == (2, 0, 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_its_gradient_match_torch(torch, dtype, approximate):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(500) * 3, [0.0, 1.0, -1.0, 2.0, 3.5, -6.5, 7.0]])
    x = x.astype(dtype)
    up = rng.standard_normal(x.shape).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    n = nabla.tensor(x, requires_grad=True)
    tout = torch.nn.functional.gelu(t, approximate=approximate)
    nout = nabla.nn.functional.gelu(n, approximate=approximate)
    tout.backward(torch.tensor(up))
    nout.backward(nabla.tensor(up))
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == "float64" else {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(nout.detach().numpy(), tout.detach().numpy(), **tol)
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), **tol)
    m = nabla.nn.GELU(approximate=approximate)(nabla.tensor(x))
    np.testing.assert_allclose(m.numpy(), tout.detach().numpy(), **tol)


POWERS = [0, 1, 2, 3, 4, 0.5, 1.5, 2.5, -1, -2, -0.5, -1.5, 3.0, 1.7]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", POWERS)
def test_power_equals_numpy_power(p, dtype):
    x = np.random.default_rng(1).uniform(0.1, 3.0, (4, 5)).astype(dtype)
    got = power(x, p)
    assert got.dtype == dtype
    # within float rounding of NumPy's general power (a product rounds at each step)
    np.testing.assert_allclose(got, np.power(x, p), rtol=4 * np.finfo(dtype).eps, atol=0)
    if p == int(p) and p >= 0:  # negative bases and integer bases keep NumPy's values
        np.testing.assert_allclose(power(-x, p), np.power(-x, p), rtol=4 * np.finfo(dtype).eps)
        ints = np.arange(-3, 4)
        np.testing.assert_array_equal(power(ints, int(p)), ints ** int(p))


@pytest.mark.parametrize("p", POWERS)
def test_pow_gradient_matches_torch(torch, p):
    x = np.random.default_rng(2).uniform(0.1, 3.0, (3, 4))
    t = torch.tensor(x, requires_grad=True)
    n = nabla.tensor(x, requires_grad=True)
    (t**p).sum().backward()
    (n**p).sum().backward()
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-300)
    n2 = nabla.tensor(x, requires_grad=True)
    nabla.pow(n2, p).sum().backward()
    np.testing.assert_allclose(n2.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack_fast_path_values_and_gradients(torch, dim):
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((2, 3)) for _ in range(5)]
    nt = [nabla.tensor(x, requires_grad=True) for x in xs]
    tt = [torch.tensor(x, requires_grad=True) for x in xs]
    up = rng.standard_normal(torch.stack(tt, dim).shape)
    nout, tout = nabla.stack(nt, dim), torch.stack(tt, dim)
    np.testing.assert_array_equal(nout.detach().numpy(), tout.detach().numpy())
    nout.backward(nabla.tensor(up))
    tout.backward(torch.tensor(up))
    for n, t in zip(nt, tt):
        np.testing.assert_array_equal(n.grad.numpy(), t.grad.numpy())
    # the get_batch form: slices of one long tensor, integer dtype kept
    data = nabla.arange(100)
    got = nabla.stack([data[i : i + 8] for i in (3, 50, 91)])
    assert got.dtype == nabla.int64
    np.testing.assert_array_equal(got.numpy(), [np.arange(i, i + 8) for i in (3, 50, 91)])
    with pytest.raises(nabla.ShapeError, match="entry 1"):
        nabla.stack([nabla.zeros(2), nabla.zeros(3)])


@pytest.mark.parametrize("p", [3, 3.0, 4])
def test_pow_gradient_has_torchs_bits_with_any_incoming_gradient(torch, p):
    # torch's order is g * (p * a^(p-1)); (g * p) * a^(p-1) rounds differently.
    rng = np.random.default_rng(4)
    x = rng.uniform(-3.0, 3.0, (50, 40)).astype(np.float32)
    g = rng.standard_normal((50, 40)).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    n = nabla.tensor(x, requires_grad=True)
    torch.pow(t, p).backward(torch.tensor(g))
    nabla.pow(n, p).backward(nabla.tensor(g))
    np.testing.assert_array_equal(n.grad.numpy(), t.grad.numpy())
