"""Collation: turning a list of samples into one batch, with PyTorch's rules.

>>> import numpy as np
>>> from nabla.data import default_collate
>>> x, y = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
>>> tuple(x.shape), y.dtype
((2, 3), nabla.int64)
"""

from __future__ import annotations

import collections.abc as abc

import numpy as np

from ..creation import from_numpy as _from_numpy  # every batch goes through it: no call layer
from ..tensor import Tensor


def _stack(arrays: list, what: str) -> np.ndarray:
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({np.shape(a) for a in arrays})
        raise ValueError(f"default_collate cannot stack {what} of different shapes "
                         f"{shapes}; pass a collate_fn that pads them") from None


def default_collate(batch: list):
    """Merge a list of samples into a batch, recursively, as ``torch``'s does.

    Tensors and NumPy arrays are stacked along a new first dimension; Python ints become
    an int64 tensor, Python floats a float64 tensor (as in PyTorch: call ``.float()``
    for float32), bools a bool tensor, NumPy scalars a tensor of their own dtype;
    strings stay as they are (a list; a tuple inside a sample). Dicts are collated key
    by key, namedtuples field by field into the same namedtuple, and other tuples and
    lists field by field into a **list** (as PyTorch does, so ``x, y = batch`` works
    either way).

    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> tuple(x.shape), y.dtype, default_collate([0.5, 1.5]).dtype
    ((2, 3), nabla.int64, nabla.float64)
    """
    if not batch:
        raise ValueError("default_collate got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _from_numpy(_stack([t._data for t in batch], "tensors"))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUS":
            raise TypeError(f"default_collate cannot batch NumPy arrays of dtype "
                            f"{elem.dtype}; pass a collate_fn")
        return _from_numpy(_stack(batch, "arrays"))
    if isinstance(elem, (bool, np.bool_)):
        return _from_numpy(np.array(batch, dtype=np.bool_))
    if isinstance(elem, np.generic):
        return _from_numpy(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, int):
        return _from_numpy(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _from_numpy(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch  # as given: a list at the top, a tuple (a column) inside a sample
    if isinstance(elem, abc.Mapping):
        fields = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        try:
            return type(elem)(fields)  # keeps an OrderedDict (or other mapping) type
        except TypeError:
            return fields
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise ValueError("default_collate: every sample of a batch must have the same "
                             f"number of fields, got {sorted({len(s) for s in batch})}")
        fields = [default_collate(column) for column in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
            return type(elem)(*fields)
        return fields
    raise TypeError(f"default_collate does not know how to batch {type(elem).__name__}; "
                    "pass a collate_fn")


def default_convert(data):
    """What the loader does to each sample when batching is off (``batch_size=None``):
    NumPy arrays become tensors, containers are converted element by element, anything
    else is returned as it is.

    >>> default_convert({"x": np.arange(2)})["x"]
    tensor([0, 1])
    """
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        return _from_numpy(data)
    if isinstance(data, abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(v) for v in data]
    return data
