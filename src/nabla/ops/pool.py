"""Pooling: max, average and adaptive, 2-D and 1-D, with their kernels.

Pooling is separable: a pass over the window's columns, then one over its rows, each
a loop over kernel offsets with every offset a strided view of the whole batch. No
Python loop runs over samples or pixels.

>>> import nabla
>>> max_pool2d(nabla.ones(1, 1, 4, 4), 2).shape
(1, 1, 2, 2)
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ..threads import BIG, split_rows
from ..workspace import _give, _take
from . import compiled
from ._checks import (
    _nonneg,
    _output_size,
    _pool_args,
    _pool_input,
    _pool_out,
    _positive,
    _tuple,
    _unbatch,
)
from .conv import _canvas, _needs
from .resample import Separable2d

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
]


# ------------------------------------------------------------------------ pooling
def _taps(a, axis, k, s, d, n):
    """The k strided views of ``a`` along ``axis`` (2 or 3) that a pooling window of
    size k, stride s, dilation d reads for n outputs: tap j of output o is a[o*s + j*d]."""
    span = s * (n - 1) + 1
    if axis == 2:
        return [a[:, :, j * d:j * d + span:s] for j in range(k)]
    return [a[:, :, :, j * d:j * d + span:s] for j in range(k)]


def _max_pass(a, axis, k, s, d, n, nan, pooled=False, out=None, won=None):
    """Max over k taps along one axis, and which tap won: the first maximum, except that
    a NaN wins (the last one), as in PyTorch. ``idx`` is bool for k == 2, else uint8.
    With ``pooled`` the maxima go to a workspace array (an intermediate result), with
    ``out`` into ``out``; with ``won`` (of ``idx``'s dtype) the winners go there."""
    taps = _taps(a, axis, k, s, d, n)
    if k == 1:
        if out is not None:
            np.copyto(out, taps[0])
            return out, None
        return taps[0], None
    best = out if out is not None else _take(taps[0].shape, a.dtype) if pooled else None
    best = np.maximum(taps[0], taps[1], out=best)  # NaN-propagating, like PyTorch's max
    idx = np.greater(taps[1], taps[0], out=None if won is None else won.view(bool))
    if nan:
        idx |= np.isnan(taps[1])
    if k > 2:
        idx = idx.view(np.uint8)
        gt = np.empty(best.shape, dtype=bool)
        for j in range(2, k):
            np.greater(taps[j], best, out=gt)
            if nan:
                gt |= np.isnan(taps[j])
            np.maximum(best, taps[j], out=best)
            np.putmask(idx, gt, j)
    return best, idx


def _route_pass(g, idx, axis, k, s, d, size, pooled=False, out=None, finite=None):
    """The adjoint of ``_max_pass``: send each gradient to the tap that won. With
    ``pooled`` the result goes to a workspace array (an intermediate result), with
    ``out`` into ``out``. ``finite``: whether every gradient is finite, when known."""
    n = g.shape[axis]
    if idx is None and s == 1 and size == n:
        if out is not None:
            np.copyto(out, g)
            return out
        return g
    shape = list(g.shape)
    shape[axis] = size
    shape = tuple(shape)
    # Windows that neither overlap nor leave gaps write every element exactly once.
    exact = s == k and d == 1 and size == n * k
    if out is not None:
        if not exact:
            out.fill(0)
    elif pooled:
        out = _take(shape, g.dtype)
        if not exact:
            out.fill(0)
    else:
        out = np.empty(shape, dtype=g.dtype) if exact else np.zeros(shape, dtype=g.dtype)
    taps = _taps(out, axis, k, s, d, n)
    disjoint = s >= d * (k - 1) + 1
    if idx is None:
        taps[0][...] = g
        return out
    # Multiplying by a 0/1 mask is exact for finite gradients and several times faster
    # than np.where; an infinite one (0 * inf = nan) takes the exact, slow path. A sum
    # is finite when every term is (an overflowing sum merely takes the slow path too),
    # and unlike isfinite(g).all() it allocates nothing.
    if finite is None:
        finite = bool(np.isfinite(g.sum()))
    zero = g.dtype.type(0)
    for j in range(k):
        mask = idx if k == 2 and j == 1 else (~idx if k == 2 else idx == j)
        if not finite:
            part = np.where(mask, g, zero)
            if disjoint:
                taps[j][...] = part
            else:
                taps[j] += part
        elif disjoint:
            np.multiply(g, mask, out=taps[j])
        else:
            taps[j] += g * mask
    return out


class MaxPool2d(Function):
    """Max over windows, computed separably: the max over the window's columns for
    every row, then over its rows. Each pass loops over kernel offsets (k strided views
    of the whole batch), so a kh x kw window costs kh + kw passes, not kh * kw. Which
    tap won is kept per pass (the first maximum, NaN propagating, as PyTorch), and
    backward routes each gradient back through the two passes."""

    differentiable_outputs = (0,)

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ohw, return_indices):
        pool = (kernel, stride, padding, dilation, ohw)
        pk = None if return_indices else _compiled_2x2(x, pool)
        if pk is not None:
            out, won = _max_pool_2x2(pk, x, ohw)
            if _needs(ctx) is not None:
                ctx.won_2x2 = (won, x.shape)
            return out
        canvas = _pool_canvas(x.shape, pool)
        if x.size >= BIG:
            out, ri, ci = _max_pool_split(x, pool, canvas)
        else:
            # max propagates NaN; no temporary like isnan(x). (An empty batch has no max.)
            nan = bool(x.size and np.isnan(x.max()))
            out, ri, ci = _max_pool(x, pool, canvas, nan)
        if np.may_share_memory(out, x):
            out = out.copy()  # a 1x1 window: the output must own its memory
        if _needs(ctx) is not None:
            ctx.geom = (x.shape, canvas, pool)
            ctx.idx = (ri, ci)
        if return_indices:
            return out, _flat_indices(ri, ci, stride, padding, dilation, ohw, x.shape[3])
        return out

    @staticmethod
    def backward(ctx, g, gi=None):
        compiled_2x2 = ctx.__dict__.get("won_2x2")
        if compiled_2x2 is not None:
            return _max_pool_2x2_grad(g, *compiled_2x2)
        (_, _, h, w), canvas, pool = ctx.geom
        ph, pw = pool[2]
        gshape = g.shape[:2] + canvas  # the routed gradient's plane
        if math.prod(gshape) >= BIG:
            gp = np.empty(gshape, g.dtype)
            split_rows(lambda lo, hi: _max_pool_grad(g[lo:hi], *_rows(ctx.idx, lo, hi), pool,
                                                     canvas, out=gp[lo:hi]), gp)
        else:
            gp = _max_pool_grad(g, *ctx.idx, pool, canvas)
        return gp[:, :, ph:ph + h, pw:pw + w]


# ------------------------------------------- the compiled 2x2 path (optional: Numba)
_kernels: list = []  # [pool_kernels or None] once looked for


def pool_kernels():
    """The compiled 2x2 max pooling kernels (``pool_kernels.py``), or None: without
    Numba, with ``NABLA_NUMBA=0``, or when they do not compile or check out."""
    return compiled.once(_kernels, "the max pooling kernels", _build_kernels, "NumPy")


def _build_kernels():
    from . import pool_kernels as pk

    x = np.array([[[[1, 3, 2, 2, 0], [3, 0, 2, np.nan, 0], [0, 0, 0, 0, 0]]]], np.float32)
    out, won = np.empty((1, 1, 1, 2), np.float32), np.empty((1, 1, 1, 2), np.int8)
    pk.forward(x, 0, 1, out, won)  # compiles now, not inside a training step
    gx = np.empty_like(x)
    pk.backward(np.array([[[[5, 7]]]], np.float32), won, 0, 1, gx)
    want = np.zeros_like(x)
    want[0, 0, 0, 1], want[0, 0, 1, 3] = 5, 7  # the first 3; the NaN
    if out[0, 0, 0, 0] != 3 or not np.isnan(out[0, 0, 0, 1]) or not np.array_equal(gx, want):
        raise RuntimeError("the compiled max pooling gave wrong values")
    return pk


def _compiled_2x2(x, pool):
    """The compiled kernels where this max pooling runs compiled, else None: 2x2
    windows, stride 2, no padding or dilation, a float input big enough to split over
    threads, and the kernels there."""
    if (pool[:4] == ((2, 2), (2, 2), (0, 0), (1, 1)) and x.dtype.kind == "f"
            and x.size >= BIG and pool[4] == (x.shape[2] // 2, x.shape[3] // 2)):
        return pool_kernels()
    return None


def _max_pool_2x2(pk, x, ohw):
    """The maxima of ``x``'s 2x2 windows, and the winners (see ``pool_kernels.py``)."""
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape[:2] + ohw, x.dtype)
    won = np.empty(out.shape, np.int8)
    split_rows(lambda lo, hi: pk.forward(x, lo, hi, out, won), x)
    return out, won


def _max_pool_2x2_grad(g, won, shape):
    """``_max_pool_2x2``'s adjoint: each gradient to its window's winner, on an input
    of ``shape``."""
    pk = pool_kernels()
    g = np.ascontiguousarray(g)
    gx = np.empty(shape, g.dtype)
    split_rows(lambda lo, hi: pk.backward(g, won, lo, hi, gx), gx)
    return gx


def _rows(arrays, lo, hi):
    """Rows lo..hi of each array (None stays None)."""
    return tuple(None if a is None else a[lo:hi] for a in arrays)


def _max_pool_split(x, pool, canvas):
    """``_max_pool`` of a big batch, its samples in parts on every thread (see
    ``nabla.threads``); each part checks its own samples for NaN."""
    (kh, kw), _, _, _, (ho, wo) = pool
    n, c = x.shape[:2]
    out = np.empty((n, c, ho, wo), x.dtype)
    won = (_winners(out.shape, kh), _winners((n, c, canvas[0], wo), kw))

    def part(lo, hi):
        xs = x[lo:hi]
        _max_pool(xs, pool, canvas, bool(np.isnan(xs.max())), out=out[lo:hi],
                  won=_rows(won, lo, hi))

    split_rows(part, x)
    return out, won[0], won[1]


def _pool_canvas(shape, pool):
    """The (hc, wc) plane a max pooling of an input of ``shape`` reads: the input with
    its padding, widened where ceil_mode's last windows run past it."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = pool
    return (max(shape[2] + 2 * ph, (ho - 1) * sh + dh * (kh - 1) + 1),
            max(shape[3] + 2 * pw, (wo - 1) * sw + dw * (kw - 1) + 1))


def _winners(shape, k):
    """An array for a max pooling pass's winners over k taps (as ``_max_pass`` makes
    them: bool for 2 taps, uint8 for more), or None for one tap, which needs none."""
    return None if k == 1 else np.empty(shape, bool if k == 2 else np.uint8)


def _max_pool(x, pool, canvas, nan, out=None, won=(None, None)):
    """``(maxima, row winners, column winners)`` of a max pooling of ``x``, in two
    separable passes (see MaxPool2d); with ``out`` the maxima are written there, with
    ``won`` the winners (``_winners``' arrays)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = pool
    xp = _canvas(x, ph, pw, *canvas, -np.inf)
    cols, ci = _max_pass(xp, 3, kw, sw, dw, wo, nan, pooled=kh > 1, won=won[1])
    out, ri = _max_pass(cols, 2, kh, sh, dh, ho, nan, out=out, won=won[0])
    if kh > 1 and kw > 1:
        _give(cols)
    return out, ri, ci


def _max_pool_grad(g, ri, ci, pool, canvas, out=None, finite=None):
    """The adjoint of ``_max_pool``: ``g`` routed to the winners, on the canvas (into
    ``out`` if given). ``finite``: whether every element of ``g`` is, when known."""
    (kh, kw), (sh, sw), _, (dh, dw), _ = pool
    # With disjoint row windows the first pass's output holds g's values and zeros, so
    # it is finite where g is: one check serves both passes (the second sum is k times
    # bigger). Overlapping windows add gradients, which may overflow: checked again.
    disjoint = sh >= dh * (kh - 1) + 1
    if finite is None and ri is not None and ci is not None and disjoint:
        finite = bool(np.isfinite(g.sum()))
    gcols = _route_pass(g, ri, 2, kh, sh, dh, canvas[0], pooled=kw > 1, finite=finite)
    gp = _route_pass(gcols, ci, 3, kw, sw, dw, canvas[1], out=out,
                     finite=finite if disjoint else None)
    if gcols is not g and kw > 1:
        _give(gcols)
    return gp


def _flat_indices(ri, ci, stride, padding, dilation, ohw, width):
    """PyTorch's indices: the winner's position in the flattened (H*W) input plane."""
    (sh, sw), (ph, pw), (dh, dw), (ho, wo) = stride, padding, dilation, ohw
    i = np.zeros((1, 1, ho, wo), np.int64) if ri is None else ri.astype(np.int64)
    row = np.arange(ho, dtype=np.int64)[:, None] * sh + i * dh  # a row of the canvas
    if ci is None:
        j = np.zeros(row.shape, np.int64)
    else:
        # The column pass ran over every canvas row; pick the winning row's entry.
        j = np.take_along_axis(ci, np.broadcast_to(row, row.shape[:2] + (ho, wo)), axis=2)
        j = j.astype(np.int64)
    col = np.arange(wo, dtype=np.int64)[None, :] * sw + j * dw
    return (row - ph) * width + (col - pw)


class AvgPool2d(Function):
    """Mean over windows, summed separably (columns, then rows: kh + kw strided adds of
    the whole batch), then one division by the window sizes."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ohw, divisor):
        (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel, stride, padding, ohw
        n, c, h, w = x.shape
        hc = max(h + 2 * ph, (ho - 1) * sh + kh)
        wc = max(w + 2 * pw, (wo - 1) * sw + kw)
        xp = _canvas(x, ph, pw, hc, wc)
        acc = None
        for axis, k, st, size in ((3, kw, sw, wo), (2, kh, sh, ho)):
            taps = _taps(xp if acc is None else acc, axis, k, st, 1, size)
            total = taps[0] + taps[1] if k > 1 else taps[0].copy()
            for v in taps[2:]:
                total += v
            acc = total
        acc /= divisor
        if _needs(ctx) is not None:
            ctx.geom = (x.shape, (hc, wc), kernel, stride, padding, ohw)
            ctx.divisor = divisor
        return acc

    @staticmethod
    def backward(ctx, g):
        (n, c, h, w), (hc, wc), (kh, kw), (sh, sw), (ph, pw), (ho, wo) = ctx.geom
        grad = g / ctx.divisor
        for axis, k, st, size in ((2, kh, sh, hc), (3, kw, sw, wc)):
            out = np.zeros(grad.shape[:axis] + (size,) + grad.shape[axis + 1:], g.dtype)
            for v in _taps(out, axis, k, st, 1, grad.shape[axis]):
                v += grad
            grad = out
        return grad[:, :, ph:ph + h, pw:pw + w]


def _avg_divisor(size, k, s, p, out, include_pad):
    """Per-output window sizes along one axis (PyTorch's rule, ceil_mode included)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    full = end - start
    if include_pad:
        return full
    return np.minimum(end, size) - np.maximum(start, 0)


class AdaptiveMaxPool2d(Function):
    """Max over PyTorch's adaptive windows, which may differ in size and overlap.

    Each output gathers element ``start + offset`` (clipped to its window) for every
    offset up to the largest window, so the loop runs over offsets; backward scatters
    with one ``bincount`` over the outputs.
    """

    differentiable_outputs = (0,)

    @staticmethod
    def forward(ctx, x, ohw, return_indices):
        n, c, h, w = x.shape
        ho, wo = ohw
        hs, he = _adaptive_bounds(h, ho)
        ws, we = _adaptive_bounds(w, wo)
        best = flat = None
        for a in range(int((he - hs).max())):
            rows = np.minimum(hs + a, he - 1)
            for b in range(int((we - ws).max())):
                cols = np.minimum(ws + b, we - 1)
                v = x[:, :, rows[:, None], cols[None, :]]
                pos = rows[:, None] * w + cols[None, :]
                if best is None:
                    best = v
                    flat = np.broadcast_to(pos, v.shape).copy()
                    continue
                gt = (v > best) | (v != v)
                np.copyto(best, v, where=gt)
                np.copyto(flat, np.broadcast_to(pos, v.shape), where=gt)
        if _needs(ctx) is not None:
            ctx.shape, ctx.flat = x.shape, flat
        if return_indices:
            return best, flat
        return best

    @staticmethod
    def backward(ctx, g, gi=None):
        n, c, h, w = ctx.shape
        plane = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * (h * w)
        gx = np.bincount((ctx.flat + plane).ravel(), weights=g.ravel(), minlength=n * c * h * w)
        return gx.astype(g.dtype, copy=False).reshape(n, c, h, w)


def _adaptive_bounds(size, out):
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)  # floor start, ceil end


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over (kh, kw) windows of an (N, C, H, W) input; ``stride`` defaults to the
    kernel size. With ``return_indices`` also gives each maximum's flat index in its
    H*W plane, as PyTorch does.

    >>> import nabla
    >>> x = nabla.arange(16.0).reshape(1, 1, 4, 4)
    >>> out, idx = max_pool2d(x, 2, return_indices=True)
    >>> out[0, 0].tolist(), idx[0, 0].tolist()
    ([[5.0, 7.0], [13.0, 15.0]], [[5, 7], [13, 15]])
    """
    fn = "max_pool2d"
    x, unbatched = _pool_input(fn, input, 4)
    k, s, p, d, ohw = _pool_args(fn, x.shape, kernel_size, stride, padding, dilation,
                                 ceil_mode)
    out = MaxPool2d.apply(x, k, s, p, d, ohw, bool(return_indices))
    return _unbatch(out, unbatched)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of an (N, C, L) input (see ``max_pool2d``).

    >>> import nabla
    >>> max_pool1d(nabla.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    fn = "max_pool1d"
    x, unbatched = _pool_input(fn, input, 3)
    x = x.unsqueeze(2)
    k, s, p, d, ohw = _pool_args(
        fn, x.shape, (1, _tuple(kernel_size, 1, "kernel_size", fn)[0]),
        None if stride is None else (1, _tuple(stride, 1, "stride", fn)[0]),
        (0, _tuple(padding, 1, "padding", fn)[0]), (1, _tuple(dilation, 1, "dilation", fn)[0]),
        ceil_mode,
    )
    out = MaxPool2d.apply(x, k, s, p, d, ohw, bool(return_indices))
    return _unbatch(out, unbatched, 2)


def _avg(fn, x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    for i in range(2):
        if p[i] > k[i] // 2:
            raise ValueError(
                f"{fn}: pad should be at most half of kernel size, but got pad={p[i]} and "
                f"kernel_size={k[i]}"
            )
    ohw = tuple(
        _pool_out(fn, n, k[i], s[i], p[i], 1, ceil_mode, x.shape)
        for i, n in enumerate(x.shape[2:])
    )
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{fn}: divisor must be not zero")
        divisor = np.asarray(divisor_override, dtype=x._data.dtype)
    else:
        dh = _avg_divisor(x.shape[2], k[0], s[0], p[0], ohw[0], count_include_pad)
        dw = _avg_divisor(x.shape[3], k[1], s[1], p[1], ohw[1], count_include_pad)
        divisor = np.outer(dh, dw).astype(x._data.dtype)
        if (divisor == divisor.flat[0]).all():
            divisor = divisor.dtype.type(divisor.flat[0])  # one scalar divides faster
    return AvgPool2d.apply(x, k, s, p, ohw, divisor)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """Mean over (kh, kw) windows of an (N, C, H, W) input. Zero padding counts in the
    mean unless ``count_include_pad=False``.

    >>> import nabla
    >>> avg_pool2d(nabla.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    fn = "avg_pool2d"
    x, unbatched = _pool_input(fn, input, 4)
    k = _tuple(kernel_size, 2, "kernel_size", fn)
    s = k if stride is None else _tuple(stride, 2, "stride", fn)
    p = _tuple(padding, 2, "padding", fn)
    _positive(fn, kernel_size=k, stride=s)
    _nonneg(fn, padding=p)
    out = _avg(fn, x, k, s, p, ceil_mode, count_include_pad, divisor_override)
    return _unbatch(out, unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """Mean over windows of an (N, C, L) input (see ``avg_pool2d``).

    >>> import nabla
    >>> avg_pool1d(nabla.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    fn = "avg_pool1d"
    x, unbatched = _pool_input(fn, input, 3)
    k = (1, _tuple(kernel_size, 1, "kernel_size", fn)[0])
    s = k if stride is None else (1, _tuple(stride, 1, "stride", fn)[0])
    p = (0, _tuple(padding, 1, "padding", fn)[0])
    _positive(fn, kernel_size=k, stride=s)
    _nonneg(fn, padding=p)
    out = _avg(fn, x.unsqueeze(2), k, s, p, ceil_mode, count_include_pad, None)
    return _unbatch(out, unbatched, 2)


def _averaging_matrix(size, out, dtype):
    start, end = _adaptive_bounds(size, out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed output size, with PyTorch's windows
    ``[floor(i*H/Ho), ceil((i+1)*H/Ho))``. ``None`` keeps that dimension.

    >>> import nabla
    >>> adaptive_avg_pool2d(nabla.randn(2, 3, 7, 9), (2, 3)).shape
    (2, 3, 2, 3)
    >>> adaptive_avg_pool2d(nabla.ones(1, 1, 5, 5), 1).tolist()
    [[[[1.0]]]]
    """
    fn = "adaptive_avg_pool2d"
    x, unbatched = _pool_input(fn, input, 4)
    h, w = x.shape[2:]
    ho, wo = _output_size(fn, output_size, (h, w))
    if h % ho == 0 and w % wo == 0:
        k = (h // ho, w // wo)  # equal windows: an ordinary average pool
        out = AvgPool2d.apply(x, k, k, (0, 0), (ho, wo), x._data.dtype.type(k[0] * k[1]))
    else:
        dt = x._data.dtype
        out = Separable2d.apply(x, _averaging_matrix(h, ho, dt), _averaging_matrix(w, wo, dt))
    return _unbatch(out, unbatched)


def _output_length(fn, output_size, x):
    """A 1-D adaptive pooling's output length from an int or a 1-tuple, for (N, C, L) ``x``."""
    single = (output_size,) if not isinstance(output_size, tuple) else output_size
    return _output_size(fn, single, x.shape[2:])[0]


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average pooling of an (N, C, L) input to a fixed length.

    >>> import nabla
    >>> adaptive_avg_pool1d(nabla.tensor([[[1.0, 2.0, 3.0]]]), 2).tolist()
    [[[1.5, 2.5]]]
    """
    fn = "adaptive_avg_pool1d"
    x, unbatched = _pool_input(fn, input, 3)
    lo = _output_length(fn, output_size, x)
    out = adaptive_avg_pool2d(x.unsqueeze(2), (1, lo)).squeeze(2)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size (PyTorch's adaptive windows).

    >>> import nabla
    >>> x = nabla.arange(25.0).reshape(1, 1, 5, 5)
    >>> adaptive_max_pool2d(x, 2)[0, 0].tolist()
    [[12.0, 14.0], [22.0, 24.0]]
    """
    fn = "adaptive_max_pool2d"
    x, unbatched = _pool_input(fn, input, 4)
    h, w = x.shape[2:]
    ho, wo = _output_size(fn, output_size, (h, w))
    if h % ho == 0 and w % wo == 0:
        k = (h // ho, w // wo)
        out = MaxPool2d.apply(x, k, k, (0, 0), (1, 1), (ho, wo), bool(return_indices))
    else:
        out = AdaptiveMaxPool2d.apply(x, (ho, wo), bool(return_indices))
    return _unbatch(out, unbatched)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of an (N, C, L) input to a fixed length.

    >>> import nabla
    >>> adaptive_max_pool1d(nabla.tensor([[[1.0, 5.0, 3.0]]]), 2).tolist()
    [[[5.0, 5.0]]]
    """
    fn = "adaptive_max_pool1d"
    x, unbatched = _pool_input(fn, input, 3)
    lo = _output_length(fn, output_size, x)
    out = adaptive_max_pool2d(x.unsqueeze(2), (1, lo), return_indices)
    return _unbatch(out, unbatched, 2)
