"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..blas import AXPY_FROM, axpy
from ..tensor import Tensor
from .optimizer import Optimizer, _options

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
        super().__init__(params, _options(locals()))
        self._tmp: dict = {}  # parameter -> (its array, its scratch, lr, lr as 0-d array)

    def _check_group(self, group):
        if group["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    _hyper = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def _updater(self, group):
        if group["momentum"] == 0 and group["weight_decay"] == 0 and not group["maximize"]:
            return self._plain_update
        return self._update

    def _update(self, p, d, grad, hyper):
        lr, momentum, dampening, weight_decay, nesterov, maximize = hyper
        g = self._grad(p, grad, weight_decay, maximize)
        scratch = g is not grad  # may we overwrite g?
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
                fused = d.size >= AXPY_FROM
                if fused:
                    np.copyto(t, g)
                    fused = axpy(momentum, buf, t)  # g + momentum * buf, one rounding
                if not fused:
                    np.multiply(buf, momentum, out=t)
                    np.add(g, t, out=t)
                g, scratch = t, True
            else:
                g, scratch = buf, False
        if d.size >= AXPY_FROM and axpy(-lr, g, d):  # PyTorch's p.add_(g, alpha=-lr)
            return
        t = g if scratch else self._buf(d, 1)
        np.multiply(g, lr, out=t)
        np.subtract(d, t, out=d)

    def _plain_update(self, p, d, grad, hyper):
        """``p -= lr * grad``: plain SGD, the most common setting. From ``AXPY_FROM``
        elements on, one BLAS axpy (``nabla.blas``): a single fused multiply-add pass, 3x
        faster than NumPy's two and with the bits of PyTorch's ``p.add_(g, alpha=-lr)``.
        Elsewhere (or without OpenBLAS), two NumPy passes (within a rounding of
        PyTorch's), with nothing looked up but what is kept for the parameter: its
        scratch array (so a step makes no view) and the lr as a 0-d array of its dtype,
        which NumPy multiplies in half the time of a Python float (0.4 -> 0.2 us) with
        the same rounding, float32(lr) on float32. Both are rebuilt when the parameter's
        array or the group's lr is replaced."""
        lr = hyper[0]
        if d.size >= AXPY_FROM and axpy(-lr, grad, d):
            return
        kept = self._tmp.get(p)
        if kept is None or kept[0] is not d or kept[2] is not lr:
            kept = self._tmp[p] = (d, self._buf(d, 1), lr, np.array(lr, d.dtype))
        t = kept[1]
        np.multiply(grad, kept[3], t)
        np.subtract(d, t, d)
