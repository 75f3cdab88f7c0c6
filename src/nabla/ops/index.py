"""Index primitives: gather, scatter, scatter_add, index_select, masked_select.

Each indexes along one axis with an integer array; the gradients send values back
through the same positions (``np.add.at`` where an index may repeat).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..threads import zeros
from .elementwise import _BLAS_FLOATS, _compiled_for


def along(index, axis):
    """The full index tuple that puts ``index`` on ``axis`` and counts the other axes:
    ``a[along(idx, d)]`` is ``take_along_axis`` for an index smaller than ``a``."""
    grids = list(np.ogrid[tuple(slice(n) for n in index.shape)])
    grids[axis] = index
    return tuple(grids)


class Gather(Function):
    @staticmethod
    def forward(ctx, a, axis, index):
        ix = along(index, axis)
        ctx.shape, ctx.ix = a.shape, ix
        return a[ix]

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(grad, ctx.ix, g)  # an index may name one element twice
        return grad


class Scatter(Function):
    """``a`` with ``src`` written at ``index`` along ``axis`` (``src`` an array or a number).

    Where an index repeats, the last write wins (PyTorch leaves that order undefined).
    """

    @staticmethod
    def forward(ctx, a, src, axis, index):
        ix = along(index, axis)
        ctx.ix, ctx.src_shape = ix, src.shape
        out = a.copy()
        out[ix] = src[tuple(slice(n) for n in index.shape)]
        return out

    @staticmethod
    def backward(ctx, g):
        na, ns = ctx.needs_input_grad
        ga = gs = None
        if na:
            ga = g.copy()
            ga[ctx.ix] = 0  # overwritten elements do not reach the output
        if ns:
            gs = np.zeros(ctx.src_shape, dtype=g.dtype)
            part = g[ctx.ix]
            gs[tuple(slice(n) for n in part.shape)] = part
        return ga, gs


class ScatterValue(Function):
    """``a`` with one number written at ``index`` along ``axis``."""

    @staticmethod
    def forward(ctx, a, axis, index, value):
        ix = along(index, axis)
        ctx.ix = ix
        out = a.copy()
        out[ix] = value
        return out

    @staticmethod
    def backward(ctx, g):
        g = g.copy()
        g[ctx.ix] = 0
        return g


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, a, src, axis, index):
        ix = along(index, axis)
        ctx.ix, ctx.src_shape = ix, src.shape
        out = a.copy()
        np.add.at(out, ix, src[tuple(slice(n) for n in index.shape)])
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[1]:
            gs = np.zeros(ctx.src_shape, dtype=g.dtype)
            part = g[ctx.ix]
            gs[tuple(slice(n) for n in part.shape)] = part
        return g, gs


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, a, axis, index):
        ctx.shape, ctx.axis, ctx.index = a.shape, axis, index
        return np.take(a, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(np.moveaxis(grad, ctx.axis, 0), ctx.index, np.moveaxis(g, ctx.axis, 0))
        return grad


class MaskedSelect(Function):
    """The elements of ``a`` where ``mask`` holds, as a 1-D array (both broadcast)."""

    @staticmethod
    def forward(ctx, a, mask):
        a, mask = np.broadcast_arrays(a, mask)
        ctx.mask = mask
        return a[mask]

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.mask.shape, dtype=g.dtype)
        grad[ctx.mask] = g
        return grad  # the engine sums it back over broadcast dims


class MaskedFill(Function):
    """``a`` with the number ``value`` written where ``mask`` holds (``mask`` broadcasts
    to ``a``'s shape): ``where(mask, value, a)`` as a copy and a masked write, 80 -> 34
    us on a GPT's 16x4x32x32 attention scores with a 32x32 causal mask; the gradient
    is ``g`` with zeros written under the mask (56 -> 34 us) rather than a ``where``."""

    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.mask = mask
        return _masked_fill(a, mask, value)

    @staticmethod
    def backward(ctx, g):
        return _masked_fill(g, ctx.mask, g.dtype.type(0))


def _masked_fill(a, mask, value):
    """``a`` with ``value`` (of a's dtype) where ``mask`` holds: with the compiled kernel
    when ``mask`` is a's trailing shape (after leading 1s) and ``a`` is big enough."""
    core = mask.reshape(mask.shape[next((i for i, d in enumerate(mask.shape) if d != 1),
                                        mask.ndim):])
    if core.shape == a.shape[a.ndim - core.ndim:] and (k := _compiled_for(a)) is not None:
        out = np.empty(a.shape, a.dtype)
        k.masked_fill(a.reshape(-1), np.ascontiguousarray(core).reshape(-1), value,
                      out.reshape(-1))
        return out
    out = a.copy()
    np.copyto(out, value, where=mask)
    return out


def add_rows(n, index, values):
    """An ``(n, d)`` array of zeros with each row of ``values`` (``(m, d)``) added into
    row ``index[i]``: ``np.add.at(zeros, index, values)``, where an index may repeat.

    Many indices into a small table (``m >= n``, ``n * m`` up to 65536: the character
    MLP's 96 lookups of 27 rows, a GPT's 512 tokens of 65) as one product, ``onehot.T @
    values``: 9.2 -> 4.0 us and 220 -> 52 us there; where an inf or NaN is among the
    values (``0 * inf`` would spread NaN to every row), the way below instead. Otherwise,
    for many rows, through a stable sort of the indices and one ``np.add.reduceat`` over
    the runs of equal ones: 221 -> 59 us for that GPT's gradient before the product.
    Either way the sums of a repeated row are taken in another order than add.at's, so
    they agree within float rounding. Indices are in ``[-n, n)``, checked by the
    forward pass that took them."""
    m = len(index)
    if m >= n and n * m <= 1 << 16 and values.dtype in _BLAS_FLOATS:
        onehot = np.zeros((m, n), dtype=values.dtype)
        onehot[np.arange(m), index] = 1  # NumPy's indexing wraps negative indices
        grad = onehot.T.dot(values)
        if np.isfinite(grad).all():
            return grad
    grad = zeros((n, values.shape[1]), values.dtype)  # a big vocabulary's: in parts
    if m < 32:
        np.add.at(grad, index, values)
        return grad
    index = np.where(index < 0, index + n, index)  # -1 and n-1 are one run of the sort
    order = np.argsort(index, kind="stable")
    s = index[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    grad[s[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return grad
