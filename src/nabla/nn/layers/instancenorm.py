"""``InstanceNorm1d/2d/3d``: each (sample, channel) normalised over its own positions.

>>> import nabla
>>> m = InstanceNorm2d(3, affine=True)
>>> m
InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=False)
>>> m(nabla.randn(2, 3, 4, 4)).shape
(2, 3, 4, 4)
"""

from __future__ import annotations

import numpy as np

from ...autograd import no_grad
from ...creation import ones, zeros
from ...ops.norm import batch_norm, instance_norm
from ..module import Module
from .normalization import _affine_parameters, _reset_affine

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(Module):
    _n = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, (num_features,), affine, bias, dtype)
        _reset_affine(self)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", zeros((), dtype="int64"))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, input):
        name = type(self).__name__
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(f"{name}: expected {n + 1}D (unbatched) or {n + 2}D (batched) "
                             f"input, got {input.ndim}D input of shape {input.shape}")
        unbatched = input.ndim == n + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ValueError(f"{name}: expected input's size at dim=1 to match num_features "
                             f"({self.num_features}), but got: {x.shape[1]}.")
        if self.track_running_stats and not self.training:
            out = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             training=False, eps=self.eps)
        else:
            if self.track_running_stats:
                self._update_running_stats(x._data)
            out = instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return out.squeeze(0) if unbatched else out

    def _update_running_stats(self, a: np.ndarray) -> None:
        # As PyTorch: the per-instance mean and unbiased variance, averaged over the batch.
        flat = a.reshape(a.shape[0], a.shape[1], -1)
        m = self.momentum
        with no_grad():
            mean = flat.mean(-1).mean(0)
            var = flat.var(-1, ddof=1).mean(0) if flat.shape[-1] > 1 else np.zeros_like(mean)
            rm, rv = self.running_mean._data, self.running_var._data
            rm *= 1 - m
            rm += (m * mean).astype(rm.dtype)
            rv *= 1 - m
            rv += (m * var).astype(rv.dtype)  # (num_batches_tracked stays 0, as in PyTorch)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Over ``(N, C, L)`` or unbatched ``(C, L)`` input."""


class InstanceNorm2d(_InstanceNorm):
    """Over ``(N, C, H, W)`` or unbatched ``(C, H, W)`` input."""

    _n = 2


class InstanceNorm3d(_InstanceNorm):
    """Over ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` input."""

    _n = 3
