"""Reusable big temporaries, per thread: the workspace pool.

Kernels that need a large scratch array every call (im2col columns, their gradients,
padded copies of an input) take one here and hand it back when done, so that a
training step reuses the same memory instead of page-faulting on a fresh block each
time. It sits beside ``threads.py`` so that any layer (ops, nn, optim) can use it; it
imports nothing from nabla but ``refcounts``.

A kind of array is its shape and its ``np.dtype`` (a dtype object, as ``a.dtype`` is):

>>> import numpy as np
>>> f32 = np.dtype(np.float32)
>>> a = _take((2, 3), f32)
>>> _give(a)
>>> _take((2, 3), f32) is a
True
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from . import refcounts


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
    # Keyed by the dtype object, as _give keys what it is handed: a caller passing the
    # type (np.float32) must find it again (a Winograd buffer once never did).
    stack = _pool.free.get((shape, np.dtype(dtype), kind))
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


# A recurrent layer's training step allocates a few MB of (T, B, ...) buffers that its
# graph keeps until backward, with no point at which to hand them back. Fresh, they cost
# page faults on first touch on every call, because glibc hands large freed blocks back
# to the OS; measured on the 2-core development machine, that doubled the step time of
# the LSTM benchmark. So buffers are kept and handed out again once nothing but the
# pool holds them: an output or a saved buffer that a graph (or a user) still holds,
# directly or through a view, keeps its reference count up and is never reused.
_unshared_pool: dict = {}
_UNSHARED_KEYS = 64  # distinct (shape, dtype) pairs kept; beyond that, start over
_UNSHARED_PER_KEY = 8  # a backward holds up to 6 same-shaped buffers at once


def _probe_free_refcount():
    probe = [np.empty(0)]
    for a in probe:  # the same pattern as in _unshared: list, loop variable, call argument
        return sys.getrefcount(a)


_FREE = _probe_free_refcount()


def _unshared(shape, dtype):
    """``np.empty(shape, dtype)``, reusing a buffer of an earlier call that nothing but
    the pool refers to any more. Not per thread: call it on the thread that runs the op."""
    if not refcounts.EXACT:  # a count cannot tell a free buffer (refcounts.py)
        return np.empty(shape, dtype)
    key = (shape, dtype)
    arrs = _unshared_pool.get(key)
    if arrs is None:
        if len(_unshared_pool) >= _UNSHARED_KEYS:
            _unshared_pool.clear()
        arrs = _unshared_pool[key] = []
    for a in arrs:
        if sys.getrefcount(a) == _FREE:
            return a
    a = np.empty(shape, dtype)
    if len(arrs) < _UNSHARED_PER_KEY:
        arrs.append(a)
    return a
