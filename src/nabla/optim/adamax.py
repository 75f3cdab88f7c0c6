"""Adamax: Adam with the infinity norm of past gradients in place of their RMS."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_adam_group, _lerp_, _options

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, computed exactly as ``torch.optim.Adamax`` does.

    With ``g`` the gradient (negated when ``maximize``) plus ``weight_decay * p`` and
    ``t`` the step number::

        m = lerp(m, g, 1 - beta1)
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1 ** t) * m / u

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adamax([w], lr=0.1)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); w          # the first step moves every weight by about lr
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_adam_group(group)

    _hyper = ("lr", "betas", "eps", "weight_decay", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, (beta1, beta2), eps, weight_decay, maximize = hyper
        state, step = self._state_for(p, ("exp_avg", "exp_inf"))
        g = self._grad(p, grad, weight_decay, maximize)
        exp_avg = state["exp_avg"]._data
        exp_inf = state["exp_inf"]._data
        t = self._buf(d, 1)
        _lerp_(exp_avg, g, 1 - beta1, t)
        np.multiply(exp_inf, beta2, out=exp_inf)
        np.abs(g, out=t)
        np.add(t, eps, out=t)
        np.maximum(exp_inf, t, out=exp_inf)
        clr = lr / (1 - beta1**step)
        self._add_quotient(d, exp_avg, -clr, exp_inf)
