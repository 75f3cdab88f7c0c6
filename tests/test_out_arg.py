"""PyTorch's ``out=`` keyword on the function forms (``out_arg.write``), against torch 2.13."""

import warnings

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")


def _pair(values, dtype=np.float32, requires_grad=False):
    arr = np.asarray(values, dtype=dtype)
    return (nabla.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def test_the_tensors_tutorial_lines():
    # PyTorch's "Tensors" tutorial: out= on matmul and mul, into rand_like tensors.
    a, ta = _pair(np.arange(12.0).reshape(3, 4))
    for lib, x in ((nabla, a), (torch, ta)):
        y3 = lib.rand_like(x @ x.T)
        assert lib.matmul(x, x.T, out=y3) is y3
        z3 = lib.rand_like(x)
        assert lib.mul(x, x, out=z3) is z3
        if lib is nabla:
            got = (y3.numpy(), z3.numpy())
        else:
            want = (y3.numpy(), z3.numpy())
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("call", [
    lambda lib, x, o: lib.exp(x, out=o),
    lambda lib, x, o: lib.add(x, 2.0, out=o),
    lambda lib, x, o: lib.sum(x, 1, out=o[:, 0]),
    lambda lib, x, o: lib.where(x > 1, x, -x, out=o),
    lambda lib, x, o: lib.maximum(x, x * 0 + 1.5, out=o),
    lambda lib, x, o: lib.neg(x, out=o),
    lambda lib, x, o: lib.cat([x[:1], x[1:]], out=o),
    lambda lib, x, o: lib.stack([x[0], x[1]], out=o),
    lambda lib, x, o: lib.lerp(x, x * 2, 0.25, out=o),
])
def test_function_forms_write_into_out_as_torch(call):
    x, tx = _pair([[0.5, 1.0, 2.0], [3.0, -1.0, 1.5]])
    o, to = nabla.zeros(2, 3), torch.zeros(2, 3)
    r, tr = call(nabla, x, o), call(torch, tx, to)
    np.testing.assert_allclose(o.numpy(), to.numpy(), rtol=1e-6)
    np.testing.assert_allclose(r.numpy(), tr.numpy(), rtol=1e-6)


def test_out_while_recording_a_graph_is_refused_as_in_torch():
    x, tx = _pair([1.0, 2.0], requires_grad=True)
    c, tc = _pair([3.0, 4.0])
    for lib, a, b in ((nabla, x, c), (torch, tx, tc)):
        with pytest.raises(RuntimeError, match="mul\\(\\): functions with out=.*requires grad"):
            lib.mul(a, b, out=lib.zeros(2))  # an input requires grad
        leaf = lib.zeros(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            lib.mul(b, b, out=leaf)  # out itself requires grad
        with lib.no_grad():  # no graph: allowed, even into a leaf that requires grad
            assert lib.mul(a, b, out=leaf) is leaf
        assert leaf.tolist() == [3.0, 8.0]
    # argmax has no gradient: out= is fine while its input requires grad
    i, ti = nabla.zeros((), dtype=nabla.int64), torch.zeros((), dtype=torch.int64)
    assert nabla.argmax(x, 0, out=i) is i and torch.argmax(tx, 0, out=ti) is ti
    assert i.item() == ti.item() == 1


def test_dtype_casts_within_its_kind_only():
    a, ta = _pair([1.5, 2.5])
    for lib, x in ((nabla, a), (torch, ta)):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            lib.mul(x, x, out=lib.zeros(2, dtype=lib.int64))
    o, to = nabla.zeros(2), torch.zeros(2)
    nabla.add(nabla.tensor([1, 2]), 1, out=o)
    torch.add(torch.tensor([1, 2]), 1, out=to)
    assert o.dtype == nabla.float32 and o.tolist() == to.tolist() == [2.0, 3.0]
    d = nabla.zeros(2, dtype=nabla.float64)
    nabla.mul(a, a, out=d)  # float32 into float64: the same kind
    assert d.dtype == nabla.float64 and d.tolist() == [2.25, 6.25]


def test_another_shape_is_resized_warning_unless_empty():
    a, ta = _pair(np.ones((2, 2)))
    for lib, x in ((nabla, a), (torch, ta)):
        o = lib.zeros(2, 3)
        with pytest.warns(UserWarning, match="resized"):
            lib.matmul(x, x, out=o)
        assert tuple(o.shape) == (2, 2) and o.tolist() == [[2.0, 2.0], [2.0, 2.0]]
        e = lib.zeros(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.matmul(x, x, out=e)
        assert tuple(e.shape) == (2, 2)


def test_bad_outs_are_named():
    x = nabla.tensor([[1.0, 5.0], [3.0, 2.0]])
    with pytest.raises(TypeError, match="argument 'out' must be a Tensor, not ndarray"):
        nabla.exp(x, out=np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="returns one tensor"):
        nabla.max(x, 1, out=nabla.zeros(2))  # (values, indices)
    flat = nabla.zeros(2, 1).expand(2, 2)
    with pytest.raises(RuntimeError, match="read-only"):
        nabla.mul(x, x, out=flat)
    assert flat.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_writing_into_a_saved_tensor_is_caught_by_backward():
    w = nabla.tensor([2.0, 3.0], requires_grad=True)
    x = nabla.tensor([1.0, 1.0])
    y = (w * x).sum()  # Mul saves x for w's gradient
    with nabla.no_grad():
        nabla.add(x, 1.0, out=x)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
