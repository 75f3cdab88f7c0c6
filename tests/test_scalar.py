"""Tests for nabla.scalar: the Value engine, its small nn library, and graph drawing.

Expected numbers come from PyTorch (float64) computing the same expression, or from
the course notes; never from nabla itself.
"""

import math
import random
import re
import shutil
import stat
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nabla
from nabla.scalar import Value, draw, nn, to_dot
from nabla.scalar import graph as graph_module

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def torch_leaves(*xs):
    torch = pytest.importorskip("torch")
    return [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]


def torch_softplus(t):
    torch = pytest.importorskip("torch")
    return torch.nn.functional.softplus(t)


def nabla_softplus(v):
    return v.softplus()


def check_against_torch(expr, inputs, rel=1e-10, abs_=1e-12):
    """Run expr(*leaves, softplus) in both engines and compare output and every grad."""
    vs = [Value(x) for x in inputs]
    out = expr(*vs, nabla_softplus)
    out.backward()
    ts = torch_leaves(*inputs)
    tout = expr(*ts, torch_softplus)
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=rel, abs=abs_)
    for v, t in zip(vs, ts):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, rel=rel, abs=abs_)


# ---------------------------------------------------------------------------------------
# values and gradients against PyTorch
# ---------------------------------------------------------------------------------------


def sanity_expr(x, softplus):
    # the shape of micrograd's first sanity check: reuse, relu, products with itself
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


def more_ops_expr(a, b, softplus):
    # the shape of micrograd's second check: in-place sums, powers, division both ways
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    return g + 10.0 / f


EXPRESSIONS = {
    "sigmoid-log": lambda a, b, c, sp: (a * b).sigmoid().log() + (c * c + 1).log() * a,
    "softplus-exp": lambda a, b, c, sp: sp(a - b) * (c / 4).exp() - sp(-c) / (b * b + 0.5),
    "tanh-div": lambda a, b, c, sp: (a / (b * b + 1)).tanh() * c - a / (c * c + 2),
    "powers": lambda a, b, c, sp: (a * a + 1) ** 0.5 + (b * b + 2) ** -1.5 * c**3 - c**-2,
    "relu-chain": lambda a, b, c, sp: ((a - b).relu() * c + (b * c).relu()).tanh() ** 2,
    "numbers-both-sides": lambda a, b, c, sp: 2 * a + a * 3 - (1 - b) + 1 / c + c / 2 - 5 + a,
    "sub-neg": lambda a, b, c, sp: -(a - b) - (-c) * a - (b - 0.5),
    "exp-log": lambda a, b, c, sp: (a.exp() + b.exp()).log() - (c * 0.3).sigmoid().exp(),
}


def test_micrograd_sanity_expression_matches_torch():
    check_against_torch(sanity_expr, [-4.0])


def test_micrograd_more_ops_expression_matches_torch():
    check_against_torch(more_ops_expr, [-4.0, 2.0])


@pytest.mark.parametrize("name", list(EXPRESSIONS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compound_expressions_match_torch(name, seed):
    rng = random.Random(seed)
    inputs = [rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(0.5, 2)]
    check_against_torch(EXPRESSIONS[name], inputs)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-5, 5, allow_nan=False),
    st.floats(-5, 5, allow_nan=False),
    st.floats(0.1, 5, allow_nan=False),
)
def test_random_points_match_torch(a, b, c):
    for expr in EXPRESSIONS.values():
        check_against_torch(expr, [a, b, c], rel=1e-9, abs_=1e-9)


def test_number_raised_to_value_matches_torch():
    torch = pytest.importorskip("torch")
    v = Value(1.3)
    out = 2**v * 3 + 0.5**v
    out.backward()
    (t,) = torch_leaves(1.3)
    tout = torch.pow(2.0, t) * 3 + torch.pow(0.5, t)
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-12)


@pytest.mark.parametrize("x", [-800.0, -30.0, 0.0, 30.0, 800.0])
def test_sigmoid_and_softplus_are_stable_at_extremes(x):
    torch = pytest.importorskip("torch")
    for op, top in ((Value.sigmoid, torch.sigmoid), (Value.softplus, torch_softplus)):
        v = Value(x)
        out = op(v)
        out.backward()
        (t,) = torch_leaves(x)
        tout = top(t)
        tout.backward()
        assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-300)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("k", [0, 0.5, 2, 3.0])
def test_power_at_zero_matches_torch(k):
    pytest.importorskip("torch")
    v = Value(0.0)
    out = v**k
    out.backward()
    (t,) = torch_leaves(0.0)
    tout = t**k
    tout.backward()
    assert out.data == tout.item()
    assert v.grad == t.grad.item()


def test_dot_matches_sum_of_products_and_torch():
    pytest.importorskip("torch")
    rng = random.Random(3)
    wv = [rng.uniform(-1, 1) for _ in range(5)]
    xv = [rng.uniform(-1, 1) for _ in range(5)]
    ws, xs, b = [Value(w) for w in wv], [Value(x) for x in xv], Value(0.25)
    out = Value.dot(ws, xs[:3] + xv[3:], b).tanh()  # mixed: last two inputs are constants
    out.backward()
    tw, tx, tb = torch_leaves(*wv), torch_leaves(*xv), torch_leaves(0.25)[0]
    tout = (sum(w * x for w, x in zip(tw, tx)) + tb).tanh()
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    for v, t in zip(ws + xs[:3] + [b], tw + tx[:3] + [tb]):
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-12)
    assert [x.grad for x in xs[3:]] == [0.0, 0.0]  # constants in the dot take no gradient


def test_mlp_forward_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    model = nn.MLP(3, [4, 5, 2], activation="tanh", rng=random.Random(7))
    x = [0.5, -1.5, 2.0]
    out = model(x)
    loss = out[0] * out[0] + out[1].sigmoid()
    loss.backward()

    def torch_layer(layer):
        w = torch.tensor([[p.data for p in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        return w.requires_grad_(), b.requires_grad_()

    params = [torch_layer(layer) for layer in model.layers]
    h = torch.tensor(x, dtype=torch.float64)
    for i, (w, b) in enumerate(params):
        h = w @ h + b
        if i < len(params) - 1:
            h = torch.tanh(h)
    tloss = h[0] * h[0] + torch.sigmoid(h[1])
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    for layer, (w, b) in zip(model.layers, params):
        got_w = [[p.grad for p in n.w] for n in layer.neurons]
        np.testing.assert_allclose(got_w, w.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose([n.b.grad for n in layer.neurons], b.grad.numpy(), rtol=1e-10)


# ---------------------------------------------------------------------------------------
# the course examples (expected numbers given by the course notes)
# ---------------------------------------------------------------------------------------


def test_course_expression_gradients():
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    d = e + c
    f = Value(-2.0, label="f")
    L = d * f
    L.backward()
    assert L.data == -8.0
    grads = {v.label or name: v.grad for name, v in dict(a=a, b=b, c=c, d=d, e=e, f=f).items()}
    assert grads == {"a": 6.0, "b": -4.0, "c": -2.0, "d": -2.0, "e": -2.0, "f": 4.0}
    assert L.grad == 1.0


def test_course_tanh_neuron():
    x1, x2 = Value(2.0), Value(0.0)
    w1, w2 = Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert o.data == pytest.approx(0.7071, abs=1e-4)
    assert x1.grad == pytest.approx(-1.5, abs=1e-4)
    assert x2.grad == pytest.approx(0.5, abs=1e-4)
    assert w1.grad == pytest.approx(1.0, abs=1e-4)
    assert w2.grad == pytest.approx(0.0, abs=1e-4)


def test_tanh_neuron_written_with_exp_agrees_with_tanh():
    # the course's second version of the same neuron: tanh spelled out with exp and /
    def neuron(use_exp):
        x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
        n = x1 * w1 + x2 * w2 + Value(6.8813735870195432)
        if use_exp:
            e = (2 * n).exp()
            o = (e - 1) / (e + 1)
        else:
            o = n.tanh()
        o.backward()
        return [o.data, x1.grad, x2.grad, w1.grad, w2.grad]

    assert neuron(True) == pytest.approx(neuron(False), rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------------------------
# the engine's behaviour
# ---------------------------------------------------------------------------------------


def test_backward_twice_after_zero_grad_gives_identical_grads():
    model = nn.MLP(2, [3, 1], rng=random.Random(0))
    x = [Value(0.3), Value(-0.8)]
    loss = (model(x) - 1.0) ** 2
    loss.backward()
    first = [p.grad for p in model.parameters()] + [v.grad for v in x]
    model.zero_grad()
    for v in x:
        v.grad = 0.0
    loss.backward()
    assert [p.grad for p in model.parameters()] + [v.grad for v in x] == first
    assert any(first)


def test_backward_twice_without_zero_grad_accumulates_like_torch():
    pytest.importorskip("torch")
    vs = [Value(0.7), Value(-1.2)]
    out = more_ops_expr(*vs, None)
    out.backward()
    out.backward()
    ts = torch_leaves(0.7, -1.2)
    tout = more_ops_expr(*ts, None)
    tout.backward(retain_graph=True)
    tout.backward()
    for v, t in zip(vs, ts):
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-10)


def test_deep_chain_of_100000_additions():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1
    y.backward()
    assert y.data == 100_000.5
    assert x.grad == 1.0
    assert sys.getrecursionlimit() < 100_000  # so a recursive sort would have failed
    dot = to_dot(y)  # drawing walks the graph iteratively too
    assert dot.count('_op [label="+"]') == 100_000


def test_deep_chain_of_multiplications_gradient():
    x = Value(1.0)
    y = x
    for _ in range(50_000):
        y = y * 1.00001
    y.backward()
    assert y.data == pytest.approx(1.00001**50_000, rel=1e-9)
    assert x.grad == pytest.approx(1.00001**50_000, rel=1e-9)


def test_numbers_on_either_side():
    v = Value(4.0)
    cases = {
        "v + 1": (v + 1, 5.0),
        "1 + v": (1 + v, 5.0),
        "v - 1": (v - 1, 3.0),
        "1 - v": (1 - v, -3.0),
        "2 * v": (2 * v, 8.0),
        "v * 2": (v * 2, 8.0),
        "v / 2": (v / 2, 2.0),
        "1 / v": (1 / v, 0.25),
        "2 ** v": (2**v, 16.0),
        "v ** 2": (v**2, 16.0),
        "-v": (-v, -4.0),
    }
    for name, (out, expected) in cases.items():
        assert isinstance(out, Value), name
        assert out.data == expected, name


def test_shared_leaf_used_twice_in_one_op():
    a = Value(3.0)
    b = a * a
    b.backward()
    assert a.grad == 6.0


def test_backward_from_a_leaf_seeds_one():
    v = Value(2.5)
    v.backward()
    assert v.grad == 1.0


def test_inputs_are_stored_as_floats():
    assert type(Value(3).data) is float
    assert Value(np.float32(1.5)).data == 1.5
    assert Value(True).data == 1.0


def test_repr_and_slots():
    v = Value(2.0)
    assert repr(v) == "Value(data=2.0, grad=0.0)"
    assert not hasattr(v, "__dict__")
    with pytest.raises(AttributeError):
        v.something_else = 1
    u = v * 3
    assert u._op == "*" and u._prev == (v, u._prev[1]) and u._prev[1].data == 3.0
    assert Value(1.0, label="x").label == "x"


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["x", None, [1.0], 1 + 2j, Value(1.0)])
def test_value_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="real number"):
        Value(bad)


def test_operations_with_non_numbers_raise_type_error_and_leave_operand_alone():
    v = Value(2.0)
    for op in (lambda: v + "x", lambda: "x" * v, lambda: v - None, lambda: v / [1]):
        with pytest.raises(TypeError):
            op()
    assert (v.data, v.grad, v._prev) == (2.0, 0.0, ())


@pytest.mark.parametrize("k", [Value(2.0), "2", None])
def test_power_needs_a_plain_number_exponent(k):
    with pytest.raises(TypeError, match="exponent|int or float"):
        Value(3.0) ** k


@pytest.mark.parametrize("x", [0.0, -1.0])
def test_log_of_non_positive_raises(x):
    with pytest.raises(ValueError, match="positive"):
        Value(x).log()


def test_domain_errors_have_clear_messages():
    with pytest.raises(ValueError, match="no real value"):
        Value(-8.0) ** (1 / 3)
    with pytest.raises(ValueError, match="positive base"):
        (-2) ** Value(0.5)
    with pytest.raises(TypeError):
        "2" ** Value(0.5)
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError):
        Value(0.0) ** -1
    with pytest.raises(OverflowError):
        Value(1000.0).exp()


def test_dot_checks_lengths():
    with pytest.raises(ValueError, match="as many weights as inputs"):
        Value.dot([Value(1.0)], [1.0, 2.0])


def test_nn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nin"):
        nn.Neuron(0)
    with pytest.raises(ValueError, match="activation"):
        nn.Neuron(2, activation="gelu")
    with pytest.raises(ValueError, match="nout"):
        nn.Layer(2, 0)
    with pytest.raises(ValueError, match="at least one"):
        nn.MLP(2, [])
    with pytest.raises(TypeError, match="nonlin"):
        nn.MLP(2, [3, 1], nonlin=False)
    with pytest.raises(ValueError, match="expects 2 inputs, got 3"):
        nn.Neuron(2)([1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------------------
# nn
# ---------------------------------------------------------------------------------------

# micrograd's tiny demo dataset shape: four points, targets +-1
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def mse(model):
    preds = [model(x) for x in XS]
    return sum((p - y) ** 2 for p, y in zip(preds, YS)) / len(YS)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_training_reduces_loss(activation):
    model = nn.MLP(3, [4, 4, 1], activation=activation, rng=random.Random(0))
    losses = []
    for _ in range(60):
        loss = mse(model)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.5 * losses[0]
    assert all(math.isfinite(x) for x in losses)


def test_zero_grad_clears_every_parameter():
    model = nn.MLP(3, [4, 1], rng=random.Random(0))
    mse(model).backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_parameter_counts_and_shapes():
    model = nn.MLP(3, [4, 4, 1])
    assert len(model.parameters()) == (3 + 1) * 4 + (4 + 1) * 4 + (4 + 1) * 1
    assert len(set(map(id, model.parameters()))) == len(model.parameters())
    assert len(nn.Layer(3, 2)([1.0, 2.0, 3.0])) == 2
    assert isinstance(nn.Layer(3, 1)([1.0, 2.0, 3.0]), Value)
    assert isinstance(nn.MLP(2, [1, 3, 1])([1.0, 2.0]), Value)  # a 1-wide middle layer


def test_last_layer_is_linear_and_others_use_the_activation():
    model = nn.MLP(2, [3, 3, 1], activation="sigmoid")
    assert [n.nonlin for layer in model.layers for n in layer.neurons] == [True] * 6 + [False]
    assert model.layers[0].neurons[0].activation == "sigmoid"
    out = model([1.0, 2.0])
    assert out._op == "dot"  # no squashing on the output
    assert all(0 < h.data < 1 for h in model.layers[0]([1.0, 2.0]))


def test_weights_are_uniform_and_seedable():
    a = nn.MLP(2, [8, 1], rng=random.Random(5))
    b = nn.MLP(2, [8, 1], rng=random.Random(5))
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    weights = [w.data for layer in a.layers for n in layer.neurons for w in n.w]
    assert all(-1 <= w <= 1 for w in weights)
    assert all(n.b.data == 0.0 for layer in a.layers for n in layer.neurons)
    n1 = nn.Neuron(4, rng=np.random.default_rng(0))
    n2 = nn.Neuron(4, rng=nabla.Generator().manual_seed(0))
    assert [w.data for w in n1.w] == [w.data for w in n2.w]
    random.seed(11)
    n3 = nn.Neuron(3)
    random.seed(11)
    assert [w.data for w in n3.w] == [w.data for w in nn.Neuron(3).w]


def test_reprs():
    model = nn.MLP(2, [16, 16, 1], activation="tanh")
    assert repr(model) == (
        "MLP(\n  (0): Layer(2 -> 16, tanh)\n  (1): Layer(16 -> 16, tanh)\n"
        "  (2): Layer(16 -> 1, linear)\n)"
    )
    assert repr(nn.Neuron(3)) == "Neuron(3, relu)"
    assert repr(nn.Neuron(3, nonlin=False)) == "Neuron(3, linear)"


# ---------------------------------------------------------------------------------------
# graph drawing
# ---------------------------------------------------------------------------------------

_STATEMENT = re.compile(
    r'^  (rankdir=(LR|RL|TB|BT)|node \[fontname="\w+"\]'
    r'|n\d+ \[shape=record, label="(?P<rec>(?:[^"\\]|\\.)*)"\]'
    r'|n\d+_op \[label="(?:[^"\\]|\\.)*"\]'
    r"|n\d+(_op)? -> n\d+(_op)?);$"
)


def assert_valid_dot(text):
    """A check of the DOT subset to_dot writes: statements, quoting, declared endpoints,
    and record labels whose special characters are all escaped."""
    lines = text.split("\n")
    assert lines[0] == "digraph {" and lines[-1] == "}"
    declared, used = set(), set()
    for line in lines[1:-1]:
        m = _STATEMENT.match(line)
        assert m, f"not a DOT statement: {line!r}"
        if "->" in line:
            used.update(line.strip(" ;").split(" -> "))
        elif line.startswith("  n"):
            declared.add(line.split()[0])
        if m.group("rec") is not None:
            bare = re.sub(r"\\.", "", m.group("rec"))
            assert bare.startswith("{") and bare.endswith("}")
            assert not set(bare[1:-1]) & set('{}<>"\\'), bare
    assert used <= declared


def test_to_dot_shows_data_grad_and_ops():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = (a * b + 1).tanh()
    L.backward()
    text = to_dot(L)
    assert_valid_dot(text)
    assert text.startswith("digraph")
    assert "rankdir=LR" in text
    for v in (a, b, L):
        assert f"data {v.data:.4f}" in text
        assert f"grad {v.grad:.4f}" in text
    assert "{a|data 2.0000|grad " in text
    for op in ("*", "+", "tanh"):
        assert f'_op [label="{op}"]' in text
    # one box per Value (a, b, the constant 1, a*b, +, tanh), one oval per operation
    assert text.count("shape=record") == 6
    assert text.count("_op [label=") == 3
    assert to_dot(L, rankdir="TB").count("rankdir=TB") == 1


def test_to_dot_escapes_labels():
    v = Value(1.0, label='w{0}|<in> "q" \\ x\ny')
    out = (v**2).relu()
    text = to_dot(out)
    assert_valid_dot(text)
    assert r"w\{0\}\|\<in\> \"q\" \\ x\ny" in text
    assert '_op [label="**2"]' in text


def test_to_dot_rejects_bad_arguments():
    with pytest.raises(TypeError, match="Value"):
        to_dot(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(Value(1.0), rankdir="XY")


def test_draw_without_graphviz_raises_clear_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"Graphviz's `dot`.*not installed.*to_dot"):
        draw(Value(1.0) + 2)
    assert Value(1.0)._repr_svg_() is None


@pytest.fixture
def fake_dot(tmp_path, monkeypatch):
    """A stand-in `dot` that checks its input is our DOT and answers with a tiny SVG,
    so the subprocess plumbing is tested where Graphviz is not installed."""
    script = tmp_path / "dot"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "src = sys.stdin.read()\n"
        "if not src.startswith('digraph') or sys.argv[1] not in ('-Tsvg', '-Tpng'):\n"
        "    sys.stderr.write('syntax error in line 1')\n"
        "    sys.exit(1)\n"
        "sys.stdout.write('<svg>%d lines</svg>' % len(src.splitlines()))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name: str(script) if name == "dot" else None)
    return script


def test_draw_runs_dot_and_returns_or_writes_the_picture(fake_dot, tmp_path):
    out = Value(1.0) * 2
    expected = f"<svg>{len(to_dot(out).splitlines())} lines</svg>"
    assert draw(out) == expected
    assert out._repr_svg_() == expected
    assert draw(out, format="png") == expected.encode()
    path = tmp_path / "g.svg"
    assert draw(out, path=path) == path
    assert path.read_text() == expected


def test_draw_reports_dot_failure_and_bad_format(fake_dot):
    with pytest.raises(RuntimeError, match="syntax error"):
        draw(Value(1.0), format="pdf")  # the fake refuses anything but svg/png
    with pytest.raises(ValueError, match="format"):
        draw(Value(1.0), format="svg; rm -rf")


def test_repr_svg_skips_huge_graphs(fake_dot):
    y = Value(0.0)
    for _ in range(graph_module._SVG_NODE_LIMIT):
        y = y + 1
    assert y._repr_svg_() is None


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_draw_with_real_graphviz(tmp_path):
    out = (Value(2.0, label="a") * Value(3.0, label="b")).tanh()
    out.backward()
    svg = draw(out)
    assert "<svg" in svg and "tanh" in svg
    png = draw(out, path=tmp_path / "g.png", format="png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
