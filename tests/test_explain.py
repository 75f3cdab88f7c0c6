"""nabla.viz.explain and nudge: the chain-rule table of the course notes, checked row by
row, for Values and Tensors; numerical derivatives next to the analytic ones."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

import nabla
from nabla.scalar import Value
from nabla.viz import Explanation, Nudge, explain, nudge


def course_example():
    """e = a*b, d = e + c, L = d*f with a=2, b=-3, c=10, f=-2 (so L = -8)."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L, dict(a=a, b=b, c=c, d=d, e=e, f=f)


# ---------------------------------------------------------------------------- Values

def test_course_example_rows():
    L, v = course_example()
    t = explain(L, quiet=True)
    assert isinstance(t, Explanation) and len(t) == 7
    got = [(r["node"], r["op"], r["value"], r["parent"], r["local"], r["rule"], r["upstream"],
            r["product"], r["grad"]) for r in t.rows]
    assert got == [
        ("L", "*", -8.0, None, None, "", None, None, 1.0),
        ("d", "+", 4.0, "L", -2.0, "f", 1.0, -2.0, -2.0),   # dL/dd = f
        ("f", "", -2.0, "L", 4.0, "d", 1.0, 4.0, 4.0),      # dL/df = d
        ("e", "*", -6.0, "d", 1.0, "1", -2.0, -2.0, -2.0),  # dd/de = 1
        ("c", "", 10.0, "d", 1.0, "1", -2.0, -2.0, -2.0),
        ("a", "", 2.0, "e", -3.0, "b", -2.0, 6.0, 6.0),     # de/da = b: -2 * -3 = 6
        ("b", "", -3.0, "e", 2.0, "a", -2.0, -4.0, -4.0),
    ]


def test_course_example_text():
    L, _ = course_example()
    out = io.StringIO()
    t = explain(L, file=out)
    assert out.getvalue() == t.text + "\n" and str(t) == t.text
    lines = t.text.splitlines()
    assert lines[0].split() == ["node", "op", "value", "local", "derivative", "chain", "rule:",
                                "incoming", "*", "local", "=", "gradient"]
    assert lines[1].split() == ["L", "*", "-8", "dL/dL", "=", "1"]
    assert "dL/dd = f = -2" in lines[2] and "dL/dd = dL/dL * dL/dd = 1 * -2 = -2" in lines[2]
    assert "dd/de = 1 " in lines[4] and "dL/de = dL/dd * dd/de = -2 * 1 = -2" in lines[4]
    assert lines[6].startswith("a ") and "de/da = b = -3" in lines[6]
    assert lines[6].endswith("dL/da = dL/de * de/da = -2 * -3 = 6")
    assert lines[7].endswith("dL/db = dL/de * de/db = -2 * 2 = -4")
    assert repr(t) == "<Explanation: 7 rows; print() it for the table>"
    assert list(t) == t.rows and t[0]["node"] == "L"


def test_explain_changes_no_grad_and_agrees_with_backward():
    L, v = course_example()
    t = explain(L, quiet=True)
    assert all(x.grad == 0.0 for x in v.values()) and L.grad == 0.0
    L.backward()
    final = {r["node"]: r["grad"] for r in t.rows}  # the last row of a node is its total
    for name, x in v.items():
        assert final[name] == x.grad, name


def test_a_value_used_twice_gets_two_rows_that_add_up():
    x = Value(3.0, label="x")
    y = x * x + x  # dy/dx = 2x + 1 = 7
    y.label = "y"
    t = explain(y, quiet=True)
    rows = [r for r in t.rows if r["node"] == "x"]
    assert [r["product"] for r in rows] == [1.0, 3.0, 3.0]
    assert [r["grad"] for r in rows] == [1.0, 4.0, 7.0]
    assert "(sum so far 7)" in t.text.splitlines()[-1]
    y.backward()
    assert x.grad == 7.0


@pytest.mark.parametrize("build, rule", [
    (lambda x: x.tanh(), "1 - y**2"),
    (lambda x: x.sigmoid(), "y*(1 - y)"),
    (lambda x: x.relu(), "1 if x > 0 else 0"),
    (lambda x: x.exp(), "y"),
    (lambda x: x.log(), "1/x"),
    (lambda x: x ** 3, "3*x**2"),
    (lambda x: 2 ** x, "y*ln(2)"),
    (lambda x: -x, "-1"),
    (lambda x: x.softplus(), "sigmoid(x)"),
    (lambda x: x - 1.0, "1"),
    (lambda x: 1.0 - x, "-1"),
    (lambda x: x / 4.0, "1/4"),
])
def test_local_derivatives_and_their_formulas(build, rule):
    x = Value(0.7, label="x")
    y = build(x)
    y.label = "y"
    row = [r for r in explain(y, quiet=True).rows if r["node"] == "x"][0]
    assert row["rule"] == rule
    h = 1e-6
    x2 = Value(0.7 + h)
    numeric = (build(x2).data - y.data) / h
    assert row["local"] == pytest.approx(numeric, rel=1e-4, abs=1e-5)


def test_division_formula_for_the_denominator():
    a, b = Value(3.0, label="a"), Value(2.0, label="b")
    q = a / b
    q.label = "q"
    rows = {r["node"]: r for r in explain(q, quiet=True).rows}
    assert rows["a"]["rule"] == "1/b" and rows["a"]["local"] == 0.5
    assert rows["b"]["rule"] == "-a/b**2" and rows["b"]["local"] == -0.75


def test_unnamed_nodes_and_names_argument():
    a = Value(2.0)
    y = (a * 3).tanh()
    t = explain(y, quiet=True, names={a: "a"})
    assert [r["node"] for r in t.rows] == ["v1", "v2", "a", "3"]  # constants read as values
    assert "dv2/da = 3 = 3" not in t.text and "dv2/da = 3" in t.text


def test_neuron_grads_match_backward():
    import random

    from nabla.scalar.nn import Neuron

    n = Neuron(3, activation="tanh", rng=random.Random(0))
    xs = [Value(0.5, label="x0"), Value(-1.0, label="x1"), Value(2.0, label="x2")]
    out = n(xs)
    t = explain(out, quiet=True)
    out.backward()
    final = {}
    for r in t.rows:
        final[r["node"]] = r["grad"]
    for p in [*n.parameters(), *xs]:
        assert final[p.label] == pytest.approx(p.grad), p.label


def test_explain_refuses_other_things():
    with pytest.raises(TypeError, match="Value or a nabla Tensor"):
        explain(3.0)
    with pytest.raises(TypeError, match="str names"):
        explain(Value(1.0), names={Value(1.0): 2})


# --------------------------------------------------------------------------- Tensors

def test_scalar_tensor_graph_gives_the_same_table():
    t64 = dict(dtype=nabla.float64, requires_grad=True)
    a, b = nabla.tensor(2.0, **t64), nabla.tensor(-3.0, **t64)
    c, f = nabla.tensor(10.0, **t64), nabla.tensor(-2.0, **t64)
    L = (a * b + c) * f
    t = explain(L, names={a: "a", b: "b", c: "c", f: "f", L: "L"}, quiet=True)
    got = [(r["node"], r["parent"], r["local"], float(r["upstream"]) if r["parent"] else None,
            float(r["product"]) if r["parent"] else None, float(r["grad"])) for r in t.rows]
    assert got == [
        ("L", None, None, None, None, 1.0),
        ("add", "L", -2.0, 1.0, -2.0, -2.0),
        ("f", "L", 4.0, 1.0, 4.0, 4.0),
        ("mul", "add", 1.0, -2.0, -2.0, -2.0),
        ("c", "add", 1.0, -2.0, -2.0, -2.0),
        ("a", "mul", -3.0, -2.0, 6.0, 6.0),
        ("b", "mul", 2.0, -2.0, -4.0, -4.0),
    ]
    assert "dL/da = dL/dmul * dmul/da = -2 * -3 = 6" in t.text
    assert a.grad is None  # nothing accumulated


def test_tensor_graph_rows_have_arrays_and_descriptions():
    rng = np.random.default_rng(0)
    x = nabla.tensor(rng.standard_normal((4, 3)))
    W = nabla.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = nabla.tensor(rng.standard_normal(2), requires_grad=True)
    loss = nabla.linear(x, W, b).tanh().sum()
    t = explain(loss, names={W: "W", b: "b"}, quiet=True)
    assert [(r["node"], r["op"]) for r in t.rows] == [
        ("sum", "SumBackward"), ("tanh", "TanhBackward"), ("linear", "LinearBackward"),
        ("W", ""), ("b", "")]
    linear_row = t.rows[2]
    assert linear_row["local"] == "d tanh(a)/da = 1 - tanh(a)**2"
    assert linear_row["product"].shape == (4, 2)
    rows = {r["node"]: r for r in t.rows}
    loss.backward()
    np.testing.assert_allclose(rows["W"]["grad"], W.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rows["b"]["grad"], b.grad.numpy(), rtol=1e-12)
    assert "norm" in t.text or "[" in t.text


def test_tensor_explain_needs_the_graph_and_a_one_element_output():
    w = nabla.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        explain(y)
    y2 = (w * w).sum()
    y2.backward(retain_graph=True)
    assert len(explain(y2, quiet=True).rows) == 4  # after retain_graph it works
    with pytest.raises(ValueError, match="one-element"):
        explain(w * 2)
    with pytest.raises(ValueError, match="no backward graph"):
        explain(nabla.tensor(1.0))


# ----------------------------------------------------------------------------- nudge

def test_nudge_course_example(capsys):
    L, v = course_example()
    a, b, c, f = v["a"], v["b"], v["c"], v["f"]
    r = nudge(lambda: (a * b + c) * f, a, h=0.001)
    assert isinstance(r, Nudge)
    assert r.analytic == 6.0
    assert r.numeric == pytest.approx(6.0, abs=1e-9)  # L is linear in a
    assert r.central == pytest.approx(6.0, abs=1e-9)
    assert r.difference == pytest.approx(r.numeric - 6.0)
    assert (r.f0, r.x, r.h) == (-8.0, 2.0, 0.001)
    assert r.f_plus == pytest.approx(-8.0 + 0.006) and r.f_minus == pytest.approx(-8.0 - 0.006)
    out = capsys.readouterr().out
    assert out.startswith("nudge a by h=0.001: (L(a+h) - L(a))/h = 6 (central 6), backprop "
                          "says 6; difference ")
    assert a.data == 2.0 and a.grad == 0.0  # put back, and no gradient accumulated


def test_nudge_central_difference_is_closer_on_a_curve():
    x = Value(0.8, label="x")
    r = nudge(lambda: (x * x).tanh(), x, h=1e-3, quiet=True)
    exact = 2 * 0.8 * (1 - math.tanh(0.64) ** 2)
    assert r.analytic == pytest.approx(exact, rel=1e-12)
    assert abs(r.numeric - exact) > 10 * abs(r.central - exact)
    assert abs(r.numeric - exact) < 1e-3
    assert x.data == 0.8


def test_nudge_tensor_element():
    w = nabla.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=nabla.float64, requires_grad=True)
    r = nudge(lambda: (w ** 3).sum(), w, h=1e-5, index=(1, 0), quiet=True)
    assert r.analytic == pytest.approx(27.0)
    assert r.central == pytest.approx(27.0, rel=1e-8)
    assert r.numeric == pytest.approx(27.0, rel=1e-4)
    assert w.grad is None and w.numpy(force=True)[1, 0] == 3.0
    s = nabla.tensor(0.5, dtype=nabla.float64, requires_grad=True)
    assert nudge(lambda: s.exp(), s, quiet=True).analytic == pytest.approx(math.exp(0.5))


def test_nudge_bad_input():
    a = Value(1.0, label="a")
    other = Value(5.0)
    with pytest.raises(TypeError, match="function that rebuilds"):
        nudge(a * 2, a)
    with pytest.raises(ValueError, match="h must be"):
        nudge(lambda: a * 2, a, h=0)
    with pytest.raises(ValueError, match="not part of the graph"):
        nudge(lambda: other * 2, a)
    with pytest.raises(TypeError, match="must return a Value"):
        nudge(lambda: 2.0, a)
    w = nabla.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="index="):
        nudge(lambda: w.sum(), w)
    with pytest.raises(ValueError, match="leaf tensor"):
        nudge(lambda: (w * 2).sum(), w * 2, index=0)
    with pytest.raises(TypeError, match="one-element"):
        nudge(lambda: w * 2, w, index=0)
    with pytest.raises(TypeError, match="moves a Value or a Tensor"):
        nudge(lambda: a, 3.0)
