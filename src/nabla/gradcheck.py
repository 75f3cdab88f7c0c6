"""Check a function's gradients against central finite differences.

``gradcheck`` compares the Jacobian that backpropagation computes with the one that
finite differences estimate, element by element, in float64. It is how nabla tests
its own ops, and how you test a ``Function`` you write yourself:

>>> import nabla
>>> def smooth_abs(x, w):
...     return ((x @ w) ** 2 + 1).sqrt().sum(dim=0)
>>> x = nabla.randn(3, 4, dtype=nabla.float64, requires_grad=True)
>>> w = nabla.randn(4, 2, dtype=nabla.float64, requires_grad=True)
>>> nabla.gradcheck(smooth_abs, (x, w))
True

A wrong backward is caught, naming the input, the element and both values:

>>> class BadSquare(nabla.autograd.Function):
...     @staticmethod
...     def forward(ctx, a):
...         ctx.save_for_backward(a)
...         return a * a
...     @staticmethod
...     def backward(ctx, g):
...         (a,) = ctx.saved_tensors
...         return g * a  # should be 2 * a * g
>>> t = nabla.tensor([1.0, 2.0], dtype=nabla.float64, requires_grad=True)
>>> nabla.gradcheck(BadSquare.apply, t)
Traceback (most recent call last):
    ...
nabla.gradcheck.GradcheckError: Jacobian mismatch for output 0 with respect to input 0, ...
>>> nabla.gradcheck(BadSquare.apply, t, raise_exception=False)
False
"""

from __future__ import annotations

import numpy as np

from . import autograd
from .tensor import Tensor

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(RuntimeError):
    """The analytical and numerical gradients disagree."""


def _as_tuple(x):
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, (tuple, list)):
        return tuple(x)
    raise TypeError(
        f"gradcheck expects a Tensor or a tuple of Tensors, got {type(x).__name__}"
    )


def _float_outputs(out):
    """The outputs whose gradient is defined: floating-point tensors, by position."""
    outs = _as_tuple(out)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {k} of the function is a {type(o).__name__}, "
                            "not a Tensor")
    return [(k, o) for k, o in enumerate(outs) if o._data.dtype.kind == "f"]


def _numerical(fn, inputs, i, eps, out_sizes):
    """d(outputs)/d(inputs[i]) by central differences, one row per element of the input.

    The input's array is replaced by a float64 copy that is perturbed in place, then
    put back, so the caller's tensor ends up exactly as it was.
    """
    t = inputs[i]
    original = t._data
    # order="C": a transposed input would otherwise be copied in its own memory order,
    # and reshape(-1) would then return a copy that perturbs nothing.
    work = np.array(original, dtype=np.float64, copy=True, order="C")
    t._data = work
    flat = work.reshape(-1)  # a view: writing to it perturbs the tensor's data
    cols = []
    try:
        with autograd.no_grad():
            for j in range(flat.size):
                x = flat[j]
                flat[j] = x + eps
                plus = [np.array(o._data, np.float64) for _, o in _float_outputs(fn(*inputs))]
                flat[j] = x - eps
                minus = [np.array(o._data, np.float64) for _, o in _float_outputs(fn(*inputs))]
                flat[j] = x
                cols.append(
                    [((p - m) / (2 * eps)).reshape(-1) for p, m in zip(plus, minus)]
                )
    finally:
        t._data = original
    # jac[k] has shape (input elements, output k elements)
    return [
        np.stack([c[k] for c in cols]) if cols else np.zeros((0, n))
        for k, n in enumerate(out_sizes)
    ]


def _analytical(outputs, diff, n_inputs):
    """Jacobians by backpropagating a one-hot gradient from every output element."""
    jac = {}
    for k, o in outputs:
        for i in diff:
            jac[k, i] = np.zeros((n_inputs[i], o._data.size))
        if not o.requires_grad:
            continue  # the output does not depend on any input: its Jacobian is zero
        for e in range(o._data.size):
            onehot = np.zeros(o._data.shape, dtype=o._data.dtype)
            onehot.reshape(-1)[e] = 1
            grads = autograd.grad(
                o,
                list(diff.values()),
                grad_outputs=Tensor._wrap(onehot),
                retain_graph=True,
                allow_unused=True,
            )
            for i, g in zip(diff, grads):
                if g is None:
                    continue
                if g.shape != diff[i].shape:
                    raise GradcheckError(
                        f"the gradient of input {i} has shape {tuple(g.shape)}, but the input "
                        f"has shape {tuple(diff[i].shape)}"
                    )
                jac[k, i][:, e] = g._data.reshape(-1)
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Compare backpropagated gradients of ``fn`` with central finite differences.

    ``inputs`` is a Tensor or a tuple of arguments for ``fn``; every Tensor among them
    with ``requires_grad=True`` is checked, and it must be float64 (in float32 the
    finite differences drown in rounding). ``fn`` returns a Tensor or a tuple of them;
    every element of every floating-point output is checked, so the whole Jacobian is
    compared: the analytical element ``J[o, i]`` passes when
    ``|analytical - numerical| <= atol + rtol * |numerical|`` (PyTorch's defaults).

    Returns True, or raises ``GradcheckError`` naming the output, the input, the
    element and both values (returns False instead when ``raise_exception=False``).
    Cost: two calls of ``fn`` per input element and one backward per output element,
    so keep the inputs small.

    >>> import nabla
    >>> def softsign(x):
    ...     return x / (1 + x.abs())
    >>> x = nabla.tensor([-2.0, 0.5, 3.0], dtype=nabla.float64, requires_grad=True)
    >>> nabla.gradcheck(softsign, x)
    True
    """
    inputs = _as_tuple(inputs)
    diff = {}
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t._data.dtype != np.float64:
                raise TypeError(
                    f"gradcheck: input {i} has dtype {t.dtype}, but finite differences need "
                    "float64 (with eps=1e-6, float32 rounding swamps the difference): "
                    "pass x.double() or create it with dtype=nabla.float64"
                )
            if not t.is_leaf:
                raise ValueError(
                    f"gradcheck: input {i} is not a leaf tensor; pass x.detach()"
                    ".requires_grad_() so that the check perturbs the values fn sees"
                )
            diff[i] = t
    if not diff:
        raise ValueError("gradcheck: no input tensor has requires_grad=True, nothing to check")

    outputs = _float_outputs(fn(*inputs))
    n_inputs = {i: t._data.size for i, t in diff.items()}
    analytical = _analytical(outputs, diff, n_inputs)
    out_sizes = [o._data.size for _, o in outputs]
    shapes = {k: o._data.shape for k, o in outputs}
    for i in diff:
        numerical = _numerical(fn, inputs, i, eps, out_sizes)
        for (k, _), num in zip(outputs, numerical):
            ana = analytical[k, i]
            if num.shape != ana.shape:
                raise GradcheckError(
                    f"output {k} changed size between calls: {num.shape[1]} vs {ana.shape[1]}"
                )
            bad = ~(np.abs(ana - num) <= atol + rtol * np.abs(num))
            if bad.any():
                if not raise_exception:
                    return False
                r, c = (int(v[0]) for v in np.nonzero(bad))
                where = np.unravel_index(r, diff[i].shape) if diff[i].ndim else ()
                out_el = np.unravel_index(c, shapes[k]) if shapes[k] else ()
                raise GradcheckError(
                    f"Jacobian mismatch for output {k} with respect to input {i}, "
                    f"input element {tuple(int(v) for v in where)}, output element "
                    f"{tuple(int(v) for v in out_el)}: numerical {float(num[r, c])!r}, "
                    f"analytical {float(ana[r, c])!r} ({int(bad.sum())} of {bad.size} Jacobian "
                    f"entries differ; atol={atol}, rtol={rtol})"
                )
    return True
