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

Every kernel works on samples ``lo..hi`` and on a tile row at a time: first along the
image's rows (the long, contiguous axis, where the loops vectorise), then across the
tiles of the row. A tile's 36 transformed values go to 36 planes, ``[position,
channel, tile]``: the layout of the 36 matrix products that ``winograd.py`` runs
between the transforms. Tile ``(i, j)`` of sample ``n`` is column
``((n - lo) * th + i) * tw + j`` of a chunk's planes.
"""

from __future__ import annotations

import numba
import numpy as np

_f32 = np.float32
_Z, _T2, _T4, _T5, _T8 = _f32(0), _f32(2), _f32(4), _f32(5), _f32(8)

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")


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
    ``m[:, o, tile]`` of tile (i, j); rows and columns beyond ``out`` are dropped."""
    _, o_out, ho, wo = out.shape
    t = np.empty((4, 6, tw), m.dtype)
    row = np.empty(tw * 4, m.dtype)
    for n in range(lo, hi):
        for o in range(o_out):
            bo = bias[o]
            for i in range(th):
                base = ((n - lo) * th + i) * tw
                for w in range(6):  # A^T down the columns
                    for j in range(tw):
                        p = base + j
                        m0, m1, m2 = m[w, o, p], m[6 + w, o, p], m[12 + w, o, p]
                        m3, m4, m5 = m[18 + w, o, p], m[24 + w, o, p], m[30 + w, o, p]
                        s12, d12, s34, d34 = m1 + m2, m1 - m2, m3 + m4, m3 - m4
                        t[0, w, j] = m0 + s12 + s34
                        t[1, w, j] = d12 + _T2 * d34
                        t[2, w, j] = s12 + _T4 * s34
                        t[3, w, j] = d12 + _T8 * d34 + m5
                for a in range(min(4, ho - i * 4)):  # A along each output row
                    for j in range(tw):
                        m0, m1, m2 = t[a, 0, j], t[a, 1, j], t[a, 2, j]
                        m3, m4, m5 = t[a, 3, j], t[a, 4, j], t[a, 5, j]
                        s12, d12, s34, d34 = m1 + m2, m1 - m2, m3 + m4, m3 - m4
                        q = j * 4
                        row[q] = m0 + s12 + s34 + bo
                        row[q + 1] = d12 + _T2 * d34 + bo
                        row[q + 2] = s12 + _T4 * s34 + bo
                        row[q + 3] = d12 + _T8 * d34 + m5 + bo
                    y = i * 4 + a
                    for q in range(wo):
                        out[n, o, y, q] = row[q]


@_jit
def grad_tiles(g, lo, hi, th, tw, dm):
    """The adjoint of ``output_tiles``: ``dm[6u + w, o, tile] = (A G A^T)[u, w]``,
    ``G`` the 4x4 of ``g`` (N, O, Ho, Wo) at tile (i, j), zero beyond ``g``."""
    _, o_out, ho, wo = g.shape
    span = tw * 4
    rows = np.zeros((4, span), g.dtype)  # columns from wo on stay zero
    t = np.empty((6, span), g.dtype)
    for n in range(lo, hi):
        for o in range(o_out):
            for i in range(th):
                for a in range(4):
                    y = i * 4 + a
                    for q in range(wo):
                        rows[a, q] = g[n, o, y, q] if y < ho else _Z
                for q in range(span):  # A down the columns
                    g0, g1, g2, g3 = rows[0, q], rows[1, q], rows[2, q], rows[3, q]
                    s02, s13 = g0 + g2, g1 + g3
                    e, f = g0 + _T4 * g2, _T2 * g1 + _T8 * g3
                    t[0, q] = g0
                    t[1, q] = s02 + s13
                    t[2, q] = s02 - s13
                    t[3, q] = e + f
                    t[4, q] = e - f
                    t[5, q] = g3
                base = ((n - lo) * th + i) * tw
                for u in range(6):  # A^T along each tile's rows
                    for j in range(tw):
                        q = j * 4
                        g0, g1, g2, g3 = t[u, q], t[u, q + 1], t[u, q + 2], t[u, q + 3]
                        s02, s13 = g0 + g2, g1 + g3
                        e, f = g0 + _T4 * g2, _T2 * g1 + _T8 * g3
                        p = base + j
                        dm[6 * u, o, p] = g0
                        dm[6 * u + 1, o, p] = s02 + s13
                        dm[6 * u + 2, o, p] = s02 - s13
                        dm[6 * u + 3, o, p] = e + f
                        dm[6 * u + 4, o, p] = e - f
                        dm[6 * u + 5, o, p] = g3


@_jit
def input_grad_tiles(dv, lo, hi, pt, pl, th, tw, dx):
    """The adjoint of ``input_tiles``: samples ``lo..hi`` of ``dx`` (N, C, H, W) set to
    the sum of ``B dV B^T`` over the tiles that cover each pixel (they overlap by two
    rows and two columns); what falls on the padding is dropped."""
    _, c_in, h, wd = dx.shape
    span = tw * 4 + 2
    r = np.empty((6, span), dx.dtype)
    for n in range(lo, hi):
        for c in range(c_in):
            for y in range(h):
                for q in range(wd):
                    dx[n, c, y, q] = _Z
            for i in range(th):
                base = ((n - lo) * th + i) * tw
                for u in range(6):  # B^T's adjoint along each tile's rows, summed
                    for q in range(span):
                        r[u, q] = _Z
                    for j in range(tw):
                        p = base + j
                        v0, v1, v2 = dv[6 * u, c, p], dv[6 * u + 1, c, p], dv[6 * u + 2, c, p]
                        v3, v4, v5 = dv[6 * u + 3, c, p], dv[6 * u + 4, c, p], dv[6 * u + 5, c, p]
                        q = j * 4
                        r[u, q] += _T4 * v0
                        r[u, q + 1] += _T4 * (v1 - v2) + _T2 * (v4 - v3) + _T4 * v5
                        r[u, q + 2] += _T4 * (v1 + v2) - (v3 + v4) - _T5 * v0
                        r[u, q + 3] += (v2 - v1) + _T2 * (v3 - v4) - _T5 * v5
                        r[u, q + 4] += v0 - (v1 + v2) + (v3 + v4)
                        r[u, q + 5] += v5
                y0 = i * 4 - pt
                for a in range(6):  # and down the columns, onto the image
                    y = y0 + a
                    if y < 0 or y >= h:
                        continue
                    for q in range(max(0, pl), min(span, wd + pl)):
                        v0, v1, v2 = r[0, q], r[1, q], r[2, q]
                        v3, v4, v5 = r[3, q], r[4, q], r[5, q]
                        if a == 0:
                            s = _T4 * v0
                        elif a == 1:
                            s = _T4 * (v1 - v2) + _T2 * (v4 - v3) + _T4 * v5
                        elif a == 2:
                            s = _T4 * (v1 + v2) - (v3 + v4) - _T5 * v0
                        elif a == 3:
                            s = (v2 - v1) + _T2 * (v3 - v4) - _T5 * v5
                        elif a == 4:
                            s = v0 - (v1 + v2) + (v3 + v4)
                        else:
                            s = v5
                        dx[n, c, y, q - pl] += s
