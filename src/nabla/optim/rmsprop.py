"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonneg, _lerp_, _options, _state_buf

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, computed exactly as ``torch.optim.RMSprop`` does.

    With ``g`` the gradient (negated when ``maximize``) plus ``weight_decay * p``::

        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - mean_g ** 2) + eps   if centered (mean_g = lerp(mean_g, g, 1 - alpha))
        avg = sqrt(v) + eps                 otherwise
        buf = momentum * buf + g / avg;  p = p - lr * buf    if momentum > 0
        p = p - lr * g / avg                                 otherwise

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.99)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); w          # first step: g / sqrt(0.01 g^2) = 10 sign(g)
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_nonneg(group, "lr", "eps", "momentum", "weight_decay", "alpha")

    _hyper = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, alpha, eps, weight_decay, momentum, centered, maximize = hyper
        names = ("square_avg",) + (("momentum_buffer",) if momentum > 0 else ()) \
            + (("grad_avg",) if centered else ())
        state, _ = self._state_for(p, names)

        g = self._grad(p, grad, weight_decay, maximize)
        square_avg = state["square_avg"]._data
        avg = self._buf(d, 1)
        np.multiply(square_avg, alpha, out=square_avg)
        self._add_square(square_avg, g, 1 - alpha, avg)

        if centered:
            grad_avg = _state_buf(state, "grad_avg", d)
            _lerp_(grad_avg, g, 1 - alpha, avg)
            np.multiply(grad_avg, grad_avg, out=avg)
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(square_avg, out=avg)
        np.add(avg, eps, out=avg)

        if momentum > 0:
            buf = _state_buf(state, "momentum_buffer", d)
            np.multiply(buf, momentum, out=buf)
            np.divide(g, avg, out=avg)
            np.add(buf, avg, out=buf)
            np.multiply(buf, lr, out=avg)
            np.subtract(d, avg, out=d)
        else:
            self._add_quotient(d, g, -lr, avg)  # slot 0 may hold g: read first
