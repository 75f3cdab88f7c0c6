"""Convolution, pooling, unfold/fold and resampling: fused primitives and their wrappers.

Every 2-D op here works on NCHW arrays; the 1-D ops reshape to a height of 1.

Convolution is im2col + one matrix product. ``as_strided`` gives a view of every
receptive field of the padded input (no copy), one copy lays the fields out as the
columns of a matrix, and one ``matmul`` (batched over samples and groups) multiplies
them by the flattened kernels. The input gradient (and ``conv_transpose2d``'s forward)
is convolution's adjoint: with unit column stride, one matmul over column-shifted views
of the gradient and one add per kernel row; otherwise the transposed product and a
strided add per kernel offset (col2im); never ``np.add.at`` over every element.
Pooling is separable: a pass over the window's columns, then one over its rows, each
a loop over kernel offsets with every offset a strided view of the whole batch. No
Python loop runs over samples or pixels. Big temporaries (columns, their gradients,
padded copies) come from a per-thread pool of reused arrays.

>>> import nabla
>>> x = nabla.ones(1, 1, 4, 4)
>>> w = nabla.ones(2, 1, 3, 3)
>>> conv2d(x, w, padding=1)[0, 0].tolist()
[[4.0, 6.0, 6.0, 4.0], [6.0, 9.0, 9.0, 6.0], [6.0, 9.0, 9.0, 6.0], [4.0, 6.0, 6.0, 4.0]]
>>> max_pool2d(x, 2).shape
(1, 1, 2, 2)
"""

from __future__ import annotations

import math
import numbers
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ..creation import tensor
from ..random import _np as _rng
from ..tensor import ShapeError, Tensor
from ..threads import split
from .elementwise import _relu_grad
from .linalg import _ones

__all__ = [
    "conv1d", "conv2d", "conv2d_max_pool2d", "conv_transpose1d", "conv_transpose2d",
    "unfold", "fold",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "interpolate", "upsample", "upsample_nearest", "dropout2d",
    "dropout1d", "pad_mode",
]


# -------------------------------------------------------------------- workspaces
class _Pool(threading.local):
    """Reusable big arrays (im2col columns, their gradients, padded copies), per thread.

    glibc hands large blocks back to the OS when they are freed, so a fresh multi-MB
    array page-faults on every step; reusing one is measurably faster (DESIGN.md,
    Performance rules). Only internal temporaries come from here, never an array an op
    returns: a returned array must not change under its holder's feet.
    """

    def __init__(self):
        self.free = {}
        self.bytes = 0


_pool = _Pool()
_POOL_LIMIT = 256 << 20  # bytes kept idle; beyond this the pool starts afresh


def _take(shape, dtype):
    """An uninitialised array of ``shape``, reused when one is idle."""
    a = _kept(shape, dtype, None)
    return np.empty(shape, dtype=dtype) if a is None else a


def _kept(shape, dtype, kind):
    """An idle array of ``shape`` that was handed back as ``kind``, or None.

    A kind other than None is a promise about content its users keep from use to use,
    such as zero borders that only a new array needs filled: such an array is only ever
    handed back, and taken again, as that kind. None is any content at all.
    """
    stack = _pool.free.get((shape, dtype, kind))
    if not stack:
        return None
    a = stack.pop()
    _pool.bytes -= a.nbytes
    return a


def _kept_zeros(shape, dtype, kind):
    """An idle array of ``kind`` (see ``_kept``), or a new one of zeros."""
    a = _kept(shape, dtype, kind)
    return np.zeros(shape, dtype=dtype) if a is None else a


def _give(a, kind=None):
    """Hand an array from ``_take`` or ``_kept`` back, as ``kind``, once nothing refers
    to it any more."""
    if _pool.bytes + a.nbytes > _POOL_LIMIT:
        _pool.free.clear()
        _pool.bytes = 0
    _pool.free.setdefault((a.shape, a.dtype, kind), []).append(a)
    _pool.bytes += a.nbytes


# Batch-parallel kernels split a batch into parts of at least this many samples, and of
# at least this many multiply-adds: below that, starting a thread (~50 us on the 2-core
# development machine) costs more than the part saves. Measured there, convolution
# forward + backward: 64 samples of the 8x8 digits (9,600 multiply-adds each) took
# 293 us on one thread and 456 us on two; 16 MNIST samples (117,600 each) 546 and 588 us;
# 64 MNIST samples 2,268 and 1,522 us.
_MIN_ROWS = 8
_MIN_PART_MACS = 2_000_000


def _min_rows(*geoms):
    """The fewest samples a thread's part of these convolutions should get."""
    per_sample = sum(o * cg * kh * kw * ho * wo for _, (o, cg, kh, kw), _, _, ho, wo in geoms)
    return max(_MIN_ROWS, -(-_MIN_PART_MACS // max(per_sample, 1)))


# ----------------------------------------------------------------- array kernels
def _canvas(x, top, left, hc, wc, fill=0.0, pooled=False):
    """``x`` placed at (top, left) of an (hc, wc) plane filled with ``fill``.

    Returns ``x`` itself when nothing needs adding, so an unpadded op copies nothing.
    With ``pooled`` the plane comes from the workspace pool; the caller gives it back
    with ``_give(plane, _canvas_kind(x, top, left, fill))``.
    """
    n, c, h, w = x.shape
    if top == 0 and left == 0 and hc == h and wc == w:
        return x
    if pooled:
        # A plane of this kind has had its border filled, and nothing writes there: only
        # a new one needs the four fills (four GIL round trips fewer per thread part).
        out = _kept((n, c, hc, wc), x.dtype, _canvas_kind(x, top, left, fill))
        if out is None:
            out = np.empty((n, c, hc, wc), dtype=x.dtype)
            out[:, :, :top] = fill
            out[:, :, top + h:] = fill
            out[:, :, top:top + h, :left] = fill
            out[:, :, top:top + h, left + w:] = fill
    elif fill == 0:
        out = np.zeros((n, c, hc, wc), dtype=x.dtype)  # calloc: pages come zeroed
    else:
        out = np.full((n, c, hc, wc), fill, dtype=x.dtype)
    out[:, :, top:top + h, left:left + w] = x
    return out


def _canvas_kind(x, top, left, fill):
    """The pool kind of ``_canvas``'s planes for ``x``: where its interior sits, and the fill
    of the border around it."""
    return ("canvas", top, left, x.shape[2], x.shape[3], fill)


def _view(a, shape, strides, offset=0):
    """A read-only view of ``a``'s memory: ``shape``, ``strides`` in bytes, from byte
    ``offset`` on (which needs ``a`` contiguous). As ``as_strided``, but 0.6 us instead
    of 2.5 where ``a`` is contiguous: every thread part of a convolution makes a few,
    holding the GIL that the other parts wait for."""
    if not a.flags.c_contiguous:
        return as_strided(a, shape, strides, writeable=False)
    v = np.ndarray(shape, a.dtype, a, offset, strides)
    v.flags.writeable = False
    return v


def _windows(xp, kh, kw, sh, sw, dh, dw, ho, wo):
    """A read-only (N, C, kh, kw, ho, wo) view of every receptive field of ``xp``."""
    s0, s1, s2, s3 = xp.strides
    return _view(xp, (xp.shape[0], xp.shape[1], kh, kw, ho, wo),
                 (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw))


def _im2col(xp, kh, kw, sh, sw, dh, dw, ho, wo):
    """The receptive fields of ``xp`` as an (N, C*kh*kw, ho*wo) matrix per sample."""
    n, c = xp.shape[:2]
    if kh == kw == sh == sw == 1 and xp.shape[2:] == (ho, wo):
        return xp.reshape(n, c, ho * wo)  # a 1x1 convolution needs no copy at all
    cols = np.ascontiguousarray(_windows(xp, kh, kw, sh, sw, dh, dw, ho, wo))
    return cols.reshape(n, c * kh * kw, ho * wo)


def _im2col_into(out, xp, kh, kw, sh, sw, dh, dw, ho, wo):
    """Fill ``out`` (N, C, kh, kw, ho, wo) with the receptive fields of ``xp``.

    With unit row stride, in two copies: first the kw column shifts of every row
    (N, C, kw, H, wo), then each (kernel row, column shift) block of ho rows, which is
    contiguous there. Both copies run long inner loops, where the direct copy of the
    6-D view runs one short loop (wo elements) per output row: ~1.7x faster for LeNet.
    """
    n, c, h, _ = xp.shape
    if sh != 1 or kh == 1 or kw == 1:
        np.copyto(out, _windows(xp, kh, kw, sh, sw, dh, dw, ho, wo))
        return
    s0, s1, s2, s3 = xp.strides
    shifted = _take((n, c, kw, h, wo), xp.dtype)
    np.copyto(shifted, _view(xp, (n, c, kw, h, wo), (s0, s1, s3 * dw, s2, s3 * sw)))
    t0, t1, t2, t3, t4 = shifted.strides
    np.copyto(out.reshape(n, c, kh, kw, ho * wo),
              _view(shifted, (n, c, kh, kw, ho * wo), (t0, t1, t3 * dh, t2, t4)))
    _give(shifted)


def _col2im(cols, shape, kh, kw, sh, sw, dh, dw, ho, wo):
    """Sum columns (N, C*kh*kw, ho*wo) back into an image of ``shape`` (the adjoint of
    ``_im2col``): one strided add per kernel offset, each over the whole batch."""
    n, c = shape[:2]
    out = np.zeros(shape, dtype=cols.dtype)
    c6 = cols.reshape(n, c, kh, kw, ho, wo)
    hspan, wspan = sh * (ho - 1) + 1, sw * (wo - 1) + 1
    for i in range(kh):
        rows = slice(i * dh, i * dh + hspan, sh)
        for j in range(kw):
            out[:, :, rows, j * dw:j * dw + wspan:sw] += c6[:, :, i, j]
    return out


def _conv_adjoint(g, w, groups, shape, stride, dilation, out=None):
    """Convolution's adjoint: scatter ``g`` (N, O, Ho, Wo) through kernels ``w``
    (O, C/groups, kh, kw) onto a zeroed image of ``shape`` (N, C, Hc, Wc), a new one or
    ``out``; the input gradient of a convolution and the forward pass of a transposed one.

    With unit column stride the scatter splits by kernel axis. The column offsets go
    into the matrix product: a strided view (a negative stride, no copy) of ``g``
    shifted by each column offset, laid out once, multiplied by kernels arranged
    (C*kh, O*kw), gives one partial image per kernel row; summing the kh row blocks,
    each shifted by its row offset, finishes. Against matmul + col2im this writes a
    quarter of the intermediate and runs kh long adds instead of kh*kw short ones. With
    unit row stride too, the partial images sit between zero rows, so that one
    reduction over a strided view sums all kh of them: one NumPy call (one GIL round
    trip in a thread part) instead of a zeroing and kh adds, and a third faster, adding
    in the same order. Other strides take im2col's adjoint.
    """
    n, o, ho, wo = g.shape
    _, cg, kh, kw = w.shape
    c = shape[1]
    (sh, sw), (dh, dw) = stride, dilation
    og = o // groups
    if sw != 1:
        gcols = _take((n, groups, cg * kh * kw, ho * wo), g.dtype)
        wmat = w.reshape(groups, og, cg * kh * kw)
        np.matmul(wmat.transpose(0, 2, 1), g.reshape(n, groups, og, ho * wo), out=gcols)
        image = _col2im(gcols, shape, kh, kw, sh, sw, dh, dw, ho, wo)
        _give(gcols)
        if out is None:
            return image
        out[...] = image
        return out
    span = wo + dw * (kw - 1)  # the image columns the windows reach
    pre, length = dw * (kw - 1), ho * span
    # g with each row widened to ``span`` columns (zeros after wo), ``pre`` zeros first.
    # Only g's own columns are ever written, so a plane of this kind keeps its zeros.
    kind = ("adjoint", pre, ho, wo, span)
    flat = _kept_zeros((n, o, pre + length), g.dtype, kind)
    flat[:, :, pre:].reshape(n, o, ho, span)[..., :wo] = g
    s0, s1, s2 = flat.strides
    # shifted[n, o, j, r*span + x] = g[n, o, r, x - j*dw], zero where that is outside g:
    # reading before a row's start lands in the previous row's zero tail (or in ``pre``).
    shifted = _view(flat, (n, o, kw, length), (s0, s1, -dw * s2, s2), pre * s2)
    gs = _take((n, groups, og * kw, length), g.dtype)
    np.copyto(gs.reshape(n, o, kw, length), shifted)
    _give(flat, kind)
    wt = w.reshape(groups, og, cg, kh, kw).transpose(0, 2, 3, 1, 4)
    wt = wt.reshape(groups, cg * kh, og * kw)
    m = dh * (kh - 1)
    if sh == 1 and shape[2:] == (ho + m, span):  # (a transposed convolution's may be bigger)
        # Each kernel row's partial image between m zero rows above and below, kept from
        # use to use (only the middle is ever written). Image row y takes row y - i*dh of
        # kernel row i's image, so a view whose kernel-row stride is one block less dh
        # rows lines them all up over the image's ho + m rows.
        kind = ("adjoint rows", ho, m, span)
        padded = _kept_zeros((n, groups, cg * kh, (ho + 2 * m) * span), g.dtype, kind)
        np.matmul(wt, gs, out=padded[..., m * span:(m + ho) * span])
        _give(gs)
        p0, _, p2, p3 = padded.strides
        blocks = _view(padded, (n, c, kh, ho + m, span),
                       (p0, kh * p2, p2 - dh * span * p3, span * p3, p3), m * span * p3)
        if out is None:
            out = np.empty(shape, dtype=g.dtype)
        np.add.reduce(blocks, axis=2, out=out)
        _give(padded, kind)
        return out
    rows = _take((n, groups, cg * kh, length), g.dtype)
    np.matmul(wt, gs, out=rows)
    _give(gs)
    if out is None:
        out = np.zeros(shape, dtype=g.dtype)
    else:
        out.fill(0)
    r = rows.reshape(n, c, kh, ho, span)
    for i in range(kh):  # a loop over kernel rows
        out[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, :span] += r[:, :, i]
    _give(rows)
    return out


def _bias_grad(g):
    """The gradient of a per-channel bias: ``g`` (N, O, ...) summed over all but O. Over
    positions as a BLAS matrix-vector product (2.4x faster than ``g.sum(axis=(0, 2,
    3))`` on LeNet's first layer), then over samples."""
    n, o = g.shape[:2]
    plane = math.prod(g.shape[2:])  # np.prod of a tuple costs ~5 us, with the GIL held
    return (g.reshape(n, o, plane) @ _ones(plane, g.dtype)).sum(axis=0)


def _needs(ctx):
    # ctx carries needs_input_grad only when the call is being recorded.
    return getattr(ctx, "needs_input_grad", None)


# ------------------------------------------------------------------- convolution
def _conv_size(xshape, wshape, stride, padding, dilation):
    """``(hp, wp, ho, wo)``: a convolution's padded input plane and its output plane."""
    kh, kw = wshape[2:]
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    hp, wp = xshape[2] + pt + pb, xshape[3] + pl + pr
    return hp, wp, (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1


def _conv_setup(x, w, stride, padding, dilation, groups):
    """A convolution's geometry ``(x shape, w shape, hp, wp, ho, wo)``, and the im2col
    workspace (None for a 1x1 convolution, whose input is the matrix) with its
    ``(N, groups, K, L)`` view, the columns."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride
    hp, wp, ho, wo = _conv_size(x.shape, w.shape, stride, padding, dilation)
    k = cg * kh * kw
    if kh == kw == sh == sw == 1 and (hp, wp) == (h, wd):
        ws, cols = None, x.reshape(n, groups, k, h * wd)
    else:
        ws = _take((n, c, kh, kw, ho, wo), x.dtype)
        cols = ws.reshape(n, groups, k, ho * wo)
    return (x.shape, w.shape, hp, wp, ho, wo), ws, cols


def _conv_part(x, w, b, geom, params, ws, cols, lo, hi, res):
    """The convolution of samples lo..hi into ``res``: their columns, product and bias."""
    _, (o, _, kh, kw), hp, wp, ho, wo = geom
    (sh, sw), (pt, _, pl, _), (dh, dw), groups = params
    if ws is not None:
        xs = x[lo:hi]
        xp = _canvas(xs, pt, pl, hp, wp, pooled=True)
        _im2col_into(ws[lo:hi], xp, kh, kw, sh, sw, dh, dw, ho, wo)
        if xp is not xs:
            _give(xp, _canvas_kind(xs, pt, pl, 0.0))
    np.matmul(w.reshape(groups, o // groups, -1), cols[lo:hi],
              out=res.reshape(hi - lo, groups, o // groups, -1))
    if b is not None:
        res += b.reshape(o, 1, 1)


def _conv_keep(ctx, geom, params, w, ws, cols):
    """Save what a convolution's backward uses: the columns for dW, the kernel for dX."""
    needs = _needs(ctx)
    keep = needs is not None and needs[1]
    if needs is not None:
        ctx.geom, ctx.params = geom, params
        ctx.save_for_backward(cols if keep else None, w if needs[0] else None)
        ctx.ws = ws if keep else None
    if ws is not None and not keep:
        _give(ws)


def _conv_grads_part(g, cols, w, geom, params, needs, gxp, lo, hi):
    """Samples lo..hi of a convolution's backward, given their output gradient ``g``
    (hi - lo, O, ho, wo): the input gradient into ``gxp[lo:hi]``, and the part's own sums
    for dW and db."""
    (_, c, _, _), wshape, hp, wp, ho, wo = geom
    st, _, dil, groups = params
    gw = gb = None
    if gxp is not None:
        _conv_adjoint(g, w, groups, (hi - lo, c, hp, wp), st, dil, out=gxp[lo:hi])
    if needs[1]:
        gw = _weight_grad(g.reshape(hi - lo, groups, -1, ho * wo), cols[lo:hi], wshape)
    if len(needs) > 2 and needs[2]:
        gb = _bias_grad(g)
    return gw, gb


def _sum_parts(parts, k):
    """The sum of the k-th results of ``split``'s parts (None if the parts gave none)."""
    total = parts[0][k]
    if total is not None:
        for p in parts[1:]:
            total += p[k]
    return total


class Conv2d(Function):
    """2-D cross-correlation as one node: im2col, one batched matmul, bias.

    ``padding`` is (top, bottom, left, right) so that "same" padding may be uneven.
    The columns live in a pooled workspace while the node waits for its backward pass;
    ``_release`` (the engine's call once the node's saved values are done with) hands
    them back.
    """

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        params = (stride, padding, dilation, groups)
        geom, ws, cols = _conv_setup(x, w, *params)
        n, o, ho, wo = x.shape[0], w.shape[0], geom[4], geom[5]
        out = np.empty((n, o, ho, wo), np.result_type(x, w))

        def part(lo, hi):  # samples lo..hi: their columns, product and bias
            _conv_part(x, w, b, geom, params, ws, cols, lo, hi, out[lo:hi])

        split(part, n, _min_rows(geom))
        _conv_keep(ctx, geom, params, w, ws, cols)
        return out

    @staticmethod
    def backward(ctx, g):
        cols, w = ctx.saved_tensors
        (n, c, _, _), _, hp, wp, _, _ = ctx.geom
        needs = ctx.needs_input_grad
        gxp = np.empty((n, c, hp, wp), g.dtype) if needs[0] else None
        # Each thread's samples: their input gradient, their partial sums for dW and db.
        parts = split(lambda lo, hi: _conv_grads_part(g[lo:hi], cols, w, ctx.geom,
                                                      ctx.params, needs, gxp, lo, hi),
                      n, _min_rows(ctx.geom))
        gx = None if gxp is None else _crop(gxp, ctx.geom, ctx.params)
        return gx, _sum_parts(parts, 0), _sum_parts(parts, 1)

    def _release(self):
        ws = self.__dict__.get("ws")
        Function._release(self)
        if ws is not None:
            _give(ws)  # nothing refers to the columns any more


def _crop(gxp, geom, params):
    """A convolution's input gradient on its padded plane (N, C, hp, wp), cut to its
    input (N, C, h, w): a view."""
    (_, _, h, w), *_ = geom
    pad = params[1]
    return gxp[:, :, pad[0]:pad[0] + h, pad[2]:pad[2] + w]


def _weight_grad(gg, cols, wshape):
    """sum over samples of gg[n] @ cols[n].T, per group; gg is (N, G, O/G, L)."""
    n, groups, og, _ = gg.shape
    k = cols.shape[2]
    if n * groups * og * k * gg.itemsize <= (8 << 20):
        # Small products: one batched matmul and a sum beats transposing both operands.
        # cols @ gg.T (then transposed) runs ~15% faster in OpenBLAS than gg @ cols.T.
        per_sample = _take((n, groups, k, og), gg.dtype)
        np.matmul(cols, gg.transpose(0, 1, 3, 2), out=per_sample)
        gw = per_sample.sum(axis=0).transpose(0, 2, 1).reshape(wshape)
        _give(per_sample)
        return gw
    # Large ones: contract (sample, position) in one GEMM per group, no (N, O, K) temporary.
    gw = np.empty((groups, og, k), dtype=gg.dtype)
    for gi in range(groups):  # a loop over groups, not samples
        gw[gi] = np.tensordot(gg[:, gi], cols[:, gi], axes=([0, 2], [0, 2]))
    return gw.reshape(wshape)


class ConvTranspose2d(Function):
    """The adjoint of ``Conv2d`` with respect to its input, plus a bias.

    Forward is ``_conv_adjoint`` (the input gradient of a convolution); the backward
    pass is an ordinary convolution (im2col + matmul) of the gradient.
    """

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_padding, dilation, groups, out_hw):
        n, cin, h, wd = x.shape
        _, og, kh, kw = w.shape
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        hout, wout = out_hw
        # The canvas holds every scattered position and the cropped output region.
        hc = max((h - 1) * sh + dh * (kh - 1) + 1, ph + hout)
        wc = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + wout)
        canvas = _conv_adjoint(x, w, groups, (n, og * groups, hc, wc), stride, dilation)
        out = np.ascontiguousarray(canvas[:, :, ph:ph + hout, pw:pw + wout])
        if b is not None:
            out += b.reshape(-1, 1, 1)
        needs = _needs(ctx)
        if needs is not None:
            ctx.geom = (x.shape, w.shape, hc, wc, stride, padding, dilation, groups)
            ctx.save_for_backward(x if needs[1] else None, w if needs[0] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        (n, cin, h, wd), wshape, hc, wc, (sh, sw), (ph, pw), (dh, dw), groups = ctx.geom
        _, og, kh, kw = wshape
        needs = ctx.needs_input_grad
        gp = _canvas(g, ph, pw, hc, wc)
        gcols = _im2col(gp, kh, kw, sh, sw, dh, dw, h, wd)
        gcols = gcols.reshape(n, groups, og * kh * kw, h * wd)
        gx = gw = gb = None
        if needs[0]:
            wmat = w.reshape(groups, cin // groups, og * kh * kw)
            gx = np.matmul(wmat, gcols).reshape(n, cin, h, wd)
        if needs[1]:
            xr = x.reshape(n, groups, cin // groups, h * wd)
            gw = _weight_grad(xr, gcols, wshape)
        if len(needs) > 2 and needs[2]:
            gb = _bias_grad(g)
        return gx, gw, gb


class Unfold(Function):
    """im2col as an op (PyTorch's ``F.unfold``): (N, C, H, W) -> (N, C*kh*kw, L)."""

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride, ohw):
        (kh, kw), (dh, dw), (ph, pw), (sh, sw), (ho, wo) = kernel, dilation, padding, \
            stride, ohw
        n, c, h, w = x.shape
        xp = _canvas(x, ph, pw, h + 2 * ph, w + 2 * pw)
        ctx.geom = (x.shape, xp.shape, kernel, stride, dilation, padding, ohw)
        cols = _im2col(xp, kh, kw, sh, sw, dh, dw, ho, wo)
        # A 1x1 unfold is a view of the input; an op's output must own its memory.
        return cols.copy() if np.may_share_memory(cols, x) else cols

    @staticmethod
    def backward(ctx, g):
        (n, c, h, w), pshape, (kh, kw), st, dil, (ph, pw), (ho, wo) = ctx.geom
        gp = _col2im(g, pshape, kh, kw, *st, *dil, ho, wo)
        return gp[:, :, ph:ph + h, pw:pw + w]


class Fold(Function):
    """col2im as an op (PyTorch's ``F.fold``): sums overlapping blocks."""

    @staticmethod
    def forward(ctx, cols, c, out_hw, kernel, dilation, padding, stride, ohw):
        (kh, kw), (ph, pw), (ho, wo) = kernel, padding, ohw
        h, w = out_hw
        n = cols.shape[0]
        ctx.geom = (kernel, dilation, padding, stride, ohw, out_hw)
        gp = _col2im(cols, (n, c, h + 2 * ph, w + 2 * pw), kh, kw, *stride, *dilation, ho, wo)
        return np.ascontiguousarray(gp[:, :, ph:ph + h, pw:pw + w])

    @staticmethod
    def backward(ctx, g):
        (kh, kw), (dh, dw), (ph, pw), (sh, sw), (ho, wo), (h, w) = ctx.geom
        gp = _canvas(g, ph, pw, h + 2 * ph, w + 2 * pw)
        return _im2col(gp, kh, kw, sh, sw, dh, dw, ho, wo)


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
        canvas = _pool_canvas(x.shape, pool)
        nan = bool(np.isnan(x.max()))  # max propagates NaN; no temporary like isnan(x)
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
        (_, _, h, w), canvas, pool = ctx.geom
        ph, pw = pool[2]
        gp = _max_pool_grad(g, *ctx.idx, pool, canvas)
        return gp[:, :, ph:ph + h, pw:pw + w]


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


class _Stage:
    """One convolution -> max pooling (-> relu) stage of a ``Conv2dMaxPool2d`` node: its
    kernel, geometry and im2col workspace, its pooled output, and the pooling's winners
    once forward has run."""

    __slots__ = ("w", "b", "params", "pool", "relu", "geom", "ws", "cols", "canvas", "out",
                 "idx")

    def __init__(self, x, w, b, stride, padding, dilation, groups, pool, relu):
        self.w, self.b, self.pool, self.relu = w, b, pool, relu
        self.params = (stride, padding, dilation, groups)
        self.geom, self.ws, self.cols = _conv_setup(x, w, *self.params)
        n, o, ho, wo = x.shape[0], w.shape[0], self.geom[4], self.geom[5]
        self.canvas = _pool_canvas((n, o, ho, wo), pool)
        self.out = np.empty((n, o) + pool[4], np.result_type(x, w))
        # The pooling's row and column winners, for the whole batch: each part writes
        # its own samples' (no concatenating after the split).
        (kh, kw), (_, pooled_w) = pool[0], pool[4]
        self.idx = (_winners(self.out.shape, kh),
                    _winners((n, o, self.canvas[0], pooled_w), kw))

    def _won(self, lo, hi):
        """Samples lo..hi's (row, column) winners: views of ``idx``."""
        return tuple(None if a is None else a[lo:hi] for a in self.idx)

    def forward(self, x, lo, hi):
        """Samples lo..hi of ``x``: convolved, pooled into ``out``, winners into ``idx``."""
        geom = self.geom
        conv = _take((hi - lo, self.w.shape[0], geom[4], geom[5]), self.out.dtype)
        _conv_part(x, self.w, self.b, geom, self.params, self.ws, self.cols, lo, hi, conv)
        out = self.out[lo:hi]
        won = self._won(lo, hi)
        _max_pool(conv, self.pool, self.canvas, False, out=out, won=won)
        if out.size and np.isnan(out.max()):
            # A window held a NaN (its maximum is NaN): the winners again, NaN winning.
            # Checking the pooled maxima, not every input, reads a quarter as much.
            _max_pool(conv, self.pool, self.canvas, True, out=out, won=won)
        if self.relu:
            np.maximum(out, 0, out=out)
        _give(conv)

    def backward(self, g, needs, gxp, lo, hi):
        """Samples lo..hi, given the gradient ``g`` of their pooled output: through the
        relu and the pooling, then the convolution (see ``_conv_grads_part``)."""
        ho, wo = self.geom[4], self.geom[5]
        if self.relu:
            g = _relu_grad(g, self.out[lo:hi])
        gb = finite = None
        if self.canvas == (ho, wo) and needs[2]:
            # Every gradient goes into the convolution's output (the pooling has no
            # padding), so the bias gradient (their sum) is the sum before routing: 1/4
            # of the terms with 2x2 windows (the zeros between them add nothing). g is
            # finite when its sums are (an overflowing sum merely takes the exact, slower
            # routing): routing needs no check of its own, one GIL round trip fewer.
            gb, needs = _bias_grad(g), needs[:2]
            finite = bool(np.isfinite(gb.sum()))
        gc = _take((hi - lo, g.shape[1]) + self.canvas, g.dtype)
        _max_pool_grad(g, *self._won(lo, hi), self.pool, self.canvas, out=gc, finite=finite)
        ph, pw = self.pool[2]
        gconv = gc[:, :, ph:ph + ho, pw:pw + wo]
        if gconv.shape != gc.shape:
            gconv = np.ascontiguousarray(gconv)
        gw, gb_conv = _conv_grads_part(gconv, self.cols, self.w, self.geom, self.params, needs,
                                       gxp, lo, hi)
        _give(gc)
        return gw, gb if gb is not None else gb_conv


class Conv2dMaxPool2d(Function):
    """``max_pool2d(conv2d(x, w, b))`` as one node, for an ``nn.Conv2d`` followed by an
    ``nn.MaxPool2d`` in ``nn.Sequential``; several such stages in a row (LeNet's two) make
    one node too.

    Each thread's samples (see ``nabla.threads``) go through every stage in one go,
    convolved and pooled while their feature maps are still in cache, and the pooling
    runs on every core for free: alone it is too little work to be worth a thread start.
    One split for all the stages, not one per stage: a split costs 60-150 us on the
    2-core development machine. Backward routes each part's gradient back through the
    stages' pooling and convolution, last stage first. Every value and the input
    gradient are those of the separate ops, bit for bit; the weight and bias gradients
    add the same terms, in the order of the thread parts.

    Inputs: ``x``, the stages' kernels, then their biases (all or none), then ``stages``:
    per stage ``(stride, padding, dilation, groups, pool, relu)``, where ``pool`` is
    ``(kernel, stride, padding, dilation, (ho, wo))`` of the pooling, as ``MaxPool2d``
    takes them, and ``relu`` says that a ReLU follows the pooling (the same as before
    it: max and relu commute), applied in place.
    """

    @staticmethod
    def forward(ctx, x, *args):
        *arrays, stages = args
        k = len(stages)
        biases = arrays[k:] or (None,) * k
        chain, a = [], x
        for w, b, stage in zip(arrays[:k], biases, stages):
            chain.append(_Stage(a, w, b, *stage))
            a = chain[-1].out
        inputs = [x] + [st.out for st in chain[:-1]]

        def part(lo, hi):  # samples lo..hi through every stage
            for st, a in zip(chain, inputs):
                st.forward(a, lo, hi)

        split(part, x.shape[0], _min_rows(*[st.geom for st in chain]))
        needs = _needs(ctx)
        for j, st in enumerate(chain):
            if needs is None or not needs[1 + j]:  # no weight gradient: no columns kept
                if st.ws is not None:
                    _give(st.ws)
                st.ws = st.cols = None
        if needs is not None:
            ctx.chain = chain
            # A stage's kernel is saved (checked for in-place changes) where its input
            # gradient is wanted.
            saved = [st.w if want else None for st, want in zip(chain, _wanted(needs, k))]
            if chain[-1].relu:
                # relu's gradient mask is out > 0: saved, so an in-place change is caught.
                saved.append(chain[-1].out)
            ctx.save_for_backward(*saved)
        return chain[-1].out

    @staticmethod
    def backward(ctx, g):
        chain = ctx.chain
        k = len(chain)
        needs = ctx.needs_input_grad
        has_b = len(needs) > 1 + k
        wants = _wanted(needs, k)
        gxps = []
        for st, want in zip(chain, wants):
            (n, c, _, _), _, hp, wp, _, _ = st.geom
            gxps.append(np.empty((n, c, hp, wp), g.dtype) if want else None)

        def part(lo, hi):  # samples lo..hi back through every stage, last first
            found, gs = [(None, None)] * k, g[lo:hi]
            for j in reversed(range(k)):
                st = chain[j]
                wanted = (wants[j], needs[1 + j], has_b and needs[1 + k + j])
                found[j] = st.backward(gs, wanted, gxps[j], lo, hi)
                if not (j and wants[j]):
                    break  # nothing before this stage takes a gradient
                gs = _crop(gxps[j][lo:hi], st.geom, st.params)
            return found

        parts = split(part, g.shape[0], _min_rows(*[st.geom for st in chain]))
        gx = None if gxps[0] is None else _crop(gxps[0], chain[0].geom, chain[0].params)
        gws = [_sum_parts([p[j] for p in parts], 0) for j in range(k)]
        gbs = [_sum_parts([p[j] for p in parts], 1) for j in range(k)] if has_b else []
        return (gx, *gws, *gbs)

    def _release(self):
        chain = self.__dict__.get("chain")
        Function._release(self)
        for st in chain or ():
            if st.ws is not None:
                _give(st.ws)  # nothing refers to the columns any more


def _wanted(needs, k):
    """Whether each of a ``Conv2dMaxPool2d``'s k stages must give its input a gradient:
    when anything before it takes one (``needs``: x, the kernels, the biases if any)."""
    wants, want = [], needs[0]
    for j in range(k):
        wants.append(want)
        want = want or needs[1 + j] or (len(needs) > 1 + k and needs[1 + k + j])
    return wants


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


class Separable2d(Function):
    """``out[n, c] = A @ x[n, c] @ B.T``: any resampling that acts on rows and columns
    separately (adaptive average pooling, nearest and bilinear interpolation) as two
    matrix products, whose backward is two more."""

    @staticmethod
    def forward(ctx, x, a, b):
        n, c, h, w = x.shape
        ctx.mats = (a, b)
        t = (x.reshape(-1, w) @ b.T).reshape(n, c, h, -1)
        return np.matmul(a, t)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.mats
        n, c, ho, wo = g.shape
        t = np.matmul(a.T, g)
        return (t.reshape(-1, wo) @ b).reshape(n, c, a.shape[1], b.shape[1])


class RepeatInterleave2d(Function):
    """Nearest upsampling by integer factors: one broadcast copy; backward one sum."""

    @staticmethod
    def forward(ctx, x, fh, fw):
        n, c, h, w = x.shape
        ctx.f = (fh, fw)
        out = np.broadcast_to(x[:, :, :, None, :, None], (n, c, h, fh, w, fw))
        return out.reshape(n, c, h * fh, w * fw)

    @staticmethod
    def backward(ctx, g):
        fh, fw = ctx.f
        n, c, ho, wo = g.shape
        return g.reshape(n, c, ho // fh, fh, wo // fw, fw).sum(axis=(3, 5))


class IndexPad2d(Function):
    """Reflect/replicate/circular padding: gather rows and columns by index maps.

    Backward multiplies by the transposed one-hot maps, which sums every copy of an
    element back into it (one small matrix per axis, no scatter over elements).
    """

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.maps = (rows, cols, x.shape)
        return x[:, :, rows[:, None], cols[None, :]]

    @staticmethod
    def backward(ctx, g):
        rows, cols, shape = ctx.maps
        a = np.zeros((len(rows), shape[2]), dtype=g.dtype)
        a[np.arange(len(rows)), rows] = 1
        b = np.zeros((len(cols), shape[3]), dtype=g.dtype)
        b[np.arange(len(cols)), cols] = 1
        t = np.matmul(a.T, g)
        return (t.reshape(-1, g.shape[3]) @ b).reshape(shape)


def _pad_index(size, lo, hi, mode):
    i = np.arange(-lo, size + hi)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= size, 2 * (size - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    return i % size  # circular


def pad_mode(input, pad, mode) -> Tensor:
    """Pad the last two dims of an (N, C, H, W) input (or the last of an (N, C, L) one)
    by ``pad = (left, right[, top, bottom])`` with ``mode`` "reflect", "replicate" or
    "circular" (what ``padding_mode`` of the convolution layers uses).

    >>> import nabla
    >>> pad_mode(nabla.tensor([[[1.0, 2.0, 3.0]]]), (2, 1), "reflect").tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
    """
    fn = "pad_mode"
    x = _as(input, fn)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"{fn}: mode must be 'reflect', 'replicate' or 'circular', got {mode!r}")
    spatial = len(pad) // 2
    if len(pad) % 2 or spatial not in (1, 2) or x.ndim != spatial + 2:
        raise ShapeError(
            f"{fn}: expected (left, right) for an (N, C, L) input or (left, right, top, "
            f"bottom) for an (N, C, H, W) input, got pad={tuple(pad)} for input of size "
            f"{list(x.shape)}"
        )
    x4 = x.unsqueeze(2) if spatial == 1 else x
    h, w = x4.shape[2:]
    left, right = pad[0], pad[1]
    top, bottom = (pad[2], pad[3]) if spatial == 2 else (0, 0)
    for p, n in ((left, w), (right, w), (top, h), (bottom, h)):
        if p < 0 or (mode == "reflect" and p >= n) or (mode == "circular" and p > n):
            raise ShapeError(
                f"{fn}: padding {tuple(pad)} is invalid for {mode} padding of an input of "
                f"size {list(x.shape)}"
            )
    out = IndexPad2d.apply(x4, _pad_index(h, top, bottom, mode),
                           _pad_index(w, left, right, mode))
    return out.squeeze(2) if spatial == 1 else out


# ============================================================ functional wrappers
def _tuple(v, n, name, fn):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    try:
        t = tuple(int(i) for i in v)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an int or a tuple of {n} ints, got {v!r}") \
            from None
    if len(t) == 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{fn}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _as(x, fn):
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"{fn}: expected a Tensor, got None")
    return tensor(x)


def _check_float(fn, **tensors):
    ref = None
    for name, t in tensors.items():
        if t is None:
            continue
        if t._data.dtype.kind != "f":
            raise TypeError(f"{fn}: {name} must be a floating-point tensor, got {t.dtype}")
        if ref is None:
            ref = (name, t)
        elif t._data.dtype != ref[1]._data.dtype:
            raise RuntimeError(
                f"{fn}: {name} has dtype {t.dtype} but {ref[0]} has dtype {ref[1].dtype}; "
                "they must match"
            )


def _batched(x, ndim, fn, what):
    """Add the batch dimension to an unbatched input; say which one was expected."""
    if x.ndim == ndim:
        return x, False
    if x.ndim == ndim - 1:
        return x.unsqueeze(0), True
    raise ShapeError(
        f"{fn}: expected {ndim - 1}D (unbatched) or {ndim}D (batched) input {what}, but "
        f"got input of size {list(x.shape)}"
    )


def _conv_checks(fn, x, weight, bias, groups, transposed=False):
    x, weight = _as(x, fn), _as(weight, fn)
    bias = None if bias is None else _as(bias, fn)
    _check_float(fn, input=x, weight=weight, bias=bias)
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive integer, got {groups!r}")
    c = x.shape[1]
    if transposed:
        if c != weight.shape[0]:
            raise ShapeError(
                f"{fn}: weight of size {list(weight.shape)} expects input with "
                f"{weight.shape[0]} channels, but got input of size {list(x.shape)} "
                f"with {c} channels"
            )
        if c % groups:
            raise ShapeError(f"{fn}: {c} input channels are not divisible by groups={groups}")
        nout = weight.shape[1] * groups
    else:
        if weight.shape[1] * groups != c:
            raise ShapeError(
                f"{fn}: given groups={groups}, weight of size {list(weight.shape)}, expected "
                f"input{list(x.shape)} to have {weight.shape[1] * groups} channels, but got "
                f"{c} channels instead"
            )
        if weight.shape[0] % groups:
            raise ShapeError(
                f"{fn}: {weight.shape[0]} output channels (weight of size "
                f"{list(weight.shape)}) are not divisible by groups={groups}"
            )
        nout = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (nout,):
        raise ShapeError(
            f"{fn}: expected bias of shape ({nout},) for {nout} output channels, but got "
            f"bias of size {list(bias.shape)}"
        )
    return x, weight, bias


def _positive(fn, **vals):
    for name, v in vals.items():
        if any(i <= 0 for i in v):
            raise ValueError(f"{fn}: {name} must be positive, got {v}")


def _nonneg(fn, **vals):
    for name, v in vals.items():
        if any(i < 0 for i in v):
            raise ValueError(f"{fn}: {name} must be non-negative, got {v}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) over an (N, C, H, W) input.

    ``weight`` is (out_channels, in_channels/groups, kh, kw). ``padding`` is an int, a
    pair, or ``"valid"`` (none) / ``"same"`` (output as large as the input; stride 1).

    >>> import nabla
    >>> x = nabla.randn(2, 3, 8, 8)
    >>> conv2d(x, nabla.randn(4, 3, 3, 3), stride=2, padding=1).shape
    (2, 4, 4, 4)
    >>> conv2d(x, nabla.randn(6, 1, 3, 3), padding="same", groups=3).shape
    (2, 6, 8, 8)
    """
    x, weight, bias, args, unbatched = _conv2d_prepare(input, weight, bias, stride, padding,
                                                       dilation, groups)
    out = Conv2d.apply(x, weight, bias, *args)  # bias None: not an input
    return out.squeeze(0) if unbatched else out


def _conv2d_prepare(input, weight, bias, stride, padding, dilation, groups):
    """conv2d's checks: ``(x, weight, bias, (stride, padding, dilation, groups),
    unbatched)`` with ``padding`` as (top, bottom, left, right)."""
    fn = "conv2d"
    input = _as(input, fn)
    weight = _as(weight, fn)
    if weight.ndim != 4:
        raise ShapeError(
            f"{fn}: expected a 4D weight (out_channels, in_channels/groups, kH, kW), but got "
            f"weight of size {list(weight.shape)}"
        )
    x, unbatched = _batched(input, 4, fn, "(N, C, H, W)")
    x, weight, bias = _conv_checks(fn, x, weight, bias, groups)
    st = _tuple(stride, 2, "stride", fn)
    dil = _tuple(dilation, 2, "dilation", fn)
    _positive(fn, stride=st, dilation=dil)
    kh, kw = weight.shape[2:]
    pad = _conv_padding(fn, padding, st, dil, (kh, kw))
    h, w = x.shape[2] + pad[0] + pad[1], x.shape[3] + pad[2] + pad[3]
    eh, ew = dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1
    if h < eh or w < ew:
        raise ShapeError(
            f"{fn}: calculated padded input size per channel: ({h} x {w}). Kernel size: "
            f"({eh} x {ew}). Kernel size can't be greater than actual input size "
            f"(input of size {list(input.shape)}, weight of size {list(weight.shape)})"
        )
    return x, weight, bias, (st, pad, dil, int(groups)), unbatched


def conv2d_max_pool2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                      pool_kernel=2, pool_stride=None, pool_padding=0, pool_dilation=1,
                      ceil_mode=False, relu=False) -> Tensor:
    """``max_pool2d(conv2d(input, weight, bias, ...), pool_kernel, ...)`` as one node
    (``Conv2dMaxPool2d``): what ``nn.Sequential`` runs for a Conv2d then a MaxPool2d.
    With ``relu``, the ReLU of that (equal to pooling the ReLU of the convolution).

    >>> import nabla
    >>> x, w = nabla.randn(2, 1, 8, 8), nabla.randn(3, 1, 3, 3)
    >>> y = conv2d_max_pool2d(x, w, padding=1, pool_kernel=2)
    >>> y.shape, bool((y == max_pool2d(conv2d(x, w, padding=1), 2)).all())
    ((2, 3, 4, 4), True)
    """
    input = _as(input, "conv2d")
    if input.ndim == 3:  # unbatched, rare: the ops as they are
        out = max_pool2d(conv2d(input, weight, bias, stride, padding, dilation, groups),
                         pool_kernel, pool_stride, pool_padding, pool_dilation, ceil_mode)
        return out.relu() if relu else out
    stage = (weight, bias, stride, padding, dilation, groups, pool_kernel, pool_stride,
             pool_padding, pool_dilation, ceil_mode, relu)
    return _conv_max_pool_run(input, [stage])[0]


def _conv_max_pool_run(input, stages):
    """Consecutive ``conv2d -> max_pool2d`` stages (each with a ReLU after it where asked)
    over a batched input, as one ``Conv2dMaxPool2d`` node: ``(output, how many of the
    stages it ran)``.

    A stage is ``(weight, bias, stride, padding, dilation, groups, pool_kernel,
    pool_stride, pool_padding, pool_dilation, ceil_mode, relu)``. The first is checked
    as ``conv2d`` and ``max_pool2d`` check their arguments. A later one joins only when
    the same checks pass for it and it has a bias exactly when the first has (the node's
    inputs are x, the kernels, then the biases); otherwise the run stops before it, and
    the caller runs it on its own, where its own checks name any problem.

    The checks depend only on shapes, dtypes and the stages' constants, and a network
    repeats them every step: their outcome is kept, keyed by exactly those (~70 us a
    LeNet step inside training, where the checks' Python runs on cold caches).
    """
    key = _run_key(input, stages)
    consts = None if key is None else _RUNS_CHECKED.get(key)
    if consts is None:
        first, weights, biases, consts = _check_stages(input, stages)
        if key is not None and first is input:
            if len(_RUNS_CHECKED) >= 64:  # many configurations: start over, not grow
                _RUNS_CHECKED.clear()
            _RUNS_CHECKED[key] = consts
    else:  # this configuration passed before: its Tensors go in as they are
        first, k = input, len(consts)
        weights = [stage[0] for stage in stages[:k]]
        biases = [stage[1] for stage in stages[:k]] if stages[0][1] is not None else []
    return Conv2dMaxPool2d.apply(first, *weights, *biases, consts), len(consts)


def _check_stages(input, stages):
    """``_conv_max_pool_run``'s checks: ``(x, weights, biases, constants)`` of the stages
    that join (``biases`` empty where the first stage has none)."""
    x = first = input
    weights, biases, consts, shape = [], [], [], None
    for j, (weight, bias, st, pad, dil, groups, pk, ps, pp, pd, ceil, relu) in \
            enumerate(stages):
        if j:
            # This stage is checked against the last one's output, which does not exist
            # yet: a stand-in of its shape and dtype (one broadcast element, no memory).
            x = Tensor._wrap(np.broadcast_to(np.zeros((), weights[-1]._data.dtype), shape))
        try:
            x, weight, bias, args, _ = _conv2d_prepare(x, weight, bias, st, pad, dil, groups)
            _, _, ho, wo = _conv_size(x.shape, weight.shape, *args[:3])
            pool = _pool_args("max_pool2d", (x.shape[0], weight.shape[0], ho, wo), pk, ps,
                              pp, pd, ceil)
        except (ShapeError, TypeError, ValueError, RuntimeError):
            if j == 0:
                raise
            break
        if j and (bias is None) != (biases[0] is None):
            break
        if j == 0:
            first = x
        weights.append(weight)
        biases.append(bias)
        consts.append(args + (pool, bool(relu)))
        shape = (x.shape[0], weight.shape[0]) + pool[4]  # this stage's output
    return first, weights, biases if biases[0] is not None else [], tuple(consts)


_RUNS_CHECKED: dict = {}  # _run_key -> the stages' checked constants


def _run_key(input, stages):
    """What ``_conv_max_pool_run``'s checks read, as a dict key; None where an argument
    is not a Tensor (it is converted, and checked, every time) or a constant unhashable."""
    if not isinstance(input, Tensor):
        return None
    key = [input._data.shape, input._data.dtype]
    for weight, bias, *constants in stages:
        if not isinstance(weight, Tensor) or not (bias is None or isinstance(bias, Tensor)):
            return None
        key += [weight._data.shape, weight._data.dtype,
                None if bias is None else (bias._data.shape, bias._data.dtype), *constants]
    key = tuple(key)
    try:
        hash(key)
    except TypeError:  # a list given for a stride, say
        return None
    return key


def _conv_padding(fn, padding, stride, dilation, kernel):
    """(top, bottom, left, right) from an int, a pair, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{fn}: padding must be 'valid', 'same' or ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions")
        out = []
        for d, k in zip(dilation, kernel):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]  # PyTorch puts the odd one at the end
        return tuple(out)
    p = _tuple(padding, len(kernel), "padding", fn)
    _nonneg(fn, padding=p)
    return tuple(v for v in p for _ in (0, 1))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution over an (N, C, L) input; ``weight`` is (out, in/groups, k).

    >>> import nabla
    >>> conv1d(nabla.randn(2, 3, 10), nabla.randn(5, 3, 3), padding=1).shape
    (2, 5, 10)
    """
    fn = "conv1d"
    input, weight = _as(input, fn), _as(weight, fn)
    if weight.ndim != 3:
        raise ShapeError(
            f"{fn}: expected a 3D weight (out_channels, in_channels/groups, kW), but got "
            f"weight of size {list(weight.shape)}"
        )
    x, unbatched = _batched(input, 3, fn, "(N, C, L)")
    if isinstance(padding, str):
        pad = padding
    else:
        pad = (0, _tuple(padding, 1, "padding", fn)[0])
    out = conv2d(
        x.unsqueeze(2), weight.unsqueeze(2), bias,
        (1, _tuple(stride, 1, "stride", fn)[0]), pad,
        (1, _tuple(dilation, 1, "dilation", fn)[0]), groups,
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1) -> Tensor:
    """Transposed 2-D convolution (the gradient of ``conv2d`` with respect to its input).

    ``weight`` is (in_channels, out_channels/groups, kh, kw). The output size is
    ``(H - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.

    >>> import nabla
    >>> x = nabla.randn(1, 4, 5, 5)
    >>> conv_transpose2d(x, nabla.randn(4, 2, 3, 3), stride=2, padding=1,
    ...                  output_padding=1).shape
    (1, 2, 10, 10)
    """
    fn = "conv_transpose2d"
    input, weight = _as(input, fn), _as(weight, fn)
    if weight.ndim != 4:
        raise ShapeError(
            f"{fn}: expected a 4D weight (in_channels, out_channels/groups, kH, kW), but got "
            f"weight of size {list(weight.shape)}"
        )
    x, unbatched = _batched(input, 4, fn, "(N, C, H, W)")
    x, weight, bias = _conv_checks(fn, x, weight, bias, groups, transposed=True)
    st = _tuple(stride, 2, "stride", fn)
    pad = _tuple(padding, 2, "padding", fn)
    opad = _tuple(output_padding, 2, "output_padding", fn)
    dil = _tuple(dilation, 2, "dilation", fn)
    _positive(fn, stride=st, dilation=dil)
    _nonneg(fn, padding=pad, output_padding=opad)
    if any(op >= max(s, d) for op, s, d in zip(opad, st, dil)):
        raise ValueError(
            f"{fn}: output_padding {opad} must be smaller than either stride {st} or "
            f"dilation {dil}"
        )
    out_hw = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, s, p, d, k, op in zip(x.shape[2:], st, pad, dil, weight.shape[2:], opad)
    )
    if min(out_hw) < 1:
        raise ShapeError(
            f"{fn}: input of size {list(input.shape)} with weight of size "
            f"{list(weight.shape)} gives a non-positive output size {out_hw}"
        )
    args = (st, pad, opad, dil, int(groups), out_hw)
    out = ConvTranspose2d.apply(x, weight, bias, *args) if bias is not None \
        else ConvTranspose2d.apply(x, weight, None, *args)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1) -> Tensor:
    """Transposed 1-D convolution over (N, C, L); ``weight`` is (in, out/groups, k).

    >>> import nabla
    >>> conv_transpose1d(nabla.randn(1, 2, 4), nabla.randn(2, 3, 3), stride=2).shape
    (1, 3, 9)
    """
    fn = "conv_transpose1d"
    input, weight = _as(input, fn), _as(weight, fn)
    if weight.ndim != 3:
        raise ShapeError(
            f"{fn}: expected a 3D weight (in_channels, out_channels/groups, kW), but got "
            f"weight of size {list(weight.shape)}"
        )
    x, unbatched = _batched(input, 3, fn, "(N, C, L)")

    def one(v, name):
        return (0 if name in ("padding", "output_padding") else 1, _tuple(v, 1, name, fn)[0])

    out = conv_transpose2d(
        x.unsqueeze(2), weight.unsqueeze(2), bias, one(stride, "stride"),
        one(padding, "padding"), one(output_padding, "output_padding"), groups,
        one(dilation, "dilation"),
    ).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _blocks(fn, hw, kernel, dilation, padding, stride):
    out = tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, d, p, s in zip(hw, kernel, dilation, padding, stride)
    )
    if min(out) < 1:
        raise ShapeError(
            f"{fn}: input spatial size {tuple(hw)} with padding {padding} is too small for "
            f"kernel_size {kernel} with dilation {dilation}"
        )
    return out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks (im2col): (N, C, H, W) -> (N, C*kh*kw, L), as
    ``torch.nn.functional.unfold``.

    >>> import nabla
    >>> unfold(nabla.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)[0].tolist()
    [[0.0, 2.0, 8.0, 10.0], [1.0, 3.0, 9.0, 11.0], [4.0, 6.0, 12.0, 14.0], [5.0, 7.0, 13.0, 15.0]]
    """
    fn = "unfold"
    x, unbatched = _batched(_as(input, fn), 4, fn, "(N, C, H, W)")
    k = _tuple(kernel_size, 2, "kernel_size", fn)
    d = _tuple(dilation, 2, "dilation", fn)
    p = _tuple(padding, 2, "padding", fn)
    s = _tuple(stride, 2, "stride", fn)
    _positive(fn, kernel_size=k, dilation=d, stride=s)
    _nonneg(fn, padding=p)
    ohw = _blocks(fn, x.shape[2:], k, d, p, s)
    out = Unfold.apply(x, k, d, p, s, ohw)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks back into an image (col2im), as ``torch.nn.functional.fold``:
    (N, C*kh*kw, L) -> (N, C, H, W). ``fold(unfold(x))`` multiplies each pixel by the
    number of blocks that cover it.

    >>> import nabla
    >>> x = nabla.ones(1, 1, 3, 3)
    >>> fold(unfold(x, 2), (3, 3), 2)[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    fn = "fold"
    x, unbatched = _batched(_as(input, fn), 3, fn, "(N, C*kh*kw, L)")
    out_hw = _tuple(output_size, 2, "output_size", fn)
    k = _tuple(kernel_size, 2, "kernel_size", fn)
    d = _tuple(dilation, 2, "dilation", fn)
    p = _tuple(padding, 2, "padding", fn)
    s = _tuple(stride, 2, "stride", fn)
    _positive(fn, kernel_size=k, dilation=d, stride=s, output_size=out_hw)
    _nonneg(fn, padding=p)
    kk = k[0] * k[1]
    if x.shape[1] % kk:
        raise ShapeError(
            f"{fn}: expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size ({kk}), but got input of size {list(input.shape)}"
        )
    ohw = _blocks(fn, out_hw, k, d, p, s)
    if x.shape[2] != ohw[0] * ohw[1]:
        raise ShapeError(
            f"{fn}: given output_size={out_hw}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension 2 to match the calculated number "
            f"of sliding blocks {ohw[0]} * {ohw[1]} = {ohw[0] * ohw[1]}, but got input of "
            f"size {list(input.shape)}"
        )
    out = Fold.apply(x, x.shape[1] // kk, out_hw, k, d, p, s, ohw)
    return out.squeeze(0) if unbatched else out


# ------------------------------------------------------------------ pooling wrappers
def _pool_out(fn, size, k, s, p, d, ceil_mode, shape):
    """PyTorch's pooling output size, with its checks, along one axis."""
    if p > (d * (k - 1) + 1) // 2:
        raise ValueError(
            f"{fn}: pad should be at most half of effective kernel size, but got pad={p}, "
            f"kernel_size={k} and dilation={d}"
        )
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    if out < 1:
        raise ShapeError(
            f"{fn}: input of size {list(shape)} is too small: kernel_size {k} with "
            f"padding {p} and dilation {d} gives an output size of {out}"
        )
    return out


def _pool_args(fn, shape, kernel_size, stride, padding, dilation, ceil_mode):
    """A 2-D pooling's checked ``(kernel, stride, padding, dilation, (ho, wo))`` for an
    input of ``shape``."""
    k = _tuple(kernel_size, 2, "kernel_size", fn)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, 2, "stride", fn)
    p = _tuple(padding, 2, "padding", fn)
    d = _tuple(dilation, 2, "dilation", fn)
    _positive(fn, kernel_size=k, stride=s, dilation=d)
    _nonneg(fn, padding=p)
    ohw = tuple(
        _pool_out(fn, n, k[i], s[i], p[i], d[i], ceil_mode, shape)
        for i, n in enumerate(shape[2:])
    )
    return k, s, p, d, ohw


def _pool_input(fn, input, ndim):
    x = _as(input, fn)
    x, unbatched = _batched(x, ndim, fn, "(N, C, H, W)" if ndim == 4 else "(N, C, L)")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype}")
    return x, unbatched


def _unbatch(out, unbatched, *dims):
    if isinstance(out, tuple):
        return tuple(_unbatch(o, unbatched, *dims) for o in out)
    for d in dims:
        out = out.squeeze(d)
    return out.squeeze(0) if unbatched else out


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


def _output_size(fn, output_size, hw):
    if isinstance(output_size, numbers.Integral) or output_size is None:
        output_size = (output_size,) * len(hw)
    if len(output_size) != len(hw):
        raise ValueError(f"{fn}: output_size must have {len(hw)} elements, got {output_size}")
    out = tuple(n if o is None else int(o) for o, n in zip(output_size, hw))
    if min(out) < 1:
        raise ValueError(f"{fn}: output_size must be positive, got {output_size}")
    return out


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


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average pooling of an (N, C, L) input to a fixed length.

    >>> import nabla
    >>> adaptive_avg_pool1d(nabla.tensor([[[1.0, 2.0, 3.0]]]), 2).tolist()
    [[[1.5, 2.5]]]
    """
    fn = "adaptive_avg_pool1d"
    x, unbatched = _pool_input(fn, input, 3)
    (lo,) = _output_size(fn, (output_size,) if not isinstance(output_size, tuple)
                         else output_size, x.shape[2:])
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
    (lo,) = _output_size(fn, (output_size,) if not isinstance(output_size, tuple)
                         else output_size, x.shape[2:])
    out = adaptive_max_pool2d(x.unsqueeze(2), (1, lo), return_indices)
    return _unbatch(out, unbatched, 2)


# ---------------------------------------------------------------- interpolation
def _nearest_matrix(size, out, scale, exact, dtype):
    """One-hot rows: output i copies input ``floor(i * scale)`` (PyTorch's float32
    arithmetic, so sizes that do not divide evenly pick the same pixels)."""
    i = np.arange(out, dtype=np.float32)
    src = np.floor((i + np.float32(0.5)) * scale) if exact else np.floor(i * scale)
    src = np.minimum(src.astype(np.int64), size - 1)
    m = np.zeros((out, size), dtype=dtype)
    m[np.arange(out), src] = 1
    return m


def _linear_matrix(size, out, scale, align_corners, dtype):
    """Rows of two weights each: PyTorch's (bi)linear source coordinates."""
    i = np.arange(out, dtype=np.float64)
    if align_corners:
        src = i * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        src = np.maximum((i + 0.5) * float(scale) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    frac = src - lo
    m = np.zeros((out, size), dtype=np.float64)
    np.add.at(m, (np.arange(out), lo), 1 - frac)  # out x 2 entries, not every element
    np.add.at(m, (np.arange(out), hi), frac)
    return m.astype(dtype)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) input by ``size`` or ``scale_factor``.

    Modes: ``"nearest"`` (PyTorch's legacy nearest), ``"nearest-exact"``, and
    ``"linear"``/``"bilinear"`` (with ``align_corners``).

    >>> import nabla
    >>> x = nabla.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> interpolate(x, scale_factor=2)[0, 0].tolist()
    [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [3.0, 3.0, 4.0, 4.0]]
    >>> interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)[0, 0, 1].tolist()
    [2.0, 2.5, 3.0]
    """
    fn = "interpolate"
    x = _as(input, fn)
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"{fn}: expected a 3D (N, C, L) or 4D (N, C, H, W) input, but got input of size "
            f"{list(x.shape)}"
        )
    if x._data.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype}")
    spatial = x.ndim - 2
    modes = ("nearest", "nearest-exact", "linear", "bilinear")
    if mode not in modes:
        raise NotImplementedError(f"{fn}: mode {mode!r} is not supported; use one of {modes}")
    if mode in ("linear", "bilinear") and mode != ("linear", "bilinear")[spatial - 1]:
        raise ValueError(f"{fn}: mode {mode!r} needs a {mode == 'linear' and 3 or 4}D input")
    if align_corners is not None and mode.startswith("nearest"):
        raise ValueError(
            f"{fn}: align_corners option can only be set with the interpolating modes: "
            "linear | bilinear"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: exactly one of size and scale_factor must be given")
    hw = x.shape[2:]
    # Source coordinates scale by input/output size, or by 1/scale_factor as given
    # unless asked to recompute it from the sizes. PyTorch computes nearest indices in
    # float32 and linear weights in the input's precision; so do we.
    f32 = np.float32 if mode.startswith("nearest") else np.float64
    if size is not None:
        out = _output_size(fn, size, hw)
        scales = [f32(n) / f32(o) for n, o in zip(hw, out)]
    else:
        sf = (scale_factor,) * spatial if isinstance(scale_factor, numbers.Number) \
            else tuple(scale_factor)
        if len(sf) != spatial or min(sf) <= 0:
            raise ValueError(f"{fn}: scale_factor must be {spatial} positive numbers, got "
                             f"{scale_factor}")
        out = tuple(int(math.floor(n * f)) for n, f in zip(hw, sf))
        if min(out) < 1:
            raise ShapeError(f"{fn}: input of size {list(x.shape)} scaled by {scale_factor} "
                             "is empty")
        scales = [f32(n) / f32(o) if recompute_scale_factor else f32(1.0 / f)
                  for n, o, f in zip(hw, out, sf)]
    if spatial == 1:
        x4, hw4, out4, scales4 = x.unsqueeze(2), (1,) + hw, (1,) + out, [f32(1)] + scales
    else:
        x4, hw4, out4, scales4 = x, hw, out, scales
    if mode == "nearest" and all(o % n == 0 for n, o in zip(hw4, out4)) \
            and all(s == f32(n) / f32(o) for s, n, o in zip(scales4, hw4, out4)):
        y = RepeatInterleave2d.apply(x4, out4[0] // hw4[0], out4[1] // hw4[1])
    else:
        dt = x._data.dtype
        if mode.startswith("nearest"):
            mats = [_nearest_matrix(n, o, s, mode == "nearest-exact", dt)
                    for n, o, s in zip(hw4, out4, scales4)]
        else:
            mats = [_linear_matrix(n, o, s, bool(align_corners), dt)
                    for n, o, s in zip(hw4, out4, scales4)]
        y = Separable2d.apply(x4, *mats)
    return y.squeeze(2) if spatial == 1 else y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Alias of ``interpolate`` (PyTorch's deprecated name).

    >>> import nabla
    >>> upsample(nabla.ones(1, 1, 2), scale_factor=3).shape
    (1, 1, 6)
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Nearest-neighbour upsampling (``interpolate(..., mode="nearest")``)."""
    return interpolate(input, size, scale_factor, "nearest")


# ---------------------------------------------------------------------- dropout
def _channel_dropout(fn, input, p, training, generator, batched_ndim):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _as(input, fn)
    if x.ndim not in (batched_ndim - 1, batched_ndim):
        raise ShapeError(
            f"{fn}: expected {batched_ndim - 1}D or {batched_ndim}D input, but got input of "
            f"size {list(x.shape)}"
        )
    if not training or p == 0.0:
        return x
    # One draw per (sample, channel): whole feature maps are kept or zeroed together.
    # dropout2d reads a 3-D input as (N, C, L), as PyTorch does; dropout1d reads a 2-D
    # one as an unbatched (C, L).
    lead = 2 if x.ndim == batched_ndim or batched_ndim == 4 else 1
    shape = x.shape[:lead] + (1,) * (x.ndim - lead)
    dt = x._data.dtype
    if p == 1.0:
        mask = np.zeros(shape, dtype=dt)
    else:
        keep = _rng(generator).random(shape) >= p
        mask = keep.astype(dt) * dt.type(1.0 / (1.0 - p))
    return x * Tensor._wrap(mask)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None) -> Tensor:
    """Zero whole channels of an (N, C, H, W) input with probability ``p`` and scale the
    rest by ``1/(1-p)``; the identity when not training. A 3-D input is read as
    (N, C, L), as in PyTorch.

    >>> import nabla
    >>> y = dropout2d(nabla.ones(2, 8, 3, 3), 0.5, generator=nabla.Generator().manual_seed(0))
    >>> sorted(set(y.flatten().tolist()))
    [0.0, 2.0]
    >>> bool((y.sum(dim=(2, 3)) % 18 == 0).all())
    True
    """
    return _channel_dropout("dropout2d", input, p, training, generator, 4)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None) -> Tensor:
    """Zero whole channels of an (N, C, L) (or unbatched (C, L)) input (see
    ``dropout2d``).

    >>> import nabla
    >>> dropout1d(nabla.ones(2, 4, 5), 0.5, training=False).shape
    (2, 4, 5)
    """
    return _channel_dropout("dropout1d", input, p, training, generator, 3)
