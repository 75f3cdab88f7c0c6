"""The one place that decides where arrays live and what their element types are.

Everything else in nabla asks this module for the array module (``xp``), for dtypes
and for devices. Today the only device is ``"cpu"`` backed by NumPy; a GPU backend
(CuPy) slots in here without the rest of the library changing.

>>> from nabla import backend
>>> backend.dtype("float64")
nabla.float64
>>> backend.device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import os

import numpy as np

xp = np  # the array module of the CPU device


class DType:
    """A tensor element type: a thin named wrapper around a NumPy dtype.

    >>> import nabla
    >>> nabla.float32.is_floating_point, nabla.int64.itemsize
    (True, 8)
    """

    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"nabla.{self.name}"

    def __eq__(self, other):
        if isinstance(other, DType):
            # type first: comparing with bfloat16 must not import the package behind it
            return type(other) is type(self) and self.np == other.np
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.np)


class _BFloat16(DType):
    """bfloat16: NumPy has no such element type. Its arrays come from the ``ml_dtypes``
    package, imported the first time a bfloat16 array is needed; without that package the
    dtype still exists (to name, compare, pass to ``autocast``), and making a tensor of it
    raises an error that says what to install or use instead.
    """

    __slots__ = ()

    def __init__(self):
        # The slots of DType, except ``np``, which the property below resolves lazily.
        self.name, self.is_floating_point, self.itemsize = "bfloat16", True, 2

    @property
    def np(self):
        try:
            import ml_dtypes
        except ImportError:
            raise TypeError("bfloat16 tensors need the ml_dtypes package (pip install "
                            "ml_dtypes) for NumPy's bfloat16 arrays; without it use "
                            "nabla.float16 or nabla.float32") from None
        np_dtype = np.dtype(ml_dtypes.bfloat16)
        _BY_NP[np_dtype] = self
        return np_dtype

    def __eq__(self, other):
        if isinstance(other, DType):
            return other is self
        if isinstance(other, str):
            return other == "bfloat16"
        try:
            return np.dtype(other).name == "bfloat16"
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash("bfloat16")


bfloat16 = _BFloat16()
float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
uint8 = DType("uint8", np.uint8)
# PyTorch's "limited support" unsigned types: tensors can hold them (so a file that
# stores them loads), though few ops promise results for them.
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
bool_ = DType("bool", np.bool_)
# The class name PyTorch gave each dtype's tensors before 0.4 (Tensor.type(), legacy.py).
LEGACY_NAMES = {float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor",
                bfloat16: "BFloat16Tensor", int64: "LongTensor", int32: "IntTensor",
                int16: "ShortTensor", int8: "CharTensor", uint8: "ByteTensor",
                bool_: "BoolTensor"}

_ALL = (float16, float32, float64, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
        bool_)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME["bfloat16"] = bfloat16
_BY_NAME.update(half=float16, float=float32, double=float64, long=int64, int=int32)

_default_float = [float32]


def get_default_dtype() -> DType:
    """The dtype given to floating-point data that names none (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(d) -> None:
    """Make ``d`` (float32 or float64) the dtype of new floating-point tensors."""
    d = dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"default dtype must be a floating-point dtype, got {d}")
    _default_float[0] = d


def dtype(d) -> DType:
    """Resolve ``d`` (a DType, NumPy dtype, Python type or name) to a nabla DType."""
    if isinstance(d, DType):
        return d
    if d is float:
        return float64  # as in PyTorch: the Python type float means double
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        np_dtype = np.dtype(d)
        return bfloat16 if np_dtype.name == "bfloat16" else _BY_NP[np_dtype]
    except (TypeError, KeyError):
        raise TypeError(
            f"unsupported dtype {d!r}; nabla supports "
            + ", ".join(x.name for x in _ALL) + ", bfloat16"
        ) from None


def from_np(np_dtype) -> DType:
    """The nabla DType of a NumPy array's dtype."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        if np_dtype.name == "bfloat16":  # an ml_dtypes array made outside nabla
            return bfloat16
        raise TypeError(f"arrays of dtype {np_dtype} are not supported by nabla") from None


class Device:
    """Where a tensor's memory lives. Only ``cpu`` exists for now.

    >>> Device("cpu") == "cpu"
    True
    """

    __slots__ = ("type",)

    def __init__(self, type: str = "cpu"):
        self.type = type

    def __repr__(self):
        return f"device(type='{self.type}')"

    def __str__(self):
        return self.type

    def __eq__(self, other):
        if isinstance(other, Device):
            return self.type == other.type
        if isinstance(other, str):
            return self.type == other
        return NotImplemented

    def __hash__(self):
        return hash(self.type)


CPU = Device("cpu")


def device(d=None) -> Device:
    """Resolve a device name to a Device; raises for devices this build cannot use."""
    if d is None:
        return CPU
    if isinstance(d, Device):
        name = d.type
    elif isinstance(d, str):
        name = d.split(":")[0]
    else:
        raise TypeError(f"expected a device name such as 'cpu', got {d!r}")
    if name == "cpu":
        return CPU
    raise RuntimeError(
        f"device '{d}' is not available: this build of nabla has only the 'cpu' device "
        "(it computes with NumPy); choose the device as portable PyTorch code does, "
        "`'cuda' if nabla.cuda.is_available() else 'cpu'`, or drop the .cuda()/.to() call"
    )


def array_module(dev: Device | None = None):
    """The array module (NumPy for the CPU) that holds arrays on ``dev``."""
    return xp


# ------------------------------------------------------------------------ allocator
_ALLOCATOR_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
_allocator_tuned: list = [None]  # None: not tried yet; then True or False


def tune_allocator(mmap_threshold: int = 256 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Let glibc keep freed memory for the next training step instead of handing it back.

    By default glibc serves every block above 128 KiB (or an adaptive threshold) with a
    fresh ``mmap`` and returns the heap's free top to the OS beyond 128 KiB, so the
    large activation and gradient arrays of each step page-fault anew, page by page.
    This raises both thresholds (``mallopt(M_MMAP_THRESHOLD)`` and
    ``mallopt(M_TRIM_THRESHOLD)``): blocks up to ``mmap_threshold`` come from the heap,
    and freed memory is kept until ``trim_threshold`` of it is free. The price is a
    process that holds on to its peak memory. Measured on the 2-core development
    machine: 784-1024-1024-10 at batch 1024 trains 7% faster (52.7 -> 49.1 ms a step);
    two 400 KB temporaries a step go from 460 us to 37 us; the MNIST CNN of PyTorch's
    examples 48 -> 40 ms, a small GPT 12.2 -> 10.0 ms (peak memory unchanged). It is
    process-wide, so nabla never calls it on import: the first backward pass calls it
    (a program that trains: ``fit`` and ``nabla train`` among them).

    Nothing changes, and False is returned, where the C library has no ``mallopt``
    (not glibc), when ``NABLA_TUNE_MALLOC=0``, or when the environment already sets
    glibc's own variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
    ``GLIBC_TUNABLES``): the user's choice wins. Calling it again does nothing more.

    >>> from nabla import backend
    >>> backend.tune_allocator() in (True, False)
    True
    """
    if _allocator_tuned[0] is not None:
        return _allocator_tuned[0]
    ok = False
    if os.environ.get("NABLA_TUNE_MALLOC", "1") != "0" and not any(
            v in os.environ for v in _ALLOCATOR_ENV):
        try:
            import ctypes

            mallopt = ctypes.CDLL(None).mallopt  # the C library of this process
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
            ok = (mallopt(m_mmap_threshold, int(mmap_threshold)) == 1
                  and mallopt(m_trim_threshold, int(trim_threshold)) == 1)
        except (OSError, AttributeError):
            ok = False
    _allocator_tuned[0] = ok
    return ok


class finfo:  # noqa: N801 - torch.finfo's name
    """Machine limits of a floating dtype (default: the default dtype), as ``torch.finfo``,
    in Python floats.

    >>> import nabla
    >>> nabla.finfo(nabla.float32).eps == 2.0 ** -23, nabla.finfo().bits
    (True, 32)
    """

    def __init__(self, type=None):  # noqa: A002 - torch's argument name
        dt = get_default_dtype() if type is None else dtype(type)
        if not dt.is_floating_point:
            raise TypeError(f"finfo needs a floating dtype, got {dt}; use iinfo for integers")
        info = np.finfo(dt.np)
        self.dtype = dt.name
        self.bits = int(info.bits)
        for name in ("eps", "max", "min", "tiny", "smallest_normal"):
            setattr(self, name, float(getattr(info, name)))
        self.resolution = 10.0 ** -int(info.precision)  # 1e-06, not float32(1e-06) widened

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.smallest_normal}, bits={self.bits}, "
                f"dtype={self.dtype})")


class iinfo:  # noqa: N801 - torch.iinfo's name
    """Limits of an integer dtype, as ``torch.iinfo``: ``min``, ``max``, ``bits``.

    >>> import nabla
    >>> nabla.iinfo(nabla.int8).max
    127
    """

    def __init__(self, type):  # noqa: A002 - torch's argument name
        dt = dtype(type)
        if dt.is_floating_point or dt.name == "bool":
            raise TypeError(f"iinfo needs an integer dtype, got {dt}; use finfo for floats")
        info = np.iinfo(dt.np)
        self.dtype, self.bits, self.min, self.max = dt.name, int(info.bits), int(info.min), int(
            info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, bits={self.bits}, dtype={self.dtype})"
