"""Module hooks with PyTorch's semantics: forward (pre-)hooks, full backward (pre-)hooks,
the global ``register_module_*`` family, and their removable handles.

A module keeps no hook state until a hook is registered on it, and ``Module.__call__``
reads one number (``_live[0]``, the count of hooks registered anywhere and not yet
removed) before calling ``forward``: a program without hooks pays one list read per
call. Once a hook exists anywhere, every call goes through :func:`call`, which looks
at the module's own dicts and the global ones.

Full backward hooks need no help from the engine: the module's tensor inputs and its
outputs are passed through identity nodes whose backward calls the hooks (the output
node sees ``grad_output`` first, the input node then sees ``grad_input``).

>>> import nabla
>>> from nabla import nn
>>> seen = []
>>> relu = nn.ReLU()
>>> with relu.register_forward_hook(lambda m, args, out: seen.append(out.shape)):
...     _ = relu(nabla.ones(2, 3))
>>> seen, relu(nabla.ones(1)).shape, seen
([(2, 3)], (1,), [(2, 3)])
"""

from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from types import MappingProxyType

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor

__all__ = [
    "RemovableHandle",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "register_module_full_backward_pre_hook",
    "register_module_full_backward_hook",
]

# Hooks registered anywhere and not removed; Module.__call__ and Sequential read it.
_live = [0]
_next_id = [0]

_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_forward_hooks_with_kwargs: OrderedDict = OrderedDict()
_global_forward_hooks_always_called: OrderedDict = OrderedDict()
_global_backward_pre_hooks: OrderedDict = OrderedDict()
_global_backward_hooks: OrderedDict = OrderedDict()

_EMPTY = MappingProxyType({})
_LOCAL = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
          "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
          "_backward_pre_hooks", "_backward_hooks")


class _Count:
    """How many hooks one module holds; gives them back to ``_live`` when the module
    (and with it this object) goes, so a forgotten model does not keep the slow path on."""

    __slots__ = ("n",)

    def __init__(self, n=0):
        self.n = n

    def __del__(self):
        _live[0] -= self.n

    def __deepcopy__(self, memo):
        # A deep-copied module has copies of the hook dicts: count them too.
        _live[0] += self.n
        return _Count(self.n)


class RemovableHandle:
    """What ``register_*_hook`` returns: ``remove()`` takes the hook away; also a
    context manager that removes it on exit. ``id`` is unique across all hooks.

    >>> from nabla import nn
    >>> m = nn.Identity()
    >>> h = m.register_forward_pre_hook(lambda mod, args: None)
    >>> len(m._forward_pre_hooks); h.remove(); len(m._forward_pre_hooks)
    1
    0
    """

    def __init__(self, hooks_dict, *, extra_dict=None, count=None):
        self.id = _next_id[0]
        _next_id[0] += 1
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        extra = () if extra_dict is None else (
            extra_dict if isinstance(extra_dict, (list, tuple)) else (extra_dict,))
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)
        self._count = count

    def remove(self) -> None:
        hooks = self.hooks_dict_ref()
        if hooks is not None and self.id in hooks:
            del hooks[self.id]
            _live[0] -= 1
            if self._count is not None:
                self._count.n -= 1
        for ref in self.extra_dict_ref:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _local(module) -> dict:
    """The module's hook dicts, made on first use (modules start without them)."""
    d = module.__dict__
    if "_hook_count" not in d:
        for name in _LOCAL:
            d[name] = OrderedDict()
        d["_hook_count"] = _Count()
    return d


def _add(hooks, hook, *, count=None, extra=(), prepend=False):
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, extra_dict=list(extra), count=count)
    hooks[handle.id] = hook
    for d in extra:
        d[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    _live[0] += 1
    if count is not None:
        count.n += 1
    return handle


def register_forward_pre_hook(module, hook, *, prepend=False, with_kwargs=False):
    d = _local(module)
    extra = (d["_forward_pre_hooks_with_kwargs"],) if with_kwargs else ()
    return _add(d["_forward_pre_hooks"], hook, count=d["_hook_count"], extra=extra,
                prepend=prepend)


def register_forward_hook(module, hook, *, prepend=False, with_kwargs=False,
                          always_call=False):
    d = _local(module)
    extra = ((d["_forward_hooks_with_kwargs"],) if with_kwargs else ()) + (
        (d["_forward_hooks_always_called"],) if always_call else ())
    return _add(d["_forward_hooks"], hook, count=d["_hook_count"], extra=extra,
                prepend=prepend)


def register_full_backward_pre_hook(module, hook, *, prepend=False):
    d = _local(module)
    return _add(d["_backward_pre_hooks"], hook, count=d["_hook_count"], prepend=prepend)


def register_full_backward_hook(module, hook, *, prepend=False):
    d = _local(module)
    return _add(d["_backward_hooks"], hook, count=d["_hook_count"], prepend=prepend)


def register_module_forward_pre_hook(hook) -> RemovableHandle:
    """A forward pre-hook on every module: ``hook(module, args)``, before its own ones.

    >>> import nabla
    >>> from nabla import nn
    >>> names = []
    >>> with register_module_forward_pre_hook(lambda m, a: names.append(type(m).__name__)):
    ...     _ = nn.Sequential(nn.Linear(2, 2), nn.ReLU())(nabla.ones(1, 2))
    >>> names
    ['Sequential', 'Linear', 'ReLU']
    """
    return _add(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """A forward hook on every module: ``hook(module, args, output)`` (``with_kwargs``:
    ``hook(module, args, kwargs, output)``), before the module's own ones.

    >>> import nabla
    >>> from nabla import nn
    >>> h = register_module_forward_hook(lambda m, a, out: out * 2)
    >>> nn.Identity()(nabla.ones(1)); h.remove()
    tensor([2.])
    """
    extra = ((_global_forward_hooks_with_kwargs,) if with_kwargs else ()) + (
        (_global_forward_hooks_always_called,) if always_call else ())
    return _add(_global_forward_hooks, hook, extra=extra)


def register_module_full_backward_pre_hook(hook) -> RemovableHandle:
    """``hook(module, grad_output)`` for every module, before the modules' own ones."""
    return _add(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` for every module, before their own."""
    return _add(_global_backward_hooks, hook)


def hooked(module) -> bool:
    """Whether a hook (the module's own or a global one) would see ``module`` run."""
    if (_global_forward_pre_hooks or _global_forward_hooks or _global_backward_hooks
            or _global_backward_pre_hooks):
        return True
    c = module.__dict__.get("_hook_count")
    return c is not None and c.n > 0


def any_global() -> bool:
    return bool(_global_forward_pre_hooks or _global_forward_hooks
                or _global_backward_hooks or _global_backward_pre_hooks)


# --------------------------------------------------------------------- backward
def _as_array(g, what):
    if g is None or not isinstance(g, Tensor):
        if g is not None:
            raise TypeError(f"{what} must return Tensors or None, got {type(g).__name__}")
        return None
    return g._data


def _wrap_all(arrays):
    return tuple(None if a is None else Tensor._wrap(a) for a in arrays)


class _HookIdentity(Function):
    """Passes its tensors through; its backward hands the gradients to ``ctx.on_grad``."""

    materialize_grads = False

    @staticmethod
    def forward(ctx, *arrays):
        return arrays if len(arrays) > 1 else arrays[0]

    @staticmethod
    def backward(ctx, *grads):
        out = ctx.on_grad(grads)
        return out if len(out) > 1 else out[0]

    def name(self) -> str:
        return "BackwardHookFunctionBackward"


class _BackwardHook:
    """The state of one call of a module with full backward (pre-)hooks."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_index = None
        self.n_outputs = 0
        self.output_index = None

    @staticmethod
    def _pack(index, values, n):
        out = [None] * n
        for i, v in zip(index, values):
            out[i] = v
        return tuple(out)

    @staticmethod
    def _through(values, on_grad):
        """Route the tensors that need a gradient in ``values`` through one identity node."""
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not index or not is_grad_enabled():
            return values, None
        res = _HookIdentity.apply(*[values[i] for i in index])
        fn_outputs = res if isinstance(res, tuple) else (res,)
        fn_outputs[0].grad_fn.on_grad = on_grad
        new = list(values)
        for i, t in zip(index, fn_outputs):
            new[i] = t
        return tuple(new), index

    def setup_input(self, args):
        self.n_inputs = len(args)
        new, self.input_index = self._through(args, self._input_grads)
        return new

    def _input_grads(self, grads):
        grad_input = self._pack(self.input_index, _wrap_all(grads), self.n_inputs)
        for hook in self.hooks:
            res = hook(self.module, grad_input, self.grad_outputs)
            if res is None:
                continue
            if not isinstance(res, tuple):
                res = (res,)
            if len(res) != len(grad_input):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(res)}, but expected {len(grad_input)}")
            grad_input = res
        self.grad_outputs = None  # PyTorch drops them here too: they are not kept alive
        return tuple(_as_array(grad_input[i], "a full backward hook")
                     for i in self.input_index)

    def setup_output(self, result):
        single = isinstance(result, Tensor)
        values = (result,) if single else result
        if not isinstance(values, tuple):
            warnings.warn("For backward hooks to be called, module output should be a Tensor "
                          f"or a tuple of Tensors but received {type(result)}", stacklevel=3)
            return result
        self.n_outputs = len(values)
        new, self.output_index = self._through(values, self._output_grads)
        return new[0] if single else new

    def _output_grads(self, grads):
        self.grad_outputs = self._pack(self.output_index, _wrap_all(grads), self.n_outputs)
        for hook in self.pre_hooks:
            res = hook(self.module, self.grad_outputs)
            if res is None:
                continue
            if not isinstance(res, tuple):
                res = (res,)
            if len(res) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(res)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = res
        if self.input_index is None:
            # No input needs a gradient: the input node never runs, so call the hooks now.
            grad_input = (None,) * self.n_inputs
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients: "
                              "grad_input is all None.", stacklevel=2)
            for hook in self.hooks:
                res = hook(self.module, grad_input, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple)
                                            and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
            return grads  # as PyTorch: unchanged (its hook returns None here)
        return tuple(_as_array(self.grad_outputs[i], "a full backward pre-hook")
                     for i in self.output_index)


# ------------------------------------------------------------------------- call
def call(module, args, kwargs):
    """``module(*args, **kwargs)`` with every hook that applies (``Module.__call__``'s
    path once any hook exists)."""
    d = module.__dict__
    local = d.get("_hook_count") is not None and d["_hook_count"].n > 0
    if not local and not any_global():
        return module.forward(*args, **kwargs)
    empty = {}
    fpre = d["_forward_pre_hooks"] if local else empty
    fpre_kw = d["_forward_pre_hooks_with_kwargs"] if local else empty
    fwd = d["_forward_hooks"] if local else empty
    fwd_kw = d["_forward_hooks_with_kwargs"] if local else empty
    fwd_always = d["_forward_hooks_always_called"] if local else empty
    bw = [*_global_backward_hooks.values(), *(d["_backward_hooks"] if local else empty).values()]
    bw_pre = [*_global_backward_pre_hooks.values(),
              *(d["_backward_pre_hooks"] if local else empty).values()]
    result = None
    called = set()
    try:
        for hook_id, hook in (*_global_forward_pre_hooks.items(), *fpre.items()):
            if hook_id in fpre_kw:
                res = hook(module, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {res}.")
                    args, kwargs = res
            else:
                res = hook(module, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        state = None
        if bw or bw_pre:
            state = _BackwardHook(module, bw, bw_pre)
            args = state.setup_input(args)
        result = module.forward(*args, **kwargs)
        for hook_id, hook in (*_global_forward_hooks.items(), *fwd.items()):
            if hook_id in fwd_always or hook_id in _global_forward_hooks_always_called:
                called.add(hook_id)
            if hook_id in fwd_kw or hook_id in _global_forward_hooks_with_kwargs:
                res = hook(module, args, kwargs, result)
            else:
                res = hook(module, args, result)
            if res is not None:
                result = res
        if state is not None:
            result = state.setup_output(result)
        return result
    except Exception:
        # always_call hooks still run (once) when forward or another hook failed.
        for hook_id, hook in (*_global_forward_hooks.items(), *fwd.items()):
            if hook_id in called or not (hook_id in fwd_always
                                         or hook_id in _global_forward_hooks_always_called):
                continue
            try:
                if hook_id in fwd_kw or hook_id in _global_forward_hooks_with_kwargs:
                    res = hook(module, args, kwargs, result)
                else:
                    res = hook(module, args, result)
                if res is not None:
                    result = res
            except Exception as e:
                warnings.warn("module forward hook with always_call=True raised an exception "
                              f"that was silenced as another error was raised in forward: "
                              f"{e}", stacklevel=2)
        raise


def sequential_forward(seq, input, mods):
    """``Sequential.forward`` once hooks exist: a run is fused only where no hook could
    tell (no global hook; the fused layers carry none)."""
    if any_global():
        for m in mods:
            input = m(input)
        return input
    i, n = 0, len(mods)
    while i < n:
        module = mods[i]
        fuse = type(module).__dict__.get("_fuse")
        if fuse is not None and "forward" not in module.__dict__ and not hooked(module):
            j = i + 1
            while j < n and not hooked(mods[j]):
                j += 1
            if j > i + 1:
                done = fuse(module, input, mods[i + 1:j])
                if done is not None:
                    input, used = done
                    i += used
                    continue
        input = module(input)
        i += 1
    return input
