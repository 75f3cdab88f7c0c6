"""More elementwise methods, mixed into ``Tensor``: trigonometric and hyperbolic inverses,
erf, exp2, atan2, hypot, logaddexp, xlogy, fmod, remainder, the logical functions,
``floor_divide``, ``signbit``, ``nan_to_num`` and ``count_nonzero``, with PyTorch's
names (the ``arc*`` spellings too) and values.

>>> import nabla
>>> round(nabla.tensor([1.0]).atan2(nabla.tensor([-1.0])).item(), 4)  # 3 pi / 4
2.3562
>>> nabla.logical_and(nabla.tensor([True, False]), nabla.tensor([True, True])).tolist()
[True, False]
"""

from __future__ import annotations

import numpy as np

from .ops import special as _sp
from .shapes import _dims

_UNARY, _BINARY = _sp.UNARY, _sp.BINARY


class TensorSpecial:
    """The methods; the function forms (``nabla.asin(x)``...) are made from them."""

    __slots__ = ()

    def tan(self):
        return self._unary(_UNARY["tan"])

    def asin(self):
        return self._unary(_UNARY["asin"])

    def acos(self):
        return self._unary(_UNARY["acos"])

    def atan(self):
        return self._unary(_UNARY["atan"])

    def sinh(self):
        return self._unary(_UNARY["sinh"])

    def cosh(self):
        return self._unary(_UNARY["cosh"])

    def asinh(self):
        return self._unary(_UNARY["asinh"])

    def acosh(self):
        return self._unary(_UNARY["acosh"])

    def atanh(self):
        return self._unary(_UNARY["atanh"])

    arcsin, arccos, arctan = asin, acos, atan
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def erf(self):
        return self._unary(_UNARY["erf"])

    def exp2(self):
        return self._unary(_UNARY["exp2"])

    def atan2(self, other):
        return self._binary(_BINARY["atan2"], other)

    arctan2 = atan2

    def hypot(self, other):
        return self._binary(_BINARY["hypot"], other)

    def logaddexp(self, other):
        return self._binary(_BINARY["logaddexp"], other)

    def xlogy(self, other):
        return self._binary(_BINARY["xlogy"], other)

    def fmod(self, other):
        """C's remainder: the sign of ``self`` (``remainder`` and ``%``: of ``other``)."""
        return self._binary(_BINARY["fmod"], other)

    def remainder(self, other):
        return self._binary(_BINARY["remainder"], other)

    def floor_divide(self, other):
        return self // other

    # --------------------------------------------- no gradient: booleans and counts
    def _logical(self, ufunc, other):
        return self._wrap(ufunc(self._data != 0, self._other(other)._data != 0))

    def logical_and(self, other):
        return self._logical(np.logical_and, other)

    def logical_or(self, other):
        return self._logical(np.logical_or, other)

    def logical_xor(self, other):
        return self._logical(np.logical_xor, other)

    def logical_not(self):
        return self._wrap(self._data == 0)

    def signbit(self):
        return self._wrap(np.signbit(self._data))

    def count_nonzero(self, dim=None):
        axis = _dims(dim, self.ndim)
        return self._wrap(np.asarray(np.count_nonzero(self._data, axis=axis), np.int64))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """nan, +inf and -inf replaced (by default with 0 and the dtype's extremes); the
        gradient flows where the value was finite, as in PyTorch."""
        finite = self.isfinite()
        kind = self._data.dtype.kind
        if kind not in "fc":
            return self.clone()
        lo, hi = np.finfo(self._data.dtype).min, np.finfo(self._data.dtype).max
        fill = np.nan_to_num(self._data, nan=nan, posinf=hi if posinf is None else posinf,
                             neginf=lo if neginf is None else neginf)
        return self.where(finite, self._wrap(fill))
