"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``,
``RMSNorm``.

Parameter and buffer names are PyTorch's (``weight``, ``bias``, ``running_mean``,
``running_var``, ``num_batches_tracked``), so a PyTorch ``state_dict`` loads as is.

>>> import nabla
>>> bn = BatchNorm2d(6)
>>> bn
BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
>>> list(bn.state_dict())
['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""

from __future__ import annotations

import numbers

from ... import backend
from ...creation import empty, ones, tensor, zeros
from ...ops import norm as N
from ...tensor import ShapeError
from .. import functional as F
from .. import init
from ..module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "RMSNorm"]


def _affine_parameters(module: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """Register the layer's ``weight`` and ``bias`` of ``shape``, or None where off."""
    module.register_parameter("weight", Parameter(empty(*shape, dtype=dtype)) if affine else None)
    module.register_parameter(
        "bias", Parameter(empty(*shape, dtype=dtype)) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    # Start as the identity transform: scale 1, shift 0.
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    _dims: tuple = ()
    _what = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        backend.device(device)
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, (self.num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=backend.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, input):
        if input.ndim not in self._dims:
            raise ShapeError(
                f"{type(self).__name__}: expected {self._what} input, but got input of size "
                f"{list(input.shape)} ({input.ndim}D)"
            )
        if input.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected input with "
                f"{self.num_features} channels in dim 1, but got input of size "
                f"{list(input.shape)}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data[...] += 1
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        # Batch statistics while training, or whenever there are no running ones.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return N.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight, self.bias, use_batch, factor, self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C.

    Training mode normalises with the batch statistics and updates ``running_mean`` and
    ``running_var`` (``momentum=None``: a cumulative average); evaluation mode uses them.

    >>> import nabla
    >>> bn = BatchNorm1d(3)
    >>> y = bn(nabla.randn(16, 3))
    >>> bool(y.mean(dim=0).abs().max() < 1e-5), int(bn.num_batches_tracked)
    (True, 1)
    """

    _dims = (2, 3)
    _what = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C.

    >>> import nabla
    >>> bn = BatchNorm2d(4).eval()
    >>> bn(nabla.ones(2, 4, 3, 3)).shape
    (2, 4, 3, 3)
    """

    _dims = (4,)
    _what = "4D"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) input, per channel C.

    >>> import nabla
    >>> BatchNorm3d(2)(nabla.randn(2, 2, 3, 3, 3)).shape
    (2, 2, 3, 3, 3)
    """

    _dims = (5,)
    _what = "5D"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims of each sample, then apply
    an elementwise ``weight`` and ``bias`` of that shape.

    >>> import nabla
    >>> ln = LayerNorm(10)
    >>> ln
    LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> ln(nabla.randn(4, 10)).shape
    (4, 10)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        backend.device(device)
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        return N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each sample over groups of channels, then a per-channel affine.

    >>> import nabla
    >>> gn = GroupNorm(3, 6)
    >>> gn
    GroupNorm(3, 6, eps=1e-05, affine=True, bias=True)
    >>> gn(nabla.randn(2, 6, 4, 4)).shape
    (2, 6, 4, 4)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        backend.device(device)
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (self.num_channels,), affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                f"(N, {self.num_channels}, *), but got input of size {list(input.shape)}"
            )
        return N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Divide each sample by its root mean square over the trailing ``normalized_shape``
    dims, then multiply by an elementwise ``weight`` of that shape (no bias, no mean
    subtracted). ``eps=None`` means ``finfo(input.dtype).eps``.

    >>> import nabla
    >>> rn = RMSNorm(4)
    >>> rn
    RMSNorm((4,), eps=None, elementwise_affine=True)
    >>> list(rn.state_dict()), rn(nabla.randn(2, 3, 4)).shape
    (['weight'], (2, 3, 4))
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        backend.device(device)
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter(
            "weight",
            Parameter(empty(*self.normalized_shape, dtype=dtype)) if elementwise_affine else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
