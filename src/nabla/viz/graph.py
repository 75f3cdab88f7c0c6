"""Pictures of computation graphs: the backward graph of a scalar ``Value`` or of a
``Tensor``, and the layer graph of a model, as Graphviz DOT text.

``draw`` returns a :class:`Graph`. Its DOT text (``graph.source``) needs nothing
installed; turning it into SVG or PNG runs Graphviz's ``dot`` program, and in Jupyter a
``Graph`` (like a ``Value``) shows itself as a picture when ``dot`` is there, and as its
DOT text when it is not.

>>> import nabla
>>> from nabla import viz
>>> w = nabla.tensor([1.0, -2.0], requires_grad=True)
>>> loss = (w * 3).sum()
>>> loss.backward()
>>> g = viz.draw(loss, names={w: "w"})
>>> print(g.source)  # doctest: +NORMALIZE_WHITESPACE
digraph {
  rankdir=LR;
  node [fontname="Helvetica", fontsize=11, shape=box, style="filled,rounded", fillcolor="#cfe2f3"];
  out [fillcolor="#d4edc9", label="output\\nshape () float32\\ndata -3"];
  n0 [style=filled, fillcolor="#e8e8e8", label="SumBackward\\nshape ()"];
  n0 -> out;
  n1 [style=filled, fillcolor="#e8e8e8", label="MulBackward"];
  n2 [label="w\\nshape (2,) float32\\ngrad [3, 3]"];
  n1 -> n0;
  n2 -> n1;
}

Shapes of the interior nodes are known while the graph is alive: draw before
``backward()`` (or call ``backward(retain_graph=True)``) to see them; after a plain
backward the engine has freed what the nodes held, and only their ops, the leaves and
the gradients remain.
"""

from __future__ import annotations

import os
import shutil
from collections import deque

import numpy as np

from ..scalar.engine import Value
from ..scalar.graph import _escape, _nodes, run_dot, to_dot

__all__ = ["Graph", "draw", "draw_model"]

_RANKDIRS = ("LR", "RL", "TB", "BT")
# Past this many nodes a notebook would wait on dot for a picture nobody can read.
_SVG_NODE_LIMIT = 1000
# Leaves (parameters, inputs) are rounded blue boxes: the default set in _HEADER.
_HEADER = ('  node [fontname="Helvetica", fontsize=11, shape=box, style="filled,rounded", '
           'fillcolor="#cfe2f3"];')
_LEAF = ""
_OUTPUT = 'fillcolor="#d4edc9"'
_OP = 'style=filled, fillcolor="#e8e8e8"'


class Graph:
    """A graph as Graphviz DOT text, with ways to render it.

    ``str(graph)`` and ``graph.source`` are the DOT text (always available);
    ``graph.render(path)`` writes it (``.dot``/``.gv``) or a picture rendered by
    Graphviz (``.svg``, ``.png``, ``.pdf`` ...); ``graph.svg()`` returns SVG text.
    Rendering raises RuntimeError naming the missing ``dot`` program when Graphviz is
    not installed.

    >>> g = Graph('digraph {\\n  a -> b;\\n}', nodes=2)
    >>> g
    <Graph: 2 nodes; .source for the DOT text, .render(path) for a picture>
    >>> "a -> b" in str(g)
    True
    """

    def __init__(self, source: str, format: str = "svg", nodes: int = 0, hidden: int = 0):
        self.source = source
        self.format = format  # what render() writes when neither it nor the path says
        self.nodes = nodes  # nodes drawn
        self.hidden = hidden  # nodes left out by the max_nodes cut-off

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        more = f" (+{self.hidden} not drawn)" if self.hidden else ""
        return (f"<Graph: {self.nodes} nodes{more}; .source for the DOT text, "
                ".render(path) for a picture>")

    def render(self, path=None, format: str | None = None):
        """Write the graph to ``path`` and return ``path``; without a path, return the
        picture (``str`` for svg and dot, ``bytes`` otherwise).

        The format is ``format``, else the path's suffix, else the one given to
        ``draw``. ``"dot"`` (or ``"gv"``) is the DOT text itself and needs no Graphviz;
        anything else runs ``dot`` and raises RuntimeError if it is not installed.

        >>> import os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "g.dot")
        >>> Graph("digraph {\\n}").render(p) == p, open(p).read()
        (True, 'digraph {\\n}\\n')
        """
        if format is None:
            suffix = os.path.splitext(os.fspath(path))[1][1:].lower() if path is not None else ""
            format = suffix or self.format
        if format in ("dot", "gv"):
            data = self.source + "\n"
            if path is None:
                return data
            data = data.encode()
        else:
            data = run_dot(self.source, format)
            if path is None:
                return data
            if isinstance(data, str):
                data = data.encode()
        from ..io import atomic_write_bytes  # never a half-written picture

        atomic_write_bytes(os.fspath(path), data)
        return path

    def svg(self) -> str:
        """The graph rendered as SVG text by Graphviz (RuntimeError without ``dot``)."""
        return run_dot(self.source, "svg")

    def _repr_svg_(self):
        # Jupyter: a picture when Graphviz is there; None makes it fall back quietly.
        if shutil.which("dot") is None or self.nodes > _SVG_NODE_LIMIT:
            return None
        try:
            return self.svg()
        except RuntimeError:
            return None

    def _repr_mimebundle_(self, include=None, exclude=None):
        svg = self._repr_svg_()
        if svg is None:  # no Graphviz: the DOT text is still worth showing
            return {"text/plain": self.source}
        return {"image/svg+xml": svg, "text/plain": repr(self)}


# ---------------------------------------------------------------------------- helpers

def _num(x) -> str:
    return f"{float(x):.4g}"


def _summary(arr) -> str:
    """A few numbers in full, more as their norm: labels must stay short."""
    a = np.asarray(arr)
    if a.size == 1:
        return _num(a.reshape(()))
    if a.size <= 4:
        return "[" + ", ".join(_num(v) for v in a.ravel()) + "]"
    return f"norm {float(np.linalg.norm(a.astype(np.float64))):.4g}"


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


def _name_map(names, params) -> dict:
    """``{id(obj): name}`` from ``names`` ({obj: name} or {name: obj}) and ``params``
    ({name: obj}, e.g. ``dict(model.named_parameters())``). Keyed by id: Tensor ``==``
    compares elements, so tensors cannot be looked up by equality."""
    out = {}
    for mapping, inverted in ((params, True), (names, False)):
        if not mapping:
            continue
        for k, v in dict(mapping).items():
            if isinstance(k, str) and not isinstance(v, str):
                k, v = v, k  # {"W1": W1} works as well as {W1: "W1"}
            elif inverted:
                raise TypeError("params maps names to tensors, as "
                                "dict(model.named_parameters()) does")
            if not isinstance(v, str):
                raise TypeError(f"names maps tensors or Values to str names, got {v!r}")
            out[id(k)] = v
    return out


def _check(rankdir, max_nodes):
    if rankdir not in _RANKDIRS:
        raise ValueError(f"rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                  or max_nodes < 1):
        raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")


def _line(node_id: str, style: str, label_lines) -> str:
    label = "\\n".join(_escape(s, record=False) for s in label_lines)
    return f'  {node_id} [{style + ", " if style else ""}label="{label}"];'


def _walk(root_fn):
    """Every node reachable from ``root_fn`` (Functions and leaf tensors), breadth
    first, with the edges, without recursion. Yields ``(obj, edges)`` where edges are
    ``(child, output_nr, input tensor or None)``: the input tensor is known only while
    the node has not been released by backward."""
    seen = {id(root_fn)}
    queue = deque([root_fn])
    while queue:
        obj = queue.popleft()
        edges = []
        if not _is_tensor(obj):
            nxt = obj.next_functions
            inputs = obj.inputs if not obj._freed and obj.inputs else None
            tensors = [t for t in inputs if t.grad_fn is not None or t.requires_grad] \
                if inputs is not None else None
            for j, (child, k) in enumerate(c for c in nxt if c[0] is not None):
                t = tensors[j] if tensors is not None and j < len(tensors) else None
                edges.append((child, k, t))
                if id(child) not in seen:
                    seen.add(id(child))
                    queue.append(child)
        yield obj, edges


def _is_tensor(obj) -> bool:
    from ..tensor import Tensor

    return isinstance(obj, Tensor)


def _tensor_dot(root, rankdir, max_nodes, show_grad, names):
    lines = ["digraph {", f"  rankdir={rankdir};", _HEADER]
    root_label = [names.get(id(root), "output"),
                  f"shape {_shape(root.shape)} {root._data.dtype.name}"]
    if root._data.size == 1:
        root_label.append(f"data {_summary(root._data)}")
    if show_grad and root.grad is not None:
        root_label.append(f"grad {_summary(root.grad._data)}")
    if root.grad_fn is None:
        lines.append(_line("out", _OUTPUT if not root.requires_grad else _LEAF, root_label))
        lines.append("}")
        return "\n".join(lines), 1, 0
    lines.append(_line("out", _OUTPUT, root_label))
    ids = {}
    shapes = {(id(root.grad_fn), root._output_nr): root.shape}
    order, pending = [], []  # nodes drawn; their edges, written once every id is known
    hidden = 0
    for obj, edges in _walk(root.grad_fn):
        if max_nodes is not None and len(order) == max_nodes:
            hidden += 1  # keep walking, only counting: the note says how many are left
            continue
        ids[id(obj)] = f"n{len(order)}"
        order.append(obj)
        pending.append((obj, edges))
        for child, k, t in edges:
            if t is not None and not _is_tensor(child):
                shapes[(id(child), k)] = t.shape
    for obj in order:
        lines.append(_line(ids[id(obj)], *_node_label(obj, shapes, show_grad, names)))
        if obj is root.grad_fn:
            lines.append(f"  {ids[id(obj)]} -> out;")
    for obj, edges in pending:
        for child, k, _ in edges:
            src = ids.get(id(child))
            if src is None:  # cut off by max_nodes: the note below points here
                continue
            # Which output an edge leaves from matters only for multi-output nodes.
            many = not _is_tensor(child) and child._n_outputs > 1
            lines.append(f"  {src} -> {ids[id(obj)]}{f' [label={k}]' if many else ''};")
    if hidden:
        note = f"\u2026 {hidden} more node{'s' if hidden > 1 else ''}"
        lines.append(f'  more [shape=note, label="{note}"];')
        for obj, edges in pending:
            if any(id(c) not in ids for c, _, _ in edges):
                lines.append(f"  more -> {ids[id(obj)]} [style=dashed];")
    lines.append("}")
    return "\n".join(lines), len(order) + 1, hidden


def _node_label(obj, shapes, show_grad, names):
    if _is_tensor(obj):  # a leaf that requires grad
        label = [f"shape {_shape(obj.shape)} {obj._data.dtype.name}"]
        if id(obj) in names:
            label.insert(0, names[id(obj)])
        if obj._data.size == 1:
            label.append(f"data {_summary(obj._data)}")
        if show_grad and obj.grad is not None:
            label.append(f"grad {_summary(obj.grad._data)}")
        return _LEAF, label
    label = [obj.name()]
    retained = obj._retained or {}
    for k in range(obj._n_outputs):
        shape = shapes.get((id(obj), k))
        t = retained.get(k)
        if shape is None and t is not None:
            shape = t.shape
        prefix = f"out {k}: " if obj._n_outputs > 1 else ""
        if t is not None and id(t) in names:
            label.append(prefix + names[id(t)])
        if shape is not None:
            label.append(f"{prefix}shape {_shape(shape)}")
        if show_grad and t is not None and t.grad is not None:
            label.append(f"{prefix}grad {_summary(t.grad._data)}")
    return _OP, label


# ------------------------------------------------------------------------------ draw

def draw(x, rankdir: str = "LR", max_nodes: int | None = 200, format: str | None = None,
         path=None, show_grad: bool = True, names=None, params=None) -> Graph:
    """The backward graph that produced ``x`` (a scalar ``Value`` or a ``Tensor``).

    Args:
        x: the output to draw the graph of (a loss, say).
        rankdir: the direction the graph runs: "LR" (left to right), "TB", "RL", "BT".
        max_nodes: draw at most this many nodes (None: all); a note says how many more
            there are, with dashed arrows where the drawing was cut off.
        format: the picture format ``render``/``path`` use when the path does not say:
            "svg" (default), "png", "pdf", or "dot" for the DOT text.
        path: also write the graph there (see ``Graph.render``).
        show_grad: show gradients (after ``backward()``): of Values; of the leaf
            tensors; of non-leaf tensors on which ``retain_grad()`` was called.
        names: names to show, as ``{tensor_or_value: "W1"}`` (or ``{"W1": tensor}``).
        params: ``dict(model.named_parameters())``: a model's parameters by name.

    Returns:
        A :class:`Graph`: ``.source`` is the DOT text; ``.render(path)``, ``.svg()``.

    Values show their label (``Value(2.0, label="a")``), data and grad, with one oval
    per operation, as ``nabla.scalar.to_dot`` draws them:

    >>> from nabla.scalar import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> L = a * b
    >>> L.backward()
    >>> src = draw(L).source
    >>> "{a|data 2.0000|grad -3.0000}" in src, '[label="*"]' in src
    (True, True)

    Tensors: one box per op (``MulBackward``), per leaf that requires grad (its name,
    shape, dtype, and grad once computed), and one for the output.

    >>> import nabla
    >>> from nabla import nn
    >>> model = nn.Linear(3, 2)
    >>> loss = model(nabla.ones(4, 3)).relu().sum()
    >>> src = draw(loss, params=dict(model.named_parameters())).source
    >>> "LinearBackward" in src, "weight\\\\nshape (2, 3) float32" in src
    (True, True)
    """
    _check(rankdir, max_nodes)
    if format is not None and not (isinstance(format, str) and format.isalnum()):
        raise ValueError(f"format must be a name such as 'svg', 'png' or 'dot', got {format!r}")
    ids = _name_map(names, params)
    if isinstance(x, Value):
        by_value = {v: ids[id(v)] for v in _nodes(x) if id(v) in ids} if ids else None
        source = to_dot(x, rankdir, max_nodes=max_nodes, show_grad=show_grad, names=by_value)
        total = len(_nodes(x, max_nodes))
        shown = min(total, max_nodes) if max_nodes is not None else total
        hidden = len(_nodes(x)) - shown if max_nodes is not None and total > max_nodes else 0
        graph = Graph(source, format or "svg", nodes=shown, hidden=hidden)
    elif _is_tensor(x):
        source, shown, hidden = _tensor_dot(x, rankdir, max_nodes, show_grad, ids)
        graph = Graph(source, format or "svg", nodes=shown, hidden=hidden)
    else:
        raise TypeError(f"draw takes a nabla.scalar.Value or a nabla Tensor, got "
                        f"{type(x).__name__}")
    if path is not None:
        graph.render(path, format)
    return graph


# ------------------------------------------------------------------------ draw_model

def _leaf_modules(model):
    return [(name or type(model).__name__, m) for name, m in model.named_modules()
            if not any(True for _ in m.children())]


def _record_calls(model, x):
    """Run ``model(x)`` and list the leaf modules in the order they were called, with
    their output shapes. The modules' ``forward`` is wrapped on the instance for the
    duration (Module has no hooks), and always restored."""
    from ..autograd import no_grad

    calls = []
    leaves = _leaf_modules(model)
    for name, m in leaves:
        original = m.forward

        def wrapper(*args, _m=m, _name=name, _original=original, **kwargs):
            out = _original(*args, **kwargs)
            first = out[0] if isinstance(out, tuple) else out
            calls.append((_name, _m, tuple(getattr(first, "shape", ()))))
            return out

        m.__dict__["forward"] = wrapper
    try:
        was_training = model.training
        model.eval()  # dropout and batch norm behave as at inference
        with no_grad():
            out = model(x)
        model.train(was_training)
    finally:
        for _, m in leaves:
            m.__dict__.pop("forward", None)
    first = out[0] if isinstance(out, tuple) else out
    return calls, tuple(first.shape)


def draw_model(model, input_shape=None, rankdir: str = "TB", format: str | None = None,
               path=None) -> Graph:
    """A model's layers as a chain of boxes: each layer's name and repr, its
    parameters' shapes and (given ``input_shape``) the shape of what it outputs.

    With ``input_shape`` (including the batch dimension, e.g. ``(1, 1, 28, 28)``) a
    zero input runs through the model once and the layers appear in the order they
    were called; without it, in the order they were defined.

    >>> from nabla import models
    >>> g = draw_model(models.mlp(64, hidden=(32,), out_features=10), (1, 1, 8, 8))
    >>> src = g.source
    >>> "1: Linear(in_features=64, out_features=32, bias=True)" in src
    True
    >>> "weight (32, 64)" in src, "-> (1, 10)" in src, g.nodes
    (True, True, 6)
    """
    from ..nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"draw_model takes an nn.Module, got {type(model).__name__}")
    _check(rankdir, None)
    if input_shape is not None:
        from ..creation import zeros

        shape = tuple(int(n) for n in input_shape)
        calls, out_shape = _record_calls(model, zeros(*shape))
    else:
        shape = out_shape = None
        calls = [(name, m, None) for name, m in _leaf_modules(model)]
    n_params = sum(p.numel() for p in model.parameters())
    title = f"{type(model).__name__}: {n_params:,} parameters"
    lines = ["digraph {", f"  rankdir={rankdir};", _HEADER,
             f'  label="{_escape(title, record=False)}";', "  labelloc=t;",
             '  fontname="Helvetica";']
    lines.append(_line("input", _LEAF, ["input"] + ([_shape(shape)] if shape else [])))
    prev = "input"
    for i, (name, m, out) in enumerate(calls):
        label = [f"{name}: {repr(m).splitlines()[0]}"]
        label += [f"{pname} {_shape(p.shape)}" for pname, p in m.named_parameters()]
        if out is not None:
            label.append(f"-> {_shape(out)}")
        lines.append(_line(f"l{i}", _OP, label))
        lines.append(f"  {prev} -> l{i};")
        prev = f"l{i}"
    lines.append(_line("output", _OUTPUT,
                       ["output"] + ([_shape(out_shape)] if out_shape else [])))
    lines.append(f"  {prev} -> output;")
    lines.append("}")
    graph = Graph("\n".join(lines), format or "svg", nodes=len(calls) + 2)
    if path is not None:
        graph.render(path, format)
    return graph
