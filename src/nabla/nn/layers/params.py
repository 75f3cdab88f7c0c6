"""``ParameterList`` and ``ParameterDict``: parameters held in a list or dict that the
parent module sees (a plain list or dict of Parameters would hide them).

>>> import nabla
>>> from nabla import nn
>>> class Mixture(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.w = nn.ParameterList([nn.Parameter(nabla.ones(2)) for _ in range(3)])
>>> [n for n, _ in Mixture().named_parameters()]
['w.0', 'w.1', 'w.2']
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping

from ...tensor import Tensor
from ..module import Module, Parameter

__all__ = ["ParameterList", "ParameterDict"]


def _as_param(value):
    # As PyTorch: a plain Tensor put in becomes a Parameter; other objects stay as they are.
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _describe(key, value) -> str:
    if isinstance(value, Tensor):
        kind = "Parameter containing" if isinstance(value, Parameter) else "Tensor"
        size = "x".join(str(s) for s in value.shape)
        return f"  ({key}): {kind}: [{value.dtype} of size {size}]"
    return f"  ({key}): Object of type: {type(value).__name__}"


class ParameterList(Module):
    """A list of parameters, registered under ``"0"``, ``"1"``, ...

    >>> import nabla
    >>> pl = ParameterList([nabla.zeros(2)])
    >>> pl.append(nabla.ones(3))
    ParameterList(
        (0): Parameter containing: [nabla.float32 of size 2]
        (1): Parameter containing: [nabla.float32 of size 3]
    )
    >>> len(pl), pl[-1].shape, type(pl[0]).__name__
    (2, (3,), 'Parameter')
    """

    def __init__(self, values: Iterable | None = None):
        super().__init__()
        self._size = 0
        if values is not None:
            self += values

    def _key(self, idx) -> str:
        idx = operator.index(idx)
        if not -self._size <= idx < self._size:
            raise IndexError(f"index {idx} is out of range")
        return str(idx % self._size)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(self._size)[idx]])
        return getattr(self, self._key(idx))

    def __setitem__(self, idx, value) -> None:
        key = self._key(idx)
        value = _as_param(value)
        if key in self.__dict__ and not isinstance(value, Parameter):
            self._forget(key)
            self.__dict__.pop(key, None)
        setattr(self, key, value)

    def __len__(self) -> int:
        return self._size

    def __iter__(self):
        return (self[i] for i in range(self._size))

    def __iadd__(self, values: Iterable) -> ParameterList:
        return self.extend(values)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value) -> ParameterList:
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values: Iterable) -> ParameterList:
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_describe(i, p) for i, p in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """A dict of parameters, registered under their (string) keys, in insertion order.

    >>> import nabla
    >>> pd = ParameterDict({"scale": nabla.ones(1)})
    >>> pd["shift"] = nabla.zeros(1)
    >>> list(pd), [n for n, _ in pd.named_parameters()]
    (['scale', 'shift'], ['scale', 'shift'])
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys: dict = {}
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        self._keys[key] = None
        value = _as_param(value)
        if key in self._parameters and not isinstance(value, Parameter):
            self._forget(key)
            self.__dict__.pop(key, None)
        setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key) -> bool:
        return key in self._keys

    def keys(self):
        return list(self._keys)

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def get(self, key, default=None):
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def popitem(self):
        k = list(self._keys)[-1]
        return k, self.pop(k)

    def clear(self) -> None:
        for k in list(self._keys):
            del self[k]

    def copy(self) -> ParameterDict:
        return ParameterDict(dict(self.items()))

    def fromkeys(self, keys, default=None) -> ParameterDict:
        return ParameterDict({k: default for k in keys})

    def update(self, values) -> None:
        if isinstance(values, Mapping):
            items = values.items()
        elif isinstance(values, Iterable):
            items = []
            for i, kv in enumerate(values):
                if not isinstance(kv, (tuple, list)) or len(kv) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{i} should be "
                                     f"a (key, value) pair")
                items.append(kv)
        else:
            raise TypeError("ParameterDict.update should be called with a mapping or an "
                            f"iterable of (key, value) pairs, but got {type(values).__name__}")
        for k, v in items:
            self[k] = v

    def __or__(self, other) -> ParameterDict:
        out = self.copy()
        out.update(other)
        return out

    def __ior__(self, other) -> ParameterDict:
        self.update(other)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_describe(k, v) for k, v in self.items())

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called.")
