"""What ``nn.functional`` and ``nn.functional_losses`` share: a value as a tensor, the
reduction argument (with PyTorch's deprecated ``size_average``/``reduce``), a
floating-point input, and PyTorch's unrecorded clamp. One place, so every loss gives the
same messages.

>>> from nabla.nn._args import _reduction
>>> _reduction("sum")
'sum'
"""

from __future__ import annotations

import warnings

from ..creation import tensor
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else tensor(x)


def _reduction(reduction: str, size_average=None, reduce=None) -> str:
    """Validate ``reduction``; also translate PyTorch's deprecated size_average/reduce."""
    if size_average is not None or reduce is not None:
        new = "none" if reduce is False else "mean" if size_average is not False else "sum"
        # stacklevel 3: the warning points at the program's call of the loss
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{new}' instead.", stacklevel=3)
        return new
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'mean', "
                         "'sum' or 'none'")
    return reduction


def _floor_unrecorded(x: Tensor, low: float) -> Tensor:
    """``x`` clamped below at ``low`` with the gradient of ``x`` itself, as PyTorch clamps
    a norm or a variance for stability without differentiating the clamp."""
    d = x.detach()
    return x + (d.clamp(min=low) - d)


def _float_input(name: str, input) -> Tensor:
    x = _t(input)
    if x._data.dtype.kind != "f":
        raise TypeError(
            f"{name}: input must be a floating-point tensor, got {x.dtype}: convert with .float()"
        )
    return x
