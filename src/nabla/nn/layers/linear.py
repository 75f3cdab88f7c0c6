"""``Linear``: the fully connected layer, ``y = x @ W.T + b``."""

from __future__ import annotations

import math

from ... import backend
from ...creation import empty
from ...functions import _linear, linear
from .. import init
from ..module import Module, Parameter

__all__ = ["Linear"]


class Linear(Module):
    """Fully connected layer: ``y = x @ weight.T + bias``.

    ``weight`` has shape ``(out_features, in_features)``, as in PyTorch. Both start
    uniform in ``(-1/sqrt(in_features), 1/sqrt(in_features))`` (PyTorch's default:
    kaiming_uniform with ``a = sqrt(5)``).

    >>> import nabla
    >>> from nabla import nn
    >>> fc = nn.Linear(3, 2)
    >>> fc
    Linear(in_features=3, out_features=2, bias=True)
    >>> fc(nabla.ones(4, 3)).shape, fc.weight.shape
    ((4, 2), (2, 3))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        backend.device(device)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        if self.in_features < 0 or self.out_features < 0:
            raise ValueError(
                f"Linear: in_features and out_features must be non-negative, got "
                f"{in_features} and {out_features}"
            )
        self.weight = Parameter(empty(self.out_features, self.in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """Draw fresh weights with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input):
        # One fused node (x @ W.T + b); no other Python work on this path.
        return linear(input, self.weight, self.bias)

    def _fuse(self, input, after):
        """Sequential: this layer and a ReLU, Tanh or Sigmoid after it, as one node."""
        # _hook(after[0], "_after_linear") and _linear's shape check, inline: every Python
        # call on this path costs ~0.5 us inside a training step, where caches are cold.
        act = after[0]
        op = type(act).__dict__.get("_after_linear")
        if op is None or "forward" in act.__dict__:
            return None
        w, b = self.weight, self.bias
        if b is None or input._data.shape[-1] != w._data.shape[-1]:
            return _linear(op, input, w, b), 2  # no bias, or the shape error
        return op.apply(input, w, b), 2

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
