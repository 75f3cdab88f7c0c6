"""``Module``, ``Parameter`` and the containers, in PyTorch's shape.

A Module finds its parameters, buffers and sub-modules by watching attribute
assignment (``__setattr__``), so a model is written as plain attributes and
``parameters()``, ``state_dict()`` and ``repr`` come for free:

>>> import nabla
>>> from nabla import nn
>>> class TwoLayer(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc1 = nn.Linear(4, 3)
...         self.fc2 = nn.Linear(3, 2)
...     def forward(self, x):
...         return self.fc2(self.fc1(x).relu())
>>> model = TwoLayer()
>>> [name for name, _ in model.named_parameters()]
['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
>>> model(nabla.ones(5, 4)).shape
(5, 2)

Registered parameters, buffers and modules are also kept in the instance ``__dict__``
next to their registry (``_parameters``, ``_buffers``, ``_modules``). That makes
``self.weight`` a plain attribute read (about 7 ns) instead of a ``__getattr__``
fallback (about 370 ns): it is on the hot path of every forward call. Change them
through attribute assignment, ``register_*`` or ``add_module``, not by writing into
the registry dicts directly.
"""

from __future__ import annotations

import operator
from collections import OrderedDict, namedtuple
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..creation import tensor
from ..tensor import Tensor
from . import hooks as _hooks
from .hooks import _live

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Buffer"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter.

    It shares memory with the tensor or array it is built from and requires a
    gradient by default.

    >>> import nabla
    >>> p = Parameter(nabla.ones(2))
    >>> p
    Parameter containing:
    tensor([1., 1.], requires_grad=True)
    >>> p.requires_grad, isinstance(p, nabla.Tensor)
    (True, True)
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype().np)
        elif not isinstance(data, (Tensor, np.ndarray)):
            data = tensor(data)  # Python numbers get the default dtype (float32), not float64
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor._wrap(self.grad._data.copy())
        memo[id(self)] = result
        return result


class Buffer(Tensor):
    """Marks a tensor as a buffer when assigned to a Module attribute (as ``nn.Buffer``).

    >>> import nabla
    >>> m = Module(); m.count = Buffer(nabla.zeros(1))
    >>> list(dict(m.named_buffers()))
    ['count']
    """

    def __init__(self, data, *, persistent: bool = True):
        super().__init__(data)
        self.persistent = persistent


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _check_name(kind: str, name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{kind} name cannot be the empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name cannot contain ".", got: {name}')


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign ``Parameter``s, buffers and
    sub-modules as attributes, and define ``forward``. Calling the module runs
    ``forward``.

    >>> import nabla
    >>> from nabla import nn
    >>> m = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    >>> list(m.state_dict())
    ['0.weight', '0.bias']
    >>> m.eval().training
    False
    """

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments: "
                "Module.__init__ takes none"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = set()
        d["_modules"] = {}

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        # _live[0]: hooks registered anywhere (nn/hooks.py); one list read when none.
        if _live[0]:
            return _hooks.call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------- hooks
    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False):
        """``hook(module, args)`` (``with_kwargs``: ``hook(module, args, kwargs)``) before
        ``forward``; a value it returns replaces the args (``(args, kwargs)``).

        >>> import nabla
        >>> m = nabla.nn.Identity()
        >>> h = m.register_forward_pre_hook(lambda mod, args: args[0] + 1)
        >>> m(nabla.zeros(1)); h.remove()
        tensor([1.])
        """
        return _hooks.register_forward_pre_hook(self, hook, prepend=prepend,
                                                with_kwargs=with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args, kwargs,
        output)``) after ``forward``; a value it returns replaces the output.
        ``always_call`` hooks run even when ``forward`` raises.

        >>> import nabla
        >>> m = nabla.nn.ReLU()
        >>> with m.register_forward_hook(lambda mod, args, out: out * 10):
        ...     m(nabla.ones(1))
        tensor([10.])
        """
        return _hooks.register_forward_hook(self, hook, prepend=prepend,
                                            with_kwargs=with_kwargs, always_call=always_call)

    def register_full_backward_pre_hook(self, hook, *, prepend: bool = False):
        """``hook(module, grad_output)``; a tuple it returns replaces ``grad_output``."""
        return _hooks.register_full_backward_pre_hook(self, hook, prepend=prepend)

    def register_full_backward_hook(self, hook, *, prepend: bool = False):
        """``hook(module, grad_input, grad_output)`` once the gradients of the module's
        positional tensor inputs are computed; a tuple it returns replaces ``grad_input``.

        >>> import nabla
        >>> m, grads = nabla.nn.Linear(2, 1), []
        >>> h = m.register_full_backward_hook(lambda mod, gi, go: grads.append(go[0].shape))
        >>> m(nabla.ones(3, 2, requires_grad=True)).sum().backward(); h.remove(); grads
        [(3, 1)]
        """
        return _hooks.register_full_backward_hook(self, hook, prepend=prepend)

    # ------------------------------------------------------------- registration
    def _registries(self):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call: "
                "call super().__init__() first in your __init__"
            )
        return d["_parameters"], d["_buffers"], d["_modules"]

    def _forget(self, name: str) -> None:
        """Remove ``name`` from every registry (it is about to change kind)."""
        params, buffers, modules = self._registries()
        params.pop(name, None)
        buffers.pop(name, None)
        modules.pop(name, None)
        self.__dict__["_non_persistent_buffers"].discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, a declared but absent one such as ``bias``).

        >>> import nabla
        >>> m = Module(); m.register_parameter("w", Parameter(nabla.zeros(2)))
        >>> [n for n, _ in m.named_parameters()]
        ['w']
        """
        params, buffers, modules = self._registries()
        _check_name("parameter", name)
        if name not in params and (name in buffers or name in modules or hasattr(self, name)):
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(nabla.nn.Parameter or None required)"
            )
        params[name] = param
        self.__dict__[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. running statistics).

        Persistent buffers are saved in ``state_dict``; all buffers follow ``to(dtype)``.

        >>> import nabla
        >>> m = Module(); m.register_buffer("mean", nabla.zeros(3))
        >>> list(m.state_dict())
        ['mean']
        """
        params, buffers, modules = self._registries()
        _check_name("buffer", name)
        if name not in buffers and (name in params or name in modules or hasattr(self, name)):
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(nabla.Tensor or None required)"
            )
        buffers[name] = tensor
        nonpersistent = self.__dict__["_non_persistent_buffers"]
        if persistent:
            nonpersistent.discard(name)
        else:
            nonpersistent.add(name)
        self.__dict__[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a sub-module under ``name`` (what ``self.name = module`` does)."""
        params, buffers, modules = self._registries()
        _check_name("module", name)
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name not in modules and (name in params or name in buffers or hasattr(self, name)):
            raise KeyError(f"attribute '{name}' already exists")
        modules[name] = module
        self.__dict__[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                self._registries()  # raises the "call super().__init__()" error
            if name not in params:  # a replaced parameter keeps its place, as in PyTorch
                self._forget(name)
            params[name] = value
            d[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(nabla.nn.Parameter or None expected)"
                )
            params[name] = None
            d[name] = None
        elif isinstance(value, Module):
            if params is None:
                self._registries()
            self._forget(name)
            d["_modules"][name] = value
            d[name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(nabla.nn.Module or None expected)"
                )
            d["_modules"][name] = None
            d[name] = None
        elif isinstance(value, Buffer):
            if params is None:
                self._registries()
            self._forget(name)
            self.register_buffer(name, value, value.persistent)
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(nabla.Tensor or None expected)"
                )
            d["_buffers"][name] = value
            d[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails: registry entries written directly into
        # the dicts (bypassing __setattr__) are still found here.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            r = d.get(registry)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if any(name in d.get(r, ()) for r in ("_parameters", "_buffers", "_modules")):
            self._forget(name)
            d.pop(name, None)
        else:
            object.__delattr__(self, name)

    # ---------------------------------------------------------------- iteration
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Every module in the tree (this one first) with its dotted name.

        >>> from nabla import nn
        >>> [n for n, _ in nn.Sequential(nn.Linear(1, 1), nn.ReLU()).named_modules()]
        ['', '0', '1']
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """The direct sub-modules with their names (each module once)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        memo = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, module in mods:
            for name, value in module.__dict__[registry].items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in memo:
                        continue
                    memo.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """``(dotted name, Parameter)`` pairs; a parameter shared by two layers comes once.

        >>> from nabla import nn
        >>> [n for n, _ in nn.Linear(2, 1).named_parameters(prefix="fc")]
        ['fc.weight', 'fc.bias']
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters of this module and (with ``recurse``) all its sub-modules.

        >>> from nabla import nn
        >>> sum(p.numel() for p in nn.Linear(3, 2).parameters())
        8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The sub-module at a dotted path: ``model.get_submodule("encoder.0")``."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            sub = mod._modules.get(item) if isinstance(mod, Module) else None
            if sub is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule `{item}` "
                                     f"(looking up '{target}')")
            mod = sub
        return mod

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters or mod._parameters[name] is None:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    # --------------------------------------------------------------- state dict
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered ``name -> Tensor`` mapping of parameters and persistent buffers.

        The tensors share memory with the module's (detached unless ``keep_vars``);
        keys are PyTorch's, so weights can move between the two libraries.

        >>> from nabla import nn
        >>> list(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)).state_dict())
        ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        if args:  # PyTorch's deprecated positional form: (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        d = self.__dict__
        for name, p in d["_parameters"].items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        nonpersistent = d["_non_persistent_buffers"]
        for name, b in d["_buffers"].items():
            if b is not None and name not in nonpersistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in d["_modules"].items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping, strict: bool = True, assign: bool = False):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        Values may be Tensors or NumPy arrays; they are cast to each tensor's dtype.
        With ``strict`` (the default), missing and unexpected keys are errors; a shape
        mismatch is always an error (as in PyTorch). Everything is checked before
        anything is copied, so a failed load leaves the module unchanged. Returns
        ``(missing_keys, unexpected_keys)``.

        >>> from nabla import nn
        >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> bool((a.weight == b.weight).all())
        True
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}."
            )
        if assign:
            raise NotImplementedError("load_state_dict(assign=True) is not supported")
        own = self.state_dict(keep_vars=True)
        missing, errors, pending = [], [], []
        for key, target in own.items():
            if key not in state_dict:
                missing.append(key)
                continue
            value = state_dict[key]
            arr = value._data if isinstance(value, Tensor) else np.asarray(value)
            if arr.dtype == object:
                errors.append(f'value for "{key}" is not numeric ({type(value).__name__})')
            elif tuple(arr.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(arr.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(target.shape)}."
                )
            else:
                pending.append((target, arr))
        unexpected = [k for k in state_dict if k not in own]
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for target, arr in pending:
                target.copy_(arr)
        return _IncompatibleKeys(missing, unexpected)

    # --------------------------------------------------------------- modes, dtype
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) on the whole tree."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``.

        >>> from nabla import nn
        >>> nn.Dropout(0.5).eval().training
        False
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter (freeze with ``False``)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: drop them (default) or fill the existing buffers with 0."""
        for p in self.parameters():
            g = p.grad
            if g is None:
                continue
            if set_to_none:
                p.grad = None
            elif g._data.flags.writeable:
                g._data.fill(0)
            else:
                p.grad = Tensor._wrap(np.zeros_like(g._data))

    def apply(self, fn) -> Module:
        """Call ``fn`` on every sub-module (children first) and on this module.

        >>> from nabla import nn
        >>> names = []
        >>> _ = nn.Sequential(nn.Linear(1, 1)).apply(lambda m: names.append(type(m).__name__))
        >>> names
        ['Linear', 'Sequential']
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn) -> Module:
        """Replace, in place, the array of every parameter, grad and buffer by ``fn(array)``.

        The Tensor objects stay the same, so optimizers holding them keep working.
        Layers that cache something derived from their parameters override this.
        """
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None:
                    continue
                new = fn(t._data)
                if new is not t._data:
                    t._data = new
                    t._vc[0] += 1
                if t.grad is not None:
                    t.grad._data = fn(t.grad._data)
        return self

    def to(self, *args, dtype=None, device=None, **kwargs) -> Module:
        """Convert floating-point parameters and buffers to ``dtype``, in place.

        ``m.to(nabla.float64)``, ``m.to("cpu")``, ``m.to(device="cpu", dtype=...)``,
        ``m.to(some_tensor)`` (its dtype). Integer buffers are left alone.

        >>> import nabla
        >>> from nabla import nn
        >>> nn.Linear(2, 2).to(nabla.float64).weight.dtype
        nabla.float64
        """
        kwargs.pop("non_blocking", None)  # accepted for PyTorch code; nothing is asynchronous
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, backend.Device) or (
                isinstance(a, str) and a not in backend._BY_NAME
            ):
                device = a
            else:
                dtype = a
        backend.device(device)
        if dtype is None:
            return self
        dt = backend.dtype(dtype)
        if not dt.is_floating_point:
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dt}"
            )
        target = dt.np

        def convert(arr):
            if arr.dtype.kind == "f" and arr.dtype != target:
                return arr.astype(target)
            return arr

        return self._apply(convert)

    def float(self) -> Module:
        return self.to(backend.float32)

    def double(self) -> Module:
        return self.to(backend.float64)

    def half(self) -> Module:
        return self.to(backend.float16)

    def type(self, dst_type) -> Module:
        return self.to(dst_type)

    def cpu(self) -> Module:
        return self

    def cuda(self, device=None) -> Module:
        backend.device("cuda")
        return self  # pragma: no cover - backend.device raises on a CPU-only build

    # --------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` in the repr; layers override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


for _name in _hooks._LOCAL:  # read-only and empty until a hook is registered
    setattr(Module, _name, _hooks._EMPTY)


# ----------------------------------------------------------------- containers
def _reset_modules(module: Module, items) -> None:
    """Replace all sub-modules of a container by ``items`` (renumbering, reordering)."""
    d = module.__dict__
    for name in list(d["_modules"]):
        d.pop(name, None)
    d["_modules"] = {}
    for name, m in items:
        module.add_module(name, m)


def _plain(module, cls) -> bool:
    """``module`` is exactly a ``cls`` with its class's own ``forward``: a layer that
    Sequential may run fused with its neighbours."""
    return type(module) is cls and "forward" not in module.__dict__


def _hook(module, name):
    """The fusion hook ``name`` that ``module``'s own class defines (not inherited), or
    None, also when ``forward`` was replaced on the instance: Sequential then runs it
    as it is."""
    if "forward" in module.__dict__:
        return None
    return type(module).__dict__.get(name)


class Sequential(Module):
    """Modules applied one after another; the output of each is the next one's input.

    >>> import nabla
    >>> from nabla import nn
    >>> model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    >>> model
    Sequential(
      (0): Linear(in_features=784, out_features=128, bias=True)
      (1): ReLU()
      (2): Linear(in_features=128, out_features=10, bias=True)
    )
    >>> model(nabla.zeros(2, 784)).shape
    (2, 10)
    >>> len(model), type(model[1]).__name__, len(model[:2])
    (3, 'ReLU', 2)

    Some runs of layers are computed together, with less work and the same results:

    - ``Linear`` then ``ReLU``, ``Tanh`` or ``Sigmoid``: one node (``LinearReluBackward``,
      ...), the same values and gradients bit for bit;
    - ``ReLU`` then ``MaxPool1d/2d``: the pooling first, then the relu (max and relu
      commute, so the values and gradients are the same bit for bit);
    - ``Conv2d`` then ``MaxPool2d`` (a ``ReLU`` between them runs after): one node
      (``Conv2dMaxPool2dBackward``), pooling each thread's samples while they are in
      cache, and several such runs in a row (LeNet's two) make one node too. The
      values and the input gradient are the same bit for bit; the weight gradient sums
      the same terms in another order.

    Only exact layer classes take part (not subclasses, nor layers whose ``forward`` was
    replaced on the instance, nor layers with hooks, nor any while a global module hook
    is registered), and never a pooling with ``return_indices``. Set
    ``fuse_activations = False`` (on the class or on one model) to record each layer's
    own op in order, as when drawing the graph.

    >>> model(nabla.zeros(2, 784)).grad_fn.next_functions[0][0]
    <LinearReluBackward>
    """

    fuse_activations = True

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def forward(self, input):
        if not self.fuse_activations:
            for module in self._modules.values():
                input = module(input)
            return input
        # A layer whose class defines ``_fuse`` may run together with the layers after it
        # (see the class docstring); it says how many it took, or None to run alone.
        mods = tuple(self._modules.values())
        if _live[0]:  # a hook somewhere: fuse only what no hook can observe
            return _hooks.sequential_forward(self, input, mods)
        i, n = 0, len(mods)
        while i < n:
            module = mods[i]
            # _hook(module, "_fuse"), inline: this loop runs for every layer of every step.
            fuse = type(module).__dict__.get("_fuse")
            if fuse is not None and i + 1 < n and "forward" not in module.__dict__:
                done = fuse(module, input, mods[i + 1:])
                if done is not None:
                    input, used = done
                    i += used
                    continue
            input = module(input)
            i += 1
        return input

    def _key(self, idx) -> str:
        idx = operator.index(idx)
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of "
                             f"length {n}")
        return list(self._modules)[idx % n]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx) -> None:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[list(self._modules).index(self._key(idx))]
        # Keep the keys numbered 0..n-1, as PyTorch does.
        _reset_modules(self, [(str(i), m) for i, (_, m) in enumerate(items)])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"module should be of type Module, got {type(module).__name__}")
        mods = list(self._modules.values())
        n = len(mods)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range")
        mods.insert(index % (n + 1) if index < 0 else index, module)
        _reset_modules(self, [(str(i), m) for i, m in enumerate(mods)])
        return self

    def pop(self, idx: int) -> Module:
        m = self[idx]
        del self[idx]
        return m

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise TypeError(f"add operator supports only Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        return self.extend(other)


class ModuleList(Module):
    """A list of modules whose parameters the parent sees (a plain list would hide them).

    >>> from nabla import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, idx) -> str:
        idx = operator.index(idx)
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of "
                             f"length {n}")
        return str(idx % n)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[int(self._key(idx))]
        _reset_modules(self, [(str(i), m) for i, m in enumerate(mods)])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, "
                            f"but got {type(modules).__name__}")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, module)
        _reset_modules(self, [(str(i), m) for i, m in enumerate(mods)])

    def pop(self, idx: int = -1) -> Module:
        m = self[idx]
        del self[idx]
        return m

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "ModuleList has no forward: iterate over it in your module's forward"
        )


class ModuleDict(Module):
    """A dict of modules whose parameters the parent sees.

    >>> from nabla import nn
    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "reg": nn.Linear(4, 1)})
    >>> list(heads.keys()), [n for n, _ in heads.named_parameters()][:2]
    (['cls', 'reg'], ['cls.weight', 'cls.bias'])
    """

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]
        self.__dict__.pop(key, None)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def clear(self) -> None:
        for k in list(self._modules):
            del self[k]

    def pop(self, key: str) -> Module:
        m = self[key]
        del self[key]
        return m

    def update(self, modules) -> None:
        items = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in items:
            self[key] = module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: index it in your module's forward")
