"""Gradient clipping and flat parameter vectors, as ``torch.nn.utils``; padding a batch
of sequences in ``rnn`` (``torch.nn.utils.rnn``).

>>> import nabla
>>> from nabla import nn
>>> fc = nn.Linear(3, 1)
>>> fc(nabla.ones(1, 3) * 100).sum().backward()
>>> total = clip_grad_norm_(fc.parameters(), max_norm=1.0)
>>> grads = parameters_to_vector([p.grad for p in fc.parameters()])
>>> total.item() > 1, round(grads.norm().item(), 4)
(True, 1.0)
"""

from __future__ import annotations

import math

import numpy as np

from ...functions import cat
from ...tensor import Tensor
from . import rnn  # noqa: F401  (nn.utils.rnn, as in PyTorch)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _param_list(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)  # it may be a generator: read it once


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is that of all gradients concatenated into one vector (``norm_type`` may be
    ``inf``). Gradients are multiplied in place by ``min(1, max_norm / (norm + 1e-6))``,
    PyTorch's formula. Returns the total norm before clipping.

    >>> import nabla
    >>> p = nabla.nn.Parameter(nabla.zeros(2)); p.grad = nabla.tensor([3.0, 4.0])
    >>> clip_grad_norm_([p], 1.0)
    tensor(5.)
    >>> p.grad
    tensor([0.6000, 0.8000])
    """
    grads = [p.grad for p in _param_list(parameters) if p.grad is not None]
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    dt = grads[0]._data.dtype
    if norm_type == math.inf:
        total = max(float(np.abs(g._data).max()) if g._data.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        # vdot is one BLAS pass per gradient and makes no |g|² temporary.
        total = math.sqrt(sum(float(np.vdot(g._data.reshape(-1), g._data.reshape(-1)))
                              for g in grads))
    else:
        total = sum(float((np.abs(g._data) ** norm_type).sum()) for g in grads)
        total = total ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            if g._data.flags.writeable:
                g._data *= dt.type(coef)
            else:
                g._data = g._data * dt.type(coef)
    return Tensor._wrap(np.asarray(total, dtype=dt))


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    >>> import nabla
    >>> p = nabla.nn.Parameter(nabla.zeros(2)); p.grad = nabla.tensor([-3.0, 0.5])
    >>> clip_grad_value_([p], 1.0); p.grad
    tensor([-1.0000,  0.5000])
    """
    clip_value = float(clip_value)
    for p in _param_list(parameters):
        g = p.grad
        if g is not None:
            if g._data.flags.writeable:
                np.clip(g._data, -clip_value, clip_value, out=g._data)
            else:
                g._data = np.clip(g._data, -clip_value, clip_value)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and joined into one vector (differentiable).

    >>> from nabla import nn
    >>> parameters_to_vector(nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    params = _param_list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected nabla.Tensor, but got: {type(p).__name__}")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Copy the slices of the vector ``vec`` into the parameters, in place.

    >>> import nabla
    >>> from nabla import nn
    >>> fc = nn.Linear(3, 2)
    >>> vector_to_parameters(nabla.arange(8.0), fc.parameters())
    >>> fc.bias.tolist()
    [6.0, 7.0]
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected nabla.Tensor, but got: {type(vec).__name__}")
    params = _param_list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {total} elements (the parameters' "
            f"total), got shape {tuple(vec.shape)}"
        )
    offset = 0
    for p in params:
        n = p.numel()
        np.copyto(p._data, vec._data[offset:offset + n].reshape(p.shape), casting="unsafe")
        p._vc[0] += 1
        offset += n
