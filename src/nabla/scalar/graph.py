"""Pictures of a scalar graph: Graphviz DOT text, and rendering it with ``dot``.

Each Value becomes a box showing its label (if any), data and grad; each operation
becomes a small oval between its inputs and its result, as in micrograd's draw_dot.
"""

import shutil
import subprocess
from collections import deque

from .engine import Value

# Characters that mean something inside a Graphviz record label (fields, ports, quoting).
_RECORD_SPECIAL = str.maketrans({c: "\\" + c for c in '{}|<>"'})
# Past this many nodes a notebook would wait on dot for a picture nobody can read.
_SVG_NODE_LIMIT = 1000


def _escape(text, record):
    text = str(text).replace("\\", "\\\\")
    text = text.translate(_RECORD_SPECIAL) if record else text.replace('"', '\\"')
    return text.replace("\n", "\\n")


def _nodes(value, limit=None, breadth_first=False):
    """Every Value in the graph (leaves too), each once, outputs first; iterative so deep
    graphs are fine. Stops early once there are more than ``limit``. Breadth first, a
    cut-off keeps whole levels next to the output instead of one deep branch."""
    order, seen, stack = [], {value}, deque([value])
    take = stack.popleft if breadth_first else stack.pop
    while stack and (limit is None or len(order) <= limit):
        v = take()
        order.append(v)
        children = v._prev if breadth_first else reversed(v._prev)
        for c in children:  # so that first inputs get the smaller numbers
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return order


def to_dot(value, rankdir="LR", *, max_nodes=None, show_grad=True, names=None):
    """The graph that produced ``value``, as Graphviz DOT source text.

    ``max_nodes`` cuts a big graph off after that many Values (a note says how many
    more there are); ``show_grad=False`` leaves the gradients out; ``names`` maps
    Values to names shown in place of (or where there is no) ``label``.

    >>> a = Value(2.0, label="a")
    >>> print(to_dot((a * 3).relu()))  # doctest: +NORMALIZE_WHITESPACE
    digraph {
      rankdir=LR;
      node [fontname="Helvetica"];
      n0 [shape=record, label="{data 6.0000|grad 0.0000}"];
      n0_op [label="relu"];
      n0_op -> n0;
      n1 -> n0_op;
      n1 [shape=record, label="{data 6.0000|grad 0.0000}"];
      n1_op [label="*"];
      n1_op -> n1;
      n2 -> n1_op;
      n3 -> n1_op;
      n2 [shape=record, label="{a|data 2.0000|grad 0.0000}"];
      n3 [shape=record, label="{data 3.0000|grad 0.0000}"];
    }
    """
    if not isinstance(value, Value):
        raise TypeError(f"to_dot draws a Value, got {type(value).__name__}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                  or max_nodes < 1):
        raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
    order = _nodes(value, max_nodes)
    hidden = 0
    if max_nodes is not None and len(order) > max_nodes:
        order = _nodes(value, max_nodes, breadth_first=True)[:max_nodes]
        hidden = len(_nodes(value)) - max_nodes  # a second walk: only when cut off
    ids = {v: f"n{i}" for i, v in enumerate(order)}  # short stable names, not id()
    names = names or {}
    lines = ["digraph {", f"  rankdir={rankdir};", '  node [fontname="Helvetica"];']
    cut = False
    for v in order:
        label = names.get(v, v.label)
        fields = [_escape(label, record=True)] if label else []
        fields.append(f"data {v.data:.4f}")
        if show_grad:
            fields.append(f"grad {v.grad:.4f}")
        lines.append(f'  {ids[v]} [shape=record, label="{{{"|".join(fields)}}}"];')
        if v._prev:
            lines.append(f'  {ids[v]}_op [label="{_escape(v._op, record=False)}"];')
            lines.append(f"  {ids[v]}_op -> {ids[v]};")
            lines += [f"  {ids[c]} -> {ids[v]}_op;" for c in v._prev if c in ids]
            if hidden and any(c not in ids for c in v._prev):
                lines.append(f"  more -> {ids[v]}_op [style=dashed];")
                cut = True
    if hidden:
        note = f"\u2026 {hidden} more node{'s' if hidden > 1 else ''}"
        lines.append(f'  more [shape=note, label="{note}"];')
        if not cut:  # pragma: no cover - a cut always leaves some input undrawn
            lines.append(f"  more -> {ids[value]};")
    lines.append("}")
    return "\n".join(lines)


def run_dot(source, format="svg", path=None):
    """Render DOT ``source`` text with Graphviz's ``dot`` program (shared with
    ``nabla.viz``): the picture as ``str`` for svg or ``bytes`` otherwise, or written
    to ``path`` (then ``path`` is returned). RuntimeError when ``dot`` is missing."""
    if not (isinstance(format, str) and format.isalnum()):
        raise ValueError(f"format must be a Graphviz output name such as 'svg', got {format!r}")
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            "Graphviz's `dot` program is not installed (not found on PATH), so the graph "
            "cannot be rendered; install Graphviz (e.g. apt-get install graphviz), or use "
            "to_dot(value) / Graph.source for the DOT text, which needs no Graphviz"
        )
    result = subprocess.run([exe, f"-T{format}"], input=source.encode(), capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"`dot -T{format}` failed: {message}")
    if path is not None:
        with open(path, "wb") as f:
            f.write(result.stdout)
        return path
    return result.stdout.decode() if format == "svg" else result.stdout


def draw(value, path=None, format="svg", rankdir="LR"):
    """Render ``value``'s graph with Graphviz's ``dot`` program.

    Returns the picture (``str`` for svg, ``bytes`` otherwise), or writes it to ``path``
    and returns ``path``. Raises RuntimeError when ``dot`` is not installed;
    ``to_dot`` still gives the DOT text then. ``nabla.viz.draw`` does more (a node
    limit, names, Tensors) and returns a ``Graph``.

    >>> svg = draw(Value(1.0) + 2)  # doctest: +SKIP
    >>> svg.startswith("<?xml")  # doctest: +SKIP
    True
    """
    if not (isinstance(format, str) and format.isalnum()):
        raise ValueError(f"format must be a Graphviz output name such as 'svg', got {format!r}")
    return run_dot(to_dot(value, rankdir=rankdir), format, path)


def _svg_or_none(value):
    """For Jupyter's _repr_svg_: an SVG string, or None so it falls back to repr."""
    if shutil.which("dot") is None or len(_nodes(value, _SVG_NODE_LIMIT)) > _SVG_NODE_LIMIT:
        return None
    try:
        return draw(value)
    except RuntimeError:
        return None


Value._repr_svg_ = _svg_or_none  # Jupyter's hook; None: plain repr without Graphviz
