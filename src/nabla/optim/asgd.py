"""ASGD: stochastic gradient descent that also keeps an average of the iterates."""

from __future__ import annotations

import numpy as np

from .optimizer import _STEP_DTYPE, Optimizer, _check_nonneg, _options

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD, computed exactly as ``torch.optim.ASGD`` does.

    With ``g`` the gradient (negated when ``maximize``) plus ``weight_decay * p`` and
    ``t`` the step number; ``eta`` and ``mu`` are float32 scalars in the state (as in
    PyTorch), ``ax`` the running average of the parameter::

        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)            (ax = p while mu is 1)
        eta = lr / (1 + lambd * lr * t) ** alpha;   mu = 1 / max(1, t - t0)

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = ASGD([w], lr=0.1, lambd=0.0)
    >>> w.grad = nabla.tensor([0.5, -3.0])
    >>> opt.step(); [round(x, 4) for x in w.tolist()]
    [0.95, -1.7]
    >>> list(opt.state[w])
    ['step', 'eta', 'mu', 'ax']
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_nonneg(group, "lr", "weight_decay")

    _hyper = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, lambd, alpha, t0, weight_decay, maximize = hyper
        state, step = self._state_for(p, ("ax",), (("eta", lr), ("mu", 1.0)))
        g = self._grad(p, grad, weight_decay, maximize)
        eta_t, mu_t = state["eta"]._data, state["mu"]._data
        eta = float(eta_t)
        t = self._buf(d, 1)
        np.multiply(d, 1 - lambd * eta, out=d)
        np.multiply(g, eta, out=t)
        np.subtract(d, t, out=d)

        ax = state["ax"]._data
        mu = float(mu_t)
        if mu != 1:
            np.subtract(d, ax, out=t)
            np.multiply(t, mu, out=t)
            np.add(ax, t, out=ax)
        else:
            np.copyto(ax, d)
        # PyTorch makes the new values float32 tensors, then copies them into the state:
        # rounded to float32 even where a loaded state dict made the state float64.
        eta_t[()] = _STEP_DTYPE(lr / ((1 + lambd * lr * step) ** alpha))
        mu_t[()] = _STEP_DTYPE(1 / max(1, step - t0))
