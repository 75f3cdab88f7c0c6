"""The tensor's movement methods: reshaping, permuting, expanding, splitting.

``Tensor`` inherits them from ``TensorShape``; each normalises its arguments and applies
one primitive from ``ops/movement.py``.

>>> import nabla
>>> nabla.zeros(2, 3).permute(1, 0).unsqueeze(0).shape
(1, 3, 2)
"""

from __future__ import annotations

import builtins

from .ops import movement as _mv
from .shapes import ShapeError, _dim, _dims, _shape_arg


class TensorShape:
    """Movement methods, mixed into ``Tensor``."""

    __slots__ = ()

    # ------------------------------------------------------------------- movement
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        if shape == self._data.shape:
            return self
        try:
            return _mv.Reshape.apply(self, shape)
        except ValueError:
            raise ShapeError(
                f"shape {shape} is invalid for input of size {self.numel()} "
                f"(shape {tuple(self.shape)})"
            ) from None

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
        shape = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        return self.reshape(shape) if s <= e else self

    def unflatten(self, dim, sizes):
        d = _dim(dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def permute(self, *dims):
        dims = _shape_arg(dims)
        if len(dims) != self.ndim:
            raise ShapeError(
                f"permute: number of dims {len(dims)} does not match the tensor's {self.ndim}"
            )
        axes = tuple(_dim(d, self.ndim) for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation")
        return _mv.Permute.apply(self, axes)

    def transpose(self, dim0, dim1):
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        a, b = _dim(dim0, self.ndim), _dim(dim1, self.ndim)
        axes[a], axes[b] = axes[b], axes[a]
        return _mv.Permute.apply(self, tuple(axes))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.transpose(0, 1)

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            ds = _dims(dim, self.ndim)
            ds = ds if isinstance(ds, tuple) else (ds,)
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in ds and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        d = _dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes):
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ShapeError(
                f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
                f"dimensions ({self.ndim})"
            )
        shape = tuple(
            self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
        )
        try:
            return _mv.Expand.apply(self, shape)
        except ValueError:
            raise ShapeError(
                f"expand: a tensor of shape {tuple(self.shape)} cannot be expanded to {sizes}"
            ) from None

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, shape):
        return self.expand(shape)

    def repeat(self, *sizes):
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ShapeError(
                f"repeat: number of repeats ({len(sizes)}) can not be smaller than the number "
                f"of dimensions ({self.ndim})"
            )
        return _mv.Repeat.apply(self, sizes)

    def flip(self, *dims):
        dims = _shape_arg(dims)
        return _mv.Flip.apply(self, tuple(_dim(d, self.ndim) for d in dims))

    def split(self, split_size_or_sections, dim=0):
        d = _dim(dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step <= 0:
                raise ValueError(f"split size must be positive, got {step}")
            sizes = [builtins.min(step, n - i) for i in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ShapeError(
                    f"split sizes {sizes} sum to {sum(sizes)}, but dimension {d} has size {n}"
                )
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        n = self.shape[_dim(dim, self.ndim)]
        return self.split(builtins.max(1, -(-n // chunks)), dim)

    def narrow(self, dim, start, length):
        d = _dim(dim, self.ndim)
        index = (slice(None),) * d + (slice(start, start + length),)
        return self[index]

    def unbind(self, dim=0):
        d = _dim(dim, self.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))
