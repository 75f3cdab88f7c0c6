"""Datasets: indexable collections of samples.

A dataset is anything with ``__len__`` and ``__getitem__``. Datasets that keep their
samples in whole arrays also offer ``get_batch(indices)``, which returns a collated batch
with one fancy-index per array: the ``DataLoader`` uses it so that a batch costs a few
NumPy calls instead of a Python loop over samples.

>>> import numpy as np
>>> from nabla.data import TensorDataset, random_split
>>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
>>> len(ds), [len(s) for s in random_split(ds, [3, 2])]
(5, [3, 2])
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Sequence

import numpy as np

from ..creation import from_numpy as _from_numpy  # every batch goes through it: no call layer
from .collate import default_collate
from .sampler import _rng


def _array_of(x) -> np.ndarray:
    """The NumPy array inside a Tensor, or ``x`` itself when it already is one."""
    if isinstance(x, np.ndarray):
        return x
    from .. import Tensor

    if isinstance(x, Tensor):
        return x._data
    raise TypeError(f"expected a nabla Tensor or a NumPy array, got {type(x).__name__}")


def _index_array(indices) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or not (idx.dtype.kind in "iu" or idx.size == 0):
        raise TypeError(f"indices must be a 1-D sequence of integers, got {idx.dtype} "
                        f"array of shape {idx.shape}")
    return idx.astype(np.intp, copy=False)


def collate_samples(dataset, indices) -> object:
    """The generic way to build a batch: ``dataset[i]`` for each index, then collate.

    Datasets whose fast path does not apply (a subclass that overrides ``__getitem__``,
    a per-sample transform) fall back to this.
    """
    return default_collate([dataset[int(i)] for i in indices])


class Dataset:
    """The base class of map-style datasets: subclasses define ``__getitem__`` and
    ``__len__``.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         if not 0 <= i < 4:
    ...             raise IndexError(i)
    ...         return i, i * i
    >>> Squares()[3]
    (3, 9)
    >>> len(Squares() + Squares())
    8
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """The base class of datasets that are a stream of samples: subclasses define
    ``__iter__``. A ``DataLoader`` batches the stream as it comes (no sampler, no
    shuffle); with workers, each worker iterates its own copy, so split the stream with
    :func:`nabla.data.get_worker_info` to avoid repeating samples.

    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    >>> len(list(Count() + Count()))
    6
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self) -> int:
        # TypeError, as for any object without a length (list() then just iterates).
        raise TypeError(f"{type(self).__name__} is a stream and has no len(); define "
                        "__len__ if it knows its length")

    def __add__(self, other) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets one after the other.

    >>> list(ChainDataset([range(2), range(5, 7)]))
    [0, 1, 5, 6]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    ``TensorDataset(X, y)[i]`` is ``(X[i], y[i])``. NumPy arrays are accepted as well as
    tensors and are wrapped without copying.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((3, 2), np.float32), np.array([0, 1, 2]))
    >>> len(ds)
    3
    >>> x, y = ds[1]
    >>> x.shape, int(y.item())
    ((2,), 1)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = tuple(_array_of(t) for t in tensors)
        for a in arrays:
            if a.ndim == 0:
                raise ValueError("TensorDataset cannot index a 0-d tensor: every tensor "
                                 "needs a first (sample) dimension")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"all tensors of a TensorDataset must have the same size in "
                             f"their first dimension, got sizes {sizes}")
        self._arrays = arrays
        self._given = tensors

    @property
    def tensors(self) -> tuple:
        """The tensors given to the constructor (NumPy arrays wrapped as Tensors)."""
        return tuple(t if not isinstance(t, np.ndarray) else _from_numpy(t)
                     for t in self._given)

    def __len__(self) -> int:
        return self._arrays[0].shape[0]

    def __getitem__(self, index):
        # ``a[i, ...]`` is a 0-d array for a 1-D ``a`` rather than a NumPy scalar, so a
        # label comes back as a 0-d Tensor, as in PyTorch, and nothing is copied.
        return tuple(_from_numpy(a[index, ...]) for a in self._arrays)

    def get_batch(self, indices):
        """The samples at ``indices`` already collated: one fancy-index per tensor."""
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            # A subclass that changes __getitem__ (augmentation, say) must be honoured.
            return collate_samples(self, indices)
        idx = _index_array(indices)
        return tuple(_from_numpy(a[idx]) for a in self._arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> import numpy as np
    >>> ds = TensorDataset(np.arange(6))
    >>> sub = Subset(ds, [4, 0])
    >>> len(sub), int(sub[0][0].item())
    (2, 4)
    """

    def __init__(self, dataset, indices: Sequence[int]):
        idx = _index_array(indices)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise IndexError(f"Subset index {int(bad)} is out of range for a dataset "
                             f"of length {n}")
        self.dataset = dataset
        self.indices = indices
        self._idx = np.where(idx < 0, idx + n, idx)

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self._idx[index]]
        return self.dataset[int(self._idx[index])]

    def get_batch(self, indices):
        if type(self).__getitem__ is Subset.__getitem__ and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(self._idx[_index_array(indices)])
        return collate_samples(self, indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other.

    >>> import numpy as np
    >>> ds = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    >>> len(ds), int(ds[3][0].item()), int(ds[-1][0].item())
    (5, 10, 11)
    """

    def __init__(self, datasets: Sequence):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support an IterableDataset; "
                                "use ChainDataset to chain streams")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of length {n}")
        if index < 0:
            index += n
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def random_split(dataset, lengths: Sequence, generator=None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    ``lengths`` are either integers that sum to ``len(dataset)`` or fractions that sum to
    1; with fractions, the samples left over by rounding down go one each to the first
    subsets, as PyTorch does. ``generator`` (a ``nabla.random.Generator``; the global one
    when None) makes the split repeatable.

    >>> import nabla, numpy as np
    >>> ds = TensorDataset(np.arange(10))
    >>> g = nabla.random.Generator().manual_seed(0)
    >>> train, val = random_split(ds, [0.75, 0.25], generator=g)
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split needs at least one length")
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"lengths must be integers or fractions, got {lengths}")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(s < 0 for s in sizes):
            raise ValueError(f"lengths must be non-negative, got {sizes}")
        if sum(sizes) != n:
            raise ValueError(f"sum of lengths {sizes} is {sum(sizes)}, but the dataset "
                             f"has {n} samples")
    else:
        fractions = [float(x) for x in lengths]
        if any(not 0.0 <= f <= 1.0 for f in fractions):
            raise ValueError(f"fractions must lie in [0, 1], got {fractions}")
        if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
            raise ValueError(f"fractions {fractions} sum to {sum(fractions)}, not 1")
        sizes = [math.floor(n * f) for f in fractions]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    perm = _rng(generator).permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


class _ImageArrayDataset(Dataset):
    """Greyscale images in one ``uint8`` array (N, H, W) with ``int64`` labels.

    The shared body of MNIST, FashionMNIST and the bundled digits: samples are
    ``(image, label)`` with the image a float32 tensor (1, H, W) scaled to [0, 1], or
    whatever ``transform`` makes of the raw (H, W) uint8 array.
    """

    classes: list[str] = []
    _max_value = 255  # the grey level that maps to 1.0

    def _set_arrays(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._images = images
        self._labels = labels.astype(np.int64, copy=False)

    @property
    def data(self):
        """All images as a ``uint8`` tensor (N, H, W), sharing memory with the dataset."""
        return _from_numpy(self._images)

    @property
    def targets(self):
        """All labels as an ``int64`` tensor (N,)."""
        return _from_numpy(self._labels)

    def __len__(self) -> int:
        return self._images.shape[0]

    def _scale(self, images: np.ndarray) -> np.ndarray:
        # One ufunc call: divide and convert to float32 without a float64 temporary.
        return np.divide(images, np.float32(self._max_value), dtype=np.float32)

    def __getitem__(self, index):
        image, label = self._images[index], self._labels[index]
        if self.transform is not None:
            # A copy: a transform that works in place must not alter the dataset.
            image = self.transform(image.copy())
        else:
            image = _from_numpy(self._scale(image)[None])
        label = int(label)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """Images (B, 1, H, W) float32 in [0, 1] and labels (B,) int64, vectorised."""
        if (self.transform is not None or self.target_transform is not None
                or type(self).__getitem__ is not _ImageArrayDataset.__getitem__):
            return collate_samples(self, indices)
        idx = _index_array(indices)
        images = self._scale(self._images[idx])
        return (_from_numpy(images.reshape(len(idx), 1, *images.shape[1:])),
                _from_numpy(self._labels[idx]))

    def arrays(self, flatten: bool = False, normalize: bool = True):
        """All samples as NumPy arrays ``(images, labels)``, ignoring the transforms.

        Images are (N, 1, H, W), or (N, H*W) with ``flatten``; float32 in [0, 1] with
        ``normalize``, else the raw ``uint8`` grey levels. Labels are ``int64`` (N,).
        """
        images = self._scale(self._images) if normalize else self._images.copy()
        shape = (len(images), -1) if flatten else (len(images), 1, *images.shape[1:])
        return images.reshape(shape), self._labels.copy()

    def tensors(self, flatten: bool = False, normalize: bool = True):
        """Like :meth:`arrays`, as nabla tensors ``(X, y)``."""
        images, labels = self.arrays(flatten=flatten, normalize=normalize)
        return _from_numpy(images), _from_numpy(labels)
