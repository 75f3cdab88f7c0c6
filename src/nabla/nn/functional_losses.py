"""The margin, embedding and likelihood losses of ``nn.functional``, built from tensor ops.

``nn.functional`` re-exports every name here, so ``F.margin_ranking_loss`` and the rest
sit beside ``F.mse_loss`` as in PyTorch. Each loss is a composite of differentiable
tensor ops: autograd derives its gradient, no dedicated node is needed.

>>> import nabla
>>> import nabla.nn.functional as F
>>> F.margin_ranking_loss(nabla.tensor([1.0, 2.0]), nabla.tensor([2.0, 1.0]),
...                       nabla.tensor([1.0, 1.0]))
tensor(0.5000)
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import ShapeError, Tensor
from ._args import _float_input, _floor_unrecorded, _reduction, _t

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "cosine_embedding_loss", "pairwise_distance", "triplet_margin_loss",
           "multilabel_soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss"]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _broadcast(name: str, **tensors) -> None:
    """Raise a ShapeError naming the arguments whose shapes do not broadcast together."""
    try:
        np.broadcast_shapes(*(t.shape for t in tensors.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {tuple(t.shape)}" for k, t in tensors.items())
        raise ShapeError(f"{name}: shapes do not broadcast together: {shapes}") from None


def _like(x: Tensor, t) -> Tensor:
    """``t`` as a tensor in ``x``'s float dtype (integer targets such as ±1 are common)."""
    t = _t(t)
    return t if t._data.dtype == x._data.dtype else t.to(x.dtype)


def margin_ranking_loss(input1, input2, target, margin: float = 0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``: ``target`` 1 asks for
    ``input1`` to rank above ``input2`` by ``margin``, -1 for the reverse.

    >>> import nabla
    >>> margin_ranking_loss(nabla.tensor([1.0, 2.0]), nabla.tensor([2.0, 1.0]),
    ...                     nabla.tensor([1.0, -1.0]), margin=0.5, reduction="none")
    tensor([1.5000, 1.5000])
    """
    reduction = _reduction(reduction, size_average, reduce)
    a = _float_input("margin_ranking_loss", input1)
    b, t = _like(a, input2), _like(a, target)
    if not a.ndim == b.ndim == t.ndim:
        raise ShapeError(
            "margin_ranking_loss: input1, input2 and target must have the same number of "
            f"dimensions, got shapes {tuple(a.shape)}, {tuple(b.shape)} and {tuple(t.shape)}"
        )
    _broadcast("margin_ranking_loss", input1=a, input2=b, target=t)
    return _reduce((margin - t * (a - b)).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """``input`` where ``target`` is 1, ``max(0, margin - input)`` where it is -1
    (``input`` is usually a distance; other target values get both terms, as PyTorch).

    >>> import nabla
    >>> hinge_embedding_loss(nabla.tensor([0.3, 0.3]), nabla.tensor([1.0, -1.0]),
    ...                      reduction="none")
    tensor([0.3000, 0.7000])
    """
    reduction = _reduction(reduction, size_average, reduce)
    x = _float_input("hinge_embedding_loss", input)
    t = _like(x, target)
    _broadcast("hinge_embedding_loss", input=x, target=t)
    zero = x._other(0.0)
    # Tested as "not the other label" so that both where()s broadcast x against t.
    hinge = (margin - x).clamp(min=0).where(t != 1, zero)
    return _reduce(hinge + x.where(t != -1, zero), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target * input))`` for targets ±1.

    Computed as ``softplus(-target * input)``, which neither overflows for large margins
    nor loses the small ones.

    >>> import nabla
    >>> soft_margin_loss(nabla.tensor([0.0, 1000.0]), nabla.tensor([1.0, -1.0]),
    ...                  reduction="none").tolist()
    [0.6931471824645996, 1000.0]
    """
    reduction = _reduction(reduction, size_average, reduce)
    x = _float_input("soft_margin_loss", input)
    t = _like(x, target)
    _broadcast("soft_margin_loss", input=x, target=t)
    return _reduce((-t * x).softplus(), reduction)


# Added to the squared norms before the square root, as PyTorch does, so that a zero
# vector gives a cosine of 0 rather than nan.
_COSINE_EPS = 1e-12


def cosine_embedding_loss(input1, input2, target, margin: float = 0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(input1, input2)`` where ``target`` is 1, ``max(0, cos - margin)`` where
    it is -1 (0 for other values); the cosine is taken along the last dim.

    Inputs are ``(N, D)`` with target ``(N,)``, or ``(D,)`` with a 0-d target.

    >>> import nabla
    >>> x = nabla.tensor([[1.0, 0.0], [1.0, 1.0]])
    >>> y = nabla.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> cosine_embedding_loss(x, y, nabla.tensor([1, -1]), reduction="none")
    tensor([0.0000, 0.7071])
    """
    reduction = _reduction(reduction, size_average, reduce)
    a = _float_input("cosine_embedding_loss", input1)
    b, t = _like(a, input2), _like(a, target)
    if t.ndim > 1:
        raise ShapeError("cosine_embedding_loss: 0D or 1D target tensor expected, multi-target "
                         f"not supported (got target of shape {tuple(t.shape)})")
    if not a.ndim == b.ndim == t.ndim + 1:
        raise ShapeError(
            f"cosine_embedding_loss: a {t.ndim}D target expects {t.ndim + 1}D inputs, got "
            f"input1 {tuple(a.shape)} and input2 {tuple(b.shape)}"
        )
    _broadcast("cosine_embedding_loss", input1=a, input2=b)
    dot = (a * b).sum(-1)
    norms = ((a * a).sum(-1) + _COSINE_EPS) * ((b * b).sum(-1) + _COSINE_EPS)
    cos = dot / norms.sqrt()
    _broadcast("cosine_embedding_loss", cosine=cos, target=t)
    zero = cos._other(0.0)
    pos = (1 - cos).where(t == 1, zero)
    neg = (cos - margin).clamp(min=0).where(t == -1, zero)
    return _reduce(pos + neg, reduction)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim (the two broadcast).

    ``eps`` keeps the norm's gradient finite where the vectors coincide. ``p=0`` counts
    the entries that differ (no gradient).

    >>> import nabla
    >>> pairwise_distance(nabla.tensor([[0.0, 0.0]]), nabla.tensor([[3.0, 4.0]]), eps=0)
    tensor([5.])
    """
    a = _float_input("pairwise_distance", x1)
    b = _like(a, x2)
    _broadcast("pairwise_distance", x1=a, x2=b)
    d = a - b + eps
    if d.ndim == 0:  # a single number: every p-norm is its absolute value
        return (d != 0).to(d.dtype) if p == 0 else d.abs()
    if p == 0:
        return (d != 0).to(d.dtype).sum(-1, keepdim=keepdim).detach()
    return d.norm(p, -1, keepdim=keepdim)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)`` with ``d`` the
    ``pairwise_distance``; ``swap`` uses the nearer of ``d(anchor, negative)`` and
    ``d(positive, negative)`` (the distance swap of Balntas et al., 2016).

    >>> import nabla
    >>> a, pos = nabla.tensor([[0.0, 0.0]]), nabla.tensor([[0.0, 1.0]])
    >>> neg = nabla.tensor([[0.0, 1.5]])
    >>> triplet_margin_loss(a, pos, neg, eps=0)
    tensor(0.5000)
    """
    reduction = _reduction(reduction, size_average, reduce)
    a = _float_input("triplet_margin_loss", anchor)
    pos, neg = _like(a, positive), _like(a, negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise ShapeError(
            "triplet_margin_loss: anchor, positive and negative must have the same number of "
            f"dimensions, got {a.ndim}D, {pos.ndim}D and {neg.ndim}D inputs"
        )
    _broadcast("triplet_margin_loss", anchor=a, positive=pos, negative=neg)
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(pos, neg, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of the logits ``input`` against 0/1 ``target``, averaged over
    the classes (the last dim), then reduced over the samples; ``weight`` per class.

    >>> import nabla
    >>> multilabel_soft_margin_loss(nabla.zeros(1, 3), nabla.tensor([[1.0, 0.0, 1.0]]))
    tensor(0.6931)
    """
    reduction = _reduction(reduction, size_average, reduce)
    x = _float_input("multilabel_soft_margin_loss", input)
    if x.ndim == 0:
        raise ShapeError("multilabel_soft_margin_loss: input needs a class dim, got a 0-d tensor")
    t = _like(x, target)
    _broadcast("multilabel_soft_margin_loss", input=x, target=t)
    # -(t log sigmoid(x) + (1 - t) log sigmoid(-x)), as softplus: no overflow
    loss = t * (-x).softplus() + (1 - t) * x.softplus()
    if weight is not None:
        w = _like(x, weight)
        _broadcast("multilabel_soft_margin_loss", loss=loss, weight=w)
        loss = loss * w
    return _reduce(loss.sum(-1) / x.shape[-1], reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts ``target`` under a Poisson of rate ``input``
    (or ``exp(input)`` with ``log_input``), without the constant ``log(target!)``.

    ``log_input``: ``exp(input) - target * input``; otherwise
    ``input - target * log(input + eps)``. ``full`` adds Stirling's approximation of
    ``log(target!)``, ``target*log(target) - target + 0.5*log(2*pi*target)``, for
    targets above 1.

    >>> import nabla
    >>> poisson_nll_loss(nabla.tensor([0.0]), nabla.tensor([2.0]))
    tensor(1.)
    """
    reduction = _reduction(reduction, size_average, reduce)
    x = _float_input("poisson_nll_loss", input)
    t = _like(x, target)
    _broadcast("poisson_nll_loss", input=x, target=t)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:
        big = t > 1
        # A stand-in 1 where the term is dropped keeps log() finite there (and nan
        # out of the gradient of the where()).
        ts = t.where(big, t._other(1.0))
        stirling = ts * ts.log() - ts + 0.5 * (2 * math.pi * ts).log()
        loss = loss + stirling.where(big, t._other(0.0))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under a Gaussian of mean ``input`` and
    variance ``var``: ``0.5 * (log(var) + (input - target)² / var)``, plus
    ``0.5 * log(2*pi)`` with ``full``.

    ``var`` has ``input``'s shape, or that shape with the last dim 1 or dropped (one
    variance per sample), or is a number. It is clamped at ``eps`` for stability; as in
    PyTorch the clamp is not differentiated (the gradient passes as if unclamped).

    >>> import nabla
    >>> gaussian_nll_loss(nabla.tensor([1.0]), nabla.tensor([3.0]), nabla.tensor([2.0]))
    tensor(1.3466)
    """
    reduction = _reduction(reduction)
    x = _float_input("gaussian_nll_loss", input)
    t = _like(x, target)
    if isinstance(var, Tensor):
        v = _like(x, var)
    else:
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var has negative entry/entries (got {var})")
        v = x.detach() * 0 + var  # a number: the same variance everywhere
    if v.shape != x.shape:
        if v.shape == x.shape[:-1]:
            v = v.unsqueeze(-1)  # one variance per sample
        elif not (v.ndim and v.shape[:-1] == x.shape[:-1] and v.shape[-1] == 1):
            raise ValueError(
                f"gaussian_nll_loss: var is of incorrect size {tuple(v.shape)} for input "
                f"{tuple(x.shape)}: give input's shape, or it with the last dim 1 or dropped"
            )
    _broadcast("gaussian_nll_loss", input=x, target=t)
    if v._data.size and v._data.min() < 0:
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    v = _floor_unrecorded(v, eps)
    loss = 0.5 * (v.log() + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
