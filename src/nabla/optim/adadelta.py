"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

import numpy as np

from ..threads import BIG, split_rows
from .optimizer import Optimizer, _check_nonneg, _options

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta, computed exactly as ``torch.optim.Adadelta`` does.

    With ``g`` the gradient (negated when ``maximize``) plus ``weight_decay * p``::

        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adadelta([w], lr=1.0)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); sorted(opt.state[w])
    ['acc_delta', 'square_avg', 'step']
    >>> [round(x, 5) for x in w.tolist()]   # the first step is tiny: sqrt(eps) / |g| scale
    [0.99684, -1.99684]
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_nonneg(group, "lr")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        _check_nonneg(group, "eps", "weight_decay")

    _hyper = ("lr", "rho", "eps", "weight_decay", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, rho, eps, weight_decay, maximize = hyper
        state, _ = self._state_for(p, ("square_avg", "acc_delta"))
        g = self._grad(p, grad, weight_decay, maximize)
        arrays = (d, g, state["square_avg"]._data, state["acc_delta"]._data,
                  self._buf(d, 1), self._buf(d, 2))
        if d.size >= BIG and all(a.flags.c_contiguous for a in arrays):
            # A big parameter (the MNIST CNN's 9216 x 128 layer) in parts on every thread:
            # fifteen passes over it, each element on its own.
            flat = [a.reshape(-1) for a in arrays]
            split_rows(lambda lo, hi: _adadelta(*(a[lo:hi] for a in flat), lr, rho, eps),
                       flat[0])
        else:
            _adadelta(*arrays, lr, rho, eps)


def _adadelta(d, g, square_avg, acc_delta, std, delta, lr, rho, eps):
    """One Adadelta step of parameter values ``d`` in place (see ``Adadelta``), with two
    scratch arrays ``std`` and ``delta``, in PyTorch's order of operations."""
    np.multiply(square_avg, rho, out=square_avg)
    Optimizer._add_square(square_avg, g, 1 - rho, std)
    np.add(square_avg, eps, out=std)
    np.sqrt(std, out=std)
    np.add(acc_delta, eps, out=delta)
    np.sqrt(delta, out=delta)
    np.divide(delta, std, out=delta)
    np.multiply(delta, g, out=delta)
    np.multiply(acc_delta, rho, out=acc_delta)
    Optimizer._add_square(acc_delta, delta, 1 - rho, std)
    np.multiply(delta, lr, out=delta)
    np.subtract(d, delta, out=d)
