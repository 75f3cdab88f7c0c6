"""In-place ops under autograd, recorded as PyTorch records them.

An in-place op on a tensor in a graph (or with an operand that requires grad) is
computed out of place from an alias of the tensor's old self, its values are written
into the tensor's storage, and the tensor's history is rebased onto the new node: the
tensor object gets the new ``grad_fn``. The version counter then catches a backward
through a value that was saved before it was overwritten. On a view made by basic
indexing, the view's base is rebased (as by ``base[index] = new_values``), and the
view's history becomes a fresh index of the new base.

>>> import nabla
>>> x = nabla.tensor([1.0, 2.0], requires_grad=True)
>>> h = x * 2
>>> h += 1
>>> h[0] *= 3
>>> h.sum().backward()
>>> h.tolist(), x.grad.tolist()
([9.0, 5.0], [6.0, 2.0])
"""

from __future__ import annotations

import weakref

import numpy as np

from . import autograd as _autograd
from .autograd import Function
from .ops import movement as _mv
from .shapes import ShapeError

_LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
_VIEW_OF_LEAF = "a view of " + _LEAF


class SetItem(Function):
    """``a[index] = v`` written into ``a``'s own storage (the tensor being assigned to):
    its backward needs no values, so nothing is saved and nothing is copied."""

    @staticmethod
    def forward(ctx, a, v, index):
        ctx.index = index
        a[index] = v
        return a

    @staticmethod
    def backward(ctx, g):
        na, nv = ctx.needs_input_grad
        ga = gv = None
        if na:
            ga = g.copy()
            ga[ctx.index] = 0  # the old values there were overwritten
        if nv:
            gv = g[ctx.index]  # the engine sums it down to the value's shape
        return ga, gv


class SetItemCopy(Function):
    """``a[index] = v`` into a copy of ``a``: used for a view, whose new values then go
    into its base's storage."""

    @staticmethod
    def forward(ctx, a, v, index):
        ctx.index = index
        out = a.copy()
        out[index] = v
        return out

    backward = staticmethod(SetItem.backward)


class Overwrite(Function):
    """``copy_``/``fill_``: the new values are ``src`` (cast and broadcast); the old ones
    get a zero gradient, as in PyTorch."""

    @staticmethod
    def forward(ctx, old, src):
        ctx.shape, ctx.dtype = old.shape, old.dtype
        out = np.empty(old.shape, old.dtype)
        np.copyto(out, src, casting="unsafe")
        return out

    @staticmethod
    def backward(ctx, g):
        na, ns = ctx.needs_input_grad
        return (np.zeros(ctx.shape, ctx.dtype) if na else None), (g if ns else None)


def needs_record(t, operands) -> bool:
    """True when an in-place op on ``t`` with ``operands`` must be recorded."""
    if not _autograd._grad_enabled[0]:
        return False
    if t.requires_grad:
        return True
    for o in operands:
        if isinstance(o, _autograd.Tensor) and o.requires_grad:
            return True
    return False


def check_writable(t):
    if not t._data.flags.writeable:
        # expand() gives a read-only view: one element stands for many
        raise RuntimeError(
            f"in-place operation on a read-only tensor of shape {tuple(t.shape)} (an "
            "expand()ed view or a read-only array): clone() it first"
        ) from None  # also called while NumPy's own refusal is being handled


def _alias(t):
    """A second tensor object for ``t``'s current values and place in the graph: the
    input of the node that replaces it."""
    a = _autograd.Tensor._wrap(t._data, t.requires_grad, t.grad_fn, t._output_nr)
    a._vc = t._vc
    return a


def _view_base(t):
    """``(base, raw index, index)`` when ``t`` is a basic-index view still sharing its
    base's storage, else None."""
    b = getattr(t, "_base", None)
    if b is not None and b[0]._vc is t._vc and np.may_share_memory(b[0]._data, t._data):
        return b
    return None


def _no_view_history(t):
    fn = t.grad_fn
    if fn is not None and type(fn).is_view:
        raise RuntimeError(
            f"in-place operation on a view made by {type(fn).__name__.lower()}() of a tensor "
            "that requires grad: nabla records in-place ops on views made by indexing "
            "(t[i], t[:, 0]) only; change the base tensor, or clone() the view first"
        )


def record(t, compute, operands=()):
    """Run ``compute(old)`` (an out-of-place, recorded version of the op) and make its
    result ``t``'s new values and history. Returns ``t``."""
    base = _view_base(t)
    if base is None:
        if t.requires_grad and t.grad_fn is None:
            raise RuntimeError(_LEAF)
        _no_view_history(t)
    check_writable(t)
    arr = t._data
    before = t.grad_fn
    out = compute(_alias(t))
    if out._data.shape != arr.shape:
        raise ShapeError(
            f"in-place op: the result's shape {tuple(out._data.shape)} differs from the "
            f"tensor's shape {tuple(arr.shape)} (an operand cannot broadcast it)"
        )
    if not np.can_cast(out._data.dtype, arr.dtype, "same_kind"):
        raise TypeError(
            f"in-place result of dtype {out._data.dtype} cannot be stored in a tensor of "
            f"dtype {arr.dtype}"
        )
    node = out.grad_fn
    if node is not None:
        saved = node.saved_tensors
        if saved and any(s is arr for s in saved):
            # The op kept the old values for its backward, and they are about to be
            # overwritten: it keeps its own copy (PyTorch saves the original self too).
            keep = arr.copy()
            node.saved_tensors = tuple(keep if s is arr else s for s in saved)
            node._checks = tuple(c for c in node._checks if c[2] is not arr)
    if base is not None:
        setitem(base[0], base[2], out, _VIEW_OF_LEAF)
        if t.grad_fn is before:  # else refreshed already, as a view of the base
            _refresh(t, base[0], base[2])
        return t
    np.copyto(arr, out._data, casting="same_kind")
    vc = t._vc
    vc[0] += 1
    if node is None:  # nothing needed a gradient after all
        return t
    ov = out._vc
    if node._checks:
        # The node's saved output now stands for t's storage: a later in-place change of
        # t must fail its backward, as in PyTorch.
        node._checks = tuple((vc, vc[0], a) if v is ov else (v, n, a) for v, n, a in node._checks)
    _rebase(t, node, out._output_nr)
    return t


def setitem(t, index, value, leaf_message=_VIEW_OF_LEAF):
    """``t[index] = value`` recorded: ``t`` gets a SetItem node (or, for a view, its base
    is rebased through ``record``)."""
    Tensor = _autograd.Tensor
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=t._data.dtype))
    base = _view_base(t)
    if base is not None:
        return record(t, lambda old: SetItemCopy.apply(old, value, index))
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError(leaf_message)
    _no_view_history(t)
    check_writable(t)
    try:
        out = SetItem.apply(_alias(t), value, index)
    except ValueError as e:
        raise ShapeError(f"cannot assign a value of shape {tuple(value.shape)}: {e}") from None
    t._vc[0] += 1
    if out.grad_fn is not None:
        _rebase(t, out.grad_fn, 0)
    return t


def _rebase(t, node, output_nr):
    """Make ``node`` ``t``'s history; nodes recorded before keep seeing the old one."""
    if node is None:
        return
    old = t.grad_fn
    node._prior = (old, t._output_nr)
    t.grad_fn, t._output_nr, t.requires_grad = node, output_nr, True
    views = old.__dict__.get("_views") if old is not None else None
    if views:
        # Views taken before (and still alive) now show the new values: as in PyTorch,
        # their history becomes a fresh index of the new base.
        for ref in views:
            v = ref()
            if v is not None and v._base[0] is t and v._vc is t._vc:
                _refresh(v, t, v._base[2])


def _refresh(v, base, index):
    nv = _mv.GetItem.apply(base, index, True)
    _rebase(v, nv.grad_fn, 0)
    track_view(base.grad_fn, v)


def track_view(node, view):
    """Note ``view`` (a basic index of the output of ``node``) so that an in-place op on
    its base can refresh its history (``_rebase``)."""
    d = node.__dict__
    views = d.get("_views")
    if views is None:
        views = d["_views"] = []
    views.append(weakref.ref(view))
