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


def _unary_method(name):
    """The method computing ``ops/special.py``'s node ``name`` of one tensor."""
    node = _UNARY[name]

    def method(self):
        return self._unary(node)

    method.__name__, method.__doc__ = name, node.__doc__
    return method


def _binary_method(name, doc=None):
    """The method computing ``ops/special.py``'s node ``name`` of this tensor and another
    (or a number), broadcast and promoted as ``+`` is."""
    node = _BINARY[name]

    def method(self, other):
        return self._binary(node, other)

    method.__name__, method.__doc__ = name, doc or node.__doc__
    return method


class TensorSpecial:
    """The methods; the function forms (``nabla.asin(x)``...) are made from them."""

    __slots__ = ()

    tan = _unary_method("tan")
    asin = arcsin = _unary_method("asin")
    acos = arccos = _unary_method("acos")
    atan = arctan = _unary_method("atan")
    sinh = _unary_method("sinh")
    cosh = _unary_method("cosh")
    asinh = arcsinh = _unary_method("asinh")
    acosh = arccosh = _unary_method("acosh")
    atanh = arctanh = _unary_method("atanh")
    erf = _unary_method("erf")
    exp2 = _unary_method("exp2")
    atan2 = arctan2 = _binary_method("atan2")
    hypot = _binary_method("hypot")
    logaddexp = _binary_method("logaddexp")
    xlogy = _binary_method("xlogy")
    fmod = _binary_method(
        "fmod", "C's remainder: the sign of ``self`` (``remainder`` and ``%``: of ``other``).")
    remainder = _binary_method("remainder")

    def floor_divide(self, other):
        return self // other

    # --------------------------------------------- no gradient: booleans and counts
    def _logical(self, ufunc, other):
        # the comparisons' own path (and its shape error) on the operands' truth values
        return (self != 0)._compare(ufunc, self._other(other) != 0)

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

    def count_nonzero(self, dim=None, *, axis=None):
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        d = _dims(dim, self.ndim)
        return self._wrap(np.asarray(np.count_nonzero(self._data, axis=d), np.int64))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """nan, +inf and -inf replaced (by default with 0 and the dtype's extremes); the
        gradient flows where the value was finite, as in PyTorch."""
        if self._data.dtype.kind != "f":
            return self.clone()  # integers and booleans are finite
        info = np.finfo(self._data.dtype)
        fill = np.nan_to_num(self._data, nan=nan, posinf=info.max if posinf is None else posinf,
                             neginf=info.min if neginf is None else neginf)
        return self.where(self.isfinite(), self._wrap(fill))
