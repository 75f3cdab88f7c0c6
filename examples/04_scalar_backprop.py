"""Backpropagation on single numbers, with the scalar engine ``nabla.scalar.Value``.

Course idea: every Value remembers how it was computed, so the expression forms a
graph. ``L.backward()`` walks that graph from the output back to the inputs and applies
the chain rule at every node: dL/d(child) = dL/d(node) · d(node)/d(child). Each
gradient says how much L would change if that number were nudged up a little, which
we check by actually nudging it (a numerical derivative).

1. The expression L = (a·b + c)·f with a = 2, b = -3, c = 10, f = -2 gives L = -8 and
   dL/da = 6, dL/db = -4, dL/dc = -2, dL/de = -2, dL/dd = -2, dL/df = 4.
2. A neuron o = tanh(x1·w1 + x2·w2 + b) with x1 = 2, x2 = 0, w1 = -3, w2 = 1 and
   b = 6.8813735870195432 outputs 0.7071; backpropagation gives dx1 = -1.5,
   dx2 = 0.5, dw1 = 1.0, dw2 = 0.0 (tanh' = 1 - o² = 0.5 at this point).

Run:  python examples/04_scalar_backprop.py [--out DIR]   (PNG needs Graphviz's dot)
"""

import argparse
import shutil
from pathlib import Path

from nabla.scalar import Value, draw, to_dot

H = 0.001  # the nudge used for the numerical derivative


def expression(a=2.0, b=-3.0, c=10.0, f=-2.0):
    """L = (a*b + c) * f, with every intermediate result named as in the course."""
    a, b, c, f = Value(a, label="a"), Value(b, label="b"), Value(c, label="c"), \
        Value(f, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return {"a": a, "b": b, "c": c, "e": e, "d": d, "f": f, "L": L}


def L_of(a=2.0, b=-3.0, c=10.0, f=-2.0, nudge_e=0.0, nudge_d=0.0):
    """The same expression on plain floats (no graph); nudge_e / nudge_d nudge the
    intermediate results e and d."""
    e = a * b + nudge_e
    d = e + c + nudge_d
    return d * f


def numerical_gradient(name):
    """(L(x + h) - L(x)) / h: how much L moves when x is nudged up by h."""
    if name in ("e", "d"):
        return (L_of(**{f"nudge_{name}": H}) - L_of()) / H
    start = {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0}[name]
    return (L_of(**{name: start + H}) - L_of()) / H


def neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")  # chosen so that n = 0.8814 and o = 1/√2
    x1w1, x2w2 = x1 * w1, x2 * w2
    x1w1.label, x2w2.label = "x1w1", "x2w2"  # names without operators read better
    x1w1_x2w2 = x1w1 + x2w2                  # in explain's d(name)/d(name) column
    x1w1_x2w2.label = "x1w1x2w2"
    n = x1w1_x2w2 + b  # the neuron's weighted input z = w·x + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "n": n}


def main(quick=False, out_dir=None):
    nodes = expression()
    L = nodes["L"]
    L.backward()
    print(f"L = (a*b + c) * f = {L.data}")
    grads, nudged = {}, {}
    for name in ("a", "b", "c", "e", "d", "f"):
        grads[name] = nodes[name].grad
        nudged[name] = numerical_gradient(name)
        print(f"  dL/d{name} = {grads[name]:5.1f}   nudged by {H}: {nudged[name]:8.4f}")

    o, inputs = neuron()
    neuron_grads = {k: v.grad for k, v in inputs.items()}
    print(f"tanh neuron: o = {o.data:.4f};  " +
          "  ".join(f"d{k} = {g:.4f}" for k, g in neuron_grads.items()))

    explained = _explain(o)
    files = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for stem, value in (("04_scalar_backprop", L), ("04_tanh_neuron", o)):
            # The DOT text always; Graphviz's rendering when its `dot` program exists.
            (out / f"{stem}.dot").write_text(to_dot(value) + "\n")
            files.append(out / f"{stem}.dot")
            if shutil.which("dot"):
                files.append(Path(draw(value, out / f"{stem}_graphviz.png", format="png")))
        files.append(_plot_graphs([L, o], out / "04_scalar_backprop.png"))
    return {"L": L.data, "grads": grads, "numerical_grads": nudged, "o": o.data,
            "neuron_grads": neuron_grads, "files": [str(f) for f in files],
            "explained": explained}


def _backward_order(out):
    """Every node of out's graph, each before the nodes it was made from."""
    order, seen = [], set()

    def visit(v):  # depth-first: a node goes in after everything it was made from
        if v not in seen:
            seen.add(v)
            for child in v._prev:
                visit(child)
            order.append(v)

    visit(out)
    return order[::-1]  # from the output back to the inputs, as backward() walks


def _plot_graphs(outputs, path):
    """Draw each graph with matplotlib (no Graphviz needed): a column per distance from
    the output, every node showing its value (data) and dL/dnode (grad)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 8))
    grid = fig.add_gridspec(2, 1, height_ratios=[2, 4])
    titles = ["L = (a·b + c)·f", "a tanh neuron: o = tanh(x1·w1 + x2·w2 + b)"]
    for row, out in enumerate(outputs):
        ax = fig.add_subplot(grid[row])
        order = _backward_order(out)
        depth = {out: 0}
        for v in order:  # a node sits one column left of its leftmost user
            for child in v._prev:
                depth[child] = max(depth.get(child, 0), depth[v] + 1)
        columns = {}
        for v in order:
            columns.setdefault(depth[v], []).append(v)
        pos = {v: (-d, i - (len(vs) - 1) / 2) for d, vs in columns.items()
               for i, v in enumerate(vs)}
        for v in order:
            for child in v._prev:
                ax.annotate("", pos[v], pos[child], arrowprops={"arrowstyle": "->",
                                                               "color": "grey"})
        for v in order:
            op = f"  [{v._op}]" if v._op else ""
            ax.text(*pos[v], f"{v.label}{op}\ndata {v.data:.4g}\ngrad {v.grad:.4g}",
                    ha="center", va="center", fontsize=9,
                    bbox={"boxstyle": "round", "fc": "#fff7e0" if v._op else "#e8f0fb"})
        ax.set_xlim(-max(depth.values()) - 0.6, 0.6)
        half = max(len(vs) for vs in columns.values()) / 2
        ax.set_ylim(-half - 0.1, half + 0.1)
        ax.set_title(titles[row] + "   (data: value, grad: d output / d node)", fontsize=10)
        ax.set_axis_off()
    fig.savefig(path, dpi=70, bbox_inches="tight")
    return path


def _explain(value):
    """Print nabla.viz.explain's table of the backward pass, node by node."""
    try:
        from nabla.viz import explain
    except ImportError:  # an older nabla without the explain helper
        return False
    explain(value)  # prints the table: value, local derivative, incoming * local
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(no effect: already instant)")
    parser.add_argument("--out", metavar="DIR", help="save the graphs (.dot, .png) in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
