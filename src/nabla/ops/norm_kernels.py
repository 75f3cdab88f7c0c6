"""Layer norm's compiled kernels, in Numba: a row at a time, forward and backward, where
the NumPy path runs eight or nine whole-array passes, each paying NumPy's cost per row
of a short last axis (a GPT's 512 rows of 64: forward 47 -> 22 us, backward 59 -> 29).
Imported only by ``norm.norm_kernels()`` (Numba is optional: ``pip install
'nabla[speed]'``), never by ``import nabla``.

The formulas are the NumPy path's (``norm._layer_norm_rows``): mean, centred sum of
squares, ``1 / sqrt(var + eps)``; backward ``(g w - mean(g w) - xhat mean(g w xhat)) /
std``. Sums within a row are taken in the input's dtype, reassociated (``fastmath``
allows that one liberty, so that they vectorise: no other, NaN and infinity behave as
in NumPy); the weight and bias gradients add the rows up in float64.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})


@_jit
def forward(x, w, b, eps, out, xhat, invstd):
    """Rows of ``x`` (R, n) normalised into ``xhat``, then ``out = xhat * w + b``;
    ``invstd`` (R,) the rows' ``1 / sqrt(var + eps)``."""
    rows, n = x.shape
    zero = np.zeros(1, x.dtype)[0]  # sums in x's dtype
    size, eps_, one = zero + n, zero + eps, zero + 1
    for r in range(rows):
        xr, hr, orow = x[r], xhat[r], out[r]
        s = zero
        for k in range(n):
            s += xr[k]
        mean = s / size
        q = zero
        for k in range(n):
            d = xr[k] - mean
            q += d * d
        inv = one / np.sqrt(q / size + eps_)
        invstd[r] = inv
        for k in range(n):
            h = (xr[k] - mean) * inv
            hr[k] = h
            orow[k] = h * w[k] + b[k]


@_jit
def backward(g, xhat, invstd, w, gx, gw, gb):
    """``gx`` (R, n), the input's gradient, given the output's ``g``; the rows' sums of
    ``g * xhat`` and of ``g`` added into ``gw`` and ``gb`` (float64, (n,))."""
    rows, n = g.shape
    zero = np.zeros(1, g.dtype)[0]
    size = zero + n
    for r in range(rows):
        gr, hr, gxr = g[r], xhat[r], gx[r]
        m1 = zero
        m2 = zero
        for k in range(n):
            t = gr[k] * w[k]
            m1 += t
            m2 += t * hr[k]
        m1 /= size
        m2 /= size
        inv = invstd[r]
        for k in range(n):
            gxr[k] = (gr[k] * w[k] - m1 - hr[k] * m2) * inv
        for k in range(n):
            gw[k] += gr[k] * hr[k]
            gb[k] += gr[k]
