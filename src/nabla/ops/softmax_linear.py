"""A Linear layer's gradients under log_softmax and NLL, a block of columns at a time.

A language model ends in ``log_softmax(decoder(h))`` and ``nll_loss``: 700 rows of a
33278-word vocabulary in PyTorch's word language model. Done node by node, log_softmax's
backward writes its 93 MB input gradient ``G`` and the decoder's backward reads it twice
from memory, for ``G @ W`` and ``G.T @ h`` (and once more for the bias's row sums).
Here ``G`` is never whole: each thread takes its share of the vocabulary and, block by
block of ``BLOCK`` columns, computes that block of ``G`` from log_softmax's output and
NLL's picks (``elementwise_kernels.log_softmax_grad_picked_cols``, the bits of the whole
array's columns), then adds the block's part of ``G @ W`` into its own input gradient,
writes its rows of ``G.T @ h`` and of the bias gradient, while the block is in cache.
The threads' input gradients are summed at the end. 700 x 33278 with h 700 x 200,
2-core Xeon: 96-101 -> 82-87 ms for log_softmax's and the decoder's backward.

``G.T @ h`` and the bias gradient are the whole products' rows; ``G @ W`` is summed in
another order (block by block, then thread by thread), so it agrees with the dense path
within float32 rounding, not bit for bit. Float32 with the compiled kernels and
OpenBLAS's ``cblas_sgemm`` only; elsewhere ``usable`` says no and everything stays
dense.
"""

from __future__ import annotations

import numpy as np

from ..blas import sgemm
from ..threads import split, zeros
from .elementwise import _compiled_for

# Columns a block: 700 x 2048 float32 is 5.7 MB. Wider blocks make better products;
# measured at 512 / 1024 / 2048: 89-91 / 84-87 / 82-88 ms (the dense path 96-101).
BLOCK = 2048


def usable(out, x, w):
    """True where ``linear_grads`` can take log_softmax's output ``out`` under a Linear
    layer of input ``x`` and weight ``w``: float32 throughout, C-contiguous output and
    weight, the compiled kernels and OpenBLAS at hand (``activation`` asks, for a
    log_softmax whose input is such a layer's output)."""
    f32 = np.float32
    return (out.dtype == x.dtype == w.dtype == f32 and w.ndim == 2
            and w.flags.c_contiguous and out.flags.c_contiguous
            and _compiled_for(out) is not None and sgemm() is not None)


def linear_grads(needs, g, x, w):
    """``(gx, gw, gb)`` of ``x @ w.T + b`` for the ``SoftmaxPicks`` gradient ``g`` (each
    None where ``needs`` says no), by blocks of columns on the threads."""
    kern = _compiled_for(g.out)
    fn = sgemm()
    n = w.shape[0]
    out = g.out.reshape(-1, n)
    v = g.picks.values.astype(np.float32, copy=False)
    t = g.picks.cols
    m, k = len(out), w.shape[1]
    x2 = np.ascontiguousarray(x).reshape(m, k)
    need_x, need_w = needs[0], needs[1]
    need_b = len(needs) > 2 and needs[2]
    gw = np.empty(w.shape, w.dtype) if need_w else None
    gb = np.empty(n, w.dtype) if need_b else None
    ones = np.ones(m, w.dtype)

    def part(lo, hi):
        gx = zeros(x.shape, w.dtype) if need_x else None  # C-contiguous: (m, k) to BLAS
        flat = np.empty(m * min(BLOCK, hi - lo), w.dtype)
        for j in range(lo, hi, BLOCK):
            cols = min(BLOCK, hi - j)
            gj = flat[: m * cols].reshape(m, cols)  # C-contiguous at every width
            kern.log_softmax_grad_picked_cols(out, v, t, j, gj)
            # Row-major (101); 111 as it is, 112 transposed.
            if gx is not None:  # gx += G[:, j:j+cols] @ w[j:j+cols]
                fn(101, 111, 111, m, k, cols, 1.0, gj.ctypes.data, cols,
                   w[j].ctypes.data, k, 1.0, gx.ctypes.data, k)
            if gw is not None:  # gw[j:j+cols] = G[:, j:j+cols].T @ x
                fn(101, 112, 111, cols, k, m, 1.0, gj.ctypes.data, cols,
                   x2.ctypes.data, k, 0.0, gw[j].ctypes.data, k)
            if gb is not None:
                np.dot(ones, gj, out=gb[j:j + cols])
        return gx

    parts = split(part, n, BLOCK)
    gx = parts[0]
    if need_x:
        for p in parts[1:]:
            gx += p
    return gx, gw, gb
