"""Losses (nn.functional and nn modules) against PyTorch, gradcheck, and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nabla
import nabla.nn.functional as F
from nabla import nn

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [(np.float64, 1e-10), (np.float32, 2e-5)]


def _run(torch, name, arrays, grad_of, dtype, tol, kwargs=None, const=None):
    """Call ``F.name`` and ``torch.nn.functional.name`` on the same arrays and compare
    the value and the gradients of the arrays listed in ``grad_of``.

    ``arrays``: positional arrays (floats are cast to ``dtype``); ``const``: keyword
    arrays (weights) converted to each library's tensors."""
    kwargs = dict(kwargs or {})
    ns, ts = [], []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        ns.append(nabla.tensor(a, requires_grad=i in grad_of))
        ts.append(torch.tensor(a, requires_grad=i in grad_of))
    nk, tk = dict(kwargs), dict(kwargs)
    for k, v in (const or {}).items():
        v = np.asarray(v, dtype=dtype)
        nk[k], tk[k] = nabla.tensor(v), torch.tensor(v)
    out_n = getattr(F, name)(*ns, **nk)
    out_t = getattr(torch.nn.functional, name)(*ts, **tk)
    assert out_n.shape == tuple(out_t.shape)
    assert out_n.dtype == nabla.tensor(np.zeros(1, dtype)).dtype
    np.testing.assert_allclose(out_n._data, out_t.detach().numpy(), rtol=tol, atol=tol)
    if grad_of:
        g = np.random.default_rng(9).uniform(0.5, 1.5, out_t.shape).astype(dtype)
        out_n.backward(nabla.tensor(g))
        out_t.backward(torch.tensor(g))
        for i in grad_of:
            np.testing.assert_allclose(ns[i].grad._data, ts[i].grad.numpy(), rtol=tol * 10,
                                       atol=tol * 10, err_msg=f"gradient of argument {i}")
    return out_n


# ------------------------------------------------------------------ cross-entropy
CE_SHAPES = [(6, 5), (5,), (3, 4, 2, 3)]


def _class_target(shape, rng, ignore=None):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, c, tshape)
    if ignore is not None and t.ndim:
        t.reshape(-1)[::3] = ignore
    return t, c


@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 1])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_cross_entropy_class_indices(torch, shape, reduction, weighted, ignore_index,
                                     label_smoothing, dtype, tol):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3
    t, c = _class_target(shape, rng, ignore_index)
    kwargs = {"reduction": reduction, "label_smoothing": label_smoothing}
    if ignore_index is not None:
        kwargs["ignore_index"] = ignore_index
    const = {"weight": rng.uniform(0.2, 2.0, c)} if weighted else None
    _run(torch, "cross_entropy", [x, t], [0], dtype, tol, kwargs, const)


@pytest.mark.parametrize("shape", [(6, 5), (5,), (3, 4, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_cross_entropy_soft_targets(torch, shape, reduction, weighted, label_smoothing, dtype,
                                    tol):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2
    cdim = 0 if len(shape) == 1 else 1
    t = rng.uniform(0, 1, shape)
    t /= t.sum(axis=cdim, keepdims=True)
    c = shape[cdim]
    const = {"weight": rng.uniform(0.2, 2.0, c)} if weighted else None
    # both the logits and the target probabilities get gradients
    _run(torch, "cross_entropy", [x, t], [0, 1], dtype, tol,
         {"reduction": reduction, "label_smoothing": label_smoothing}, const)


@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, 2])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_nll_loss(torch, shape, reduction, weighted, ignore_index, dtype, tol):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    t, c = _class_target(shape, rng, ignore_index)
    kwargs = {"reduction": reduction}
    if ignore_index is not None:
        kwargs["ignore_index"] = ignore_index
    const = {"weight": rng.uniform(0.2, 2.0, c)} if weighted else None
    _run(torch, "nll_loss", [x, t], [0], dtype, tol, kwargs, const)


def test_cross_entropy_is_one_fused_node():
    x = nabla.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, nabla.tensor([0, 1, 2, 0]))
    assert type(loss.grad_fn).__name__ == "ClassNLL"
    assert loss.grad_fn.inputs == (x,)  # no log_softmax / gather / mean nodes before it
    loss.backward()
    p = x._data - x._data.max(1, keepdims=True)
    p = np.exp(p) / np.exp(p).sum(1, keepdims=True)
    onehot = np.eye(3)[[0, 1, 2, 0]]
    np.testing.assert_allclose(x.grad._data, (p - onehot) / 4, rtol=1e-5, atol=1e-7)


def test_cross_entropy_stable_for_huge_logits(torch):
    x = np.array([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 5000.0]], dtype=np.float32)
    t = np.array([1, 2])
    out = _run(torch, "cross_entropy", [x, t], [0], np.float32, 1e-5)
    assert np.isfinite(out._data) and out.item() == pytest.approx(1000.0 + math.log(2) / 2)
    probs = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    _run(torch, "cross_entropy", [x, probs], [0], np.float32, 1e-5)


def test_cross_entropy_all_ignored_is_nan_like_torch(torch):
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.array([-100, -100, -100])
    out = F.cross_entropy(nabla.tensor(x), nabla.tensor(t))
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert math.isnan(out.item()) and math.isnan(ref.item())
    assert F.cross_entropy(nabla.tensor(x), nabla.tensor(t), reduction="sum").item() == 0


def test_cross_entropy_gradcheck():
    rng = np.random.default_rng(3)
    t = nabla.tensor([0, 2, 1, 2])
    w = nabla.tensor([0.5, 1.0, 2.0], dtype=nabla.float64)
    x = nabla.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    for kw in [{}, {"weight": w}, {"label_smoothing": 0.1, "weight": w, "ignore_index": 1},
               {"reduction": "none"}, {"reduction": "sum", "label_smoothing": 0.4}]:
        assert nabla.gradcheck(lambda x, kw=kw: F.cross_entropy(x, t, **kw), x), kw
    probs = nabla.tensor(rng.dirichlet(np.ones(3), 4), requires_grad=True)
    assert nabla.gradcheck(lambda x, p: F.cross_entropy(x, p, weight=w, label_smoothing=0.2),
                           (x, probs))
    x4 = nabla.tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)
    t4 = nabla.tensor(rng.integers(0, 3, (2, 2, 2)))
    assert nabla.gradcheck(lambda x: F.cross_entropy(x, t4, label_smoothing=0.1), x4)
    logp = nabla.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert nabla.gradcheck(lambda lp: F.nll_loss(lp, t, weight=w, ignore_index=0), logp)


# ------------------------------------------------------------------ binary losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (5,), (4, 5)])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_bce(torch, reduction, weight_shape, dtype, tol):
    rng = np.random.default_rng(4)
    x = rng.uniform(0.02, 0.98, (4, 5))
    y = rng.uniform(0, 1, (4, 5))
    y[0] = [0, 1, 0, 1, 1]
    const = {"weight": rng.uniform(0.5, 2, weight_shape)} if weight_shape else None
    _run(torch, "binary_cross_entropy", [x, y], [0, 1], dtype, tol, {"reduction": reduction},
         const)


def test_bce_clamps_log_at_minus_100(torch):
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.3])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.7])
    out = _run(torch, "binary_cross_entropy", [x, y], [0], np.float64, 1e-10,
               {"reduction": "none"})
    assert out.tolist()[:4] == [100.0, 100.0, 0.0, 0.0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_bce_with_logits(torch, reduction, weighted, pos_weighted, dtype, tol):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3)) * 4
    x[0] = [80.0, -80.0, 0.0]  # far in the tails: still finite
    y = rng.uniform(0, 1, (6, 3))
    const = {}
    if weighted:
        const["weight"] = rng.uniform(0.5, 2, (6, 1))
    if pos_weighted:
        const["pos_weight"] = rng.uniform(0.5, 3, 3)
    out = _run(torch, "binary_cross_entropy_with_logits", [x, y], [0, 1], dtype, tol,
               {"reduction": reduction}, const)
    assert np.isfinite(out._data).all()


def test_binary_gradcheck():
    rng = np.random.default_rng(6)
    x = nabla.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    y = nabla.tensor(rng.uniform(0, 1, (3, 4)), requires_grad=True)
    w = nabla.tensor(rng.uniform(0.5, 2, 4))
    assert nabla.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=w), (x, y))
    z = nabla.tensor(rng.standard_normal((3, 4)) * 3, requires_grad=True)
    pw = nabla.tensor(rng.uniform(0.5, 3, 4))
    assert nabla.gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw,
                                                        reduction="none"), (z, y))


# ------------------------------------------------------------------ regression losses
REGRESSION = [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {"delta": 0.5}),
              ("huber_loss", {}), ("huber_loss", {"delta": 2.5}), ("smooth_l1_loss", {}),
              ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0})]


@pytest.mark.parametrize("name,kw", REGRESSION)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_regression_losses(torch, name, kw, reduction, dtype, tol):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((5, 4)) * 2
    b = rng.standard_normal((5, 4)) * 2
    _run(torch, name, [a, b], [0, 1], dtype, tol, {"reduction": reduction, **kw})


def test_mse_sum_is_sum_of_squared_residuals():
    pred = nabla.tensor([1.0, 2.0, 3.0])
    target = nabla.tensor([1.5, 2.0, 1.0])
    assert F.mse_loss(pred, target, reduction="sum").item() == 0.25 + 0 + 4
    assert nn.MSELoss(reduction="sum")(pred, target).item() == 4.25


def test_regression_broadcast_warns_like_torch(torch):
    a = np.random.default_rng(0).standard_normal((3, 2))
    b = np.random.default_rng(1).standard_normal((2,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(b))
    with pytest.warns(UserWarning, match="different to the input size"):
        _run(torch, "mse_loss", [a, b], [0, 1], np.float64, 1e-10)  # gradients unbroadcast
    with pytest.warns(UserWarning):
        out = F.mse_loss(nabla.tensor(a), nabla.tensor(b))
    assert out.item() == pytest.approx(ref.item())


def test_regression_int_target_is_cast(torch):
    a = np.array([0.5, 1.5, 3.0], dtype=np.float32)
    t = np.array([1, 2, 3])
    out = F.mse_loss(nabla.tensor(a), nabla.tensor(t))
    ref = torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(t))
    assert out.dtype == nabla.float32 and out.item() == pytest.approx(ref.item())


def test_regression_gradcheck():
    rng = np.random.default_rng(8)
    a = nabla.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = nabla.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    for name, kw in REGRESSION:
        if name == "smooth_l1_loss" and kw.get("beta") == 0.0:
            continue  # |d| has a kink where finite differences straddle zero
        for reduction in REDUCTIONS:
            assert nabla.gradcheck(
                lambda x, y, name=name, kw=kw, r=reduction: getattr(F, name)(
                    x, y, reduction=r, **kw), (a, b)), (name, kw, reduction)


# ------------------------------------------------------------------ loss modules
def test_loss_modules_match_functional(torch):
    rng = np.random.default_rng(9)
    x = nabla.tensor(rng.standard_normal((4, 3)))
    idx = nabla.tensor([0, 2, 1, 1])
    p = nabla.tensor(rng.uniform(0.1, 0.9, (4, 3)))
    y = nabla.tensor(rng.uniform(0, 1, (4, 3)))
    w = nabla.tensor([0.3, 1.0, 2.0])
    cases = [
        (nn.MSELoss(reduction="sum"), F.mse_loss(x, y, reduction="sum"), (x, y)),
        (nn.L1Loss(), F.l1_loss(x, y), (x, y)),
        (nn.HuberLoss(delta=0.3), F.huber_loss(x, y, delta=0.3), (x, y)),
        (nn.SmoothL1Loss(beta=0.3), F.smooth_l1_loss(x, y, beta=0.3), (x, y)),
        (nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1),
         F.cross_entropy(x, idx, weight=w, ignore_index=2, label_smoothing=0.1), (x, idx)),
        (nn.NLLLoss(weight=w), F.nll_loss(x, idx, weight=w), (x, idx)),
        (nn.BCELoss(weight=w, reduction="none"), F.binary_cross_entropy(p, y, w, reduction="none"),
         (p, y)),
        (nn.BCEWithLogitsLoss(pos_weight=w), F.binary_cross_entropy_with_logits(
            x, y, pos_weight=w), (x, y)),
    ]
    for module, expected, args in cases:
        np.testing.assert_array_equal(module(*args)._data, expected._data, err_msg=repr(module))
    # class weights are buffers, as in PyTorch: saved in state_dict, converted by .to()
    ce = nn.CrossEntropyLoss(weight=w)
    assert list(ce.state_dict()) == list(torch.nn.CrossEntropyLoss(
        weight=torch.ones(3)).state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert ce.double().weight.dtype == nabla.float64
    assert nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).weight.shape == (3,)


def test_legacy_reduction_arguments(torch):
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.nn.MSELoss(size_average=False).reduction == "sum"


# ------------------------------------------------------------------ bad input
def test_cross_entropy_bad_input():
    x = nabla.randn(3, 4)
    with pytest.raises(TypeError, match=r"shape of class indices \(3,\) but dtype nabla.float32"):
        F.cross_entropy(x, nabla.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="class probabilities and must be floating point"):
        F.cross_entropy(x, nabla.zeros(3, 4, dtype=nabla.int64))
    with pytest.raises(nabla.ShapeError, match=r"input of shape \(3, 4\).*shape \(3,\).*\(2,\)"):
        F.cross_entropy(x, nabla.tensor([1, 2]))
    with pytest.raises(ValueError, match="needs class indices of shape"):
        F.cross_entropy(x, nabla.tensor([[1, 2, 0]]))  # ShapeError is also a ValueError
    with pytest.raises(IndexError, match=r"Target 5 is out of bounds.*\[0, 4\)"):
        F.cross_entropy(x, nabla.tensor([1, 2, 5]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        F.cross_entropy(x, nabla.tensor([1, 2, -1]))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.cross_entropy(x, nabla.tensor([1, 2, 3]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, nabla.tensor([1, 2, 3]), label_smoothing=1.5)
    with pytest.raises(nabla.ShapeError, match=r"one entry per class \(4\), got shape \(3,\)"):
        F.cross_entropy(x, nabla.tensor([1, 2, 3]), weight=nabla.ones(3))
    with pytest.raises(ValueError, match="ignore_index is not supported for class probab"):
        F.cross_entropy(x, nabla.zeros(3, 4), ignore_index=1)
    with pytest.raises(TypeError, match="floating-point tensor, got nabla.int64"):
        F.cross_entropy(nabla.tensor([[1, 2]]), nabla.tensor([0]))
    with pytest.raises(nabla.ShapeError, match="class dimension"):
        F.cross_entropy(nabla.tensor(1.0), nabla.tensor(0))
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, nabla.tensor([True, False, True]))


def test_other_losses_bad_input():
    p = nabla.tensor([0.5, 1.5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(p, nabla.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(nabla.tensor([0.5, 0.5]), nabla.tensor([0.0, 2.0]))
    with pytest.raises(TypeError, match=r"target must be floating point.*int64"):
        F.binary_cross_entropy(nabla.tensor([0.5, 0.5]), nabla.tensor([0, 1]))
    with pytest.raises(nabla.ShapeError, match=r"target size \(3,\) must be the same as input "
                                               r"size \(2,\)"):
        F.binary_cross_entropy_with_logits(nabla.zeros(2), nabla.zeros(3))
    with pytest.raises(nabla.ShapeError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(nabla.zeros(2, 3), nabla.zeros(2, 3),
                                           pos_weight=nabla.ones(2))
    with pytest.raises(nabla.ShapeError, match=r"target of shape \(3,\).*input of shape \(2,\)"):
        F.mse_loss(nabla.zeros(2), nabla.zeros(3))
    with pytest.raises(TypeError, match="input must be a floating-point"):
        F.mse_loss(nabla.tensor([1, 2]), nabla.tensor([1, 2]))
    with pytest.raises(ValueError, match="non-positive values for delta"):
        F.huber_loss(nabla.zeros(2), nabla.zeros(2), delta=0)
    with pytest.raises(ValueError, match="negative values for beta"):
        F.smooth_l1_loss(nabla.zeros(2), nabla.zeros(2), beta=-1)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.MSELoss(reduction="avg")


def test_loss_inputs_unchanged_by_bad_call():
    x = nabla.randn(3, 4, requires_grad=True)
    before = x._data.copy()
    with pytest.raises(IndexError):
        F.cross_entropy(x, nabla.tensor([0, 1, 9]))
    assert np.array_equal(x._data, before) and x.grad is None


def test_empty_batch_like_torch(torch):
    for name, x, t in [
        ("cross_entropy", np.zeros((0, 3)), np.zeros(0, dtype=np.int64)),
        ("mse_loss", np.zeros((0, 3)), np.zeros((0, 3))),
        ("binary_cross_entropy_with_logits", np.zeros((0, 3)), np.zeros((0, 3))),
    ]:
        for reduction in REDUCTIONS:
            out = getattr(F, name)(nabla.tensor(x), nabla.tensor(t), reduction=reduction)
            ref = getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(t),
                                                     reduction=reduction)
            assert out.shape == tuple(ref.shape), (name, reduction)
            np.testing.assert_array_equal(out._data, ref.numpy(), err_msg=f"{name} {reduction}")


# ------------------------------------------------------------------ properties
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 3), max_size=2),
       seed=st.integers(0, 2**16), reduction=st.sampled_from(REDUCTIONS),
       eps=st.sampled_from([0.0, 0.25]), weighted=st.booleans(), ignore=st.booleans())
def test_cross_entropy_any_shape(n, c, spatial, seed, reduction, eps, weighted, ignore):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    shape = (n, c, *spatial)
    x = rng.standard_normal(shape)
    t = rng.integers(0, c, (n, *spatial))
    kwargs = {"reduction": reduction, "label_smoothing": eps}
    if ignore:
        t.reshape(-1)[::2] = -100
    const = {"weight": rng.uniform(0.1, 2, c)} if weighted else None
    if ignore and reduction == "mean" and (t == -100).all():
        return  # 0/0: both give nan, and nan gradients do not compare
    _run(torch, "cross_entropy", [x, t], [0], np.float64, 1e-10, kwargs, const)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       drop=st.lists(st.booleans(), min_size=3, max_size=3),
       name=st.sampled_from(["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]),
       reduction=st.sampled_from(REDUCTIONS))
def test_regression_broadcast_gradients(shape, seed, drop, name, reduction):
    """A target that broadcasts against the input: gradients come back in each shape."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    tshape = [1 if d else s for s, d in zip(shape, drop)]
    a, b = rng.standard_normal(shape), rng.standard_normal(tshape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(torch, name, [a, b], [0, 1], np.float64, 1e-10, {"reduction": reduction})
