"""Resampling: interpolate/upsample, the padding modes, and channel dropout.

Any resampling that acts on rows and columns separately is two matrix products
(``Separable2d``); nearest upsampling by integer factors is one broadcast copy; the
reflect/replicate/circular paddings gather by index maps.

>>> import nabla
>>> interpolate(nabla.ones(1, 1, 2, 2), scale_factor=2).shape
(1, 1, 4, 4)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function
from ..random import _np as _rng
from ..tensor import ShapeError, Tensor
from ._checks import _as, _output_size

__all__ = [
    "interpolate", "upsample", "upsample_nearest", "pad_mode", "dropout1d", "dropout2d",
]


class Separable2d(Function):
    """``out[n, c] = A @ x[n, c] @ B.T``: any resampling that acts on rows and columns
    separately (adaptive average pooling, nearest and bilinear interpolation) as two
    matrix products, whose backward is two more."""

    @staticmethod
    def forward(ctx, x, a, b):
        n, c, h, w = x.shape
        ctx.mats = (a, b)
        t = (x.reshape(-1, w) @ b.T).reshape(n, c, h, -1)
        return np.matmul(a, t)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.mats
        n, c, ho, wo = g.shape
        t = np.matmul(a.T, g)
        return (t.reshape(-1, wo) @ b).reshape(n, c, a.shape[1], b.shape[1])


class RepeatInterleave2d(Function):
    """Nearest upsampling by integer factors: one broadcast copy; backward one sum."""

    @staticmethod
    def forward(ctx, x, fh, fw):
        n, c, h, w = x.shape
        ctx.f = (fh, fw)
        out = np.broadcast_to(x[:, :, :, None, :, None], (n, c, h, fh, w, fw))
        return out.reshape(n, c, h * fh, w * fw)

    @staticmethod
    def backward(ctx, g):
        fh, fw = ctx.f
        n, c, ho, wo = g.shape
        return g.reshape(n, c, ho // fh, fh, wo // fw, fw).sum(axis=(3, 5))


class IndexPad2d(Function):
    """Reflect/replicate/circular padding: gather rows and columns by index maps.

    Backward multiplies by the transposed one-hot maps, which sums every copy of an
    element back into it (one small matrix per axis, no scatter over elements).
    """

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.maps = (rows, cols, x.shape)
        return x[:, :, rows[:, None], cols[None, :]]

    @staticmethod
    def backward(ctx, g):
        rows, cols, shape = ctx.maps
        a = np.zeros((len(rows), shape[2]), dtype=g.dtype)
        a[np.arange(len(rows)), rows] = 1
        b = np.zeros((len(cols), shape[3]), dtype=g.dtype)
        b[np.arange(len(cols)), cols] = 1
        t = np.matmul(a.T, g)
        return (t.reshape(-1, g.shape[3]) @ b).reshape(shape)


def _pad_index(size, lo, hi, mode):
    i = np.arange(-lo, size + hi)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= size, 2 * (size - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    return i % size  # circular


def pad_mode(input, pad, mode) -> Tensor:
    """Pad the last two dims of an (N, C, H, W) input (or the last of an (N, C, L) one)
    by ``pad = (left, right[, top, bottom])`` with ``mode`` "reflect", "replicate" or
    "circular" (what ``padding_mode`` of the convolution layers uses).

    >>> import nabla
    >>> pad_mode(nabla.tensor([[[1.0, 2.0, 3.0]]]), (2, 1), "reflect").tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
    """
    fn = "pad_mode"
    x = _as(input, fn)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"{fn}: mode must be 'reflect', 'replicate' or 'circular', got {mode!r}")
    spatial = len(pad) // 2
    if len(pad) % 2 or spatial not in (1, 2) or x.ndim != spatial + 2:
        raise ShapeError(
            f"{fn}: expected (left, right) for an (N, C, L) input or (left, right, top, "
            f"bottom) for an (N, C, H, W) input, got pad={tuple(pad)} for input of size "
            f"{list(x.shape)}"
        )
    x4 = x.unsqueeze(2) if spatial == 1 else x
    h, w = x4.shape[2:]
    left, right = pad[0], pad[1]
    top, bottom = (pad[2], pad[3]) if spatial == 2 else (0, 0)
    for p, n in ((left, w), (right, w), (top, h), (bottom, h)):
        if p < 0 or (mode == "reflect" and p >= n) or (mode == "circular" and p > n):
            raise ShapeError(
                f"{fn}: padding {tuple(pad)} is invalid for {mode} padding of an input of "
                f"size {list(x.shape)}"
            )
    out = IndexPad2d.apply(x4, _pad_index(h, top, bottom, mode),
                           _pad_index(w, left, right, mode))
    return out.squeeze(2) if spatial == 1 else out


# ---------------------------------------------------------------- interpolation
def _nearest_matrix(size, out, scale, exact, dtype):
    """One-hot rows: output i copies input ``floor(i * scale)`` (PyTorch's float32
    arithmetic, so sizes that do not divide evenly pick the same pixels)."""
    i = np.arange(out, dtype=np.float32)
    src = np.floor((i + np.float32(0.5)) * scale) if exact else np.floor(i * scale)
    src = np.minimum(src.astype(np.int64), size - 1)
    m = np.zeros((out, size), dtype=dtype)
    m[np.arange(out), src] = 1
    return m


def _linear_matrix(size, out, scale, align_corners, dtype):
    """Rows of two weights each: PyTorch's (bi)linear source coordinates."""
    i = np.arange(out, dtype=np.float64)
    if align_corners:
        src = i * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        src = np.maximum((i + 0.5) * float(scale) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    frac = src - lo
    m = np.zeros((out, size), dtype=np.float64)
    np.add.at(m, (np.arange(out), lo), 1 - frac)  # out x 2 entries, not every element
    np.add.at(m, (np.arange(out), hi), frac)
    return m.astype(dtype)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) input by ``size`` or ``scale_factor``.

    Modes: ``"nearest"`` (PyTorch's legacy nearest), ``"nearest-exact"``, and
    ``"linear"``/``"bilinear"`` (with ``align_corners``).

    >>> import nabla
    >>> x = nabla.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> interpolate(x, scale_factor=2)[0, 0].tolist()
    [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [3.0, 3.0, 4.0, 4.0]]
    >>> interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)[0, 0, 1].tolist()
    [2.0, 2.5, 3.0]
    """
    fn = "interpolate"
    x = _as(input, fn)
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"{fn}: expected a 3D (N, C, L) or 4D (N, C, H, W) input, but got input of size "
            f"{list(x.shape)}"
        )
    if x._data.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype}")
    spatial = x.ndim - 2
    modes = ("nearest", "nearest-exact", "linear", "bilinear")
    if mode not in modes:
        raise NotImplementedError(f"{fn}: mode {mode!r} is not supported; use one of {modes}")
    if mode in ("linear", "bilinear") and mode != ("linear", "bilinear")[spatial - 1]:
        raise ValueError(f"{fn}: mode {mode!r} needs a {mode == 'linear' and 3 or 4}D input")
    if align_corners is not None and mode.startswith("nearest"):
        raise ValueError(
            f"{fn}: align_corners option can only be set with the interpolating modes: "
            "linear | bilinear"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: exactly one of size and scale_factor must be given")
    hw = x.shape[2:]
    # Source coordinates scale by input/output size, or by 1/scale_factor as given
    # unless asked to recompute it from the sizes. PyTorch computes nearest indices in
    # float32 and linear weights in the input's precision; so do we.
    f32 = np.float32 if mode.startswith("nearest") else np.float64
    if size is not None:
        out = _output_size(fn, size, hw)
        scales = [f32(n) / f32(o) for n, o in zip(hw, out)]
    else:
        sf = (scale_factor,) * spatial if isinstance(scale_factor, numbers.Number) \
            else tuple(scale_factor)
        if len(sf) != spatial or min(sf) <= 0:
            raise ValueError(f"{fn}: scale_factor must be {spatial} positive numbers, got "
                             f"{scale_factor}")
        out = tuple(int(math.floor(n * f)) for n, f in zip(hw, sf))
        if min(out) < 1:
            raise ShapeError(f"{fn}: input of size {list(x.shape)} scaled by {scale_factor} "
                             "is empty")
        scales = [f32(n) / f32(o) if recompute_scale_factor else f32(1.0 / f)
                  for n, o, f in zip(hw, out, sf)]
    if spatial == 1:
        x4, hw4, out4, scales4 = x.unsqueeze(2), (1,) + hw, (1,) + out, [f32(1)] + scales
    else:
        x4, hw4, out4, scales4 = x, hw, out, scales
    if mode == "nearest" and all(o % n == 0 for n, o in zip(hw4, out4)) \
            and all(s == f32(n) / f32(o) for s, n, o in zip(scales4, hw4, out4)):
        y = RepeatInterleave2d.apply(x4, out4[0] // hw4[0], out4[1] // hw4[1])
    else:
        dt = x._data.dtype
        if mode.startswith("nearest"):
            mats = [_nearest_matrix(n, o, s, mode == "nearest-exact", dt)
                    for n, o, s in zip(hw4, out4, scales4)]
        else:
            mats = [_linear_matrix(n, o, s, bool(align_corners), dt)
                    for n, o, s in zip(hw4, out4, scales4)]
        y = Separable2d.apply(x4, *mats)
    return y.squeeze(2) if spatial == 1 else y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Alias of ``interpolate`` (PyTorch's deprecated name).

    >>> import nabla
    >>> upsample(nabla.ones(1, 1, 2), scale_factor=3).shape
    (1, 1, 6)
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Nearest-neighbour upsampling (``interpolate(..., mode="nearest")``)."""
    return interpolate(input, size, scale_factor, "nearest")


# ---------------------------------------------------------------------- dropout
def _channel_dropout(fn, input, p, training, generator, batched_ndim):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _as(input, fn)
    if x.ndim not in (batched_ndim - 1, batched_ndim):
        raise ShapeError(
            f"{fn}: expected {batched_ndim - 1}D or {batched_ndim}D input, but got input of "
            f"size {list(x.shape)}"
        )
    if not training or p == 0.0:
        return x
    # One draw per (sample, channel): whole feature maps are kept or zeroed together.
    # dropout2d reads a 3-D input as (N, C, L), as PyTorch does; dropout1d reads a 2-D
    # one as an unbatched (C, L).
    lead = 2 if x.ndim == batched_ndim or batched_ndim == 4 else 1
    shape = x.shape[:lead] + (1,) * (x.ndim - lead)
    dt = x._data.dtype
    if p == 1.0:
        mask = np.zeros(shape, dtype=dt)
    else:
        keep = _rng(generator).random(shape) >= p
        mask = keep.astype(dt) * dt.type(1.0 / (1.0 - p))
    return x * Tensor._wrap(mask)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None) -> Tensor:
    """Zero whole channels of an (N, C, H, W) input with probability ``p`` and scale the
    rest by ``1/(1-p)``; the identity when not training. A 3-D input is read as
    (N, C, L), as in PyTorch.

    >>> import nabla
    >>> y = dropout2d(nabla.ones(2, 8, 3, 3), 0.5, generator=nabla.Generator().manual_seed(0))
    >>> sorted(set(y.flatten().tolist()))
    [0.0, 2.0]
    >>> bool((y.sum(dim=(2, 3)) % 18 == 0).all())
    True
    """
    return _channel_dropout("dropout2d", input, p, training, generator, 4)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None) -> Tensor:
    """Zero whole channels of an (N, C, L) (or unbatched (C, L)) input (see
    ``dropout2d``).

    >>> import nabla
    >>> dropout1d(nabla.ones(2, 4, 5), 0.5, training=False).shape
    (2, 4, 5)
    """
    return _channel_dropout("dropout1d", input, p, training, generator, 3)
