"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .optimizer import _STEP_DTYPE, Optimizer, _check_nonneg, _options

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, computed exactly as ``torch.optim.Adagrad`` does.

    With ``g`` the gradient (negated when ``maximize``) plus ``weight_decay * p`` and
    ``t`` the step number::

        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                    (sum starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(sum) + eps)

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); w          # first step: g / |g| = sign(g)
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))
        # PyTorch creates Adagrad's state up front, for every parameter: its state_dict
        # lists parameters that never had a gradient too.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group["initial_accumulator_value"])

    def _check_group(self, group):
        _check_nonneg(group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _init_state(self, p, initial_accumulator_value):
        state = self.state[p]
        state["step"] = Tensor._wrap(np.zeros((), _STEP_DTYPE))
        state["sum"] = Tensor._wrap(np.full_like(p._data, initial_accumulator_value))

    _hyper = ("lr", "lr_decay", "eps", "weight_decay", "maximize", "initial_accumulator_value")

    def _update(self, p, d, grad, hyper):
        lr, lr_decay, eps, weight_decay, maximize, initial = hyper
        if not self.state.get(p):  # a group added after construction
            self._init_state(p, initial)
        state, step = self._state_for(p)

        g = self._grad(p, grad, weight_decay, maximize)
        clr = lr / (1 + (step - 1) * lr_decay)
        total = state["sum"]._data
        std = self._buf(d, 1)
        np.multiply(g, g, out=std)
        np.add(total, std, out=total)
        np.sqrt(total, out=std)
        np.add(std, eps, out=std)
        self._add_quotient(d, g, -clr, std)
