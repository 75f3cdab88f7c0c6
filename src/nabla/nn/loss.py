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
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]


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
