"""Functions of several tensors: products, selection, joining and padding; index and range
factories (``tril_indices``, ``logspace``).

>>> import nabla
>>> nabla.cat([nabla.zeros(1, 2), nabla.ones(1, 2)]).tolist()
[[0.0, 0.0], [1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from . import backend, out_arg
from .creation import _float_dtype, tensor
from .ops import elementwise as _ew
from .ops import linalg as _la
from .ops import movement as _mv
from .ops import pad as _pad
from .shapes import ShapeError, _dim
from .tensor import Tensor
from .tensor_math import _matmul, where_tensors


def _as(x) -> Tensor:
    return x if isinstance(x, Tensor) else tensor(x)


def matmul(a, b, *, out=None) -> Tensor:
    """Matrix product with NumPy's rules: batching, broadcasting, 1-D operands.

    >>> import nabla
    >>> matmul(nabla.ones(2, 3), nabla.ones(3)).tolist()
    [3.0, 3.0]
    """
    return out_arg.write("matmul", _matmul(_as(a), _as(b)), out)


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


def where(condition, x, y, *, out=None) -> Tensor:
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
    return out_arg.write("where", where_tensors(condition, x, y), out)


def maximum(a, b, *, out=None) -> Tensor:
    return out_arg.write("maximum", _as(a)._binary(_ew.Maximum, b), out)


def minimum(a, b, *, out=None) -> Tensor:
    return out_arg.write("minimum", _as(a)._binary(_ew.Minimum, b), out)


def cat(tensors, dim=0, *, axis=None, out=None) -> Tensor:
    """Join tensors along an existing dimension.

    >>> import nabla
    >>> cat([nabla.zeros(1, 2), nabla.ones(2, 2)]).shape
    (3, 2)
    """
    if axis is not None:  # NumPy's spelling, which PyTorch takes too
        dim = axis
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
    return out_arg.write("cat", _mv.Cat.apply(*tensors, axis=d), out)


concatenate = cat


def hstack(tensors, *, out=None) -> Tensor:
    """Join along dim 1 (dim 0 for 1-D tensors), as ``torch.hstack``.

    >>> import nabla
    >>> hstack([nabla.zeros(2, 1), nabla.ones(2, 3)]).shape
    (2, 4)
    """
    tensors = [_as(t) for t in tensors]
    return cat(tensors, dim=0 if tensors and tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None) -> Tensor:
    """Join along dim 0, 1-D tensors first made rows, as ``torch.vstack``.

    >>> import nabla
    >>> vstack([nabla.zeros(3), nabla.ones(3)]).shape
    (2, 3)
    """
    tensors = [_as(t) for t in tensors]
    return cat([t.unsqueeze(0) if t.ndim == 1 else t for t in tensors], dim=0, out=out)


def stack(tensors, dim=0, *, axis=None, out=None) -> Tensor:
    """Join tensors of one shape along a new dimension.

    >>> import nabla
    >>> stack([nabla.zeros(2), nabla.ones(2)], dim=1).shape
    (2, 2)
    """
    if axis is not None:  # NumPy's spelling, which PyTorch takes too
        dim = axis
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
    return out_arg.write("stack", _mv.Stack.apply(*tensors, axis=_dim(dim, len(shape) + 1)),
                         out)


def pad(x, pad, mode="constant", value=None) -> Tensor:
    """Pad PyTorch's way: ``pad`` lists (left, right) from the last dim backwards, and
    ``mode`` is 'constant' (with ``value``), 'reflect', 'replicate' or 'circular'.

    >>> import nabla
    >>> pad(nabla.ones(2, 2), (1, 1)).shape
    (2, 4)
    >>> pad(nabla.tensor([[1.0, 2.0, 3.0]]), (2, 0), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0]]
    """
    x = _as(x)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad must have an even length of at most 2*{x.ndim}, got {pad}")
    if mode == "constant":
        widths = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
        return _mv.Pad.apply(x, tuple(widths), 0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: value is only used in 'constant' mode, not {mode!r}")
    index = _pad.padding_index(x.shape, pad, mode)
    return x[(slice(None),) * (x.ndim - len(index)) + index]


def einsum(equation, *operands) -> Tensor:
    """Einstein summation over the operands, differentiable in each.

    >>> import nabla
    >>> einsum("ij,jk->ik", nabla.ones(2, 3), nabla.ones(3, 4)).shape
    (2, 4)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [_as(t) for t in operands]
    if not ts:
        raise ValueError("einsum needs at least one operand")
    subs, out = _la.einsum_subscripts(equation, [t.shape for t in ts])
    sizes = {}
    for sub, t in zip(subs, ts):
        for c, n in zip(sub, t.shape):
            if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                raise ShapeError(
                    f"einsum: subscript {c!r} has size {sizes[c]} and {n} in {equation!r}"
                )
    if len({t._data.dtype for t in ts}) > 1:  # one dtype, as PyTorch requires
        raise TypeError(f"einsum: operands have different dtypes {[t.dtype for t in ts]}")
    return _la.Einsum.apply(*ts, subs=tuple(subs), out=out)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors; ``indexing`` 'ij' (matrix) or 'xy' (Cartesian).

    >>> import nabla
    >>> [g.shape for g in meshgrid(nabla.arange(2), nabla.arange(3), indexing="ij")]
    [(2, 3), (2, 3)]
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [_as(t) for t in tensors]
    for t in ts:
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: inputs must be 0-D or 1-D, got shape {tuple(t.shape)}")
    ts = [t.reshape(-1) for t in ts]
    shape = tuple(t.shape[0] for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = t.shape[0]
        grids.append(t.reshape(view).expand(shape))
    if indexing == "xy" and len(ts) >= 2:  # Cartesian: the first two axes swap
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def lerp(input, end, weight, *, out=None) -> Tensor:
    """``input + weight * (end - input)``."""
    return out_arg.write("lerp", _as(input).lerp(end, weight), out)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return _as(input).isclose(other, rtol, atol, equal_nan)


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    return _as(input).histogram(bins, range=range, weight=weight, density=density)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    return _as(input).multinomial(num_samples, replacement, generator=generator)


def nonzero(input, *, as_tuple=False):
    return _as(input).nonzero(as_tuple=as_tuple)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None) -> Tensor:
    return out_arg.write("baddbmm", _as(input).baddbmm(batch1, batch2, beta=beta, alpha=alpha),
                         out)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """``Tensor.repeat_interleave``; with one argument, a 1-D tensor of counts ``r``, the
    indices ``0..len(r)-1`` each repeated as often as ``r`` says.

    >>> import nabla
    >>> repeat_interleave(nabla.tensor([2, 1])).tolist()
    [0, 0, 1]
    """
    if repeats is None:
        counts = _as(input)
        if counts.ndim != 1 or counts._data.dtype.kind not in "iu":
            raise ShapeError(
                "repeat_interleave: a single argument must be a 1-D integer tensor of "
                f"counts, got shape {tuple(counts.shape)} of {counts.dtype}"
            )
        if counts._data.size and counts._data.min() < 0:
            raise ValueError("repeat_interleave: repeats must be non-negative")
        n = counts.shape[0]
        return Tensor._wrap(np.repeat(np.arange(n, dtype=counts._data.dtype), counts._data))
    return _as(input).repeat_interleave(repeats, dim, output_size=output_size)


def isin(elements, test_elements, *, assume_unique=False, invert=False) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements`` (either may be a number),
    as a bool tensor of ``elements``'s shape; ``invert`` asks the opposite.

    >>> import nabla
    >>> isin(nabla.tensor([1, 2, 3]), nabla.tensor([3, 1])).tolist()
    [True, False, True]
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: elements or test_elements must be a tensor, got two numbers")
    # a number compares in the tensor's dtype, as PyTorch's scalars do
    e = elements if isinstance(elements, Tensor) else test_elements._other(elements)
    t = test_elements if isinstance(test_elements, Tensor) else e._other(test_elements)
    return Tensor._wrap(np.isin(e._data, t._data.reshape(-1), invert=bool(invert)))


def _triangle_indices(name, row, col, offset, dtype, upper):
    for arg, v in (("row", row), ("col", col)):
        if int(v) < 0:
            raise ValueError(f"{name}: {arg} must be non-negative, got {v}")
    dt = backend.dtype(backend.int64 if dtype is None else dtype).np
    if dt.kind not in "iu":
        raise TypeError(f"{name}: dtype must be an integer dtype, got {dtype}")
    # row-major order, as PyTorch lists them
    pick = np.triu_indices if upper else np.tril_indices
    rows, cols = pick(int(row), int(offset), int(col))
    return Tensor._wrap(np.stack([rows, cols]).astype(dt).reshape(2, -1))


def tril_indices(row, col, offset=0, *, dtype=None, device=None) -> Tensor:
    """The (row, col) coordinates of a ``row`` x ``col`` matrix's lower triangle (on and
    below diagonal ``offset``), as a (2, N) int64 tensor in row-major order.

    >>> tril_indices(3, 3).tolist()
    [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]
    """
    backend.device(device)
    return _triangle_indices("tril_indices", row, col, offset, dtype, False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None) -> Tensor:
    """The (row, col) coordinates of a ``row`` x ``col`` matrix's upper triangle (on and
    above diagonal ``offset``), as a (2, N) int64 tensor in row-major order.

    >>> triu_indices(2, 3, 1).tolist()
    [[0, 0, 1], [1, 2, 2]]
    """
    backend.device(device)
    return _triangle_indices("triu_indices", row, col, offset, dtype, True)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in the
    exponent.

    >>> logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    backend.device(device)
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"logspace: number of steps must be non-negative, got {steps}")
    dt = _float_dtype(dtype)
    values = np.power(float(base), np.linspace(float(start), float(end), steps))
    return Tensor(values.astype(dt), requires_grad)
