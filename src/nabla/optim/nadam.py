"""NAdam: Adam with Nesterov momentum and a warming momentum schedule."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _adam_moments, _check_adam_group, _options

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam, computed exactly as ``torch.optim.NAdam`` does.

    With ``g`` the gradient (negated when ``maximize``; plus ``weight_decay * p``, or
    ``p *= 1 - lr * weight_decay`` first when ``decoupled_weight_decay``) and ``t`` the
    step number::

        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        prod = prod * mu_t                         (kept as "mu_product")
        m = lerp(m, g, 1 - beta1)              v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2 ** t)) + eps
        p = p - lr (1 - mu_t) / (1 - prod) * g / denom
              - lr mu_{t+1} / (1 - prod mu_{t+1}) * m / denom

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = NAdam([w], lr=0.1)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); list(opt.state[w])
    ['step', 'mu_product', 'exp_avg', 'exp_avg_sq']
    >>> w
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_adam_group(group, "momentum_decay")

    _hyper = ("lr", "betas", "eps", "weight_decay", "momentum_decay",
              "decoupled_weight_decay", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, (beta1, beta2), eps, weight_decay, momentum_decay, decoupled, maximize = hyper
        state, step = self._state_for(p, ("exp_avg", "exp_avg_sq"), (("mu_product", 1.0),))
        bias_correction2 = 1 - beta2**step
        g = self._decayed_grad(p, grad, lr, weight_decay, maximize, decoupled)

        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        # The product stays in its own dtype (float32 unless a state dict cast it).
        prod = state["mu_product"]._data
        np.multiply(prod, mu, out=prod)
        mu_product = float(prod)
        mu_product_next = mu_product * mu_next

        denom = self._buf(d, 1)
        exp_avg, exp_avg_sq = _adam_moments(state, g, beta1, beta2, denom)
        np.divide(exp_avg_sq, bias_correction2, out=denom)
        np.sqrt(denom, out=denom)
        np.add(denom, eps, out=denom)
        self._add_quotient(d, g, -lr * (1.0 - mu) / (1.0 - mu_product), denom)
        self._add_quotient(d, exp_avg, (-lr * mu_next) / (1.0 - mu_product_next), denom)
