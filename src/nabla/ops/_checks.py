"""Argument checks of the public convolution, pooling and resampling functions.

PyTorch's messages, in one place: each check names the function, the argument and the
shape or value it got. The ops' modules (conv, pool, fused, resample) call these before
they build a node; the kernels themselves assume checked arguments.

>>> _tuple(3, 2, "stride", "conv2d")
(3, 3)
>>> _conv_padding("conv2d", "same", (1, 1), (1, 1), (3, 5))
(1, 1, 2, 2)
"""

from __future__ import annotations

import numbers

from ..creation import tensor
from ..tensor import ShapeError, Tensor


def _tuple(v, n, name, fn):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    try:
        t = tuple(int(i) for i in v)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an int or a tuple of {n} ints, got {v!r}") \
            from None
    if len(t) == 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{fn}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _as(x, fn):
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"{fn}: expected a Tensor, got None")
    return tensor(x)


def _check_float(fn, **tensors):
    ref = None
    for name, t in tensors.items():
        if t is None:
            continue
        if t._data.dtype.kind != "f":
            raise TypeError(f"{fn}: {name} must be a floating-point tensor, got {t.dtype}")
        if ref is None:
            ref = (name, t)
        elif t._data.dtype != ref[1]._data.dtype:
            raise RuntimeError(
                f"{fn}: {name} has dtype {t.dtype} but {ref[0]} has dtype {ref[1].dtype}; "
                "they must match"
            )


def _batched(x, ndim, fn, what):
    """Add the batch dimension to an unbatched input; say which one was expected."""
    if x.ndim == ndim:
        return x, False
    if x.ndim == ndim - 1:
        return x.unsqueeze(0), True
    raise ShapeError(
        f"{fn}: expected {ndim - 1}D (unbatched) or {ndim}D (batched) input {what}, but "
        f"got input of size {list(x.shape)}"
    )


def _conv_checks(fn, x, weight, bias, groups, transposed=False):
    x, weight = _as(x, fn), _as(weight, fn)
    bias = None if bias is None else _as(bias, fn)
    _check_float(fn, input=x, weight=weight, bias=bias)
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive integer, got {groups!r}")
    c = x.shape[1]
    if transposed:
        if c != weight.shape[0]:
            raise ShapeError(
                f"{fn}: weight of size {list(weight.shape)} expects input with "
                f"{weight.shape[0]} channels, but got input of size {list(x.shape)} "
                f"with {c} channels"
            )
        if c % groups:
            raise ShapeError(f"{fn}: {c} input channels are not divisible by groups={groups}")
        nout = weight.shape[1] * groups
    else:
        if weight.shape[1] * groups != c:
            raise ShapeError(
                f"{fn}: given groups={groups}, weight of size {list(weight.shape)}, expected "
                f"input{list(x.shape)} to have {weight.shape[1] * groups} channels, but got "
                f"{c} channels instead"
            )
        if weight.shape[0] % groups:
            raise ShapeError(
                f"{fn}: {weight.shape[0]} output channels (weight of size "
                f"{list(weight.shape)}) are not divisible by groups={groups}"
            )
        nout = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (nout,):
        raise ShapeError(
            f"{fn}: expected bias of shape ({nout},) for {nout} output channels, but got "
            f"bias of size {list(bias.shape)}"
        )
    return x, weight, bias


def _positive(fn, **vals):
    for name, v in vals.items():
        if any(i <= 0 for i in v):
            raise ValueError(f"{fn}: {name} must be positive, got {v}")


def _nonneg(fn, **vals):
    for name, v in vals.items():
        if any(i < 0 for i in v):
            raise ValueError(f"{fn}: {name} must be non-negative, got {v}")


def _conv2d_prepare(input, weight, bias, stride, padding, dilation, groups):
    """conv2d's checks: ``(x, weight, bias, (stride, padding, dilation, groups),
    unbatched)`` with ``padding`` as (top, bottom, left, right)."""
    fn = "conv2d"
    input = _as(input, fn)
    weight = _as(weight, fn)
    if weight.ndim != 4:
        raise ShapeError(
            f"{fn}: expected a 4D weight (out_channels, in_channels/groups, kH, kW), but got "
            f"weight of size {list(weight.shape)}"
        )
    x, unbatched = _batched(input, 4, fn, "(N, C, H, W)")
    x, weight, bias = _conv_checks(fn, x, weight, bias, groups)
    st = _tuple(stride, 2, "stride", fn)
    dil = _tuple(dilation, 2, "dilation", fn)
    _positive(fn, stride=st, dilation=dil)
    kh, kw = weight.shape[2:]
    pad = _conv_padding(fn, padding, st, dil, (kh, kw))
    h, w = x.shape[2] + pad[0] + pad[1], x.shape[3] + pad[2] + pad[3]
    eh, ew = dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1
    if h < eh or w < ew:
        raise ShapeError(
            f"{fn}: calculated padded input size per channel: ({h} x {w}). Kernel size: "
            f"({eh} x {ew}). Kernel size can't be greater than actual input size "
            f"(input of size {list(input.shape)}, weight of size {list(weight.shape)})"
        )
    return x, weight, bias, (st, pad, dil, int(groups)), unbatched


def _conv_padding(fn, padding, stride, dilation, kernel):
    """(top, bottom, left, right) from an int, a pair, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{fn}: padding must be 'valid', 'same' or ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions")
        out = []
        for d, k in zip(dilation, kernel):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]  # PyTorch puts the odd one at the end
        return tuple(out)
    p = _tuple(padding, len(kernel), "padding", fn)
    _nonneg(fn, padding=p)
    return tuple(v for v in p for _ in (0, 1))


def _blocks(fn, hw, kernel, dilation, padding, stride):
    out = tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, d, p, s in zip(hw, kernel, dilation, padding, stride)
    )
    if min(out) < 1:
        raise ShapeError(
            f"{fn}: input spatial size {tuple(hw)} with padding {padding} is too small for "
            f"kernel_size {kernel} with dilation {dilation}"
        )
    return out


def _pool_out(fn, size, k, s, p, d, ceil_mode, shape):
    """PyTorch's pooling output size, with its checks, along one axis."""
    if p > (d * (k - 1) + 1) // 2:
        raise ValueError(
            f"{fn}: pad should be at most half of effective kernel size, but got pad={p}, "
            f"kernel_size={k} and dilation={d}"
        )
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    if out < 1:
        raise ShapeError(
            f"{fn}: input of size {list(shape)} is too small: kernel_size {k} with "
            f"padding {p} and dilation {d} gives an output size of {out}"
        )
    return out


def _pool_args(fn, shape, kernel_size, stride, padding, dilation, ceil_mode):
    """A 2-D pooling's checked ``(kernel, stride, padding, dilation, (ho, wo))`` for an
    input of ``shape``."""
    k = _tuple(kernel_size, 2, "kernel_size", fn)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, 2, "stride", fn)
    p = _tuple(padding, 2, "padding", fn)
    d = _tuple(dilation, 2, "dilation", fn)
    _positive(fn, kernel_size=k, stride=s, dilation=d)
    _nonneg(fn, padding=p)
    ohw = tuple(
        _pool_out(fn, n, k[i], s[i], p[i], d[i], ceil_mode, shape)
        for i, n in enumerate(shape[2:])
    )
    return k, s, p, d, ohw


def _pool_input(fn, input, ndim):
    x = _as(input, fn)
    x, unbatched = _batched(x, ndim, fn, "(N, C, H, W)" if ndim == 4 else "(N, C, L)")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be a floating-point tensor, got {x.dtype}")
    return x, unbatched


def _unbatch(out, unbatched, *dims):
    if isinstance(out, tuple):
        return tuple(_unbatch(o, unbatched, *dims) for o in out)
    for d in dims:
        out = out.squeeze(d)
    return out.squeeze(0) if unbatched else out


def _output_size(fn, output_size, hw):
    if isinstance(output_size, numbers.Integral) or output_size is None:
        output_size = (output_size,) * len(hw)
    if len(output_size) != len(hw):
        raise ValueError(f"{fn}: output_size must have {len(hw)} elements, got {output_size}")
    out = tuple(n if o is None else int(o) for o, n in zip(output_size, hw))
    if min(out) < 1:
        raise ValueError(f"{fn}: output_size must be positive, got {output_size}")
    return out
