"""The margin, embedding and likelihood losses (nn.functional_losses and their modules)
against PyTorch: values for each reduction, gradients in float64 and float32,
broadcasting, the deprecated size_average/reduce arguments, and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import nabla
import nabla.nn.functional as F
from nabla import nn

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [(np.float64, 1e-10), (np.float32, 2e-5)]


def _compare(torch, name, arrays, grad_of, dtype, tol, **kwargs):
    """``F.name`` and torch's on the same arrays: the values, then the gradients of the
    arrays at the positions in ``grad_of`` (seeded with a random upstream gradient, so a
    wrong per-element gradient cannot hide in a sum). Numbers in ``arrays`` pass as is."""
    ns, ts = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, float):
            ns.append(a)
            ts.append(a)
            continue
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        ns.append(nabla.tensor(a, requires_grad=i in grad_of))
        ts.append(torch.tensor(a, requires_grad=i in grad_of))
    out_n = getattr(F, name)(*ns, **kwargs)
    out_t = getattr(torch.nn.functional, name)(*ts, **kwargs)
    assert out_n.dtype == getattr(nabla, str(out_t.dtype).split(".")[1])
    assert tuple(out_n.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_n.detach().numpy(), out_t.detach().numpy(), rtol=tol, atol=tol)
    if grad_of:
        up = np.random.default_rng(1).uniform(0.5, 1.5, out_t.shape).astype(dtype)
        (out_n * nabla.tensor(up)).sum().backward()
        (out_t * torch.tensor(up)).sum().backward()
        for i in grad_of:
            assert ns[i].grad is not None, f"no gradient for argument {i}"
            np.testing.assert_allclose(ns[i].grad.numpy(), ts[i].grad.numpy(), rtol=tol,
                                       atol=tol, err_msg=f"gradient of argument {i}")
    return out_n


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


# ------------------------------------------------------------------ margin ranking
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_margin_ranking_loss_matches_torch(torch, rng, dtype, tol, reduction, margin):
    x1, x2 = rng.normal(size=(7,)), rng.normal(size=(7,))
    _compare(torch, "margin_ranking_loss", [x1, x2, _signs(rng, 7)], (0, 1), dtype, tol,
             margin=margin, reduction=reduction)


def test_margin_ranking_loss_broadcasts_like_torch(torch, rng):
    x1, x2, t = rng.normal(size=(4, 1)), rng.normal(size=(1, 3)), _signs(rng, (4, 3))
    _compare(torch, "margin_ranking_loss", [x1, x2, t], (0, 1), np.float64, 1e-10,
             margin=0.2, reduction="none")


def test_margin_ranking_loss_needs_equal_ranks(torch):
    with pytest.raises(RuntimeError, match="same number of dimensions.*\\(3,\\), \\(3, 1\\)"):
        F.margin_ranking_loss(nabla.ones(3), nabla.ones(3, 1), nabla.ones(3))
    with pytest.raises(RuntimeError, match="input1 \\(3,\\), input2 \\(4,\\)"):
        F.margin_ranking_loss(nabla.ones(3), nabla.ones(4), nabla.ones(3))


# ------------------------------------------------------------------ hinge embedding
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_embedding_loss_matches_torch(torch, rng, dtype, tol, reduction, margin):
    x = rng.uniform(0, 2, size=(3, 4))
    _compare(torch, "hinge_embedding_loss", [x, _signs(rng, (3, 4))], (0,), dtype, tol,
             margin=margin, reduction=reduction)


def test_hinge_embedding_loss_other_targets_and_broadcast(torch, rng):
    # A target neither 1 nor -1 gets both terms in PyTorch; the target row broadcasts.
    x, t = rng.uniform(0, 2, size=(3, 4)), np.array([[1.0, -1.0, 0.0, 2.0]])
    _compare(torch, "hinge_embedding_loss", [x, t], (0,), np.float64, 1e-10,
             reduction="none")


# ------------------------------------------------------------------ soft margin
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_matches_torch(torch, rng, dtype, tol, reduction):
    x = rng.normal(scale=3, size=(3, 5))
    _compare(torch, "soft_margin_loss", [x, _signs(rng, (3, 5))], (0,), dtype, tol,
             reduction=reduction)


def test_soft_margin_loss_is_stable_for_large_margins():
    x = nabla.tensor([200.0, -200.0, 200.0], requires_grad=True)
    loss = F.soft_margin_loss(x, nabla.tensor([1.0, 1.0, -1.0]), reduction="none")
    # log(1 + exp(-200)) underflows to 0; log(1 + exp(200)) is 200, not inf
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 200.0, 200.0], atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, -1.0, 1.0], atol=1e-6)


# ------------------------------------------------------------------ cosine embedding
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_cosine_embedding_loss_matches_torch(torch, rng, dtype, tol, reduction, margin):
    a, b = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    _compare(torch, "cosine_embedding_loss", [a, b, _signs(rng, 6)], (0, 1), dtype, tol,
             margin=margin, reduction=reduction)


def test_cosine_embedding_loss_1d_zero_vectors_other_targets_broadcast(torch, rng):
    a, b = rng.normal(size=5), rng.normal(size=5)
    for t in (1.0, -1.0):
        _compare(torch, "cosine_embedding_loss", [a, b, np.array(t)], (0, 1), np.float64,
                 1e-10, margin=-0.5)
    # A zero vector: the eps in the norms gives cosine 0, not nan (value and gradient).
    a2 = rng.normal(size=(3, 4))
    a2[1] = 0
    _compare(torch, "cosine_embedding_loss", [a2, rng.normal(size=(3, 4)),
             np.array([1.0, 1.0, 0.0])], (0, 1), np.float64, 1e-8, reduction="none")
    _compare(torch, "cosine_embedding_loss", [rng.normal(size=(3, 4)),
             rng.normal(size=(1, 4)), _signs(rng, 3)], (0, 1), np.float64, 1e-10)


def test_cosine_embedding_loss_shape_errors():
    with pytest.raises(RuntimeError, match="0D or 1D target"):
        F.cosine_embedding_loss(nabla.ones(2, 3), nabla.ones(2, 3), nabla.ones(2, 1))
    with pytest.raises(RuntimeError, match="1D target expects 2D inputs"):
        F.cosine_embedding_loss(nabla.ones(3), nabla.ones(3), nabla.ones(3))
    with pytest.raises(RuntimeError, match="cosine.*target \\(3,\\)"):
        F.cosine_embedding_loss(nabla.ones(2, 3), nabla.ones(2, 3), nabla.ones(3))
    with pytest.raises(RuntimeError, match="input1 \\(2, 3\\), input2 \\(2, 4\\)"):
        F.cosine_embedding_loss(nabla.ones(2, 3), nabla.ones(2, 4), nabla.ones(2))


# ------------------------------------------------------------------ pairwise / triplet
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(torch, rng, dtype, tol, p, keepdim):
    _compare(torch, "pairwise_distance", [rng.normal(size=(4, 5)), rng.normal(size=(1, 5))],
             (0, 1), dtype, tol, p=p, eps=1e-3, keepdim=keepdim)


def test_pairwise_distance_edge_cases(torch, rng):
    x = rng.normal(size=(3, 4))
    y = x.copy()
    y[0, :2] += 1.0
    _compare(torch, "pairwise_distance", [x, y], (), np.float64, 1e-10, p=0.0)
    _compare(torch, "pairwise_distance", [np.array(1.0), np.array(3.0)], (0,), np.float64,
             1e-10)
    _compare(torch, "pairwise_distance", [rng.normal(size=5), rng.normal(size=(2, 5))],
             (0, 1), np.float64, 1e-10)
    # equal vectors: the eps keeps the gradient finite
    _compare(torch, "pairwise_distance", [x, x.copy()], (0, 1), np.float64, 1e-10)
    m = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    assert m(nabla.tensor([[1.0, 2.0]]), nabla.tensor([[0.0, 0.0]])).tolist() == [[3.0]]


def test_distance_modules_are_torchs(torch, rng):
    x1, x2 = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 5))
    for ours, theirs in ((nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
                         (nn.CosineSimilarity(dim=-1, eps=0.5), torch.nn.CosineSimilarity(-1, 0.5)),
                         (nn.PairwiseDistance(), torch.nn.PairwiseDistance())):
        assert repr(ours) == repr(theirs)
        got = ours(nabla.tensor(x1), nabla.tensor(x2)).numpy()
        want = theirs(torch.tensor(x1), torch.tensor(x2)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    from nabla.nn.modules.distance import CosineSimilarity, PairwiseDistance

    assert CosineSimilarity is nn.CosineSimilarity and PairwiseDistance is nn.PairwiseDistance


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap,margin", [(2.0, False, 1.0), (1.0, True, 0.5),
                                           (3.0, False, 2.0), (2.0, True, 1.5)])
def test_triplet_margin_loss_matches_torch(torch, rng, dtype, tol, reduction, p, swap, margin):
    a, pos, neg = (rng.normal(size=(8, 3)) for _ in range(3))
    _compare(torch, "triplet_margin_loss", [a, pos, neg], (0, 1, 2), dtype, tol, p=p,
             swap=swap, margin=margin, reduction=reduction)


def test_triplet_margin_loss_1d_and_errors(torch, rng):
    _compare(torch, "triplet_margin_loss", [rng.normal(size=4) for _ in range(3)],
             (0, 1, 2), np.float64, 1e-10, margin=3.0)
    with pytest.raises(RuntimeError, match="same number of dimensions.*2D, 2D and 1D"):
        F.triplet_margin_loss(nabla.ones(2, 3), nabla.ones(2, 3), nabla.ones(3))
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0)


# ------------------------------------------------------------------ multilabel soft margin
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_matches_torch(torch, rng, dtype, tol, reduction, weighted):
    x = rng.normal(scale=3, size=(4, 5))
    t = rng.integers(0, 2, size=(4, 5)).astype(np.float64)
    w = rng.uniform(0.5, 2, size=5).astype(dtype)
    kw = {"reduction": reduction}
    n_kw, t_kw = dict(kw), dict(kw)
    if weighted:
        n_kw["weight"], t_kw["weight"] = nabla.tensor(w), torch.tensor(w)
    xn = nabla.tensor(x.astype(dtype), requires_grad=True)
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    out_n = F.multilabel_soft_margin_loss(xn, nabla.tensor(t.astype(dtype)), **n_kw)
    out_t = torch.nn.functional.multilabel_soft_margin_loss(xt, torch.tensor(t.astype(dtype)),
                                                            **t_kw)
    np.testing.assert_allclose(out_n.detach().numpy(), out_t.detach().numpy(), rtol=tol, atol=tol)
    out_n.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)
    mod = nn.MultiLabelSoftMarginLoss(weight=n_kw.get("weight"), reduction=reduction)
    np.testing.assert_allclose(mod(xn, nabla.tensor(t.astype(dtype))).detach().numpy(),
                               out_t.detach().numpy(), rtol=tol, atol=tol)


def test_multilabel_soft_margin_loss_1d(torch, rng):
    _compare(torch, "multilabel_soft_margin_loss", [rng.normal(size=4), np.array(
        [1.0, 0.0, 1.0, 1.0])], (0,), np.float64, 1e-10)


# ------------------------------------------------------------------ poisson NLL
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_matches_torch(torch, rng, dtype, tol, reduction, log_input, full):
    x = rng.normal(size=(3, 6)) if log_input else rng.uniform(0.1, 4, size=(3, 6))
    t = rng.integers(0, 6, size=(3, 6)).astype(np.float64)
    t[0, :3] = [0.0, 1.0, 2.0]  # both sides of Stirling's cut at 1
    _compare(torch, "poisson_nll_loss", [x, t], (0,), dtype, tol, log_input=log_input,
             full=full, reduction=reduction)


def test_poisson_nll_loss_eps_and_broadcast(torch, rng):
    x = np.array([0.0, 1e-3, 2.0])
    _compare(torch, "poisson_nll_loss", [x, np.array([1.0, 2.0, 3.0])], (0,), np.float64,
             1e-10, log_input=False, eps=1e-2)
    _compare(torch, "poisson_nll_loss", [rng.normal(size=(2, 3)), np.array([3.0])], (0,),
             np.float64, 1e-10, full=True, reduction="none")


# ------------------------------------------------------------------ gaussian NLL
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
def test_gaussian_nll_loss_matches_torch(torch, rng, dtype, tol, reduction, full, var_shape):
    x, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.2, 2, size=var_shape)
    _compare(torch, "gaussian_nll_loss", [x, t, var], (0, 1, 2), dtype, tol, full=full,
             reduction=reduction)


def test_gaussian_nll_loss_clamp_passes_gradient_and_number_var(torch, rng):
    x, t = rng.normal(size=(2, 3)), rng.normal(size=(1, 3))
    var = np.array([[1e-9, 0.0, 0.5], [1e-3, 2.0, 1e-8]])
    # Below eps the value uses eps but the gradient w.r.t. var is not zeroed (torch's
    # clamp runs under no_grad).
    _compare(torch, "gaussian_nll_loss", [x, t, var], (0, 1, 2), np.float64, 1e-8,
             eps=1e-6, reduction="none")
    _compare(torch, "gaussian_nll_loss", [x, t, 0.5], (0, 1), np.float64, 1e-10)
    _compare(torch, "gaussian_nll_loss", [x, t, 1e-9], (0,), np.float64, 1e-8)


def test_gaussian_nll_loss_errors():
    x = nabla.ones(2, 3)
    with pytest.raises(ValueError, match="var is of incorrect size \\(3,\\)"):
        F.gaussian_nll_loss(x, x, nabla.ones(3))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, -nabla.ones(2, 3))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(RuntimeError, match="input \\(2, 3\\), target \\(2, 4\\)"):
        F.gaussian_nll_loss(x, nabla.ones(2, 4), nabla.ones(2, 3))
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)  # keyword-only, as in PyTorch


# ------------------------------------------------------------------ all of them
_CASES = {  # name: (module, arrays, functional kwargs = module kwargs)
    "margin_ranking_loss": ("MarginRankingLoss", lambda r: [r.normal(size=5), r.normal(size=5),
                            _signs(r, 5)], {"margin": 0.4}),
    "hinge_embedding_loss": ("HingeEmbeddingLoss", lambda r: [r.uniform(0, 2, 5),
                             _signs(r, 5)], {"margin": 1.5}),
    "soft_margin_loss": ("SoftMarginLoss", lambda r: [r.normal(size=5), _signs(r, 5)], {}),
    "cosine_embedding_loss": ("CosineEmbeddingLoss", lambda r: [r.normal(size=(3, 4)),
                              r.normal(size=(3, 4)), _signs(r, 3)], {"margin": 0.1}),
    "triplet_margin_loss": ("TripletMarginLoss", lambda r: [r.normal(size=(3, 4))
                            for _ in range(3)], {"margin": 2.0, "p": 1.0, "swap": True}),
    "multilabel_soft_margin_loss": ("MultiLabelSoftMarginLoss", lambda r: [
        r.normal(size=(3, 4)), r.integers(0, 2, (3, 4)).astype(float)], {}),
    "poisson_nll_loss": ("PoissonNLLLoss", lambda r: [r.uniform(0.1, 3, (3, 4)),
                         r.integers(0, 5, (3, 4)).astype(float)],
                         {"log_input": False, "full": True, "eps": 1e-4}),
    "gaussian_nll_loss": ("GaussianNLLLoss", lambda r: [r.normal(size=(3, 4)),
                          r.normal(size=(3, 4)), r.uniform(0.5, 2, (3, 1))], {"full": True}),
}
_DEPRECATED = [n for n in _CASES if n != "gaussian_nll_loss"]


@pytest.mark.parametrize("name", list(_CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_modules_match_torch_modules(torch, rng, name, reduction):
    cls, make, kw = _CASES[name]
    arrays = make(rng)
    out_n = getattr(nn, cls)(reduction=reduction, **kw)(*map(nabla.tensor, arrays))
    out_t = getattr(torch.nn, cls)(reduction=reduction, **kw)(*map(torch.tensor, arrays))
    np.testing.assert_allclose(out_n.numpy(), out_t.numpy(), rtol=1e-10, atol=1e-12)
    assert getattr(nabla.nn.modules.loss, cls) is getattr(nn, cls)
    assert getattr(nabla.nn.functional, name) is getattr(F, name)


@pytest.mark.parametrize("name", list(_CASES))
def test_bad_reduction_raises_value_error(rng, name):
    cls, make, kw = _CASES[name]
    arrays = [nabla.tensor(a) for a in make(rng)]
    with pytest.raises(ValueError, match="'batch' is not a valid value for reduction"):
        getattr(F, name)(*arrays, reduction="batch", **kw)
    with pytest.raises(ValueError, match="'batch' is not a valid value for reduction"):
        getattr(nn, cls)(reduction="batch", **kw)


@pytest.mark.parametrize("name", list(_CASES))
def test_mismatched_shapes_name_the_arguments(name):
    args = {"margin_ranking_loss": [(3,), (3,), (4,)], "hinge_embedding_loss": [(3,), (4,)],
            "soft_margin_loss": [(3,), (4,)], "cosine_embedding_loss": [(2, 3), (5, 3), (2,)],
            "triplet_margin_loss": [(2, 3), (2, 4), (2, 3)],
            "multilabel_soft_margin_loss": [(2, 3), (2, 4)],
            "poisson_nll_loss": [(3,), (4,)], "gaussian_nll_loss": [(3,), (4,), (3,)]}[name]
    with pytest.raises(RuntimeError, match=rf"{name}.*(\(4,\)|\(5, 3\)|\(2, 4\))"):
        getattr(F, name)(*(nabla.ones(*s) for s in args))


@pytest.mark.parametrize("name", _DEPRECATED)
@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True)])
def test_deprecated_size_average_and_reduce(torch, rng, name, size_average, reduce):
    cls, make, kw = _CASES[name]
    arrays = make(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_t = getattr(torch.nn.functional, name)(*map(torch.tensor, arrays), **kw,
                                                   size_average=size_average, reduce=reduce)
        mod_t = getattr(torch.nn, cls)(size_average=size_average, reduce=reduce, **kw)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        out_n = getattr(F, name)(*map(nabla.tensor, arrays), **kw,
                                 size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning, match="will be deprecated"):
        mod_n = getattr(nn, cls)(size_average=size_average, reduce=reduce, **kw)
    assert mod_n.reduction == mod_t.reduction
    np.testing.assert_allclose(out_n.numpy(), out_t.numpy(), rtol=1e-10, atol=1e-12)


def test_integer_targets_take_the_input_dtype(torch):
    x = nabla.tensor([0.5, -0.5], dtype=nabla.float32)
    out = F.soft_margin_loss(x, nabla.tensor([1, -1]))
    assert out.dtype == nabla.float32
    ref = torch.nn.functional.soft_margin_loss(torch.tensor([0.5, -0.5]),
                                               torch.tensor([1.0, -1.0]))
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    with pytest.raises(TypeError, match="floating-point"):
        F.hinge_embedding_loss(nabla.tensor([1, 2]), nabla.tensor([1, -1]))
