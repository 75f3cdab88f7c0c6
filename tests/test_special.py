"""tensor_special.py and ops/special.py: values and gradients against torch 2.13."""

import warnings

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")

# name: the interval its inputs are drawn from (inside the function's domain)
UNARY = {
    "tan": (-1.2, 1.2), "asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "atan": (-3, 3),
    "sinh": (-3, 3), "cosh": (-3, 3), "asinh": (-3, 3), "acosh": (1.05, 4),
    "atanh": (-0.95, 0.95), "erf": (-3, 3), "exp2": (-3, 3), "arcsin": (-0.95, 0.95),
    "arccos": (-0.95, 0.95), "arctan": (-3, 3), "arcsinh": (-3, 3), "arccosh": (1.05, 4),
    "arctanh": (-0.95, 0.95),
}
TOL = {np.float32: 2e-6, np.float64: 1e-12}


def _both(arr, requires_grad=True):
    return (nabla.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_gradients_match_torch(name, dtype):
    lo, hi = UNARY[name]
    x = np.random.default_rng(len(name)).uniform(lo, hi, (3, 5)).astype(dtype)
    ours, theirs = _both(x)
    upstream = np.linspace(-1, 1, x.size).reshape(x.shape).astype(dtype)
    y, ty = getattr(nabla, name)(ours), getattr(torch, name)(theirs)
    y.backward(nabla.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    assert y.dtype == getattr(nabla, str(ty.dtype).split(".")[1])
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=TOL[dtype], atol=1e-30)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=TOL[dtype] * 4)
    assert getattr(ours, name)().tolist() == y.tolist()  # the method form


BINARY = ["atan2", "arctan2", "hypot", "logaddexp", "xlogy", "fmod", "remainder"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", BINARY)
def test_binary_values_and_broadcast_gradients_match_torch(name, dtype):
    rng = np.random.default_rng(len(name))
    a = rng.uniform(-3, 3, (3, 1)).astype(dtype)
    b = rng.uniform(0.5, 3, (4,)).astype(dtype) * rng.choice([-1, 1], 4)
    if name == "xlogy":
        a[0, 0], b = 0.0, np.abs(b)  # x = 0 gives 0 and no gradient to x there
    (oa, ta), (ob, tb) = _both(a), _both(b)
    y, ty = getattr(nabla, name)(oa, ob), getattr(torch, name)(ta, tb)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=TOL[dtype], atol=1e-12)
    for ours, theirs in ((oa, ta), (ob, tb)):
        assert tuple(ours.grad.shape) == tuple(theirs.grad.shape)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=TOL[dtype] * 4,
                                   atol=1e-12)


def test_domain_edges_as_torch_and_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's domain warnings stay inside the nodes
        cases = [("asin", [2.0, 1.0]), ("acosh", [1.0, 0.5]), ("atanh", [1.0, -1.0]),
                 ("tan", [1.5707964]), ("erf", [np.inf, -np.inf, np.nan])]
        for name, values in cases:
            ours = getattr(nabla, name)(nabla.tensor(values)).numpy()
            theirs = getattr(torch, name)(torch.tensor(values)).numpy()
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)
        x, y = [0.0, 0.0, 0.0, 2.0], [0.0, np.inf, np.nan, 0.0]
        np.testing.assert_array_equal(nabla.xlogy(nabla.tensor(x), nabla.tensor(y)).numpy(),
                                      torch.xlogy(torch.tensor(x), torch.tensor(y)).numpy())
        x, y = [0.0, 0.0, 0.0, 2.0, 0.0], [0.0, np.inf, np.nan, 0.0, 3.0]
        (ox, tx), (oy, ty) = _both(np.array(x)), _both(np.array(y))
        nabla.xlogy(ox, oy).sum().backward()
        torch.xlogy(tx, ty).sum().backward()
        for ours, theirs in ((ox, tx), (oy, ty)):  # PyTorch's choices at 0, inf and nan
            np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
        o, t = _both(np.array([1.0, 3.0], np.float32))
        nabla.acosh(o).sum().backward()
        torch.acosh(t).sum().backward()
        assert o.grad.tolist() == pytest.approx(t.grad.tolist())  # inf at 1, as PyTorch's


def test_integer_operands_take_torchs_dtypes():
    a, b = [7, -7, 5], [2, 2, -3]
    for name in ("fmod", "remainder", "floor_divide", "atan2"):
        ours = getattr(nabla, name)(nabla.tensor(a), nabla.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1], name
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert nabla.tensor(a).fmod(2.5).tolist() == torch.tensor(a).fmod(2.5).tolist()


def test_logical_functions_signbit_and_counts_as_torch():
    a, b = [0.0, 1.5, -2.0, 0.0], [3, 0, 1, 0]
    for name in ("logical_and", "logical_or", "logical_xor"):
        ours = getattr(nabla, name)(nabla.tensor(a), nabla.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == nabla.bool and ours.tolist() == theirs.tolist(), name
    not_a = nabla.logical_not(nabla.tensor(a))
    assert not_a.tolist() == torch.logical_not(torch.tensor(a)).tolist()
    assert nabla.logical_and(nabla.tensor(a), 1).tolist() == [False, True, True, False]
    z = [-0.0, 0.0, -1.0, 2.0]
    assert nabla.signbit(nabla.tensor(z)).tolist() == torch.signbit(torch.tensor(z)).tolist()
    m = [[0, 1, 2], [0, 0, 3]]
    for dim in (None, 0, 1, (0, 1)):
        ours = nabla.count_nonzero(nabla.tensor(m), dim=dim)
        theirs = torch.count_nonzero(torch.tensor(m), dim=dim)
        assert ours.dtype == nabla.int64 and ours.tolist() == theirs.tolist(), dim


def test_nan_to_num_values_and_gradient_as_torch():
    values = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    for kwargs in ({}, {"nan": 2.0, "posinf": 9.0, "neginf": -9.0}):
        o, t = _both(values)
        y, ty = nabla.nan_to_num(o, **kwargs), torch.nan_to_num(t, **kwargs)
        assert y.tolist() == ty.tolist()
        y.backward(nabla.tensor([1.0, 2.0, 3.0, 4.0]))
        ty.backward(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        assert o.grad.tolist() == t.grad.tolist()


def test_the_percent_operator_is_torchs_differentiable_remainder():
    values = np.array([5.5, -3.2, 0.7], np.float32)
    o, t = _both(values)
    y, ty = o % 2.0, t % 2.0
    (y * nabla.tensor([1.0, 2.0, 3.0])).sum().backward()
    (ty * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    assert o.grad.tolist() == t.grad.tolist()
    assert (7 % nabla.tensor([2.0, -3.0])).tolist() == (7 % torch.tensor([2.0, -3.0])).tolist()
    ints = nabla.tensor([7, -7]) % 3
    assert ints.dtype == nabla.int64 and ints.tolist() == (torch.tensor([7, -7]) % 3).tolist()
