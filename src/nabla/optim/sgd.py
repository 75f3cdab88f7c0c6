"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, computed exactly as ``torch.optim.SGD`` does.

    With ``g`` the gradient (negated when ``maximize``) plus ``weight_decay * p``::

        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g   = g + momentum * buf   if nesterov else   buf
        p   = p - lr * g

    >>> import nabla
    >>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()   # gradient 2w
    ...     opt.step()
    >>> w
    tensor([ 0.46, -0.92], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        self._check_group(defaults)
        super().__init__(params, defaults)
        self._tmp: dict = {}  # parameter -> (its array, its view of the scratch)

    def _check_group(self, group):
        if group["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None if closure is None else self._closure(closure)
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            weight_decay = group["weight_decay"]
            maximize = group["maximize"]
            if momentum == 0 and weight_decay == 0 and not maximize:
                self._plain_step(group["params"], lr)
                continue
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = self._grad(p, weight_decay, maximize)
                scratch = g is not p.grad._data  # may we overwrite g?
                if momentum != 0:
                    state = self.state[p]
                    mb = state.get("momentum_buffer")
                    if mb is None:
                        buf = np.array(g, dtype=d.dtype, copy=True, order="K")
                        state["momentum_buffer"] = Tensor._wrap(buf)
                    else:
                        buf = mb._data
                        np.multiply(buf, momentum, out=buf)
                        if dampening == 0:
                            np.add(buf, g, out=buf)
                        else:
                            t = self._buf(d, 1)
                            np.multiply(g, 1 - dampening, out=t)
                            np.add(buf, t, out=buf)
                    if nesterov:
                        t = self._buf(d, 1)
                        np.multiply(buf, momentum, out=t)
                        np.add(g, t, out=t)
                        g, scratch = t, True
                    else:
                        g, scratch = buf, False
                t = g if scratch else self._buf(d, 1)
                np.multiply(g, lr, out=t)
                np.subtract(d, t, out=d)
                p._vc[0] += 1
        return loss

    def _plain_step(self, params, lr):
        """``p -= lr * grad`` for each parameter: plain SGD, the most common setting, with
        nothing looked up per parameter but its scratch array (kept per parameter, so a
        step makes no view; 11 -> 9.3 us a step for the four parameters of 784-30-10)."""
        tmp = self._tmp
        for p in params:
            grad = p.grad
            if grad is None:
                continue
            g, d = grad._data, p._data
            if g.shape != d.shape:
                self._grad(p, 0, False)  # raises the shape error, worded as everywhere
            # The scratch is kept with the array it was made for: one identity test.
            kept = tmp.get(p)
            if kept is not None and kept[0] is d:
                t = kept[1]
            else:
                t = self._buf(d, 1)
                tmp[p] = (d, t)
            np.multiply(g, lr, out=t)
            np.subtract(d, t, out=d)
            p._vc[0] += 1
