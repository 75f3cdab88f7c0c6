"""Activation layers: thin modules over ``nn.functional``.

>>> import nabla
>>> from nabla import nn
>>> nn.ReLU()(nabla.tensor([-1.0, 1.0]))
tensor([0., 1.])
"""

from __future__ import annotations

from ...ops import linalg as _la
from .. import functional as F
from ..module import Module, _hook

__all__ = ["Step", "Heaviside", "Sigmoid", "ReLU", "LeakyReLU", "Tanh", "Softplus", "GELU",
           "SiLU", "Softmax", "LogSoftmax", "Softmin", "Threshold", "Tanhshrink"]


class Step(Module):
    """Heaviside step: 1 where ``x > threshold``, else 0. Passes no gradient (see
    ``nn.functional.step``).

    >>> import nabla
    >>> Step(threshold=5)(nabla.tensor([4.0, 6.0]))
    tensor([0., 1.])
    """

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, input):
        return F.step(input, self.threshold)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


Heaviside = Step


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``.

    >>> import nabla
    >>> Sigmoid()(nabla.zeros(1))
    tensor([0.5000])
    """

    _after_linear = _la.LinearSigmoid  # what Sequential runs for Linear followed by this

    def forward(self, input):
        return input.sigmoid()


class ReLU(Module):
    """``max(x, 0)``.

    >>> ReLU()
    ReLU()
    """

    _after_linear = _la.LinearRelu  # what Sequential runs for Linear followed by this

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch code; the result is always new

    def _fuse(self, input, after):
        """Sequential: a max pooling after this runs first (relu(max) == max(relu))."""
        pool = after[0]
        if _hook(pool, "_commutes_with_relu") and not pool.return_indices:
            return self(pool(input)), 2
        return None

    def forward(self, input):
        return input.relu()


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    >>> LeakyReLU(0.2)
    LeakyReLU(negative_slope=0.2)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return input.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    """Hyperbolic tangent.

    >>> import nabla
    >>> Tanh()(nabla.zeros(1))
    tensor([0.])
    """

    _after_linear = _la.LinearTanh  # what Sequential runs for Linear followed by this

    def forward(self, input):
        return input.tanh()


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``.

    >>> Softplus()
    Softplus(beta=1.0, threshold=20.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, input):
        return input.softplus(self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """Gaussian error linear unit; ``approximate="tanh"`` for the tanh formula.

    >>> GELU("tanh")
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return input.gelu(self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x * sigmoid(x)``."""

    def forward(self, input):
        return F.silu(input)


class Softmax(Module):
    """Softmax along ``dim``.

    >>> Softmax(dim=1)
    Softmax(dim=1)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim``.

    >>> LogSoftmax(dim=1)
    LogSoftmax(dim=1)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """Softmin along ``dim``: ``softmax(-x)``.

    >>> import nabla
    >>> Softmin(dim=0)(nabla.tensor([0.0, 0.0]))
    tensor([0.5000, 0.5000])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Threshold(Module):
    """``value`` where ``x <= threshold``, ``x`` elsewhere.

    >>> import nabla
    >>> Threshold(0.1, 20)(nabla.tensor([0.0, 1.0]))
    tensor([20.,  1.])
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))


class Tanhshrink(Module):
    """``x - tanh(x)``.

    >>> Tanhshrink()
    Tanhshrink()
    """

    def forward(self, input):
        return F.tanhshrink(input)
