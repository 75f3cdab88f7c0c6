"""Rprop: per-weight step sizes grown or shrunk by the sign agreement of gradients."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _check_nonneg, _options

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation, computed exactly as ``torch.optim.Rprop`` does.

    Only the sign of the gradient ``g`` (negated when ``maximize``) is used. Each
    weight keeps a step size (starting at ``lr``) and the previous gradient::

        s = g * prev
        step = clamp(step * (etaplus if s > 0, etaminus if s < 0, else 1), *step_sizes)
        g = 0 where s < 0                 (a sign change: skip this weight once)
        p = p - sign(g) * step;   prev = g

    Meant for full-batch training, where the gradient's sign is reliable.

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Rprop([w], lr=0.1)
    >>> for _ in range(2):
    ...     w.grad = nabla.tensor([0.5, -3.0])
    ...     opt.step()
    >>> w                     # 0.1, then 0.1 * 1.2 with the same sign
    tensor([ 0.78, -1.78], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        maximize: bool = False,
    ):
        super().__init__(params, _options(locals()))

    def _check_group(self, group):
        _check_nonneg(group, "lr")
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")

    _hyper = ("lr", "etas", "step_sizes", "maximize")

    def _update(self, p, d, grad, hyper):
        lr, (etaminus, etaplus), (step_min, step_max), maximize = hyper
        state = self.state[p]
        if "step" not in state:  # the step sizes start at lr, not at zero
            state, _ = self._state_for(p, ("prev",))
            state["step_size"] = Tensor._wrap(np.full_like(d, lr))
        else:
            state, _ = self._state_for(p)
        g = self._grad(p, grad, 0, maximize)
        prev = state["prev"]._data
        step_size = state["step_size"]._data

        factor = self._buf(d, 1)
        np.multiply(g, prev, out=factor)
        # PyTorch's order, each mask a short-lived byte per weight: positives become
        # etaplus, negatives etaminus, and only the zeros are left to become 1.
        np.copyto(factor, etaplus, where=factor > 0)
        np.copyto(factor, etaminus, where=factor < 0)
        np.copyto(factor, 1, where=factor == 0)
        np.multiply(step_size, factor, out=step_size)
        np.clip(step_size, step_min, step_max, out=step_size)

        # The new "previous gradient": zero where the sign flipped (compared as PyTorch
        # compares it, with the factor that was set there).
        np.copyto(prev, g)
        np.copyto(prev, 0, where=factor == etaminus)
        np.sign(prev, out=factor)
        np.multiply(factor, step_size, out=factor)
        np.subtract(d, factor, out=d)
