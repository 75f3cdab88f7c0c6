"""Further shape and product methods, mixed into ``Tensor``: ``addmm``, ``repeat_interleave``,
``tile``, ``movedim`` (``moveaxis``), ``diff`` and ``take_along_dim``, with PyTorch's
names, arguments and values. Each is composed from differentiable methods (views, ``repeat``,
``index_select``, ``gather``, products), so each has its gradient without a node of its own.

>>> import nabla
>>> nabla.tensor([1, 2]).repeat_interleave(2).tolist()
[1, 1, 2, 2]
>>> nabla.tensor([1.0, 4.0, 9.0]).diff().tolist()
[3.0, 5.0]
"""

from __future__ import annotations

import numpy as np

from .ops import movement as _mv
from .shapes import ShapeError, _dim, _shape_arg


def _ints(value):
    """An int or a sequence of ints as a tuple."""
    return (int(value),) if isinstance(value, (int, np.integer)) else tuple(map(int, value))


class TensorMore:
    """The methods; the function forms (``nabla.tile(x, dims)``...) are made from them."""

    __slots__ = ()

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """``beta * self + alpha * (mat1 @ mat2)`` for matrices, ``self`` broadcast.

        >>> import nabla
        >>> nabla.zeros(2).addmm(nabla.ones(2, 3), nabla.ones(3, 2), alpha=2).tolist()
        [[6.0, 6.0], [6.0, 6.0]]
        """
        mat1, mat2 = self._other(mat1), self._other(mat2)
        if mat1.ndim != 2 or mat2.ndim != 2:
            raise ShapeError(
                f"addmm: mat1 and mat2 must be matrices, got shapes {tuple(mat1.shape)} and "
                f"{tuple(mat2.shape)}"
            )
        if mat1.shape[1] != mat2.shape[0]:
            raise ShapeError(
                f"addmm: mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x"
                f"{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})"
            )
        out_shape = (mat1.shape[0], mat2.shape[1])
        if self.ndim > 2 or any(a not in (1, b) for a, b in zip(self.shape[::-1], out_shape[::-1])):
            raise ShapeError(
                f"addmm: input of shape {tuple(self.shape)} cannot be broadcast to the "
                f"product's shape {out_shape}"
            )
        prod = mat1 @ mat2
        if alpha != 1:
            prod = prod * alpha
        if beta == 0:  # as in PyTorch, the input is then ignored (nan and inf included)
            return prod.expand(out_shape) if prod.shape != out_shape else prod
        return (self if beta == 1 else self * beta) + prod

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element (or slice along ``dim``) repeated ``repeats`` times in place;
        ``repeats`` is a number or a 1-D tensor of one count per element. Without ``dim``
        the input is flattened first.

        >>> import nabla
        >>> x = nabla.tensor([[1, 2], [3, 4]])
        >>> x.repeat_interleave(nabla.tensor([1, 2]), dim=0).tolist()
        [[1, 2], [3, 4], [3, 4]]
        """
        if dim is not None and self.ndim == 0:
            raise IndexError(f"repeat_interleave: a 0-d input has no dim {dim}; leave dim None")
        x = self.reshape(-1) if dim is None else self
        d = _dim(0 if dim is None else dim, x.ndim)
        n = x.shape[d]
        if isinstance(repeats, (int, np.integer)):
            reps = np.asarray(repeats, dtype=np.int64)
        else:
            reps = repeats._data if hasattr(repeats, "_data") else np.asarray(repeats)
            if reps.dtype.kind not in "iu":
                raise TypeError(
                    f"repeat_interleave: repeats must be an integer tensor, got {reps.dtype}")
            if reps.ndim > 1:
                raise ShapeError(
                    f"repeat_interleave: repeats must be 0-dim or 1-dim, got shape {reps.shape}")
        if reps.size and reps.min() < 0:
            raise ValueError("repeat_interleave: repeats must be non-negative, got "
                             f"{reps.min()}")
        if reps.ndim == 1 and reps.shape[0] not in (1, n):
            raise ShapeError(
                f"repeat_interleave: repeats must have the same size as input along dim "
                f"{d}, but got {reps.shape[0]} repeats for size {n}"
            )
        if reps.ndim == 0 or reps.shape[0] == 1:
            r = int(reps.reshape(-1)[0])
            # a new axis after d, expanded and merged back: the gradient sums over it
            shape = x.shape[: d + 1] + (r,) + x.shape[d + 1 :]
            out = x.unsqueeze(d + 1).expand(shape)
            result = out.reshape(x.shape[:d] + (n * r,) + x.shape[d + 1 :])
        else:
            result = x.index_select(d, np.repeat(np.arange(n), reps))
        if output_size is not None and result.shape[d] != output_size:
            raise ValueError(
                f"repeat_interleave: output_size {output_size} does not match the "
                f"repeated size {result.shape[d]}"
            )
        return result

    def tile(self, *dims):
        """The tensor repeated ``dims`` times along each dim; fewer ``dims`` than dims
        are padded with ones in front (unlike ``repeat``).

        >>> import nabla
        >>> nabla.tensor([[1, 2]]).tile(2).tolist()
        [[1, 2, 1, 2]]
        """
        dims = _shape_arg(dims)
        dims = (1,) * (self.ndim - len(dims)) + dims
        return self.repeat(dims)

    def movedim(self, source, destination):
        """The dims ``source`` moved to positions ``destination``, the others keeping their
        order.

        >>> import nabla
        >>> nabla.zeros(2, 3, 4).movedim(0, -1).shape
        (3, 4, 2)
        """
        src, dst = _ints(source), _ints(destination)
        if len(src) != len(dst):
            raise ValueError(
                f"movedim: source {src} and destination {dst} must have the same number "
                "of dims"
            )
        src = tuple(_dim(d, self.ndim) for d in src)
        dst = tuple(_dim(d, self.ndim) for d in dst)
        for name, ds in (("source", src), ("destination", dst)):
            if len(set(ds)) != len(ds):
                raise ValueError(f"movedim: repeated dim in {name} {ds}")
        order = [None] * self.ndim
        for s, t in zip(src, dst):
            order[t] = s
        rest = iter(d for d in range(self.ndim) if d not in src)
        order = [next(rest) if o is None else o for o in order]
        return self.permute(order) if self.ndim else self

    moveaxis = movedim

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The ``n``-th forward difference along ``dim``, ``prepend`` and ``append``
        joined first (booleans: whether neighbours differ).

        >>> import nabla
        >>> nabla.tensor([1, 3, 6]).diff(prepend=nabla.tensor([0])).tolist()
        [1, 2, 3]
        """
        if self.ndim == 0:
            raise ShapeError("diff: expects input to be at least one-dimensional")
        n = int(n)
        if n < 0:
            raise ValueError(f"diff: order n must be non-negative, got {n}")
        d = _dim(dim, self.ndim)
        parts = [self]
        for name, extra in (("prepend", prepend), ("append", append)):
            if extra is None:
                continue
            if not hasattr(extra, "_data"):
                raise TypeError(
                    f"diff: {name} must be a tensor, not {type(extra).__name__}")
            if extra.ndim != self.ndim or any(
                a != b for i, (a, b) in enumerate(zip(extra.shape, self.shape)) if i != d
            ):
                raise ShapeError(
                    f"diff: {name} of shape {tuple(extra.shape)} must match the input's "
                    f"shape {tuple(self.shape)} except in dimension {d}"
                )
            parts.insert(0 if name == "prepend" else len(parts), extra)
        if len(parts) > 1:
            # PyTorch's promotion (an int input with a float prepend gives the float's
            # dtype, not NumPy's float64): that of a sum of empty tensors of the dtypes
            dtype = self._data.dtype
            for p in parts:
                if p._data.dtype != dtype:
                    dtype = (self._wrap(np.empty(0, dtype)) + p.reshape(-1)[:0])._data.dtype
            target = self._wrap(np.empty(0, dtype)).dtype
            x = _mv.Cat.apply(*[p if p._data.dtype == dtype else p.to(target) for p in parts],
                              axis=d)
        else:
            x = self
        for _ in range(n):
            m = x.shape[d]
            if m == 0:
                break
            later, earlier = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
            x = later != earlier if x._data.dtype == np.bool_ else later - earlier
        return x

    def take_along_dim(self, indices, dim=None):
        """Values picked along ``dim`` at ``indices``, the two broadcast against each other
        in the other dims; without ``dim``, from the flattened tensor.

        >>> import nabla
        >>> x = nabla.tensor([[10, 30, 20], [60, 40, 50]])
        >>> x.take_along_dim(x.argmax(1, keepdim=True), dim=1).tolist()
        [[30], [60]]
        """
        idx = indices._data if hasattr(indices, "_data") else np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"take_along_dim: indices must be an integer tensor, got {idx.dtype}")
        if dim is None:
            return self.reshape(-1).gather(0, idx.reshape(-1))
        if idx.ndim != self.ndim:
            raise ShapeError(
                f"take_along_dim: input and indices should have the same number of "
                f"dimensions, but got {self.ndim} and {idx.ndim}"
            )
        d = _dim(dim, self.ndim)
        others = []
        for i, (a, b) in enumerate(zip(self.shape, idx.shape)):
            if i == d:
                others.append(None)
            elif a != b and 1 not in (a, b):
                raise ShapeError(
                    f"take_along_dim: input {tuple(self.shape)} and indices {idx.shape} "
                    f"cannot be broadcast together outside dimension {d}"
                )
            else:
                others.append(max(a, b))
        x_shape = tuple(self.shape[d] if s is None else s for s in others)
        i_shape = tuple(idx.shape[d] if s is None else s for s in others)
        x = self.expand(x_shape) if x_shape != tuple(self.shape) else self
        return x.gather(d, np.broadcast_to(idx, i_shape))
