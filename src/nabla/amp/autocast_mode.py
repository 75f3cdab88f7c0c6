"""``autocast``: PyTorch's mixed-precision region, as nabla runs it on the CPU.

nabla does not change dtypes inside an autocast region: operations run in their
tensors' own dtypes, so for a float32 model ``autocast`` changes nothing (the same
numbers as outside it). The region still records that it is active
(``is_autocast_enabled``), and it accepts PyTorch's arguments, so a program written for
mixed precision runs unchanged, in full precision. On a device nabla does not have
(``"cuda"``) the region is disabled with PyTorch's warning, as PyTorch without a GPU does.

>>> import nabla
>>> with nabla.autocast("cpu", dtype=nabla.bfloat16):
...     nabla.is_autocast_enabled("cpu")
True
"""

from __future__ import annotations

import functools
import warnings

from .. import backend

_KNOWN = ("cpu", "cuda", "mps", "xpu", "xla", "hpu", "mtia", "ipu", "meta")
_state = {"cpu": [False, None]}  # device type -> [enabled, dtype]; None: the default


def _default_dtype(device_type: str):
    # PyTorch's defaults: bfloat16 on the CPU, float16 on a GPU.
    return backend.bfloat16 if device_type == "cpu" else backend.float16


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether an autocast region for ``device_type`` (``"cuda"`` when None, as in
    PyTorch) is active."""
    return _state.get(device_type or "cuda", [False])[0]


def get_autocast_dtype(device_type: str):
    """The dtype autocast regions for ``device_type`` name (bfloat16 on the CPU)."""
    entry = _state.get(device_type)
    return entry[1] if entry and entry[1] is not None else _default_dtype(device_type)


class autocast:  # noqa: N801 - PyTorch's name
    """A context manager and decorator for a mixed-precision region (see the module).

    ``device_type`` is a string such as ``"cpu"`` or ``"cuda"``; ``dtype`` defaults to
    bfloat16 on the CPU and float16 elsewhere; ``enabled=False`` makes it inert.

    >>> import nabla
    >>> @nabla.autocast("cpu")
    ... def f(x):
    ...     return (x * 2).dtype
    >>> f(nabla.ones(2))
    nabla.float32
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _KNOWN:
            raise RuntimeError(f"autocast: unknown device_type {device_type!r}; expected one "
                               f"of {', '.join(_KNOWN)}")
        self.device = device_type
        self.fast_dtype = _default_dtype(device_type) if dtype is None else backend.dtype(dtype)
        self._enabled = bool(enabled)
        if self._enabled and device_type != "cpu":
            warnings.warn(f"User provided device_type of {device_type!r}, but nabla runs on "
                          "the CPU only. Disabling autocast.", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled and not self.fast_dtype.is_floating_point:
            raise RuntimeError(f"autocast: dtype must be a floating-point dtype, got "
                               f"{self.fast_dtype}")
        self._saved = []

    def __enter__(self):
        entry = _state.setdefault(self.device, [False, None])
        self._saved.append(tuple(entry))
        if self._enabled:
            entry[:] = [True, self.fast_dtype]
        else:
            entry[0] = False
        return self

    def __exit__(self, *exc) -> bool:
        _state[self.device][:] = self._saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled):
                return fn(*args, **kwargs)

        return wrapper


def custom_fwd(fwd=None, *, device_type: str = "cpu", cast_inputs=None):
    """PyTorch's decorator for a custom autograd function's forward: returns it as is
    (nabla's autocast casts nothing, so there is nothing to undo)."""
    if fwd is None:
        return lambda f: f
    return fwd


def custom_bwd(bwd=None, *, device_type: str = "cpu"):
    """PyTorch's decorator for a custom autograd function's backward: returns it as is."""
    if bwd is None:
        return lambda f: f
    return bwd
