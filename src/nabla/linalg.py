"""``nabla.linalg``: PyTorch's ``torch.linalg`` norms, differentiable: ``vector_norm``,
``matrix_norm`` (Frobenius and the max/min row and column sums) and ``norm``, which picks
between them as PyTorch does. The norms that need singular values ('nuc', 2, -2 on
matrices) are not here and say so. Loaded on first use of ``nabla.linalg``.

>>> import nabla
>>> nabla.linalg.vector_norm(nabla.tensor([3.0, 4.0])).item()
5.0
>>> nabla.linalg.norm(nabla.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1).item()
6.0
"""

from __future__ import annotations

import math

import numpy as np

from .creation import tensor
from .shapes import ShapeError, _dim
from .tensor import Tensor
from .tensor_math import where_tensors


def _input(fn, x, dtype):
    x = x if isinstance(x, Tensor) else tensor(x)
    if x._data.dtype.kind != "f":  # checked before ``dtype``'s cast, as PyTorch does
        raise TypeError(
            f"linalg.{fn}: expected a floating point tensor as input, got {x.dtype}")
    return x if dtype is None else x.to(dtype)


def _dims(dim, ndim):
    """``dim`` as a tuple of distinct non-negative dims, or None for all of them."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    dims = tuple(_dim(int(d), ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"linalg: dim {tuple(dim)} names a dimension twice")
    return dims


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """The ``ord``-norm of ``x``'s elements along ``dim`` (all of them if None): ``ord``
    is any real number, ``inf`` (the largest magnitude), ``-inf`` (the smallest) or 0 (the
    count of nonzeros). The gradient of the 2-norm at 0 is 0, as in PyTorch.

    >>> import nabla
    >>> nabla.linalg.vector_norm(nabla.tensor([[3.0, -4.0]]), ord=1, dim=1).tolist()
    [7.0]
    """
    x = _input("vector_norm", x, dtype)
    if isinstance(ord, str) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    dims = _dims(dim, x.ndim)
    if x.ndim == 0:
        x = x.reshape(1)
        dims = None
    if ord in (math.inf, -math.inf) and any(
        x.shape[d] == 0 for d in (range(x.ndim) if dims is None else dims)
    ):
        raise ShapeError(
            f"linalg.vector_norm: cannot compute the {ord} norm of an empty tensor "
            "(no identity for max or min)")
    if ord == 0:
        # the count of nonzeros; routed through x so that its gradient (zero) reaches it
        ones = where_tensors(x != 0, x._other(1.0), x * 0)
        return ones.sum(dims, keepdim)
    if ord < 0 and not math.isinf(ord):
        # a zero's negative power is inf (and the norm 0): put it in without 0 ** -p's
        # division warning, and with no gradient through it
        ax = x.abs()
        nonzero = ax > 0
        powered = where_tensors(nonzero, where_tensors(nonzero, ax, x._other(1.0)) ** ord,
                                x._other(math.inf))
        return powered.sum(dims, keepdim) ** (1.0 / ord)
    return x.norm(ord, dims, keepdim)


def matrix_norm(a, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None) -> Tensor:
    """The matrix norm over the two dims ``dim``: 'fro' (Frobenius), 1 / -1 (the largest /
    smallest column sum of magnitudes), inf / -inf (row sums). 'nuc', 2 and -2 need
    singular values, which nabla does not compute: NotImplementedError.

    >>> import nabla
    >>> nabla.linalg.matrix_norm(nabla.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=math.inf).item()
    7.0
    """
    a = _input("matrix_norm", a, dtype)
    if a.ndim < 2:
        raise ShapeError(
            f"linalg.matrix_norm: the input must have at least 2 dimensions, got shape "
            f"{tuple(a.shape)}")
    dims = _dims(dim, a.ndim)
    if len(dims) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must be a 2-tuple of ints, got {dim!r}")
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(
            f"linalg.matrix_norm: ord={ord!r} needs singular values, which nabla does not "
            "compute; 'fro', 1, -1, inf and -inf are supported")
    if ord == "fro":
        return a.norm(2, dims, keepdim)
    if ord not in (1, -1, math.inf, -math.inf):
        raise ValueError(
            f"linalg.matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, "
            f"got {ord!r}")
    if any(a.shape[d] == 0 for d in dims):
        raise ShapeError(
            f"linalg.matrix_norm: cannot compute the {ord} norm of an empty matrix of shape "
            f"{tuple(a.shape)}")
    rows, cols = dims
    # ord 1 sums down each column and takes the extreme column; inf, along each row
    summed, across = (rows, cols) if abs(ord) == 1 else (cols, rows)
    sums = a.abs().sum(summed, keepdim=True)
    out = sums.amax(across, keepdim=True) if ord > 0 else sums.amin(across, keepdim=True)
    return out if keepdim else out.squeeze(dims)


def norm(a, ord=None, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """A vector or matrix norm, chosen as PyTorch chooses: with an int ``dim`` (or one
    dim) a vector norm, with two a matrix norm; without ``dim``, the 2-norm of all the
    elements when ``ord`` is None, else the norm of the 1-D or 2-D input.

    >>> import nabla
    >>> nabla.linalg.norm(nabla.ones(2, 2)).item()
    2.0
    """
    a = _input("norm", a, dtype)
    if dim is not None:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        if len(dims) == 1:
            if isinstance(ord, str):
                raise ValueError(
                    f"linalg.norm: ord {ord!r} is a matrix norm, but dim {dim!r} names one "
                    "dimension")
            return vector_norm(a, 2 if ord is None else ord, dims, keepdim)
        if len(dims) == 2:
            return matrix_norm(a, "fro" if ord is None else ord, dims, keepdim)
        raise ValueError(f"linalg.norm: dim must be an int or a tuple of 1 or 2, got {dim!r}")
    if ord is None:
        return vector_norm(a, 2, None, keepdim)
    if a.ndim == 1:
        if isinstance(ord, str):
            raise ValueError(f"linalg.norm: ord {ord!r} is a matrix norm, but the input is 1-D")
        return vector_norm(a, ord, None, keepdim)
    if a.ndim == 2:
        return matrix_norm(a, ord, (0, 1), keepdim)
    raise ShapeError(
        f"linalg.norm: with ord and no dim the input must be 1-D or 2-D, got shape "
        f"{tuple(a.shape)}")
