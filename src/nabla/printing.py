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
