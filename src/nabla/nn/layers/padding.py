"""Padding layers (``ZeroPad1d/2d``, ``ConstantPad1d/2d``, ``ReflectionPad1d/2d``,
``ReplicationPad1d/2d``) and ``PixelShuffle``/``PixelUnshuffle``.

Every padding layer calls ``F.pad`` (``nabla.functions.pad``): reflection and replication
gather the input with its index tables, whose gradient sums back into the source positions.

>>> import nabla
>>> ReflectionPad1d(2)(nabla.arange(4.0).reshape(1, 1, 4))
tensor([[[2., 1., 0., 1., 2., 3., 2., 1.]]])
"""

from __future__ import annotations

from ...functions import pad
from ...tensor import Tensor
from .. import functional as F
from ..module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "PixelShuffle",
           "PixelUnshuffle"]


def _widths(padding, n: int, name: str) -> tuple:
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * n:
        raise ValueError(f"{name}: padding must be an int or a {2 * n}-tuple, got {padding}")
    return padding


class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        self.padding = _widths(padding, self._n, type(self).__name__)
        self.value = value

    def forward(self, input):
        name = type(self).__name__
        if input.ndim not in (self._n + 1, self._n + 2):
            raise ValueError(f"{name}: expected a {self._n + 1}-D or {self._n + 2}-D input, "
                             f"got shape {input.shape}")
        if self._mode == "constant":
            return pad(input, self.padding, value=self.value)
        try:  # F.pad's index tables (ops/pad.py), with the layer's name on a refusal
            return pad(input, self.padding, mode=self._mode)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None

    def extra_repr(self) -> str:
        p = self.padding
        if self._mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={p}, value={self.value}"
        return f"{p}"


class ConstantPad1d(_PadNd):
    """Pad the last dim with ``value``: ``padding`` is an int or ``(left, right)``.

    >>> import nabla
    >>> ConstantPad1d((1, 2), 3.5)(nabla.zeros(1, 2)).tolist()
    [[3.5, 0.0, 0.0, 3.5, 3.5]]
    """

    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Pad the last two dims with ``value``: ``(left, right, top, bottom)``.

    >>> import nabla
    >>> ConstantPad2d(1, 0.5)(nabla.zeros(1, 2, 2)).shape
    (1, 4, 4)
    """

    _n = 2

    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class ZeroPad1d(_PadNd):
    """Pad the last dim with zeros.

    >>> import nabla
    >>> ZeroPad1d(1)(nabla.ones(1, 2)).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(_PadNd):
    """Pad the last two dims with zeros: ``(left, right, top, bottom)``.

    >>> import nabla
    >>> ZeroPad2d((1, 0, 2, 0))(nabla.ones(1, 2, 2)).shape
    (1, 4, 3)
    """

    _n = 2

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its mirror image (the edge itself not repeated)."""

    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last two dims with their mirror images.

    >>> import nabla
    >>> ReflectionPad2d(1)(nabla.ones(1, 1, 3, 3)).shape
    (1, 1, 5, 5)
    """

    _n = 2
    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating its edge values.

    >>> import nabla
    >>> ReplicationPad1d((2, 1))(nabla.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 1.0, 1.0, 2.0, 2.0]]
    """

    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last two dims by repeating their edge values."""

    _n = 2
    _mode = "replicate"


class PixelShuffle(Module):
    """``(*, C * r * r, H, W)`` to ``(*, C, H * r, W * r)``: channels into space.

    >>> import nabla
    >>> PixelShuffle(2)(nabla.zeros(1, 8, 3, 3)).shape
    (1, 2, 6, 6)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = int(upscale_factor)

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H * r, W * r)`` to ``(*, C * r * r, H, W)``: the inverse of PixelShuffle.

    >>> import nabla
    >>> PixelUnshuffle(2)(nabla.zeros(1, 2, 6, 6)).shape
    (1, 8, 3, 3)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = int(downscale_factor)

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
