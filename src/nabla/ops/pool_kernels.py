"""Max pooling's compiled kernels, in Numba, for its most common shape: 2x2 windows,
stride 2, no padding or dilation (every CNN of a course). Imported only by
``pool.pool_kernels()`` (Numba is optional: ``pip install 'nabla[speed]'``), never by
``import nabla``; other windows take the NumPy passes.

One pass over the input for forward (each window's maximum and which of its four taps
won) and one over the input's plane for backward (zeros, and each window's gradient at
its winner), where the NumPy path runs a pass per kernel row and column over strided
views, with intermediate arrays between them. The winner is PyTorch's: the first
maximum in the window's row-major order, except that a NaN replaces any maximum (so the
last NaN wins). Forward's comparisons are selects, not branches.
"""

from __future__ import annotations

import numba

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")


@_jit
def forward(x, lo, hi, out, won):
    """Samples lo..hi: ``out`` (N, C, H//2, W//2) the maxima of the 2x2 windows of ``x``
    (N, C, H, W), ``won`` (int8) the winning tap of each, ``2 * row + column``."""
    _, channels, _, _ = x.shape
    _, _, ho, wo = out.shape
    for n in range(lo, hi):
        for c in range(channels):
            for oy in range(ho):
                r0, r1 = x[n, c, 2 * oy], x[n, c, 2 * oy + 1]
                o, k_out = out[n, c, oy], won[n, c, oy]
                for ox in range(wo):
                    v0, v1 = r0[2 * ox], r0[2 * ox + 1]
                    v2, v3 = r1[2 * ox], r1[2 * ox + 1]
                    t = (v1 > v0) | (v1 != v1)
                    best = v1 if t else v0
                    k = 1 if t else 0
                    t = (v2 > best) | (v2 != v2)
                    best = v2 if t else best
                    k = 2 if t else k
                    t = (v3 > best) | (v3 != v3)
                    o[ox] = v3 if t else best
                    k_out[ox] = 3 if t else k


@_jit
def backward(g, won, lo, hi, gx):
    """Samples lo..hi of ``gx`` (N, C, H, W): zero, but for each window's gradient ``g``
    at the tap ``won`` names. (Zeroing the plane and then writing the winners ran 2.8x
    faster than writing every tap its value or zero, whose selects did not vectorise.)"""
    _, channels, h, w = gx.shape
    _, _, ho, wo = g.shape
    for n in range(lo, hi):
        for c in range(channels):
            plane = gx[n, c]
            for y in range(h):
                for q in range(w):
                    plane[y, q] = 0.0
            for oy in range(ho):
                gr, kr = g[n, c, oy], won[n, c, oy]
                for ox in range(wo):
                    k = kr[ox]
                    plane[2 * oy + (k >> 1), 2 * ox + (k & 1)] = gr[ox]
