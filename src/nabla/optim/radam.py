"""RAdam: Adam whose adaptive step is switched on as its variance becomes tractable."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _adam_moments, _check_adam_group, _options

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam, computed exactly as ``torch.optim.RAdam`` does.

    With ``g`` the gradient (negated when ``maximize``; plus ``weight_decay * p``, or
    ``p *= 1 - lr * weight_decay`` first when ``decoupled_weight_decay``) and ``t`` the
    step number::

        m = lerp(m, g, 1 - beta1)              v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2 ** t / (1 - beta2 ** t)
        p = p - lr * m / (1 - beta1 ** t) * adaptive * rect      if rho_t > 5
        p = p - lr * m / (1 - beta1 ** t)                          otherwise

    where ``adaptive = sqrt(1 - beta2 ** t) / (sqrt(v) + eps)`` and ``rect`` is the
    variance rectification term. The first steps (``rho_t <= 5``) are plain momentum.

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RAdam([w], lr=0.1)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); [round(x, 4) for x in w.tolist()]    # step 1: p - lr * g
    [0.95, -1.7]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_adam_group(group)

    _hyper = ("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, (beta1, beta2), eps, weight_decay, decoupled, maximize = hyper
        state, step = self._state_for(p, ("exp_avg", "exp_avg_sq"))
        g = self._decayed_grad(p, grad, lr, weight_decay, maximize, decoupled)
        t = self._buf(d, 1)
        exp_avg, exp_avg_sq = _adam_moments(state, g, beta1, beta2, t)

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2

        u = self._buf(d, 0)  # the gradient, if it lives there, is no longer needed
        np.divide(exp_avg, bias_correction1, out=u)
        np.multiply(u, lr, out=u)
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            np.sqrt(exp_avg_sq, out=t)
            np.add(t, eps, out=t)
            np.divide(bias_correction2**0.5, t, out=t)
            np.multiply(u, t, out=u)
            np.multiply(u, rect, out=u)
        np.subtract(d, u, out=d)
