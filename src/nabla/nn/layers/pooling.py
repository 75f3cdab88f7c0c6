"""Pooling and resampling layers: max/average (1-D, 2-D), adaptive, ``Upsample``.

Thin modules over ``nabla.ops.pool`` and ``nabla.ops.resample``; arguments and reprs
are PyTorch's.

>>> import nabla
>>> pool = MaxPool2d(2)
>>> pool
MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
>>> pool(nabla.zeros(8, 6, 28, 28)).shape
(8, 6, 14, 14)
"""

from __future__ import annotations

import numbers

from ...ops import pool as P
from ...ops import resample as R
from ..module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample",
           "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                f", dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """Max over (kH, kW) windows of (N, C, H, W) input; ``stride`` defaults to the
    kernel size. With ``return_indices`` it also returns PyTorch's flat indices.

    >>> import nabla
    >>> MaxPool2d(3, stride=2, padding=1, ceil_mode=True)(nabla.zeros(1, 2, 8, 8)).shape
    (1, 2, 5, 5)
    """

    _commutes_with_relu = True  # see Sequential: relu(max(x)) == max(relu(x))

    def forward(self, input):
        return P.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L) input.

    >>> import nabla
    >>> MaxPool1d(2)(nabla.tensor([[[1.0, 4.0, 3.0, 2.0]]])).tolist()
    [[[4.0, 3.0]]]
    """

    _commutes_with_relu = True  # see Sequential: relu(max(x)) == max(relu(x))

    def forward(self, input):
        return P.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """Mean over (kH, kW) windows of (N, C, H, W) input; zero padding counts in the mean
    unless ``count_include_pad=False``.

    >>> import nabla
    >>> p = AvgPool2d(2)
    >>> p
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    >>> p(nabla.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return P.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _single(v):
    return (int(v),) if isinstance(v, numbers.Integral) else tuple(v)


class AvgPool1d(Module):
    """Mean over windows of (N, C, L) input.

    >>> import nabla
    >>> AvgPool1d(2)
    AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptiveNd):
    """Average pooling to a fixed (H_out, W_out) whatever the input size (``None``
    keeps that dimension).

    >>> import nabla
    >>> p = AdaptiveAvgPool2d((5, 7))
    >>> p
    AdaptiveAvgPool2d(output_size=(5, 7))
    >>> p(nabla.zeros(1, 64, 8, 9)).shape
    (1, 64, 5, 7)
    """

    def forward(self, input):
        return P.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptiveNd):
    """Average pooling of (N, C, L) input to a fixed length.

    >>> import nabla
    >>> AdaptiveAvgPool1d(3)(nabla.zeros(2, 4, 10)).shape
    (2, 4, 3)
    """

    def forward(self, input):
        return P.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptiveNd):
    """Max pooling to a fixed (H_out, W_out) whatever the input size.

    >>> import nabla
    >>> AdaptiveMaxPool2d(1)(nabla.zeros(2, 3, 7, 5)).shape
    (2, 3, 1, 1)
    """

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return P.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, L) input to a fixed length.

    >>> import nabla
    >>> AdaptiveMaxPool1d(2)(nabla.tensor([[[1.0, 5.0, 2.0, 3.0]]])).tolist()
    [[[5.0, 3.0]]]
    """

    def forward(self, input):
        return P.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class Upsample(Module):
    """Resize by ``scale_factor`` or to ``size``; ``mode`` is "nearest" (default),
    "nearest-exact", "linear" or "bilinear".

    >>> import nabla
    >>> up = Upsample(scale_factor=2)
    >>> up
    Upsample(scale_factor=2.0, mode='nearest')
    >>> up(nabla.zeros(1, 3, 4, 5)).shape
    (1, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return R.interpolate(input, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode="nearest")`` for 2-D input.

    >>> import nabla
    >>> UpsamplingNearest2d(scale_factor=3)(nabla.zeros(1, 1, 2, 2)).shape
    (1, 1, 6, 6)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode="bilinear", align_corners=True)`` for 2-D input.

    >>> import nabla
    >>> UpsamplingBilinear2d(size=(3, 3))(nabla.zeros(1, 1, 2, 2)).shape
    (1, 1, 3, 3)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
