"""Loss modules: thin wrappers over the functions in ``nn.functional``.

>>> import nabla
>>> from nabla import nn
>>> criterion = nn.CrossEntropyLoss()
>>> round(criterion(nabla.zeros(4, 10), nabla.tensor([1, 2, 3, 4])).item(), 4)  # log(10)
2.3026
"""

from __future__ import annotations

from ..creation import tensor
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "MarginRankingLoss",
           "HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss", "PairwiseDistance",
           "CosineSimilarity", "TripletMarginLoss", "MultiLabelSoftMarginLoss",
           "PoissonNLLLoss", "GaussianNLLLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        self.reduction = F._reduction(reduction, size_average, reduce)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        # A buffer, as in PyTorch: it follows .to(dtype) and is saved in state_dict.
        self.register_buffer("weight", _as_tensor(weight))


def _as_tensor(x):
    return x if x is None or isinstance(x, Tensor) else tensor(x)


class MSELoss(_Loss):
    """Mean squared error ``mean((input - target)²)``; ``reduction="sum"`` gives the
    sum of squared residuals, ``"none"`` the squared residuals themselves.

    >>> import nabla
    >>> MSELoss(reduction="sum")(nabla.tensor([1.0, 2.0]), nabla.tensor([0.0, 4.0]))
    tensor(5.)
    """

    def forward(self, input, target):
        r = self.reduction
        if r in F._REDUCTIONS:  # F.mse_loss without its translation of size_average, reduce
            return F._regression("mse_loss", input, target, "mse", None, r)
        return F.mse_loss(input, target, reduction=r)


class L1Loss(_Loss):
    """Mean absolute error.

    >>> import nabla
    >>> L1Loss()(nabla.tensor([1.0, 2.0]), nabla.tensor([0.0, 4.0]))
    tensor(1.5000)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Quadratic for residuals smaller than ``delta``, linear beyond.

    >>> import nabla
    >>> HuberLoss(delta=1.0)(nabla.tensor([3.0]), nabla.tensor([0.0]))
    tensor(2.5000)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``.

    >>> import nabla
    >>> SmoothL1Loss(beta=2.0)(nabla.tensor([1.0]), nabla.tensor([0.0]))
    tensor(0.2500)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy from logits, against class indices or class probabilities.

    See ``nn.functional.cross_entropy``: ``weight`` per class, ``ignore_index``,
    ``label_smoothing``, one fused and stable node.

    >>> import nabla
    >>> loss = CrossEntropyLoss(label_smoothing=0.1)
    >>> round(loss(nabla.tensor([[3.0, 0.0]]), nabla.tensor([0])).item(), 4)
    0.1986
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices, from log-probabilities.

    >>> import nabla
    >>> NLLLoss()(nabla.tensor([[-0.5, -1.0]]), nabla.tensor([1]))
    tensor(1.)
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (logs clamped at -100).

    >>> import nabla
    >>> BCELoss()(nabla.tensor([0.5]), nabla.tensor([1.0]))
    tensor(0.6931)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, stable for any logit; optional ``pos_weight``.

    >>> import nabla
    >>> BCEWithLogitsLoss()(nabla.tensor([0.0]), nabla.tensor([1.0]))
    tensor(0.6931)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_tensor(weight))
        self.register_buffer("pos_weight", _as_tensor(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of ``target`` from ``input`` (log-probabilities), as
    ``F.kl_div``; use ``reduction="batchmean"`` for the true KL divergence.

    >>> import nabla
    >>> KLDivLoss(reduction="batchmean")(nabla.tensor([[0.0, 0.0]]), nabla.tensor([[0.5, 0.5]]))
    tensor(-0.6931)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):
        if reduction == "batchmean":  # F._reduction knows only PyTorch's common three
            super().__init__(size_average, reduce, "mean")
            self.reduction = "batchmean"
        else:
            super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MarginRankingLoss(_Loss):
    """``max(0, -target * (input1 - input2) + margin)``, as ``F.margin_ranking_loss``.

    >>> import nabla
    >>> MarginRankingLoss(margin=1.0)(nabla.tensor([2.0]), nabla.tensor([1.5]), nabla.tensor([1.0]))
    tensor(0.5000)
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``input`` for targets 1, ``max(0, margin - input)`` for -1, as
    ``F.hinge_embedding_loss``.

    >>> import nabla
    >>> HingeEmbeddingLoss()(nabla.tensor([0.25, 0.25]), nabla.tensor([1.0, -1.0]))
    tensor(0.5000)
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-target * input))``, as ``F.soft_margin_loss``.

    >>> import nabla
    >>> SoftMarginLoss()(nabla.tensor([0.0]), nabla.tensor([1.0]))
    tensor(0.6931)
    """

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos`` for targets 1, ``max(0, cos - margin)`` for -1, as
    ``F.cosine_embedding_loss``.

    >>> import nabla
    >>> CosineEmbeddingLoss()(nabla.tensor([[1.0, 0.0]]), nabla.tensor([[0.0, 1.0]]),
    ...                       nabla.tensor([1.0]))
    tensor(1.)
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class PairwiseDistance(Module):
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim, as ``F.pairwise_distance``.

    >>> import nabla
    >>> PairwiseDistance(eps=0)(nabla.tensor([[0.0, 0.0]]), nabla.tensor([[3.0, 4.0]]))
    tensor([5.])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim``, as
    ``F.cosine_similarity``.

    >>> import nabla
    >>> CosineSimilarity(dim=0)(nabla.tensor([1.0, 0.0]), nabla.tensor([1.0, 1.0]))
    tensor(0.7071)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class TripletMarginLoss(_Loss):
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)``, as
    ``F.triplet_margin_loss``.

    >>> import nabla
    >>> loss = TripletMarginLoss(eps=0)
    >>> loss(nabla.tensor([[0.0]]), nabla.tensor([[1.0]]), nabla.tensor([[3.0]]))
    tensor(0.)
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, "
                             f"got {margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class binary cross-entropy of logits, averaged over classes, as
    ``F.multilabel_soft_margin_loss``.

    >>> import nabla
    >>> MultiLabelSoftMarginLoss()(nabla.zeros(2, 3), nabla.ones(2, 3))
    tensor(0.6931)
    """

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood, as ``F.poisson_nll_loss``.

    >>> import nabla
    >>> PoissonNLLLoss(log_input=False)(nabla.tensor([1.0]), nabla.tensor([1.0]))
    tensor(1.)
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` given mean ``input`` and variance
    ``var``, as ``F.gaussian_nll_loss``.

    >>> import nabla
    >>> GaussianNLLLoss()(nabla.tensor([0.0]), nabla.tensor([1.0]), nabla.tensor([1.0]))
    tensor(0.5000)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)
