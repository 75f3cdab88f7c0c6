"""Reusable big temporaries, per thread: the workspace pool.

Kernels that need a large scratch array every call (im2col columns, their gradients,
padded copies of an input) take one here and hand it back when done, so that a
training step reuses the same memory instead of page-faulting on a fresh block each
time. It sits beside ``threads.py`` so that any layer (ops, nn, optim) can use it; it
imports nothing from nabla.

A kind of array is its shape and its ``np.dtype`` (a dtype object, as ``a.dtype`` is):

>>> import numpy as np
>>> f32 = np.dtype(np.float32)
>>> a = _take((2, 3), f32)
>>> _give(a)
>>> _take((2, 3), f32) is a
True
"""

from __future__ import annotations

import threading

import numpy as np


class _Pool(threading.local):
    """Reusable big arrays (im2col columns, their gradients, padded copies), per thread.

    glibc hands large blocks back to the OS when they are freed, so a fresh multi-MB
    array page-faults on every step; reusing one is measurably faster (docs/design.md,
    Performance rules). Only internal temporaries come from here, never an array an op
    returns: a returned array must not change under its holder's feet.
    """

    def __init__(self):
        self.free = {}
        self.bytes = 0


_pool = _Pool()
_POOL_LIMIT = 256 << 20  # bytes kept idle; beyond this the pool starts afresh


def _take(shape, dtype):
    """An uninitialised array of ``shape``, reused when one is idle."""
    a = _kept(shape, dtype, None)
    return np.empty(shape, dtype=dtype) if a is None else a


def _kept(shape, dtype, kind):
    """An idle array of ``shape`` that was handed back as ``kind``, or None.

    A kind other than None is a promise about content its users keep from use to use,
    such as zero borders that only a new array needs filled: such an array is only ever
    handed back, and taken again, as that kind. None is any content at all.
    """
    stack = _pool.free.get((shape, dtype, kind))
    if not stack:
        return None
    a = stack.pop()
    _pool.bytes -= a.nbytes
    return a


def _kept_zeros(shape, dtype, kind):
    """An idle array of ``kind`` (see ``_kept``), or a new one of zeros."""
    a = _kept(shape, dtype, kind)
    return np.zeros(shape, dtype=dtype) if a is None else a


def _give(a, kind=None):
    """Hand an array from ``_take`` or ``_kept`` back, as ``kind``, once nothing refers
    to it any more."""
    if _pool.bytes + a.nbytes > _POOL_LIMIT:
        _pool.free.clear()
        _pool.bytes = 0
    _pool.free.setdefault((a.shape, a.dtype, kind), []).append(a)
    _pool.bytes += a.nbytes
