"""``Optimizer``: the base of every optimizer, with PyTorch's structure.

An optimizer keeps a list of ``param_groups`` (dicts holding ``"params"`` and the
hyperparameters of those parameters) and a per-parameter ``state`` dict. ``step()``
updates every parameter that has a gradient, in place on its storage (what ``p.data`` shares).

>>> import nabla
>>> from nabla.optim import SGD
>>> w = nabla.tensor([1.0, 2.0], requires_grad=True)
>>> opt = SGD([w], lr=0.5)
>>> (w * w).sum().backward()
>>> opt.step(); w
tensor([0., 0.], requires_grad=True)
>>> opt.zero_grad(); w.grad is None
True
"""

from __future__ import annotations

import copy
import weakref
from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter that has no default: every group must give it."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_STEP_DTYPE = np.float32  # PyTorch keeps state["step"] as a float32 scalar tensor


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs (as
    ``module.named_parameters()`` yields), or of dicts, each a parameter group with a
    ``"params"`` entry and any hyperparameters that override ``defaults``.

    >>> import nabla
    >>> from nabla.optim import SGD
    >>> a = nabla.zeros(2, requires_grad=True)
    >>> b = nabla.zeros(3, requires_grad=True)
    >>> opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 0.01]
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        # Scratch arrays shared by all parameters of one dtype, sized to the largest:
        # a step then allocates nothing once they exist (see docs/design.md, performance rules).
        self._scratch: dict = {}
        self._views: dict = {}  # (id(array), slot) -> (weak ref to array, its scratch view)
        self._check_group(defaults)  # the constructor's own arguments, before any group

        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                "or dicts, but got a Tensor: wrap it in a list, e.g. SGD([w], lr=0.1)"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR)
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with ``"params"``) with its own options.

        Useful when fine-tuning: unfreeze some layers and add them as training goes.

        >>> import nabla
        >>> from nabla.optim import SGD
        >>> opt = SGD([nabla.zeros(2, requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": nabla.zeros(3, requires_grad=True), "lr": 1.0})
        >>> len(opt.param_groups), opt.param_groups[1]["lr"], opt.param_groups[1]["momentum"]
        (2, 1.0, 0)
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        param_group = dict(param_group)  # never mutate the caller's dict
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR)
        else:
            params = list(params)

        names = []
        tensors = []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        if names and len(names) != len(tensors):
            raise ValueError(
                "all optimizer params should be with/without names. Some param names are missing"
            )
        if not tensors:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(tensors):
            _check_param(p, i)

        # Identity, not equality: Tensor.__eq__ is elementwise.
        seen = set()
        for i, p in enumerate(tensors):
            if id(p) in seen:
                raise ValueError(
                    f"parameter at position {i} appears twice in the same parameter group; "
                    "each tensor may be given to an optimizer only once"
                )
            seen.add(id(p))
        for gi, group in enumerate(self.param_groups):
            if any(id(p) in seen for p in group["params"]):
                raise ValueError(
                    f"some parameters appear in more than one parameter group "
                    f"(already in group {gi}); each tensor may be given only once"
                )
            if ("param_names" in group) != bool(names):
                raise ValueError(
                    "all optimizer param groups should be with/without names. cannot add "
                    f"param group {'with' if names else 'without'} names to the optimizer"
                )

        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        self._check_group(param_group)
        self.param_groups.append(param_group)

    def _check_group(self, group: dict) -> None:
        """Validate one group's hyperparameters (subclasses raise ValueError here)."""

    # ------------------------------------------------------------------- grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        ``set_to_none=True`` (the default) drops them: the next backward allocates.
        ``set_to_none=False`` zeroes the existing arrays in place, so backward keeps
        accumulating into the same persistent buffers.

        >>> import nabla
        >>> from nabla.optim import SGD
        >>> w = nabla.ones(2, requires_grad=True)
        >>> w.sum().backward()
        >>> buf = w.grad._data
        >>> SGD([w]).zero_grad(set_to_none=False)
        >>> w.grad._data is buf, w.grad.tolist()
        (True, [0.0, 0.0])
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad = False
                if g._data.flags.writeable:
                    g._data.fill(0)
                    g._vc[0] += 1
                else:
                    p.grad = Tensor._wrap(np.zeros_like(g._data))

    # The hyperparameters ``_update`` takes after ``(p, grad)``, read from each group
    # once per step (not once per parameter): the per-step Python cost is what small
    # models feel.
    _hyper: tuple = ()
    _flat_state = False  # see _cast_state

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss.

        The loop every optimizer shares: for each group, ``_updater(group)`` picks the
        per-parameter update, which gets the parameter, its array, its gradient's (checked
        against the parameter's shape) and a tuple of the group's ``_hyper`` values
        (one tuple, not unpacked into arguments: cheaper per call), and changes
        the parameter's array in place; the parameter's version is bumped after it.
        """
        loss = self._closure(closure)
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict) -> None:
        """``step`` for one group (a subclass may update a whole group another way)."""
        update = self._updater(group)
        hyper = self._get_hyper(group)
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g, d = grad._data, p._data
            if g.shape != d.shape:
                raise ValueError(
                    f"gradient of shape {g.shape} does not match its parameter of shape "
                    f"{d.shape}"
                )
            update(p, d, g, hyper)
            p._vc[0] += 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # itemgetter reads them in C: a tuple with no Python-level loop.
        keys = cls._hyper
        getter = itemgetter(*keys) if len(keys) > 1 else (lambda g: tuple(g[k] for k in keys))
        cls._get_hyper = staticmethod(getter)

    def _updater(self, group: dict):
        """The per-parameter update for ``group`` (a subclass may pick a fast path)."""
        return self._update

    def _update(self, p: Tensor, d: np.ndarray, grad: np.ndarray, hyper: tuple) -> None:
        """Update ``d`` (``p._data``) in place from ``grad``, given the group's ``_hyper``
        values in a tuple (subclasses implement it)."""
        raise NotImplementedError

    def _closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # -------------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        """The optimizer's state as a dict, in PyTorch's layout.

        ``{"state": {index: {name: Tensor}}, "param_groups": [{..., "params": [index]}]}``
        where parameters are numbered by their position across the groups. The state
        tensors are the optimizer's own (not copies), as in PyTorch.

        >>> import nabla
        >>> from nabla.optim import SGD
        >>> w = nabla.tensor([1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = nabla.tensor([2.0]); opt.step()
        >>> sd = opt.state_dict()
        >>> sd["state"], sd["param_groups"][0]["params"]
        ({0: {'momentum_buffer': tensor([2.])}}, [0])
        """
        index: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by ``state_dict()`` (from this or an identical optimizer).

        The groups must match in number and size. The state is copied (and cast to each
        parameter's dtype), so the source optimizer and this one never share buffers.

        >>> import nabla
        >>> from nabla.optim import SGD
        >>> w = nabla.tensor([1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = nabla.tensor([2.0]); opt.step()
        >>> w2 = nabla.tensor([1.0], requires_grad=True)
        >>> opt2 = SGD([w2], lr=0.5)
        >>> opt2.load_state_dict(opt.state_dict())
        >>> opt2.param_groups[0]["lr"], opt2.state[w2]["momentum_buffer"]
        (0.1, tensor([2.]))
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(
                "an optimizer state dict must be a dict with 'state' and 'param_groups' keys"
            )
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups: it has "
                f"{len(saved_groups)}, the optimizer has {len(groups)}"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group: group {i} has {len(s['params'])} parameters in the "
                    f"state dict and {len(g['params'])} in the optimizer"
                )
        id_map = {}
        for g, s in zip(groups, saved_groups):
            for saved_index, p in zip(s["params"], g["params"]):
                id_map[saved_index] = p

        # Validate everything before changing anything: a failed load corrupts nothing.
        new_state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k not in id_map:
                if isinstance(k, int):
                    raise ValueError(
                        f"loaded state dict has state for parameter {k}, but the optimizer's "
                        f"parameters are numbered {sorted(id_map)}"
                    )
                new_state[k] = copy.deepcopy(v)  # a non-parameter key: kept as is
                continue
            p = id_map[k]
            if not isinstance(v, dict):
                raise ValueError(f"state of parameter {k} must be a dict, got {type(v).__name__}")
            new_state[p] = {
                name: _cast_state(p, k, name, val, self._flat_state) for name, val in v.items()
            }

        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.param_groups[:] = saved_groups
        self.state = new_state

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _add_square(sq: np.ndarray, g: np.ndarray, scale: float, tmp: np.ndarray) -> None:
        """``sq += scale * g * g`` in PyTorch's addcmul order, ``(scale * g) * g``."""
        np.multiply(g, scale, out=tmp)
        np.multiply(tmp, g, out=tmp)
        np.add(sq, tmp, out=sq)

    def _buf(self, like: np.ndarray, slot: int) -> np.ndarray:
        """A scratch array shaped like ``like``, reused across steps and parameters.

        The view made for an array is kept (with a weak reference that proves it is
        still that array): making it again costs 0.4 us, finding it 0.1 us, and a step
        asks for one or two per parameter.
        """
        key = (id(like), slot)
        kept = self._views.get(key)
        if kept is not None and kept[0]() is like:
            return kept[1]
        dkey = (like.dtype, slot)
        flat = self._scratch.get(dkey)
        n = like.size
        if flat is None or flat.size < n:
            flat = self._scratch[dkey] = np.empty(n, like.dtype)
        view = flat[:n].reshape(like.shape)
        if len(self._views) > 4096:  # arrays replaced step after step: start afresh
            self._views.clear()
        self._views[key] = (weakref.ref(like), view)
        return view

    def _state_for(self, p: Tensor, names=(), scalars=()) -> tuple[dict, float]:
        """``p``'s state, made on its first step with ``step``, then a float32 0-d tensor
        for each ``(name, value)`` of ``scalars``, then a zero array for each of
        ``names`` (PyTorch's key order), and the number of this step (counted up first,
        as PyTorch counts)."""
        state = self.state[p]
        if "step" not in state:
            state["step"] = Tensor._wrap(np.zeros((), _STEP_DTYPE))
            for name, value in scalars:
                state[name] = Tensor._wrap(np.array(value, _STEP_DTYPE))
            for name in names:
                state[name] = Tensor._wrap(np.zeros_like(p._data))
        step_t = state["step"]._data
        np.add(step_t, 1, out=step_t)
        return state, float(step_t)

    def _add_quotient(self, d: np.ndarray, num: np.ndarray, scale: float,
                      denom: np.ndarray) -> None:
        """``d += scale * num / denom`` in PyTorch's addcdiv order, ``(scale * num) /
        denom``, through scratch slot 0 (free by then even if it held the gradient)."""
        u = self._buf(d, 0)
        np.multiply(num, scale, out=u)
        np.divide(u, denom, out=u)
        np.add(d, u, out=d)

    def _grad(self, p: Tensor, grad: np.ndarray, weight_decay: float,
              maximize: bool) -> np.ndarray:
        """The gradient with maximize and (L2) weight decay applied, as PyTorch orders it.

        Returns ``grad`` itself when nothing applies: the gradient is never modified,
        so the caller must not write into the result unless it is scratch.
        """
        if weight_decay != 0:
            g = self._buf(p._data, 0)
            np.multiply(p._data, weight_decay, out=g)
            # (-grad) + wd * p == wd * p - grad exactly: negation does not round.
            if maximize:
                np.subtract(g, grad, out=g)
            else:
                np.add(g, grad, out=g)
            return g
        if maximize:
            g = self._buf(p._data, 0)
            np.negative(grad, out=g)
            return g
        return grad

    def _decayed_grad(self, p: Tensor, grad: np.ndarray, lr: float, weight_decay: float,
                      maximize: bool, decoupled: bool) -> np.ndarray:
        """``_grad`` with the decay either L2 (into the gradient) or decoupled (AdamW's
        ``p *= 1 - lr * weight_decay``, applied to the parameter first)."""
        if not decoupled:
            return self._grad(p, grad, weight_decay, maximize)
        if weight_decay != 0:
            np.multiply(p._data, 1 - lr * weight_decay, out=p._data)
        return self._grad(p, grad, 0, maximize)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


_SET_ERROR = (
    "optimizer parameters need to be organized in ordered collections, but the ordering "
    "of tensors in sets will change between runs. Please use a list instead."
)


def _check_param(p, i: int) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(
            f"optimizer can only optimize Tensors, but parameter {i} is {type(p).__name__}"
        )
    if not (p.is_leaf or p.retains_grad):
        raise ValueError(
            f"can't optimize a non-leaf Tensor (parameter {i} was computed by "
            f"{type(p.grad_fn).__name__}); optimize the leaf it came from, or detach() it"
        )
    if p._data.dtype.kind != "f":
        raise TypeError(
            f"optimizer can only optimize floating-point tensors, but parameter {i} has "
            f"dtype {p.dtype}"
        )


def _as_array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value._data
    return np.asarray(value)


def _cast_state(p: Tensor, index, name, value, flat: bool = False):
    """A private copy of one saved state value, cast like PyTorch casts it.

    ``flat``: the state holds vectors over all parameters (LBFGS), not arrays shaped
    like ``p``, so only their dtype follows ``p``."""
    if name == "step":
        # PyTorch keeps the step counter's own dtype (it is not cast to the param's).
        arr = _as_array(value)
        if arr.shape != ():
            raise ValueError(f"state 'step' of parameter {index} must be a scalar")
        if arr.dtype.kind != "f":
            arr = arr.astype(_STEP_DTYPE)
        return Tensor._wrap(np.array(arr, copy=True))
    if isinstance(value, (Tensor, np.ndarray)):
        arr = _as_array(value)
        if arr.ndim and arr.shape != p._data.shape and not flat:
            raise ValueError(
                f"state '{name}' of parameter {index} has shape {arr.shape}, but the "
                f"parameter has shape {p._data.shape}"
            )
        dtype = p._data.dtype if arr.dtype.kind == "f" else arr.dtype
        return Tensor._wrap(np.array(arr, dtype=dtype, copy=True, order="K"))
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict)):
        return type(value)(_cast_state(p, index, None, v, flat) for v in value)
    return copy.deepcopy(value)


def _options(args: dict) -> dict:
    """An optimizer constructor's arguments (its ``locals()``) as its ``defaults``:
    every keyword but ``params``, pairs such as ``betas`` made tuples."""
    return {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in args.items()
        if k not in ("self", "params", "__class__")
    }


_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonneg(group: dict, *names: str) -> None:
    """Raise PyTorch's ``Invalid ...`` ValueError for the first of ``names`` that is
    negative (or NaN) in ``group``."""
    for name in names:
        value = group[name]
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {value}")


def _check_betas(betas) -> None:
    """PyTorch's checks of a ``(beta1, beta2)`` pair: each in ``[0, 1)``."""
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def _check_adam_group(group: dict, *more: str) -> None:
    """The checks Adam and its variants share, in PyTorch's order (then ``more``)."""
    _check_nonneg(group, "lr", "eps")
    _check_betas(group["betas"])
    _check_nonneg(group, "weight_decay", *more)


def _adam_moments(state: dict, g: np.ndarray, beta1: float, beta2: float,
                  tmp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adam's two running moments, updated in place and returned: ``exp_avg =
    lerp(exp_avg, g, 1 - beta1)`` and ``exp_avg_sq = beta2 exp_avg_sq + (1 - beta2) g g``.
    ``tmp`` is scratch shaped like ``g``."""
    exp_avg = state["exp_avg"]._data
    exp_avg_sq = state["exp_avg_sq"]._data
    _update_moments(exp_avg, exp_avg_sq, g, beta1, beta2, tmp)
    return exp_avg, exp_avg_sq


def _update_moments(exp_avg: np.ndarray, exp_avg_sq: np.ndarray, g: np.ndarray,
                    beta1: float, beta2: float, tmp: np.ndarray) -> None:
    """``_adam_moments`` on the arrays themselves (Adam's flat path passes whole vectors)."""
    _lerp_(exp_avg, g, 1 - beta1, tmp)
    np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    Optimizer._add_square(exp_avg_sq, g, 1 - beta2, tmp)


def _state_buf(state: dict, name: str, like: np.ndarray) -> np.ndarray:
    """``state[name]``'s array, created as zeros when an option was switched on later."""
    t = state.get(name)
    if t is None:
        t = state[name] = Tensor._wrap(np.zeros_like(like))
    return t._data


def _lerp_(a: np.ndarray, b: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """``a = lerp(a, b, w)`` in place, with PyTorch's two-branch formula.

    For small weights ``a + w (b - a)``, otherwise ``b - (b - a)(1 - w)``: each branch
    keeps the rounding error small at its end of the interval, and matching it keeps
    results identical to PyTorch's.
    """
    np.subtract(b, a, out=tmp)
    if abs(w) < 0.5:
        np.multiply(tmp, w, out=tmp)
        np.add(a, tmp, out=a)
    else:
        np.multiply(tmp, 1 - w, out=tmp)
        np.subtract(b, tmp, out=a)
