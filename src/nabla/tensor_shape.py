"""The tensor's movement methods: reshaping, permuting, expanding, splitting.

``Tensor`` inherits them from ``TensorShape``; each normalises its arguments and applies
one primitive from ``ops/movement.py``.

>>> import nabla
>>> nabla.zeros(2, 3).permute(1, 0).unsqueeze(0).shape
(1, 3, 2)
"""

from __future__ import annotations

import builtins

import numpy as np

from . import autograd as _autograd
from . import inplace as _ip
from .autograd import Function
from .ops import index as _ix
from .ops import movement as _mv
from .ops import sort as _srt
from .shapes import ShapeError, _axis_dim, _dim, _dims, _shape_arg


class _Split(Function):
    """The parts of ``a`` along ``axis`` (``bounds``: (start, stop) of each), as views.

    One node for all parts: backward concatenates their gradients into the input's
    gradient, where a ``narrow`` per part gave each part's gradient as a zero-padded
    input-sized array and the engine summed them (a GPT's fused q/k/v projection,
    16x32x192 split in three: 3 zero fills, 3 writes and 2 additions -> 1 concatenate).
    """

    materialize_grads = False  # an unused part's gradient comes as None: zeros then

    @staticmethod
    def forward(ctx, a, axis, bounds):
        ctx.axis, ctx.shape = axis, a.shape
        lead = (slice(None),) * axis
        ctx.bounds = bounds
        return tuple(a[lead + (slice(lo, hi), Ellipsis)] for lo, hi in bounds)

    @staticmethod
    def backward(ctx, *grads):
        axis, shape = ctx.axis, ctx.shape
        parts = []
        for g, (lo, hi) in zip(grads, ctx.bounds):
            if g is None:
                g = np.zeros(shape[:axis] + (hi - lo,) + shape[axis + 1:],
                             next(x for x in grads if x is not None).dtype)
            parts.append(g)
        return np.concatenate(parts, axis=axis)


def _split_recorded(t, d, sizes):
    """``t.split`` while a graph is recorded: one ``_Split`` node whose outputs are
    views of ``t`` as ``narrow``'s are (shared version counter, in-place ops on a part
    rebasing ``t``)."""
    bounds, start = [], 0
    for s in sizes:
        bounds.append((start, start + s))
        start += s
    parts = _Split.apply(t, d, tuple(bounds))
    lead = (slice(None),) * d
    for p, (lo, hi) in zip(parts, bounds):
        idx = lead + (slice(lo, hi), Ellipsis)
        p._vc = t._vc  # views: they share t's version counter
        p._base = (t, idx, idx)  # and in-place ops on them rebase t (inplace.py)
        if t.grad_fn is not None:
            _ip.track_view(t.grad_fn, p)
    return parts


class TensorShape:
    """Movement methods, mixed into ``Tensor``, and the layout's introspection."""

    __slots__ = ()

    # ------------------------------------------------------------------- layout
    def stride(self, dim=None):
        """Steps between neighbouring elements along each dim, in elements (NumPy counts
        bytes), as PyTorch's: a transposed view's are swapped, an expanded dim's is 0.

        >>> import nabla
        >>> nabla.zeros(2, 3).t().stride()
        (1, 3)
        """
        a = self._data
        steps = tuple(s // a.itemsize for s in a.strides)
        return steps if dim is None else steps[_dim(dim, a.ndim)]

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def data_ptr(self) -> int:
        """The address of the first element (views of one storage differ by offsets); 0
        for a tensor with no elements, as PyTorch's."""
        return self._data.ctypes.data if self._data.size else 0

    def is_contiguous(self, memory_format=None) -> bool:
        """True when the elements lie in memory in row-major order with no gaps (a size-1
        dim's step not counted), as PyTorch's: not for a transposed, stepped or expanded
        view.

        >>> import nabla
        >>> x = nabla.zeros(2, 3)
        >>> x.is_contiguous(), x.t().is_contiguous(), x.t().contiguous().is_contiguous()
        (True, False, True)
        """
        return self._data.flags.c_contiguous

    def contiguous(self, memory_format=None):
        """The tensor itself when ``is_contiguous()``, else a row-major copy (recorded, as
        ``clone``). nabla's operations take any layout (``view`` copies where it must), so
        the copy made here is the one a following ``view`` would have made."""
        return self if self._data.flags.c_contiguous else self.clone()

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

    def squeeze(self, dim=None, *, axis=None):
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            ds = _dims(dim, self.ndim)
            ds = ds if isinstance(ds, tuple) else (ds,)
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in ds and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim=None, *, axis=None):
        if dim is None:
            dim = _axis_dim(axis, "unsqueeze")
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
        if len(sizes) > 1 and self.requires_grad and _autograd._grad_enabled[0]:
            return _split_recorded(self, d, sizes)
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0, *, axis=None):
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        n = self.shape[_dim(dim, self.ndim)]
        return self.split(builtins.max(1, -(-n // chunks)), dim)

    def narrow(self, dim, start, length):
        d = _dim(dim, self.ndim)
        index = (slice(None),) * d + (slice(start, start + length),)
        return self[index]

    def unbind(self, dim=0, *, axis=None):
        if axis is not None:  # NumPy's spelling, which PyTorch takes too
            dim = axis
        d = _dim(dim, self.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    # ------------------------------------------------------------ triangles, rolls
    def tril(self, diagonal=0):
        """The lower triangle of the last two dims (``diagonal`` shifts it up or down).

        >>> import nabla
        >>> nabla.ones(2, 2).tril().tolist()
        [[1.0, 0.0], [1.0, 1.0]]
        """
        return self._triangle(diagonal, False)

    def triu(self, diagonal=0):
        return self._triangle(diagonal, True)

    def _triangle(self, diagonal, upper):
        if self.ndim < 2:
            raise ShapeError(
                f"{'triu' if upper else 'tril'}: input needs at least 2 dimensions, got "
                f"shape {tuple(self.shape)}"
            )
        return _srt.Triangle.apply(self, int(diagonal), upper)

    def roll(self, shifts, dims=None):
        """Shift elements cyclically along ``dims`` (over the flattened tensor if None).

        >>> import nabla
        >>> nabla.tensor([1, 2, 3]).roll(1).tolist()
        [3, 1, 2]
        """
        if dims is None:
            if not isinstance(shifts, int):
                shifts = tuple(shifts)
                if len(shifts) != 1:
                    raise ValueError("roll: shifts must be one number when dims is None")
                shifts = shifts[0]
            return _srt.Roll.apply(self, int(shifts), None)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shifts) != len(dims):
            raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
        return _srt.Roll.apply(self, shifts, tuple(_dim(d, self.ndim) for d in dims))

    # ------------------------------------------------------------------- indexing
    def _index_arg(self, name, dim, index):
        d = _dim(dim, builtins.max(self.ndim, 1))
        idx = index._data if isinstance(index, TensorShape) else np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"{name}: index must be an integer tensor, got {idx.dtype}")
        return d, idx

    def gather(self, dim, index):
        """Values picked along ``dim`` at ``index`` (a tensor of the input's rank).

        >>> import nabla
        >>> nabla.tensor([[1, 2], [3, 4]]).gather(1, nabla.tensor([[1], [0]])).tolist()
        [[2], [3]]
        """
        d, idx = self._index_arg("gather", dim, index)
        self._check_along("gather", d, idx)
        return _ix.Gather.apply(self, d, idx)

    def _check_along(self, name, d, idx, src=None):
        if idx.ndim != self.ndim:
            raise ShapeError(
                f"{name}: index has {idx.ndim} dimensions, the input {self.ndim}"
            )
        for i, (n, m) in enumerate(zip(idx.shape, self.shape)):
            if i != d and n > m:
                raise ShapeError(
                    f"{name}: index {tuple(idx.shape)} is larger than the input "
                    f"{tuple(self.shape)} in dimension {i}"
                )
        if src is not None and any(n > m for n, m in zip(idx.shape, src.shape)):
            raise ShapeError(
                f"{name}: index {tuple(idx.shape)} is larger than src {tuple(src.shape)}"
            )
        if idx.size and (idx.min() < -self.shape[d] or idx.max() >= self.shape[d]):
            raise IndexError(
                f"{name}: index out of range for dimension {d} of size {self.shape[d]}"
            )

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """A copy with ``src`` (a tensor or number) written at ``index`` along ``dim``.

        >>> import nabla
        >>> nabla.zeros(3).scatter(0, nabla.tensor([2]), nabla.tensor([5.0])).tolist()
        [0.0, 0.0, 5.0]
        """
        if reduce is not None:
            raise NotImplementedError(
                f"scatter(reduce={reduce!r}) is not supported: use scatter_add or scatter_reduce"
            )
        if src is None:
            src = value
        d, idx = self._index_arg("scatter", dim, index)
        if not isinstance(src, TensorShape):
            self._check_along("scatter", d, idx)
            return _ix.ScatterValue.apply(self, d, idx, src)
        self._check_along("scatter", d, idx, src)
        return _ix.Scatter.apply(self, src.to(self.dtype), d, idx)

    def scatter_add(self, dim, index, src):
        """A copy with ``src`` added at ``index`` along ``dim`` (repeats accumulate).

        >>> import nabla
        >>> nabla.zeros(2).scatter_add(0, nabla.tensor([1, 1]), nabla.ones(2)).tolist()
        [0.0, 2.0]
        """
        d, idx = self._index_arg("scatter_add", dim, index)
        self._check_along("scatter_add", d, idx, src)
        return _ix.ScatterAdd.apply(self, src.to(self.dtype), d, idx)

    def index_select(self, dim, index):
        """The slices at ``index`` (1-D) along ``dim``.

        >>> import nabla
        >>> nabla.tensor([[1, 2], [3, 4]]).index_select(1, nabla.tensor([1])).tolist()
        [[2], [4]]
        """
        d, idx = self._index_arg("index_select", dim, index)
        if idx.ndim > 1:
            raise ShapeError(f"index_select: index must be 1-D, got shape {idx.shape}")
        n = self.shape[d] if self.ndim else 1
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index_select: index out of range for dimension {d} of size {n}")
        x = self if self.ndim else self.reshape(1)
        out = _ix.IndexSelect.apply(x, d, idx.reshape(-1))
        return out if self.ndim else out.reshape(idx.shape)

    def masked_select(self, mask):
        """The elements where ``mask`` (broadcast) holds, as a 1-D tensor.

        >>> import nabla
        >>> nabla.tensor([1, 2, 3]).masked_select(nabla.tensor([True, False, True])).tolist()
        [1, 3]
        """
        m = mask._data if isinstance(mask, TensorShape) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
        try:
            return _ix.MaskedSelect.apply(self, m)
        except ValueError:
            raise ShapeError(
                f"masked_select: mask {m.shape} and input {tuple(self.shape)} cannot be "
                "broadcast together"
            ) from None

    # --------------------------------------------------------------- matrix forms
    def diag(self, diagonal=0):
        """The ``diagonal``-th diagonal of a matrix, or the matrix with a vector on it.

        >>> import nabla
        >>> nabla.tensor([1.0, 2.0]).diag().tolist()
        [[1.0, 0.0], [0.0, 2.0]]
        """
        k = int(diagonal)
        if self.ndim == 1:
            # the vector's element i lands at (i, i + k) or (i - k, i) of an n x n zero
            # matrix: a scatter_add into its flat form, whose gradient is a gather
            m = self.shape[0]
            n = m + abs(k)
            i = np.arange(m)
            pos = (i + builtins.max(-k, 0)) * n + i + builtins.max(k, 0)
            zeros = _autograd.Tensor._wrap(np.zeros(n * n, dtype=self._data.dtype))
            return zeros.scatter_add(0, pos, self).reshape(n, n)
        if self.ndim != 2:
            raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {tuple(self.shape)}")
        r, c = self.shape
        i = np.arange(builtins.max(0, builtins.min(r + builtins.min(k, 0), c - builtins.max(k, 0))))
        return self[i - builtins.min(k, 0), i + builtins.max(k, 0)]

    def outer(self, vec2):
        """The outer product of two vectors.

        >>> import nabla
        >>> nabla.tensor([1.0, 2.0]).outer(nabla.tensor([1.0, 3.0])).tolist()
        [[1.0, 3.0], [2.0, 6.0]]
        """
        if self.ndim != 1 or vec2.ndim != 1:
            raise ShapeError(
                f"outer: both inputs must be 1-D, got {tuple(self.shape)} and {tuple(vec2.shape)}"
            )
        return self.unsqueeze(1) * vec2.unsqueeze(0)

    ger = outer

    def bmm(self, mat2):
        """Batched matrix product of (b, n, m) and (b, m, p) tensors, no broadcasting."""
        if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0] or (
            self.shape[2] != mat2.shape[1]
        ):
            raise ShapeError(
                f"bmm: expected (b, n, m) and (b, m, p), got {tuple(self.shape)} and "
                f"{tuple(mat2.shape)}"
            )
        return self @ mat2

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """``beta * self + alpha * (batch1 @ batch2)``, batched."""
        prod = batch1.bmm(batch2)
        if alpha != 1:
            prod = prod * alpha
        if beta == 0:  # as in PyTorch, self is then ignored (nan and inf included)
            return prod
        return (self if beta == 1 else self * beta) + prod
