"""PyTorch's older spellings that course code still carries: the typed tensor constructors
(``FloatTensor(2, 3)``, ``LongTensor([1, 2])``) and ``autograd.Variable``.

Before PyTorch 0.4 a tensor's type was its class and autograd wrapped tensors in
``Variable``; since then both are spellings of plain tensors, and that is what they are
here: each typed constructor makes an ordinary ``Tensor`` of its dtype, ``isinstance``
tests the dtype, and ``Variable(t)`` is ``t``.

>>> import nabla
>>> x = nabla.FloatTensor([[1, 2], [3, 4]])
>>> x.dtype, isinstance(x, nabla.FloatTensor), isinstance(x, nabla.LongTensor)
(nabla.float32, True, False)
>>> nabla.LongTensor(2, 3).shape
(2, 3)
>>> x.type()
'nabla.FloatTensor'
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import backend
from .creation import tensor
from .tensor import Tensor


class _TypedTensorMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


class _TypedTensor(metaclass=_TypedTensorMeta):
    """``FloatTensor(*sizes)`` an uninitialised tensor of that shape (zeros here, so a
    program that reads it before filling it gets the same numbers each run),
    ``FloatTensor(data)`` the data in this dtype, ``FloatTensor()`` an empty one."""

    dtype: backend.DType

    def __new__(cls, *args, device=None):
        backend.device(device)
        if not args:
            return Tensor(np.empty(0, cls.dtype.np))
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return Tensor(np.zeros(tuple(int(a) for a in args), cls.dtype.np))
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}() takes sizes as ints or one sequence of data, "
                            f"got {', '.join(type(a).__name__ for a in args)}")
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype != cls.dtype:  # PyTorch refuses rather than converts
                raise TypeError(f"{cls.__name__}() got a tensor of dtype {data.dtype}; "
                                f"convert it with .to(nabla.{cls.dtype.name})")
            return data
        if isinstance(data, numbers.Number):
            raise TypeError(f"{cls.__name__}(): data must be a sequence (got "
                            f"{type(data).__name__}); for a shape pass ints")
        return tensor(data, dtype=cls.dtype)


def _typed(dtype: backend.DType) -> type:
    name = backend.LEGACY_NAMES[dtype]
    return _TypedTensorMeta(name, (_TypedTensor,), {"dtype": dtype, "__doc__": (
        f"A {dtype.name} tensor, the pre-0.4 spelling: ``nabla.{name}([1, 2])``, "
        f"``nabla.{name}(2, 3)``.")})


FloatTensor = _typed(backend.float32)
DoubleTensor = _typed(backend.float64)
HalfTensor = _typed(backend.float16)
BFloat16Tensor = _typed(backend.bfloat16)
LongTensor = _typed(backend.int64)
IntTensor = _typed(backend.int32)
ShortTensor = _typed(backend.int16)
CharTensor = _typed(backend.int8)
ByteTensor = _typed(backend.uint8)
BoolTensor = _typed(backend.bool_)


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """``autograd.Variable(t, requires_grad=...)``: a new leaf sharing ``t``'s data, as
    ``t.detach().requires_grad_(requires_grad)`` (PyTorch's since 0.4); every tensor is
    an instance.

    >>> import nabla
    >>> from nabla.autograd import Variable
    >>> v = Variable(nabla.ones(2), requires_grad=True)
    >>> (v * 3).sum().backward(); v.grad
    tensor([3., 3.])
    >>> isinstance(v, Variable)
    True
    """

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "nabla.no_grad():` instead.", UserWarning, stacklevel=2)
        return data.detach().requires_grad_(bool(requires_grad))
