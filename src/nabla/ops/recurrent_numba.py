"""Finds, compiles and checks the LSTM's compiled kernels (optional: Numba,
``pip install 'nabla[speed]'``); ``lstm_compiled.py`` runs them, ``recurrent_kernels.py``
holds them.

Numba is imported on first use, never by ``import nabla``; the compiled code is cached
on disk (Numba's ``cache=True``: next to the kernels' file when it is writable, else
in the user's cache directory), so only the first process compiles (a few seconds).
Set ``NABLA_NUMBA=0`` to keep to NumPy. The kernels call OpenBLAS's ``cblas_sgemm``,
the library NumPy itself loaded: where NumPy's BLAS is another one, nothing is
compiled and the NumPy path runs.

>>> k = kernels()
>>> k is None or callable(k.forward_part)
True
"""

from __future__ import annotations

import types

import numpy as np

from ..blas import sgemm_function
from . import compiled

_loaded: list = []  # [namespace or None] once looked for


def kernels():
    """The compiled kernels (``forward_part``, ``backward_part`` and the ``sgemm`` they
    take), or None: without Numba or OpenBLAS, or with ``NABLA_NUMBA=0``."""
    return compiled.once(_loaded, "its LSTM kernels", _build, "NumPy")


def _build():
    sgemm = sgemm_function()
    if sgemm is None:
        return None  # NumPy's BLAS is not OpenBLAS: nothing to call from the kernels
    from . import recurrent_kernels as rk

    k = types.SimpleNamespace(forward_part=rk.forward_part,
                              backward_part=rk.backward_part, sgemm=sgemm)
    _check(k)  # compiles both kernels now, not inside a training step
    return k


def _check(k):
    """Run both kernels on a tiny LSTM (H 1, one column, two steps, zero weights):
    compiled, and its products land where they should, or an exception says why."""
    f32 = np.float32
    w = np.zeros((4, 3), f32)
    z, a = np.ones((3, 3), f32), np.zeros((2, 4), f32)
    c, tc = np.zeros((3, 1), f32), np.zeros((2, 1), f32)
    k.forward_part(k.sgemm, w, z, a, c, tc, 1, False, True)
    # All gates 0 before activation: i = f = o = 0.5, g = 0, so c and h stay 0.
    if not (np.all(a[:, :3] == 0.5) and np.all(c == 0) and np.all(z[1:, 0] == 0)):
        raise RuntimeError("the compiled LSTM step gave wrong values")
    dh, dc, dg = np.ones(1, f32), np.zeros(1, f32), np.empty((2, 4), f32)
    k.backward_part(k.sgemm, np.ones((4, 1), f32), a, c, tc, z, np.empty((0, 0), f32),
                    dh, dc, dg, 1, False, True)
