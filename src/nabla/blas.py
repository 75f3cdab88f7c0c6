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

__all__ = ["axpy"]

_routines: dict = {}  # dtype -> the ctypes function, or None where there is none


def _lookup(dtype):
    from .threads import openblas_symbol

    letter = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(dtype)
    if letter is None:
        return None
    fn, suffix = openblas_symbol(f"cblas_{letter}axpy")
    if fn is not None:
        int_t = ctypes.c_int if suffix == "" else ctypes.c_int64  # "64_": 64-bit ints
        real = ctypes.c_float if letter == "s" else ctypes.c_double
        fn.restype = None
        fn.argtypes = [int_t, real, ctypes.c_void_p, int_t, ctypes.c_void_p, int_t]
    return fn


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
