"""PyTorch's ``out=`` keyword: a function's result written into a tensor the caller gives.

PyTorch's first tutorial writes ``torch.matmul(a, b, out=y)`` and ``torch.mul(a, b,
out=z)``. The result is computed as usual and copied into ``out``, which is returned,
with PyTorch's rules: no gradient can flow through ``out=`` (an error while a graph is
recorded and an argument requires grad), the result must cast to ``out``'s dtype within
its kind (an int result into a float tensor, not a float result into an int one), and
an ``out`` of another shape is resized, with PyTorch's warning unless it was empty.

>>> import nabla
>>> z = nabla.empty(2)
>>> nabla.mul(nabla.ones(2), 3, out=z) is z, z.tolist()
(True, [3.0, 3.0])
"""

from __future__ import annotations

import warnings

import numpy as np

from . import autograd as _ag
from . import inplace as _ip


def write(name: str, result, out):
    """``result`` when ``out`` is None; else ``result``'s values in ``out``, returned."""
    if out is None:
        return result
    if not isinstance(out, _ag.Tensor):
        raise TypeError(f"{name}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    if not isinstance(result, _ag.Tensor):
        raise TypeError(f"{name}(): out= is supported where the function returns one tensor; "
                        "assign its results instead")
    if _ag.is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    src, dst = result._data, out._data
    if not np.can_cast(src.dtype, dst.dtype, casting="same_kind"):
        raise RuntimeError(
            f"{name}(): result type {result.dtype} can't be cast to the desired output type "
            f"{out.dtype}"
        )
    if dst.shape != src.shape:
        if dst.size:
            warnings.warn(
                f"{name}(): an output with one or more elements was resized since it had "
                f"shape {list(dst.shape)}, which does not match the required output shape "
                f"{list(src.shape)} (PyTorch deprecates this; pass an empty tensor to "
                "reuse it)",
                UserWarning,
                stacklevel=3,
            )
        out._data = src.astype(dst.dtype)  # new storage, as PyTorch's resize
    else:
        _ip.check_writable(out)  # an expand()ed view: one element stands for many
        np.copyto(dst, src, casting="same_kind")
    out._vc[0] += 1
    return out
