"""The Tensor itself: creation, conversion, dtypes and promotion, devices, in-place ops,
comparisons, indexing assignment, seeding, repr, shape queries and bad input.
PyTorch is the reference wherever it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import nabla

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def dtype_name(t) -> str:
    """'float32' for either library's tensors."""
    return str(t.dtype).split(".")[-1]


def libs():
    return (nabla, torch) if torch is not None else (nabla,)


# ---------------------------------------------------------------------- creation
@pytest.mark.parametrize(
    "data, expected",
    [
        ([1.0, 2.0], "float32"),
        (3.5, "float32"),
        ([1, 2.5], "float32"),
        ([1, 2], "int64"),
        (7, "int64"),
        ([True, False], "bool"),
        (np.array([1.0]), "float64"),
        (np.array([1.0], np.float32), "float32"),
        (np.array([1], np.int32), "int32"),
        (np.float64(2.0), "float64"),
        ([[1, 2], [3, 4]], "int64"),
    ],
)
def test_tensor_infers_dtype_like_torch(data, expected):
    t = nabla.tensor(data)
    assert dtype_name(t) == expected
    np.testing.assert_array_equal(t._data, np.asarray(data))
    if torch is not None:
        assert dtype_name(torch.tensor(data)) == expected


def test_tensor_copies_its_data():
    a = np.zeros(3)
    t = nabla.tensor(a)
    a[0] = 1
    assert t[0].item() == 0
    u = nabla.tensor(t)
    t._data[1] = 5
    assert u[1].item() == 0


def test_tensor_with_dtype_and_requires_grad():
    t = nabla.tensor([1, 2], dtype=nabla.float64, requires_grad=True)
    assert t.dtype == nabla.float64 and t.requires_grad and t.is_leaf
    assert nabla.tensor([1.7], dtype=nabla.int64).item() == 1
    assert nabla.tensor([1], dtype="float32").dtype == nabla.float32
    assert nabla.tensor([1], dtype=np.float64).dtype == nabla.float64
    assert nabla.tensor([1], dtype=float).dtype == nabla.float64  # as in PyTorch


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.zeros(2, 3),
        lambda lib: lib.zeros((2, 3)),
        lambda lib: lib.ones([2, 3]),
        lambda lib: lib.ones(4, dtype=lib.int64),
        lambda lib: lib.zeros(2, dtype=lib.float64),
        lambda lib: lib.full((2, 2), 1.5),
        lambda lib: lib.full((3,), 7),
        lambda lib: lib.full((2,), True),
        lambda lib: lib.arange(5),
        lambda lib: lib.arange(2, 11, 3),
        lambda lib: lib.arange(0, 1, 0.25),
        lambda lib: lib.arange(5.0),
        lambda lib: lib.linspace(0, 1, 5),
        lambda lib: lib.linspace(-2, 2, 4, dtype=lib.float64),
        lambda lib: lib.eye(3),
        lambda lib: lib.eye(2, 3),
        lambda lib: lib.zeros_like(lib.tensor([1, 2])),
        lambda lib: lib.ones_like(lib.zeros(2, dtype=lib.float64)),
        lambda lib: lib.full_like(lib.zeros(2), 3),
        lambda lib: lib.zeros(0),
        lambda lib: lib.zeros(2, 0),
        lambda lib: lib.ones(()),
    ],
)
def test_creation_functions_match_torch(make):
    t = make(nabla)
    assert isinstance(t, nabla.Tensor) and not t.requires_grad
    if torch is None:
        pytest.skip("torch not installed")
    ref = make(torch)
    assert t.shape == tuple(ref.shape) and dtype_name(t) == dtype_name(ref)
    np.testing.assert_allclose(t._data, ref.numpy(), rtol=1e-7)


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_random_creation(fn):
    t = getattr(nabla, fn)(200, 3)
    assert t.shape == (200, 3) and t.dtype == nabla.float32
    assert getattr(nabla, fn)(4, dtype=nabla.float64).dtype == nabla.float64
    assert getattr(nabla, fn)((2, 2), requires_grad=True).requires_grad
    like = getattr(nabla, fn + "_like")(nabla.zeros(3, 4, dtype=nabla.float64))
    assert like.shape == (3, 4) and like.dtype == nabla.float64
    if fn == "rand":
        assert 0 <= t._data.min() and t._data.max() < 1
    else:
        assert abs(t._data.mean()) < 0.3 and 0.7 < t._data.std() < 1.3
    with pytest.raises(TypeError, match="floating point"):
        getattr(nabla, fn)(3, dtype=nabla.int64)


def test_randint_and_randperm():
    t = nabla.randint(0, 10, (500,))
    assert t.dtype == nabla.int64 and t.shape == (500,)
    assert t._data.min() >= 0 and t._data.max() <= 9 and len(np.unique(t._data)) == 10
    u = nabla.randint(3, (4, 2))
    assert u.shape == (4, 2) and u._data.max() < 3
    assert nabla.randint(2, 5, (3,), dtype=nabla.int32).dtype == nabla.int32
    p = nabla.randperm(6)
    assert sorted(p.tolist()) == list(range(6)) and p.dtype == nabla.int64
    with pytest.raises(ValueError, match="high"):
        nabla.randint(5, 5, (2,))


def test_manual_seed_and_generators_reproduce():
    nabla.manual_seed(3)
    a = (nabla.randn(4), nabla.rand(2), nabla.randint(0, 100, (3,)), nabla.randperm(5))
    nabla.manual_seed(3)
    b = (nabla.randn(4), nabla.rand(2), nabla.randint(0, 100, (3,)), nabla.randperm(5))
    for x, y in zip(a, b):
        assert x.equal(y)
    g1, g2 = nabla.Generator().manual_seed(7), nabla.Generator().manual_seed(7)
    nabla.manual_seed(0)
    x = nabla.rand(5, generator=g1)
    nabla.rand(5)  # the global generator does not disturb g1/g2
    assert x.equal(nabla.rand(5, generator=g2))
    assert not nabla.rand(5, generator=g1).equal(x)
    state = nabla.get_rng_state()
    y = nabla.randn(3)
    nabla.set_rng_state(state)
    assert nabla.randn(3).equal(y)
    w = nabla.empty(4)
    w.normal_(generator=nabla.Generator().manual_seed(1))
    v = nabla.empty(4)
    v.normal_(generator=nabla.Generator().manual_seed(1))
    assert w.equal(v)


# -------------------------------------------------------------------- conversion
def test_from_numpy_shares_memory():
    a = np.zeros(3, dtype=np.float32)
    t = nabla.from_numpy(a)
    a[0] = 5
    t._data[1] = 7
    assert t.tolist() == [5.0, 7.0, 0.0] and a[1] == 7
    assert t.dtype == nabla.float32
    assert nabla.from_numpy(np.arange(3)).dtype == nabla.int64
    with pytest.raises(TypeError, match="numpy.ndarray"):
        nabla.from_numpy([1, 2])


def test_as_tensor_shares_when_it_can():
    a = np.ones(2)
    assert np.shares_memory(nabla.as_tensor(a)._data, a)
    t = nabla.tensor([1.0])
    assert nabla.as_tensor(t) is t
    assert nabla.as_tensor([1, 2]).dtype == nabla.int64


def test_numpy_item_tolist():
    t = nabla.tensor([[1.5, 2.0], [3.0, 4.0]])
    n = t.numpy()
    assert isinstance(n, np.ndarray) and np.shares_memory(n, t._data)
    assert nabla.tensor([[2.5]]).item() == 2.5 and isinstance(nabla.tensor([3]).item(), int)
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert nabla.tensor(2).tolist() == 2
    with pytest.raises(ValueError, match="2 elements"):
        nabla.tensor([1.0, 2.0]).item()
    w = nabla.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    assert w.detach().numpy().tolist() == [1.0]
    assert float(nabla.tensor([2.5])) == 2.5 and int(nabla.tensor(3.7)) == 3
    assert [10, 20, 30][nabla.tensor(1)] == 20  # __index__
    with pytest.raises(TypeError):
        [1, 2][nabla.tensor(1.0)]


def test_array_protocol_with_numpy2_copy_keyword():
    t = nabla.tensor([1.0, 2.0])
    assert np.shares_memory(np.asarray(t), t._data)
    assert np.shares_memory(np.array(t, copy=False), t._data)
    c = np.array(t, copy=True)
    assert not np.shares_memory(c, t._data) and c.tolist() == [1.0, 2.0]
    d = np.asarray(t, dtype=np.float64)
    assert d.dtype == np.float64 and d.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="copy"):
        np.array(t, dtype=np.float64, copy=False)
    assert np.add(t, 1).tolist() == [2.0, 3.0]  # ufuncs accept tensors through __array__


def test_dlpack():
    t = nabla.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t._data) and a.tolist() == [1.0, 2.0, 3.0]
    u = nabla.from_dlpack(np.arange(3.0))
    assert u.tolist() == [0.0, 1.0, 2.0]
    if torch is not None:
        tt = torch.from_dlpack(t)
        t._data[0] = 9
        assert tt[0].item() == 9  # zero copy into PyTorch
        assert nabla.from_dlpack(torch.tensor([4.0, 5.0])).tolist() == [4.0, 5.0]


# ------------------------------------------------------------------------ dtypes
def test_dtype_conversions():
    t = nabla.tensor([1.7, -2.7])
    assert t.to(nabla.float64).dtype == nabla.float64
    assert t.to("float64").dtype == nabla.float64
    assert t.to(np.float64).dtype == nabla.float64
    assert t.double().dtype == nabla.float64 and t.double().float().dtype == nabla.float32
    assert t.long().tolist() == [1, -2] and t.long().dtype == nabla.int64  # truncation
    assert t.int().dtype == nabla.int32 and t.half().dtype == nabla.float16
    assert t.bool().tolist() == [True, True]
    assert nabla.tensor([1, 2]).float().dtype == nabla.float32
    assert t.to(nabla.float32) is t and t.to(nabla.float32, copy=True) is not t
    assert t.type() == "nabla.FloatTensor" and t.type(nabla.float64).dtype == nabla.float64
    assert t.type_as(nabla.tensor([1])).dtype == nabla.int64
    assert t.to(nabla.tensor(1.0, dtype=nabla.float64)).dtype == nabla.float64


def test_cast_keeps_the_gradient_path():
    x = nabla.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == nabla.float64
    y.sum().backward()
    assert x.grad.dtype == nabla.float32 and x.grad.tolist() == [3.0, 3.0]
    assert not x.long().requires_grad  # an integer copy cannot carry a gradient


PROMOTION = [
    ("int tensor * 0.5", lambda lib: lib.tensor([1, 2]) * 0.5),
    ("0.5 * int tensor", lambda lib: 0.5 * lib.tensor([1, 2])),
    ("int / int", lambda lib: lib.tensor([1, 2]) / lib.tensor([2, 2])),
    ("int / 2", lambda lib: lib.tensor([1, 3]) / 2),
    ("float32 + python float", lambda lib: lib.tensor([1.0]) + 2.5),
    ("float32 * python int", lambda lib: lib.tensor([1.0]) * 3),
    ("int + python int", lambda lib: lib.tensor([1]) + 3),
    ("int + bool", lambda lib: lib.tensor([1]) + True),
    ("int + float32 tensor", lambda lib: lib.tensor([1]) + lib.tensor([1.5])),
    ("float32 + float64", lambda lib: lib.tensor([1.0]) + lib.tensor([2.0], dtype=lib.float64)),
    ("float32 + float64 0-d", lambda lib: lib.tensor([1.0]) + lib.tensor(2.5, dtype=lib.float64)),
    ("float64 0-d * float32", lambda lib: lib.tensor(2.5, dtype=lib.float64) * lib.tensor([1.0])),
    ("int32 + int64 0-d", lambda lib: lib.tensor([1], dtype=lib.int32) + lib.tensor(3)),
    ("int + float64 0-d", lambda lib: lib.tensor([1]) + lib.tensor(0.5, dtype=lib.float64)),
    ("float64 0-d + float32 0-d", lambda lib: lib.tensor(1.0, dtype=lib.float64) + lib.tensor(2.0)),
    ("int32 * python float", lambda lib: lib.tensor([3], dtype=lib.int32) * 1.5),
    ("uint8 + int wraps", lambda lib: lib.tensor([200], dtype=lib.uint8) + 100),
    ("bool + bool", lambda lib: lib.tensor([True]) + lib.tensor([True])),
    ("int sum", lambda lib: lib.tensor([1, 2]).sum()),
    ("bool sum", lambda lib: lib.tensor([True, True]).sum()),
    ("int sqrt", lambda lib: lib.tensor([4]).sqrt()),
    ("int exp", lambda lib: lib.tensor([0, 1]).exp()),
    ("int ** 2", lambda lib: lib.tensor([2, 3]) ** 2),
    ("float32 ** float64 tensor", lambda lib: lib.tensor([2.0]) ** lib.tensor([2.0],
                                                                           dtype=lib.float64)),
    ("int // 2", lambda lib: lib.tensor([7, -7]) // 2),
    ("int % 3", lambda lib: lib.tensor([7, -7]) % 3),
    ("comparison", lambda lib: lib.tensor([1.0, 2.0]) > 1.5),
]


@pytest.mark.parametrize("name, expr", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_promotion_like_torch(name, expr):
    pytest.importorskip("torch")
    n, t = expr(nabla), expr(torch)
    assert dtype_name(n) == dtype_name(t), f"{name}: {n.dtype} vs {t.dtype}"
    np.testing.assert_allclose(np.asarray(n.tolist()), np.asarray(t.tolist()), rtol=1e-6)


def test_default_dtype_can_be_float64():
    nabla.set_default_dtype(nabla.float64)
    assert nabla.tensor([1.0]).dtype == nabla.float64 and nabla.zeros(2).dtype == nabla.float64
    assert (nabla.tensor([1, 2]) * 0.5).dtype == nabla.float64
    assert repr(nabla.tensor([1.0])) == "tensor([1.])"
    nabla.set_default_dtype(nabla.float32)
    assert nabla.tensor([1.0]).dtype == nabla.float32
    with pytest.raises(TypeError, match="floating"):
        nabla.set_default_dtype(nabla.int64)


# ----------------------------------------------------------------------- devices
def test_cpu_device():
    t = nabla.tensor([1.0], device="cpu")
    assert t.device == "cpu" and str(t.device) == "cpu" and t.device == nabla.device("cpu")
    assert t.to("cpu") is t and t.cpu() is t
    assert nabla.zeros(2, device=nabla.device("cpu")).device.type == "cpu"


@pytest.mark.parametrize(
    "make",
    [
        lambda: nabla.tensor([1.0], device="cuda"),
        lambda: nabla.zeros(2, device="cuda:0"),
        lambda: nabla.randn(2, device="cuda"),
        lambda: nabla.tensor([1.0]).to("cuda"),
        lambda: nabla.tensor([1.0]).cuda(),
        lambda: nabla.device("cuda"),
    ],
)
def test_cuda_raises_clearly(make):
    with pytest.raises(RuntimeError, match="'cuda.*' is not available.*only the 'cpu'"):
        make()


# -------------------------------------------------------------- in-place, setitem
def test_in_place_ops_without_grad():
    t = nabla.tensor([1.0, 2.0, 3.0])
    data = t._data
    t += 1
    t -= nabla.tensor([1.0, 1.0, 1.0])
    t *= 2
    t /= 4
    assert t._data is data and t.tolist() == [0.5, 1.0, 1.5]
    t.add_(1, alpha=2).sub_(nabla.ones(3)).mul_(2).div_(2)
    assert t.tolist() == [1.5, 2.0, 2.5]
    t.clamp_(min=1.8, max=2.2)
    assert t.tolist() == pytest.approx([1.8, 2.0, 2.2])
    t.fill_(4).zero_()
    assert t.tolist() == [0.0, 0.0, 0.0]
    t.copy_(nabla.tensor([1, 2, 3]))
    assert t.tolist() == [1.0, 2.0, 3.0] and t.dtype == nabla.float32
    t.uniform_(2, 3)
    assert ((t >= 2) & (t < 3)).all()
    assert t._data is data  # every one of them wrote into the same memory


def test_in_place_errors_leave_the_tensor_unchanged():
    i = nabla.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        i += 1.5  # a float result cannot be stored in an int tensor (as in PyTorch)
    t = nabla.tensor([1.0, 2.0, 3.0])
    with pytest.raises(nabla.ShapeError, match=r"\(2,\).*\(3,\)"):
        t += nabla.zeros(2)
    with pytest.raises(nabla.ShapeError):
        t.copy_(nabla.zeros(4))
    with pytest.raises(nabla.ShapeError):
        nabla.zeros(3).add_(nabla.zeros(2, 3))  # the result would not fit in place
    assert i.tolist() == [1, 2] and t.tolist() == [1.0, 2.0, 3.0]


def test_in_place_on_an_expanded_view_is_refused():
    t = nabla.zeros(3, 1)
    e = t.expand(3, 4)
    with pytest.raises(RuntimeError, match="read-only.*clone"):
        e.add_(1)
    with pytest.raises(RuntimeError, match="read-only") as err:
        e += 1
    assert err.value.__suppress_context__  # one message, not NumPy's refusal behind it
    with pytest.raises(RuntimeError, match="read-only"):
        e[0] = 1.0
    assert t.tolist() == [[0.0], [0.0], [0.0]]
    c = e.clone()
    c += 1
    assert c.tolist() == [[1.0] * 4] * 3


def test_in_place_on_grad_tensors():
    w = nabla.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="requires grad"):
        w.fill_(0)
    with nabla.no_grad():
        w += 1
        w[0] = 10.0
    assert w.tolist() == [10.0, 3.0] and w.requires_grad and w.is_leaf


def test_setitem():
    t = nabla.zeros(2, 3)
    t[0] = 1.0
    t[:, 1] = nabla.tensor([5.0, 6.0])
    t[t > 5] = -1
    t[1, [0, 2]] = nabla.tensor([7.0, 8.0])
    t[..., -1:] += 0.5
    ref = np.zeros((2, 3))
    ref[0] = 1.0
    ref[:, 1] = [5.0, 6.0]
    ref[ref > 5] = -1
    ref[1, [0, 2]] = [7.0, 8.0]
    ref[..., -1:] += 0.5
    np.testing.assert_array_equal(t._data, ref)
    with pytest.raises(nabla.ShapeError, match=r"\(4,\)"):
        t[0] = nabla.zeros(4)
    np.testing.assert_array_equal(t._data, ref)


def test_views_share_memory_with_their_base():
    t = nabla.zeros(2, 3)
    t[0].fill_(1)
    t.reshape(6)[5:].fill_(2)
    t.T[0].fill_(3)
    np.testing.assert_array_equal(t._data, [[3, 1, 1], [3, 0, 2]])


# -------------------------------------------------------------------- comparisons
@pytest.mark.parametrize("op", ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"])
def test_comparisons_give_bool_without_grad(op):
    a = nabla.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    b = nabla.tensor([[2.0], [1.0]])
    out = getattr(a, op)(b)
    assert out.dtype == nabla.bool and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out._data, getattr(a._data, op)(b._data))
    assert getattr(a, op)(2.0).dtype == nabla.bool
    assert getattr(nabla.tensor([1, 2]), op)(1).dtype == nabla.bool


def test_logical_ops_and_predicates():
    a, b = nabla.tensor([True, False, True]), nabla.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (a ^ b).tolist() == [False, True, True]
    assert (~a).tolist() == [False, True, False]
    x = nabla.tensor([1.0, float("nan"), float("inf")])
    assert x.isnan().tolist() == [False, True, False]
    assert x.isinf().tolist() == [False, False, True]
    assert x.isfinite().tolist() == [True, False, False]
    assert a.any() and not a.all() and a.any().dtype == nabla.bool
    assert nabla.tensor([1.0, 2.0]).equal(nabla.tensor([1.0, 2.0]))
    assert not nabla.tensor([1.0, 2.0]).equal(nabla.tensor([1.0]))
    assert nabla.tensor([1.0, 2.0]).allclose(nabla.tensor([1.0, 2.0 + 1e-9]))
    with pytest.raises(nabla.ShapeError, match=r"\(3,\) and \(2,\)"):
        _ = nabla.tensor([1.0, 2.0, 3.0]) < nabla.zeros(2)


def test_comparison_is_not_identity():
    # __eq__ is elementwise, so tensors hash by identity and still work in sets/dicts
    a, b = nabla.tensor([1.0]), nabla.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


# -------------------------------------------------------------------------- repr
REPR_CASES = [
    [1.0, 2.0, 3.0],
    [1.5, -2.25, 3.0],
    [[1.0, 2.0], [3.0, 4.0]],
    [1, 2, 3],
    [-1, 20, 300],
    [True, False],
    3.5,
    7,
    [0.1, 100000.0],
    [1e-5, 1.0],
    [1e10, 1.0],
    [float("nan"), 1.0, float("inf")],
    [0.0, 0.0],
    list(range(2000)),
    np.arange(60.0).tolist(),
    (np.arange(24.0) - 12).reshape(2, 3, 4).tolist(),
    np.arange(1200.0).reshape(40, 30).tolist(),
]


@pytest.mark.parametrize("data", REPR_CASES, ids=[str(i) for i in range(len(REPR_CASES))])
def test_repr_matches_torch(data):
    pytest.importorskip("torch")
    assert repr(nabla.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "nabla.")


@pytest.mark.parametrize("shape", [(3,), (4, 5), (2, 3, 4), (25,)])
@pytest.mark.parametrize("scale", [1.0, 1000.0, 1e-3])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_repr_of_random_float32_matches_torch(shape, scale, requires_grad):
    pytest.importorskip("torch")
    x = (np.random.default_rng(0).standard_normal(shape) * scale).astype(np.float32)
    n = nabla.tensor(x, requires_grad=requires_grad)
    t = torch.tensor(x, requires_grad=requires_grad)
    assert repr(n) == repr(t).replace("torch.", "nabla.")


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
        lambda lib: lib.tensor([1, 2], dtype=lib.int32),
        lambda lib: lib.tensor([1, 2], dtype=lib.uint8),
        lambda lib: lib.zeros(0),
        lambda lib: lib.zeros(2, 0),
        lambda lib: lib.zeros(0, dtype=lib.int64),
        lambda lib: lib.zeros(5, 20, dtype=lib.float64, requires_grad=True),
        lambda lib: lib.tensor(2.0, requires_grad=True),
    ],
)
def test_repr_dtype_and_size_suffixes_match_torch(make):
    pytest.importorskip("torch")
    assert repr(make(nabla)) == repr(make(torch)).replace("torch.", "nabla.")


def test_repr_of_results_names_grad_fn():
    x = nabla.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert repr(x.sum()) == "tensor(3., grad_fn=<SumBackward>)"
    assert str(x) == repr(x)


# ------------------------------------------------------------------ shape queries
def test_shape_queries():
    t = nabla.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4)
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24 and len(t) == 2
    assert t.dtype == nabla.float32 and t.element_size() == 4 and t.is_floating_point()
    assert not nabla.tensor([1]).is_floating_point()
    rows = list(nabla.tensor([[1, 2], [3, 4]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]
    s = nabla.tensor(5.0)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    with pytest.raises(TypeError, match="0-d"):
        iter(s)
    with pytest.raises(IndexError, match="range"):
        t.size(3)
    if torch is not None:
        assert t.shape == torch.zeros(2, 3, 4).shape  # torch.Size is a tuple


def test_truth_value():
    assert bool(nabla.tensor([1.0])) and not bool(nabla.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(nabla.ones(2))


# -------------------------------------------------------------------- bad input
def test_bad_data():
    with pytest.raises(ValueError, match="could not make a tensor"):
        nabla.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        nabla.tensor("abc")
    with pytest.raises(TypeError, match="dtype"):
        nabla.zeros(2, dtype="complex64")
    with pytest.raises(TypeError, match="operand"):
        nabla.ones(2) + "a"
    with pytest.raises(TypeError, match="operand"):
        nabla.ones(2) * object()


@pytest.mark.parametrize(
    "fn, pattern",
    [
        (lambda: nabla.ones(2, 3) @ nabla.ones(4, 5), r"\(2, 3\) and \(4, 5\)"),
        (lambda: nabla.ones(3) @ nabla.ones(4), r"\(3,\) and \(4,\)"),
        (lambda: nabla.ones(2, 2, 3) @ nabla.ones(3, 3, 5), r"\(2, 2, 3\) and \(3, 3, 5\)"),
        (lambda: nabla.matmul(nabla.tensor(1.0), nabla.ones(2)), "at least one dimension"),
        (lambda: nabla.ones(2, 3) + nabla.ones(4), r"\(2, 3\) and \(4,\)"),
        (lambda: nabla.ones(2, 3) * nabla.ones(3, 2), r"\(2, 3\) and \(3, 2\)"),
        (lambda: nabla.maximum(nabla.ones(2), nabla.ones(3)), r"\(2,\) and \(3,\)"),
        (lambda: nabla.cat([nabla.ones(2, 3), nabla.ones(2, 4)]), r"\(2, 3\).*\(2, 4\)"),
        (lambda: nabla.cat([nabla.ones(2, 3), nabla.ones(3)]), r"\(2, 3\).*\(3,\)"),
        (lambda: nabla.stack([nabla.ones(2, 3), nabla.ones(2, 4)]), r"\(2, 3\).*\(2, 4\)"),
        (lambda: nabla.ones(2, 3).reshape(4, 2), r"\(4, 2\).*size 6"),
        (lambda: nabla.ones(2, 3).expand(4, 3), r"\(2, 3\).*\(4, 3\)"),
        (lambda: nabla.linear(nabla.ones(2, 3), nabla.ones(4, 5)), r"\(2, 3\).*\(4, 5\)"),
        (lambda: nabla.where(nabla.tensor([True, False, True]), nabla.ones(2), 0.0),
         r"\(3,\).*\(2,\)"),
        (lambda: nabla.ones(5).split([2, 2]), r"\[2, 2\].*5"),
        (lambda: nabla.ones(2, 3).repeat(2), "repeat"),
        (lambda: nabla.ones(2, 3).permute(0), "permute"),
    ],
)
def test_shape_errors_name_both_shapes(fn, pattern):
    with pytest.raises(nabla.ShapeError, match=pattern) as info:
        fn()
    # catchable the PyTorch way (RuntimeError) and the NumPy way (ValueError)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "fn, exc, pattern",
    [
        (lambda: nabla.ones(2, 3).sum(2), IndexError, r"\[-2, 1\].*2"),
        (lambda: nabla.ones(2).unsqueeze(3), IndexError, "range"),
        (lambda: nabla.ones(2, 3)[5], IndexError, r"shape \(2, 3\)"),
        (lambda: nabla.ones(2, 3).permute(0, 0), ValueError, "permutation"),
        (lambda: nabla.pad(nabla.ones(2), (1, 2, 3)), ValueError, "even"),
        (lambda: nabla.tensor([1, 2]).mean(), TypeError, "floating point"),
        (lambda: nabla.zeros(0).max(), RuntimeError, "empty"),
        (lambda: nabla.cat([]), ValueError, "non-empty"),
        (lambda: nabla.ones(2).gelu(approximate="fast"), ValueError, "approximate"),
        (lambda: nabla.ones(2).clamp(), ValueError, "min and max"),
        (lambda: nabla.arange(0, 5, 0), ValueError, "step"),
    ],
)
def test_bad_arguments(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_failed_op_leaves_operands_untouched():
    a, b = nabla.tensor([[1.0, 2.0, 3.0]]), nabla.tensor([1.0, 2.0])
    with pytest.raises(nabla.ShapeError):
        a + b
    with pytest.raises(nabla.ShapeError):
        a @ b
    assert a.tolist() == [[1.0, 2.0, 3.0]] and b.tolist() == [1.0, 2.0]
