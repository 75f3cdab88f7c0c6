"""``Tensor``: an n-dimensional array that records the ops applied to it.

A Tensor holds its values in ``.data`` (a backend array: NumPy on the CPU). Ops on
tensors that need gradients are recorded as a graph of ``Function`` nodes, and
``backward()`` walks that graph to fill ``.grad`` of the leaves.

>>> import nabla
>>> w = nabla.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> x = nabla.tensor([1.0, -1.0])
>>> y = (w @ x).relu().sum()
>>> y.backward()
>>> y.item(), w.grad.tolist()
(0.0, [[0.0, 0.0], [0.0, 0.0]])
"""

from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple

import numpy as np

from . import autograd as _autograd
from . import backend
from .autograd import Function, is_grad_enabled
from .autograd import backward as _backward
from .ops import activation as _act
from .ops import elementwise as _ew
from .ops import linalg as _la
from .ops import movement as _mv
from .ops import reduce as _rd
from .random import _np as _rng

_float32 = np.dtype(np.float32)
_float64 = np.dtype(np.float64)
_ndarray = np.ndarray


class ShapeError(RuntimeError, ValueError):
    """Shapes that do not fit together (catchable as RuntimeError or ValueError)."""


values_indices = namedtuple("values_indices", ["values", "indices"])


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine casts gradients to each input's dtype


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def _shape_arg(shape):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _dim(d, ndim):
    """Normalise a (possibly negative) dim, with a clear error when out of range."""
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(
            f"dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
        )
    return d % n


def _dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(_dim(d, ndim) for d in dim)
    return _dim(dim, ndim)


class Tensor:
    """An n-dimensional array with automatic differentiation.

    Build tensors with ``nabla.tensor``, ``nabla.zeros`` and friends rather than
    calling the class directly.

    >>> t = Tensor(np.arange(3.0))
    >>> t.shape, t.dtype
    ((3,), nabla.float64)
    """

    __slots__ = ("_data", "grad", "requires_grad", "grad_fn", "_output_nr", "_vc", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor hands over to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False):
        arr = data._data if isinstance(data, Tensor) else np.asarray(data)
        backend.from_np(arr.dtype)
        self._data = arr
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._vc = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, arr, requires_grad=False, grad_fn=None, output_nr=0):
        """Make a tensor around ``arr`` without checks: the engine's fast path."""
        t = object.__new__(cls)
        t._data = arr if type(arr) is _ndarray else np.asarray(arr)
        t.grad = None
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._output_nr = output_nr
        t._vc = [0]
        return t

    # ----------------------------------------------------------------- properties
    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data = value

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> backend.DType:
        return backend.from_np(self._data.dtype)

    @property
    def device(self) -> backend.Device:
        return backend.CPU

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    @property
    def _version(self) -> int:
        return self._vc[0]

    def size(self, dim=None):
        """The shape, or the length of one dimension."""
        if dim is None:
            return self._data.shape
        return self._data.shape[_dim(dim, self.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # Identity, as in PyTorch (== is elementwise); the C slot, not a Python call, since
    # optimizers look parameters up in dicts on every step.
    __hash__ = object.__hash__

    # ----------------------------------------------------------------- conversion
    def numpy(self, force: bool = False) -> np.ndarray:
        """The values as a NumPy array, sharing memory with the tensor."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "can't call numpy() on a tensor that requires grad: use tensor.detach().numpy()"
            )
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(
                f"a tensor with {self._data.size} elements cannot be converted to a Python scalar"
            )
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if copy is True:
            return np.array(self._data, dtype=dtype, copy=True)
        if copy is False and dtype is not None and np.dtype(dtype) != self._data.dtype:
            raise ValueError("a copy is needed to convert the tensor to the requested dtype")
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.item())

    def to(self, *args, dtype=None, device=None, copy=False) -> Tensor:
        """Convert to another dtype (and/or device): ``t.to(nabla.float64)``, ``t.to("cpu")``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, backend.Device)) and not (
                isinstance(a, str) and a in backend._BY_NAME
            ):
                device = a
            else:
                dtype = a
        backend.device(device)
        if dtype is None:
            return self.clone() if copy else self
        dt = backend.dtype(dtype).np
        if dt == self._data.dtype:
            return self.clone() if copy else self
        if self.requires_grad and dt.kind != "f":
            return Tensor._wrap(self._data.astype(dt))
        return Cast.apply(self, dt)

    def type(self, dtype=None):
        if dtype is None:
            return f"nabla.{self.dtype.name}"
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    def long(self):
        return self.to(backend.int64)

    def int(self):
        return self.to(backend.int32)

    def bool(self):
        return self.to(backend.bool_)

    def cpu(self):
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)  # raises: no GPU backend yet

    def contiguous(self):
        return self

    # ------------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Compute the gradient of this tensor with respect to the graph's leaves.

        ``gradient`` may be omitted only for one-element tensors (it is then 1).
        """
        data = self._data
        if gradient is None and self.grad_fn is not None and data.size == 1 and not create_graph:
            # loss.backward(), once per training step: straight to the engine. (A 0-d
            # seed from np.array costs 0.1 us, from np.ones 0.6 us.)
            seed = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
            _autograd.run_backward((self,), (seed,), bool(retain_graph))
            return
        _backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """The same values (shared memory), cut off from the graph."""
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use detach()"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
            return
        if self.grad_fn._retained is None:
            self.grad_fn._retained = {}
        self.grad_fn._retained[self._output_nr] = self

    @property
    def retains_grad(self) -> bool:
        fn = self.grad_fn
        return fn is not None and bool(fn._retained) and self._output_nr in fn._retained

    # ------------------------------------------------------------------ operators
    def _other(self, x) -> Tensor:
        """Turn a Python/NumPy scalar or array operand into a tensor, PyTorch's way.

        A Python number takes this tensor's dtype when the kinds agree; an int tensor
        combined with a float number gives the default float dtype.
        """
        if isinstance(x, Tensor):
            return x
        if isinstance(x, np.ndarray):
            return Tensor._wrap(x)
        if isinstance(x, (bool, np.bool_)):
            dt = self._data.dtype
        elif isinstance(x, numbers.Integral):
            dt = self._data.dtype if self._data.dtype.kind != "b" else np.int64
        elif isinstance(x, numbers.Real):
            dt = self._data.dtype if self._data.dtype.kind == "f" else backend._default_float[0].np
        else:
            try:
                arr = np.asarray(x)
            except Exception:
                arr = None
            if arr is None or arr.dtype.kind not in "biuf":  # strings, objects, ...
                raise TypeError(f"unsupported operand type for a tensor op: {type(x).__name__}")
            return Tensor._wrap(arr)
        return Tensor._wrap(np.asarray(x, dtype=dt))

    def _binary(self, fn, other, reverse=False):
        other = self._other(other)
        a, b = (other, self) if reverse else (self, other)
        if a._data.dtype != b._data.dtype and (a._data.ndim == 0) != (b._data.ndim == 0):
            a, b = _zero_dim_follows(a, b)
        try:
            out = fn.apply(a, b)
        except ValueError as e:
            if "broadcast" in str(e):
                raise ShapeError(
                    f"shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together "
                    f"for {fn.__name__.lower()}"
                ) from None
            raise
        dt = out._data.dtype
        if dt is not a._data.dtype and dt == _float64 and a._data.dtype != _float64 and (
            b._data.dtype != _float64
        ):
            # NumPy makes float64 from ints (int / int, int * 0.5); PyTorch makes float32.
            return out.to(backend._default_float[0])
        return out

    def __add__(self, o):
        return self._binary(_ew.Add, o)

    def __radd__(self, o):
        return self._binary(_ew.Add, o, True)

    def __sub__(self, o):
        return self._binary(_ew.Sub, o)

    def __rsub__(self, o):
        return self._binary(_ew.Sub, o, True)

    def __mul__(self, o):
        return self._binary(_ew.Mul, o)

    def __rmul__(self, o):
        return self._binary(_ew.Mul, o, True)

    def __truediv__(self, o):
        return self._binary(_ew.Div, o)

    def __rtruediv__(self, o):
        return self._binary(_ew.Div, o, True)

    def __pow__(self, o):
        if isinstance(o, numbers.Real) and not isinstance(o, bool):
            x = self if self._data.dtype.kind == "f" or (
                isinstance(o, numbers.Integral) and o >= 0
            ) else self.float()
            return _ew.PowScalar.apply(x, o)
        return self._binary(_ew.Pow, o)

    def __rpow__(self, o):
        return self._binary(_ew.Pow, o, True)

    def __matmul__(self, o):
        return matmul(self, o)

    def __rmatmul__(self, o):
        return matmul(self._other(o), self)

    def __neg__(self):
        return _ew.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __floordiv__(self, o):
        return Tensor._wrap(np.floor_divide(self._data, self._other(o)._data))

    def __rfloordiv__(self, o):
        return Tensor._wrap(np.floor_divide(self._other(o)._data, self._data))

    def __mod__(self, o):
        return Tensor._wrap(np.mod(self._data, self._other(o)._data))

    # comparisons and logic: no gradient flows through them
    def _compare(self, ufunc, o):
        other = self._other(o)._data
        try:
            return Tensor._wrap(ufunc(self._data, other))
        except ValueError:
            raise ShapeError(
                f"shapes {tuple(self.shape)} and {tuple(np.shape(other))} cannot be broadcast "
                "together for a comparison"
            ) from None

    def __eq__(self, o):
        return self._compare(np.equal, o)

    def __ne__(self, o):
        return self._compare(np.not_equal, o)

    def __lt__(self, o):
        return self._compare(np.less, o)

    def __le__(self, o):
        return self._compare(np.less_equal, o)

    def __gt__(self, o):
        return self._compare(np.greater, o)

    def __ge__(self, o):
        return self._compare(np.greater_equal, o)

    def __and__(self, o):
        return self._compare(np.bitwise_and, o)

    def __or__(self, o):
        return self._compare(np.bitwise_or, o)

    def __xor__(self, o):
        return self._compare(np.bitwise_xor, o)

    def __invert__(self):
        return Tensor._wrap(np.invert(self._data))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__
    add, sub, mul, div, pow = __add__, __sub__, __mul__, __truediv__, __pow__
    multiply, subtract, divide, true_divide = mul, sub, div, div

    def equal(self, other) -> bool:
        """True when both tensors have the same shape and values."""
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
        return bool(np.allclose(self._data, self._other(other)._data, rtol, atol, equal_nan))

    def isnan(self):
        return Tensor._wrap(np.isnan(self._data))

    def isinf(self):
        return Tensor._wrap(np.isinf(self._data))

    def isfinite(self):
        return Tensor._wrap(np.isfinite(self._data))

    def all(self, dim=None, keepdim=False):
        return Tensor._wrap(np.all(self._data, axis=_dims(dim, self.ndim), keepdims=keepdim))

    def any(self, dim=None, keepdim=False):
        return Tensor._wrap(np.any(self._data, axis=_dims(dim, self.ndim), keepdims=keepdim))

    def sign(self):
        return Tensor._wrap(np.sign(self._data))

    def floor(self):
        return Tensor._wrap(np.floor(self._data))

    def ceil(self):
        return Tensor._wrap(np.ceil(self._data))

    def round(self):
        return Tensor._wrap(np.round(self._data))

    # --------------------------------------------------------------- in-place ops
    def _check_inplace(self, operand=None):
        if self.requires_grad and is_grad_enabled():
            kind = "a leaf tensor" if self.grad_fn is None else "a tensor"
            raise RuntimeError(
                f"in-place operation on {kind} that requires grad: wrap it in "
                "`with nabla.no_grad():` or work on a tensor that does not need grad"
            )
        if isinstance(operand, Tensor) and operand.requires_grad and is_grad_enabled():
            # In-place ops are not recorded: the operand's gradient would be lost silently.
            raise RuntimeError(
                "in-place operation with an operand that requires grad: nabla does not "
                "record in-place ops, so its gradient would be lost; write `t = t + x` "
                "instead, or detach() the operand"
            )
        if not self._data.flags.writeable:
            # expand() gives a read-only view: one element stands for many
            raise RuntimeError(
                f"in-place operation on a read-only tensor of shape {tuple(self.shape)} (an "
                "expand()ed view or a read-only array): clone() it first"
            )

    def _inplace(self, ufunc, other):
        self._check_inplace(other)
        o = other._data if isinstance(other, Tensor) else other
        try:
            ufunc(self._data, o, out=self._data, casting="same_kind")
        except TypeError as e:
            raise TypeError(
                f"in-place result of dtype {np.result_type(self._data, o)} cannot be stored in "
                f"a tensor of dtype {self.dtype}: {e}"
            ) from None
        except ValueError:
            raise ShapeError(
                f"in-place op: shape {tuple(np.shape(o))} cannot be broadcast to the tensor's "
                f"shape {tuple(self.shape)}"
            ) from None
        self._vc[0] += 1
        return self

    def __iadd__(self, o):
        return self._inplace(np.add, o)

    def __isub__(self, o):
        return self._inplace(np.subtract, o)

    def __imul__(self, o):
        return self._inplace(np.multiply, o)

    def __itruediv__(self, o):
        return self._inplace(np.true_divide, o)

    def add_(self, other, alpha=1):
        return self._inplace(np.add, other if alpha == 1 else self._other(other) * alpha)

    def sub_(self, other, alpha=1):
        return self._inplace(np.subtract, other if alpha == 1 else self._other(other) * alpha)

    def mul_(self, other):
        return self._inplace(np.multiply, other)

    def div_(self, other):
        return self._inplace(np.true_divide, other)

    def clamp_(self, min=None, max=None):
        self._check_inplace()
        np.clip(self._data, min, max, out=self._data)
        self._vc[0] += 1
        return self

    def copy_(self, src):
        self._check_inplace(src)
        s = src._data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.copyto(self._data, s, casting="unsafe")
        except ValueError:
            raise ShapeError(
                f"copy_: source of shape {tuple(np.shape(s))} does not broadcast to "
                f"{tuple(self.shape)}"
            ) from None
        self._vc[0] += 1
        return self

    def fill_(self, value):
        self._check_inplace()
        self._data.fill(value.item() if isinstance(value, Tensor) else value)
        self._vc[0] += 1
        return self

    def zero_(self):
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        return self.copy_(_rng(generator).uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        return self.copy_(_rng(generator).normal(mean, std, self.shape))

    def __setitem__(self, index, value):
        self._check_inplace(value)
        v = value._data if isinstance(value, Tensor) else value
        try:
            self._data[_index(index)] = v
        except ValueError as e:
            raise ShapeError(f"cannot assign a value of shape {np.shape(v)}: {e}") from None
        self._vc[0] += 1

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
            return Tensor._wrap(np.abs(self._data))
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
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = maximum(out, min)
            if max is not None:
                out = minimum(out, max)
            return out
        return _ew.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        return self._binary(_ew.Maximum, other)

    def minimum(self, other):
        return self._binary(_ew.Minimum, other)

    def where(self, condition, other):
        return where(condition, self, other)

    def masked_fill(self, mask, value):
        return where(mask, self._other(value).to(self.dtype), self)

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
        if isinstance(dim, Tensor):  # max(a, b) written as a.max(b)
            return maximum(self, dim) if is_max else minimum(self, dim)
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
            return Tensor._wrap(np.asarray(np.argmax(self._data), dtype=np.int64))
        d = _dim(dim, self.ndim)
        return Tensor._wrap(np.argmax(self._data, axis=d, keepdims=keepdim).astype(np.int64))

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._wrap(np.asarray(np.argmin(self._data), dtype=np.int64))
        d = _dim(dim, self.ndim)
        return Tensor._wrap(np.argmin(self._data, axis=d, keepdims=keepdim).astype(np.int64))

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
        tri = Tensor._wrap(np.triu(np.ones((n, n), dtype=self._data.dtype)))
        return (self.transpose(d, -1) @ tri).transpose(d, -1)

    # ------------------------------------------------------------------- movement
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        if shape == self._data.shape:
            return self
        try:
            return _mv.Reshape.apply(self, shape)
        except ValueError:
            raise ShapeError(
                f"shape {shape} is invalid for input of size {self.numel()} "
                f"(shape {tuple(self.shape)})"
            ) from None

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
        shape = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        return self.reshape(shape) if s <= e else self

    def unflatten(self, dim, sizes):
        d = _dim(dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def permute(self, *dims):
        dims = _shape_arg(dims)
        if len(dims) != self.ndim:
            raise ShapeError(
                f"permute: number of dims {len(dims)} does not match the tensor's {self.ndim}"
            )
        axes = tuple(_dim(d, self.ndim) for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation")
        return _mv.Permute.apply(self, axes)

    def transpose(self, dim0, dim1):
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        a, b = _dim(dim0, self.ndim), _dim(dim1, self.ndim)
        axes[a], axes[b] = axes[b], axes[a]
        return _mv.Permute.apply(self, tuple(axes))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.transpose(0, 1)

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            ds = _dims(dim, self.ndim)
            ds = ds if isinstance(ds, tuple) else (ds,)
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in ds and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        d = _dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes):
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ShapeError(
                f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
                f"dimensions ({self.ndim})"
            )
        shape = tuple(
            self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
        )
        try:
            return _mv.Expand.apply(self, shape)
        except ValueError:
            raise ShapeError(
                f"expand: a tensor of shape {tuple(self.shape)} cannot be expanded to {sizes}"
            ) from None

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, shape):
        return self.expand(shape)

    def repeat(self, *sizes):
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ShapeError(
                f"repeat: number of repeats ({len(sizes)}) can not be smaller than the number "
                f"of dimensions ({self.ndim})"
            )
        return _mv.Repeat.apply(self, sizes)

    def flip(self, *dims):
        dims = _shape_arg(dims)
        return _mv.Flip.apply(self, tuple(_dim(d, self.ndim) for d in dims))

    def split(self, split_size_or_sections, dim=0):
        d = _dim(dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step <= 0:
                raise ValueError(f"split size must be positive, got {step}")
            sizes = [builtins.min(step, n - i) for i in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ShapeError(
                    f"split sizes {sizes} sum to {sum(sizes)}, but dimension {d} has size {n}"
                )
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        n = self.shape[_dim(dim, self.ndim)]
        return self.split(builtins.max(1, -(-n // chunks)), dim)

    def narrow(self, dim, start, length):
        d = _dim(dim, self.ndim)
        index = (slice(None),) * d + (slice(start, start + length),)
        return self[index]

    def unbind(self, dim=0):
        d = _dim(dim, self.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def __getitem__(self, index):
        index = _index(index)
        basic = _mv.is_basic_index(index)
        try:
            out = _mv.GetItem.apply(self, index, basic)
        except IndexError as e:
            raise IndexError(f"{e} (tensor of shape {tuple(self.shape)})") from None
        if basic:
            out._vc = self._vc  # a basic index gives a view: share the version counter
        return out

    def clone(self):
        return Clone.apply(self)

    def matmul(self, other):
        return matmul(self, other)

    def dot(self, other):
        return matmul(self, other)

    mm = matmul

    def __repr__(self):
        return _format(self)


_autograd.Tensor = Tensor  # the engine wraps its results without importing this module


def _pow_zero_safe(x, p):
    """``x ** p`` for x >= 0 whose gradient at 0 is 0 even where the slope is infinite.

    x ** p with p < 1 is infinitely steep at 0, and inf times the 0 that flows back
    there is nan: a norm of zeros would poison every gradient. Raise a stand-in 1 where
    x is 0 and mask the result, so that no gradient flows through those elements.
    """
    pos = x > 0
    return where(pos, where(pos, x, 1.0) ** p, 0.0)


def _zero_dim_follows(a, b):
    """PyTorch's promotion: a 0-d tensor does not raise the dtype of a dimensioned one of
    the same category (float32 vector * float64 0-d gives float32, not NumPy's float64)."""
    zero, full = (a, b) if a._data.ndim == 0 else (b, a)
    kz, kf = zero._data.dtype.kind, full._data.dtype.kind
    if kz == kf == "f" or (kz in "iu" and kf in "iu"):
        zero = zero.to(full.dtype)
    return (zero, full) if a is zero else (full, zero)


def _index(index):
    """Turn tensors and lists inside an index into arrays NumPy understands."""
    if isinstance(index, tuple):
        return tuple(_index_item(i) for i in index)
    return _index_item(index)


def _index_item(i):
    if isinstance(i, Tensor):
        return i._data
    if isinstance(i, list):
        return np.asarray([x.item() if isinstance(x, Tensor) else x for x in i])
    return i


# ------------------------------------------------------------------- functions
def _as(x) -> Tensor:
    return x if isinstance(x, Tensor) else tensor(x)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: batching, broadcasting, 1-D operands.

    >>> import nabla
    >>> matmul(nabla.ones(2, 3), nabla.ones(3)).tolist()
    [3.0, 3.0]
    """
    a, b = _as(a), _as(b)
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
        out = matmul(a.unsqueeze(0) if a.ndim == 1 else a, b.unsqueeze(-1) if b.ndim == 1 else b)
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
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x, y = tensor(x), tensor(y)
    elif not isinstance(x, Tensor):
        x = y._other(x)
    elif not isinstance(y, Tensor):
        y = x._other(y)
    try:
        return _ew.Where.apply(x, y, cond)
    except ValueError:
        raise ShapeError(
            f"where: condition {cond.shape}, x {tuple(x.shape)} and y {tuple(y.shape)} cannot "
            "be broadcast together"
        ) from None


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
    tensors = [_as(t) for t in tensors]
    if not tensors:
        raise ValueError("stack expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ShapeError(
                f"stack expects each tensor to be equal size, but got {tuple(tensors[0].shape)} "
                f"at entry 0 and {tuple(t.shape)} at entry {i}"
            )
    return _mv.Stack.apply(*tensors, axis=_dim(dim, tensors[0].ndim + 1))


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


# ---------------------------------------------------------------------- creation
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


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    backend.device(device)
    return Tensor(np.zeros(_shape_arg(size), _float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)``."""
    backend.device(device)
    return Tensor(np.ones(_shape_arg(size), _float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    backend.device(device)
    return Tensor(np.empty(_shape_arg(size), _float_dtype(dtype)), requires_grad)


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


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples from [0, 1)."""
    backend.device(device)
    dt = _sample_dtype(dtype, "rand")
    return Tensor(_rng(generator).random(_shape_arg(size)).astype(dt), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from the standard normal distribution."""
    backend.device(device)
    dt = _sample_dtype(dtype, "randn")
    return Tensor(_rng(generator).standard_normal(_shape_arg(size)).astype(dt), requires_grad)


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


# ------------------------------------------------------------------------- repr
# Written to reproduce PyTorch's printed output (its default print options), so that a
# tensor reads the same in both libraries: every element right-aligned to one width,
# the same switch to int and scientific notation, the same summarising and line breaks.
# tests/test_tensor.py compares the two reprs case by case.
_PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = 4, 1000, 3, 80


def _summarized(arr: np.ndarray) -> np.ndarray:
    """The corner elements a summarised repr shows (they alone decide the width)."""
    if arr.ndim == 0:
        return arr
    if arr.shape[0] > 2 * _EDGEITEMS:
        arr = np.concatenate([arr[:_EDGEITEMS], arr[-_EDGEITEMS:]])
    if arr.ndim == 1:
        return arr
    return np.stack([_summarized(x) for x in arr])


class _Formatter:
    def __init__(self, arr: np.ndarray):
        self.floating = arr.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = arr.reshape(-1)
        if not self.floating:
            self.width = builtins.max([1] + [len(str(v)) for v in flat.tolist()])
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        mags = np.abs(vals)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        if self.sci_mode:
            fmt = f"{{:.{_PRECISION}e}}"
        elif self.int_mode:
            fmt = "{:.0f}."
        else:
            fmt = f"{{:.{_PRECISION}f}}"
        self.width = builtins.max(len(fmt.format(v)) for v in vals.tolist())

    def format(self, value) -> str:
        if not self.floating:
            ret = str(value)
        elif self.sci_mode:
            ret = f"{value:{self.width}.{_PRECISION}e}"
        elif self.int_mode:
            ret = f"{value:.0f}" + ("." if math.isfinite(value) else "")
        else:
            ret = f"{value:.{_PRECISION}f}"
        return ret.rjust(self.width)


def _vector_str(arr, indent, summarize, fmt) -> str:
    per_line = builtins.max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
    vals = arr.tolist()
    if summarize and len(vals) > 2 * _EDGEITEMS:
        data = [fmt.format(v) for v in vals[:_EDGEITEMS]] + [" ..."]
        data += [fmt.format(v) for v in vals[-_EDGEITEMS:]]
    else:
        data = [fmt.format(v) for v in vals]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(arr, indent, summarize, fmt) -> str:
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, fmt)
    n = arr.shape[0]
    if summarize and n > 2 * _EDGEITEMS:
        rows = list(range(_EDGEITEMS)) + [None] + list(range(n - _EDGEITEMS, n))
    else:
        rows = range(n)
    parts = ["..." if i is None else _array_str(arr[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _format(t: Tensor) -> str:
    arr, prefix = t._data, "tensor("
    indent = len(prefix)
    suffixes = []
    default_float = backend._default_float[0].np
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if arr.dtype != default_float:
            suffixes.append(f"dtype=nabla.{backend.from_np(arr.dtype).name}")
        body = "[]"
    else:
        if arr.dtype not in (default_float, np.int64, np.bool_):
            suffixes.append(f"dtype=nabla.{backend.from_np(arr.dtype).name}")
        summarize = arr.size > _THRESHOLD
        fmt = _Formatter(_summarized(arr) if summarize else arr)
        body = _array_str(arr, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last_line = len(out[0]) - out[0].rfind("\n") + 1
    for s in suffixes:
        if last_line + len(s) + 2 > _LINEWIDTH:
            out.append(",\n" + " " * indent + s)
            last_line = indent + len(s)
        else:
            out.append(", " + s)
            last_line += len(s) + 2
    return "".join(out) + ")"
