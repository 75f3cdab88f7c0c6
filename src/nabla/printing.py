"""How a tensor prints: PyTorch's format, element for element.

>>> import nabla
>>> print(nabla.tensor([1.5, -2.0]))
tensor([ 1.5000, -2.0000])
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from . import backend

# Written to reproduce PyTorch's printed output (its default print options), so that a
# tensor reads the same in both libraries: every element right-aligned to one width,
# the same switch to int and scientific notation, the same summarising and line breaks.
# tests/test_tensor.py compares the two reprs case by case.
_PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = 4, 1000, 3, 80
_SCI_MODE = None  # None: chosen from the values, as PyTorch does by default
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
             "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """PyTorch's print options: digits after the point, the element count above which a
    tensor prints summarised, the rows and columns kept at each edge then, the line
    width; ``profile`` "default", "short" or "full" sets all four first; ``sci_mode``
    True or False forces scientific notation on or off (None, the default, chooses).
    As in PyTorch, every call sets ``sci_mode``, so leaving it out turns it back to None.

    >>> import nabla
    >>> nabla.set_printoptions(precision=2)
    >>> print(nabla.tensor([1.0 / 3, 2.5]))
    tensor([0.33, 2.50])
    >>> nabla.set_printoptions(profile="default")
    >>> print(nabla.tensor([1.0 / 3, 2.5]))
    tensor([0.3333, 2.5000])
    """
    global _PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH, _SCI_MODE
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None and (isinstance(value, bool) or not (
                isinstance(value, int) or (name == "threshold" and value == math.inf))):
            raise TypeError(f"set_printoptions: {name} must be an int, got {value!r}")
    if profile is not None and profile not in _PROFILES:
        raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                         f"got {profile!r}")
    if profile is not None:  # checked all first: a refused call changes nothing
        _PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = _PROFILES[profile]
    if precision is not None:
        _PRECISION = precision
    if threshold is not None:
        _THRESHOLD = threshold
    if edgeitems is not None:
        _EDGEITEMS = edgeitems
    if linewidth is not None:
        _LINEWIDTH = linewidth
    _SCI_MODE = None if sci_mode is None else bool(sci_mode)


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
        if _SCI_MODE is not None:  # set_printoptions(sci_mode=...)
            self.sci_mode = _SCI_MODE
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


def _format(t) -> str:
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
