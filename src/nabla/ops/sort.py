"""Order and position primitives: sort, topk, roll, tril/triu, cumprod."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


def order(a, axis, descending):
    """Stable sorting indices along ``axis``; equal values keep their order both ways."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    if a.dtype.kind == "b":
        a = a.astype(np.int8)
    if a.dtype.kind == "f":
        # NaN sorts last ascending and first descending (PyTorch); -a keeps it NaN.
        key = np.where(np.isnan(a), -np.inf, -a)
        first = np.isnan(a)
        idx = np.argsort(key, axis=axis, kind="stable")
        # NaNs first: stable-sort on "not NaN" after ordering by key
        nan_last = np.take_along_axis(~first, idx, axis=axis)
        return np.take_along_axis(idx, np.argsort(nan_last, axis=axis, kind="stable"), axis)
    if a.dtype.kind == "u":
        a = a.astype(np.int64)
    # -(a + 1) == ~a for integers: no overflow at the most negative value
    return np.argsort(~a, axis=axis, kind="stable")


class SortAlong(Function):
    """The first ``k`` of ``a`` in order along ``axis``: (values, int64 indices).

    ``sort`` takes all of them; ``topk`` the k largest or smallest.
    """

    differentiable_outputs = (0,)

    @staticmethod
    def forward(ctx, a, axis, descending, k):
        idx = order(a, axis, descending)
        if k is not None:
            idx = np.take(idx, np.arange(k), axis=axis)
        ctx.shape, ctx.axis, ctx.idx = a.shape, axis, idx
        return np.take_along_axis(a, idx, axis=axis), idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g, _gidx):
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(grad, ctx.idx, g, axis=ctx.axis)  # indices are distinct
        return grad


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        if axes is None:
            return np.roll(a.reshape(-1), shifts).reshape(a.shape)
        return np.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        if ctx.axes is None:
            return np.roll(g.reshape(-1), back).reshape(g.shape)
        return np.roll(g, back, ctx.axes)


class Triangle(Function):
    """The lower (``tril``) or upper (``triu``) triangle of the last two axes."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (np.triu if upper else np.tril)(a, diagonal)

    @staticmethod
    def backward(ctx, g):
        return (np.triu if ctx.upper else np.tril)(g, ctx.diagonal)


class Cumprod(Function):
    """Cumulative product; its gradient is exact at zeros (no division by the input).

    d out_i / d a_j = prod_{k <= i, k != j} a_k for i >= j: the exclusive product left
    of j times the product of a_{j+1..i}, built as an (n, n) table per row. n is the
    length of one axis, so the table stays small where cumprod is used.
    """

    @staticmethod
    def forward(ctx, a, axis):
        ctx.save_for_backward(a)
        ctx.axis = axis
        return np.cumprod(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        x = np.moveaxis(a, ctx.axis, -1)
        gx = np.moveaxis(g, ctx.axis, -1)
        n = x.shape[-1]
        left = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., :-1]], -1), -1)
        after = np.triu(np.ones((n, n), dtype=bool), 1)  # [j, k]: k > j
        table = np.where(after, x[..., None, :], np.ones((), x.dtype))
        inner = np.cumprod(table, axis=-1)  # [j, i] = prod a_{j+1..i} for i >= j
        inner = np.where(np.tril(np.ones((n, n), dtype=bool)).T, inner, 0)
        grad = left * np.einsum("...ji,...i->...j", inner, gx)
        return np.moveaxis(grad, -1, ctx.axis)
