"""nabla.viz.draw / draw_model / Graph: the DOT text of Value and Tensor graphs, the
node limit, names, gradients, rendering with and without Graphviz, bad input."""

from __future__ import annotations

import re
import shutil
import stat
import sys

import numpy as np
import pytest

import nabla
from nabla import models, nn, viz
from nabla.scalar import Value
from nabla.viz import Graph, draw, draw_model

# A statement of the DOT subset viz writes: graph settings, a node with attributes, or
# an edge with optional attributes.
_ATTRS = r'\[(?:[^"\]]|"(?:[^"\\]|\\.)*")*\]'
_STATEMENT = re.compile(
    r"^  (?:rankdir=(?:LR|RL|TB|BT)|labelloc=t|fontname=\"Helvetica\"|label=\"(?:[^\"\\]|\\.)*\""
    rf"|node {_ATTRS}|(?P<decl>\w+) {_ATTRS}|(?P<src>\w+) -> (?P<dst>\w+)(?: {_ATTRS})?);$"
)



@pytest.fixture(autouse=True)
def _leave_the_global_rng_alone():
    # These tests seed and draw (layers initialise randomly): later test files must
    # see the random stream they would have seen without them.
    state = nabla.random.get_rng_state()
    yield
    nabla.random.set_rng_state(state)

def parse_dot(text):
    """Check every line is a statement, that edges join declared nodes; return
    ``(labels by node id, edges as (src, dst) pairs)``."""
    lines = text.split("\n")
    assert lines[0] == "digraph {" and lines[-1] == "}", text
    labels, edges = {}, []
    for line in lines[1:-1]:
        m = _STATEMENT.match(line)
        assert m, f"not a DOT statement: {line!r}"
        if m.group("decl"):
            label = re.search(r'label="((?:[^"\\]|\\.)*)"', line)
            labels[m.group("decl")] = label.group(1) if label else ""
        elif m.group("src"):
            edges.append((m.group("src"), m.group("dst")))
    for src, dst in edges:
        assert src in labels and dst in labels, (src, dst)
    return labels, edges


def ops_of(labels):
    return sorted(lab.split("\\n")[0] for lab in labels.values() if "Backward" in lab)


# ---------------------------------------------------------------------- Value graphs

def course_example():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L, (a, b, c, d, e, f)


def test_value_graph_shows_labels_data_ops_and_grads_after_backward():
    L, (a, b, c, d, e, f) = course_example()
    before = draw(L).source
    assert "{a|data 2.0000|grad 0.0000}" in before
    L.backward()
    g = draw(L)
    assert isinstance(g, Graph) and str(g) == g.source
    text = g.source
    for v, grad in ((a, 6.0), (b, -4.0), (c, -2.0), (d, -2.0), (e, -2.0), (f, 4.0), (L, 1.0)):
        assert f"{{{v.label}|data {v.data:.4f}|grad {grad:.4f}}}" in text
    assert text.count("shape=record") == 7  # one box per Value
    assert text.count('_op [label="*"]') == 2 and text.count('_op [label="+"]') == 1
    # each op: one edge out to its result, one in from each of its two inputs
    assert len(re.findall(r" -> ", text)) == 3 * 3
    assert g.nodes == 7 and g.hidden == 0


def test_value_graph_show_grad_names_and_rankdir():
    L, (a, *_rest) = course_example()
    L.backward()
    text = draw(L, show_grad=False, rankdir="TB", names={a: "alpha"}).source
    assert "grad" not in text
    assert "rankdir=TB" in text
    assert "{alpha|data 2.0000}" in text


def test_value_graph_max_nodes_cuts_off_with_a_note():
    y = Value(0.0)
    for _ in range(50):
        y = y * 1.5 + 1  # 4 new Values a round: 201 in all
    g = draw(y, max_nodes=10)
    text = g.source
    assert text.count("shape=record") == 10
    assert "\u2026 191 more nodes" in text
    assert "more -> " in text and "[style=dashed]" in text
    assert g.nodes == 10 and g.hidden == 191
    full = draw(y, max_nodes=None).source
    assert full.count("shape=record") == 201 and "more" not in full


def test_deep_value_chain_needs_no_recursion():
    limit = sys.getrecursionlimit()
    y = Value(1.0)
    for _ in range(3 * limit):
        y = y + 1.0
    text = draw(y, max_nodes=None).source
    assert text.count('_op [label="+"]') == 3 * limit


# --------------------------------------------------------------------- Tensor graphs

def small_net():
    a = nabla.tensor([[1.0, 2.0]], requires_grad=True)
    W = nabla.tensor([[0.1], [0.2]], requires_grad=True)
    b = nabla.tensor([0.5], requires_grad=True)
    h = a @ W + b  # 1.0: tanh far from saturation, so float32 gradients are accurate
    loss = (h.tanh() * 2).sum()
    return loss, h, {a: "a", W: "W", b: "b"}


def test_tensor_graph_before_backward_has_ops_shapes_and_names():
    loss, h, names = small_net()
    labels, edges = parse_dot(draw(loss, names=names).source)
    assert ops_of(labels) == ["AddBackward", "MatMulBackward", "MulBackward", "SumBackward",
                              "TanhBackward"]
    # 5 ops + 3 leaves + the output box; edges: 5 between ops/out, 3 from leaves, 1 more
    # into Add from b: a tree of 9 nodes has 8 edges
    assert len(labels) == 9 and len(edges) == 8
    by_first = {lab.split("\\n")[0]: lab for lab in labels.values()}
    assert by_first["W"] == "W\\nshape (2, 1) float32"
    assert by_first["b"] == "b\\nshape (1,) float32\\ndata 0.5"
    assert by_first["TanhBackward"] == "TanhBackward\\nshape (1, 1)"
    assert by_first["output"] == "output\\nshape () float32\\ndata " + f"{loss.item():.4g}"
    # edges run forward, from inputs to the ops that use them
    ids = {lab.split("\\n")[0]: k for k, lab in labels.items()}
    assert (ids["W"], ids["MatMulBackward"]) in edges
    assert (ids["SumBackward"], "out") in edges


def test_tensor_graph_after_backward_shows_leaf_and_retained_grads():
    loss, h, names = small_net()
    h.retain_grad()
    loss.backward()
    labels, _ = parse_dot(draw(loss, names={**names, h: "h", loss: "loss"}).source)
    by_first = {lab.split("\\n")[0]: lab for lab in labels.values()}
    shown = re.fullmatch(r"a\\nshape \(1, 2\) float32\\ngrad \[(\S+), (\S+)\]",
                         by_first["a"])
    assert shown, by_first["a"]
    np.testing.assert_allclose([float(shown[1]), float(shown[2])], loss_grad_a(), rtol=1e-3)
    assert "grad" in by_first["W"] and "grad" in by_first["b"]
    assert "h\\nshape (1, 1)\\ngrad " in by_first["AddBackward"]  # retained non-leaf grad
    assert by_first["loss"].startswith("loss\\nshape ()")
    assert "grad" not in by_first["TanhBackward"]  # not retained: no grad to show
    no_grads = draw(loss, names=names, show_grad=False).source
    assert "grad" not in no_grads


def loss_grad_a():
    # d/da of sum(2 tanh(a @ W + b)) = 2 (1 - tanh^2) W^T, at a @ W + b = 1
    t = np.tanh(1.0)
    return 2 * (1 - t * t) * np.array([0.1, 0.2])


def test_tensor_graph_names_model_parameters():
    model = models.mlp(4, hidden=(3,), out_features=2)
    loss = model(nabla.ones(5, 4)).sum()
    text = draw(loss, params=dict(model.named_parameters())).source
    for name, p in model.named_parameters():
        assert f"{name}\\nshape {tuple(p.shape)} float32".replace(",)", ",)") in text
    # Sequential runs Linear + ReLU as one node; unfused, each layer has its own.
    assert text.count("LinearBackward") == 1 and text.count("LinearReluBackward") == 1
    model.fuse_activations = False
    text = draw(model(nabla.ones(5, 4)).sum()).source
    assert text.count("LinearBackward") == 2 and "ReluBackward" in text
    assert draw(loss, names={"w1": model[1].weight}).source.count("w1\\n") == 1


def test_tensor_graph_max_nodes_note_counts_the_rest():
    x = nabla.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(30):
        y = y * 1.1
    g = draw(y, max_nodes=5)
    labels, edges = parse_dot(g.source)
    assert ops_of(labels) == ["MulBackward"] * 5
    assert "\u2026 26 more nodes" in labels["more"]  # 30 ops + the leaf - 5 drawn
    assert g.hidden == 26 and ("more", "n4") in edges
    assert "more" not in draw(y, max_nodes=None).source


def test_deep_tensor_chain_is_walked_without_recursion():
    x = nabla.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() + 500):
        y = y + 1.0
    g = draw(y, max_nodes=None)
    assert g.source.count("AddBackward") == sys.getrecursionlimit() + 500


def test_a_leaf_output_and_a_constant_output():
    w = nabla.tensor([1.0, 2.0], requires_grad=True)
    labels, edges = parse_dot(draw(w, names={w: "w"}).source)
    assert list(labels.values()) == ["w\\nshape (2,) float32"] and not edges
    c = nabla.tensor(3.0)
    assert "data 3" in draw(c).source


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(TypeError, match="Value or a nabla Tensor"):
        draw(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        draw(Value(1.0), rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        draw(Value(1.0), max_nodes=0)
    with pytest.raises(ValueError, match="format"):
        draw(Value(1.0), format="svg; rm")
    w = nabla.tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match="str names"):
        draw(w * 2, names={w: 3})
    with pytest.raises(TypeError, match="named_parameters"):
        draw(w * 2, params={w: "w"})


# -------------------------------------------------------------- rendering and Jupyter

@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)


@pytest.fixture
def fake_dot(tmp_path, monkeypatch):
    """A stand-in `dot` answering with a tiny SVG that counts the lines it was given."""
    script = tmp_path / "dot"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "src = sys.stdin.read()\n"
        "if not src.startswith('digraph'):\n"
        "    sys.stderr.write('syntax error'); sys.exit(1)\n"
        "sys.stdout.write('<svg>%s %d</svg>' % (sys.argv[1], len(src.splitlines())))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(shutil, "which", lambda name: str(script) if name == "dot" else None)


def test_without_graphviz_the_dot_text_still_works(no_dot, tmp_path):
    g = draw(Value(2.0, label="a") * 3)
    with pytest.raises(RuntimeError, match=r"`dot` program is not installed.*DOT text"):
        g.svg()
    with pytest.raises(RuntimeError, match="dot"):
        g.render(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    assert g.render(tmp_path / "g.dot") == tmp_path / "g.dot"
    assert (tmp_path / "g.dot").read_text() == g.source + "\n"
    assert g.render(format="dot") == g.source + "\n"
    assert g._repr_svg_() is None
    assert g._repr_mimebundle_() == {"text/plain": g.source}
    draw(Value(1.0), path=tmp_path / "p.gv")
    assert (tmp_path / "p.gv").read_text().startswith("digraph")


def test_with_graphviz_render_and_jupyter_use_it(fake_dot, tmp_path):
    g = draw(nabla.tensor(2.0, requires_grad=True) * 3, format="png")
    n = len(g.source.splitlines())
    assert g.svg() == f"<svg>-Tsvg {n}</svg>"
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"] == g.svg() and bundle["text/plain"] == repr(g)
    assert g.render() == f"<svg>-Tpng {n}</svg>".encode()  # format given to draw
    assert g.render(tmp_path / "x.svg") == tmp_path / "x.svg"  # the suffix wins
    assert (tmp_path / "x.svg").read_text() == f"<svg>-Tsvg {n}</svg>"
    draw(Value(1.0), path=tmp_path / "v.png")
    assert (tmp_path / "v.png").read_text().startswith("<svg>-Tpng")
    # a Value shows itself inline too
    v = Value(1.0) * 2
    assert v._repr_svg_().startswith("<svg>-Tsvg")


def test_repr_of_a_graph():
    y = Value(0.0)
    for _ in range(5):
        y = y + 1
    assert repr(draw(y, max_nodes=4)) == (
        "<Graph: 4 nodes (+7 not drawn); .source for the DOT text, .render(path) for a "
        "picture>")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_real_graphviz_renders_svg_and_png(tmp_path):
    model = models.mlp(4, hidden=(3,), out_features=2)
    loss = model(nabla.ones(2, 4)).sum()
    loss.backward()
    g = draw(loss, params=dict(model.named_parameters()))
    svg = g.svg()
    assert "<svg" in svg and "LinearBackward" in svg and "1.weight" in svg
    g.render(tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in draw_model(model, (1, 4)).svg()
    L, _ = course_example()
    assert "<svg" in draw(L).svg()


# ------------------------------------------------------------------------ draw_model

def test_draw_model_lists_layers_with_parameter_and_output_shapes():
    model = models.mlp(64, hidden=(16,), out_features=10)
    g = draw_model(model, (2, 1, 8, 8))
    labels, edges = parse_dot(g.source)
    assert g.nodes == len(labels) == 6  # input, Flatten, Linear, ReLU, Linear, output
    assert edges == [("input", "l0"), ("l0", "l1"), ("l1", "l2"), ("l2", "l3"),
                     ("l3", "output")]
    assert labels["input"] == "input\\n(2, 1, 8, 8)"
    assert labels["l0"] == "0: Flatten(start_dim=1, end_dim=-1)\\n-> (2, 64)"
    assert labels["l1"] == ("1: Linear(in_features=64, out_features=16, bias=True)"
                            "\\nweight (16, 64)\\nbias (16,)\\n-> (2, 16)")
    assert labels["output"] == "output\\n(2, 10)"
    assert 'label="Sequential: 1,210 parameters"' in g.source
    # the wrapped forwards are gone, the training mode is as it was
    assert all("forward" not in m.__dict__ for m in model.modules()) and model.training


def test_draw_model_without_input_shape_and_nested_models():
    inner = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    model = nn.Sequential(inner, nn.Linear(4, 1))
    labels, edges = parse_dot(draw_model(model).source)
    assert [labels[f"l{i}"].split("\\n")[0] for i in range(3)] == [
        "0.0: Linear(in_features=3, out_features=4, bias=True)", "0.1: Tanh()",
        "1: Linear(in_features=4, out_features=1, bias=True)"]
    assert labels["input"] == "input" and labels["output"] == "output"
    with pytest.raises(TypeError, match="nn.Module"):
        draw_model("model.safetensors")


def test_draw_model_restores_forward_when_the_model_fails():
    model = models.mlp(64, hidden=(8,), out_features=3)
    with pytest.raises(Exception, match="shape|size|match"):
        draw_model(model, (1, 5))
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_viz_namespace_exports_the_api():
    for name in ("draw", "draw_model", "Graph", "explain", "nudge", "plot_activations",
                 "plot_history", "plot_lr_schedule", "plot_cost_surface",
                 "plot_decision_boundary", "plot_confusion_matrix", "plot_misclassified",
                 "plot_first_layer_weights", "plot_filters", "plot_feature_maps"):
        assert callable(getattr(viz, name)), name


def test_names_with_quotes_and_backslashes_stay_valid_dot():
    w = nabla.tensor(1.0, requires_grad=True)
    text = draw((w * 2).exp(), names={w: 'w"0\\ {x}|<y>\nz'}).source
    labels, _ = parse_dot(text)
    assert 'w\\"0\\\\ {x}|<y>\\nz' in text
    assert any(lab.startswith('w\\"0') for lab in labels.values())
    v = Value(1.0, label='a"b')
    parse_dot(draw(v * 2, rankdir="TB").source.replace("shape=record, ", ""))
