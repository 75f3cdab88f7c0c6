"""Reductions: sum, mean, max/min (with indices), prod, logsumexp."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


def _expand(g, axis, keepdim):
    """Put back the reduced axes of ``g`` so that it broadcasts against the input."""
    if keepdim or axis is None:
        return g
    return np.expand_dims(g, axis)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        return a.sum(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(_expand(g, ctx.axis, ctx.keepdim), ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        if axis is None:
            ctx.n = a.size
        else:
            ctx.n = int(np.prod([a.shape[i] for i in _norm(axis, a.ndim)], dtype=np.int64))
        return a.mean(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        g = _expand(g, ctx.axis, ctx.keepdim) / np.asarray(ctx.n, dtype=g.dtype)
        return np.broadcast_to(g, ctx.shape)


def _norm(axis, ndim):
    return tuple(a % ndim for a in axis) if isinstance(axis, tuple) else (axis % ndim,)


class MaxMinDim(Function):
    """max or min along one axis, giving (values, indices); indices get no gradient."""

    differentiable_outputs = (0,)

    @staticmethod
    def forward(ctx, a, axis, keepdim, is_max):
        idx = (np.argmax if is_max else np.argmin)(a, axis=axis, keepdims=True)
        values = np.take_along_axis(a, idx, axis=axis)
        ctx.shape, ctx.axis, ctx.idx, ctx.dtype = a.shape, axis, idx, a.dtype
        if not keepdim:
            values, idx = values.squeeze(axis), idx.squeeze(axis)
        return values, idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g, _gidx):
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        g = g.reshape(ctx.idx.shape)
        np.put_along_axis(grad, ctx.idx, g, axis=ctx.axis)
        return grad


class MaxMinAll(Function):
    """max or min over given axes (or all); ties share the gradient evenly, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, axis, keepdim, is_max):
        out = (np.max if is_max else np.min)(a, axis=axis, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdim = axis, keepdim
        return out if keepdim else out.squeeze(axis) if axis is not None else out.reshape(())

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return mask * (g.reshape(out.shape) / count).astype(g.dtype, copy=False)


class Prod(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdim):
        ctx.save_for_backward(a)
        ctx.axis, ctx.keepdim = axis, keepdim
        if axis is None:
            return np.prod(a)
        return np.prod(a, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        axis = ctx.axis
        x = a.reshape(-1) if axis is None else a
        ax = 0 if axis is None else axis
        # The product of all other elements, without dividing (which fails at zeros):
        # exclusive cumulative products from the left times those from the right.
        ones = np.ones_like(np.take(x, [0], axis=ax))
        left = np.cumprod(np.concatenate([ones, x], axis=ax), axis=ax)
        left = np.take(left, range(x.shape[ax]), axis=ax)
        rx = np.flip(x, axis=ax)
        right = np.cumprod(np.concatenate([ones, rx], axis=ax), axis=ax)
        right = np.flip(np.take(right, range(x.shape[ax]), axis=ax), axis=ax)
        others = left * right
        if axis is None:
            return (g * others).reshape(a.shape)
        return _expand(g, axis, ctx.keepdim) * others


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdim):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        ctx.save_for_backward(a, out)
        ctx.axis, ctx.keepdim = axis, keepdim
        if keepdim:
            return out
        return out.reshape(()) if axis is None else out.squeeze(axis)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return g.reshape(out.shape) * np.exp(a - out)
