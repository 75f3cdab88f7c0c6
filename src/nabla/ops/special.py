"""More elementwise functions, as PyTorch has them: the tangent, the inverse trigonometric
and hyperbolic functions, erf, exp2, atan2, hypot, logaddexp, xlogy, fmod and remainder.

Each is a node whose backward multiplies the incoming gradient by the derivative, written
beside the forward in the tables below (the derivative of ``f`` at ``x``, given ``x`` and
``y = f(x)``). The derivatives are PyTorch's, including where they are infinite (asin at
+-1, acosh at 1) or where PyTorch chooses a value (xlogy's at x = 0). Outside a
function's domain the value is nan, quietly, as in PyTorch (NumPy's warnings are off
inside these nodes).

>>> import nabla
>>> x = nabla.tensor([0.5], requires_grad=True)
>>> x.asin().backward(); round(x.grad.item(), 4)  # 1 / sqrt(1 - x^2)
1.1547
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from .erf import erf

_SQRT_PI = math.sqrt(math.pi)


def _unary(name, forward, slope):
    """A node computing ``forward(a)`` whose gradient is ``g * slope(a, out)``."""

    def fwd(ctx, a):
        with np.errstate(all="ignore"):
            out = forward(a)
        ctx.save_for_backward(a, out)
        return out

    def bwd(ctx, g):
        a, out = ctx.saved_tensors
        with np.errstate(all="ignore"):
            return g * slope(a, out)

    return type(name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                    "__doc__": f"Elementwise {name.lower()}."})


UNARY = {  # method name: the node, from (forward, derivative)
    "tan": _unary("Tan", np.tan, lambda x, y: 1 + y * y),
    "asin": _unary("Asin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x)),
    "acos": _unary("Acos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x)),
    "atan": _unary("Atan", np.arctan, lambda x, y: 1 / (1 + x * x)),
    "sinh": _unary("Sinh", np.sinh, lambda x, y: np.cosh(x)),
    "cosh": _unary("Cosh", np.cosh, lambda x, y: np.sinh(x)),
    "asinh": _unary("Asinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1)),
    "acosh": _unary("Acosh", np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1)),
    "atanh": _unary("Atanh", np.arctanh, lambda x, y: 1 / (1 - x * x)),
    "erf": _unary("Erf", erf, lambda x, y: (2 / _SQRT_PI) * np.exp(-x * x)),
    "exp2": _unary("Exp2", np.exp2, lambda x, y: y * math.log(2)),
}


def _binary(name, forward, slopes):
    """A node computing ``forward(a, b)`` whose gradients are ``g * da`` and ``g * db``
    for ``(da, db) = slopes(a, b, out)`` (the engine sums them back over broadcasting)."""

    def fwd(ctx, a, b):
        with np.errstate(all="ignore"):
            out = np.asarray(forward(a, b))  # (two 0-d operands give a NumPy scalar)
        ctx.save_for_backward(a, b, out)
        return out

    def bwd(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        with np.errstate(all="ignore"):
            da, db = slopes(a, b, out)
            return (g * da if need_a else None), (g * db if need_b else None)

    return type(name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd),
                                    "__doc__": f"Elementwise {name.lower()}."})


def _atan2_slopes(y, x, out):
    r2 = x * x + y * y
    return x / r2, -y / r2


def _hypot_slopes(a, b, out):
    return a / out, b / out


def _logaddexp_slopes(a, b, out):
    return np.exp(a - out), np.exp(b - out)


def _xlogy(x, y):
    # x * log(y), and 0 where x is 0 (even at y = 0 or inf), unless y is nan: PyTorch's
    return np.where((x == 0) & ~np.isnan(y), 0, x * np.log(y))


class Xlogy(Function):
    """``x * log(y)``, 0 where ``x`` is 0. Its gradient is PyTorch's (2.13): for ``x``,
    ``xlogy(g, y)`` except 0 where ``x == 0`` and ``y <= 0``; for ``y``, ``g * x / y``."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(all="ignore"):
            return np.asarray(_xlogy(x, y))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        with np.errstate(all="ignore"):
            gx = np.where((x == 0) & (y <= 0), 0, _xlogy(g, y)) if need_x else None
            return gx, (g * x / y if need_y else None)


def _fmod_slopes(a, b, out):
    return 1, -np.trunc(a / b)


def _remainder_slopes(a, b, out):
    return 1, -np.floor(a / b)


BINARY = {
    "atan2": _binary("Atan2", np.arctan2, _atan2_slopes),
    "hypot": _binary("Hypot", np.hypot, _hypot_slopes),
    "logaddexp": _binary("Logaddexp", np.logaddexp, _logaddexp_slopes),
    "xlogy": Xlogy,
    "fmod": _binary("Fmod", np.fmod, _fmod_slopes),
    "remainder": _binary("Remainder", np.remainder, _remainder_slopes),
}
