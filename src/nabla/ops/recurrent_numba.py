"""Compiled per-step kernels for the LSTM (optional: Numba, ``pip install nabla[speed]``).

An LSTM step's gate arithmetic is a dozen small NumPy passes over ``(H, B)`` blocks,
each a separate call that reads and writes memory; at hidden size 128 and batch 64 they
cost more than the step's matrix product. With Numba installed, ``recurrent.py`` runs
the passes that have no transcendental function in them as one compiled loop each:

* forward, after NumPy's ``tanh`` of the gates: the sigmoid gates from it
  (``0.5 t + 0.5``) and the new cell ``f c_prev + i g``;
* backward, for a step: the multipliers of ``_lstm_factors``, the gate gradients and
  the new ``dc``, in one loop instead of fifteen passes.

Each loop performs the NumPy path's operations in the NumPy path's order, one float
rounding each (no fused multiply-add, no reassociation: Numba's defaults), so the
results are the NumPy path's, bit for bit; ``tests/test_recurrent_numba.py`` checks
that. The ``tanh`` calls stay NumPy's: Numba's LLVM has no vector math library, and a
scalar ``tanh`` per element is several times slower than NumPy's vectorised one.

Numba is imported on first use, never by ``import nabla``; the compiled code is cached
on disk (Numba's ``cache=True``: next to this file when it is writable, else in the
user's cache directory), so only the first process compiles (about a second). Set
``NABLA_NUMBA=0`` to keep to NumPy. The loops take 1-D arrays: Numba's LLVM vectorised
these loops over contiguous 1-D arrays and not over 2-D ones or offsets into a bigger
array (measured: 7.4 us against 29-43 us for a step of hidden size 128, batch 64).

>>> k = kernels()
>>> k is None or callable(k.cell)
True
"""

from __future__ import annotations

import os
import types
import warnings

_loaded: list = []  # [namespace or None] once looked for


def kernels():
    """The compiled kernels (``cell``, ``backward_step``), or None without Numba or
    with ``NABLA_NUMBA=0``."""
    if not _loaded:
        _loaded.append(_compile())
    return _loaded[0]


def _compile():
    if os.environ.get("NABLA_NUMBA", "1") == "0":
        return None
    try:
        import numba
    except ImportError:
        return None  # not installed: the usual case, nothing to say
    try:
        # Compiled here, for exactly the contiguous 1-D float32/float64 arrays the
        # callers pass, so that a Numba that cannot compile them fails now, not inside
        # a training step.
        reals = (numba.float32, numba.float64)
        flag = numba.boolean
        cell = [numba.void(t[::1], t[::1], t[::1], t, flag) for t in reals]
        step = [numba.void(*[t[::1]] * 7, flag) for t in reals]
        return types.SimpleNamespace(
            cell=numba.njit(cell, nogil=True, cache=True)(_cell),
            backward_step=numba.njit(step, nogil=True, cache=True)(_backward_step))
    except Exception as e:  # a Numba that does not work with this NumPy or machine
        warnings.warn(f"nabla: Numba is installed but its LSTM kernels could not be "
                      f"compiled ({type(e).__name__}: {e}); using NumPy", stacklevel=3)
        return None


def _cell(a, c_prev, c, half, first):
    """Forward, after ``tanh`` of the step's gates ``a`` (``4n``: i, f, o, g, the first
    three from halved rows): the sigmoid gates in place, ``0.5 t + 0.5``, and the cell
    into ``c``: ``f c_prev + i g``, or ``i g`` at a ``first`` step (no state before).
    ``half`` is 0.5 in the arrays' dtype: with a Python float Numba would compute in
    float64 (widening every element, and rounding twice where NumPy rounds once)."""
    n = c.shape[0]
    for k in range(3 * n):
        a[k] = a[k] * half + half
    if first:
        for k in range(n):
            c[k] = a[k] * a[3 * n + k]
    else:
        for k in range(n):
            c[k] = a[n + k] * c_prev[k] + a[k] * a[3 * n + k]


def _backward_step(dh, dc, a, c_prev, tc, h, dg, carry):
    """Backward through one step: from its activated gates ``a`` (``4n``: i, f, o, g),
    previous cell, ``tanh(c)`` and output ``h``, and the incoming ``dh``, ``dc``: the
    gate gradients into ``dg`` (``4n``, PyTorch's order i, f, g, o) and ``dc`` for the
    step before, in place (times ``f`` only when ``carry``: a step before exists or the
    initial state wants it). The multipliers as ``_lstm_factors`` writes them."""
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
