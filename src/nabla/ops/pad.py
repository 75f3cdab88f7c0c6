"""Index tables for PyTorch's non-constant padding modes.

Reflect, replicate and circular padding each pick, for every output position of a
padded axis, one input position. The tables here say which; indexing the tensor with
them (an advanced index, whose gradient accumulates with ``np.add.at``) pads it, and
the gradient of an edge element that appears several times adds up, as in PyTorch.

>>> padding_index((4,), (2, 1), "reflect")[0].tolist()
[2, 1, 0, 1, 2, 3, 2]
"""

from __future__ import annotations

import numpy as np

# PyTorch's mode names and NumPy's for the same rule
_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def padding_index(shape, pad, mode):
    """Index arrays (one per padded trailing axis, in an open mesh) that pad ``shape``.

    ``pad`` is PyTorch's (left, right) pairs from the last axis backwards.
    """
    if mode not in _NUMPY_MODE:
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    k = len(pad) // 2
    axes = []
    for i in range(k):
        n = shape[len(shape) - 1 - i]
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: negative padding {pad} is not supported in {mode!r} mode")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(
                f"pad: padding ({lo}, {hi}) must be less than the size {n} of dimension "
                f"{len(shape) - 1 - i} in 'reflect' mode"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(
                f"pad: padding ({lo}, {hi}) must be at most the size {n} of dimension "
                f"{len(shape) - 1 - i} in 'circular' mode"
            )
        if mode == "replicate" and n == 0 and lo + hi:
            raise ValueError("pad: cannot replicate an empty dimension")
        axes.append(np.pad(np.arange(n), (lo, hi), mode=_NUMPY_MODE[mode]))
    return np.ix_(*axes[::-1])
