"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _adam_moments, _check_adam_group, _options, _state_buf

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, computed exactly as ``torch.optim.Adam`` does.

    With ``g`` the gradient (negated when ``maximize``; plus ``weight_decay * p``
    unless the decay is decoupled, as in AdamW) and ``t`` the step number::

        m = lerp(m, g, 1 - beta1)              v = beta2 * v + (1 - beta2) * g * g
        step_size = lr / (1 - beta1 ** t)
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps     (v -> running max if amsgrad)
        p = p - step_size * m / denom

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); w          # the first Adam step moves every weight by about lr
    tensor([ 0.9, -1.9], requires_grad=True)
    >>> sorted(opt.state[w])
    ['exp_avg', 'exp_avg_sq', 'step']
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_adam_group(group)

    _hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
              "decoupled_weight_decay")

    def _update(self, p, d, grad, hyper):
        lr, betas, eps, weight_decay, amsgrad, maximize, decoupled = hyper
        beta1, beta2 = betas
        state, step = self._state_for(p, ("exp_avg", "exp_avg_sq"))
        g = self._decayed_grad(p, grad, lr, weight_decay, maximize, decoupled)

        t = self._buf(d, 1)
        exp_avg, exp_avg_sq = _adam_moments(state, g, beta1, beta2, t)

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5

        if amsgrad:
            max_sq = _state_buf(state, "max_exp_avg_sq", d)  # may be switched on late
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            np.sqrt(max_sq, out=t)
        else:
            np.sqrt(exp_avg_sq, out=t)
        np.divide(t, bias_correction2_sqrt, out=t)
        np.add(t, eps, out=t)
        self._add_quotient(d, exp_avg, -step_size, t)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the step.

    Computed exactly as ``torch.optim.AdamW`` does; the decay defaults to ``1e-2``.

    >>> import nabla
    >>> w = nabla.tensor([1.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = nabla.tensor([0.0])
    >>> opt.step(); w          # no gradient: only the decay, 1 * (1 - 0.1 * 0.5)
    tensor([0.95], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
