"""Gradients kept in a compact form: ``RowPicks``, zero but for one entry in each row,
kept as those entries, and ``ColumnBlocks``, not computed until a layer asks for it a
block of columns at a time.

``nll_loss`` picks one log-probability a row (the target's), so its gradient is
``value[i]`` at ``(i, target[i])`` and zero elsewhere. Over a language model's
vocabulary that dense array is 93 MB of zeros (700 rows of 33278 words) to write, and
``log_softmax``'s backward then reads all of it only to find each row's one entry. When
NLL's input comes straight from ``log_softmax`` over a big array, NLL sends this object
instead, and ``log_softmax``'s backward uses the picks: ``exp(out) * -v`` with ``v``
added back at the picks, the same operations on the same values, so the same bits.

One step further, where that log_softmax (or a cross-entropy) takes a Linear layer's
output, the loss's own gradient goes on as a ``ColumnBlocks`` (see its class).

The engine passes either along like any gradient, and turns it into the dense array
(``dense()``) wherever something else wants one: a hook or ``retain_grad``,
``autograd.grad`` capturing gradients, or a second gradient to add to (``+`` gives a
dense array).

>>> import numpy as np
>>> g = RowPicks(np.array([2, 0]), np.array([-0.5, -0.5], np.float32), (2, 3))
>>> g.dense().tolist()
[[0.0, 0.0, -0.5], [-0.5, 0.0, 0.0]]
>>> (g + np.ones((2, 3), np.float32)).tolist()
[[1.0, 1.0, 0.5], [0.5, 1.0, 1.0]]
>>> full = np.arange(6.0).reshape(2, 3)
>>> b = ColumnBlocks((2, 3), full.dtype, lambda j, res: np.copyto(res, full[:, j:j + 2]),
...                  lambda: full.copy())
>>> part = np.empty((2, 2)); b.fill(1, part); part.tolist()  # columns 1 and 2
[[1.0, 2.0], [4.0, 5.0]]
>>> b.reshape((1, 2, 3)).dense().shape
(1, 2, 3)
"""

from __future__ import annotations

import numpy as np

from .threads import zeros


class RowPicks:
    """``values[i]`` at ``(i, cols[i])`` of an otherwise zero array of ``shape``, its rows
    being those of ``reshape(-1, shape[-1])``, in ``values``' dtype."""

    __slots__ = ("cols", "values", "shape", "dtype")
    # ``ndarray + RowPicks`` and NumPy's ufuncs leave it to this class's own operators
    # instead of treating it as an object to broadcast.
    __array_ufunc__ = None
    # Not a view of anything, yet not an array either: the engine, which adds a
    # gradient in place into one whose ``base`` is None, must not try that with this.
    base = False

    def __init__(self, cols, values, shape):
        self.cols, self.values, self.shape = cols, values, shape
        self.dtype = values.dtype

    def dense(self) -> np.ndarray:
        """The gradient as a dense array."""
        a = zeros(self.shape, self.dtype)
        a.reshape(-1, self.shape[-1])[np.arange(len(self.cols)), self.cols] = self.values
        return a

    def reshape(self, shape):
        """The same picks in ``shape`` (a view's backward) where the rows stay rows;
        otherwise the dense array reshaped."""
        if shape[-1] == self.shape[-1]:
            return RowPicks(self.cols, self.values, tuple(shape))
        return self.dense().reshape(shape)

    def __add__(self, other):
        return self.dense() + dense(other)

    __radd__ = __add__

    def __repr__(self):
        return f"RowPicks(shape={self.shape}, dtype={self.dtype})"


class ColumnBlocks:
    """A gradient not yet computed, to be taken a block of columns at a time: ``fill(j,
    res)`` writes the columns ``[j, j + w)`` of its rows (those of ``reshape(-1,
    shape[-1])``) into ``res`` (R, w), ``make()`` gives the whole array.

    Sent where a loss's gradient over a vocabulary goes straight into a Linear layer (a
    language model's decoder, directly or through a ``.view`` that keeps the rows):
    log_softmax's backward under NLL's picks, or cross-entropy's ``softmax - onehot``.
    That layer's backward (``ops.softmax_linear``) then uses each block in its products
    while it is in cache, instead of 93 MB written once and read twice. Anywhere else,
    the engine makes it dense as it does a ``RowPicks``.
    """

    __slots__ = ("shape", "dtype", "fill", "_make")
    __array_ufunc__ = None
    base = False

    def __init__(self, shape, dtype, fill, make):
        # fill and make are the producer's (this module is below the ops that compute it).
        self.shape, self.dtype, self.fill, self._make = tuple(shape), dtype, fill, make

    def dense(self) -> np.ndarray:
        """The gradient as a dense array."""
        return self._make().reshape(self.shape)

    def reshape(self, shape):
        """The same gradient in ``shape`` where the rows stay rows; else dense."""
        if shape[-1] == self.shape[-1]:
            return ColumnBlocks(shape, self.dtype, self.fill, self._make)
        return self.dense().reshape(shape)

    __add__ = __radd__ = RowPicks.__add__

    def __repr__(self):
        return f"ColumnBlocks(shape={self.shape}, dtype={self.dtype})"


# The gradients kept in a compact form: what the engine makes dense for anyone else.
COMPACT = (RowPicks, ColumnBlocks)


def dense(g):
    """``g`` as an array: a compact gradient made dense, anything else as it is."""
    return g.dense() if type(g) in COMPACT else g
