"""Making tensors: from data, filled with a value, ranges, and random samples.

>>> import nabla
>>> nabla.zeros(2, 3).shape, nabla.arange(3).tolist()
((2, 3), [0, 1, 2])
"""

from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .random import _np as _rng
from .shapes import _shape_arg
from .tensor import Tensor


def _infer_dtype(arr: np.ndarray, source) -> np.dtype:
    """PyTorch's choice of dtype for data given without one."""
    k = arr.dtype.kind
    if isinstance(source, (np.ndarray, np.generic)):  # NumPy data keeps its dtype
        return arr.dtype
    if k == "f":
        return backend._default_float[0].np
    if k in "iu":
        return np.dtype(np.int64)
    if k == "b":
        return np.dtype(np.bool_)
    raise TypeError(f"could not infer a dtype for data of type {arr.dtype}")


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists or an array).

    >>> tensor([[1, 2], [3, 4]])
    tensor([[1, 2],
            [3, 4]])
    >>> tensor([1.5, 2.0], requires_grad=True)
    tensor([1.5000, 2.0000], requires_grad=True)
    """
    backend.device(device)
    if isinstance(data, Tensor):
        arr = data._data.copy()
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        arr = np.array([np.asarray(x._data if isinstance(x, Tensor) else x) for x in data])
    else:
        try:
            arr = np.array(data)
        except ValueError as e:
            raise ValueError(f"could not make a tensor from this data: {e}") from None
        if arr.dtype == object:
            raise TypeError(
                "could not make a tensor: the data is ragged or holds non-numbers "
                f"({type(data).__name__})"
            )
    dt = backend.dtype(dtype).np if dtype is not None else _infer_dtype(arr, data)
    if arr.dtype != dt:
        arr = arr.astype(dt)
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        t = from_numpy(data)
        return t if dtype is None else t.to(dtype)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """Wrap a NumPy array without copying: the tensor and the array share memory.

    >>> a = np.zeros(3, dtype=np.float32)
    >>> t = from_numpy(a); a[0] = 5
    >>> t[0].item()
    5.0
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected a numpy.ndarray, got {type(arr).__name__}")
    return Tensor(arr)


def from_dlpack(x) -> Tensor:
    """A tensor sharing memory with any object that speaks DLPack."""
    return from_numpy(np.from_dlpack(x))


def _new(arr, dtype, requires_grad):
    return Tensor(arr.astype(backend.dtype(dtype).np, copy=False) if dtype is not None else arr,
                  requires_grad=requires_grad)


def _float_dtype(dtype):
    return backend.dtype(dtype).np if dtype is not None else backend._default_float[0].np


def _sizes(args, size, name):
    """The shape given positionally (``zeros(2, 3)``, ``zeros((2, 3))``) or as ``size=``."""
    if size is None:
        return _shape_arg(args)
    if args:
        raise TypeError(f"{name}() got the size both positionally and as size=")
    if not isinstance(size, (tuple, list)):  # PyTorch refuses size=5 too
        raise TypeError(f"{name}(): size= must be a tuple of ints, not {type(size).__name__}")
    return _shape_arg((size,))


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``."""
    backend.device(device)
    return Tensor(np.zeros(_sizes(args, size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)``."""
    backend.device(device)
    return Tensor(np.ones(_sizes(args, size, "ones"), _float_dtype(dtype)), requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    backend.device(device)
    return Tensor(np.empty(_sizes(args, size, "empty"), _float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value, as in PyTorch.

    >>> full((2,), 7)
    tensor([7, 7])
    """
    backend.device(device)
    if dtype is None:
        dtype = _infer_dtype(np.asarray(fill_value), fill_value)
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(np.full(size, fill_value, backend.dtype(dtype).np), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Evenly spaced values in ``[start, end)``; int64 when all arguments are ints.

    >>> arange(5)
    tensor([0, 1, 2, 3, 4])
    """
    backend.device(device)
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    if dtype is None:
        dtype = np.int64 if ints else backend._default_float[0].np
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    return Tensor(np.arange(start, end, step).astype(backend.dtype(dtype).np), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` values from ``start`` to ``end`` inclusive.

    >>> linspace(0, 1, 3)
    tensor([0.0000, 0.5000, 1.0000])
    """
    backend.device(device)
    return Tensor(np.linspace(start, end, int(steps)).astype(_float_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix (``n`` x ``m``)."""
    backend.device(device)
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def _sample_dtype(dtype, fn):
    dt = _float_dtype(dtype)
    if dt.kind != "f":  # casting samples in [0, 1) to ints would give zeros silently
        raise TypeError(f"{fn} needs a floating point dtype, got {backend.from_np(dt)}")
    return dt


def rand(*args, size=None, generator=None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """Uniform samples from [0, 1)."""
    backend.device(device)
    dt = _sample_dtype(dtype, "rand")
    return Tensor(_rng(generator).random(_sizes(args, size, "rand")).astype(dt), requires_grad)


def randn(*args, size=None, generator=None, dtype=None, device=None,
          requires_grad=False) -> Tensor:
    """Samples from the standard normal distribution."""
    backend.device(device)
    dt = _sample_dtype(dtype, "randn")
    shape = _sizes(args, size, "randn")
    return Tensor(_rng(generator).standard_normal(shape).astype(dt), requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None) -> Tensor:
    """Random integers in ``[low, high)``: ``randint(10, (3,))`` or ``randint(2, 5, (3,))``."""
    backend.device(device)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint needs a size: randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    arr = _rng(generator).integers(low, high, tuple(size))
    return Tensor(arr.astype(backend.dtype(dtype or np.int64).np))


def randperm(n, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    backend.device(device)
    return Tensor(_rng(generator).permutation(n).astype(backend.dtype(dtype or np.int64).np))


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None,
           device=None) -> Tensor:
    """Normal samples, PyTorch's ways: ``normal(mean_tensor, std_tensor)`` (or one of them a
    number) gives one sample per broadcast element; ``normal(0.0, 1.0, size=(2, 3))`` a
    tensor of ``size``. The result does not track gradients.

    >>> import nabla
    >>> g = nabla.Generator().manual_seed(0)
    >>> normal(nabla.zeros(3), 1.0, generator=g).shape
    (3,)
    >>> normal(2.0, 0.5, (2, 2)).dtype
    nabla.float32
    """
    backend.device(device)
    m, s = (x._data if isinstance(x, Tensor) else np.asarray(x) for x in (mean, std))
    if np.any(s < 0):
        raise ValueError(f"normal expects all elements of std >= 0.0, got {std}")
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if size is None and not tensors:
        raise TypeError("normal(mean, std) with two numbers needs a size: "
                        "normal(0.0, 1.0, size=(2, 3))")
    shape = _shape_arg((size,)) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    dt = np.dtype(_float_dtype(dtype)) if dtype is not None or not tensors else (
        tensors[0]._data.dtype)
    return Tensor((m + s * _rng(generator).standard_normal(shape)).astype(dt))


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """0/1 samples, 1 with probability ``input`` (or ``p``) elementwise, in ``input``'s
    dtype. The result does not track gradients.

    >>> import nabla
    >>> bernoulli(nabla.tensor([0.0, 1.0])).tolist()
    [0.0, 1.0]
    """
    probs = input._data if p is None else np.broadcast_to(np.asarray(p), input.shape)
    if probs.size and (np.min(probs) < 0 or np.max(probs) > 1):
        raise ValueError("bernoulli expects all probabilities in [0, 1], got values from "
                         f"{np.min(probs)} to {np.max(probs)}")
    draw = _rng(generator).random(input.shape) < probs
    return Tensor(draw.astype(input._data.dtype))


def _like(fn):
    def like(input, *args, dtype=None, requires_grad=False, **kwargs):
        dtype = dtype if dtype is not None else input.dtype
        return fn(*args, input.shape, dtype=dtype, requires_grad=requires_grad, **kwargs)

    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` with the shape (and, by default, dtype) of ``input``."
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(input, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input, low, high=None, generator=None, dtype=None) -> Tensor:
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype)
