"""The LSTM's compiled path: the batch in parts, one thread a part, each part's whole
recurrence one call of a Numba kernel (``recurrent_kernels``) that holds no GIL.

An LSTM step is a small matrix product and a few small passes; in NumPy the passes
and the Python between them cost as much as the product, and they cannot overlap: two
Python threads stepping two halves of the batch spend their time handing the GIL to
each other (277 us a step against 91, measured). Compiled, a part's 28 steps are one
call: the two halves of the benchmark's batch run at once, products included
(OpenBLAS held to one thread a part by ``threads.split``).

Used for float32 when Numba is installed and NumPy's BLAS is OpenBLAS (the product
is OpenBLAS's ``cblas_sgemm``, called from the kernel); otherwise ``recurrent.py``'s
NumPy passes run, which stay the reference: ``tests/test_recurrent_numba.py`` compares
the two. The results differ from those of the NumPy path in the last bits (the
kernels' own ``tanh``, see ``recurrent_kernels``).

Layouts are ``recurrent.py``'s, per part: feature-major ``(., bp)`` blocks per step,
the state slots of ``_steps``, and ``z`` holding ``[h; x; 1]`` per slot.
"""

from __future__ import annotations

import numpy as np

from ..threads import get_num_threads, split
from ..workspace import _unshared
from . import recurrent_numba

# Batch columns a part gets at least. Each part's products repack the whole weight
# matrix, so narrow parts lose: two parts of 10 columns took a 2-layer LSTM (35 steps,
# batch 20, 200 -> 200) from 21.3-23.2 to 26.5-28.6 ms a step; parts of 16 and 32
# columns gained (batch 32, hidden 256: 29.6 -> 26.9 ms; the benchmark's batch 64).
_MIN_PART = 16


def kernels(dtype):
    """The compiled kernels for arrays of ``dtype``, or None (the NumPy path runs)."""
    if dtype != np.float32:
        return None
    return recurrent_numba.kernels()


def _parts(batch):
    n = max(1, min(get_num_threads(), batch // _MIN_PART))
    return [(batch * i // n, batch * (i + 1) // n) for i in range(n)]


def _run(fn, count):
    """``fn(i)`` for parts 0..count-1, one thread each."""
    split(lambda lo, hi: [fn(i) for i in range(lo, hi)], count)


def forward(kern, x, w_all, h0, c0, reverse):
    """The LSTM over ``x`` (T, B, I) with ``w_all`` as ``recurrent.LSTMSequence`` makes
    it. Returns ``(out, h_n, c_n)`` and the parts' saved state for ``backward``."""
    T, B, I = x.shape
    G, K = w_all.shape
    H = G // 4
    dt = w_all.dtype
    prev = 1 if reverse else 0  # the slot of step 0's previous state (see _steps)
    start = T if reverse else 0  # the initial state's slot
    parts = []
    for lo, hi in _parts(B):
        bp = hi - lo
        parts.append((lo, hi, _unshared((T + 1, K, bp), dt), _unshared((T, G, bp), dt),
                      _unshared((T + 1, H, bp), dt), _unshared((T, H, bp), dt)))
    out = np.empty((T, B, H), dt)
    h_n, c_n = np.empty((B, H), dt), np.empty((B, H), dt)
    last = 0 if reverse else T

    def part(i):
        lo, hi, z, a, c, tc = parts[i]
        np.copyto(z[prev:prev + T, H:H + I], x[:, lo:hi].transpose(0, 2, 1))
        if K > H + I:
            z[:, H + I] = 1  # the bias's row of ones
        z[start, :H] = 0 if h0 is None else h0[lo:hi].T
        c[start] = 0 if c0 is None else c0[lo:hi].T
        kern.forward_part(kern.sgemm, w_all, z.reshape(T + 1, -1), a.reshape(T, -1),
                          c.reshape(T + 1, -1), tc.reshape(T, -1), hi - lo, reverse,
                          h0 is None)
        states = z[1 - prev:T + 1 - prev, :H]  # h_t of every step, in time order
        np.copyto(out[:, lo:hi], states.transpose(0, 2, 1))
        np.copyto(h_n[lo:hi], z[last, :H].T)
        np.copyto(c_n[lo:hi], c[last].T)

    _run(part, len(parts))
    return (out, h_n, c_n), parts


def backward(parts, reverse, x, w_ih, w_hh, dout, dh_n, dc_n, needs_x, want_state):
    """Gradients through ``forward``'s sequence, with the same kernels: ``(dx or None,
    [dW_hh | dW_ih | db], dh_0, dc_0)``, the last two None unless ``want_state``.
    ``dout`` (T, B, H), ``dh_n`` and ``dc_n`` (B, H) may each be None (no gradient)."""
    kern = kernels(np.dtype(np.float32))  # forward ran on them, so they are there
    T, B, _ = x.shape
    G, H = w_hh.shape
    dt = np.dtype(np.float32)  # the kernels' one dtype (forward's products were in it)
    w_hh = np.ascontiguousarray(w_hh, dtype=dt)  # the kernel reads it as float32 rows
    prev = 1 if reverse else 0
    if dout is not None and not dout.any():
        dout = None  # only the final state was used (a classifier): skip the adds
    no_rows = np.empty((0, 0), dt)
    bufs = []
    for lo, hi, z, _, _, _ in parts:
        bp = hi - lo
        K = z.shape[1]
        bufs.append((_unshared((T, G, bp), dt), _unshared((G, T, bp), dt),
                     _unshared((K, T, bp), dt),
                     None if dout is None else _unshared((T, H, bp), dt)))
    dx = np.empty(x.shape, dt) if needs_x else None
    dh0 = np.empty((B, H), dt) if want_state else None
    dc0 = np.empty((B, H), dt) if want_state else None
    dws = [None] * len(parts)

    def part(i):
        lo, hi, z, a, c, tc = parts[i]
        dg, rows, zt, dout_p = bufs[i]
        bp = hi - lo
        dh = np.zeros((H, bp), dt) if dh_n is None else np.array(dh_n[lo:hi].T, dt, order="C")
        dc = np.zeros((H, bp), dt) if dc_n is None else np.array(dc_n[lo:hi].T, dt, order="C")
        if dout_p is not None:
            np.copyto(dout_p, dout[:, lo:hi].transpose(0, 2, 1))
        kern.backward_part(kern.sgemm, w_hh, a.reshape(T, -1), c.reshape(T + 1, -1),
                           tc.reshape(T, -1), z.reshape(T + 1, -1),
                           no_rows if dout_p is None else dout_p.reshape(T, -1),
                           dh.reshape(-1), dc.reshape(-1), dg.reshape(T, -1), bp, reverse,
                           want_state)
        # [dW_hh | dW_ih | db] = dG @ [h_prev; x; 1]^T over this part's steps and columns.
        np.copyto(rows, dg.transpose(1, 0, 2))
        np.copyto(zt, z[prev:prev + T].transpose(1, 0, 2))
        dws[i] = rows.reshape(G, -1) @ zt.reshape(len(zt), -1).T
        if dx is not None:  # dX = dG^T W_ih, one product over the steps' rows (T small
            # ones over dG's per-step transposes took 2.5-2.8 ms against 1.0-1.2 for a
            # 35-step, 800-gate, batch-20 layer)
            dx[:, lo:hi] = (rows.reshape(G, -1).T @ w_ih).reshape(T, bp, w_ih.shape[1])
        if want_state:
            dh0[lo:hi], dc0[lo:hi] = dh.T, dc.T

    _run(part, len(parts))
    dw = dws[0]
    for more in dws[1:]:
        dw += more
    return dx, dw, dh0, dc0
