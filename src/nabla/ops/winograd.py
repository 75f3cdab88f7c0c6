"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3): a compiled path for
``Conv2d`` (optional: Numba, ``pip install 'nabla[speed]'``; ``NABLA_NUMBA=0`` keeps to
NumPy).

im2col spends 9 multiply-adds on each output per input channel; this spends 36 on a
4x4 block of 16 outputs, 2.25: each 6x6 input tile and each kernel are transformed
(``B^T d B``, ``G g G^T``), multiplied elementwise and summed over the input channels
(36 matrix products, one per tile position, [tiles, C] @ [C, O]), and transformed back
(``A^T m A``). Backward runs the adjoints of the same steps: the output gradient's
tiles through ``A``, two sets of 36 products (the kernels' gradient against the
saved input tiles, the input tiles' gradient against the kernels), and ``B``. The
transforms are the compiled kernels of ``winograd_kernels.py``; the products are
NumPy's ``matmul``. The MNIST CNN's second layer (32 -> 64 channels at 26x26, batch
64; forward + backward) drops from ~1/3 of the training step: see
``benchmarks/README.md``.

The values differ from im2col's in the last bits: the transforms multiply by up to 8
before the sums and divide after, so float32 rounding errors come out at ~1e-6 of the
largest output instead of ~1e-7 (tested against the NumPy path and PyTorch), and a
NaN or infinity in the input spreads over the 4x4 output blocks of the tiles that read
it, where im2col keeps it to the outputs whose windows hold it. It runs for float32
3x3 kernels with unit stride and dilation, one group, and at least ``_MIN_IN`` input
and ``_MIN_OUT`` output channels (fewer, and the products are too small to gain);
everything else takes im2col, the reference path.

The batch goes in chunks of samples whose tiles fit in a core's cache (``_CHUNK``
bytes), the chunks split over threads; the input's transformed tiles are kept for
backward (2.25x the input's size) instead of computing them again.

>>> import numpy as np
>>> x = np.ones((1, 16, 6, 6), np.float32)
>>> w = np.ones((16, 16, 3, 3), np.float32)
>>> applies(x, w, ((1, 1), (0, 0, 0, 0), (1, 1), 1)) in (True, False)
True
"""

from __future__ import annotations

import numpy as np

from ..threads import _sum_parts, split
from ..workspace import _give, _take
from . import compiled

# The kernel transform G for the points 0, 1, -1, 2, -2, infinity (the kernels' B^T
# and A^T are in winograd_kernels.py): row k evaluates the kernel's polynomial at the
# k-th point, scaled by the inverse of what B^T's row k was multiplied by to make it
# integral (the last row: the leading coefficient, for the point at infinity).
_G = np.array([
    [1 / 4, 0, 0],
    [1 / 6, 1 / 6, 1 / 6],
    [1 / 6, -1 / 6, 1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
])
_KG = np.kron(_G, _G)  # (36, 9): vec(G g G^T) = _KG @ vec(g)

# Fewer channels than these, and im2col is as fast or faster (forward + backward, batch
# 64, 28x28, padding 1, on the 2-core Xeon): 8 -> 8 channels 1.17x faster here, 16 -> 4
# 1.51x, but 4 -> 16 0.73x, 3 -> 32 0.82x, 1 -> 32 0.49x (a first layer's products are
# too small for its transforms to pay).
_MIN_IN, _MIN_OUT = 8, 4

# A chunk's transformed tiles, input and output, in about this many bytes: they stay in
# a core's cache between the transforms and the products. MNIST CNN conv2 (4 samples a
# chunk): forward + backward of half the batch on one thread 22.8 ms with chunks of 4,
# 23.9 of 8, 33.6 with the whole half at once.
_CHUNK = 2 << 20

_loaded: list = []


def kernels():
    """The compiled transforms (the module ``winograd_kernels``), or None: without
    Numba, or with ``NABLA_NUMBA=0``, or when they do not compile or check out."""
    return compiled.once(_loaded, "the Winograd convolution kernels", _build, "im2col")


def _build():
    from . import winograd_kernels as wk

    _check(wk)  # compiles them now, not inside a training step
    return wk


def _check(wk):
    """A small convolution through every kernel against its direct sums."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 5, 7)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    params = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    out, state = forward(wk, x, w, None, (5, 7), params)
    gx, gw = backward(wk, g, state, (True, True))[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.float64)
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    ref = np.einsum("ncyxij,ocij->noyx", win, w)
    # gx through the adjoint's defining identity: <conv(x), g> = <x, gx>.
    ok = (np.allclose(out, ref, atol=1e-4)
          and np.allclose(gw, np.einsum("ncyxij,noyx->ocij", win, g), atol=1e-4)
          and np.isclose((ref * g).sum(), (x * gx.astype(np.float64)).sum(), atol=1e-3))
    if not ok:
        raise RuntimeError("the compiled Winograd transforms gave wrong values")


def applies(x, w, params) -> bool:
    """Whether ``Conv2d`` with these arrays and ``(stride, padding, dilation, groups)``
    runs here (see the module docstring)."""
    return x.dtype == np.float32 and suits(w.dtype, w.shape, params)


def suits(dtype, wshape, params) -> bool:
    """``applies`` for a convolution known by its kernel's dtype and shape and its
    ``(stride, padding, dilation, groups)``: before its input exists (``Sequential``
    fuses no such layer into a conv-pool stage: alone it runs faster here)."""
    stride, _, dilation, groups = params
    return (dtype == np.float32 and tuple(wshape[2:]) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and groups == 1
            and wshape[1] >= _MIN_IN and wshape[0] >= _MIN_OUT and kernels() is not None)


def _layout(n, c, o, out_hw):
    """(tile rows, tile columns, samples a chunk, chunks) for this convolution."""
    th, tw = -(-out_hw[0] // 4), -(-out_hw[1] // 4)
    per_sample = (c + o) * 36 * th * tw * 4
    chunk = max(1, min(n, _CHUNK // per_sample))
    return th, tw, chunk, -(-n // chunk)


def forward(wk, x, w, b, out_hw, params, min_rows=1):
    """The convolution of float32 ``x`` (N, C, H, W) with ``w`` (O, C, 3, 3) and bias
    ``b`` (or None) of output size ``out_hw``, and what ``backward`` needs (``release``
    hands its buffer back to the pool)."""
    x = np.ascontiguousarray(x)
    (n, c, h, wd), o = x.shape, w.shape[0]
    pt, pl = params[1][0], params[1][2]
    th, tw, chunk, n_chunks = _layout(n, c, o, out_hw)
    tiles = th * tw
    u = (_KG @ w.reshape(o * c, 9).T.astype(np.float64)).astype(np.float32)
    u = u.reshape(36, o, c)
    # Kept for backward; from the workspace pool, as the next step's forward takes it
    # again (new pages each step cost ~0.5 ms of page faults on the MNIST CNN's 11 MB).
    v = _take((n_chunks, 36, c, chunk * tiles), np.float32)
    out = np.empty((n, o) + tuple(out_hw), np.float32)
    bias = np.zeros(o, np.float32) if b is None else np.ascontiguousarray(b, np.float32)

    ut = np.ascontiguousarray(u.transpose(0, 2, 1))

    def part(lo, hi):  # chunks lo..hi: tiles, products, outputs
        m = _take((36, chunk * tiles, o), np.float32)
        for k in range(lo, hi):  # a loop over chunks of samples
            s, e = k * chunk, min(n, (k + 1) * chunk)
            cols = (e - s) * tiles
            wk.input_tiles(x, s, e, pt, pl, th, tw, v[k])
            np.matmul(v[k][:, :, :cols].transpose(0, 2, 1), ut, out=m[:, :cols])
            wk.output_tiles(m, s, e, th, tw, bias, out)
        _give(m)

    split(part, n_chunks, -(-min_rows // chunk))
    return out, (v, u, (n, c, h, wd), params, out_hw, min_rows)


def release(state):
    """Hand the transformed input that ``forward`` kept back to the workspace pool."""
    _give(state[0])


def backward(wk, g, state, needs, bias_grad=None):
    """The gradients (input, kernels, bias) of the convolution that ``forward`` ran,
    given its output gradient ``g``; None where ``needs`` says none is wanted. The bias
    gradient of a part of the batch is ``bias_grad(g[part])``."""
    v, u, xshape, params, out_hw, min_rows = state
    g = np.ascontiguousarray(g, np.float32)
    (n, c, _, _), o = xshape, u.shape[1]
    pt, pl = params[1][0], params[1][2]
    th, tw, chunk, n_chunks = _layout(n, c, o, out_hw)
    tiles = th * tw
    want_x, want_w = needs[0], needs[1]
    want_b = len(needs) > 2 and needs[2] and bias_grad is not None
    gx = np.empty(xshape, np.float32) if want_x else None

    def part(lo, hi):  # chunks lo..hi: gx for their samples, their sums for dW and db
        dm = _take((36, chunk * tiles, o), np.float32)
        dv = _take((36, chunk * tiles, c), np.float32) if want_x else None
        du = np.zeros((36, c, o), np.float32) if want_w else None  # transposed: [c, o]
        prod = np.empty_like(du) if want_w else None
        for k in range(lo, hi):  # a loop over chunks of samples
            s, e = k * chunk, min(n, (k + 1) * chunk)
            cols = (e - s) * tiles
            wk.grad_tiles(g, s, e, th, tw, dm)
            if want_w:
                np.matmul(v[k][:, :, :cols], dm[:, :cols], out=prod)
                du += prod
            if want_x:
                np.matmul(dm[:, :cols], u, out=dv[:, :cols])
                wk.input_grad_tiles(dv, s, e, pt, pl, th, tw, gx)
        _give(dm)
        if dv is not None:
            _give(dv)
        gb = bias_grad(g[lo * chunk:hi * chunk]) if want_b else None
        return du, gb

    parts = split(part, n_chunks, -(-min_rows // chunk))
    gw = gb = None
    if want_w:
        du = _sum_parts(parts, 0)
        gw = (_KG.T @ du.reshape(36, -1).astype(np.float64)).astype(np.float32)
        gw = np.ascontiguousarray(gw.reshape(3, 3, c, o).transpose(3, 2, 0, 1))
    if want_b:
        gb = _sum_parts(parts, 1)
    return gx, gw, gb
