"""Softmax and log-softmax along any axis, fused and numerically stable."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..autograd import ones_vector as _ones
from ..row_picks import ColumnBlocks, RowPicks
from ..threads import BIG, split
from . import softmax_linear
from .elementwise import _BLAS_FLOATS, _compiled_for
from .linalg import Linear
from .movement import Reshape


def row_max(x2):
    """The max of each row of a 2-D array, shape (M, 1). NumPy reduces along a short
    inner axis one row at a time (~80 ns a row for float32); for up to 48 columns,
    reducing the transposed copy along its outer axis is one vectorised pass: 3.8 ->
    1.8 us on 64x10, 169 -> 52 us on 2048x32 (a GPT's attention rows). From 64 columns
    the transposed copy costs as much as it saves. The same values either way."""
    m, c = x2.shape
    if c <= 48 and m >= 32:
        return np.ascontiguousarray(x2.T).max(axis=0)[:, None]
    return x2.max(axis=1, keepdims=True)


def _last(a, axis):
    """True when ``axis`` is the last of a non-empty C-contiguous float32/float64 array:
    then its rows are the rows of ``a.reshape(-1, n)`` and the BLAS/einsum reductions
    below apply."""
    return (axis == a.ndim - 1 and a.size and a.dtype in _BLAS_FLOATS
            and a.flags.c_contiguous)


def _max_along(a, axis):
    if _last(a, axis):
        return row_max(a.reshape(-1, a.shape[-1])).reshape(a.shape[:-1] + (1,))
    return a.max(axis=axis, keepdims=True)


def _sum_along(e, axis):
    # Row sums as a BLAS product with ones (2048 rows of 32: 40 -> 7.5 us); the sums are
    # taken in another order than NumPy's, so values agree within float rounding.
    if _last(e, axis):
        n = e.shape[-1]
        return e.reshape(-1, n).dot(_ones(n, e.dtype)).reshape(e.shape[:-1] + (1,))
    return e.sum(axis=axis, keepdims=True)


def _dot_along(g, out, axis):
    """``(g * out).sum(axis, keepdims=True)``; along a last axis without the product's
    temporary (einsum's row dot products)."""
    if _last(out, axis) and g.dtype == out.dtype:
        n = out.shape[-1]
        s = np.einsum("ij,ij->i", g.reshape(-1, n), out.reshape(-1, n))
        return s.reshape(out.shape[:-1] + (1,))
    return (g * out).sum(axis=axis, keepdims=True)


def _finite_shift(m):
    """The rows' maxima as the softmax's shift, 0 for a row of -inf (whose values
    would be inf - inf otherwise; it comes out NaN, as in PyTorch). A row holding +inf
    or NaN keeps its maximum, so that the whole row is NaN, as in PyTorch: shifting
    such a row by 0 gave [0, nan] for softmax([1, inf]) where PyTorch gives [nan, nan]."""
    return np.where(m == -np.inf, 0, m)


def _float(a):
    return a if a.dtype.kind == "f" else a.astype(np.float64)  # exp's type for ints


# A big softmax-like pass over rows goes in blocks of rows of about this many bytes,
# each block through all its passes (max, shift, exp, sum, log) while it sits in L2,
# the blocks split over the threads: the word language model of PyTorch's examples
# (700 rows of 33278 logits, 93 MB) log_softmax 76-80 -> 32-34 ms forward, 81-84 ->
# 32-34 backward, PyTorch 31.5 / 33.1 (2-core Xeon, 256 KB and 512 KB blocks were
# slower: 41-49 and 31-36 ms forward). With Numba, float32 blocks go through its
# kernels instead, two passes a row (see elementwise_kernels.py: ~13 ms each way).
_BLOCK_BYTES = 1 << 20


def by_row_blocks(fn, m, c, dtype, scratch=True):
    """``fn(i, j, scratch)`` for blocks ``[i, j)`` of the ``m`` rows of an (m, c) array,
    about ``_BLOCK_BYTES`` each, split over the threads; ``scratch`` is the part's own
    block-sized array (reused from block to block, so that no block page-faults), or
    None without ``scratch``."""
    rows = max(1, _BLOCK_BYTES // (c * dtype.itemsize))

    def part(lo, hi):
        buf = np.empty((min(rows, hi - lo), c), dtype) if scratch else None
        # A row with no finite entry gives NaN, as in PyTorch, without NumPy's warnings
        # (each thread has its own error state: set here, on the thread that runs it).
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(lo, hi, rows):
                j = min(i + rows, hi)
                fn(i, j, None if buf is None else buf[: j - i])

    split(part, m, -(-(BIG // 2) // c))  # parts of at least BIG / 2 elements


def _big_rows(a, axis):
    """True for a log-softmax that goes by row blocks: over the last axis of a big
    C-contiguous float32/float64 array."""
    return a.size >= BIG and _last(a, axis)


def _compiled_float32(a):
    """The compiled kernels for long float32 rows (``elementwise_kernels``'s exp is
    float32's), or None: NumPy's passes then."""
    return _compiled_for(a) if a.dtype == np.float32 else None


def _log_softmax_blocks(a):
    c = a.shape[-1]
    x2 = a.reshape(-1, c)
    out = np.empty(x2.shape, x2.dtype)
    if (k := _compiled_float32(x2)) is not None:
        def block(i, j, _):
            # The rows' maxima by NumPy (vectorised; the kernel's loop would not be),
            # the block then still in L2 for the kernel's two passes.
            k.log_softmax_rows(x2[i:j], x2[i:j].max(axis=1), out[i:j])
    else:
        ones = _ones(c, x2.dtype)

        def block(i, j, e):
            xb, ob = x2[i:j], out[i:j]
            m = row_max(xb)
            if not np.isfinite(m).all():
                m = _finite_shift(m)
            np.subtract(xb, m, out=ob)
            np.exp(ob, out=e)
            ob -= np.log(e.dot(ones))[:, None]

    by_row_blocks(block, len(x2), c, x2.dtype, scratch=k is None)
    return out.reshape(a.shape)


def _log_softmax_grad_blocks(g, out):
    """``g - exp(out) * sum(g)`` along the last axis, by row blocks (see above)."""
    c = out.shape[-1]
    o2, g2 = out.reshape(-1, c), np.ascontiguousarray(g).reshape(-1, c)
    r = np.empty(o2.shape, o2.dtype)
    if (k := _compiled_float32(o2)) is not None:
        def block(i, j, _):
            k.log_softmax_grad_rows(g2[i:j], o2[i:j], r[i:j])
    else:
        ones = _ones(c, o2.dtype)

        def block(i, j, _):
            rb, gb = r[i:j], g2[i:j]
            np.exp(o2[i:j], out=rb)
            rb *= gb.dot(ones)[:, None]
            np.subtract(gb, rb, out=rb)

    by_row_blocks(block, len(o2), c, o2.dtype, scratch=False)
    return r.reshape(out.shape)


def _log_softmax_grad_picks(p, out):
    """``_log_softmax_grad_blocks`` for a ``RowPicks`` gradient ``p`` (one value ``v`` a
    row): ``-(exp(out) * v)``, then ``v`` added at the picks; the dense gradient's
    operations on the same values (``0 - t`` is ``-t``, ``v - t`` is ``-t + v``)."""
    c = out.shape[-1]
    o2 = out.reshape(-1, c)
    r = np.empty(o2.shape, o2.dtype)
    v = p.values.astype(o2.dtype, copy=False)
    if (k := _compiled_float32(o2)) is not None:
        def block(i, j, _):
            k.log_softmax_grad_picked(o2[i:j], v[i:j], r[i:j])
    else:
        def block(i, j, _):
            _neg_exp_times(o2[i:j], v[i:j], r[i:j])

    by_row_blocks(block, len(o2), c, o2.dtype, scratch=False)
    r[np.arange(len(o2)), p.cols] += v
    return r.reshape(out.shape)


def through_row_view(x):
    """``x``, or the tensor it views when it is a reshape that keeps the last axis (so
    its rows: ``.view(-1, ntokens)``); None for a reshape that does not, or one whose
    node was released (backward then says so itself)."""
    fn = x.grad_fn
    if type(fn) is not Reshape:
        return x
    below = fn.inputs  # () once released
    return below[0] if below and below[0].shape[-1] == x.shape[-1] else None


def linear_below(x):
    """``(input, weight)`` arrays of the Linear layer whose output ``x`` is, itself or
    through a view that keeps the rows; None for anything else. A loss over a vocabulary
    asks, to send its gradient to that layer as ``ColumnBlocks``."""
    x = through_row_view(x)
    fn = None if x is None else x.grad_fn
    if type(fn) is not Linear or not fn.inputs:
        return None
    return fn.saved_tensors


def _neg_exp_times(o, v, res):
    """``res = -(exp(o) * v)``, ``v`` one value a row: log_softmax's gradient under NLL's
    picks but for the picks themselves, in NumPy's passes."""
    np.exp(o, out=res)
    res *= v[:, None]
    np.negative(res, out=res)


def _picks_by_columns(p, out):
    """``_log_softmax_grad_picks(p, out)`` as ``ColumnBlocks``: each block filled by its
    compiled kernel, or by its NumPy passes, the same operations on the block."""
    o2 = out.reshape(-1, out.shape[-1])
    v = p.values.astype(out.dtype, copy=False)
    cols, rows = p.cols, np.arange(len(o2))
    if (k := _compiled_float32(o2)) is not None:
        def fill(j, res):
            k.log_softmax_grad_picked_cols(o2, v, cols, j, res)
    else:
        def fill(j, res):
            _neg_exp_times(o2[:, j:j + res.shape[1]], v, res)
            hit = (cols >= j) & (cols < j + res.shape[1])
            res[rows[hit], cols[hit] - j] += v[hit]

    return ColumnBlocks(out.shape, out.dtype, fill, lambda: _log_softmax_grad_picks(p, out))


def log_softmax_array(a, axis):
    a = _float(a)
    if _big_rows(a, axis):
        return _log_softmax_blocks(a)
    m = _finite_shift(_max_along(a, axis))
    shifted = a - m
    shifted -= np.log(_sum_along(np.exp(shifted), axis))
    return shifted


def softmax_array(a, axis):
    a = _float(a)
    if axis == a.ndim - 1 and (k := _compiled_for(a)) is not None:
        n = a.shape[-1]
        e = np.empty(a.shape, a.dtype)
        k.shift_by_row_max(a.reshape(-1, n), e.reshape(-1, n))
        np.exp(e, out=e)
        k.divide_by_row_sum(e.reshape(-1, n))
        return e
    m = _max_along(a, axis)
    e = np.subtract(a, _finite_shift(m))
    np.exp(e, out=e)
    e /= _sum_along(e, axis)
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
        if ctx.axis == out.ndim - 1 and g.dtype == out.dtype \
                and (k := _compiled_for(out)) is not None:
            n = out.shape[-1]
            r = np.empty(out.shape, out.dtype)
            k.softmax_grad(np.ascontiguousarray(g).reshape(-1, n), out.reshape(-1, n),
                           r.reshape(-1, n))
            return r
        r = g - _dot_along(g, out, ctx.axis)
        r *= out
        return r


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
        if type(g) is RowPicks:  # NLL's gradient, over a big array's last axis
            if softmax_linear.takes(linear_below(ctx.inputs[0]), out.dtype):
                return _picks_by_columns(g, out)  # a decoder's: a block at a time there
            return _log_softmax_grad_picks(g, out)
        if _big_rows(out, ctx.axis) and g.dtype == out.dtype:
            return _log_softmax_grad_blocks(g, out)
        t = np.exp(out)
        t *= _sum_along(g, ctx.axis)
        return g - t
