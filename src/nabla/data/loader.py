"""DataLoader: batches of a dataset, optionally shuffled, collated into tensors.

>>> import nabla, numpy as np
>>> from nabla.data import DataLoader, TensorDataset
>>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
>>> loader = DataLoader(ds, batch_size=2)
>>> len(loader), [tuple(x.shape) for x, y in loader]
(3, [(2, 2), (2, 2), (1, 2)])
"""

from __future__ import annotations

import collections.abc as abc
from collections.abc import Callable

import numpy as np

from .. import backend
from .dataset import _from_numpy, _rng


def _stack(arrays: list, what: str) -> np.ndarray:
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({np.shape(a) for a in arrays})
        raise ValueError(f"default_collate cannot stack {what} of different shapes "
                         f"{shapes}; pass a collate_fn that pads them") from None


def default_collate(batch: list):
    """Merge a list of samples into a batch, recursively.

    Tensors and NumPy arrays are stacked along a new first dimension; Python ints become
    an int64 tensor, Python floats a tensor of the default float dtype (float32), bools a
    bool tensor, NumPy scalars a tensor of their own dtype; tuples, lists and dicts are
    collated field by field and keep their type; strings stay a list.

    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> tuple(x.shape), y.dtype
    ((2, 3), nabla.int64)
    """
    if not batch:
        raise ValueError("default_collate got an empty batch")
    elem = batch[0]
    from .. import Tensor

    if isinstance(elem, Tensor):
        return _from_numpy(_stack([t._data for t in batch], "tensors"))
    if isinstance(elem, np.ndarray):
        return _from_numpy(_stack(batch, "arrays"))
    if isinstance(elem, (bool, np.bool_)):
        return _from_numpy(np.array(batch, dtype=np.bool_))
    if isinstance(elem, np.generic):
        return _from_numpy(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, int):
        return _from_numpy(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _from_numpy(np.array(batch, dtype=backend.get_default_dtype().np))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise ValueError("default_collate: every sample of a batch must have the same "
                             f"number of fields, got {sorted({len(s) for s in batch})}")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate does not know how to batch {type(elem).__name__}; "
                    "pass a collate_fn")


class DataLoader:
    """Iterate over a dataset in batches.

    Each pass (epoch) visits every sample exactly once. With ``shuffle=True`` each epoch
    draws a fresh permutation from ``generator`` (a ``nabla.random.Generator``; nabla's
    global generator when None, so ``nabla.manual_seed`` makes runs repeatable).
    ``drop_last`` drops a last, smaller batch. ``len(loader)`` is the number of batches.

    Datasets that hold whole arrays (``TensorDataset``, MNIST, the digits, and their
    ``Subset``) expose ``get_batch(indices)``: the loader then fetches a batch with one
    NumPy fancy-index per array. Any other dataset, or any loader given a ``collate_fn``,
    reads ``dataset[i]`` sample by sample and merges the list with ``collate_fn``
    (``default_collate`` when None).

    >>> import nabla, numpy as np
    >>> from nabla.data import TensorDataset
    >>> g = nabla.random.Generator().manual_seed(0)
    >>> loader = DataLoader(TensorDataset(np.arange(6)), batch_size=4, shuffle=True,
    ...                     drop_last=True, generator=g)
    >>> len(loader), [tuple(b.shape) for (b,) in loader]
    (1, [(4,)])
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator=None,
                 collate_fn: Callable | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = len(dataset)
        if n == 0:
            raise ValueError(f"DataLoader got an empty dataset ({type(dataset).__name__} "
                             "of length 0): there is nothing to iterate over")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        # The permutation is drawn here, when the epoch starts, not lazily at the first
        # batch, so ``iter(loader)`` alone already fixes the epoch's order.
        n = len(self.dataset)
        order = _rng(self.generator).permutation(n) if self.shuffle else np.arange(n)
        stops = range(self.batch_size, n + 1 if self.drop_last else n + self.batch_size,
                      self.batch_size)
        return self._batches(order, stops)

    def _batches(self, order: np.ndarray, stops: range):
        fetch = None
        if self.collate_fn is None:
            fetch = getattr(self.dataset, "get_batch", None)
        if fetch is not None:
            for stop in stops:
                yield fetch(order[stop - self.batch_size:stop])
            return
        collate = self.collate_fn or default_collate
        dataset = self.dataset
        for stop in stops:
            yield collate([dataset[int(i)] for i in order[stop - self.batch_size:stop]])

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
