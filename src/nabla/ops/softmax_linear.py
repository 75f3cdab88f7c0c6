"""A Linear layer's gradients under log_softmax and NLL, or cross-entropy, a block of
columns at a time.

A language model ends in ``log_softmax(decoder(h))`` and ``nll_loss`` (700 rows of a
33278-word vocabulary in PyTorch's word language model), or in ``cross_entropy`` of the
decoder's logits (GPT-style programs). Done node by node, the loss's backward writes its
93 MB input gradient ``G`` and the decoder's backward reads it twice from memory, for
``G @ W`` and ``G.T @ h`` (and once more for the bias's row sums). Here ``G`` is never
whole: the loss sends a ``row_picks.ColumnBlocks``, each thread takes its share of the
vocabulary and, block by block of ``BLOCK`` columns, has the loss fill that block of
``G`` (log_softmax's: ``elementwise_kernels.log_softmax_grad_picked_cols``, or its
NumPy passes without Numba; cross-entropy's: the softmax scaled, minus the scale at the
targets; either way the bits of the whole array's columns), then adds the block's part
of ``G @ W`` into its own input gradient and writes its rows of ``G.T @ h`` and of the
bias gradient, while the block is in cache. The threads' input gradients are summed at
the end. 700 x 33278 with h 700 x 200, 2-core Xeon, the loss's and the decoder's
backward: log_softmax + NLL 88.6-92.2 -> 84.4-86.7 ms, cross-entropy 82.3-83.7 ->
69.9-75.8 (PyTorch 83.5-86.7 and 84.3).

``G.T @ h`` and the bias gradient are the whole products' rows; ``G @ W`` is summed in
another order (block by block, then thread by thread), so it agrees with the dense path
within float32 rounding, not bit for bit. Float32 with OpenBLAS's ``cblas_sgemm`` only;
elsewhere ``takes`` says no and everything stays dense.
"""

from __future__ import annotations

import numpy as np

from ..autograd import ones_vector
from ..blas import sgemm
from ..threads import _sum_parts, split, zeros

# Columns a block: 700 x 2048 float32 is 5.7 MB. Wider blocks make better products;
# measured at 512 / 1024 / 2048: 89-91 / 84-87 / 82-88 ms (the dense path 96-101).
BLOCK = 2048


def takes(below, dtype):
    """True where ``linear_grads`` can take a loss's gradient of ``dtype`` under the
    Linear layer ``below`` (its input and weight arrays, from ``activation.linear_below``;
    None: the loss's input is not a Linear layer's output)."""
    if below is None:
        return False
    x, w = below
    f32 = np.float32
    return (dtype == x.dtype == w.dtype == f32 and w.ndim == 2 and w.flags.c_contiguous
            and sgemm() is not None)


def linear_grads(needs, g, x, w):
    """``(gx, gw, gb)`` of ``x @ w.T + b`` for the ``ColumnBlocks`` gradient ``g`` (each
    None where ``needs`` says no), by blocks of columns on the threads."""
    fn = sgemm()
    n, k = w.shape
    m = x.size // k
    x2 = np.ascontiguousarray(x).reshape(m, k)
    need_x, need_w = needs[0], needs[1]
    need_b = len(needs) > 2 and needs[2]
    gw = np.empty(w.shape, w.dtype) if need_w else None
    gb = np.empty(n, w.dtype) if need_b else None
    ones = ones_vector(m, w.dtype)

    def part(lo, hi):
        gx = zeros(x.shape, w.dtype) if need_x else None  # C-contiguous: (m, k) to BLAS
        flat = np.empty(m * min(BLOCK, hi - lo), w.dtype)
        for j in range(lo, hi, BLOCK):
            cols = min(BLOCK, hi - j)
            gj = flat[: m * cols].reshape(m, cols)  # C-contiguous at every width
            g.fill(j, gj)
            # Row-major (101); 111 as it is, 112 transposed.
            if gx is not None:  # gx += G[:, j:j+cols] @ w[j:j+cols]
                fn(101, 111, 111, m, k, cols, 1.0, gj.ctypes.data, cols,
                   w[j].ctypes.data, k, 1.0, gx.ctypes.data, k)
            if gw is not None:  # gw[j:j+cols] = G[:, j:j+cols].T @ x
                fn(101, 112, 111, cols, k, m, 1.0, gj.ctypes.data, cols,
                   x2.ctypes.data, k, 0.0, gw[j].ctypes.data, k)
            if gb is not None:
                np.dot(ones, gj, out=gb[j:j + cols])
        return (gx,)

    return _sum_parts(split(part, n, BLOCK), 0), gw, gb
