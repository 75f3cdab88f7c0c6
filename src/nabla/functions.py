"""Functions of several tensors: products, selection, joining and padding.

>>> import nabla
>>> nabla.cat([nabla.zeros(1, 2), nabla.ones(1, 2)]).tolist()
[[0.0, 0.0], [1.0, 1.0]]
"""

from __future__ import annotations

from .creation import tensor
from .ops import elementwise as _ew
from .ops import linalg as _la
from .ops import movement as _mv
from .shapes import ShapeError, _dim
from .tensor import Tensor, _matmul
from .tensor_math import where_tensors


def _as(x) -> Tensor:
    return x if isinstance(x, Tensor) else tensor(x)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: batching, broadcasting, 1-D operands.

    >>> import nabla
    >>> matmul(nabla.ones(2, 3), nabla.ones(3)).tolist()
    [3.0, 3.0]
    """
    return _matmul(_as(a), _as(b))


def linear(x, weight, bias=None) -> Tensor:
    """``x @ weight.T + bias`` as one fused node.

    >>> import nabla
    >>> linear(nabla.ones(4, 3), nabla.ones(2, 3), nabla.zeros(2)).shape
    (4, 2)
    """
    return _linear(_la.Linear, x, weight, bias)


def _linear(op, x, weight, bias):
    """``linear`` through ``op``: ``Linear`` or a fused Linear+activation node."""
    if x._data.shape[-1] != weight._data.shape[-1]:
        raise ShapeError(
            f"linear: input of shape {tuple(x.shape)} does not fit weight of shape "
            f"{tuple(weight.shape)} (expected last dim {weight.shape[-1]})"
        )
    if bias is None:
        return op.apply(x, weight)
    return op.apply(x, weight, bias)


def where(condition, x, y) -> Tensor:
    """Elements of ``x`` where ``condition`` holds, else of ``y``.

    >>> import nabla
    >>> where(nabla.tensor([True, False]), 1.0, nabla.tensor([5.0, 6.0])).tolist()
    [1.0, 6.0]
    """
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x, y = tensor(x), tensor(y)
    elif not isinstance(x, Tensor):
        x = y._other(x)
    elif not isinstance(y, Tensor):
        y = x._other(y)
    return where_tensors(condition, x, y)


def maximum(a, b) -> Tensor:
    a = _as(a)
    return a._binary(_ew.Maximum, b)


def minimum(a, b) -> Tensor:
    a = _as(a)
    return a._binary(_ew.Minimum, b)


def cat(tensors, dim=0) -> Tensor:
    """Join tensors along an existing dimension.

    >>> import nabla
    >>> cat([nabla.zeros(1, 2), nabla.ones(2, 2)]).shape
    (3, 2)
    """
    tensors = [_as(t) for t in tensors]
    if not tensors:
        raise ValueError("cat expects a non-empty list of tensors")
    d = _dim(dim, tensors[0].ndim)
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != len(ref) or t.shape[:d] + t.shape[d + 1 :] != ref[:d] + ref[d + 1 :]:
            raise ShapeError(
                f"cat: sizes of tensors must match except in dimension {d}: tensor 0 has shape "
                f"{tuple(ref)} but tensor {i} has shape {tuple(t.shape)}"
            )
    return _mv.Cat.apply(*tensors, axis=d)


concatenate = cat


def stack(tensors, dim=0) -> Tensor:
    """Join tensors of one shape along a new dimension.

    >>> import nabla
    >>> stack([nabla.zeros(2), nabla.ones(2)], dim=1).shape
    (2, 2)
    """
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack expects a non-empty list of tensors")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise ShapeError(
                f"stack expects each tensor to be equal size, but got {tuple(shape)} "
                f"at entry 0 and {tuple(t.shape)} at entry {i}"
            )
    return _mv.Stack.apply(*tensors, axis=_dim(dim, len(shape) + 1))


def pad(x, pad, mode="constant", value=0.0) -> Tensor:
    """Pad with a constant, PyTorch's way: ``pad`` lists (left, right) from the last dim.

    >>> import nabla
    >>> pad(nabla.ones(2, 2), (1, 1)).shape
    (2, 4)
    """
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r}: only 'constant' is supported")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad must have an even length of at most 2*{x.ndim}, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return _mv.Pad.apply(x, tuple(widths), value)
