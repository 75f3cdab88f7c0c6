"""Reverse-mode automatic differentiation over backend arrays.

A primitive op is a ``Function`` subclass whose ``forward(ctx, *arrays)`` and
``backward(ctx, grad)`` stand side by side and work on arrays, never on Tensors.
Calling ``MyOp.apply(*tensors)`` runs ``forward`` and, when some input needs a
gradient, records the call as a node of the backward graph. ``backward`` walks that
graph in topological order computed without recursion, so a 100,000-node chain is fine.

>>> import nabla
>>> x = nabla.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from __future__ import annotations

import itertools
import math
import sys
import weakref
from heapq import heappop, heappush

import numpy as np

from . import refcounts
from .backend import _allocator_tuned, tune_allocator
from .graph_memory import FREE_FROM, free_consumed
from .row_picks import COMPACT

_grad_enabled = [True]
Tensor = None  # nabla.tensor.Tensor, set when that module loads (it imports this one)
_getrefcount = sys.getrefcount
_new = object.__new__
_ndarray = np.ndarray
_NO_EDGE = (None, 0)
_ABSENT = object()  # pending.get's default: a node not reached yet
# Every recorded node takes the next number: a node's inputs were all made before it, so
# running nodes from the highest number down is a topological order (see run_backward).
_next_seq = itertools.count().__next__


def is_grad_enabled() -> bool:
    return _grad_enabled[0]


class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager and a decorator."""

    _mode = True

    def __enter__(self):
        self._prev = _grad_enabled[0]
        _grad_enabled[0] = self._mode

    def __exit__(self, *exc):
        _grad_enabled[0] = self._prev
        return False

    def __call__(self, fn):
        import functools

        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _grad_enabled[0]
            _grad_enabled[0] = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_enabled[0] = prev

        return wrapper


class _BareDecorator(_GradMode):
    """``@no_grad`` without parentheses decorates too, as in PyTorch."""

    def __new__(cls, fn=None):
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)


class no_grad(_BareDecorator):
    """Turn graph recording off (inference, optimizer updates); also a decorator,
    with or without parentheses.

    >>> import nabla
    >>> w = nabla.ones(2, requires_grad=True)
    >>> with nabla.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    >>> @nabla.no_grad
    ... def predict(x):
    ...     return w * x
    >>> predict(3.0).requires_grad
    False
    """

    _mode = False


class enable_grad(_BareDecorator):
    """Turn graph recording back on inside a ``no_grad`` block."""

    _mode = True


_inference = [False]


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode``: here the same as ``no_grad`` (nabla keeps no extra
    per-tensor state to skip); ``inference_mode(False)`` turns recording on. A context
    manager and a decorator, with or without parentheses.

    >>> import nabla
    >>> with nabla.inference_mode():
    ...     y = nabla.ones(2, requires_grad=True) * 2
    >>> y.requires_grad, nabla.is_inference_mode_enabled()
    (False, False)
    """

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self._inference_mode = bool(mode)
        self._mode = not mode

    def __enter__(self):
        self._prev_inference = _inference[0]
        _inference[0] = self._inference_mode
        super().__enter__()

    def __exit__(self, *exc):
        _inference[0] = self._prev_inference
        return super().__exit__(*exc)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(self._inference_mode):
                return fn(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    return _inference[0]


class set_grad_enabled(_GradMode):
    """Set graph recording on or off: ``with set_grad_enabled(False): ...``."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = _grad_enabled[0]
        _grad_enabled[0] = self._mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        # Used as a decorator, the call in __init__ must not change the mode for good.
        _grad_enabled[0] = self._prev
        return super().__call__(fn)


_ONES = {}
# The dtypes BLAS computes in, and the compiled kernels: float32 and float64.
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def ones_vector(n, dtype):
    """A read-only vector of ``n`` ones, kept: a sum over rows is ``ones @ g``, one BLAS
    product, where NumPy reduces along a short axis row by row."""
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 64:  # many distinct batch sizes: start over rather than grow
            _ONES.clear()
        v = _ONES[key] = np.ones(n, dtype)
        v.flags.writeable = False
    return v


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the one place broadcasting is undone.

    >>> unbroadcast(np.ones((4, 2, 3)), (2, 1)).tolist()
    [[12.0], [12.0]]
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if (extra and grad.shape[extra:] == shape and grad.dtype in _BLAS_FLOATS
            and grad.flags.c_contiguous and grad.size):
        # Only leading axes go (a bias added to a batch): the rows summed as one BLAS
        # product with ones, 2.1 -> 0.6 us for 32 x 200 (the sums in BLAS's order).
        rows = grad.reshape(-1, math.prod(shape))
        return ones_vector(len(rows), grad.dtype).dot(rows).reshape(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Function:
    """A primitive op with its gradient, and (once applied) a node of the graph.

    Subclasses define static ``forward(ctx, *arrays, **params)`` returning an array
    (or a tuple of arrays for several outputs) and ``backward(ctx, *grads)`` returning
    one gradient per array input (None where ``ctx.needs_input_grad`` is False).

    >>> class Cube(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * grad
    >>> import nabla
    >>> x = nabla.tensor(2.0, requires_grad=True)
    >>> Cube.apply(x).backward(); x.grad
    tensor(12.)
    """

    # Hot attributes live in slots; the rest default at class level, so that recording
    # a node stores only what differs (every store costs on every op of every step).
    # _prior (unset but on nodes made by in-place ops): the (grad_fn, output_nr) that the
    # node's output tensor had before it was rebased onto this node (see _history).
    __slots__ = ("inputs", "needs_input_grad", "_seq", "_prior", "__dict__")
    differentiable_outputs = None  # None: all outputs; else a tuple of output indices
    # False: an output that got no gradient reaches backward as None instead of zeros
    # (PyTorch's ctx.set_materialize_grads(False)); for ops that can skip the work.
    materialize_grads = True
    saved_tensors = ()
    _checks = ()  # (version counter, version when saved, array) of each saved input/output
    _n_outputs = 1
    _retained = None  # {output index: tensor} for retain_grad()
    _hooks = None  # {output index: {handle id: hook}} for Tensor.register_hook on outputs
    _freed = False

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *arrays):  # pragma: no cover - PyTorch parity
        pass

    @classmethod
    def apply(cls, *args, **params):
        """Run the op on tensors: ``Op.apply(t1, t2, *constants, **constants)``.

        The leading Tensor arguments are the inputs; whatever follows (axes, shapes,
        flags) is passed to ``forward`` after the arrays, untouched.
        """
        # Every op of every step comes through here, so this is written for speed: no
        # helper calls, no temporary lists for the usual one or two inputs, results
        # built in place. Measured on 8x8 float32 (bench_ops.py): 2.1 -> 1.2 us per
        # recorded add, 1.7 -> 1.1 us per unrecorded one.
        n = 0
        for a in args:
            if not isinstance(a, Tensor):
                break
            n += 1
        if n == len(args):
            inputs = args
            if n == 1:
                arrays = (args[0]._data,)
            elif n == 2:
                arrays = (args[0]._data, args[1]._data)
            elif n == 3:  # Linear with a bias, the most common three-input op
                arrays = (args[0]._data, args[1]._data, args[2]._data)
            else:
                arrays = [t._data for t in args]
        else:  # constants follow the inputs (axes, shapes, a loss's kind)
            inputs = args[:n]
            if n == 1:
                arrays = (args[0]._data,) + args[1:]
            elif n == 2:
                arrays = (args[0]._data, args[1]._data) + args[2:]
            else:
                arrays = [t._data for t in inputs]
                arrays += args[n:]
        ctx = _new(cls)
        if _grad_enabled[0]:
            if n == 1:
                needs = (inputs[0].requires_grad,)
                record = needs[0]
            elif n == 2:
                needs = (inputs[0].requires_grad, inputs[1].requires_grad)
                record = needs[0] or needs[1]
            elif n == 3:
                needs = (inputs[0].requires_grad, inputs[1].requires_grad,
                         inputs[2].requires_grad)
                record = needs[0] or needs[1] or needs[2]
            else:
                needs = tuple([t.requires_grad for t in inputs])
                record = True in needs
        else:
            record = False
        if not record:
            out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
            if type(out) is tuple:
                return tuple(Tensor._wrap(o) for o in out)
            t = _new(Tensor)
            t._data = out if type(out) is _ndarray else np.asarray(out)
            t.grad = t.grad_fn = None
            t.requires_grad = False
            t._output_nr = 0
            t._vc = [0]
            return t
        ctx.inputs = inputs
        ctx.needs_input_grad = needs
        ctx._seq = _next_seq()
        out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
        if type(out) is not tuple:
            t = _new(Tensor)
            t._data = out if type(out) is _ndarray else np.asarray(out)
            if t._data.nbytes >= FREE_FROM:  # a big output: its inputs' inputs may go
                for u in inputs:
                    if u.grad_fn is not None:
                        free_consumed(u.grad_fn)
            t.grad = None
            t.requires_grad = True
            t.grad_fn = ctx
            t._output_nr = 0
            if cls.is_view:
                # A view shares memory, so it shares the version counter of its base.
                t._vc = inputs[0]._vc
            else:
                t._vc = [0]
            if ctx.saved_tensors:
                ctx._checks = _version_checks(ctx.saved_tensors, inputs, (t,))
            return t
        ctx._n_outputs = len(out)
        ctx._output_specs = [(o.shape, o.dtype) for o in out]
        diff = cls.differentiable_outputs
        results = tuple([
            Tensor._wrap(o, True, ctx, k) if diff is None or k in diff else Tensor._wrap(o)
            for k, o in enumerate(out)
        ])
        if cls.is_view:
            results[0]._vc = inputs[0]._vc
        if ctx.saved_tensors:
            ctx._checks = _version_checks(ctx.saved_tensors, inputs, results)
        return results

    is_view = False

    @staticmethod
    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):  # pragma: no cover - abstract
        raise NotImplementedError

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        """The nodes (or leaf tensors) this node sends gradients to, as in PyTorch.

        An input that needs no gradient gives ``(None, 0)``.
        """
        if self._freed:
            return self.__dict__.get("_next", ())
        edges = []
        for t in self.inputs or ():
            fn, nr = _history(t, self._seq) if t.grad_fn is not None else (None, 0)
            edges.append((fn, nr) if fn is not None else (t, 0)
                         if t.requires_grad and t.grad_fn is None else (None, 0))
        return tuple(edges)

    def _release(self):
        # Drop everything forward kept for backward, and the input tensors too: they hold
        # the activations' arrays, which must not outlive backward while the caller keeps
        # the loss. Only the edges stay, for next_functions and so that a second
        # backward through this node can say why it cannot run.
        _strip(self, self.next_functions)


def _strip(node, edges):
    """The body of ``_release``, given the node's edges (run_backward has them at hand)."""
    d = node.__dict__
    n_out, retained = d.get("_n_outputs"), d.get("_retained")
    d.clear()
    d["_next"] = edges
    d["_freed"] = True
    if n_out is not None:
        d["_n_outputs"] = n_out
    if retained is not None:
        d["_retained"] = retained
    node.inputs = ()


def _version_checks(saved, inputs, outputs):
    """What backward checks to find saved arrays changed in place after forward: the
    version counter (a list, so that no tensor is referenced and no cycle is made
    through an output), its value now, and the array, for each saved array that is an
    input's or an output's."""
    checks = []
    for s in saved:
        if s is None:
            continue
        for t in inputs:
            if t._data is s:
                vc = t._vc
                checks.append((vc, vc[0], s))
                break
        else:
            for t in outputs:
                if t._data is s:
                    vc = t._vc
                    checks.append((vc, vc[0], s))
                    break
    return checks or ()


def _check_saved(node):
    if node._freed:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (through {node.name()}): "
            "its saved values were freed after the first backward. "
            "Call .backward(retain_graph=True) the first time if you need to backward twice."
        )
    for vc, version, array in node._checks:
        if vc[0] != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: [{array.dtype} {list(array.shape)}], saved by "
                f"{node.name()}, is at version {vc[0]}; expected version {version} instead. "
                "Hint: it was modified by an in-place operation after it was saved for "
                "backward; clone() it before changing it, or change it out of place."
            )


def _owned(g, refs):
    """True when nobody but the engine holds ``g``, so a leaf may keep it as its grad."""
    return (refcounts.EXACT and g.base is None and g.flags.writeable
            and _getrefcount(g) <= refs)


def run_backward(tensors, grads, retain_graph=False, capture=None):
    """Propagate ``grads`` from ``tensors`` back through the graph.

    Nodes run from the most recently recorded down (``_seq``, numbered by ``apply``): a
    node's inputs are always older than it, so when a node comes off the heap every node
    that sends it a gradient has run, and no dependency count is needed. (Kahn's
    algorithm needed a first pass over the whole graph; this finds the graph as it goes,
    0.7 us less per three-node backward.) With ``capture`` (from ``autograd.grad``), the
    gradients of the tensors it names are collected into it instead of being accumulated
    into any ``.grad``.
    """
    if _allocator_tuned[0] is None:
        # The first backward pass is where a program shows that it trains: from there
        # on each step frees and allocates the same large arrays again, which glibc's
        # defaults hand back to the OS and page-fault in anew (the MNIST CNN of
        # PyTorch's examples 47-49 -> 40 ms a step, the small GPT 12.2 -> 10.0, nothing
        # set in the environment). Never at ``import nabla``: that may be a program that
        # only loads or converts data. ``tune_allocator`` says how to turn it off.
        tune_allocator()
    # The gradient waiting at each node reached so far: an array for a one-output node
    # (nearly all), a list with one slot per output otherwise, None while nothing has
    # arrived. Written for speed like apply(): the per-node and per-edge work is inline.
    pending = {}
    heap = []
    node = tensors[0].grad_fn if len(tensors) == 1 else None
    if node is not None and node._n_outputs == 1:
        g = grads[0]  # one root, as in loss.backward(): no round trip through the heap
    else:
        node = None
        for t, g in zip(tensors, grads):
            fn = t.grad_fn
            if fn is None:
                # g may be the caller's own array (backward(gradient=G)): the leaf's .grad
                # must not alias it, or the next accumulation would write into G.
                _deliver_leaf(t, np.array(g, copy=True), capture)
                continue
            if fn not in pending:
                heappush(heap, (-fn._seq, fn))
                pending[fn] = None
            _add_pending(pending, fn, t._output_nr, g)
    later = None  # {id: [leaf, summed gradient]} for leaves with hooks
    # With leaf hooks, each hooked leaf's edges still to come, so its hooks run as soon
    # as its gradient is complete (a data-parallel reducer then starts that gradient's
    # allreduce while backward goes on); without hooks, None and nothing is counted.
    remaining = _hooked_leaf_edges(heap, node) if _leaf_hooks and capture is None else None
    complete = []
    while True:
        if node is None:
            if not heap:
                if later is not None:
                    _run_leaf_hooks(later)
                return
            node = heappop(heap)[1]
            g = pending.pop(node)
        if g is None and node._freed:
            node = None
            continue  # released by an earlier backward, and nothing flows through now
        inputs = node.inputs
        in_grads = ()
        # Nodes of the usual kind are released inline below, with the edges gathered
        # while their gradients are delivered (a separate pass cost ~0.4 us a node).
        inline_release = not retain_graph and type(node)._release is _base_release
        if g is not None:  # else nothing flows through here; only release it
            if node._freed:
                _check_saved(node)
            for vc, version, _ in node._checks:
                if vc[0] != version:
                    _check_saved(node)
            if node._n_outputs == 1 and node._retained is None and capture is None:
                in_grads = node.backward(node, g)
            else:
                in_grads = _special_backward(node, g, capture)
            g = None  # our reference would stop a leaf from taking the array (_owned)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
        n = len(inputs)
        if len(in_grads) < n:  # no gradient for the last inputs (or none at all)
            in_grads = in_grads + (None,) * (n - len(in_grads))
        # Release (also when no gradient came: the saved arrays go all the same).
        if inline_release:
            d = node.__dict__
            if "_n_outputs" in d or "_retained" in d:
                inline_release = False  # rare: released the general way
                node._release()
            else:
                d.clear()  # the saved arrays go now; the edges after delivery
        elif not retain_graph:
            node._release()
        needs = node.needs_input_grad
        edges = []
        seq = node._seq
        for i in range(n):
            t = inputs[i]
            fn = t.grad_fn
            g = in_grads[i] if needs[i] else None
            if fn is not None:
                if fn._seq < seq:
                    nr = t._output_nr
                else:  # t was changed in place after this node took it: its history then
                    fn, nr = _history(t, seq)
                    if fn is None:
                        edges.append(_NO_EDGE)
                        continue
                edges.append((fn, nr))
                prev = pending.get(fn, _ABSENT)
                if prev is _ABSENT:  # first reached: schedule it (it runs, if only to
                    heappush(heap, (-fn._seq, fn))  # release, once its newer
                    pending[fn] = prev = None  # neighbours have delivered)
            else:
                edges.append((t, 0) if t.requires_grad else _NO_EDGE)
                if remaining is not None and id(t) in remaining:
                    remaining[id(t)] -= 1
                    if not remaining[id(t)]:
                        complete.append(t)  # after this node's gradient is in
            if g is None:
                continue
            data = t._data
            if g.dtype is not data.dtype and g.dtype != data.dtype:
                g = g.astype(data.dtype)
            if g.shape != data.shape:
                g = _fix_shape(g, t, node)
            if fn is not None:
                if fn._n_outputs == 1:
                    if prev is None:
                        pending[fn] = g
                    elif (prev.base is None and prev.dtype == g.dtype and prev.flags.writeable
                          and _getrefcount(prev) <= 3 and type(g) not in COMPACT
                          and refcounts.EXACT):
                        # Only pending (and this frame) hold the sum so far: add in
                        # place (references: pending's, prev, getrefcount's).
                        np.add(prev, g, out=prev)
                    else:
                        pending[fn] = prev + g
                else:
                    _add_pending(pending, fn, nr, g)
            elif capture is None and t.requires_grad:
                if _leaf_hooks and id(t) in _leaf_hooks:
                    # Its hooks see the total gradient: summed here, run at the end.
                    if later is None:
                        later = {}
                    _defer(later, t, g)
                elif t.grad is None:
                    # The usual leaf: it keeps the array as its .grad if nothing else holds
                    # it (references: in_grads, g, getrefcount's).
                    f = g.flags
                    fresh = g.base is None and f.writeable and f.c_contiguous
                    f = None  # a flags object refers to its array: it would count
                    if not (fresh and _getrefcount(g) <= (3 if g is in_grads[i] else 2)
                            and refcounts.EXACT):
                        g = np.array(g, copy=True, order="C")
                    t.grad = Tensor._wrap(g)
                else:
                    _accumulate(t, g)  # adds g into .grad: no copy of g needed
            else:
                # References: in_grads, g, _owned's argument, getrefcount's.
                if not _owned(g, 4 if g is in_grads[i] else 3):
                    g = np.array(g, copy=True)
                _deliver_leaf(t, g, capture)
            g = None
        if complete:
            for t in complete:
                entry = later.pop(id(t), None) if later else None
                if entry is not None:
                    _run_leaf_hooks({id(t): entry})
            complete = []
        if inline_release:
            d = node.__dict__
            d["_next"] = tuple(edges)
            d["_freed"] = True
            node.inputs = ()
        in_grads = node = None


def _hooked_leaf_edges(heap, node) -> dict:
    """{id(leaf): number of edges into it} over the graph below the roots, for the leaves
    that have hooks: backward counts them down to know when a leaf's gradient is whole."""
    counts = {}
    stack = [fn for _, fn in heap] + ([node] if node is not None else [])
    seen = set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        seq = fn._seq
        for t in fn.inputs:
            f = t.grad_fn
            if f is not None:
                if f._seq >= seq:
                    f = _history(t, seq)[0]
                if f is not None:
                    stack.append(f)
            elif id(t) in _leaf_hooks:
                counts[id(t)] = counts.get(id(t), 0) + 1
    return counts


def _history(t, seq):
    """``(grad_fn, output_nr)`` that ``t`` had before node number ``seq`` was recorded:
    an in-place op rebased ``t`` since, and each rebasing node keeps the one it replaced
    in ``_prior``. ``(None, 0)`` when ``t`` was then a tensor outside the graph."""
    fn, nr = t.grad_fn, t._output_nr
    while fn is not None and fn._seq > seq:
        prior = getattr(fn, "_prior", None)
        if prior is None:
            break
        fn, nr = prior
    return fn, nr


def _special_backward(node, g, capture):
    """A node's backward where its retained outputs, ``autograd.grad``'s capture or
    several outputs are involved (``g`` is then a list with a slot per output)."""
    if type(g) in COMPACT:  # hooks, .grad and capture get what they always get
        g = g.dense()
    if node._hooks:
        slots = g if node._n_outputs > 1 else [g]
        for k, hooks in node._hooks.items():
            if slots[k] is not None and hooks:
                slots[k] = _call_hooks(hooks, slots[k])
        if node._n_outputs == 1:
            g = slots[0]
    if node._retained and capture is None:
        slots = g if node._n_outputs > 1 else [g]
        for k, t in node._retained.items():
            if slots[k] is not None:
                _accumulate(t, slots[k])
    if capture is not None:
        _capture_node(capture, node, g if node._n_outputs > 1 else [g])
    if node._n_outputs == 1:
        return node.backward(node, g)
    if node.materialize_grads:
        for k, (shape, dtype) in enumerate(node._output_specs):
            if g[k] is None:
                g[k] = np.zeros(shape, dtype=dtype)
    return node.backward(node, *g)


def _add_pending(pending, fn, k, g):
    """Add ``g`` to the gradient waiting at output ``k`` of ``fn`` (already in pending)."""
    if fn._n_outputs == 1:
        prev = pending[fn]
        pending[fn] = g if prev is None else prev + g
        return
    slots = pending[fn]
    if slots is None:
        slots = pending[fn] = [None] * fn._n_outputs
    slots[k] = g if slots[k] is None else slots[k] + g


def _capture_node(capture, node, slots):
    for k, s in enumerate(slots):
        if s is not None:
            for t in capture.get(("node", id(node), k), ()):
                prev = capture[id(t)]
                capture[id(t)] = s if prev is None else prev + s


def _fix_shape(g, t, node):
    try:
        if g.ndim >= t._data.ndim:
            return unbroadcast(g, t._data.shape)
        return np.broadcast_to(g, t._data.shape)
    except ValueError:
        raise RuntimeError(
            f"{node.name()} returned a gradient of shape {g.shape} for an input of shape "
            f"{t._data.shape}"
        ) from None


def _deliver_leaf(t, g, capture):
    if capture is not None:
        key = id(t)
        if key in capture:
            capture[key] = g if capture[key] is None else capture[key] + g
        return
    if not t.requires_grad:
        return
    if _leaf_hooks and id(t) in _leaf_hooks:
        _run_leaf_hooks({id(t): [t, g]})
        return
    _accumulate(t, g)


# ------------------------------------------------------------------ tensor hooks
# Hooks of leaves, by id(tensor) (an entry goes when its tensor dies): the engine checks
# this dict's truth once per leaf edge, so training without hooks pays nothing more.
_leaf_hooks = {}
_next_hook_id = itertools.count().__next__


class _LeafHooks:
    __slots__ = ("ref", "pre", "post")

    def __init__(self, t):
        key = id(t)
        self.ref = weakref.ref(t, lambda _, key=key, table=_leaf_hooks: table.pop(key, None))
        self.pre, self.post = {}, {}


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    __slots__ = ("_table", "_cleanup", "id")

    def __init__(self, table, cleanup=None):
        self.id = _next_hook_id()
        self._table, self._cleanup = table, cleanup

    def remove(self) -> None:
        self._table.pop(self.id, None)
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_tensor_hook(t, hook, post=False) -> RemovableHandle:
    """``Tensor.register_hook`` / ``register_post_accumulate_grad_hook``."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    if post and t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = t.grad_fn
    if node is None:
        key = id(t)
        entry = _leaf_hooks.get(key)
        if entry is None or entry.ref() is not t:
            entry = _leaf_hooks[key] = _LeafHooks(t)
        table = entry.post if post else entry.pre

        def cleanup():
            if not entry.pre and not entry.post and _leaf_hooks.get(key) is entry:
                del _leaf_hooks[key]  # the engine's fast path again for this leaf
    else:
        if node._hooks is None:
            node._hooks = {}
        if node._retained is None:
            node._retained = {}  # routes the node through _special_backward
        table = node._hooks.setdefault(t._output_nr, {})
        cleanup = None
    handle = RemovableHandle(table, cleanup)
    table[handle.id] = hook
    return handle


def _call_hooks(hooks, g):
    """Run ``hooks`` in registration order, each on the gradient the last one left."""
    for hook in list(hooks.values()):
        out = hook(Tensor._wrap(g))
        if out is not None:
            arr = out._data if isinstance(out, Tensor) else np.asarray(out)
            if arr.shape != g.shape:
                raise RuntimeError(
                    f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                    f"{tuple(arr.shape)} for a gradient of shape {tuple(g.shape)}"
                )
            g = arr if arr.dtype == g.dtype else arr.astype(g.dtype)
    return g


def _defer(later, t, g):
    entry = later.get(id(t))
    if entry is None:
        later[id(t)] = [t, np.array(g, copy=True)]
    else:
        entry[1] = entry[1] + g


def _run_leaf_hooks(later):
    """Each leaf's hooks on its total gradient, its accumulation, then its post-
    accumulate hooks (where a data-parallel reducer starts that gradient's allreduce)."""
    for t, g in later.values():
        entry = _leaf_hooks.get(id(t))
        if entry is not None and entry.pre:
            mine = g
            g = _call_hooks(entry.pre, g)
            if g is not mine:
                g = np.array(g, copy=True)  # the hook's array stays the hook's
        _accumulate(t, g)
        if entry is not None and entry.post:
            for hook in list(entry.post.values()):
                hook(t)


def _accumulate(t, g):
    if t.grad is None:
        if g.base is not None or not g.flags.writeable or not g.flags.c_contiguous:
            g = np.array(g, copy=True, order="C")
        t.grad = Tensor._wrap(g)
    else:
        buf = t.grad._data
        if buf.shape == g.shape and buf.flags.writeable:
            # Accumulate into the persistent buffer: no fresh allocation per step.
            np.add(buf, g, out=buf)
        else:
            t.grad = Tensor._wrap(buf + g)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves, or
    with ``inputs`` only into those tensors' ``.grad`` (leaves or not), as PyTorch.

    >>> import nabla
    >>> x = nabla.tensor([1.0, 2.0], requires_grad=True)
    >>> nabla.autograd.backward([(x * 3).sum()]); x.grad
    tensor([3., 3.])
    >>> w = nabla.tensor([1.0, 1.0], requires_grad=True)
    >>> nabla.autograd.backward([(x * w).sum()], inputs=[w]); w.grad, x.grad
    (tensor([1., 2.]), tensor([3., 3.]))
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (higher-order gradients) is not supported: nabla's backward "
            "functions work on arrays"
        )
    arrays = [_initial_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    if inputs is None:
        run_backward(list(tensors), arrays, bool(retain_graph))
        return
    # Only these tensors' .grad change (a leaf's hooks run as in a plain backward; a
    # non-leaf one's .grad accumulates as under retain_grad); the gradients come the way
    # autograd.grad gets them.
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] does not require grad, so it can "
                               "get no gradient")
    capture = _capture_for(inputs)
    run_backward(list(tensors), arrays, bool(retain_graph), capture=capture)
    for t in {id(t): t for t in inputs}.values():  # each tensor once, even if named twice
        g = capture[id(t)]
        if g is None:
            continue  # not used by the outputs: its .grad stays as it was
        g = np.array(g, dtype=t._data.dtype, copy=True)
        if t.grad_fn is None:
            _deliver_leaf(t, g, None)  # its hooks, then .grad, as in a plain backward
        else:
            _accumulate(t, g)


def _capture_for(inputs):
    """run_backward's ``capture`` for ``inputs``: a slot per tensor, found by the
    engine at the leaf itself or at the output of the node that made it."""
    capture = {}
    for t in inputs:
        capture[id(t)] = None
        if t.grad_fn is not None:
            capture.setdefault(("node", id(t.grad_fn), t._output_nr), []).append(t)
    return capture


def _initial_grad(t, g):
    if not t.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: "
            "backward() needs a tensor computed from tensors with requires_grad=True"
        )
    if g is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for one-element outputs, but the "
                f"output has shape {tuple(t.shape)}: pass backward(gradient=...)"
            )
        return np.ones(t._data.shape, dtype=t._data.dtype)
    garr = g._data if hasattr(g, "_data") and not isinstance(g, np.ndarray) else np.asarray(g)
    if garr.shape != t._data.shape:
        raise RuntimeError(
            f"gradient has shape {tuple(garr.shape)} but the output has shape "
            f"{tuple(t._data.shape)}: they must match"
        )
    return garr.astype(t._data.dtype, copy=False)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=False,
):
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    >>> import nabla
    >>> x = nabla.tensor(3.0, requires_grad=True)
    >>> nabla.autograd.grad(x ** 2, x)
    (tensor(6.),)
    """
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (higher-order gradients) is not supported: nabla's backward "
            "functions work on arrays"
        )
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"input {i} of autograd.grad does not require grad")
    capture = _capture_for(inputs)
    arrays = [_initial_grad(t, g) for t, g in zip(outputs, grad_outputs)]
    run_backward(outputs, arrays, bool(retain_graph), capture=capture)
    if _leaf_hooks:  # a leaf's tensor hooks see its gradient here too, as in PyTorch
        for t in {id(t): t for t in inputs if t.grad_fn is None}.values():
            entry = _leaf_hooks.get(id(t))
            if entry is not None and entry.pre and capture[id(t)] is not None:
                capture[id(t)] = _call_hooks(entry.pre, capture[id(t)])
    result = []
    for i, t in enumerate(inputs):
        g = capture[id(t)]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"input {i} was not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(None if g is None else Tensor._wrap(np.array(g, dtype=t._data.dtype)))
    return tuple(result)


# The plain release, which run_backward does inline for nodes that keep it.
_base_release = Function._release
