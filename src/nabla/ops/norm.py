"""Normalization: batch, layer and group norm, each one fused node with its closed-form
backward, and their functional wrappers.

All three normalise ``x`` to ``xhat = (x - mean) / sqrt(var + eps)`` over some axes and
then scale and shift it. With ``M`` values per statistic, the gradient of the
normalisation collapses to one expression (no graph through mean and var):

    dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

>>> import nabla
>>> x = nabla.tensor([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
>>> layer_norm(x, (3,))
tensor([[-1.2247,  0.0000,  1.2247],
        [-1.2247,  0.0000,  1.2247]])
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..autograd import ones_vector as _ones
from ..creation import ones, tensor
from ..tensor import ShapeError, Tensor
from . import compiled
from .elementwise import _BLAS_FLOATS, _COMPILED_MIN

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


def _backward_rows(gxhat, xhat, invstd, axes):
    """The closed-form gradient of normalisation over ``axes`` (see the module doc)."""
    m1 = gxhat.mean(axis=axes, keepdims=True)
    m2 = (gxhat * xhat).mean(axis=axes, keepdims=True)
    gx = gxhat - m1
    gx -= xhat * m2
    gx *= invstd
    return gx


def _needs(ctx):
    return getattr(ctx, "needs_input_grad", None)


class BatchNorm(Function):
    """Batch normalisation over every axis but the channel axis (1), as one node.

    In training mode it normalises with the batch statistics and updates the running
    statistics in place (the running variance gets the unbiased batch variance, as in
    PyTorch); in evaluation mode it uses the running statistics.
    """

    @staticmethod
    def forward(ctx, x, w, b, rmean, rvar, training, momentum, eps):
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, c) + (1,) * (x.ndim - 2)
        dt = x.dtype
        if training:
            m = x.size // c
            mean = x.mean(axis=axes)
            xhat = x - mean.reshape(bshape)
            var = np.square(xhat).mean(axis=axes)
            if rmean is not None:
                rmean *= 1 - momentum
                rmean += (momentum * mean).astype(rmean.dtype, copy=False)
            if rvar is not None:
                rvar *= 1 - momentum
                rvar += (momentum * m / (m - 1) * var).astype(rvar.dtype, copy=False)
        else:
            mean, var = rmean.astype(dt, copy=False), rvar.astype(dt, copy=False)
            xhat = x - mean.reshape(bshape)
        invstd = (1 / np.sqrt(var + dt.type(eps))).astype(dt, copy=False)
        xhat *= invstd.reshape(bshape)
        out = _scale_shift(xhat, w, b, bshape)
        if _needs(ctx) is not None:
            ctx.axes, ctx.bshape, ctx.training = axes, bshape, training
            ctx.save_for_backward(xhat, invstd, w)
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        axes, bshape = ctx.axes, ctx.bshape
        gx = None
        if needs[0]:
            scale = invstd if w is None else invstd * w
            if ctx.training:
                gx = _backward_rows(g, xhat, scale.reshape(bshape), axes)
            else:
                gx = g * scale.reshape(bshape)  # running statistics are constants
        return (gx,) + _affine_grads(needs, g, xhat, axes)


def _scale_shift(xhat, w, b, shape):
    """A normalisation's output ``xhat * w + b`` (either optional) as a new array, with
    ``w`` and ``b`` reshaped to ``shape`` to broadcast against ``xhat``."""
    out = xhat * w.reshape(shape) if w is not None else xhat.copy()
    if b is not None:
        out += b.reshape(shape)
    return out


def _affine_grads(needs, g, xhat, axes):
    """The gradients of a normalisation's scale and shift (inputs 1 and 2): ``g * xhat``
    and ``g`` summed over ``axes``, each only where wanted."""
    gw = (g * xhat).sum(axis=axes) if len(needs) > 1 and needs[1] else None
    gb = g.sum(axis=axes) if len(needs) > 2 and needs[2] else None
    return gw, gb


class LayerNorm(Function):
    """Normalisation over the trailing ``ndim`` axes, with an elementwise affine."""

    @staticmethod
    def forward(ctx, x, w, b, ndim, eps):
        if x.dtype in _BLAS_FLOATS and x.flags.c_contiguous and x.size:
            return _layer_norm_rows(ctx, x, w, b, ndim, eps)
        axes = tuple(range(x.ndim - ndim, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        var = np.square(xhat).mean(axis=axes, keepdims=True)
        invstd = (1 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        xhat *= invstd
        out = _scale_shift(xhat, w, b, x.shape[x.ndim - ndim:])
        if _needs(ctx) is not None:
            ctx.axes = axes
            ctx.save_for_backward(xhat, invstd, w)
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if invstd.ndim == 1:  # saved by _layer_norm_rows
            return _layer_norm_rows_backward(needs, g, xhat, invstd, w)
        lead = tuple(range(g.ndim - len(ctx.axes)))
        gx = None
        if needs[0]:
            gxhat = g if w is None else g * w
            gx = _backward_rows(gxhat, xhat, invstd, ctx.axes)
        return (gx,) + _affine_grads(needs, g, xhat, lead)


# Layer norm of a contiguous float32/float64 input, as a matrix of rows: NumPy's
# reductions along a short last axis pay ~20 ns a row (mean over 512 rows of 64: 15 us),
# where a BLAS product with a vector of ones takes 2.5 us. The same formulas as the
# general path, the sums taken in another order (values within float rounding).


def _layer_norm_rows(ctx, x, w, b, ndim, eps):
    n = math.prod(x.shape[x.ndim - ndim:])
    x2 = x.reshape(-1, n)
    dt = x.dtype
    k = norm_kernels() if x.size >= _COMPILED_MIN else None  # (see _COMPILED_MIN)
    if k is not None:  # (layer_norm has checked that w and b have x's dtype)
        out, xhat, invstd = np.empty_like(x2), np.empty_like(x2), np.empty(len(x2), dt)
        k.forward(x2, _ones(n, dt) if w is None else w.reshape(n),
                  np.zeros(n, dt) if b is None else b.reshape(n), eps, out, xhat, invstd)
        if _needs(ctx) is not None:
            ctx.save_for_backward(xhat, invstd, w)
        return out.reshape(x.shape)
    mean = x2.dot(_ones(n, dt))
    mean /= n
    xhat = x2 - mean[:, None]
    var = np.einsum("ij,ij->i", xhat, xhat)  # row sums of squares, no temporary
    var /= n
    var += dt.type(eps)
    invstd = np.sqrt(var, out=var)
    np.divide(1, invstd, out=invstd)
    xhat *= invstd[:, None]
    if w is not None:
        out = xhat * w.reshape(n)
        if b is not None:
            out += b.reshape(n)
    else:
        out = xhat.copy()
    if _needs(ctx) is not None:
        ctx.save_for_backward(xhat, invstd, w)
    return out.reshape(x.shape)


def _layer_norm_rows_backward(needs, g, xhat, invstd, w):
    rows, n = xhat.shape
    g2 = g.reshape(rows, n)
    gx = gw = gb = None
    k = norm_kernels() if xhat.size >= _COMPILED_MIN else None
    if k is not None:
        gx = np.empty_like(xhat)
        sums = np.zeros((2, n))  # float64: the rows' sums for the weight and the bias
        k.backward(np.ascontiguousarray(g2), xhat, invstd,
                   _ones(n, xhat.dtype) if w is None else w.reshape(n), gx, sums[0], sums[1])
        if len(needs) > 1 and needs[1]:
            gw = sums[0].astype(xhat.dtype).reshape(w.shape)
        if len(needs) > 2 and needs[2]:
            gb = sums[1].astype(xhat.dtype).reshape(w.shape)
        return (gx.reshape(g.shape) if needs[0] else None), gw, gb
    if needs[0]:
        gxhat = g2 * w.reshape(n) if w is not None else g2
        m1 = gxhat.dot(_ones(n, g2.dtype))
        m1 /= n
        m2 = np.einsum("ij,ij->i", gxhat, xhat)
        m2 /= n
        # g * w is a temporary of ours: the result is built in it
        gx = np.subtract(gxhat, m1[:, None], out=gxhat if w is not None else None)
        gx -= xhat * m2[:, None]
        gx *= invstd[:, None]
        gx = gx.reshape(g.shape)
    if len(needs) > 1 and needs[1]:
        gw = np.einsum("ij,ij->j", g2, xhat).reshape(w.shape)
    if len(needs) > 2 and needs[2]:
        gb = _ones(rows, g2.dtype).dot(g2).reshape(w.shape)
    return gx, gw, gb


# ------------------------------------------- layer norm compiled (optional: Numba)
_kernels: list = []  # [norm_kernels or None] once looked for


def norm_kernels():
    """Layer norm's compiled row kernels (``norm_kernels.py``), or None: without Numba,
    with ``NABLA_NUMBA=0``, or when they do not compile or check out."""
    return compiled.once(_kernels, "the layer norm kernels", _build_kernels, "NumPy")


def _build_kernels():
    from . import norm_kernels as nk

    x = np.array([[1, 2, 3, 6], [0, 0, 0, 0]], np.float32)
    w, b = np.full(4, 2, np.float32), np.ones(4, np.float32)
    out, xhat, invstd = np.empty_like(x), np.empty_like(x), np.empty(2, np.float32)
    nk.forward(x, w, b, 0.0, out, xhat, invstd)  # compiles now, not in a training step
    # Row 0: mean 3, variance 3.5; row 1: all zero, eps 0: 0 * inf = NaN, as NumPy.
    want = (np.array([-2, -1, 0, 3], np.float32) / np.sqrt(np.float32(3.5))) * 2 + 1
    gx, sums = np.empty_like(x), np.zeros((2, 4))
    nk.backward(np.ones_like(x), xhat, invstd, w, gx, sums[0], sums[1])
    if not (np.allclose(out[0], want, atol=1e-5) and np.isnan(out[1]).all()
            and np.allclose(gx[0], 0, atol=1e-5) and sums[1].tolist() == [2.0] * 4):
        raise RuntimeError("the compiled layer norm gave wrong values")
    return nk


class GroupNorm(Function):
    """Normalisation over (channels of a group, spatial axes) per sample, then a
    per-channel affine."""

    @staticmethod
    def forward(ctx, x, w, b, groups, eps):
        n, c = x.shape[:2]
        bshape = (1, c) + (1,) * (x.ndim - 2)
        r = x.reshape(n, groups, -1)
        mean = r.mean(axis=2, keepdims=True)
        xhat = r - mean
        var = np.square(xhat).mean(axis=2, keepdims=True)
        invstd = (1 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        xhat *= invstd
        xhat = xhat.reshape(x.shape)
        out = _scale_shift(xhat, w, b, bshape)
        if _needs(ctx) is not None:
            ctx.groups, ctx.bshape = groups, bshape
            ctx.save_for_backward(xhat, invstd, w)
        return out

    @staticmethod
    def backward(ctx, g):
        xhat, invstd, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        n = g.shape[0]
        axes = (0,) + tuple(range(2, g.ndim))
        gx = None
        if needs[0]:
            gxhat = g if w is None else g * w.reshape(ctx.bshape)
            gx = _backward_rows(
                gxhat.reshape(n, ctx.groups, -1), xhat.reshape(n, ctx.groups, -1), invstd, 2
            ).reshape(g.shape)
        return (gx,) + _affine_grads(needs, g, xhat, axes)


# ============================================================ functional wrappers
def _as(x):
    return x if isinstance(x, Tensor) or x is None else tensor(x)


def _affine(fn, x, weight, bias, shape, what):
    """Check weight and bias; stand ones in for a missing weight when a bias is given
    (the leading Tensor arguments of ``apply`` are its inputs, so order matters)."""
    weight, bias = _as(weight), _as(bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if tuple(t.shape) != tuple(shape):
            raise ShapeError(
                f"{fn}: expected {name} of shape {tuple(shape)} ({what}), but got {name} of "
                f"size {list(t.shape)} for input of size {list(x.shape)}"
            )
        if t._data.dtype != x._data.dtype:
            raise RuntimeError(
                f"{fn}: {name} has dtype {t.dtype} but the input has dtype {x.dtype}; they "
                "must match"
            )
    if weight is None and bias is not None:
        weight = ones(*shape, dtype=x.dtype)
    return weight, bias


def _apply(op, x, weight, bias, *consts):
    if weight is None:
        return op.apply(x, None, None, *consts)
    if bias is None:
        return op.apply(x, weight, None, *consts)
    return op.apply(x, weight, bias, *consts)


def _float_input(fn, x, min_ndim, what):
    x = _as(x)
    if x is None:
        raise TypeError(f"{fn}: expected a Tensor input, got None")
    if x.ndim < min_ndim:
        raise ShapeError(
            f"{fn}: expected an input with at least {min_ndim} dimensions {what}, but got "
            f"input of size {list(x.shape)}"
        )
    if x._data.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype}")
    return x


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5) -> Tensor:
    """Batch normalisation of an (N, C, ...) input over N and the spatial axes.

    In training mode it uses the batch's mean and (biased) variance and, when running
    statistics are given, updates them in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the unbiased
    variance for ``running_var`` (as PyTorch). In evaluation mode it uses the running
    statistics.

    >>> import nabla
    >>> x = nabla.tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> rm, rv = nabla.zeros(2), nabla.ones(2)
    >>> batch_norm(x, rm, rv, training=True).tolist()
    [[-0.999995, -1.0], [0.999995, 1.0]]
    >>> rm.tolist(), rv.tolist()
    ([0.2, 2.0], [1.1, 20.9])
    """
    fn = "batch_norm"
    x = _float_input(fn, input, 2, "(N, C, ...)")
    c = x.shape[1]
    stats = []
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            if not isinstance(t, Tensor):
                raise TypeError(f"{fn}: {name} must be a Tensor or None")
            if tuple(t.shape) != (c,):
                raise ShapeError(
                    f"{fn}: expected {name} of shape ({c},) for input of size "
                    f"{list(x.shape)} with {c} channels, but got {list(t.shape)}"
                )
        stats.append(None if t is None else t._data)
    if not training and (stats[0] is None or stats[1] is None):
        raise ValueError(f"{fn}: running_mean and running_var are needed when training=False")
    if training and x.numel() // max(c, 1) <= 1:
        raise ValueError(
            f"{fn}: expected more than 1 value per channel when training, got input size "
            f"{list(x.shape)}"
        )
    weight, bias = _affine(fn, x, weight, bias, (c,), "one per channel")
    momentum = 0.0 if momentum is None else float(momentum)
    out = _apply(BatchNorm, x, weight, bias, stats[0], stats[1], bool(training), momentum,
                 float(eps))
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._vc[0] += 1  # changed in place: backward through an old use must notice
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Normalise over the trailing dims given by ``normalized_shape``, then scale by
    ``weight`` and shift by ``bias`` (both of that shape).

    >>> import nabla
    >>> layer_norm(nabla.randn(4, 3, 5), (3, 5)).shape
    (4, 3, 5)
    """
    fn = "layer_norm"
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    shape = tuple(int(s) for s in normalized_shape)
    x = _float_input(fn, input, max(len(shape), 1), f"(..., {', '.join(map(str, shape))})")
    if not shape or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ShapeError(
            f"{fn}: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}"
        )
    weight, bias = _affine(fn, x, weight, bias, shape, "normalized_shape")
    return _apply(LayerNorm, x, weight, bias, len(shape), float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Normalise each sample over groups of ``C // num_groups`` channels (and all spatial
    positions), then apply a per-channel scale and shift.

    >>> import nabla
    >>> y = group_norm(nabla.randn(2, 6, 4, 4), 3)
    >>> y.reshape(2, 3, -1).mean(dim=2).abs().max().item() < 1e-5
    True
    """
    fn = "group_norm"
    x = _float_input(fn, input, 2, "(N, C, ...)")
    c = x.shape[1]
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1 or c % num_groups:
        raise ShapeError(
            f"{fn}: expected number of channels in input to be divisible by num_groups, but "
            f"got input of size {list(x.shape)} and num_groups={num_groups}"
        )
    weight, bias = _affine(fn, x, weight, bias, (c,), "one per channel")
    return _apply(GroupNorm, x, weight, bias, int(num_groups), float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5) -> Tensor:
    """Normalise each (sample, channel) plane on its own; group norm with one channel
    per group. Running statistics are not supported.

    >>> import nabla
    >>> instance_norm(nabla.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise NotImplementedError("instance_norm: running statistics are not supported")
    x = _float_input("instance_norm", input, 3, "(N, C, L...)")
    if math.prod(x.shape[2:]) <= 1:
        raise ValueError(
            "instance_norm: expected more than 1 spatial element when training, got input "
            f"size {list(x.shape)}"
        )
    return group_norm(x, x.shape[1], weight, bias, eps)
