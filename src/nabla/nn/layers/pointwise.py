"""More element-wise activations: ``ELU``, ``CELU``, ``SELU``, ``PReLU``, ``Hardtanh``,
``ReLU6``, ``LogSigmoid``, ``Softsign``, ``Mish``, ``Hardsigmoid``, ``Hardswish``, ``GLU``.

Each is composed from differentiable ops chosen so that no branch overflows (ELU takes
``expm1`` of ``min(x, 0)``, not of ``x``), so the gradients need no code of their own.

>>> import nabla
>>> ELU()(nabla.tensor([-1.0, 2.0]))
tensor([-0.6321,  2.0000])
"""

from __future__ import annotations

from ... import backend
from ...creation import full
from .. import functional as F
from ..module import Module, Parameter

__all__ = ["ELU", "CELU", "SELU", "PReLU", "Hardtanh", "ReLU6", "LogSigmoid", "Softsign",
           "Mish", "Hardsigmoid", "Hardswish", "GLU"]


class ELU(Module):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    >>> ELU(alpha=0.5)
    ELU(alpha=0.5)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> import nabla
    >>> round(CELU(2.0)(nabla.tensor([-2.0])).item(), 4)
    -1.2642
    """

    def forward(self, input):
        return F.celu(input, self.alpha)


class SELU(Module):
    """``scale * elu(x, alpha)`` with the self-normalising constants.

    >>> import nabla
    >>> round(SELU()(nabla.tensor([1.0])).item(), 4)
    1.0507
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.selu(input)


class PReLU(Module):
    """``x`` for ``x >= 0``, else ``weight * x`` with a learned ``weight`` (one, or one
    per channel of dim 1).

    >>> import nabla
    >>> m = PReLU(3)
    >>> m.weight.shape, m(nabla.ones(2, 3, 4)).shape
    ((3,), (2, 3, 4))
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        backend.device(device)
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype))

    def reset_parameters(self) -> None:
        from .. import init as _init

        _init.constant_(self.weight, self.init)

    def forward(self, input):
        w = self.weight
        if self.num_parameters > 1:
            if input.ndim < 2 or input.shape[1] != self.num_parameters:
                raise ValueError(f"PReLU: {self.num_parameters} parameters need the input's "
                                 f"dim 1 to match, got shape {input.shape}")
            w = w.reshape(self.num_parameters, *([1] * (input.ndim - 2)))
        return input.relu() - w * (-input).relu()

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Hardtanh(Module):
    """``x`` clamped to ``[min_val, max_val]``.

    >>> import nabla
    >>> Hardtanh()(nabla.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if max_val < min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must not be below min_val "
                             f"({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (
            ", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``.

    >>> ReLU6()
    ReLU6()
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed as ``-softplus(-x)`` (no overflow for large ``|x|``).

    >>> import nabla
    >>> LogSigmoid()(nabla.tensor([-200.0, 0.0]))
    tensor([-200.0000,   -0.6931])
    """

    def forward(self, input):
        return F.logsigmoid(input)


class Softsign(Module):
    """``x / (1 + |x|)``.

    >>> import nabla
    >>> Softsign()(nabla.tensor([1.0]))
    tensor([0.5000])
    """

    def forward(self, input):
        return F.softsign(input)


class Mish(Module):
    """``x * tanh(softplus(x))``.

    >>> import nabla
    >>> round(Mish()(nabla.tensor([1.0])).item(), 4)
    0.8651
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.mish(input)


class Hardsigmoid(Module):
    """``clamp(x / 6 + 1/2, 0, 1)``.

    >>> import nabla
    >>> Hardsigmoid()(nabla.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardsigmoid(input)


class Hardswish(Hardsigmoid):
    """``x * hardsigmoid(x)``.

    >>> import nabla
    >>> Hardswish()(nabla.tensor([-4.0, 1.0, 4.0]))
    tensor([-0.0000,  0.6667,  4.0000])
    """

    def forward(self, input):
        return F.hardswish(input)


class GLU(Module):
    """Gated linear unit: split ``dim`` in halves ``a, b``; ``a * sigmoid(b)``.

    >>> import nabla
    >>> GLU()(nabla.ones(2, 4)).shape
    (2, 2)
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
