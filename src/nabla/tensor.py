"""``Tensor``: an n-dimensional array that records the ops applied to it.

A Tensor holds its values in an internal backend array (NumPy on the CPU). Ops on
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

import numbers
import operator

import numpy as np

from . import autograd as _autograd
from . import backend
from . import inplace as _ip
from .autograd import Function, _grad_enabled
from .autograd import backward as _backward
from .blas import AXPY_FROM, axpy
from .ops import elementwise as _ew
from .ops import movement as _mv
from .ops import special as _special
from .printing import _format
from .random import _np as _rng
from .shapes import ShapeError, _dim, _shape_arg
from .tensor_math import TensorMath, _matmul
from .tensor_more import TensorMore
from .tensor_shape import TensorShape
from .tensor_special import TensorSpecial

_float32 = np.dtype(np.float32)
_float64 = np.dtype(np.float64)
_ndarray = np.ndarray


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


class Tensor(TensorMath, TensorShape, TensorSpecial, TensorMore):
    """An n-dimensional array with automatic differentiation.

    Build tensors with ``nabla.tensor``, ``nabla.zeros`` and friends rather than
    calling the class directly.

    >>> t = Tensor(np.arange(3.0))
    >>> t.shape, t.dtype
    ((3,), nabla.float64)
    """

    __slots__ = (
        "_data", "grad", "requires_grad", "grad_fn", "_output_nr", "_vc", "_base", "__weakref__"
    )
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
    def data(self) -> Tensor:
        """The values as a tensor cut off from the graph, as PyTorch's ``.data``: it shares
        the storage but not the version counter, so changes through it go unnoticed by
        autograd. ``t.data = other`` makes ``other``'s storage this tensor's (any shape).

        >>> import nabla
        >>> p = nabla.ones(2, requires_grad=True)
        >>> p.data += 1
        >>> p.data.requires_grad, p.tolist()
        (False, [2.0, 2.0])
        """
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Tensor.data must be set to a Tensor, got {type(value).__name__} (wrap it "
                "in nabla.tensor(...) first)"
            )
        if self.requires_grad and value._data.dtype.kind not in "fc":
            raise RuntimeError(
                "data set to a tensor that requires gradients must be floating point or "
                f"complex dtype, got {value.dtype}"
            )
        self._data = value._data

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

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    is_cuda = False

    def __format__(self, spec):
        """``f"{loss:.4f}"`` formats a 0-d tensor's value; others format only as ``str``."""
        if self._data.ndim == 0:
            return self._data.item().__format__(spec)
        if spec:
            raise TypeError(
                f"unsupported format string {spec!r} for a tensor of shape {tuple(self.shape)}:"
                " only 0-d tensors take one (format t.item() or t.tolist() instead)"
            )
        return str(self)

    # new_*: tensors with this one's dtype (unless given), as PyTorch's
    def _new(self, arr, dtype, requires_grad):
        dt = self._data.dtype if dtype is None else backend.dtype(dtype).np
        return Tensor(np.asarray(arr, dt), requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        backend.device(device)
        return self._new(np.zeros(_shape_arg(size)), dtype, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        backend.device(device)
        return self._new(np.ones(_shape_arg(size)), dtype, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        backend.device(device)
        return self._new(np.empty(_shape_arg(size)), dtype, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        backend.device(device)
        size = (size,) if isinstance(size, int) else tuple(size)
        return self._new(np.full(size, fill_value), dtype, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A copy of ``data`` with this tensor's dtype (unless given).

        >>> import nabla
        >>> nabla.zeros(2, dtype=nabla.float64).new_tensor([1, 2])
        tensor([1., 2.], dtype=nabla.float64)
        """
        backend.device(device)
        arr = data._data if isinstance(data, Tensor) else data
        return self._new(np.array(arr), dtype, requires_grad)

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
        if dtype is None:  # PyTorch's answer is the legacy class name: 'nabla.FloatTensor'
            return f"nabla.{backend.LEGACY_NAMES.get(self.dtype, self.dtype.name)}"
        legacy = getattr(dtype, "dtype", None)  # nabla.LongTensor and the like
        return self.to(legacy if isinstance(legacy, backend.DType) else dtype)

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

    # ------------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to the graph's leaves.

        ``gradient`` may be omitted only for one-element tensors (it is then 1). With
        ``inputs``, only those tensors' ``.grad`` change (``autograd.backward``).
        """
        data = self._data
        if (gradient is None and inputs is None and self.grad_fn is not None
                and data.size == 1 and not create_graph):
            # loss.backward() each step: straight to the engine (np.array's 0-d seed 0.1 us)
            seed = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
            _autograd.run_backward((self,), (seed,), bool(retain_graph))
            return
        _backward([self], [gradient], retain_graph, create_graph, inputs)

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

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's total gradient in each backward, before
        it is used; a returned tensor replaces the gradient. Returns a handle whose
        ``remove()`` takes the hook off.

        >>> import nabla
        >>> x = nabla.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * 3).sum().backward(); x.grad
        tensor([30., 30.])
        >>> h.remove()
        """
        return _autograd.register_tensor_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on this leaf once its ``.grad`` has been accumulated in a
        backward (where a data-parallel reducer starts the gradient's allreduce)."""
        return _autograd.register_tensor_hook(self, hook, post=True)

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
        return x if isinstance(x, Tensor) else Tensor._wrap(self._operand(x))

    def _operand(self, x):
        """The array of a non-tensor operand ``x``, with ``_other``'s dtype rules."""
        if isinstance(x, np.ndarray):
            return x
        t = type(x)
        if t is int:  # Python's int and float first: the abc checks below cost ~0.5 us
            dt = self._data.dtype if self._data.dtype.kind != "b" else np.int64
        elif t is float:
            dt = self._data.dtype if self._data.dtype.kind == "f" else backend._default_float[0].np
        elif isinstance(x, (bool, np.bool_)):
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
            return arr
        return np.asarray(x, dtype=dt)

    def _binary(self, fn, other, reverse=False):
        if not _grad_enabled[0] or not (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        ):
            # Nothing to record (``i + 1``, masks): NumPy directly, the general path's rules.
            op = _NO_GRAD_OPS.get(fn)
            if op is not None:
                x = self._data
                if type(other) is float and x.dtype.kind == "f":  # `-lr * p.grad`: 1.7 -> 1.3 us
                    return Tensor._wrap(op(other, x) if reverse else op(x, other))  # x's dtype
                if type(other) is int and not x.ndim and fn in _INT_EXACT:
                    # A 0-d int tensor and a Python int: exact int arithmetic, 0.6 us less
                    # than NumPy's; out of the dtype's range, NumPy below decides.
                    lo, hi = _INT_RANGE.get(x.dtype, (1, 0))
                    if lo <= other <= hi:
                        r = op(other, x.item()) if reverse else op(x.item(), other)
                        if lo <= r <= hi:
                            return Tensor._wrap(np.array(r, x.dtype))
                y = other._data if isinstance(other, Tensor) else self._operand(other)
                a, b = (y, x) if reverse else (x, y)
                da, db = a.dtype, b.dtype
                if da != db and (a.ndim == 0) != (b.ndim == 0) and _same_category(da, db):
                    # _zero_dim_follows, on arrays
                    a, b = (a.astype(db), b) if a.ndim == 0 else (a, b.astype(da))
                    da = db = a.dtype
                try:
                    out = np.asarray(op(a, b))  # two 0-d arrays give a NumPy scalar
                except ValueError as e:
                    _broadcast_error(e, fn, a.shape, b.shape)
                    raise
                dt = out.dtype
                if dt is not da and dt == _float64 and da != _float64 and db != _float64:
                    out = out.astype(backend._default_float[0].np)
                return Tensor._wrap(out)
        other = self._other(other)
        a, b = (other, self) if reverse else (self, other)
        if a._data.dtype != b._data.dtype and (a._data.ndim == 0) != (b._data.ndim == 0):
            a, b = _zero_dim_follows(a, b)
        try:
            out = fn.apply(a, b)
        except ValueError as e:
            _broadcast_error(e, fn, a.shape, b.shape)
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
        return _matmul(self, o)

    def __rmatmul__(self, o):
        return _matmul(self._other(o), self)

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

    def __mod__(self, o):  # PyTorch's remainder: the sign of o, and a gradient
        return self._binary(_REMAINDER, o)

    def __rmod__(self, o):
        return self._binary(_REMAINDER, o, True)

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
    mul, div, pow = __mul__, __truediv__, __pow__
    multiply, divide, true_divide = mul, div, div

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

    def sign(self):
        return Tensor._wrap(np.sign(self._data))

    def floor(self):
        return Tensor._wrap(np.floor(self._data))

    def ceil(self):
        return Tensor._wrap(np.ceil(self._data))

    def round(self):
        return Tensor._wrap(np.round(self._data))

    # --------------------------------------------------------------- in-place ops
    # Without autograd (no_grad, or nothing requires grad) an in-place op writes straight
    # into the storage; with it, inplace.record computes the op out of place and rebases
    # the tensor's history onto the new node, as PyTorch does.
    def _inplace(self, ufunc, other, op):
        if _grad_enabled[0] and (self.requires_grad or (
                isinstance(other, Tensor) and other.requires_grad)):
            return _ip.record(self, lambda t: op(t, other))  # (no closure made unless here)
        d = self._data
        o = other._data if isinstance(other, Tensor) else other
        try:  # NumPy's defaults refuse a read-only out and casting beyond same_kind
            ufunc(d, o, d)  # (no keywords, no check before: `p.data += u` 1.43 -> 1.2 us)
        except TypeError as e:
            raise TypeError(
                f"in-place result of dtype {np.result_type(d, o)} cannot be stored in "
                f"a tensor of dtype {self.dtype}: {e}"
            ) from None
        except ValueError:
            _ip.check_writable(self)  # read-only; else the shapes do not broadcast
            raise ShapeError(
                f"in-place op: shape {tuple(np.shape(o))} cannot be broadcast to the tensor's "
                f"shape {tuple(self.shape)}"
            ) from None
        self._vc[0] += 1
        return self

    def _apply_(self, compute, *operands):
        """The general in-place op: ``compute(t)`` gives the new values out of place."""
        if _ip.needs_record(self, operands):
            return _ip.record(self, compute)
        _ip.check_writable(self)
        with _autograd.no_grad():
            out = compute(self)
        try:
            np.copyto(self._data, out._data, casting="same_kind")
        except TypeError:
            raise TypeError(
                f"in-place result of dtype {out.dtype} cannot be stored in a tensor of dtype "
                f"{self.dtype}"
            ) from None
        except ValueError:
            raise ShapeError(
                f"in-place op: the result's shape {tuple(out.shape)} differs from the tensor's "
                f"shape {tuple(self.shape)}"
            ) from None
        self._vc[0] += 1
        return self

    def __iadd__(self, o):
        return self._inplace(np.add, o, operator.add)

    def __isub__(self, o):
        return self._inplace(np.subtract, o, operator.sub)

    def __imul__(self, o):
        return self._inplace(np.multiply, o, operator.mul)

    def __itruediv__(self, o):
        return self._inplace(np.true_divide, o, operator.truediv)

    def add(self, other, *, alpha=1):
        """``self + alpha * other``."""
        return self + (other if alpha == 1 else self._other(other) * alpha)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other``."""
        return self - (other if alpha == 1 else self._other(other) * alpha)

    subtract = sub

    def add_(self, other, *, alpha=1):
        if alpha != 1 and self._axpy(other, alpha):
            return self
        o = other if alpha == 1 else self._other(other) * alpha
        return self._inplace(np.add, o, operator.add)

    def sub_(self, other, *, alpha=1):
        if alpha != 1 and self._axpy(other, -alpha):
            return self
        o = other if alpha == 1 else self._other(other) * alpha
        return self._inplace(np.subtract, o, operator.sub)

    def _axpy(self, other, alpha) -> bool:
        """``self += alpha * other`` as one BLAS pass, True when done: the update of
        PyTorch's examples, ``p.data.add_(p.grad, alpha=-lr)``, on a big tensor while
        nothing records it. One rounding, as PyTorch's fused add (NumPy's two passes
        round twice), and a fifth of the time: the word language model's 6.7M-weight
        decoder 4.9 -> 1.0 ms (PyTorch 6.2). False (nothing done) elsewhere, for the
        general path."""
        if (type(other) is not Tensor or type(alpha) not in (int, float)
                or self._data.size < AXPY_FROM
                or (_grad_enabled[0] and (self.requires_grad or other.requires_grad))):
            return False
        _ip.check_writable(self)
        if not axpy(alpha, other._data, self._data):
            return False
        self._vc[0] += 1
        return True

    def mul_(self, other):
        return self._inplace(np.multiply, other, operator.mul)

    def div_(self, other):
        return self._inplace(np.true_divide, other, operator.truediv)

    multiply_, divide_, subtract_ = mul_, div_, sub_

    def pow_(self, exponent):
        return self._apply_(lambda t: t ** exponent, exponent)

    __ipow__ = pow_

    def addcmul(self, tensor1, tensor2, *, value=1):
        """``self + value * tensor1 * tensor2``."""
        return self + tensor1 * tensor2 * value

    def addcdiv(self, tensor1, tensor2, *, value=1):
        """``self + value * tensor1 / tensor2``."""
        return self + tensor1 / tensor2 * value

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._apply_(lambda t: t.addcmul(tensor1, tensor2, value=value), tensor1, tensor2)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._apply_(lambda t: t.addcdiv(tensor1, tensor2, value=value), tensor1, tensor2)

    def lerp_(self, end, weight):
        return self._apply_(lambda t: t + (end - t) * weight, end, weight)

    def clamp_(self, min=None, max=None):
        return self._apply_(lambda t: t.clamp(min, max), min, max)

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        return self._apply_(lambda t: t.masked_fill(mask, value), value)

    def copy_(self, src, non_blocking=False):
        if not isinstance(src, Tensor):
            src = Tensor._wrap(np.asarray(src))
        if _ip.needs_record(self, (src,)):
            return _ip.record(self, lambda t: _ip.Overwrite.apply(t, src))
        _ip.check_writable(self)
        try:
            np.copyto(self._data, src._data, casting="unsafe")
        except ValueError:
            raise ShapeError(
                f"copy_: source of shape {tuple(src.shape)} does not broadcast to "
                f"{tuple(self.shape)}"
            ) from None
        self._vc[0] += 1
        return self

    def fill_(self, value):
        if isinstance(value, Tensor):
            if value._data.size != 1:
                raise RuntimeError(
                    f"fill_ takes a 0-d tensor or a number, got a tensor of shape "
                    f"{tuple(value.shape)}"
                )
            return self.copy_(value.reshape(()))
        if _ip.needs_record(self, ()):
            const = Tensor._wrap(np.asarray(value, self._data.dtype))
            return _ip.record(self, lambda t: _ip.Overwrite.apply(t, const))
        _ip.check_writable(self)
        self._data.fill(value)
        self._vc[0] += 1
        return self

    def zero_(self):
        return self.fill_(0)

    def _unary_(self, name):
        return self._apply_(lambda t: getattr(t, name)())

    def exp_(self):
        return self._unary_("exp")

    def log_(self):
        return self._unary_("log")

    def sqrt_(self):
        return self._unary_("sqrt")

    def abs_(self):
        return self._unary_("abs")

    def sin_(self):
        return self._unary_("sin")

    def cos_(self):
        return self._unary_("cos")

    def tanh_(self):
        return self._unary_("tanh")

    def sigmoid_(self):
        return self._unary_("sigmoid")

    def relu_(self):
        return self._unary_("relu")

    def square_(self):
        return self._unary_("square")

    def reciprocal_(self):
        return self._unary_("reciprocal")

    def neg_(self):
        return self._apply_(lambda t: -t)

    negative_ = neg_

    def uniform_(self, a=0.0, b=1.0, generator=None):
        return self.copy_(_rng(generator).uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        return self.copy_(_rng(generator).normal(mean, std, self.shape))

    def __setitem__(self, index, value):
        idx = _index(index)
        if _ip.needs_record(self, (value,)):
            b = getattr(value, "_base", None)
            if b is not None and b[0] is self and b[1] is index:
                return  # `t[i] += x`: the view already wrote its values (and history) here
            _ip.setitem(self, idx, value)
            return
        _ip.check_writable(self)
        v = value._data if isinstance(value, Tensor) else value
        try:
            self._data[idx] = v
        except ValueError as e:
            raise ShapeError(f"cannot assign a value of shape {np.shape(v)}: {e}") from None
        self._vc[0] += 1

    def __getitem__(self, index):
        if not self.requires_grad:
            # The fast path for what loops over data do (`data[i]`, `data[i:i+8]`,
            # `for row in t`): a basic index of a tensor that records nothing is a NumPy
            # view wrapped as a tensor, without the op machinery (~1.7 -> 0.6 us).
            # tests/test_speed_paths.py checks it against GetItem.apply.
            t = type(index)
            if t is int or t is slice:
                idx = (index, Ellipsis)
            elif t is tuple and all(type(i) in _BASIC for i in index):
                idx = index if Ellipsis in index else index + (Ellipsis,)
            else:
                idx = None
            if idx is not None:
                try:
                    arr = self._data[idx]
                except IndexError as e:
                    raise IndexError(f"{e} (tensor of shape {tuple(self.shape)})") from None
                out = _new(Tensor)
                out._data = arr
                out.grad = out.grad_fn = None
                out.requires_grad = False
                out._output_nr = 0
                out._vc = self._vc  # a view: it shares the version counter
                out._base = (self, index, idx)  # and in-place ops on it rebase self
                return out
        idx = _index(index)
        basic = _mv.is_basic_index(idx)
        if basic:
            # NumPy gives a copy, not a view, where ints pick a single element; a trailing
            # Ellipsis makes it a 0-d view, so that t[0] shares memory as in PyTorch.
            if type(idx) is not tuple:
                idx = (idx, Ellipsis)
            elif Ellipsis not in idx:
                idx = idx + (Ellipsis,)
        try:
            out = _mv.GetItem.apply(self, idx, basic)
        except IndexError as e:
            raise IndexError(f"{e} (tensor of shape {tuple(self.shape)})") from None
        if basic:
            out._vc = self._vc  # a basic index gives a view: share the version counter
            out._base = (self, index, idx)  # and in-place ops on it rebase self (inplace.py)
            if out.grad_fn is not None and self.grad_fn is not None:
                _ip.track_view(self.grad_fn, out)  # refreshed if self changes in place
        return out

    def clone(self):
        return Clone.apply(self)

    def matmul(self, other):
        return _matmul(self, self._other(other))

    def dot(self, other):
        return _matmul(self, self._other(other))

    mm = matmul

    def __repr__(self):
        return _format(self)


_autograd.Tensor = Tensor  # the engine wraps its results without importing this module


def _zero_dim_follows(a, b):
    """PyTorch's promotion: a 0-d tensor does not raise the dtype of a dimensioned one of
    the same category (float32 vector * float64 0-d gives float32, not NumPy's float64)."""
    zero, full = (a, b) if a._data.ndim == 0 else (b, a)
    if _same_category(zero._data.dtype, full._data.dtype):
        zero = zero.to(full.dtype)  # a new tensor: so the order goes by ndim, not identity
    return (zero, full) if a._data.ndim == 0 else (full, zero)


def _same_category(da, db):
    """Both floating, or both integer: where a 0-d operand takes the other's dtype."""
    return da.kind == db.kind == "f" or (da.kind in "iu" and db.kind in "iu")


# Index items that make a NumPy view (bool is not among them: NumPy reads it as a mask).
_BASIC = frozenset((int, slice, type(None), type(Ellipsis)))
_new = object.__new__
# Tensor._binary's no-gradient path: each op's forward as ops/elementwise.py writes it.
_REMAINDER = _special.BINARY["remainder"]
_NO_GRAD_OPS = {_ew.Add: operator.add, _ew.Sub: operator.sub, _ew.Mul: operator.mul,
                _ew.Div: operator.truediv, _ew.Pow: operator.pow, _ew.Maximum: np.maximum,
                _ew.Minimum: np.minimum, _REMAINDER: np.remainder}
# Exact on Python ints in the dtype's range (not division: NumPy divides float64 roundings).
_INT_EXACT = frozenset((_ew.Add, _ew.Sub, _ew.Mul))
_INT_RANGE = {np.dtype(c): (int(np.iinfo(c).min), int(np.iinfo(c).max))
              for c in np.typecodes["AllInteger"]}


def _broadcast_error(e, fn, shape_a, shape_b):
    if "broadcast" in str(e):  # NumPy's ValueError, as the ShapeError that names the op
        raise ShapeError(f"shapes {tuple(shape_a)} and {tuple(shape_b)} cannot be broadcast "
                         f"together for {fn.__name__.lower()}") from None


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

