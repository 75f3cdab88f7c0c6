"""Samplers: the order in which a ``DataLoader`` visits a dataset's indices.

The names and arguments are PyTorch's. Every sampler here that draws at random takes a
``generator`` (a ``nabla.random.Generator``; nabla's global one when None), so
``nabla.manual_seed`` makes an epoch's order repeatable. The streams are NumPy's, so
the orders differ from PyTorch's for the same seed; the distributions are the same.

>>> import nabla
>>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
[[0, 1, 2], [3, 4, 5], [6]]
>>> g = nabla.random.Generator().manual_seed(0)
>>> sorted(RandomSampler(range(5), generator=g))
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .. import random as _random


def _rng(generator) -> np.random.Generator:
    """The NumPy generator behind a nabla ``Generator`` (or the global one for None)."""
    # A bare NumPy generator is accepted too: it costs nothing and saves a wrapper.
    if isinstance(generator, np.random.Generator):
        return generator
    return _random._np(generator)


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} should be a positive integer value, but got {what}={value!r}")
    return int(value)


def _bool(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} should be a boolean value, but got {what}={value!r}")
    return value


class Sampler:
    """The base class: an iterable of dataset indices (or of lists of them).

    Subclasses define ``__iter__`` and, when they know it, ``__len__``.

    >>> class Evens(Sampler):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(0, self.n, 2))
    >>> list(Evens(5))
    [0, 2, 4]
    """

    def __init__(self, data_source=None):
        pass  # PyTorch accepts (and ignores) a data source here too

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class _ArraySampler(Sampler):
    """A sampler that draws a whole epoch's indices as one NumPy array (``_indices``).

    The ``DataLoader`` slices that array into batches directly instead of going through
    Python ints one by one, which keeps a shuffled epoch over a large dataset cheap.
    """

    def _indices(self) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())


class SequentialSampler(_ArraySampler):
    """The indices ``0, 1, ..., len(data_source) - 1`` in order.

    >>> list(SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def _indices(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ArraySampler):
    """Indices in random order: a fresh permutation each epoch, or, with
    ``replacement=True``, ``num_samples`` independent uniform draws.

    Without replacement, a ``num_samples`` above ``len(data_source)`` chains whole
    permutations (and a part of one), as PyTorch does.

    >>> import nabla
    >>> g = nabla.random.Generator().manual_seed(1)
    >>> len(list(RandomSampler(range(3), num_samples=7, generator=g)))
    7
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        self.data_source = data_source
        self.replacement = _bool(replacement, "replacement")
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None:
            _positive_int(num_samples, "num_samples")

    @property
    def num_samples(self) -> int:
        # Read on each epoch: the dataset may change size between epochs.
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def _indices(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        rng = _rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=k)
        if k == n:
            return rng.permutation(n)
        full, rest = divmod(k, n)
        parts = [rng.permutation(n) for _ in range(full)] + [rng.permutation(n)[:rest]]
        return np.concatenate(parts)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """The given ``indices`` in a random order, drawn afresh each epoch.

    >>> import nabla
    >>> g = nabla.random.Generator().manual_seed(0)
    >>> sorted(SubsetRandomSampler([10, 20, 30], generator=g))
    [10, 20, 30]
    """

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = indices
        self.generator = generator

    def _indices(self) -> np.ndarray:
        order = _rng(self.generator).permutation(len(self.indices))
        return np.asarray(self.indices)[order] if len(order) else np.zeros(0, np.intp)

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_ArraySampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``
    (``weights`` need not sum to one), with or without replacement.

    >>> import nabla
    >>> g = nabla.random.Generator().manual_seed(0)
    >>> set(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=g))
    {1}
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None):
        self.num_samples = _positive_int(num_samples, "num_samples")
        self.replacement = _bool(replacement, "replacement")
        from ..tensor import Tensor

        w = weights._data if isinstance(weights, Tensor) else weights
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1-D sequence, but got weights of shape "
                             f"{w.shape}")
        if w.size == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero, got "
                             f"{w.tolist() if w.size <= 8 else w}")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"cannot draw num_samples={num_samples} indices without "
                             f"replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.generator = generator

    def _indices(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return _rng(self.generator).choice(len(p), size=self.num_samples,
                                           replace=self.replacement, p=p)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; ``drop_last``
    drops a last, shorter list.

    >>> list(BatchSampler(range(5), batch_size=2, drop_last=True))
    [[0, 1], [2, 3]]
    """

    def __init__(self, sampler: Iterable, batch_size: int, drop_last: bool):
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.drop_last = _bool(drop_last, "drop_last")

    def _array_batches(self) -> Iterator[np.ndarray]:
        """The batches as slices of one index array (the loader's fast path). The epoch's
        order is drawn now, not at the first batch, so ``iter(loader)`` fixes it."""
        order = self.sampler._indices()
        n, b = len(order), self.batch_size
        stops = range(b, n + 1 if self.drop_last else n + b, b)
        return (order[stop - b:stop] for stop in stops)

    def __iter__(self) -> Iterator[list]:
        if _is_array_sampler(self.sampler):
            return (batch.tolist() for batch in self._array_batches())
        return self._list_batches()

    def _list_batches(self) -> Iterator[list]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _is_array_sampler(sampler) -> bool:
    """True when ``sampler``'s epoch is ``_indices()`` (its ``__iter__`` not overridden)."""
    return isinstance(sampler, _ArraySampler) and \
        type(sampler).__iter__ is _ArraySampler.__iter__


def index_batches(batch_sampler) -> Iterator:
    """The batches of ``batch_sampler`` as index arrays where that is free, else lists."""
    if type(batch_sampler) is BatchSampler and _is_array_sampler(batch_sampler.sampler):
        return batch_sampler._array_batches()
    return iter(batch_sampler)
