"""The compiled transforms of Winograd's 3x3 convolution, in Numba. Imported only by
``winograd.kernels()`` (Numba is optional: ``pip install 'nabla[speed]'``), never by
``import nabla``; ``winograd.py`` says what the transforms are for.

F(4x4, 3x3) with the interpolation points 0, 1, -1, 2, -2 and infinity: a 6x6 input
tile ``d`` and a 3x3 kernel ``g`` give the 4x4 outputs ``A^T [(G g G^T) * (B^T d B)] A``,
where

    B^T = [[4,  0, -5,  0, 1, 0],      A^T = [[1, 1,  1, 1,  1, 0],
           [0,  4,  4, -1, -1, 0],            [0, 1, -1, 2, -2, 0],
           [0, -4,  4,  1, -1, 0],            [0, 1,  1, 4,  4, 0],
           [0, -2, -1,  2,  1, 0],            [0, 1, -1, 8, -8, 1]]
           [0,  2, -1, -2,  1, 0],
           [0,  4,  0, -5,  0, 1]]

(``G``, applied once per kernel in NumPy, is in ``winograd.py``). Each transform is
written out as the sums these rows give, not as a product with the matrix: half the
arithmetic, and no multiplication by a zero, so that a NaN or an infinity in the input
reaches only the outputs whose sums have a nonzero weight on it, those of the 4x4
blocks of the tiles that read it (the direct convolution confines it to its 3x3
neighbourhood; no further).

Every kernel works on samples ``lo..hi``. A tile's 36 transformed values go to 36
planes, one per position, the layout of the 36 matrix products that ``winograd.py``
runs between the transforms; tile ``(i, j)`` of sample ``n`` is row or column
``((n - lo) * th + i) * tw + j`` of a chunk's planes. The input's transform runs a tile
row of one channel at a time, along the image's rows, and writes ``[position, channel,
tile]``. The other three put the channels last, ``[position, tile, channel]``, and run
their loops along them (vectorised, where a tile's 36 values are too few): on the MNIST
CNN's conv2 the output's transform took 1.2 ms for half the batch instead of 2.0, the
input gradient's 2.0 instead of 2.7, and the products in that layout ran faster too
(the kernels' gradient 155 us a chunk instead of 269). The input's transform alone ran
1.4x slower that way at 32 channels (36 scattered loads per tile and channel), so it
kept its rows.
"""

from __future__ import annotations

import numba
import numpy as np

_f32 = np.float32
_Z, _T2, _T4, _T5, _T8 = _f32(0), _f32(2), _f32(4), _f32(5), _f32(8)

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")
_inline = numba.njit(inline="always", error_model="numpy")


@_inline
def _a_along(g0, g1, g2, g3, d0, d1, d2, d3, d4, d5):
    """``d = A g`` along the channels: the six sums of A's rows over four vectors."""
    for o in range(g0.shape[0]):
        v0, v1, v2, v3 = g0[o], g1[o], g2[o], g3[o]
        s02, s13 = v0 + v2, v1 + v3
        e, f = v0 + _T4 * v2, _T2 * v1 + _T8 * v3
        d0[o] = v0
        d1[o] = s02 + s13
        d2[o] = s02 - s13
        d3[o] = e + f
        d4[o] = e - f
        d5[o] = v3


@_inline
def _b_along(v0, v1, v2, v3, v4, v5, d0, d1, d2, d3, d4, d5):
    """``d = B v`` along the channels: the six sums of B's rows (B^T's columns)."""
    for c in range(v0.shape[0]):
        e0, e1, e2, e3, e4, e5 = v0[c], v1[c], v2[c], v3[c], v4[c], v5[c]
        d0[c] = _T4 * e0
        d1[c] = _T4 * (e1 - e2) + _T2 * (e4 - e3) + _T4 * e5
        d2[c] = _T4 * (e1 + e2) - (e3 + e4) - _T5 * e0
        d3[c] = (e2 - e1) + _T2 * (e3 - e4) - _T5 * e5
        d4[c] = e0 - (e1 + e2) + (e3 + e4)
        d5[c] = e5


@_jit
def input_tiles(x, lo, hi, pt, pl, th, tw, v):
    """``v[6u + w, c, tile] = (B^T d B)[u, w]`` for every 6x6 tile ``d`` of samples
    ``lo..hi`` of ``x`` (N, C, H, W): tile (i, j) starts at row ``4i - pt``, column
    ``4j - pl``; what lies outside ``x`` (its padding) reads as zero."""
    _, c_in, h, wd = x.shape
    span = tw * 4 + 2
    rows = np.empty((6, span), x.dtype)
    r = np.empty((6, span), x.dtype)
    for n in range(lo, hi):
        for c in range(c_in):
            for i in range(th):
                y0 = i * 4 - pt
                for a in range(6):  # the tile row's six image rows, zero outside
                    y = y0 + a
                    for q in range(span):
                        xq = q - pl
                        inside = 0 <= y < h and 0 <= xq < wd
                        rows[a, q] = x[n, c, y, xq] if inside else _Z
                for q in range(span):  # B^T down the columns
                    d0, d1, d2 = rows[0, q], rows[1, q], rows[2, q]
                    d3, d4, d5 = rows[3, q], rows[4, q], rows[5, q]
                    r[0, q] = _T4 * d0 - _T5 * d2 + d4
                    r[1, q] = _T4 * (d1 + d2) - (d3 + d4)
                    r[2, q] = _T4 * (d2 - d1) + (d3 - d4)
                    r[3, q] = _T2 * (d3 - d1) + (d4 - d2)
                    r[4, q] = _T2 * (d1 - d3) + (d4 - d2)
                    r[5, q] = _T4 * d1 - _T5 * d3 + d5
                base = ((n - lo) * th + i) * tw
                for u in range(6):  # B along each tile's rows
                    for j in range(tw):
                        q = j * 4
                        d0, d1, d2 = r[u, q], r[u, q + 1], r[u, q + 2]
                        d3, d4, d5 = r[u, q + 3], r[u, q + 4], r[u, q + 5]
                        p = base + j
                        v[6 * u, c, p] = _T4 * d0 - _T5 * d2 + d4
                        v[6 * u + 1, c, p] = _T4 * (d1 + d2) - (d3 + d4)
                        v[6 * u + 2, c, p] = _T4 * (d2 - d1) + (d3 - d4)
                        v[6 * u + 3, c, p] = _T2 * (d3 - d1) + (d4 - d2)
                        v[6 * u + 4, c, p] = _T2 * (d1 - d3) + (d4 - d2)
                        v[6 * u + 5, c, p] = _T4 * d1 - _T5 * d3 + d5


@_jit
def output_tiles(m, lo, hi, th, tw, bias, out):
    """``out[n, o, 4i + a, 4j + b] = (A^T M A)[a, b] + bias[o]``, ``M`` the 6x6 values
    ``m[:, tile, o]`` of tile (i, j); rows and columns beyond ``out`` are dropped. The
    output channels are ``m``'s last axis: the loops run along it."""
    _, o_out, ho, wo = out.shape
    t = np.empty((24, o_out), m.dtype)  # A^T down the columns: t[6a + w, o]
    y = np.empty((16, o_out), m.dtype)  # and along the rows: the outputs y[4a + b, o]
    for n in range(lo, hi):
        for i in range(th):
            for j in range(tw):
                p = ((n - lo) * th + i) * tw + j
                for w in range(6):
                    r0, r1, r2 = m[w, p], m[6 + w, p], m[12 + w, p]
                    r3, r4, r5 = m[18 + w, p], m[24 + w, p], m[30 + w, p]
                    t0, t1, t2, t3 = t[w], t[6 + w], t[12 + w], t[18 + w]
                    for o in range(o_out):
                        m1, m2, m3, m4 = r1[o], r2[o], r3[o], r4[o]
                        s12, d12, s34, d34 = m1 + m2, m1 - m2, m3 + m4, m3 - m4
                        t0[o] = r0[o] + s12 + s34
                        t1[o] = d12 + _T2 * d34
                        t2[o] = s12 + _T4 * s34
                        t3[o] = d12 + _T8 * d34 + r5[o]
                for a in range(4):
                    q0, q1, q2 = t[6 * a], t[6 * a + 1], t[6 * a + 2]
                    q3, q4, q5 = t[6 * a + 3], t[6 * a + 4], t[6 * a + 5]
                    y0, y1, y2, y3 = y[4 * a], y[4 * a + 1], y[4 * a + 2], y[4 * a + 3]
                    for o in range(o_out):
                        m1, m2, m3, m4 = q1[o], q2[o], q3[o], q4[o]
                        s12, d12, s34, d34 = m1 + m2, m1 - m2, m3 + m4, m3 - m4
                        bo = bias[o]
                        y0[o] = q0[o] + s12 + s34 + bo
                        y1[o] = d12 + _T2 * d34 + bo
                        y2[o] = s12 + _T4 * s34 + bo
                        y3[o] = d12 + _T8 * d34 + q5[o] + bo
                rows, cols = min(4, ho - i * 4), min(4, wo - j * 4)
                for o in range(o_out):
                    for a in range(rows):
                        for b in range(cols):
                            out[n, o, i * 4 + a, j * 4 + b] = y[4 * a + b, o]


@_jit
def grad_tiles(g, lo, hi, th, tw, dm):
    """The adjoint of ``output_tiles``: ``dm[6u + w, tile, o] = (A G A^T)[u, w]``, ``G``
    the 4x4 of ``g`` (N, O, Ho, Wo) at tile (i, j), zero beyond ``g``; the loops run
    along the channels, ``dm``'s last axis."""
    _, o_out, ho, wo = g.shape
    gt = np.zeros((16, o_out), g.dtype)  # the tile: gt[4a + b, o]
    t = np.empty((24, o_out), g.dtype)  # A down the columns: t[4u + b, o]
    for n in range(lo, hi):
        for i in range(th):
            for j in range(tw):
                p = ((n - lo) * th + i) * tw + j
                rows, cols = min(4, ho - i * 4), min(4, wo - j * 4)
                if rows < 4 or cols < 4:
                    gt[:] = _Z
                for o in range(o_out):
                    for a in range(rows):
                        for b in range(cols):
                            gt[4 * a + b, o] = g[n, o, i * 4 + a, j * 4 + b]
                for b in range(4):  # A down the columns
                    _a_along(gt[b], gt[4 + b], gt[8 + b], gt[12 + b], t[b], t[4 + b],
                             t[8 + b], t[12 + b], t[16 + b], t[20 + b])
                for u in range(6):  # and along the rows
                    _a_along(t[4 * u], t[4 * u + 1], t[4 * u + 2], t[4 * u + 3],
                             dm[6 * u, p], dm[6 * u + 1, p], dm[6 * u + 2, p],
                             dm[6 * u + 3, p], dm[6 * u + 4, p], dm[6 * u + 5, p])


@_jit
def input_grad_tiles(dv, lo, hi, pt, pl, th, tw, dx):
    """The adjoint of ``input_tiles``: samples ``lo..hi`` of ``dx`` (N, C, H, W) set to
    the sum of ``B dV B^T`` over the tiles that cover each pixel (they overlap by two
    rows and two columns); what falls on the padding is dropped."""
    _, c_in, h, wd = dx.shape
    r = np.empty((36, c_in), dx.dtype)  # B^T's adjoint along the rows: r[6u + b, c]
    d = np.empty((36, c_in), dx.dtype)  # and down the columns: the tile, d[6a + b, c]
    for n in range(lo, hi):
        for c in range(c_in):
            for y in range(h):
                for q in range(wd):
                    dx[n, c, y, q] = _Z
        for i in range(th):
            y0 = i * 4 - pt
            a0, a1 = max(0, -y0), min(6, h - y0)
            for j in range(tw):
                x0 = j * 4 - pl
                b0, b1 = max(0, -x0), min(6, wd - x0)
                p = ((n - lo) * th + i) * tw + j
                for u in range(6):  # B along the rows
                    _b_along(dv[6 * u, p], dv[6 * u + 1, p], dv[6 * u + 2, p],
                             dv[6 * u + 3, p], dv[6 * u + 4, p], dv[6 * u + 5, p],
                             r[6 * u], r[6 * u + 1], r[6 * u + 2], r[6 * u + 3],
                             r[6 * u + 4], r[6 * u + 5])
                for b in range(6):  # and down the columns
                    _b_along(r[b], r[6 + b], r[12 + b], r[18 + b], r[24 + b], r[30 + b],
                             d[b], d[6 + b], d[12 + b], d[18 + b], d[24 + b], d[30 + b])
                for c in range(c_in):
                    for a in range(a0, a1):
                        for b in range(b0, b1):
                            dx[n, c, y0 + a, x0 + b] += d[6 * a + b, c]
