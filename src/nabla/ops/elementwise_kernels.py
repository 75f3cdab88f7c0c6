"""Compiled elementwise kernels, in Numba: softmax and log-softmax along rows, tanh's
and ReLU's gradients, the cube and the gradients of the square and the cube (a GELU
written out), and a number written under a repeating mask (attention's causal mask:
31 -> 6 us on 16 x 4 x 32 x 32, bit for bit). Imported
only by ``elementwise.elementwise_kernels()`` (Numba is optional: ``pip install
'nabla[speed]'``), never by ``import nabla``.

Softmax along a short last axis (a GPT's attention rows: 2048 rows of 32) costs NumPy
a transposed copy for the rows' maxima and a broadcast per pass, each paying per row;
here the maxima and the shift are one pass over each row, NumPy's vectorised ``exp``
runs in between, and the sums and the division one more (137 -> ~50 us on 2048 x 32);
backward is one pass per row instead of three whole-array ones. The row sums are
reassociated (``fastmath``'s one liberty, so that they vectorise), so values agree with
the NumPy path within rounding. ``tanh_grad`` computes ``g * (1 - out * out)`` in one
pass with NumPy's operations in NumPy's order: the same bits; so do the powers'
kernels, one pass where NumPy made two or three (``x ** 3`` and its gradient on a GPT's
16 x 32 x 256 activations).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")
_sum_jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})


@_jit
def shift_by_row_max(x, e):
    """``e = x - max(row)`` for each row of ``x`` (R, n), the shift 0 where that maximum
    is -inf (a row of -inf stays -inf, as in the NumPy path); a row with +inf becomes
    NaN, as PyTorch's. A NaN may be passed over here: its row's sum makes the whole row
    NaN all the same."""
    rows, n = x.shape
    zero = np.zeros(1, x.dtype)[0]
    for r in range(rows):
        xr, er = x[r], e[r]
        m = xr[0]
        for k in range(1, n):
            v = xr[k]
            m = v if v > m else m
        shift = zero if m == -np.inf else m
        for k in range(n):
            er[k] = xr[k] - shift


@_sum_jit
def divide_by_row_sum(e):
    """Each row of ``e`` (R, n) divided by its sum, in place."""
    rows, n = e.shape
    zero = np.zeros(1, e.dtype)[0]
    for r in range(rows):
        er = e[r]
        s = zero
        for k in range(n):
            s += er[k]
        for k in range(n):
            er[k] = er[k] / s


@_sum_jit
def softmax_grad(g, out, res):
    """``res = (g - sum(g * out)) * out`` row by row: softmax's input gradient."""
    rows, n = g.shape
    zero = np.zeros(1, g.dtype)[0]
    for r in range(rows):
        gr, orow, rr = g[r], out[r], res[r]
        d = zero
        for k in range(n):
            d += gr[k] * orow[k]
        for k in range(n):
            rr[k] = (gr[k] - d) * orow[k]


@_jit
def tanh_grad(g, out, res):
    """``res = g * (1 - out * out)`` over 1-D arrays."""
    one = np.ones(1, out.dtype)[0]  # (a Python 1 would make the arithmetic float64)
    for k in range(g.shape[0]):
        o = out[k]
        res[k] = g[k] * (one - o * o)


@_jit
def cube(a, res):
    """``res = a * a * a`` over 1-D arrays (``power``'s order: the square, then times a)."""
    for k in range(a.shape[0]):
        v = a[k]
        res[k] = v * v * v


@_jit
def power_grad(g, a, p, res):
    """``res = g * (p * a ** (p - 1))`` for p = 2 or 3 over 1-D arrays, in the NumPy
    path's orders: ``g * p * a`` for 2, ``a * a * p * g`` for 3."""
    box = np.empty(1, a.dtype)
    box[0] = p
    pp = box[0]  # p in a's dtype (a Python number would make the arithmetic float64)
    if p == 2:
        for k in range(a.shape[0]):
            res[k] = g[k] * pp * a[k]
    else:
        for k in range(a.shape[0]):
            v = a[k]
            res[k] = v * v * pp * g[k]


@_jit
def relu_grad(g, out, res):
    """``res = g * (out > 0)`` over 1-D arrays: the mask as 1 or 0 in g's dtype, times g
    (so an infinite g where out <= 0 gives NaN, as in NumPy). Typed constants matter: a
    Python 1 or 0 here made the loop float64 and scalar (2.2 ms on 2.4M elements
    against NumPy's 1.5; typed, 0.43 ms on 1M against 0.63)."""
    one = np.ones(1, g.dtype)[0]
    zero = one - one
    for k in range(g.shape[0]):
        res[k] = g[k] * (one if out[k] > zero else zero)


@_jit
def masked_fill(a, mask, value, out):
    """``out = value where mask, else a`` over 1-D arrays, ``mask`` repeating along ``a``
    (its length divides a's): attention's causal mask over every head and sample."""
    m = mask.shape[0]
    for b in range(a.shape[0] // m):
        base = b * m
        for k in range(m):
            out[base + k] = value if mask[k] else a[base + k]


# ---------------- log-softmax over long float32 rows (a language model's vocabulary)
# NumPy's exp is a ufunc pass of its own (~0.45 ns an element here, in cache); each
# row of a 33278-word vocabulary then takes five passes. Below, exp is written out so
# that LLVM vectorises it inside the row's own loop: the sum of exponentials and the
# output are two passes over a row that sits in L2. PyTorch's examples' word language
# model, 700 x 33278 on the 2-core Xeon, best of 15: forward 28.2-28.7 -> 12.7-14.6 ms,
# backward 23.1-24.6 -> 11.8-13.1 (PyTorch 13.3-14.9 / 11.6-12.8); its LSTM step
# 220-224 -> 203-208 ms. Float32 only: the polynomial is float32's (float64 keeps
# NumPy's passes).
_f32 = np.float32
_LOG2E = _f32(1.4426950408889634)
# ln 2 in two parts, the first with its low mantissa bits zero, so that n * _LN2_HI is
# exact for the n that occur and r = t - n ln 2 keeps its accuracy.
_LN2_HI, _LN2_LO = _f32(0.693145751953125), _f32(1.4286067653301870e-06)
_P = tuple(_f32(1 / c) for c in (1, 1, 2, 6, 24, 120, 720))  # Taylor: 1/k!
_HALF, _ZERO, _FLOOR = _f32(0.5), _f32(0.0), _f32(-87.0)


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose bits are the int32 ``bits`` (an LLVM bitcast: no memory)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))
    return types.float32(types.int32), codegen


@numba.njit(nogil=True, cache=True, fastmath={"contract"})
def exp_nonpositive(t):
    """``exp(t)`` in float32 for ``t <= 0``, within 2 ulp of the exact value (NumPy's:
    within 1.8): ``2**n * e**r`` with ``n = round(t / ln 2)``, ``|r| <= ln 2 / 2``, ``e**r``
    by its Taylor polynomial of degree 6 and ``2**n`` built from its exponent bits. Below
    -87 (where float32 turns subnormal) it is 0; NaN stays NaN. Its own function without
    ``reassoc``, so that the two-part reduction is not merged back into one product."""
    n = np.floor(t * _LOG2E + _HALF)
    r = t - n * _LN2_HI
    r = r - n * _LN2_LO
    p = _P[6]
    p = _P[5] + r * p
    p = _P[4] + r * p
    p = _P[3] + r * p
    p = _P[2] + r * p
    p = _P[1] + r * p
    p = _P[0] + r * p
    if t >= _FLOOR:
        return p * _float32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))
    return _ZERO if t < _FLOOR else t  # below the floor, or NaN


@_sum_jit
def log_softmax_rows(x, m, out):
    """``out = (x - shift) - log(sum(exp(x - shift)))`` for each row of the float32 array
    ``x`` (R, n), ``shift`` the row's maximum ``m`` (0 where it is -inf: that row comes out
    NaN, as the NumPy path's; a row with +inf or NaN too, its sum being NaN)."""
    rows, n = x.shape
    for r in range(rows):
        xr, orow = x[r], out[r]
        shift = m[r] if m[r] != -np.inf else _ZERO
        s = _ZERO
        for k in range(n):
            s += exp_nonpositive(xr[k] - shift)
        ls = np.log(s)
        for k in range(n):
            orow[k] = (xr[k] - shift) - ls


@_sum_jit
def log_softmax_grad_rows(g, out, res):
    """``res = g - exp(out) * sum(g)`` row by row (float32): log-softmax's input
    gradient from its output ``out`` (<= 0, -inf or NaN)."""
    rows, n = g.shape
    for r in range(rows):
        gr, orow, rr = g[r], out[r], res[r]
        s = _ZERO
        for k in range(n):
            s += gr[k]
        for k in range(n):
            rr[k] = gr[k] - exp_nonpositive(orow[k]) * s


@_jit
def log_softmax_grad_picked(out, v, res):
    """``res = -(exp(out) * v)`` row by row, ``v`` one value a row (float32): the
    gradient above where NLL's gradient is ``v`` at one entry a row and 0 elsewhere, but
    for that entry (the caller adds ``v`` there). The same bits as ``0 - exp(out) * v``
    but for the sign of a zero."""
    rows, n = out.shape
    for r in range(rows):
        orow, rr, vr = out[r], res[r], v[r]
        for k in range(n):
            rr[k] = -(exp_nonpositive(orow[k]) * vr)


@_jit
def log_softmax_grad_picked_cols(out, v, t, j0, res):
    """``log_softmax_grad_picked`` for the columns ``[j0, j0 + w)`` of ``out`` (R, n), into
    ``res`` (R, w), with ``v[r]`` added at the row's pick ``t[r]`` where it falls among
    them: one block of log_softmax's gradient under NLL's picks, for a Linear layer's
    products to use while it is in cache (``softmax_linear``). The bits of the whole
    gradient's columns."""
    rows, w = res.shape
    for r in range(rows):
        # The row's columns as a slice: indexed by j0 + k, each load checked its index's
        # sign and the loop gathered (in cache 0.63 -> 0.29-0.39 ns an element).
        orow, rr, vr = out[r, j0:j0 + w], res[r], v[r]
        for k in range(w):
            rr[k] = -(exp_nonpositive(orow[k]) * vr)
        c = t[r] - j0
        if 0 <= c < w:
            rr[c] += vr


@_sum_jit
def softmax_xent_rows(x, m, t, e, loss):
    """Cross-entropy's forward over long float32 rows: into ``e`` the softmax of each
    row of ``x`` (R, n), shifted by its maximum ``m``, into ``loss`` the row's
    ``log(sum(exp(x - m))) - (x[t] - m)``, as ``loss._xent_rows`` (whose caller sends a
    row that is not finite to the general path: its loss comes out NaN here too)."""
    rows, n = x.shape
    for r in range(rows):
        xr, er, shift = x[r], e[r], m[r]
        s = _ZERO
        for k in range(n):
            v = exp_nonpositive(xr[k] - shift)
            er[k] = v
            s += v
        for k in range(n):
            er[k] = er[k] / s
        loss[r] = np.log(s) - (xr[t[r]] - shift)
