"""Every differentiable op, checked one way by ``check_op``.

``check_op`` runs an op on the same inputs and compares it three ways: its forward
values against a NumPy reference in float32 and float64 (with and without graph
recording, since ``Function.apply`` takes a different path for each), its gradient
against central differences with ``nabla.gradcheck`` in float64, and its forward values
and ``.grad`` against PyTorch's (skipped where torch is absent). Inputs are built so
that gradchecks never sit on a kink: values away from 0 for abs/relu, distinct values
for max/min, values away from the bounds for clamp.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nabla

try:  # the oracle; check_op skips its PyTorch stage where it is absent
    import torch
except ImportError:  # pragma: no cover
    torch = None

HYP = settings(max_examples=25, deadline=None)
FEW = settings(max_examples=10, deadline=None)

# float32 results are compared with a float32 NumPy reference; float64 ones tightly.
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-6}, np.float64: {"rtol": 1e-10, "atol": 1e-12}}
TORCH_TOL = {"rtol": 1e-9, "atol": 1e-12}  # both libraries in float64


def _outs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def check_op(name, nabla_fn, numpy_fn, torch_fn, inputs, *, nondiff=(), grad=True, seed=0):
    """Check one op on ``inputs`` (NumPy arrays; float ones are differentiated).

    ``nabla_fn``/``torch_fn`` take tensors of their library, ``numpy_fn`` arrays; each
    returns one result or a tuple. ``torch_fn="same"`` runs ``nabla_fn`` on torch tensors:
    the API itself is then checked for parity; ``torch_fn=None`` skips PyTorch.
    ``nondiff`` lists float inputs that get no gradient; ``grad=False`` skips the
    gradcheck (for inputs on a kink, e.g. ties).
    """
    inputs = [np.asarray(a) for a in inputs]
    diff = [a.dtype.kind == "f" and i not in nondiff for i, a in enumerate(inputs)]
    rng = np.random.default_rng(seed)
    grads64 = None
    for dt in (np.float64, np.float32):
        arrays = [a.astype(dt) if a.dtype.kind == "f" else a for a in inputs]
        expected = [np.asarray(e) for e in _outs(numpy_fn(*[a.copy() for a in arrays]))]
        for record in (False, True):
            ts = [nabla.tensor(a, requires_grad=record and d) for a, d in zip(arrays, diff)]
            got = _outs(nabla_fn(*ts))
            where = f"{name} ({np.dtype(dt).name}, {'recording' if record else 'no grad'})"
            assert len(got) == len(expected), f"{where}: {len(got)} outputs"
            for k, (g, e) in enumerate(zip(got, expected)):
                assert isinstance(g, nabla.Tensor), f"{where}: output {k} is {type(g)}"
                assert g.shape == e.shape, f"{where}: output {k} shape {g.shape} != {e.shape}"
                if e.dtype.kind == "f":
                    assert g._data.dtype == dt, f"{where}: output {k} has dtype {g.dtype}"
                    np.testing.assert_allclose(g._data, e, **TOL[dt], err_msg=where)
                else:
                    assert g._data.dtype == e.dtype, f"{where}: output {k} dtype {g.dtype}"
                    np.testing.assert_array_equal(g._data, e, err_msg=where)
            for t, a in zip(ts, arrays):  # an op must never write into its inputs
                np.testing.assert_array_equal(t._data, a, err_msg=f"{where}: input changed")
        for k, g in enumerate(got):  # integer results (indices) never carry a gradient
            assert g._data.dtype.kind == "f" or not g.requires_grad, f"{name}: output {k}"
        if not any(diff) or not any(g._data.dtype.kind == "f" for g in got):
            continue
        # Backward in each dtype: gradients keep the input's shape and dtype, and the
        # float32 ones agree with the float64 ones.
        outs = [o for o in got if o.requires_grad]
        assert outs, f"{name}: no output requires grad"
        ups = [rng.standard_normal(o.shape).astype(dt) for o in outs]
        nabla.autograd.backward(outs, [nabla.tensor(u) for u in ups])
        grads = []
        for i, (t, d) in enumerate(zip(ts, diff)):
            if d:
                assert t.grad is not None, f"{name}: input {i} got no gradient"
                assert t.grad.shape == t.shape and t.grad._data.dtype == dt, (
                    f"{name}: grad of input {i} is {t.grad.shape} {t.grad.dtype}"
                )
                grads.append(t.grad._data)
        if grads64 is None:
            grads64 = grads
            rng = np.random.default_rng(seed)  # the same upstream gradients for float32
        else:
            for g32, g64 in zip(grads, grads64):
                np.testing.assert_allclose(
                    g32, g64, rtol=1e-3, atol=1e-4, err_msg=f"{name}: float32 gradient"
                )

    if grad and grads64:
        ts = [nabla.tensor(a, requires_grad=d) for a, d in zip(inputs, diff)]
        assert nabla.gradcheck(nabla_fn, ts), name

    if torch_fn is None:  # no PyTorch counterpart (e.g. negative slice steps)
        return
    pytest.importorskip("torch")
    torch_fn = nabla_fn if torch_fn == "same" else torch_fn
    tt = [torch.tensor(a, requires_grad=d) for a, d in zip(inputs, diff)]
    nt = [nabla.tensor(a, requires_grad=d) for a, d in zip(inputs, diff)]
    tout, nout = _outs(torch_fn(*tt)), _outs(nabla_fn(*nt))
    assert len(tout) == len(nout), f"{name}: {len(nout)} outputs, torch gives {len(tout)}"
    for k, (t, n) in enumerate(zip(tout, nout)):
        assert n.shape == tuple(t.shape), f"{name} output {k}: {n.shape} vs torch {t.shape}"
        assert n.dtype.name == str(t.dtype).split(".")[1], f"{name} output {k}: {n.dtype}"
        assert n.requires_grad == t.requires_grad, f"{name} output {k}: requires_grad"
        np.testing.assert_allclose(
            n._data, t.detach().numpy(), **TORCH_TOL, err_msg=f"{name} output {k} vs torch"
        )
    pairs = [(t, n) for t, n in zip(tout, nout) if t.requires_grad]
    if not pairs:
        return
    ups = [rng.standard_normal(tuple(t.shape)) for t, _ in pairs]
    torch.autograd.backward([t for t, _ in pairs], [torch.tensor(u) for u in ups])
    nabla.autograd.backward([n for _, n in pairs], [nabla.tensor(u) for u in ups])
    for i, (t, n) in enumerate(zip(tt, nt)):
        if t.grad is None:
            assert n.grad is None, f"{name}: input {i} has a grad, torch has none"
            continue
        assert n.grad is not None, f"{name}: input {i} has no grad, torch has one"
        np.testing.assert_allclose(
            n.grad._data, t.grad.numpy(), **TORCH_TOL, err_msg=f"{name}: grad of input {i}"
        )


# --------------------------------------------------------------------- inputs
def normal(rng, shape):
    return rng.standard_normal(shape)


def away(rng, shape, gap=0.2):
    """Normal values pushed at least ``gap`` away from 0 (off the kink of abs/relu)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, 1.0, -1.0) * (gap + np.abs(x))


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def distinct(rng, shape):
    """Values at least 0.15 apart, so max/min/sort have no ties within eps."""
    n = math.prod(shape)
    x = (rng.permutation(n) - n / 2) * 0.25 + rng.uniform(-0.05, 0.05, n)
    return x.reshape(shape)


def separated(rng, *shapes, gap=0.05):
    """Normal arrays whose broadcast elementwise differences all exceed ``gap``."""
    while True:
        xs = [rng.standard_normal(s) for s in shapes]
        b = np.broadcast_arrays(*xs)
        if all(np.abs(b[i] - b[j]).min() > gap for i in range(len(b)) for j in range(i)):
            return xs


def off_bounds(rng, shape):
    """Normal values kept 0.05 away from +-0.5, where clamp's gradient jumps."""
    x = rng.standard_normal(shape)
    for b in (-0.5, 0.5):
        x = np.where(np.abs(x - b) < 0.05, x + 0.12, x)
    return x


def erf(x):
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


seeds = st.integers(0, 2**32 - 1)
small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
nonscalar = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
two_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
three_shapes = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)


# ------------------------------------------------------------------ elementwise
def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


UNARY = {
    # name: (nabla fn, numpy fn, torch fn, input maker)
    "neg": (lambda x: -x, np.negative, "same", normal),
    "pos": (lambda x: +x, np.positive, "same", normal),
    "exp": (lambda x: x.exp(), np.exp, "same", normal),
    "exp_fn": (lambda x: nabla.exp(x), np.exp, lambda x: torch.exp(x), normal),
    "log": (lambda x: x.log(), np.log, "same", positive),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, "same", positive),
    "rsqrt": (lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), "same", positive),
    "abs": (lambda x: x.abs(), np.abs, "same", away),
    "abs_builtin": (lambda x: abs(x), np.abs, "same", away),
    "sin": (lambda x: x.sin(), np.sin, "same", normal),
    "cos": (lambda x: nabla.cos(x), np.cos, lambda x: torch.cos(x), normal),
    "tanh": (lambda x: x.tanh(), np.tanh, "same", normal),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), "same", normal),
    "sigmoid_big": (
        lambda x: (x * 30).sigmoid(),
        lambda x: 0.5 * (1 + np.tanh(x * 15)),  # sigmoid without overflow in exp
        lambda x: (x * 30).sigmoid(),
        normal,
    ),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0), "same", away),
    "leaky_relu": (
        lambda x: x.leaky_relu(0.1),
        lambda x: np.where(x > 0, x, 0.1 * x),
        lambda x: torch.nn.functional.leaky_relu(x, 0.1),
        away,
    ),
    "leaky_relu_default": (
        lambda x: x.leaky_relu(),
        lambda x: np.where(x > 0, x, 0.01 * x),
        lambda x: torch.nn.functional.leaky_relu(x),
        away,
    ),
    "softplus": (
        lambda x: x.softplus(),
        lambda x: np.log1p(np.exp(x)),
        lambda x: torch.nn.functional.softplus(x),
        normal,
    ),
    "softplus_beta": (
        lambda x: (x * 4).softplus(beta=2.0, threshold=5.0),
        lambda x: np.where(8 * x > 5, 4 * x, np.log1p(np.exp(8 * x)) / 2),
        lambda x: torch.nn.functional.softplus(x * 4, beta=2.0, threshold=5.0),
        away,
    ),
    "gelu": (
        lambda x: x.gelu(),
        lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
        lambda x: torch.nn.functional.gelu(x),
        normal,
    ),
    "gelu_tanh": (
        lambda x: x.gelu(approximate="tanh"),
        _gelu_tanh,
        lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
        normal,
    ),
    "square": (lambda x: x.square(), np.square, "same", normal),
    "log1p": (lambda x: x.log1p(), np.log1p, "same", positive),
    "expm1": (lambda x: x.expm1(), np.expm1, "same", normal),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), "same", off_bounds),
    "clamp_min": (lambda x: x.clamp(min=0.3), lambda x: np.maximum(x, 0.3), "same", normal),
    "clamp_max": (lambda x: x.clamp(max=-0.2), lambda x: np.minimum(x, -0.2), "same", normal),
    "clip": (lambda x: x.clip(-1, 1), lambda x: np.clip(x, -1, 1), "same", normal),
    "sub_scalar": (lambda x: x - 2, lambda x: x - 2, "same", normal),
    "rsub_scalar": (lambda x: 2 - x, lambda x: 2 - x, "same", normal),
    "add_scalar": (lambda x: x + 2.5, lambda x: x + 2.5, "same", normal),
    "radd_scalar": (lambda x: 2.5 + x, lambda x: 2.5 + x, "same", normal),
    "mul_scalar": (lambda x: x * 3, lambda x: x * 3, "same", normal),
    "rmul_scalar": (lambda x: 3 * x, lambda x: 3 * x, "same", normal),
    "div_scalar": (lambda x: x / 4, lambda x: x / 4, "same", normal),
    "rdiv_scalar": (lambda x: 2 / x, lambda x: 2 / x, "same", away),
    "pow2": (lambda x: x**2, lambda x: x**2, "same", normal),
    "pow3": (lambda x: x**3, lambda x: x**3, "same", normal),
    "pow_half": (lambda x: x**0.5, np.sqrt, "same", positive),
    "pow_neg": (lambda x: x**-1.5, lambda x: x**-1.5, "same", positive),
    "pow0": (lambda x: x**0, lambda x: x**0, "same", normal),
    "rpow": (lambda x: 2**x, lambda x: 2**x, "same", normal),
    "add_self": (lambda x: x + x, lambda x: x + x, "same", normal),
    "mul_self": (lambda x: x * x * x, lambda x: x * x * x, "same", normal),
    "sub_self": (lambda x: x - x * 2, lambda x: x - x * 2, "same", normal),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FEW
@given(shape=small_shapes, seed=seeds)
def test_unary(name, shape, seed):
    fn, ref, tfn, make = UNARY[name]
    rng = np.random.default_rng(seed)
    check_op(name, fn, ref, tfn, [make(rng, shape)], seed=seed)


BINARY = {
    "add": (lambda a, b: a + b, np.add, normal, normal),
    "sub": (lambda a, b: a - b, np.subtract, normal, normal),
    "mul": (lambda a, b: a * b, np.multiply, normal, normal),
    "div": (lambda a, b: a / b, np.divide, normal, away),
    "pow": (lambda a, b: a**b, np.power, positive, normal),
    "add_method": (lambda a, b: a.add(b), np.add, normal, normal),
    "mul_method": (lambda a, b: a.mul(b), np.multiply, normal, normal),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@HYP
@given(shapes=two_shapes, seed=seeds)
def test_binary_broadcasting(name, shapes, seed):
    fn, ref, make_a, make_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = make_a(rng, shapes.input_shapes[0]), make_b(rng, shapes.input_shapes[1])
    check_op(name, fn, ref, "same", [a, b], seed=seed)


@pytest.mark.parametrize(
    "name, fn, ref, tfn",
    [
        ("maximum", nabla.maximum, np.maximum, lambda a, b: torch.maximum(a, b)),
        ("minimum", nabla.minimum, np.minimum, lambda a, b: torch.minimum(a, b)),
        ("maximum_method", lambda a, b: a.maximum(b), np.maximum, "same"),
        ("max_binary", lambda a, b: a.max(b), np.maximum, "same"),
        ("min_binary", lambda a, b: a.min(b), np.minimum, "same"),
    ],
)
@HYP
@given(shapes=two_shapes, seed=seeds)
def test_maximum_minimum(name, fn, ref, tfn, shapes, seed):
    rng = np.random.default_rng(seed)
    check_op(name, fn, ref, tfn, separated(rng, *shapes.input_shapes), seed=seed)


@HYP
@given(shapes=three_shapes, seed=seeds)
def test_where_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shapes.input_shapes[0]) < 0.5
    x, y = normal(rng, shapes.input_shapes[1]), normal(rng, shapes.input_shapes[2])
    check_op(
        "where", nabla.where, np.where, lambda c, a, b: torch.where(c, a, b), [cond, x, y]
    )


def test_where_with_scalar_operands(rng):
    cond, x = rng.random((3, 4)) < 0.5, normal(rng, (3, 4))
    check_op(
        "where_scalar_y",
        lambda c, a: nabla.where(c, a, 0.0),
        lambda c, a: np.where(c, a, 0.0),
        lambda c, a: torch.where(c, a, 0.0),
        [cond, x],
    )
    check_op(
        "where_scalar_x",
        lambda c, a: nabla.where(c, 2.0, a),
        lambda c, a: np.where(c, 2.0, a),
        lambda c, a: torch.where(c, 2.0, a),
        [cond, x],
    )
    check_op(
        "masked_fill",
        lambda c, a: a.masked_fill(c, -1.0),
        lambda c, a: np.where(c, -1.0, a),
        "same",
        [cond, x],
    )


def test_clamp_with_tensor_bounds(rng):
    x, lo, hi = separated(rng, (3, 4), (4,), (3, 1))
    lo, hi = np.minimum(lo, hi.min()) - 0.1, np.maximum(hi, lo.max()) + 0.1
    check_op(
        "clamp_tensor", lambda a, l, h: a.clamp(l, h), lambda a, l, h: np.clip(a, l, h),
        "same", [x, lo, hi],
    )


def test_operands_from_numpy_arrays(rng):
    x, c = normal(rng, (2, 3)), normal(rng, (3,))
    # ndarray on the left: __array_priority__ hands the op to Tensor.__radd__ etc.
    def same(a):  # c in the dtype of the tensor (mixing float32 and 64 gives float64)
        return c.astype(a.dtype.np if isinstance(a, nabla.Tensor) else a.dtype)

    check_op("ndarray_radd", lambda a: same(a) + a, lambda a: same(a) + a,
             lambda a: torch.tensor(c) + a, [x])
    check_op("ndarray_rmul", lambda a: same(a) * a, lambda a: same(a) * a,
             lambda a: torch.tensor(c) * a, [x])
    check_op("ndarray_sub", lambda a: a - same(a), lambda a: a - same(a),
             lambda a: a - torch.tensor(c), [x])


def test_ties_share_the_gradient_like_torch():
    # At a tie the derivative does not exist; PyTorch splits the gradient evenly
    # (maximum/minimum and a full max/amax) or gives it to the returned index (max(dim)).
    a = np.array([[1.0, 2.0, 2.0], [3.0, 3.0, 0.0]])
    b = np.array([1.0, 5.0, 2.0])
    check_op("maximum_tie", nabla.maximum, np.maximum, lambda x, y: torch.maximum(x, y),
             [a, b], grad=False)
    check_op("minimum_tie", nabla.minimum, np.minimum, lambda x, y: torch.minimum(x, y),
             [a, b], grad=False)
    check_op("max_all_tie", lambda x: x.max(), np.max, "same", [a], grad=False)
    check_op("min_all_tie", lambda x: x.min(), np.min, "same", [a[:, :2]], grad=False)
    check_op("amax_tie", lambda x: x.amax(1), lambda x: x.max(1), "same", [a], grad=False)
    check_op("clamp_at_bound", lambda x: x.clamp(1.0, 2.0), lambda x: np.clip(x, 1.0, 2.0),
             "same", [a], grad=False)
    check_op("relu_at_zero", lambda x: x.relu(), lambda x: np.maximum(x, 0), "same",
             [np.array([-1.0, 0.0, 1.0])], grad=False)
    check_op("abs_at_zero", lambda x: x.abs(), np.abs, "same",
             [np.array([-1.0, 0.0, 1.0])], grad=False)


# ------------------------------------------------------------------ reductions
@st.composite
def shape_and_dims(draw, min_size=1):
    """A shape, and dim given as None, an int (maybe negative) or a tuple of ints."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_size, max_side=4))
    nd = len(shape)
    dim = draw(
        st.one_of(
            st.none(),
            st.integers(-nd, nd - 1),
            st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(
                lambda ds: tuple(d - nd if i % 2 else d for i, d in enumerate(ds))
            ),
        )
    )
    return shape, dim


REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda x, d, k: x.sum(d, keepdims=k)),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda x, d, k: x.mean(d, keepdims=k)),
    "var": (lambda x, d, k: x.var(d, keepdim=k), lambda x, d, k: x.var(d, ddof=1, keepdims=k)),
    "std": (lambda x, d, k: x.std(d, keepdim=k), lambda x, d, k: x.std(d, ddof=1, keepdims=k)),
    "var_biased": (
        lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
        lambda x, d, k: x.var(d, keepdims=k),
    ),
    "std_correction0": (
        lambda x, d, k: x.std(d, correction=0, keepdim=k),
        lambda x, d, k: x.std(d, keepdims=k),
    ),
    # torch.amax has no dim=None: leaving dim out means every dim there
    "amax": (lambda x, d, k: x.amax(keepdim=k) if d is None else x.amax(d, keepdim=k),
             lambda x, d, k: x.max(d, keepdims=k)),
    "amin": (lambda x, d, k: x.amin(keepdim=k) if d is None else x.amin(d, keepdim=k),
             lambda x, d, k: x.min(d, keepdims=k)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@HYP
@given(sd=shape_and_dims(min_size=2), keepdim=st.booleans(), seed=seeds)
def test_reduction_over_dims(name, sd, keepdim, seed):
    (shape, dim), (fn, ref) = sd, REDUCTIONS[name]
    x = distinct(np.random.default_rng(seed), shape)
    check_op(f"{name}(dim={dim}, keepdim={keepdim})", lambda t: fn(t, dim, keepdim),
             lambda a: ref(a, dim, keepdim), "same", [x], seed=seed)


@HYP
@given(sd=shape_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_logsumexp(sd, keepdim, seed):
    shape, dim = sd
    dim = tuple(range(len(shape))) if dim is None else dim
    x = normal(np.random.default_rng(seed), shape) * 3
    check_op(
        f"logsumexp(dim={dim}, keepdim={keepdim})",
        lambda t: t.logsumexp(dim, keepdim=keepdim),
        lambda a: np.log(np.exp(a).sum(dim, keepdims=keepdim)),
        "same",
        [x],
        seed=seed,
    )


def test_logsumexp_is_stable(rng):
    x = normal(rng, (3, 4)) + np.array([[1000.0], [-1000.0], [0.0]])
    check_op("logsumexp_large", lambda t: t.logsumexp(1), lambda a: np.logaddexp.reduce(a, 1),
             "same", [x])


@pytest.mark.parametrize("op", ["max", "min"])
@HYP
@given(shape=nonscalar, keepdim=st.booleans(), data=st.data())
def test_max_min_along_dim_give_values_and_indices(op, shape, keepdim, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = distinct(np.random.default_rng(len(shape)), shape)
    argf, valf = (np.argmax, np.max) if op == "max" else (np.argmin, np.min)
    check_op(
        f"{op}(dim={dim}, keepdim={keepdim})",
        lambda t: tuple(getattr(t, op)(dim, keepdim=keepdim)),
        lambda a: (valf(a, dim, keepdims=keepdim), argf(a, dim, keepdims=keepdim)),
        lambda t: tuple(getattr(t, op)(dim, keepdim=keepdim)),
        [x],
    )
    # the named fields, as in PyTorch
    res = getattr(nabla.tensor(x), op)(dim, keepdim=keepdim)
    np.testing.assert_array_equal(res.values._data, valf(x, dim, keepdims=keepdim))
    np.testing.assert_array_equal(res.indices._data, argf(x, dim, keepdims=keepdim))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_everything(op, rng):
    x = distinct(rng, (3, 4))
    check_op(f"{op}()", lambda t: getattr(t, op)(), getattr(np, op), "same", [x])
    check_op(f"nabla.{op}", getattr(nabla, op), getattr(np, op),
             lambda t: getattr(torch, op)(t), [x])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@HYP
@given(shape=nonscalar, keepdim=st.booleans(), data=st.data())
def test_argmax_argmin(op, shape, keepdim, data):
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    x = distinct(np.random.default_rng(len(shape)), shape)
    if dim is None:
        check_op(op, lambda t: getattr(t, op)(), getattr(np, op), "same", [x])
        return
    check_op(
        f"{op}(dim={dim}, keepdim={keepdim})",
        lambda t: getattr(t, op)(dim, keepdim=keepdim),
        lambda a: getattr(np, op)(a, dim, keepdims=keepdim),
        "same",
        [x],
    )


@HYP
@given(shape=nonscalar, keepdim=st.booleans(), data=st.data(), seed=seeds)
def test_prod(shape, keepdim, data, seed):
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    x = positive(np.random.default_rng(seed), shape)
    if dim is None:
        check_op("prod()", lambda t: t.prod(), np.prod, "same", [x])
    else:
        check_op(f"prod(dim={dim}, keepdim={keepdim})", lambda t: t.prod(dim, keepdim=keepdim),
                 lambda a: a.prod(dim, keepdims=keepdim), "same", [x])


@pytest.mark.parametrize("zeros", [[(0, 1)], [(0, 1), (2, 3)], [(1, 0), (1, 2)], [(0, 0), (1, 0)]])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_with_zeros(zeros, dim, rng):
    # The gradient of a product at a zero is the product of the others: dividing the
    # product by the element (the easy formula) would give nan there.
    x = positive(rng, (3, 4))
    for z in zeros:
        x[z] = 0.0
    if dim is None:
        check_op("prod_zeros", lambda t: t.prod(), np.prod, "same", [x])
    else:
        check_op(f"prod_zeros(dim={dim})", lambda t: t.prod(dim), lambda a: a.prod(dim),
                 "same", [x])
        check_op(f"prod_zeros(dim={dim}, keepdim)", lambda t: t.prod(dim, keepdim=True),
                 lambda a: a.prod(dim, keepdims=True), "same", [x])


def test_reduction_function_forms(rng):
    x = distinct(rng, (3, 4))
    check_op("nabla.sum", lambda t: nabla.sum(t, dim=1), lambda a: a.sum(1),
             lambda t: torch.sum(t, dim=1), [x])
    check_op("nabla.mean", lambda t: nabla.mean(t, (0, 1)), lambda a: a.mean((0, 1)),
             lambda t: torch.mean(t, (0, 1)), [x])
    check_op("sum_all_keepdim", lambda t: t.sum(keepdim=True),
             lambda a: a.sum(keepdims=True), lambda t: t.sum(dim=None, keepdim=True), [x])


def test_sum_of_ints_and_bools_gives_int64():
    for data in ([1, 2, 3], [True, False, True]):
        for lib in (nabla, torch) if torch else (nabla,):
            s = lib.tensor(data).sum()
            assert str(s.dtype).split(".")[1] == "int64" and s.item() == sum(data)


# -------------------------------------------------------------------- movement
X3 = (2, 3, 4)

MOVEMENT = {
    # name: (nabla fn (also run on torch), numpy fn, input shapes)
    "reshape": (lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6), [X3]),
    "reshape_tuple": (lambda x: x.reshape((3, -1)), lambda a: a.reshape(3, -1), [X3]),
    "reshape_flat": (lambda x: x.reshape(-1), lambda a: a.reshape(-1), [X3]),
    "reshape_scalar": (lambda x: x.reshape(()), lambda a: a.reshape(()), [(1, 1)]),
    "reshape_same": (lambda x: x.reshape(2, 3, 4) * 1, lambda a: a * 1, [X3]),
    "view": (lambda x: x.view(6, 4), lambda a: a.reshape(6, 4), [X3]),
    "view_transposed": (lambda x: x.transpose(0, 1).reshape(3, 8),
                        lambda a: a.transpose(1, 0, 2).reshape(3, 8), [X3]),
    "flatten": (lambda x: x.flatten(), lambda a: a.reshape(-1), [X3]),
    "flatten_1": (lambda x: x.flatten(1), lambda a: a.reshape(2, -1), [X3]),
    "flatten_0_1": (lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4), [X3]),
    "transpose": (lambda x: x.transpose(0, 2), lambda a: a.transpose(2, 1, 0), [X3]),
    "transpose_neg": (lambda x: x.transpose(-1, -2), lambda a: a.transpose(0, 2, 1), [X3]),
    "permute": (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [X3]),
    "permute_tuple": (lambda x: x.permute((1, 2, 0)), lambda a: a.transpose(1, 2, 0), [X3]),
    "T": (lambda x: x.T, lambda a: a.T, [(3, 4)]),
    "mT": (lambda x: x.mT, lambda a: a.swapaxes(-1, -2), [X3]),
    "t": (lambda x: x.t(), lambda a: a.T, [(3, 4)]),
    "squeeze": (lambda x: x.squeeze(), lambda a: a.squeeze(), [(2, 1, 3, 1)]),
    "squeeze_1": (lambda x: x.squeeze(1), lambda a: a.squeeze(1), [(2, 1, 3, 1)]),
    "squeeze_neg": (lambda x: x.squeeze(-1), lambda a: a.squeeze(-1), [(2, 1, 3, 1)]),
    "squeeze_not_one": (lambda x: x.squeeze(0), lambda a: a, [(2, 1, 3, 1)]),
    "unsqueeze_0": (lambda x: x.unsqueeze(0), lambda a: a[None], [X3]),
    "unsqueeze_2": (lambda x: x.unsqueeze(2), lambda a: a[:, :, None], [X3]),
    "unsqueeze_neg": (lambda x: x.unsqueeze(-1), lambda a: a[..., None], [X3]),
    "expand": (lambda x: x.expand(2, 3, 4), lambda a: np.broadcast_to(a, X3), [(3, 1)]),
    "expand_minus1": (lambda x: x.expand(-1, 4), lambda a: np.broadcast_to(a, (3, 4)), [(3, 1)]),
    "expand_as": (lambda x, y: x.expand_as(y) * y, lambda a, b: a * b, [(1, 4), (3, 4)]),
    "repeat": (lambda x: x.repeat(2, 3), lambda a: np.tile(a, (2, 3)), [(2, 3)]),
    "repeat_new_dim": (lambda x: x.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), [(2, 3)]),
    "cat_0": (lambda a, b: nabla_or_torch(a).cat([a, b]), lambda a, b: np.concatenate([a, b]),
              [(2, 3), (4, 3)]),
    "cat_1": (lambda a, b, c: nabla_or_torch(a).cat([a, b, c], dim=1),
              lambda a, b, c: np.concatenate([a, b, c], 1), [(2, 1), (2, 3), (2, 2)]),
    "cat_neg": (lambda a, b: nabla_or_torch(a).cat((a, b), -1),
                lambda a, b: np.concatenate([a, b], -1), [(2, 3, 1), (2, 3, 2)]),
    "cat_same": (lambda a: nabla_or_torch(a).cat([a, a * 2]),
                 lambda a: np.concatenate([a, a * 2]), [(2, 3)]),
    "stack_0": (lambda a, b: nabla_or_torch(a).stack([a, b]), lambda a, b: np.stack([a, b]),
                [(2, 3), (2, 3)]),
    "stack_1": (lambda a, b, c: nabla_or_torch(a).stack([a, b, c], dim=1),
                lambda a, b, c: np.stack([a, b, c], 1), [(2, 3)] * 3),
    "stack_neg": (lambda a, b: nabla_or_torch(a).stack([a, b], -1),
                  lambda a, b: np.stack([a, b], -1), [(2, 3), (2, 3)]),
    "split_int": (lambda x: x.split(2, dim=1), lambda a: np.split(a, [2], 1), [(2, 3, 4)]),
    "split_sizes": (lambda x: x.split([1, 3], dim=-1), lambda a: np.split(a, [1], -1), [X3]),
    "split_uneven": (lambda x: x.split(3), lambda a: np.split(a, [3, 6]), [(7, 2)]),
    "chunk": (lambda x: x.chunk(2, dim=2), lambda a: np.split(a, 2, 2), [X3]),
    "chunk_uneven": (lambda x: x.chunk(3), lambda a: np.split(a, [3, 6]), [(8,)]),
    "unbind": (lambda x: x.unbind(1), lambda a: tuple(a[:, i] for i in range(3)), [X3]),
    "narrow": (lambda x: x.narrow(2, 1, 2), lambda a: a[:, :, 1:3], [X3]),
    "pad_last": (lambda x: nabla_or_torch_pad(x, (1, 2)),
                 lambda a: np.pad(a, [(0, 0), (0, 0), (1, 2)]), [X3]),
    "pad_two": (lambda x: nabla_or_torch_pad(x, (1, 1, 0, 2)),
                lambda a: np.pad(a, [(0, 0), (0, 2), (1, 1)]), [X3]),
    "pad_value": (lambda x: nabla_or_torch_pad(x, (2, 0, 1, 1, 1, 0), value=-1.5),
                  lambda a: np.pad(a, [(1, 0), (1, 1), (2, 0)], constant_values=-1.5), [X3]),
    "flip_0": (lambda x: x.flip(0), lambda a: np.flip(a, 0), [X3]),
    "flip_many": (lambda x: x.flip(0, 2), lambda a: np.flip(a, (0, 2)), [X3]),
    "flip_list": (lambda x: x.flip([-1]), lambda a: np.flip(a, -1), [X3]),
    "clone": (lambda x: x.clone(), lambda a: a.copy(), [X3]),
    "contiguous": (lambda x: x.transpose(0, 1).contiguous(), lambda a: a.transpose(1, 0, 2),
                   [X3]),
}


def nabla_or_torch(t):
    """The library of tensor ``t``: lets one lambda call ``cat``/``stack`` of either."""
    return nabla if isinstance(t, nabla.Tensor) else torch


def nabla_or_torch_pad(t, pad, value=0.0):
    if isinstance(t, nabla.Tensor):
        return nabla.pad(t, pad, value=value)
    return torch.nn.functional.pad(t, pad, value=value)


@pytest.mark.parametrize("name", sorted(MOVEMENT))
def test_movement(name, rng):
    fn, ref, in_shapes = MOVEMENT[name]
    check_op(name, fn, ref, "same", [normal(rng, s) for s in in_shapes])


def test_T_reverses_all_dims(rng):
    # PyTorch deprecates .T beyond 2-D; nabla follows NumPy there (reverse the dims).
    check_op("T_3d", lambda x: x.T, lambda a: a.T, lambda x: x.permute(2, 1, 0),
             [normal(rng, X3)])


@HYP
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=3), data=st.data(), seed=seeds)
def test_permute_and_reshape_any_shape(shape, data, seed):
    x = normal(np.random.default_rng(seed), shape)
    perm = data.draw(st.permutations(range(len(shape))))
    check_op(f"permute{perm}", lambda t: t.permute(*perm), lambda a: a.transpose(perm),
             "same", [x])
    # a random regrouping of the elements into a new shape
    n, new = x.size, []
    while n > 1:
        f = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
        new.append(f)
        n //= f
    if data.draw(st.booleans()) and new:
        new[data.draw(st.integers(0, len(new) - 1))] = -1
    check_op(f"reshape{new}", lambda t: t.reshape(new), lambda a: a.reshape(new), "same", [x])


@HYP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4, max_side=3),
       seed=seeds)
def test_expand_any_broadcastable_shape(shapes, seed):
    x = normal(np.random.default_rng(seed), shapes.input_shapes[0])
    out = shapes.result_shape
    check_op(f"expand{out}", lambda t: t.expand(out) * 1, lambda a: np.broadcast_to(a, out),
             "same", [x])


@HYP
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data(), seed=seeds)
def test_cat_stack_split_any_dim(shape, data, seed):
    rng = np.random.default_rng(seed)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = []
    for k in sizes:
        s = list(shape)
        s[dim] = k
        parts.append(normal(rng, s))
    check_op(f"cat(dim={dim})", lambda *ts: nabla_or_torch(ts[0]).cat(ts, dim),
             lambda *a: np.concatenate(a, dim), "same", parts)
    same = [normal(rng, shape) for _ in sizes]
    sdim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(f"stack(dim={sdim})", lambda *ts: nabla_or_torch(ts[0]).stack(ts, sdim),
             lambda *a: np.stack(a, sdim), "same", same)
    whole = np.concatenate(parts, dim)
    check_op(f"split({sizes}, dim={dim})", lambda t: t.split(sizes, dim),
             lambda a: tuple(np.split(a, np.cumsum(sizes)[:-1], dim)), "same", [whole])


@HYP
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(), seed=seeds)
def test_getitem_any_basic_index(shape, data, seed):
    x = normal(np.random.default_rng(seed), shape)
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True))
    negative_step = any(
        isinstance(i, slice) and i.step is not None and i.step < 0
        for i in (idx if isinstance(idx, tuple) else (idx,))
    )
    # PyTorch has no negative slice steps; nabla follows NumPy there
    check_op(f"getitem[{idx}]", lambda t: t[idx], lambda a: a[idx],
             None if negative_step else "same", [x])


@HYP
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(), seed=seeds)
def test_getitem_any_integer_array_index(shape, data, seed):
    x = normal(np.random.default_rng(seed), shape)
    idx = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(
        min_dims=1, max_dims=2, max_side=4)))

    def conv(lib):
        return tuple(lib.tensor(i.astype(np.int64)) for i in idx)

    check_op("getitem[int arrays]", lambda t: t[conv(nabla_or_torch(t))], lambda a: a[idx],
             "same", [x])


OTHER = {
    # composites built from primitives (no backward of their own) and aliases
    "cumsum_0": (lambda x: x.cumsum(0), lambda a: a.cumsum(0)),
    "cumsum_neg": (lambda x: x.cumsum(-1), lambda a: a.cumsum(-1)),
    "norm": (lambda x: x.norm(), np.linalg.norm),
    "norm_p1_dim": (lambda x: x.norm(p=1, dim=1), lambda a: np.abs(a).sum(1)),
    "norm_keepdim": (lambda x: x.norm(dim=0, keepdim=True),
                     lambda a: np.sqrt((a * a).sum(0, keepdims=True))),
    "reciprocal": (lambda x: x.reciprocal(), lambda a: 1 / a),
    "unflatten": (lambda x: x.unflatten(1, (2, 2)), lambda a: a.reshape(3, 2, 2)),
    "view_as": (lambda x: x.view_as(x.T), lambda a: a.reshape(4, 3)),
    "swapaxes": (lambda x: x.swapaxes(0, 1), lambda a: a.T),
    "broadcast_to": (lambda x: x.broadcast_to((2, 3, 4)),
                     lambda a: np.broadcast_to(a, (2, 3, 4))),
    "pow_method": (lambda x: x.pow(3), lambda a: a**3),
    "sub_method": (lambda x: x.sub(1), lambda a: a - 1),
    "div_method": (lambda x: x.div(2), lambda a: a / 2),
}


@pytest.mark.parametrize("name", sorted(OTHER))
def test_other_ops(name, rng):
    fn, ref = OTHER[name]
    check_op(name, fn, ref, "same", [away(rng, (3, 4))])


@pytest.mark.parametrize(
    "name, fn, ref",
    [
        ("norm", lambda t: t.norm(), np.linalg.norm),
        ("norm_dim", lambda t: t.norm(dim=1), lambda a: np.linalg.norm(a, axis=1)),
        ("norm_p3", lambda t: t.norm(p=3, dim=1), lambda a: (np.abs(a) ** 3).sum(1) ** (1 / 3)),
        ("norm_p0.5", lambda t: t.norm(p=0.5, dim=1),
         lambda a: (np.abs(a) ** 0.5).sum(1) ** 2),
        ("norm_inf", lambda t: t.norm(p=math.inf, dim=1), lambda a: np.abs(a).max(1)),
        ("std", lambda t: t.std(1), lambda a: a.std(1, ddof=1)),
        ("std_all", lambda t: t.std(), lambda a: a.std(ddof=1)),
    ],
)
def test_norm_and_std_at_zero_have_zero_gradient(name, fn, ref):
    # A norm or std of zeros has no derivative; PyTorch takes 0 there, and a nan would
    # poison every gradient upstream (e.g. a weight penalty on zero-initialised weights).
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    check_op(name, fn, ref, "same", [x], grad=False)
    check_op(name, fn, ref, "same", [x[1:]])  # away from 0: an ordinary gradcheck


INDEXES = {
    "int": 1,
    "neg_int": -1,
    "slice": (slice(None), slice(1, 3)),
    "step": slice(None, None, 2),
    "int_slice": (1, slice(0, 2)),
    "ellipsis": (Ellipsis, 1),
    "ellipsis_mid": (0, Ellipsis, slice(1, None)),
    "none": (None, 0),
    "none_mid": (slice(None), None, 1),
    "all_basic": (1, None, Ellipsis, slice(None, None, 3), None),
    "int_array_repeats": [0, 0, 1, 0],
    "int_array_2d": np.array([[1, 0], [1, 1]]),
    "int_array_neg": np.array([-1, 0, -1]),
    "int_arrays_paired": ([0, 1, 1], [2, 2, 0]),
    "slice_then_array": (slice(None), [2, 0, 2, 2]),
    "int_then_array": (1, [0, 0, 2]),
    "array_none": ([1, 1], None),
    "bool_mask_full": "mask_full",
    "bool_mask_first": "mask_first",
    "bool_mask_with_slice": "mask_slice",
}


def _resolve_index(key, x_np):
    idx = INDEXES[key]
    if not isinstance(idx, str):
        return idx
    return {
        "mask_full": x_np > 0.2,
        "mask_first": np.array([True, False]),
        "mask_slice": (slice(None), np.array([True, False, True])),
    }[idx]


@pytest.mark.parametrize("key", sorted(INDEXES))
def test_getitem(key, rng):
    x = distinct(rng, X3)
    idx = _resolve_index(key, x)

    def to(lib_t, i):
        # The same index for either library: arrays become tensors of its kind.
        if isinstance(i, tuple):
            return tuple(to(lib_t, j) for j in i)
        if isinstance(i, np.ndarray):
            return nabla.tensor(i) if lib_t is nabla else torch.tensor(i)
        return i

    check_op(
        f"getitem[{key}]",
        lambda t: t[to(nabla, idx)],
        lambda a: a[idx],
        lambda t: t[to(torch, idx)],
        [x],
    )


def test_getitem_repeated_indices_accumulate(rng):
    x = nabla.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x[[0, 0, 2, 0]] * nabla.tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [1011.0, 0.0, 100.0])


def test_getitem_with_tensors_inside_the_index(rng):
    x = normal(rng, (4, 3))
    i = np.array([3, 1, 3])
    check_op("getitem_tensor", lambda t: t[nabla.tensor(i)], lambda a: a[i],
             lambda t: t[torch.tensor(i)], [x])
    check_op("getitem_0d_tensor", lambda t: t[nabla.tensor(2), 1:], lambda a: a[2, 1:],
             lambda t: t[torch.tensor(2), 1:], [x])


# ------------------------------------------------------------ matmul, linear
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul(sa, sb, rng):
    a, b = normal(rng, sa), normal(rng, sb)
    check_op(f"{sa}@{sb}", lambda x, y: x @ y, np.matmul, "same", [a, b])
    check_op(f"matmul{sa}{sb}", lambda x, y: nabla_or_torch(x).matmul(x, y), np.matmul, "same",
             [a, b])


@HYP
@given(shapes=hnp.mutually_broadcastable_shapes(
    signature=np.matmul.signature, max_dims=3, max_side=3), seed=seeds)
def test_matmul_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (normal(rng, s) for s in shapes.input_shapes)
    check_op("matmul", lambda x, y: x @ y, np.matmul, "same", [a, b], seed=seed)


def test_rmatmul_from_ndarray(rng):
    a, b = normal(rng, (2, 3)), normal(rng, (3, 4))
    check_op("ndarray@tensor", lambda y: a.astype(y.dtype.np) @ y,
             lambda y: a.astype(y.dtype) @ y, lambda y: torch.tensor(a) @ y, [b])


LINEAR = [((4, 3), True), ((4, 3), False), ((3,), True), ((2, 5, 3), True), ((2, 5, 3), False)]


@pytest.mark.parametrize("shape, bias", LINEAR, ids=[f"{s}-bias{b}" for s, b in LINEAR])
def test_linear(shape, bias, rng):
    x, w, b = normal(rng, shape), normal(rng, (2, 3)), normal(rng, (2,))
    ins = [x, w, b] if bias else [x, w]

    def ref(x, w, b=None):
        return x @ w.T + (0 if b is None else b)

    check_op(f"linear{shape}", nabla.linear, ref, lambda *a: torch.nn.functional.linear(*a), ins)


def test_linear_with_constant_input(rng):
    # The input batch of a network needs no gradient: only W and b are differentiated.
    x, w, b = normal(rng, (4, 3)), normal(rng, (2, 3)), normal(rng, (2,))
    check_op("linear_const_x", nabla.linear, lambda x, w, b: x @ w.T + b,
             lambda *a: torch.nn.functional.linear(*a), [x, w, b], nondiff=(0,))


# ------------------------------------------------------------ softmax family
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@HYP
@given(shape=nonscalar, data=st.data(), seed=seeds)
def test_softmax(op, shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = normal(np.random.default_rng(seed), shape) * 3

    def ref(a):
        e = np.exp(a - a.max(dim, keepdims=True))
        s = e / e.sum(dim, keepdims=True)
        return s if op == "softmax" else np.log(s)

    check_op(f"{op}(dim={dim})", lambda t: getattr(t, op)(dim), ref, "same", [x], seed=seed)


def test_softmax_function_forms_and_large_inputs(rng):
    x = normal(rng, (3, 5)) + np.array([[1000.0], [-1000.0], [0.0]])

    def ref(a):
        e = np.exp(a - a.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    check_op("nabla.softmax", lambda t: nabla.softmax(t, 1), ref,
             lambda t: torch.softmax(t, 1), [x])
    check_op("nabla.log_softmax", lambda t: nabla.log_softmax(t, dim=-1),
             lambda a: np.log(ref(a)), lambda t: torch.log_softmax(t, dim=-1), [x])


# ------------------------------------------------------------- composite graphs
def test_composite_graph_with_shared_subexpressions(rng):
    # One input used along several paths: gradients from every path must add up.
    x, w = normal(rng, (4, 3)), normal(rng, (3, 3))

    def f(x, w):
        h = (x @ w).tanh()
        return (h * x + h.sigmoid() * h).sum(1).exp() / (1 + (x * x).sum())

    def ref(x, w):
        h = np.tanh(x @ w)
        return np.exp((h * x + h / (1 + np.exp(-h))).sum(1)) / (1 + (x * x).sum())

    check_op("composite", f, ref, "same", [x, w])


def test_mlp_step_matches_torch(rng):
    x, y = normal(rng, (8, 5)), rng.integers(0, 3, 8)
    w1, b1, w2, b2 = normal(rng, (7, 5)), normal(rng, (7,)), normal(rng, (3, 7)), normal(rng, (3,))
    onehot = np.eye(3)[y]

    def f(w1, b1, w2, b2):
        lib = nabla_or_torch(w1)
        xs, oh = lib.tensor(x, dtype=w1.dtype), lib.tensor(onehot, dtype=w1.dtype)
        h = (xs @ w1.T + b1).relu()
        logits = h @ w2.T + b2
        return -(logits.log_softmax(1) * oh).sum() / 8

    def ref(w1, b1, w2, b2):
        h = np.maximum(x @ w1.T + b1, 0)
        z = h @ w2.T + b2
        ls = z - z.max(1, keepdims=True)
        ls = ls - np.log(np.exp(ls).sum(1, keepdims=True))
        return -(ls * onehot).sum() / 8

    check_op("mlp", f, ref, "same", [w1, b1, w2, b2])


# ------------------------------------------------------------ the checker itself
class _WrongSin(nabla.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        return -g * np.cos(ctx.saved_tensors[0])  # sign error on purpose


class _SlightlyWrongSin(_WrongSin):
    @staticmethod
    def backward(ctx, g):
        return g * np.cos(ctx.saved_tensors[0]) * 1.001  # 0.1% off: below gradcheck's rtol


def test_check_op_catches_wrong_ops(rng):
    x = [normal(rng, (2, 3))]
    with pytest.raises(nabla.GradcheckError):
        check_op("wrong_sin", _WrongSin.apply, np.sin, None, x)
    if torch is not None:  # 0.1% slips through gradcheck's rtol=1e-3, not through PyTorch
        with pytest.raises(AssertionError, match="grad of input 0"):
            check_op("slightly_wrong_sin", _SlightlyWrongSin.apply, np.sin,
                     lambda t: t.sin(), x)
    with pytest.raises(AssertionError):  # forward differs from the reference
        check_op("sin_vs_cos", lambda t: t.sin(), np.cos, "same", x)
    with pytest.raises(AssertionError, match="dtype"):  # float32 in, float64 out
        check_op("upcast", lambda t: t.double() * 2, lambda a: a * 2, None, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_grad_numpy_path_gives_the_expressions_bits(dtype):
    # The small path computes g * (1 - out * out) with one temporary: the same bits,
    # and neither operand changed.
    from nabla.ops.elementwise import _tanh_grad

    rng = np.random.default_rng(3)
    out = np.tanh(rng.standard_normal((32, 200)) * 2).astype(dtype)
    g = rng.standard_normal((32, 200)).astype(dtype)
    g0, out0 = g.copy(), out.copy()
    np.testing.assert_array_equal(_tanh_grad(g, out), g * (1 - out * out))
    np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(out, out0)
    g64 = g.astype(np.float64)  # another dtype: the expression's own promotion
    assert _tanh_grad(g64, out).dtype == np.float64
