"""What a recorded graph lets go of before backward.

A node keeps its input tensors (for its edges, and for ``explain`` and the graph
drawing), so an intermediate the program has dropped would stay alive to the end of
backward, with its array. ``free_consumed`` gives such a tensor a placeholder instead
(``Function.apply`` calls it); ``freed`` tells a placeholder from an array.

>>> import numpy as np
>>> from nabla import graph_memory
>>> graph_memory.freed(np.zeros(3))
False
"""

from __future__ import annotations

import sys

import numpy as np

from . import refcounts

_getrefcount = sys.getrefcount

# A big intermediate that only the graph still holds gives up its array (see
# free_consumed): from this many bytes, below which the check costs more than it saves.
FREE_FROM = 1 << 16
_ZERO = {}  # dtype -> the one-element array every placeholder of that dtype views


def free_consumed(node):
    """Let go of the arrays of ``node``'s intermediate inputs that nothing but ``node``
    holds any more, as PyTorch frees what backward does not need.

    A node keeps its input tensors (for its edges, and for ``explain`` and the graph
    drawing); an intermediate the program has dropped, such as each step of ``0.5 * x *
    (1 + tanh(...))``, would stay alive to the end of backward, with its array. When an
    op with a big output records its node, it calls this for the nodes that made its
    inputs: every input of theirs that only they reference (its reference count says so:
    the program cannot reach it any more) gets a placeholder of its shape and dtype
    instead, a read-only view of one zero with strides of 0. Its array then goes unless
    some node saved it for backward, and the next ops reuse that memory while it is in
    cache: a GPT's written-out GELU 281 -> 235 us, its step 7.3 -> 7.0 ms. Backward needs
    only an input's shape and dtype; ``explain`` shows such a value as freed. A weak
    reference to such a tensor would see the placeholder (PyTorch frees the tensor).
    Nothing is freed where reference counts cannot be trusted (``refcounts.EXACT``)."""
    if not refcounts.EXACT:
        return
    for u in node.inputs:
        if u.grad_fn is not None and _getrefcount(u) == 3:  # node.inputs, u, the call
            a = u._data
            zero = _ZERO.get(a.dtype)
            if a.nbytes >= FREE_FROM and (zero is None or a.base is not zero):
                if zero is None:
                    zero = _ZERO[a.dtype] = np.zeros(1, a.dtype)
                v = np.ndarray(a.shape, a.dtype, zero, 0, (0,) * a.ndim)
                v.flags.writeable = False
                u._data = v


def freed(a) -> bool:
    """True for the placeholder ``free_consumed`` leaves in place of an array."""
    return a.base is not None and a.base is _ZERO.get(a.dtype)
