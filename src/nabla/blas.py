"""BLAS routines that NumPy does not offer, called in the OpenBLAS NumPy itself loaded.

``y += alpha * x`` (axpy) is one fused multiply-add pass in BLAS, where NumPy takes two
(the product into a scratch array, then the sum) and rounds twice: a plain SGD update of
a 784x128 float32 layer takes 6 us instead of 19, and gives the bits of PyTorch's
``p.add_(g, alpha=-lr)``, which fuses the multiply-add too. The library is found
through ``threads.openblas_symbol`` (threadpoolctl) on first use, never at ``import nabla``;
where NumPy's BLAS is not OpenBLAS, or the symbol is missing, ``axpy`` says so and the
caller does the work in NumPy.

>>> import numpy as np
>>> y = np.ones(3, np.float32)
>>> if not axpy(2.0, np.arange(3, dtype=np.float32), y):
...     y += 2.0 * np.arange(3, dtype=np.float32)  # no OpenBLAS: the NumPy way
>>> y.tolist()
[1.0, 3.0, 5.0]
"""

from __future__ import annotations

import ctypes

import numpy as np

__all__ = ["AXPY_FROM", "axpy", "sgemm_function"]

_routines: dict = {}  # dtype -> the ctypes function, or None where there is none

# Updates of this many elements or more go through axpy. OpenBLAS runs it on all its
# threads beyond 10,000 elements; for a layer this big the call (~2 us through ctypes,
# one fused pass) beats NumPy's two passes by far (case 1's 784x128 layer: the step
# 478-497 -> 396 us, alternating processes). Smaller updates stay in NumPy: a mid-sized
# one woke OpenBLAS's sleeping threads in a program whose products are too small for
# them (Nielsen's 23,520 weights: 70 -> 94 us a step), and a small one gains nothing
# worth the ctypes call.
AXPY_FROM = 1 << 16


def _symbol(name):
    """``(function, integer type of its sizes)`` for the CBLAS routine ``name`` of NumPy's
    OpenBLAS, or (None, None)."""
    from .threads import openblas_symbol

    fn, suffix = openblas_symbol(name)
    if fn is None:
        return None, None
    return fn, ctypes.c_int if suffix == "" else ctypes.c_int64  # "64_": 64-bit ints


def _lookup(dtype):
    letter = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(dtype)
    if letter is None:
        return None
    fn, int_t = _symbol(f"cblas_{letter}axpy")
    if fn is not None:
        real = ctypes.c_float if letter == "s" else ctypes.c_double
        fn.restype = None
        fn.argtypes = [int_t, real, ctypes.c_void_p, int_t, ctypes.c_void_p, int_t]
    return fn


def sgemm_function():
    """OpenBLAS's ``cblas_sgemm`` as a ctypes function object (for compiled code to call:
    ``recurrent_kernels`` takes it as an argument), or None without OpenBLAS."""
    fn, i = _symbol("cblas_sgemm")
    if fn is None:
        return None
    e, f, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p  # enums, scalars, arrays
    proto = ctypes.CFUNCTYPE(None, e, e, e, i, i, i, f, p, i, p, i, f, p, i)
    return proto(ctypes.cast(fn, ctypes.c_void_p).value)


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y += alpha * x`` in place, as one BLAS pass; True when done, False (nothing
    done) where BLAS cannot: other dtypes than float32/float64, different shapes or
    dtypes, arrays that are not C-contiguous, or no OpenBLAS."""
    dt = y.dtype
    if (x.dtype != dt or x.shape != y.shape or not x.flags.c_contiguous
            or not y.flags.c_contiguous or not y.flags.writeable):
        return False
    fn = _routines.get(dt, False)
    if fn is False:
        fn = _routines[dt] = _lookup(dt)
    if fn is None:
        return False
    fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
    return True
