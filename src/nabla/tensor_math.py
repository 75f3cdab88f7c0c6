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
from .ops import index as _ix
from .ops import linalg as _la
from .ops import reduce as _rd
from .ops import sort as _srt
from .shapes import ShapeError, _axis_dim, _dim, _dims

values_indices = namedtuple("values_indices", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


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


def _fits(small, shape):
    """True when an array of shape ``small`` broadcasts to ``shape`` without growing it."""
    if len(small) > len(shape):
        return False
    for a, b in zip(reversed(small), reversed(shape)):
        if a != b and a != 1:
            return False
    return True


def _pow_zero_safe(x, p):
    """``x ** p`` for x >= 0 whose gradient at 0 is 0 even where the slope is infinite.

    x ** p with p < 1 is infinitely steep at 0, and inf times the 0 that flows back
    there is nan: a norm of zeros would poison every gradient. Raise a stand-in 1 where
    x is 0 and mask the result, so that no gradient flows through those elements.
    """
    pos = x > 0
    return where_tensors(pos, where_tensors(pos, x, x._other(1.0)) ** p, x._other(0.0))


def _matmul(a, b):
    """``matmul`` of two tensors, with NumPy's rules: batching, broadcasting, 1-D operands."""
    ad, bd = a._data, b._data  # the arrays' attributes: no Tensor property calls
    if ad.ndim == 2 and bd.ndim == 2 and ad.shape[1] == bd.shape[0]:
        return _la.MatMul.apply(a, b)  # the usual case, checked in one line
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("matmul: both arguments need at least one dimension")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ShapeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
            f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})"
        )
    if a.ndim == 1 or b.ndim == 1:
        # NumPy's rule: a 1-D operand becomes a matrix, and its dim is dropped from the
        # result; a's first, so that vector @ vector gives a 0-d tensor.
        out = _matmul(a.unsqueeze(0) if a.ndim == 1 else a, b.unsqueeze(-1) if b.ndim == 1 else b)
        if a.ndim == 1:
            out = out.squeeze(-2)
        return out.squeeze(-1) if b.ndim == 1 else out
    try:
        return _la.MatMul.apply(a, b)
    except ValueError:
        raise ShapeError(
            f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} cannot be "
            "broadcast together"
        ) from None


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
        return self._unary(_ew.Log1p)

    def expm1(self):
        return self._unary(_ew.Expm1)

    def clamp_min(self, min):
        """``clamp(min=min)``, PyTorch's spelling."""
        return self.clamp(min=min)

    def clamp_max(self, max):
        """``clamp(max=max)``, PyTorch's spelling."""
        return self.clamp(max=max)

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
        m = mask._data if isinstance(mask, TensorMath) else None
        if (m is not None and m.dtype == np.bool_ and type(value) in (float, int, bool)
                and self._data.dtype.kind == "f" and _fits(m.shape, self._data.shape)):
            # A number under a mask no bigger than the input (attention's causal mask):
            # a copy and a masked write instead of a where (ops/index.py).
            return _ix.MaskedFill.apply(self, m, self._data.dtype.type(value))
        return where_tensors(mask, self._other(value).to(self.dtype), self)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None, keepdims=None, axis=None):
        if keepdims is not None:  # NumPy's spelling, which PyTorch accepts too
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind == "b":
            x = x.long()
        return _rd.Sum.apply(x, _dims(dim, self.ndim), keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
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

    def max(self, dim=None, keepdim=False, keepdims=None, axis=None):
        """The largest value, or ``(values, indices)`` along ``dim``."""
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        return self._maxmin(dim, keepdim, True)

    def min(self, dim=None, keepdim=False, keepdims=None, axis=None):
        """The smallest value, or ``(values, indices)`` along ``dim``."""
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        return self._maxmin(dim, keepdim, False)

    def amax(self, dim=None, keepdim=False, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        return _rd.MaxMinAll.apply(self, _dims(dim, self.ndim), keepdim, True)

    def amin(self, dim=None, keepdim=False, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        return _rd.MaxMinAll.apply(self, _dims(dim, self.ndim), keepdim, False)

    def all(self, dim=None, keepdim=False, keepdims=None, axis=None):
        d = _dims(axis if dim is None else dim, self.ndim)
        keep = keepdim if keepdims is None else keepdims
        return _wrap(np.all(self._data, axis=d, keepdims=keep))

    def any(self, dim=None, keepdim=False, keepdims=None, axis=None):
        d = _dims(axis if dim is None else dim, self.ndim)
        keep = keepdim if keepdims is None else keepdims
        return _wrap(np.any(self._data, axis=d, keepdims=keep))

    def argmax(self, dim=None, keepdim=False, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        if dim is None:
            return _wrap(np.asarray(np.argmax(self._data), dtype=np.int64))
        d = _dim(dim, self.ndim)
        return _wrap(np.argmax(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def argmin(self, dim=None, keepdim=False, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        if dim is None:
            return _wrap(np.asarray(np.argmin(self._data), dtype=np.int64))
        d = _dim(dim, self.ndim)
        return _wrap(np.argmin(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None, keepdims=None,
            axis=None):
        """Variance; ``correction=1`` (Bessel's, the default) or ``unbiased=False`` for 0."""
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        if correction is None:
            correction = 0 if unbiased is False else 1
        d = _dims(dim, self.ndim)
        n = self.numel() if d is None else math.prod(
            self.shape[i] for i in (d if isinstance(d, tuple) else (d,))
        )
        centered = self - self.mean(d, keepdim=True)
        return (centered * centered).sum(d, keepdim=keepdim) / builtins.max(n - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None, keepdims=None,
            axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        # zero_at_zero: the std of constant values has gradient 0, not nan (as in PyTorch)
        return _ew.Sqrt.apply(self.var(dim, unbiased, keepdim, correction), True)

    def logsumexp(self, dim=None, keepdim=False, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
        if dim is None:  # required, as in PyTorch (only so that axis= can stand for it)
            raise TypeError('logsumexp() missing 1 required positional argument: "dim"')
        return self._unary(_rd.LogSumExp, _dims(dim, self.ndim), keepdim)

    def prod(self, dim=None, keepdim=False, keepdims=None, axis=None):
        if keepdims is not None:
            keepdim = keepdims
        if axis is not None:  # NumPy's spelling too
            dim = axis
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

    def softmax(self, dim=None, *, axis=None):
        if dim is None:
            dim = _axis_dim(axis, "softmax")
        return self._unary(_act.Softmax, _dim(dim, self.ndim))

    def log_softmax(self, dim=None, *, axis=None):
        if dim is None:
            dim = _axis_dim(axis, "log_softmax")
        return self._unary(_act.LogSoftmax, _dim(dim, self.ndim))

    def cumsum(self, dim=None, *, axis=None):
        if dim is None:
            dim = _axis_dim(axis, "cumsum")
        # cumsum = x @ upper-triangular ones: composite, so its gradient comes for free.
        d = _dim(dim, self.ndim)
        n = self.shape[d]
        tri = _wrap(np.triu(np.ones((n, n), dtype=self._data.dtype)))
        return (self.transpose(d, -1) @ tri).transpose(d, -1)

    def log2(self):
        return self._unary(_ew.LogBase, 2)

    def log10(self):
        return self._unary(_ew.LogBase, 10)

    def cumprod(self, dim=None, dtype=None, *, axis=None):
        """Cumulative product along ``dim``; the gradient is exact where values are 0.

        >>> import nabla
        >>> nabla.tensor([1.0, 2.0, 3.0]).cumprod(0).tolist()
        [1.0, 2.0, 6.0]
        """
        if dim is None:
            dim = _axis_dim(axis, "cumprod")
        x = self if dtype is None else self.to(dtype)
        return _srt.Cumprod.apply(x, _dim(dim, self.ndim) if self.ndim else 0)

    # ------------------------------------------------------------- order, counting
    def sort(self, dim=-1, descending=False, stable=False, *, axis=None):
        """``(values, indices)`` sorted along ``dim``; equal values keep their order
        (always: ``stable`` is accepted for PyTorch's signature), NaN last (first when
        descending).

        >>> import nabla
        >>> nabla.tensor([3.0, 1.0, 2.0]).sort(descending=True).indices.tolist()
        [0, 2, 1]
        """
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        if self.ndim == 0:
            return values_indices(self.clone(), _wrap(np.zeros((), np.int64)))
        d = _dim(dim, self.ndim)
        return values_indices(*_srt.SortAlong.apply(self, d, descending, None))

    def argsort(self, dim=-1, descending=False, stable=False, *, axis=None):
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        if self.ndim == 0:
            return _wrap(np.zeros((), np.int64))
        d = _dim(dim, self.ndim)
        return _wrap(_srt.order(self._data, d, descending).astype(np.int64, copy=False))

    def topk(self, k, dim=-1, largest=True, sorted=True, *, axis=None):
        """The ``k`` largest (or smallest) values along ``dim`` and their indices.

        >>> import nabla
        >>> nabla.tensor([1.0, 5.0, 3.0]).topk(2)
        topk(values=tensor([5., 3.]), indices=tensor([1, 2]))
        """
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        d = _dim(dim, builtins.max(self.ndim, 1))
        n = self.shape[d] if self.ndim else 1
        if not 0 <= k <= n:
            raise IndexError(f"topk: k ({k}) is out of range for dimension {d} of size {n}")
        if self.ndim == 0:
            return topk_result(self.clone(), _wrap(np.zeros((), np.int64)))
        return topk_result(*_srt.SortAlong.apply(self, d, largest, k))

    def histc(self, bins=100, min=0, max=0):
        """Counts in ``bins`` equal bins over [min, max] (the data's range when both are 0).

        >>> import nabla
        >>> nabla.tensor([1.0, 2.0, 1.0]).histc(bins=4, min=0, max=3).tolist()
        [0.0, 2.0, 1.0, 0.0]
        """
        if self._data.dtype.kind != "f":
            raise TypeError(f"histc needs a floating point tensor, got {self.dtype}")
        a = self._data
        lo, hi = float(min), float(max)
        if lo == hi and a.size:
            lo, hi = float(a.min()), float(a.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if lo > hi:
            raise ValueError(f"histc: max ({max}) must be larger than min ({min})")
        counts, _ = np.histogram(a, bins=bins, range=(lo, hi))
        return _wrap(counts.astype(a.dtype))

    def histogram(self, bins=100, *, range=None, weight=None, density=False):
        """``(hist, bin_edges)``: ``bins`` a count or a tensor of edges.

        >>> import nabla
        >>> nabla.tensor([1.0, 2.0, 1.0]).histogram(2).hist.tolist()
        [2.0, 1.0]
        """
        a = self._data
        if a.dtype.kind != "f":
            raise TypeError(f"histogram needs a floating point tensor, got {self.dtype}")
        edges = bins._data if isinstance(bins, TensorMath) else bins
        w = weight._data if isinstance(weight, TensorMath) else weight
        if range is None and not np.ndim(edges) and a.size:
            range = (float(a.min()), float(a.max()))
        hist, e = np.histogram(a, bins=edges, range=range, weights=w, density=density)
        return histogram_result(_wrap(hist.astype(a.dtype)), _wrap(e.astype(a.dtype)))

    def bincount(self, weights=None, minlength=0):
        """Occurrences of each value of a 1-D tensor of non-negative integers.

        >>> import nabla
        >>> nabla.tensor([0, 2, 2]).bincount().tolist()
        [1, 0, 2]
        """
        a = self._data
        if a.ndim != 1 or a.dtype.kind not in "iub":
            raise ValueError(
                f"bincount needs a 1-D tensor of integers, got {self.dtype} of shape "
                f"{tuple(self.shape)}"
            )
        if a.size and a.min() < 0:
            raise ValueError("bincount: the input must hold non-negative integers")
        if weights is None:
            return _wrap(np.bincount(a, minlength=minlength).astype(np.int64))
        w = weights._data if isinstance(weights, TensorMath) else np.asarray(weights)
        dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
        return _wrap(np.bincount(a, weights=w, minlength=minlength).astype(dtype))

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (sorted), with the inverse index and counts on request.

        >>> import nabla
        >>> nabla.tensor([3, 1, 3]).unique().tolist()
        [1, 3]
        """
        # always sorted, as PyTorch's CPU unique is whatever ``sorted`` says
        a = self._data
        axis = None if dim is None else _dim(dim, self.ndim)
        vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis)
        inv = inv.reshape(a.shape) if dim is None else inv.reshape(-1)
        out = [_wrap(vals)]
        if return_inverse:
            out.append(_wrap(inv.astype(np.int64, copy=False)))
        if return_counts:
            out.append(_wrap(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def nonzero(self, *, as_tuple=False):
        """Indices of the non-zero elements: an (n, ndim) tensor, or one per dim.

        >>> import nabla
        >>> nabla.tensor([0, 3, 0, 4]).nonzero().tolist()
        [[1], [3]]
        """
        a = self._data
        if as_tuple:
            if a.ndim == 0:
                return (_wrap(np.nonzero(a.reshape(1))[0].astype(np.int64)),)
            return tuple(_wrap(i.astype(np.int64)) for i in np.nonzero(a))
        return _wrap(np.argwhere(a).astype(np.int64))

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """Draw category indices from the rows of non-negative weights (1-D or 2-D).

        >>> import nabla
        >>> nabla.tensor([0.0, 1.0, 0.0]).multinomial(2, replacement=True).tolist()
        [1, 1]
        """
        from .random import _np as _rng

        w = self._data
        if w.ndim not in (1, 2) or w.dtype.kind != "f":
            raise ValueError(
                f"multinomial needs a 1-D or 2-D float tensor of weights, got {self.dtype} of "
                f"shape {tuple(self.shape)}"
            )
        rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
        if not np.isfinite(rows).all() or (rows < 0).any():
            raise ValueError("multinomial: weights must be finite and non-negative")
        total = rows.sum(axis=1, keepdims=True)
        if (total <= 0).any():
            raise ValueError("multinomial: every row of weights must have a positive sum")
        n = rows.shape[1]
        if num_samples <= 0:
            raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
        if not replacement and num_samples > n:
            raise ValueError(
                f"multinomial: cannot draw {num_samples} samples from {n} categories "
                "without replacement"
            )
        rng = _rng(generator)
        if replacement:
            # inverse CDF: one uniform per sample, searched in each row's cumulative sum
            cdf = np.cumsum(rows / total, axis=1)
            cdf[:, -1] = 1.0
            u = rng.random((rows.shape[0], num_samples))
            out = np.stack([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)])
            out = np.minimum(out, n - 1)
        else:
            # exponential race: category i arrives at E_i / w_i; the first k to arrive are
            # a sample without replacement (zero weights never arrive)
            if (np.count_nonzero(rows, axis=1) < num_samples).any():
                raise ValueError(
                    "multinomial: fewer categories with non-zero weight than samples "
                    "drawn without replacement"
                )
            with np.errstate(divide="ignore"):
                arrival = rng.standard_exponential(rows.shape) / rows
            out = np.argsort(arrival, axis=1, kind="stable")[:, :num_samples]
        out = out.astype(np.int64)
        return _wrap(out.reshape(w.shape[:-1] + (num_samples,)))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        o = other._data if isinstance(other, TensorMath) else other
        return _wrap(np.isclose(self._data, o, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def lerp(self, end, weight):
        """``self + weight * (end - self)``, differentiable in all three.

        >>> import nabla
        >>> nabla.tensor([0.0, 10.0]).lerp(nabla.tensor([10.0, 20.0]), 0.5).tolist()
        [5.0, 15.0]
        """
        return self + weight * (self._other(end) - self)
