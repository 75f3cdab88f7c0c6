"""The LSTM's compiled kernels, in Numba. Imported only by ``recurrent_numba.kernels()``
(Numba is optional: ``pip install 'nabla[speed]'``), never by ``import nabla``.

``forward_part`` and ``backward_part`` run a whole float32 LSTM sequence, forward or
backward through time, for a part of the batch, in one call without the GIL: each
step's matrix product through OpenBLAS's ``cblas_sgemm`` (passed in as a ctypes
function, so that Numba's disk cache stays valid from process to process) and its gate
arithmetic as compiled loops. ``lstm_compiled.py`` runs one part per thread.

The loops take 1-D arrays: Numba's LLVM vectorised loops over contiguous 1-D arrays
and not over 2-D ones or offsets into a bigger array (7.4 us against 29-43 us for a
step of hidden size 128, batch 64). Loops that divide need ``error_model='numpy'``:
Python's model checks every division for zero, and the branch stops vectorisation
(a ``tanh`` over 32k elements: 83 us against 13).

``tanh`` is a rational function of our own: Numba's LLVM has no vector math library,
and a scalar ``math.tanh`` call per element is several times slower than NumPy's.
``tanh(x) ~ x P(x^2) / Q(x^2)`` on ``|x| <= 9`` (degrees 12 and 6), its coefficients
fitted for the least relative error (weighted least squares, reweighted towards the
largest errors: 7e-9 in exact arithmetic); evaluated in float32 it is within 6 units
in the last place of the true value (5.4 over every 13th float32 up to 12; NumPy's
float32 ``tanh``: 1.4), and beyond 9,
where float32's ``tanh`` is +-1, it gives +-1. A sigmoid gate is ``0.5 tanh(a/2) +
0.5``: the caller halves those rows of the weights (see ``recurrent.py``).
"""

from __future__ import annotations

import numba
import numpy as np

_f32 = np.float32
_P0, _P1, _P2, _P3 = _f32(1.0), _f32(0.13084085), _f32(0.0031040395), _f32(1.1155154e-05)
_P4, _P5, _P6 = _f32(-2.0228509e-08), _f32(5.2794408e-11), _f32(-8.492313e-14)
_Q1, _Q2, _Q3 = _f32(0.46417412), _f32(0.024495512), _f32(0.0002546265)
_LIM, _ONE, _HALF = _f32(9.0), _f32(1.0), _f32(0.5)

# CBLAS's constants: row-major storage, plain and transposed operands.
_ROW_MAJOR, _PLAIN, _TRANSPOSED = 101, 111, 112

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")
_inline = numba.njit(inline="always", error_model="numpy")


@_inline
def tanh32(x):
    """``tanh(x)`` for a float32 ``x`` (see the module docstring); NaN stays NaN."""
    s = x * x
    p = x * (_P0 + s * (_P1 + s * (_P2 + s * (_P3 + s * (_P4 + s * (_P5 + s * _P6))))))
    y = p / (_ONE + s * (_Q1 + s * (_Q2 + s * _Q3)))
    y = _ONE if x > _LIM else y
    return -_ONE if x < -_LIM else y


@_jit
def tanh_into(x, out):
    """``out[:] = tanh32(x)`` over 1-D float32 arrays (for tests and measurements)."""
    for k in range(x.shape[0]):
        out[k] = tanh32(x[k])


@_inline
def _cell(a, c_prev, c, tc, h, n, first):
    """A step's gates ``a`` (``4n``: i, f, o from halved rows, already sigmoids; g not
    yet activated) into the cell ``c = f c_prev + i g`` (``i g`` at a ``first`` step,
    with no state before), ``tc = tanh(c)`` and the output ``h = o tc``; ``a``'s g block
    is replaced by ``tanh(g)``."""
    for k in range(n):
        g = tanh32(a[3 * n + k])
        a[3 * n + k] = g
        ig = a[k] * g
        cc = ig if first else a[n + k] * c_prev[k] + ig
        c[k] = cc
        t = tanh32(cc)
        tc[k] = t
        h[k] = a[2 * n + k] * t


@_jit
def forward_part(sgemm, w, z, a_all, c, tc, bp, reverse, first):
    """An LSTM forward through time for ``bp`` batch columns.

    ``w`` (4H, K) is ``[W_hh | W_ih | b]`` with rows i, f, o, g, the sigmoid rows
    halved; per slot ``s`` of ``z`` (T+1, K*bp) lies ``[h; x; 1]`` (K, bp), per step
    ``t`` of ``a_all`` (T, 4H*bp) the activated gates, of ``c`` (T+1, H*bp) the cell
    and of ``tc`` (T, H*bp) its tanh. Step ``t`` reads slot ``prev`` and writes slot
    ``nxt`` (t, t+1; reversed: t+1, t). ``first``: the initial state is zero.
    """
    T = a_all.shape[0]
    g4, k = w.shape
    n = g4 // 4 * bp
    for s in range(T):
        t = T - 1 - s if reverse else s
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        a = a_all[t]
        sgemm(_ROW_MAJOR, _PLAIN, _PLAIN, g4, bp, k, 1.0, w.ctypes.data, k,
              z[prev].ctypes.data, bp, 0.0, a.ctypes.data, bp)
        for i in range(3 * n):
            a[i] = _HALF * tanh32(a[i]) + _HALF
        _cell(a, c[prev], c[nxt], tc[t], z[nxt], n, first)
        first = False


@_inline
def backward_step(dh, dc, a, c_prev, tc, h, dg, carry):
    """Backward through one step: from its activated gates ``a`` (``4n``: i, f, o, g),
    previous cell, ``tanh(c)`` and output ``h``, and the incoming ``dh``, ``dc``: the
    gate gradients into ``dg`` (``4n``, PyTorch's order i, f, g, o) and ``dc`` for the
    step before, in place (times ``f`` only when ``carry``: a step before exists or the
    initial state wants it). The multipliers are ``recurrent._lstm_factors``'."""
    n = dh.shape[0]
    for k in range(n):
        i = a[k]
        f = a[n + k]
        o = a[2 * n + k]
        g = a[3 * n + k]
        hk = h[k]
        dhk = dh[k]
        k_o = hk - hk * o
        k_c = o - hk * tc[k]
        gi = g * i
        k_g = i - gi * g
        k_i = gi - gi * i
        cf = c_prev[k] * f
        k_f = cf - cf * f
        d = dc[k] + dhk * k_c
        dg[k] = d * k_i
        dg[n + k] = d * k_f
        dg[2 * n + k] = d * k_g
        dg[3 * n + k] = dhk * k_o
        dc[k] = d * f if carry else d


@_jit
def backward_part(sgemm, w_hh, a_all, c, tc, z, dout, dh, dc, dg_all, bp, reverse, carry_last):
    """Backpropagation through time for ``bp`` batch columns of ``forward_part``'s
    sequence (its ``a_all``, ``c``, ``tc`` and ``z``). ``dout`` (T, H*bp) is the
    outputs' gradient (no rows: none); ``dh``, ``dc`` (H*bp) come in as the final
    state's gradients and leave as the initial state's (``dc`` only when
    ``carry_last``). Each step's gate gradients go to ``dg_all`` (T, 4H*bp), in
    PyTorch's gate order, and ``dh <- W_hh^T dg`` through ``w_hh`` (4H, H).
    """
    T = a_all.shape[0]
    g4, hid = w_hh.shape
    n = hid * bp
    for s in range(T):
        t = s if reverse else T - 1 - s
        prev, nxt = (t + 1, t) if reverse else (t, t + 1)
        if dout.shape[0]:
            d = dout[t]
            for k in range(n):
                dh[k] += d[k]
        carry = s != T - 1 or carry_last
        dg = dg_all[t]
        backward_step(dh, dc, a_all[t], c[prev], tc[t], z[nxt][:n], dg, carry)
        if carry:
            sgemm(_ROW_MAJOR, _TRANSPOSED, _PLAIN, hid, bp, g4, 1.0, w_hh.ctypes.data, hid,
                  dg.ctypes.data, bp, 0.0, dh.ctypes.data, bp)
