"""Softmax and log-softmax along any axis, fused and numerically stable."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


def log_softmax_array(a, axis):
    m = a.max(axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    shifted = a - m
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_array(a, axis):
    m = a.max(axis=axis, keepdims=True)
    e = np.exp(a - np.where(np.isfinite(m), m, 0))
    e /= e.sum(axis=axis, keepdims=True)
    return e


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        out = softmax_array(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        out = ctx.saved_tensors[0]
        return out * (g - (g * out).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        out = log_softmax_array(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        out = ctx.saved_tensors[0]
        return g - np.exp(out) * g.sum(axis=ctx.axis, keepdims=True)
