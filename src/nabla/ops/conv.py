"""Convolution and its adjoint: im2col kernels, their thread splitting, unfold/fold.

Every 2-D op here works on NCHW arrays; the 1-D ops reshape to a height of 1.

Convolution is im2col + one matrix product. ``as_strided`` gives a view of every
receptive field of the padded input (no copy), one copy lays the fields out as the
columns of a matrix, and one ``matmul`` (batched over samples and groups) multiplies
them by the flattened kernels. The input gradient (and ``conv_transpose2d``'s forward)
is convolution's adjoint: with unit column stride, one matmul over column-shifted views
of the gradient and one add per kernel row; otherwise the transposed product and a
strided add per kernel offset (col2im); never ``np.add.at`` over every element.
No Python loop runs over samples or pixels; a convolution with many columns runs over
chunks of a few samples (see ``_STREAM_MIN``). Big temporaries (columns, their
gradients, padded copies) come from the per-thread workspace pool (``nabla.workspace``);
a batch is split over threads by ``nabla.threads.split``.

>>> import nabla
>>> x = nabla.ones(1, 1, 4, 4)
>>> w = nabla.ones(2, 1, 3, 3)
>>> conv2d(x, w, padding=1)[0, 0].tolist()
[[4.0, 6.0, 6.0, 4.0], [6.0, 9.0, 9.0, 6.0], [6.0, 9.0, 9.0, 6.0], [4.0, 6.0, 6.0, 4.0]]
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ..autograd import ones_vector as _ones
from ..tensor import ShapeError, Tensor
from ..threads import _sum_parts, split
from ..workspace import _give, _kept, _kept_zeros, _take
from . import winograd
from ._checks import (
    _as,
    _batched,
    _blocks,
    _conv2d_prepare,
    _conv_checks,
    _nonneg,
    _positive,
    _tuple,
)

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
]


# Batch-parallel kernels split a batch into parts of at least this many samples, and of
# at least this many multiply-adds: below that, starting a thread (~50 us on the 2-core
# development machine) costs more than the part saves. Measured there, convolution
# forward + backward: 64 samples of the 8x8 digits (9,600 multiply-adds each) took
# 293 us on one thread and 456 us on two; 16 MNIST samples (117,600 each) 546 and 588 us;
# 64 MNIST samples 2,268 and 1,522 us.
_MIN_ROWS = 8
_MIN_PART_MACS = 2_000_000

# A convolution whose columns for the whole batch would pass _STREAM_MIN bytes runs in
# chunks of samples of about _STREAM_CHUNK bytes of columns: each chunk's columns are
# laid out in a small buffer and multiplied while still in cache, and backward lays
# them out again rather than keep them. With the MNIST CNN's second layer (42 MB of
# columns for 64 samples) each thread streamed its part from memory, and the two
# threads slowed each other: 2 threads gave 1.37x of one. Chunked (measured on the
# 2-core Xeon, 2 threads): forward 11.1 -> 8.5-9.4 ms, backward 24.1 -> 17.7-18.8 ms
# (chunks of 2 to 8 samples alike), and 42 MB less kept between forward and backward.
_STREAM_MIN = 8 << 20
_STREAM_CHUNK = 3 << 20


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

    With unit row stride and narrow outputs, in two copies: first the kw column shifts
    of every row (N, C, kw, H, wo), then each (kernel row, column shift) block of ho
    rows, which is contiguous there. Both copies run long inner loops, where the direct
    copy of the 6-D view runs one short loop (wo elements) per output row: 1.5x faster
    for LeNet's second layer (wo = 10). From wo = 16 on the direct copy's loops are long
    enough, and it writes each column once, not twice: 1.4x faster for the MNIST CNN's
    second layer (wo = 24; 32 samples 1.15 ms against 1.63).
    """
    n, c, h, _ = xp.shape
    if sh != 1 or kh == 1 or kw == 1 or wo >= 16:
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


def _conv_geom(xshape, wshape, params):
    """A convolution's geometry: ``(x shape, w shape, hp, wp, ho, wo)``."""
    stride, padding, dilation, _ = params
    return (xshape, wshape) + _conv_size(xshape, wshape, stride, padding, dilation)


def _ws_shape(geom):
    """One sample's im2col workspace: (C, kh, kw, ho, wo)."""
    (_, c, _, _), (_, _, kh, kw), _, _, ho, wo = geom
    return (c, kh, kw, ho, wo)


def _as_cols(ws, groups):
    """The columns ``(N, groups, K, L)`` that an im2col workspace holds."""
    n, c, kh, kw, ho, wo = ws.shape
    return ws.reshape(n, groups, c // groups * kh * kw, ho * wo)


def _pointwise(geom, params):
    """Whether the convolution is 1x1, unit stride, unpadded: its input is its columns."""
    (_, _, h, wd), (_, _, kh, kw), hp, wp, _, _ = geom
    return kh == kw == params[0][0] == params[0][1] == 1 and (hp, wp) == (h, wd)


def _conv_workspace(x, geom, params):
    """The im2col workspace for the whole batch (None for a 1x1 convolution, whose input
    is the matrix) and its ``(N, groups, K, L)`` view, the columns."""
    n, c, h, wd = geom[0]
    groups = params[3]
    if _pointwise(geom, params):
        return None, x.reshape(n, groups, c // groups, h * wd)
    ws = _take((n,) + _ws_shape(geom), x.dtype)
    return ws, _as_cols(ws, groups)


def _conv_setup(x, w, stride, padding, dilation, groups):
    """A convolution's geometry ``(x shape, w shape, hp, wp, ho, wo)``, and the im2col
    workspace with its columns (see ``_conv_workspace``)."""
    params = (stride, padding, dilation, groups)
    geom = _conv_geom(x.shape, w.shape, params)
    return (geom,) + _conv_workspace(x, geom, params)


def _fill_cols(x, geom, params, ws, lo, hi):
    """Lay out the receptive fields of samples lo..hi of ``x`` in ``ws``, their im2col
    workspace (hi - lo samples)."""
    _, (_, _, kh, kw), hp, wp, ho, wo = geom
    (sh, sw), (pt, _, pl, _), (dh, dw), _ = params
    xs = x[lo:hi]
    xp = _canvas(xs, pt, pl, hp, wp, pooled=True)
    _im2col_into(ws, xp, kh, kw, sh, sw, dh, dw, ho, wo)
    if xp is not xs:
        _give(xp, _canvas_kind(xs, pt, pl, 0.0))


def _conv_part(x, w, b, geom, params, ws, cols, lo, hi, res):
    """The convolution of samples lo..hi into ``res``: their columns, product and bias.
    ``ws`` and ``cols`` are those samples' workspace and columns (``ws`` None: ``cols``
    is the input itself, a 1x1 convolution's)."""
    o = geom[1][0]
    groups = params[3]
    if ws is not None:
        _fill_cols(x, geom, params, ws, lo, hi)
    np.matmul(w.reshape(groups, o // groups, -1), cols,
              out=res.reshape(hi - lo, groups, o // groups, geom[4] * geom[5]))
    if b is not None:
        res += b.reshape(o, 1, 1)


def _stream_chunk(n, geom, params, itemsize):
    """Samples per chunk for a convolution streamed in chunks (see ``Conv2d``), or 0
    when its columns are kept whole: a 1x1 convolution's (the input itself), or a whole
    batch's of at most ``_STREAM_MIN`` bytes."""
    (_, c, _, _), (_, _, kh, kw), _, _, ho, wo = geom
    if _pointwise(geom, params):
        return 0
    per_sample = c * kh * kw * ho * wo * itemsize
    if n * per_sample <= _STREAM_MIN:
        return 0
    return max(1, _STREAM_CHUNK // per_sample)


def _streamed(fn, ws_shape, dtype, lo, hi, chunk):
    """``fn(ws, s, e)`` for the chunks s..e of samples lo..hi, ``ws`` a workspace for
    the chunk's columns (e - s samples), taken once for all of them."""
    buf = _take((min(chunk, hi - lo),) + ws_shape, dtype)
    results = []
    for s in range(lo, hi, chunk):  # a loop over chunks of samples
        e = min(s + chunk, hi)
        results.append(fn(buf[:e - s], s, e))
    _give(buf)
    return results


def _conv_keep(ctx, geom, params, w, ws, kept, chunk):
    """Save what a convolution's backward uses: for dW ``kept``, the columns (or, when
    streamed in chunks of ``chunk`` samples, the input to lay them out from again), for
    dX the kernel. A workspace ``ws`` nothing will use is handed back."""
    needs = _needs(ctx)
    keep = needs is not None and needs[1]
    if needs is not None:
        ctx.geom, ctx.params, ctx.chunk = geom, params, chunk
        ctx.save_for_backward(kept if keep else None, w if needs[0] else None)
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
        gw = _weight_grad(g.reshape(hi - lo, groups, wshape[0] // groups, ho * wo),
                          cols[lo:hi], wshape)
    if len(needs) > 2 and needs[2]:
        gb = _bias_grad(g)
    return gw, gb


class Conv2d(Function):
    """2-D cross-correlation as one node: im2col, one batched matmul, bias.

    ``padding`` is (top, bottom, left, right) so that "same" padding may be uneven.
    The columns live in a pooled workspace while the node waits for its backward pass;
    ``_release`` (the engine's call once the node's saved values are done with) hands
    them back. A convolution with many columns is streamed in chunks of samples instead
    (see ``_STREAM_MIN``): backward keeps the input and lays each chunk's columns out
    again.
    """

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        params = (stride, padding, dilation, groups)
        n, o = x.shape[0], w.shape[0]
        geom = _conv_geom(x.shape, w.shape, params)
        if winograd.applies(x, w, params):
            out, state = winograd.forward(winograd.kernels(), x, w, b, geom[4:], params,
                                          _min_rows(geom))
            if _needs(ctx) is None:
                winograd.release(state)
            else:
                ctx.wino = state
                ctx.save_for_backward(None, w)  # w: its version is checked in backward
            return out
        chunk = _stream_chunk(n, geom, params, x.itemsize)
        ws, cols = (None, None) if chunk else _conv_workspace(x, geom, params)
        out = np.empty((n, o, geom[4], geom[5]), np.result_type(x, w))

        def part(lo, hi):  # samples lo..hi: their columns, product and bias
            if not chunk:
                v = None if ws is None else ws[lo:hi]
                _conv_part(x, w, b, geom, params, v, cols[lo:hi], lo, hi, out[lo:hi])
                return
            _streamed(lambda v, s, e: _conv_part(x, w, b, geom, params, v, _as_cols(v, groups),
                                                 s, e, out[s:e]),
                      _ws_shape(geom), x.dtype, lo, hi, chunk)

        split(part, n, _min_rows(geom))
        _conv_keep(ctx, geom, params, w, ws, x if chunk else cols, chunk)
        return out

    @staticmethod
    def backward(ctx, g):
        kept, w = ctx.saved_tensors  # kept: the columns, or the input when streamed
        if "wino" in ctx.__dict__:
            gx, gw, gb = winograd.backward(winograd.kernels(), g, ctx.wino,
                                           ctx.needs_input_grad, _bias_grad)
            return gx, gw, gb
        geom, params, chunk = ctx.geom, ctx.params, ctx.chunk
        (n, c, _, _), _, hp, wp, _, _ = geom
        needs = ctx.needs_input_grad
        gxp = np.empty((n, c, hp, wp), g.dtype) if needs[0] else None

        def part(lo, hi):  # each thread's input gradient and its partial sums for dW, db
            if not chunk:
                return _conv_grads_part(g[lo:hi], kept, w, geom, params, needs, gxp, lo, hi)
            sums = _streamed(lambda v, s, e: _chunk_grads(g, kept, w, geom, params, needs,
                                                          gxp, v, s, e),
                             _ws_shape(geom), g.dtype, lo, hi, chunk)
            return _sum_parts(sums, 0), _sum_parts(sums, 1)

        parts = split(part, n, _min_rows(geom))
        gx = None if gxp is None else _crop(gxp, geom, params)
        return gx, _sum_parts(parts, 0), _sum_parts(parts, 1)

    def _release(self):
        ws = self.__dict__.get("ws")
        wino = self.__dict__.pop("wino", None)
        Function._release(self)
        if wino is not None:
            winograd.release(wino)  # the Winograd path's transformed input
        if ws is not None:
            _give(ws)  # nothing refers to the columns any more


def _chunk_grads(g, x, w, geom, params, needs, gxp, ws, s, e):
    """Samples s..e of a streamed convolution's backward: their columns laid out again
    in ``ws`` (only when dW is wanted), then as ``_conv_grads_part``."""
    groups = params[3]
    if needs[1]:
        _fill_cols(x, geom, params, ws, s, e)
    return _conv_grads_part(g[s:e], _as_cols(ws, groups), w, geom, params, needs,
                            None if gxp is None else gxp[s:e], 0, e - s)


def _crop(gxp, geom, params):
    """A convolution's input gradient on its padded plane (N, C, hp, wp), cut to its
    input (N, C, h, w): a view."""
    (_, _, h, w), *_ = geom
    pad = params[1]
    return gxp[:, :, pad[0]:pad[0] + h, pad[2]:pad[2] + w]


# Weight gradients whose per-sample partial products, (N, O, K) in all, pass this many
# bytes contract (sample, position) in one product per group instead.
_PER_SAMPLE_GW_MAX = 8 << 20


def _weight_grad(gg, cols, wshape):
    """sum over samples of gg[n] @ cols[n].T, per group; gg is (N, G, O/G, L)."""
    n, groups, og, _ = gg.shape
    k = cols.shape[2]
    if n * groups * og * k * gg.itemsize <= _PER_SAMPLE_GW_MAX:
        # Small products: one batched matmul and a sum beats transposing both operands.
        # cols @ gg.T (then transposed) runs ~15% faster in OpenBLAS than gg @ cols.T.
        per_sample = _take((n, groups, k, og), gg.dtype)
        np.matmul(cols, gg.transpose(0, 1, 3, 2), out=per_sample)
        gw = per_sample.sum(axis=0).transpose(0, 2, 1).reshape(wshape)
        _give(per_sample)
        return gw
    # Large ones: contract (sample, position) in one GEMM per group, no (N, O, K)
    # temporary: both operands laid out as (rows, sample * position), then np.matmul
    # (np.tensordot does the same layout and then ndarray.dot, which OpenBLAS ran slower:
    # 16 samples of the MNIST CNN's conv2, 5.4 -> 3.2 ms).
    gw = np.empty((groups, og, k), dtype=gg.dtype)
    for gi in range(groups):  # a loop over groups, not samples
        a = gg[:, gi].transpose(1, 0, 2).reshape(og, -1)  # copies: (O/G, N*L)
        b = cols[:, gi].transpose(1, 0, 2).reshape(k, -1)  # (K, N*L)
        np.matmul(a, b.T, out=gw[gi])
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
