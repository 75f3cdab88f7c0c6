"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``,
and channel dropout (``Dropout1d``, ``Dropout2d``).

Constructor signatures, parameter names, shapes, default initialisation and reprs are
PyTorch's, so a PyTorch ``state_dict`` loads as is.

>>> import nabla
>>> from nabla import nn
>>> conv = Conv2d(1, 6, 5, padding=2)
>>> conv
Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
>>> conv(nabla.zeros(8, 1, 28, 28)).shape
(8, 6, 28, 28)
"""

from __future__ import annotations

import math
import numbers

from ... import backend
from ...creation import empty
from ...ops import conv as C
from ...ops import fused, resample, winograd
from .. import init
from ..module import Module, Parameter, _plain
from .activation import ReLU
from .pooling import MaxPool2d

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Dropout1d",
           "Dropout2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v, n, name):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    t = tuple(int(i) for i in v)
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


class _ConvNd(Module):
    """What Conv1d/2d and ConvTranspose1d/2d share: arguments, parameters, init, repr."""

    _n = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", output_padding=0,
                 device=None, dtype=None):
        super().__init__()
        backend.device(device)
        n = self._n
        name = type(self).__name__
        if not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by "
                             f"groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size")
        self.stride = _ntuple(stride, n, "stride")
        self.dilation = _ntuple(dilation, n, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid' or ints, got "
                                 f"{padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n, "padding")
        self.output_padding = _ntuple(output_padding, n, "output_padding")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(empty(*shape, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's default: kaiming_uniform(a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input):
        # Non-zero padding modes pad first (reflect, replicate, circular), then convolve
        # without padding; zero padding is left to the primitive.
        if self.padding_mode != "zeros":
            return self._conv(self._mode_pad(input), self.weight, self.bias, self.stride, 0,
                              self.dilation, self.groups)
        return self._conv(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)

    def _mode_pad(self, x):
        """Pad ``x`` for a non-"zeros" padding_mode; the convolution then pads nothing."""
        if self.padding == "valid":
            return x
        if self.padding == "same":
            pairs = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
        else:
            pairs = [(p, p) for p in self.padding]
        flat = [v for pair in reversed(pairs) for v in pair]  # last dim first, as F.pad
        return resample.pad_mode(x, flat, self.padding_mode)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) input.

    ``weight``: (out_channels, in_channels/groups, kH, kW); ``bias``: (out_channels,).
    ``padding`` is an int, a pair, ``"valid"`` or ``"same"``; ``padding_mode`` is
    "zeros", "reflect", "replicate" or "circular". One fused node per call (im2col +
    one matrix product; see ``nabla.ops.conv``).

    >>> import nabla
    >>> c = Conv2d(4, 8, (3, 5), stride=2, padding=(1, 2), groups=2, bias=False)
    >>> c
    Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), groups=2, bias=False)
    >>> c.weight.shape, c(nabla.zeros(2, 4, 9, 9)).shape
    ((8, 2, 3, 5), (2, 8, 5, 5))
    """

    _n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    _conv = staticmethod(C.conv2d)

    def _fuse(self, input, after):
        """Sequential: this convolution and a MaxPool2d after it, with a ReLU between them
        if there is one (applied after the pooling: relu and max commute), as one node;
        with them any further Conv2d, (ReLU,) MaxPool2d runs that follow at once. The run
        stops before a convolution that Winograd's path takes (``ops/winograd.py``)."""
        if getattr(input, "ndim", None) != 4:
            return None
        stages, lengths, conv = [], [], self
        while conv.padding_mode == "zeros":
            w = conv.weight
            if winograd.suits(w.dtype, w.shape, (conv.stride, None, conv.dilation, conv.groups)):
                break  # Winograd's convolution alone beats the fused im2col stage
            relu = after[0] if len(after) > 1 and _plain(after[0], ReLU) else None
            used = 1 if relu is None else 2  # the layers after the convolution
            pool = after[used - 1] if after else None
            if not _plain(pool, MaxPool2d) or pool.return_indices:
                break
            stages.append((conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation,
                           conv.groups, pool.kernel_size, pool.stride, pool.padding,
                           pool.dilation, pool.ceil_mode, relu is not None))
            lengths.append(1 + used)
            after = after[used:]
            if not after or not _plain(after[0], Conv2d):
                break
            conv, after = after[0], after[1:]
        if not stages:
            return None
        out, k = fused._conv_max_pool_run(input, stages)
        return out, sum(lengths[:k])


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) input.

    >>> import nabla
    >>> c = Conv1d(3, 5, 3, padding="same", padding_mode="circular")
    >>> c
    Conv1d(3, 5, kernel_size=(3,), stride=(1,), padding=same, padding_mode=circular)
    >>> c(nabla.zeros(2, 3, 10)).shape
    (2, 5, 10)
    """

    _n = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    _conv = staticmethod(C.conv1d)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype)

    def _output_padding(self, input, output_size):
        """The output_padding that gives ``output_size`` (checked to be reachable)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        size = tuple(int(s) for s in output_size)[-n:]
        if len(size) != n:
            raise ValueError(f"output_size must have {n} or {n + 2} elements, got "
                             f"{tuple(output_size)}")
        result = []
        for i in range(n):
            lo = ((input.shape[-n + i] - 1) * self.stride[i] - 2 * self.padding[i]
                  + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1
            if not lo <= size[i] <= hi:
                raise ValueError(
                    f"requested an output size of {size}, but valid sizes range from {lo} to "
                    f"{hi} (for an input of size {list(input.shape)})"
                )
            result.append(size[i] - lo)
        return tuple(result)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution ("deconvolution"): the gradient of ``Conv2d`` with
    respect to its input. ``weight``: (in_channels, out_channels/groups, kH, kW).

    >>> import nabla
    >>> up = ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
    >>> up
    ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    >>> up(nabla.zeros(1, 8, 5, 5)).shape
    (1, 4, 10, 10)
    """

    _n = 2

    def forward(self, input, output_size=None):
        opad = self._output_padding(input, output_size)
        return C.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  opad, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution. ``weight``: (in_channels, out_channels/groups, k).

    >>> import nabla
    >>> ConvTranspose1d(2, 3, 4, stride=2)(nabla.zeros(1, 2, 5)).shape
    (1, 3, 12)
    """

    _n = 1

    def forward(self, input, output_size=None):
        opad = self._output_padding(input, output_size)
        return C.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  opad, self.groups, self.dilation)


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input with probability ``p`` while training
    (scaling the rest by ``1/(1-p)``); the identity in evaluation mode.

    >>> import nabla
    >>> d = Dropout2d(0.3)
    >>> d
    Dropout2d(p=0.3, inplace=False)
    >>> x = nabla.ones(2, 4, 3, 3)
    >>> d.eval()(x) is x
    True
    """

    def forward(self, input):
        return resample.dropout2d(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) input with probability ``p`` while training.

    >>> import nabla
    >>> Dropout1d(0.5)(nabla.ones(2, 4, 3)).shape
    (2, 4, 3)
    """

    def forward(self, input):
        return resample.dropout1d(input, self.p, self.training)
