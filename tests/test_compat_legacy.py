"""PyTorch spellings that course code carries: the typed constructors (``FloatTensor``),
``autograd.Variable``, ``Tensor.type()``, NumPy's ``axis=`` for ``dim`` (reductions,
``cat``, ``softmax``, ``cumsum``, ...), ``size=`` in the factories, and
``set_printoptions``; each against torch 2.13."""

from __future__ import annotations

import numpy as np
import pytest

import nabla

LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
          "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("name", LEGACY)
def test_typed_constructors_are_torchs(torch, name):
    for args in [(), (2, 3), (4,), ([1, 0, 2],), ([[1.5, 2.0], [0.0, 3.0]],),
                 (np.array([1, 2, 3]),)]:
        ours, theirs = getattr(nabla, name)(*args), getattr(torch, name)(*args)
        assert tuple(ours.shape) == tuple(theirs.shape), (name, args)
        assert _dtype_name(ours) == _dtype_name(theirs), (name, args)
        if args and not isinstance(args[0], int):  # data, not an uninitialised shape
            np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())
    t = nabla.ones(2, dtype=getattr(nabla, name).dtype)
    assert isinstance(t, getattr(nabla, name))
    assert t.type() == f"nabla.{name}" == torch.ones(2, dtype=getattr(torch, name).dtype).type(
    ).replace("torch.", "nabla.")
    assert getattr(nabla, name)(t) is t  # its own dtype: the same tensor


def test_typed_constructors_refuse_what_torch_refuses(torch):
    for lib, err in ((nabla, TypeError), (torch, TypeError)):
        with pytest.raises(err):
            lib.LongTensor(lib.ones(2))  # another dtype: no silent conversion
        with pytest.raises(err):
            lib.FloatTensor(2.5)  # a number is neither a shape nor data
    with pytest.raises(TypeError, match="LongTensor.*float32"):
        nabla.LongTensor(nabla.ones(2))
    with pytest.raises(TypeError, match="must be a sequence"):
        nabla.FloatTensor(2.5)


def test_isinstance_and_type_conversion():
    x = nabla.tensor([1.7, -2.2])
    assert isinstance(x, nabla.FloatTensor) and not isinstance(x, nabla.DoubleTensor)
    assert not isinstance([1.0], nabla.FloatTensor)
    y = x.type(nabla.LongTensor)
    assert y.dtype == nabla.int64 and y.tolist() == [1, -2]
    assert x.type(np.float64).dtype == nabla.float64  # a NumPy type still works
    assert x.type(nabla.float64).type() == "nabla.DoubleTensor"


def test_variable_is_a_detached_leaf_as_in_torch(torch):
    for lib in (nabla, torch):
        from_lib = lib.autograd.Variable
        base = lib.ones(2, requires_grad=True) * 2
        v = from_lib(base)
        assert v is not base and v.grad_fn is None and not v.requires_grad and v.is_leaf
        w = from_lib(lib.ones(2), requires_grad=True)
        (w * 3).sum().backward()
        assert w.grad.tolist() == [3.0, 3.0]
        assert isinstance(lib.zeros(1), from_lib) and not isinstance(1.0, from_lib)
        with pytest.raises(TypeError, match="Variable data has to be a tensor"):
            from_lib([1.0])
        with pytest.warns(UserWarning, match="volatile"):
            from_lib(lib.ones(1), volatile=True)
    from nabla.autograd import Variable

    v = nabla.tensor([1.0, 2.0])
    assert np.shares_memory(Variable(v).numpy(), v.numpy())  # the data, not a copy


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "amax", "amin", "argmax",
                                  "argmin", "var", "std", "logsumexp", "prod", "all", "any"])
def test_reductions_take_numpys_axis(torch, name):
    x0 = np.arange(1.0, 13.0).reshape(3, 4) ** 0.5
    x0[1, 2] = 0.0
    for kw in ({"axis": 1}, {"axis": 0, "keepdims": True}, {"axis": -1, "keepdim": True}):
        ours = getattr(nabla.tensor(x0), name)(**kw)
        theirs = getattr(torch.tensor(x0), name)(**kw)
        ours, theirs = (r[0] if isinstance(r, tuple) else r for r in (ours, theirs))
        if not isinstance(theirs, torch.Tensor):
            theirs = theirs.values
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
        assert ours.shape == tuple(theirs.shape)
    r = getattr(nabla, name)(nabla.tensor(x0), axis=0)
    assert (r[0] if isinstance(r, tuple) else r).shape == (4,)
    if name == "logsumexp":
        with pytest.raises(TypeError, match="dim"):
            nabla.tensor(x0).logsumexp()


AXIS_CALLS = {
    "cat": lambda m, x: m.cat([x, x], axis=1),
    "concatenate": lambda m, x: m.concatenate([x, x], axis=0),
    "stack": lambda m, x: m.stack([x, x], axis=2),
    "cumsum": lambda m, x: x.cumsum(axis=1),
    "cumsum function": lambda m, x: m.cumsum(x, axis=0),
    "cumprod": lambda m, x: x.cumprod(axis=1),
    "softmax": lambda m, x: x.softmax(axis=0),
    "log_softmax": lambda m, x: x.log_softmax(axis=-1),
    "squeeze": lambda m, x: x[:, :1].squeeze(axis=1),
    "unsqueeze": lambda m, x: x.unsqueeze(axis=1),
    "sort": lambda m, x: x.sort(axis=0, descending=True)[0],
    "argsort": lambda m, x: x.argsort(axis=1),
    "topk": lambda m, x: x.topk(2, axis=0)[1],
    "chunk": lambda m, x: x.chunk(2, axis=1)[1],
    "unbind": lambda m, x: x.unbind(axis=1)[2],
    "count_nonzero": lambda m, x: x.count_nonzero(axis=0),
}


@pytest.mark.parametrize("name", list(AXIS_CALLS))
def test_methods_with_a_dim_take_numpys_axis(torch, name):
    x0 = np.array([[3.0, 0.0, 2.0, 5.0], [1.0, 4.0, 0.0, 6.0], [7.0, 8.0, 9.0, 0.5]])
    ours = AXIS_CALLS[name](nabla, nabla.tensor(x0))
    theirs = AXIS_CALLS[name](torch, torch.tensor(x0))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_a_required_dim_left_out_is_named_as_in_torch(torch):
    for lib in (nabla, torch):
        for name in ("softmax", "cumsum", "unsqueeze"):
            with pytest.raises(TypeError, match='"dim"'):
                getattr(lib.ones(2, 3), name)()


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_take_size_as_a_keyword(torch, name):
    for size in [(2, 3), [4], ()]:
        ours, theirs = getattr(nabla, name)(size=size), getattr(torch, name)(size=size)
        assert ours.shape == tuple(theirs.shape) and _dtype_name(ours) == _dtype_name(theirs)
    assert getattr(nabla, name)(size=(2, 3), dtype=nabla.float64).dtype == nabla.float64
    for lib in (nabla, torch):
        for args, kwargs in (((2,), {"size": (3,)}), ((), {"size": 5})):
            with pytest.raises(TypeError):  # both, or a bare int: refused
                getattr(lib, name)(*args, **kwargs)


# ------------------------------------------------------------------ print options
@pytest.fixture
def default_print(torch):
    yield
    nabla.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


VALUES = [[1 / 3, 2.5, -100.25], [1.0, 2.0, 3.0], [1e-5, 3.0], [1e9, 1.0],
          [np.inf, -1.5, np.nan], [0.0, 0.0], [1, 2, 3], np.arange(2000.0).reshape(40, 50) / 7,
          np.arange(30.0).reshape(5, 6)]


@pytest.mark.parametrize("options", [
    {"precision": 2}, {"sci_mode": True}, {"sci_mode": False}, {"profile": "short"},
    {"threshold": 5, "edgeitems": 1}, {"linewidth": 30}, {"profile": "full", "linewidth": 120},
    {"precision": 6, "sci_mode": True}, {"edgeitems": 2, "threshold": 10, "linewidth": 50,
                                         "precision": 1}])
def test_print_options_print_as_torch(torch, default_print, options):
    nabla.set_printoptions(**options)
    torch.set_printoptions(**options)
    for v in VALUES:
        for dtype in (np.float32, np.float64):
            v0 = np.asarray(v)
            v0 = v0.astype(dtype) if v0.dtype.kind == "f" else v0
            assert str(nabla.tensor(v0)) == str(torch.tensor(v0)).replace("torch.", "nabla.")


def test_print_options_reset_and_refuse(torch, default_print):
    x = [1 / 3, 2.5]
    for lib in (nabla, torch):
        lib.set_printoptions(sci_mode=True)
        lib.set_printoptions(precision=2)  # every call sets sci_mode: back to None
    assert str(nabla.tensor(x)) == str(torch.tensor(x)).replace("torch.", "nabla.")
    assert str(nabla.tensor(x)) == "tensor([0.33, 2.50])"
    nabla.set_printoptions(profile="default")
    assert str(nabla.tensor(x)) == "tensor([0.3333, 2.5000])"
    with pytest.raises(ValueError, match="profile must be one of"):
        nabla.set_printoptions(profile="long")
    with pytest.raises(TypeError, match="precision must be an int"):
        nabla.set_printoptions(precision=2.5)
    assert str(nabla.tensor(x)) == "tensor([0.3333, 2.5000])"  # nothing changed
