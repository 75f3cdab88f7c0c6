"""Movement primitives: reshape, permute, expand, indexing, cat/stack, pad, flip, repeat."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from .index import add_rows


class Reshape(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        axes = ctx.axes  # the inverse permutation: np.argsort of a tuple took 2.5 us, this 0.5
        return g.transpose(sorted(range(len(axes)), key=axes.__getitem__))


class Expand(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums it back to the input's shape


def is_basic_index(index) -> bool:
    """True for indices made of ints, slices, None and Ellipsis (they give views)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
        and not isinstance(i, (bool, np.bool_))
        for i in items
    )


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index, basic):
        ctx.shape, ctx.index, ctx.basic = a.shape, index, basic
        return a[index]

    @staticmethod
    def backward(ctx, g):
        shape, index = ctx.shape, ctx.index
        if not ctx.basic and type(index) is np.ndarray and index.dtype.kind in "iu":
            # One integer array along the first axis, as an embedding table's C[X]: its
            # rows summed by add_rows (an index may repeat), the first axis against the
            # others flattened.
            rows = g.reshape(index.size, math.prod(shape[1:]))
            return add_rows(shape[0], index.reshape(-1), rows).reshape(shape)
        grad = np.zeros(shape, dtype=g.dtype)
        if ctx.basic:
            grad[index] = g
        else:
            # add.at accumulates where an index repeats (x[[0, 0]] sends two gradients).
            np.add.at(grad, index, g)
        return grad


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.splits, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        first = arrays[0]
        if axis == 0 and first.ndim:
            # One concatenate and a reshape: np.stack's per-array expand_dims made it 6x
            # slower for get_batch's 32 slices of 8 (18 -> 3 us).
            return np.concatenate(arrays).reshape((len(arrays),) + first.shape)
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        # Iterating an array gives views of its rows: no copies, no per-slice take.
        return tuple(g if ctx.axis == 0 else np.moveaxis(g, ctx.axis, 0))


class Pad(Function):
    """Constant padding; ``widths`` is NumPy's per-axis ((before, after), ...)."""

    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.slices = tuple(slice(b, a.shape[i] + b) for i, (b, _) in enumerate(widths))
        neg = any(b < 0 or e < 0 for b, e in widths)
        if neg:
            raise ValueError("negative padding is not supported")
        return np.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices]


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return np.flip(a, axes).copy()

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.axes)


class Repeat(Function):
    """PyTorch's ``repeat`` (NumPy's ``tile``)."""

    @staticmethod
    def forward(ctx, a, reps):
        ctx.in_shape = (1,) * (len(reps) - a.ndim) + a.shape
        return np.tile(a.reshape(ctx.in_shape), reps)

    @staticmethod
    def backward(ctx, g):
        # Split every axis into (repeat, size) and sum over the repeats.
        shape = []
        for r, s in zip(g.shape, ctx.in_shape):
            shape += [r // s, s]
        summed = g.reshape(shape).sum(axis=tuple(range(0, len(shape), 2)))
        return summed
