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

__all__ = ["AXPY_FROM", "axpy", "linear_sgemm", "sgemm", "sgemm_function"]

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


_sgemm: list = []  # [sgemm_function() or None] once looked for


def sgemm():
    """``sgemm_function()``, looked for once: the function object or None."""
    if not _sgemm:
        _sgemm.append(sgemm_function())
    return _sgemm[0]


def linear_sgemm(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """``x @ w.T + b`` for C-contiguous float32 ``x`` (m, k), ``w`` (n, k) and ``b`` (n,)
    as one ``cblas_sgemm`` with beta = 1 over ``b`` copied into each row of the output
    (in parts on the threads), or None without OpenBLAS or for other arrays.

    OpenBLAS clears the output before a product with beta = 0 (NumPy's): that pass
    now writes the bias instead, and the bias's own pass over the result goes. The
    sums are added to the bias where NumPy's path adds the bias to the sums: the same
    bits while k fits one of OpenBLAS's blocks (up to 448 here), within rounding beyond.
    A language model's decoder, 700 x 200 @ 200 x 33278: 38.5-40.2 -> 35.7-37.1 ms.

    >>> x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    >>> out = linear_sgemm(x, w, np.arange(4, dtype=np.float32))
    >>> out is None or out.tolist() == [[3, 4, 5, 6], [3, 4, 5, 6]]
    True
    """
    f32 = np.float32
    if not (x.dtype == w.dtype == b.dtype == f32 and x.ndim == w.ndim == 2 and b.ndim == 1
            and x.shape[1] == w.shape[1] and b.shape[0] == w.shape[0]
            and x.flags.c_contiguous and w.flags.c_contiguous and b.flags.c_contiguous):
        return None
    fn = sgemm()
    if fn is None:
        return None
    from .threads import split_rows

    (m, k), n = x.shape, w.shape[0]
    out = np.empty((m, n), f32)
    split_rows(lambda lo, hi: np.copyto(out[lo:hi], b), out)
    # Row-major (101); x as it is (111), w transposed (112): out = x @ w.T + 1 * out.
    fn(101, 111, 112, m, n, k, 1.0, x.ctypes.data, k, w.ctypes.data, k, 1.0,
       out.ctypes.data, n)
    return out
