"""Backpropagation spelled out: ``explain`` prints the chain rule node by node, and
``nudge`` checks a derivative by moving one input a little and watching the output.

The course example: ``e = a*b``, ``d = e + c``, ``L = d*f``.

>>> from nabla.scalar import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c, f = Value(10.0, label="c"), Value(-2.0, label="f")
>>> e = a * b; e.label = "e"
>>> d = e + c; d.label = "d"
>>> L = d * f; L.label = "L"
>>> table = explain(L)  # doctest: +NORMALIZE_WHITESPACE
node  op  value  local derivative  chain rule: incoming * local = gradient
L     *   -8                       dL/dL = 1
d     +   4      dL/dd = f = -2    dL/dd = dL/dL * dL/dd = 1 * -2 = -2
f         -2     dL/df = d = 4     dL/df = dL/dL * dL/df = 1 * 4 = 4
e     *   -6     dd/de = 1         dL/de = dL/dd * dd/de = -2 * 1 = -2
c         10     dd/dc = 1         dL/dc = dL/dd * dd/dc = -2 * 1 = -2
a         2      de/da = b = -3    dL/da = dL/de * de/da = -2 * -3 = 6
b         -3     de/db = a = 2     dL/db = dL/de * de/db = -2 * 2 = -4
>>> table.rows[5]["local"], table.rows[5]["upstream"], table.rows[5]["grad"]
(-3.0, -2.0, 6.0)
>>> r = nudge(lambda: (a * b + c) * f, a, h=0.001)
nudge a by h=0.001: (L(a+h) - L(a))/h = 6 (central 6), backprop says 6; difference ...
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from ..scalar.engine import Value

__all__ = ["Explanation", "Nudge", "explain", "nudge"]


def _num(x) -> str:
    """A number as the course notes write it: 6, -2, 0.8814 (not 6.0 or 0.881373587)."""
    if x is None:
        return ""
    x = float(x)
    if x == 0:
        return "0"  # also turns -0.0 into 0
    return f"{x:.6g}"


def _short(x) -> str:
    if x is None:
        return "(freed)"  # a big intermediate the program had let go of
    a = np.asarray(x)
    if a.size == 1:
        return _num(a.reshape(()))
    if a.size <= 4:
        return "[" + ", ".join(_num(v) for v in a.ravel()) + "]"
    return f"<{'x'.join(map(str, a.shape))}, norm {float(np.linalg.norm(a)):.4g}>"


class Explanation:
    """What ``explain`` found: ``rows`` (one dict per gradient flowing along an edge,
    in backward order) and ``text`` (the formatted table, also ``str(explanation)``).

    Row keys: ``node`` (name), ``op`` (the op that made it, "" for a leaf), ``value``,
    ``parent`` (the node the gradient comes from; None on the output's own row),
    ``local`` (d parent / d node), ``rule`` (that derivative as a formula, or ""),
    ``upstream`` (d output / d parent), ``product`` (upstream * local) and ``grad``
    (d output / d node summed so far: a node used twice has two rows). Tensor graphs
    put arrays or descriptions where a scalar would not do (see ``explain``).
    """

    def __init__(self, rows: list, text: str):
        self.rows = rows
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Explanation: {len(self.rows)} rows; print() it for the table>"

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


# ------------------------------------------------------------------- scalar Values

def _value_order(out):
    """Every Value ``out`` depends on, parents before children (so the order backward
    visits them), leaves included; iterative."""
    order, seen, stack = [], set(), [out]
    while stack:
        v = stack.pop()
        if v is None:  # marker: everything the next Value depends on is placed
            order.append(stack.pop())
        elif v not in seen:
            seen.add(v)
            stack += (v, None)
            stack += [c for c in reversed(v._prev) if c not in seen]
    order.reverse()
    return order


def _value_names(order, names):
    result, k = {}, 0
    for v in order:
        if v in names:
            result[v] = names[v]
        elif v.label:
            result[v] = v.label
        elif not v._prev:
            result[v] = _num(v.data)  # an unnamed constant reads best as its value
        else:
            k += 1
            result[v] = f"v{k}"
    return result


def _rule(parent, i, name) -> str:
    """The local derivative d parent / d (its i-th input) as a formula, where one is
    short enough to be worth writing ("" otherwise)."""
    op, prev = parent._op, parent._prev
    x, out = name[prev[i]], name[parent]
    if op == "+":
        return "1"
    if op == "-":
        return "1" if i == 0 else "-1"
    if op == "*":
        return name[prev[1 - i]]
    if op == "/":
        return f"1/{name[prev[1]]}" if i == 0 else f"-{name[prev[0]]}/{name[prev[1]]}**2"
    if op == "neg":
        return "-1"
    if op.startswith("**"):
        k = float(op[2:])
        return f"{_num(k)}*{x}**{_num(k - 1)}"
    if op.endswith("**"):
        return f"{out}*ln({op[:-2]})"
    return {"relu": f"1 if {x} > 0 else 0", "tanh": f"1 - {out}**2",
            "sigmoid": f"{out}*(1 - {out})", "exp": out, "log": f"1/{x}",
            "softplus": f"sigmoid({x})"}.get(op, "")


def _explain_value(out, names):
    order = _value_order(out)
    name = _value_names(order, names)
    grads = {v: 0.0 for v in order}
    grads[out] = 1.0
    rows = [{"node": name[out], "op": out._op, "value": out.data, "parent": None,
             "local": None, "rule": "", "upstream": None, "product": None, "grad": 1.0}]
    for v in order:
        upstream = grads[v]
        for i, (child, local) in enumerate(zip(v._prev, v._local)):
            product = upstream * local
            grads[child] += product
            rows.append({"node": name[child], "op": child._op, "value": child.data,
                         "parent": name[v], "local": local, "rule": _rule(v, i, name),
                         "upstream": upstream, "product": product, "grad": grads[child]})
    top = name[out]
    table = [("node", "op", "value", "local derivative",
              "chain rule: incoming * local = gradient")]
    for r in rows:
        if r["parent"] is None:
            table.append((r["node"], r["op"], _num(r["value"]), "", f"d{top}/d{top} = 1"))
            continue
        local_name = f"d{r['parent']}/d{r['node']}"
        rule = r["rule"] if r["rule"] and r["rule"] != _num(r["local"]) else ""
        local = f"{local_name} = " + (f"{rule} = " if rule else "") + _num(r["local"])
        chain = (f"d{top}/d{r['node']} = d{top}/d{r['parent']} * {local_name} = "
                 f"{_num(r['upstream'])} * {_num(r['local'])} = {_num(r['product'])}")
        if r["grad"] != r["product"]:  # a node used more than once: contributions add up
            chain += f" (sum so far {_num(r['grad'])})"
        table.append((r["node"], r["op"], _num(r["value"]), local, chain))
    return rows, _format_table(table)


def _format_table(table) -> str:
    widths = [max(len(row[j]) for row in table) for j in range(len(table[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]
             for row in table]
    return "\n".join(line.rstrip() for line in lines)


# ------------------------------------------------------------------------- Tensors

# What each primitive's local derivative is, for the tensor table.
_LOCAL = {
    "Add": "d(a+b)/da = 1, d(a+b)/db = 1",
    "Sub": "d(a-b)/da = 1, d(a-b)/db = -1",
    "Mul": "d(a*b)/da = b, d(a*b)/db = a",
    "Div": "d(a/b)/da = 1/b, d(a/b)/db = -a/b**2",
    "Neg": "d(-a)/da = -1",
    "Pow": "d(a**k)/da = k*a**(k-1)",
    "Exp": "d exp(a)/da = exp(a)",
    "Log": "d log(a)/da = 1/a",
    "Tanh": "d tanh(a)/da = 1 - tanh(a)**2",
    "Sigmoid": "d s(a)/da = s(a)*(1 - s(a))",
    "Relu": "d relu(a)/da = 1 where a > 0, else 0",
    "Sum": "d sum(a)/da_i = 1 (gradient copied to every element)",
    "Mean": "d mean(a)/da_i = 1/n",
    "MatMul": "d(A@B)/dA = grad @ B.T, d(A@B)/dB = A.T @ grad",
    "Linear": "d(x@W.T+b): dx = grad @ W, dW = grad.T @ x, db = sum of grad",
    # Linear and its activation fused into one node (nn.Sequential does it):
    "LinearRelu": "out = relu(x@W.T+b), d = grad * (out > 0): dx = d @ W, dW = d.T @ x, "
                  "db = sum of d",
    "LinearTanh": "out = tanh(x@W.T+b), d = grad * (1 - out**2): dx = d @ W, dW = d.T @ x, "
                  "db = sum of d",
    "LinearSigmoid": "out = s(x@W.T+b), d = grad * out*(1 - out): dx = d @ W, "
                     "dW = d.T @ x, db = sum of d",
}


def _tensor_rows(out, names):
    from ..autograd import _check_saved, _fix_shape
    from ..graph_memory import freed
    from ..row_picks import dense

    if out.grad_fn is None:
        raise ValueError("explain: this tensor was not computed from tensors that "
                         "require grad, so it has no backward graph")
    if out._data.size != 1:
        raise ValueError(f"explain follows the gradient of a one-element output, got shape "
                         f"{tuple(out.shape)} (reduce it first, e.g. .sum())")
    # Kahn's algorithm, as the engine runs it: count the edges into every node first.
    deps, stack, nodes = {out.grad_fn: 0}, [out.grad_fn], []
    while stack:
        fn = stack.pop()
        if fn._freed:
            raise RuntimeError(f"explain needs the graph's saved values, but {fn.name()} was "
                               "freed by backward(): call explain before backward(), or "
                               "backward(retain_graph=True)")
        nodes.append(fn)
        for t in fn.inputs:
            if t.grad_fn is not None:
                deps[t.grad_fn] = deps.get(t.grad_fn, 0) + 1
                if deps[t.grad_fn] == 1:
                    stack.append(t.grad_fn)
    counts, label = {}, {}
    if id(out) in names:  # a named output takes no op name, so the next mul is "mul"
        label[out.grad_fn] = names[id(out)]
    for fn in nodes:
        if fn in label:
            continue
        base = fn.name().removesuffix("Backward").lower()
        counts[base] = counts.get(base, 0) + 1
        label[fn] = base if counts[base] == 1 else f"{base}{counts[base]}"
    top = label[out.grad_fn]
    leaf_names, k = {}, 0
    slots = {out.grad_fn: [None] * out.grad_fn._n_outputs}
    slots[out.grad_fn][out._output_nr] = np.ones(out._data.shape, out._data.dtype)
    rows = [{"node": top, "op": out.grad_fn.name(), "value": out._data.copy(), "parent": None,
             "local": None, "rule": "", "upstream": None, "product": None,
             "grad": np.ones_like(out._data)}]
    grads = {}
    ready = [out.grad_fn]
    while ready:
        fn = ready.pop()
        _check_saved(fn)
        g = slots.pop(fn)
        for i, s in enumerate(g):
            if s is None:
                shape, dtype = fn._output_specs[i]
                g[i] = np.zeros(shape, dtype)
        in_grads = fn.backward(fn, *g)
        in_grads = tuple(map(dense, in_grads if type(in_grads) is tuple else (in_grads,)))
        scalar = all(t._data.size == 1 for t in fn.inputs) and len(g) == 1 and g[0].size == 1
        ones = None
        if scalar:  # a 1x1 Jacobian: backward with incoming gradient 1 gives it exactly
            ones = fn.backward(fn, np.ones_like(g[0]))
            ones = ones if type(ones) is tuple else (ones,)
        upstream = g[0] if len(g) == 1 else g
        for i, t in enumerate(fn.inputs):
            if not fn.needs_input_grad[i] or i >= len(in_grads) or in_grads[i] is None:
                continue
            product = in_grads[i]
            if product.shape != t._data.shape:
                product = _fix_shape(product, t, fn)
            if t.grad_fn is None:
                if id(t) not in leaf_names:
                    k += 1
                    leaf_names[id(t)] = names.get(id(t), f"x{k}")
                node, op = leaf_names[id(t)], ""
            else:
                node, op = label[t.grad_fn], t.grad_fn.name()
            key = id(t) if t.grad_fn is None else (t.grad_fn, t._output_nr)
            total = product if key not in grads else grads[key] + product
            grads[key] = total
            local = (float(np.asarray(ones[i]).reshape(())) if ones is not None
                     else _LOCAL.get(fn.name().removesuffix("Backward"), ""))
            rows.append({"node": node, "op": op,
                         "value": None if freed(t._data) else t._data.copy(),
                         "parent": label[fn], "local": local,
                         "rule": _LOCAL.get(fn.name().removesuffix("Backward"), ""),
                         "upstream": upstream, "product": product, "grad": total})
            if t.grad_fn is not None:
                s = slots.setdefault(t.grad_fn, [None] * t.grad_fn._n_outputs)
                j = t._output_nr
                s[j] = product if s[j] is None else s[j] + product
                deps[t.grad_fn] -= 1
                if deps[t.grad_fn] == 0:
                    ready.append(t.grad_fn)
        for t in fn.inputs:  # inputs that need no gradient still release their edge
            if t.grad_fn is not None and not _needs(fn, t):
                deps[t.grad_fn] -= 1
                if deps[t.grad_fn] == 0:
                    slots.setdefault(t.grad_fn, [None] * t.grad_fn._n_outputs)
                    ready.append(t.grad_fn)
    return rows, top


def _needs(fn, t):
    return any(u is t and n for u, n in zip(fn.inputs, fn.needs_input_grad))


def _explain_tensor(out, names):
    rows, top = _tensor_rows(out, names)
    table = [("node", "op", "value", "local derivative",
              "chain rule: incoming * local = gradient")]
    for r in rows:
        if r["parent"] is None:
            table.append((r["node"], r["op"], _short(r["value"]), "", f"d{top}/d{top} = 1"))
            continue
        local_name = f"d{r['parent']}/d{r['node']}"
        if isinstance(r["local"], float):
            local = f"{local_name} = {_num(r['local'])}"
            chain = (f"d{top}/d{r['node']} = d{top}/d{r['parent']} * {local_name} = "
                     f"{_short(r['upstream'])} * {_num(r['local'])} = {_short(r['product'])}")
            if r["grad"] is not r["product"]:  # used more than once: contributions add up
                chain += f" (sum so far {_short(r['grad'])})"
        else:
            local = r["local"] or "(see the op's backward)"
            chain = f"d{top}/d{r['node']} = {_short(r['product'])}"
        table.append((r["node"], r["op"], _short(r["value"]), local, chain))
    return rows, _format_table(table)


# ------------------------------------------------------------------------- explain

def explain(output, file=None, names=None, quiet: bool = False) -> Explanation:
    """Print the backward pass of ``output`` node by node: each node's op and value,
    the local derivative of the node it feeds (with its formula), the incoming
    gradient, and their chain-rule product, which is the node's gradient.

    Args:
        output: a scalar ``Value`` (the main use: graphs as the course builds them by
            hand), or a one-element ``Tensor``.
        file: where to print (default ``sys.stdout``).
        names: ``{value_or_tensor: "name"}`` for nodes without a ``label``.
        quiet: print nothing, only return.

    Returns:
        An :class:`Explanation` with ``.rows`` (a list of dicts) and ``.text``.

    Nothing is changed: the gradients are computed on the side, so ``.grad`` keeps
    whatever it held and ``backward()`` may be called before or after.

    Tensors: the graph must still hold its saved values, so explain before
    ``backward()`` (or after ``backward(retain_graph=True)``). A big intermediate (64
    KiB or more) that the program no longer held shows its value as "(freed)": the
    graph lets go of such arrays before backward (``graph_memory.free_consumed``).
    When every tensor in the graph has one element, each row has the same numbers as
    for Values (the local derivative is computed by the op's backward); otherwise
    ``local`` is a description of the op's derivative and ``upstream``, ``product``
    and ``grad`` are arrays (shown as values, or as their norm when large).

    >>> import nabla
    >>> x = nabla.tensor(0.5, requires_grad=True)
    >>> y = (x * x).tanh()
    >>> t = explain(y, names={x: "x"}, quiet=True)
    >>> print(t.text.splitlines()[2])  # doctest: +NORMALIZE_WHITESPACE
    mul   MulBackward   0.25      dtanh/dmul = 0.940015
        dtanh/dmul = dtanh/dtanh * dtanh/dmul = 1 * 0.940015 = 0.940015
    >>> [(r["node"], r["parent"]) for r in t.rows]
    [('tanh', None), ('mul', 'tanh'), ('x', 'mul'), ('x', 'mul')]
    >>> round(t.rows[-1]["grad"].item(), 5) == round(2 * 0.5 * (1 - math.tanh(0.25) ** 2), 5)
    True
    """
    id_names = _id_names(names)
    if isinstance(output, Value):
        by_value = {v: id_names[id(v)] for v in _value_order(output) if id(v) in id_names}
        rows, text = _explain_value(output, by_value)
    else:
        from ..tensor import Tensor

        if not isinstance(output, Tensor):
            raise TypeError(f"explain takes a nabla.scalar.Value or a nabla Tensor, got "
                            f"{type(output).__name__}")
        rows, text = _explain_tensor(output, id_names)
    if not quiet:
        print(text, file=file if file is not None else sys.stdout)
    return Explanation(rows, text)


def _id_names(names) -> dict:
    out = {}
    for k, v in dict(names or {}).items():
        if isinstance(k, str) and not isinstance(v, str):
            k, v = v, k  # {"x": x} as well as {x: "x"}
        if not isinstance(v, str):
            raise TypeError(f"names maps Values or tensors to str names, got {v!r}")
        out[id(k)] = v
    return out


# --------------------------------------------------------------------------- nudge

@dataclass
class Nudge:
    """The result of ``nudge``: the output at ``x``, ``x + h`` and ``x - h``; the
    forward difference ``numeric``, the ``central`` difference, the ``analytic``
    derivative from backprop, and ``difference = numeric - analytic``."""

    name: str
    x: float
    h: float
    f0: float
    f_plus: float
    f_minus: float
    numeric: float
    central: float
    analytic: float
    output_name: str = "L"

    @property
    def difference(self) -> float:
        return self.numeric - self.analytic

    def __str__(self) -> str:
        f, n = self.output_name, self.name
        return (f"nudge {n} by h={_num(self.h)}: ({f}({n}+h) - {f}({n}))/h = "
                f"{self.numeric:.6g} (central {self.central:.6g}), backprop says "
                f"{self.analytic:.6g}; difference {self.difference:.2g}")


def nudge(f, leaf, h: float = 1e-4, index=None, file=None, quiet: bool = False) -> Nudge:
    """Check a derivative numerically: move ``leaf`` by ``h`` and see how much the
    output ``f()`` moves, next to what backpropagation says.

    Args:
        f: a function of no arguments that builds the output from the leaves again
            (``lambda: (a*b + c)*f``): a graph records values, not the recipe, so it
            must be re-run after each nudge. It returns a ``Value`` or a one-element
            ``Tensor``.
        leaf: the ``Value`` or leaf ``Tensor`` to move (it is put back afterwards).
        h: the size of the nudge.
        index: which element of a tensor leaf with more than one element.
        file: where to print the result line (default ``sys.stdout``); ``quiet``: don't.

    Returns:
        A :class:`Nudge` with ``numeric`` ((f(x+h) - f(x))/h), ``central``
        ((f(x+h) - f(x-h))/(2h)), ``analytic`` (from backprop) and ``difference``.
        The leaves' ``.grad`` are left as they were.

    >>> import nabla
    >>> w = nabla.tensor([1.0, 2.0], dtype=nabla.float64, requires_grad=True)
    >>> r = nudge(lambda: (w ** 3).sum(), w, h=1e-6, index=1, quiet=True)
    >>> round(r.analytic, 6), round(r.central, 6), abs(r.difference) < 1e-4
    (12.0, 12.0, True)
    """
    if not callable(f):
        raise TypeError("nudge needs a function that rebuilds the output, e.g. "
                        "nudge(lambda: (a*b + c)*f, a): a finished graph cannot be re-run "
                        "with a nudged input")
    if not (isinstance(h, (int, float)) and math.isfinite(h) and h != 0):
        raise ValueError(f"h must be a non-zero finite number, got {h!r}")
    h = float(h)
    if isinstance(leaf, Value):
        result = _nudge_value(f, leaf, h)
    else:
        result = _nudge_tensor(f, leaf, h, index)
    if not quiet:
        print(result, file=file if file is not None else sys.stdout)
    return result


def _as_value_output(out):
    if not isinstance(out, Value):
        raise TypeError(f"f() must return a Value when the leaf is a Value, got "
                        f"{type(out).__name__}")
    return out


def _nudge_value(f, leaf, h):
    x = leaf.data
    out = _as_value_output(f())
    order = _value_order(out)
    if leaf not in order:
        raise ValueError("the leaf is not part of the graph f() builds, so nudging it "
                         "cannot change the output")
    grads = {out: 1.0}
    for v in order:  # the same pass as backward(), into a dict: .grad stays untouched
        g = grads.get(v, 0.0)
        for child, local in zip(v._prev, v._local):
            grads[child] = grads.get(child, 0.0) + g * local
    analytic = grads.get(leaf, 0.0)
    f0 = out.data
    try:
        leaf.data = x + h
        f_plus = _as_value_output(f()).data
        leaf.data = x - h
        f_minus = _as_value_output(f()).data
    finally:
        leaf.data = x
    return Nudge(leaf.label or "x", x, h, f0, f_plus, f_minus, (f_plus - f0) / h,
                 (f_plus - f_minus) / (2 * h), analytic, out.label or "L")


def _nudge_tensor(f, leaf, h, index):
    from ..autograd import grad, no_grad
    from ..tensor import Tensor

    if not isinstance(leaf, Tensor):
        raise TypeError(f"nudge moves a Value or a Tensor, got {type(leaf).__name__}")
    if leaf.grad_fn is not None or not leaf.requires_grad:
        raise ValueError("nudge moves a leaf tensor that requires grad (the thing backprop "
                         "computes a gradient for)")
    if index is None:
        if leaf._data.size != 1:
            raise ValueError(f"the leaf has {leaf._data.size} elements: pass index= to say "
                             "which one to nudge")
        index = (0,) * leaf._data.ndim
    index = tuple(np.atleast_1d(index)) if not isinstance(index, tuple) else index

    def value(out):
        if not isinstance(out, Tensor) or out._data.size != 1:
            raise TypeError("f() must return a one-element Tensor")
        return float(out._data.reshape(()))

    out = f()
    f0 = value(out)
    (g,) = grad(out, leaf)
    analytic = float(g._data[index])
    x = float(leaf._data[index])
    try:
        with no_grad():
            leaf._data[index] = x + h
            f_plus = value(f())
            leaf._data[index] = x - h
            f_minus = value(f())
    finally:
        leaf._data[index] = x
    return Nudge(f"x{list(index)}", x, h, f0, f_plus, f_minus, (f_plus - f0) / h,
                 (f_plus - f_minus) / (2 * h), analytic)
