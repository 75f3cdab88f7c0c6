"""The tensor's math methods: elementwise functions and reductions.

``Tensor`` inherits them from ``TensorMath``; each is a thin wrapper that picks the
primitive in ``ops/`` and normalises its arguments. They make tensors only through the
engine's ``Tensor`` (set by ``tensor.py``), so this module does not import it.

>>> import nabla
>>> nabla.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(1).tolist()
[3.0, 7.0]
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from . import autograd as _autograd
from .ops import activation as _act
from .ops import elementwise as _ew
from .ops import reduce as _rd
from .shapes import ShapeError, _dim, _dims

values_indices = namedtuple("values_indices", ["values", "indices"])


def _wrap(arr):
    """A tensor around ``arr``, through the engine's reference to the class."""
    return _autograd.Tensor._wrap(arr)


def where_tensors(condition, x, y):
    """``where`` for two tensors ``x`` and ``y``; ``condition`` may be anything boolean."""
    cond = condition._data if isinstance(condition, TensorMath) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    try:
        return _ew.Where.apply(x, y, cond)
    except ValueError:
        raise ShapeError(
            f"where: condition {cond.shape}, x {tuple(x.shape)} and y {tuple(y.shape)} cannot "
            "be broadcast together"
        ) from None


def _pow_zero_safe(x, p):
    """``x ** p`` for x >= 0 whose gradient at 0 is 0 even where the slope is infinite.

    x ** p with p < 1 is infinitely steep at 0, and inf times the 0 that flows back
    there is nan: a norm of zeros would poison every gradient. Raise a stand-in 1 where
    x is 0 and mask the result, so that no gradient flows through those elements.
    """
    pos = x > 0
    return where_tensors(pos, where_tensors(pos, x, x._other(1.0)) ** p, x._other(0.0))


class TensorMath:
    """Elementwise functions and reductions, mixed into ``Tensor``."""

    __slots__ = ()

    # ----------------------------------------------------------------- elementwise
    def _unary(self, fn, *params):
        x = self if self._data.dtype.kind == "f" else self.float()
        return fn.apply(x, *params)

    def exp(self):
        return self._unary(_ew.Exp)

    def log(self):
        return self._unary(_ew.Log)

    def sqrt(self):
        return self._unary(_ew.Sqrt)

    def rsqrt(self):
        return 1 / self.sqrt()

    def abs(self):
        if self._data.dtype.kind != "f":
            return _wrap(np.abs(self._data))
        return _ew.Abs.apply(self)

    def sin(self):
        return self._unary(_ew.Sin)

    def cos(self):
        return self._unary(_ew.Cos)

    def tanh(self):
        return self._unary(_ew.Tanh)

    def sigmoid(self):
        return self._unary(_ew.Sigmoid)

    def relu(self):
        return self._unary(_ew.Relu)

    def leaky_relu(self, negative_slope=0.01):
        return self._unary(_ew.LeakyRelu, negative_slope)

    def softplus(self, beta=1.0, threshold=20.0):
        return self._unary(_ew.Softplus, beta, threshold)

    def gelu(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        return self._unary(_ew.Gelu, approximate)

    def square(self):
        return self * self

    def reciprocal(self):
        return 1 / self

    def log1p(self):
        return (self + 1).log()

    def expm1(self):
        return self.exp() - 1

    def clamp(self, min=None, max=None):
        """Limit values to ``[min, max]``; the gradient is 1 inside, 0 outside."""
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        if isinstance(min, TensorMath) or isinstance(max, TensorMath):
            out = self
            if min is not None:
                out = out._binary(_ew.Maximum, min)
            if max is not None:
                out = out._binary(_ew.Minimum, max)
            return out
        return _ew.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        return self._binary(_ew.Maximum, other)

    def minimum(self, other):
        return self._binary(_ew.Minimum, other)

    def where(self, condition, other):
        return where_tensors(condition, self, self._other(other))

    def masked_fill(self, mask, value):
        return where_tensors(mask, self._other(value).to(self.dtype), self)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind == "b":
            x = x.long()
        return _rd.Sum.apply(x, _dims(dim, self.ndim), keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            raise TypeError(
                f"mean() needs a floating point tensor, got {x.dtype}: convert with .float()"
            )
        return _rd.Mean.apply(x, _dims(dim, self.ndim), keepdim)

    def _maxmin(self, dim, keepdim, is_max):
        if self._data.size == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}() of an empty tensor")
        if dim is None:
            return _rd.MaxMinAll.apply(self, None, False, is_max)
        if isinstance(dim, TensorMath):  # max(a, b) written as a.max(b)
            return self._binary(_ew.Maximum if is_max else _ew.Minimum, dim)
        return values_indices(*_rd.MaxMinDim.apply(self, _dim(dim, self.ndim), keepdim, is_max))

    def max(self, dim=None, keepdim=False):
        """The largest value, or ``(values, indices)`` along ``dim``."""
        return self._maxmin(dim, keepdim, True)

    def min(self, dim=None, keepdim=False):
        """The smallest value, or ``(values, indices)`` along ``dim``."""
        return self._maxmin(dim, keepdim, False)

    def amax(self, dim=None, keepdim=False):
        return _rd.MaxMinAll.apply(self, _dims(dim, self.ndim), keepdim, True)

    def amin(self, dim=None, keepdim=False):
        return _rd.MaxMinAll.apply(self, _dims(dim, self.ndim), keepdim, False)

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return _wrap(np.asarray(np.argmax(self._data), dtype=np.int64))
        d = _dim(dim, self.ndim)
        return _wrap(np.argmax(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return _wrap(np.asarray(np.argmin(self._data), dtype=np.int64))
        d = _dim(dim, self.ndim)
        return _wrap(np.argmin(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        """Variance; ``correction=1`` (Bessel's, the default) or ``unbiased=False`` for 0."""
        if correction is None:
            correction = 0 if unbiased is False else 1
        d = _dims(dim, self.ndim)
        n = self.numel() if d is None else math.prod(
            self.shape[i] for i in (d if isinstance(d, tuple) else (d,))
        )
        centered = self - self.mean(d, keepdim=True)
        return (centered * centered).sum(d, keepdim=keepdim) / builtins.max(n - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        # zero_at_zero: the std of constant values has gradient 0, not nan (as in PyTorch)
        return _ew.Sqrt.apply(self.var(dim, unbiased, keepdim, correction), True)

    def logsumexp(self, dim, keepdim=False):
        return self._unary(_rd.LogSumExp, _dims(dim, self.ndim), keepdim)

    def prod(self, dim=None, keepdim=False):
        return _rd.Prod.apply(self, None if dim is None else _dim(dim, self.ndim), keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        """The p-norm (2, 1, inf, -inf or any p > 0); its gradient at 0 is 0, not nan."""
        if p == 2:
            x = self if self._data.dtype.kind == "f" else self.float()
            return _ew.Sqrt.apply((x * x).sum(dim, keepdim), True)
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if p == math.inf:
            return self.abs().amax(dim, keepdim)
        if p == -math.inf:
            return self.abs().amin(dim, keepdim)
        return _pow_zero_safe(_pow_zero_safe(self.abs(), p).sum(dim, keepdim), 1.0 / p)

    def softmax(self, dim):
        return self._unary(_act.Softmax, _dim(dim, self.ndim))

    def log_softmax(self, dim):
        return self._unary(_act.LogSoftmax, _dim(dim, self.ndim))

    def cumsum(self, dim):
        # cumsum = x @ upper-triangular ones: composite, so its gradient comes for free.
        d = _dim(dim, self.ndim)
        n = self.shape[d]
        tri = _wrap(np.triu(np.ones((n, n), dtype=self._data.dtype)))
        return (self.transpose(d, -1) @ tri).transpose(d, -1)
