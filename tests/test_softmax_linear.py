"""A Linear layer's backward under log_softmax and NLL, or cross-entropy, by blocks of
columns (``ops/softmax_linear.py``, ``row_picks.ColumnBlocks``): the dense path's
gradients within float32 rounding, PyTorch's gradients; and where anything else wants
the loss's gradient (a hook, ``retain_grad``, ``autograd.grad``, a second use of the
logits, ``explain``) it gets the dense one."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla.ops import activation, elementwise, softmax_linear
from nabla.row_picks import ColumnBlocks, RowPicks

F = nabla.nn.functional
ROWS, H, V = 140, 24, 9000  # 1.26M logits: past the row blocks' threshold; 5 blocks


def _model(seed=0, dtype=np.float32, bias=True):
    rng = np.random.default_rng(seed)
    h0 = rng.standard_normal((ROWS, H)).astype(dtype)
    w0 = (rng.standard_normal((V, H)) * 0.3).astype(dtype)
    b0 = (rng.standard_normal(V) * 0.1).astype(dtype) if bias else None
    t0 = rng.integers(0, V, ROWS)
    t0[5] = 7
    return h0, w0, b0, t0


def _grads(h0, w0, b0, t0, layout="view", need_h=True, need_w=True, hook=None, loss="nll",
           **kw):
    """The word language model's two layouts: ``view`` (the LSTM model: Linear over 3-D
    input, ``.view(-1, V)``, log_softmax over dim 1) and ``3d`` (the Transformer model:
    log_softmax over the last axis of the 3-D logits, then ``.view(-1, V)``). With
    ``loss="xent"``: ``cross_entropy(logits.view(-1, V), t)``, as GPT-style programs
    write it."""
    h = nabla.tensor(h0.reshape(7, ROWS // 7, H), requires_grad=need_h)
    w = nabla.tensor(w0, requires_grad=need_w)
    b = None if b0 is None else nabla.tensor(b0, requires_grad=True)
    logits = F.linear(h, w, b)
    if hook is not None:
        hook(logits)
    if loss == "xent":
        out = F.cross_entropy(logits.view(-1, V), nabla.tensor(t0), **kw)
    elif layout == "view":
        out = F.nll_loss(F.log_softmax(logits.view(-1, V), dim=1), nabla.tensor(t0), **kw)
    else:
        out = F.nll_loss(F.log_softmax(logits, dim=-1).view(-1, V), nabla.tensor(t0), **kw)
    out.backward()
    out = [h.grad, w.grad] + ([] if b is None else [b.grad])
    return [None if g is None else g.numpy() for g in out]


@pytest.fixture
def fused(monkeypatch):
    """Counts the calls of the blocked backward."""
    seen = []
    real = softmax_linear.linear_grads
    monkeypatch.setattr(softmax_linear, "linear_grads",
                        lambda *a: seen.append(a[1]) or real(*a))
    return seen


def _dense(monkeypatch):
    monkeypatch.setattr(softmax_linear, "takes", lambda below, dtype: False)


def _same(got, want):
    """Within float32 rounding: the input gradient's sums over the vocabulary run in
    another order; the weight's and bias's are the same 140-long sums, but a block's is
    another BLAS call, and OpenBLAS (its Haswell kernels, or one thread) rounds some
    differently when the columns are split another way."""
    for a, b in zip(got, want):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=2e-6 * np.abs(b).max())


@pytest.mark.parametrize("case", [
    {}, {"layout": "3d"}, {"bias": False}, {"need_h": False}, {"need_w": False},
    {"reduction": "sum"}, {"ignore_index": 7}, {"weight": True}, {"compiled": False},
    {"compiled": False, "layout": "3d", "ignore_index": 7},
    {"loss": "xent"}, {"loss": "xent", "reduction": "sum"}, {"loss": "xent", "bias": False},
    {"loss": "xent", "need_h": False},
])
def test_blocks_give_the_dense_gradients(case, fused, monkeypatch):
    case = dict(case)
    if not case.pop("compiled", True):  # NABLA_NUMBA=0, or no Numba: NumPy fills the blocks
        monkeypatch.setattr(elementwise, "_kernels", [None])
    h0, w0, b0, t0 = _model(bias=case.pop("bias", True))
    if case.pop("weight", False):
        case["weight"] = nabla.tensor(np.random.default_rng(2).random(V).astype(np.float32))
    got = _grads(h0, w0, b0, t0, **case)
    assert len(fused) == 1 and type(fused[0]) is ColumnBlocks
    _dense(monkeypatch)
    want = _grads(h0, w0, b0, t0, **case)
    assert len(fused) == 1  # the dense gradient went the usual way
    _same(got, want)
    assert all(g is None or g.dtype == np.float32 for g in got)


def test_blocks_match_torch():
    torch = pytest.importorskip("torch")
    h0, w0, b0, t0 = _model()
    got = _grads(h0, w0, b0, t0)
    h = torch.tensor(h0.reshape(7, ROWS // 7, H), requires_grad=True)
    w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    lp = torch.nn.functional.log_softmax(torch.nn.functional.linear(h, w, b).view(-1, V), 1)
    torch.nn.functional.nll_loss(lp, torch.tensor(t0)).backward()
    for a, t in zip(got, (h.grad, w.grad, b.grad)):
        t = t.numpy()
        np.testing.assert_allclose(a, t, rtol=0, atol=1e-5 * np.abs(t).max())


def test_float64_small_and_other_losses_stay_dense(fused):
    h0, w0, b0, t0 = _model(dtype=np.float64)
    _grads(h0, w0, b0, t0)  # float64: the kernels' exp is float32's
    h0, w0, b0, t0 = _model()
    x = nabla.tensor(h0[:14], requires_grad=True)  # 126k logits: not the row blocks' case
    F.nll_loss(F.log_softmax(F.linear(x, nabla.tensor(w0)), dim=1),
               nabla.tensor(t0[:14])).backward()
    for kw in ({"label_smoothing": 0.1}, {"ignore_index": 7}, {"weight": nabla.ones(V)}):
        _grads(h0, w0, b0, t0, loss="xent", **kw)  # cross-entropy's general backward
    assert fused == []


def test_log_softmax_of_something_else_stays_dense(fused):
    h0, w0, b0, t0 = _model()
    x = nabla.tensor(np.ones((ROWS, V), np.float32), requires_grad=True)
    logits = F.linear(nabla.tensor(h0), nabla.tensor(w0), nabla.tensor(b0)) * x
    F.nll_loss(F.log_softmax(logits, dim=1), nabla.tensor(t0)).backward()
    assert fused == [] and x.grad is not None


def test_hooks_retain_grad_and_autograd_grad_get_the_dense_gradient(fused, monkeypatch):
    h0, w0, b0, t0 = _model()
    seen = []

    def hooked(logits):
        logits.register_hook(lambda g: seen.append(g.numpy().copy()))

    got = _grads(h0, w0, b0, t0, hook=hooked)
    got_x = _grads(h0, w0, b0, t0, hook=lambda t: t.retain_grad(), loss="xent")
    kept = []
    got2 = _grads(h0, w0, b0, t0, hook=lambda t: (t.retain_grad(), kept.append(t)))
    assert fused == []  # the gradient was made dense where the hook or .grad wanted it
    _dense(monkeypatch)
    want_seen = []
    want = _grads(h0, w0, b0, t0, hook=lambda t: t.register_hook(
        lambda g: want_seen.append(g.numpy().copy())))
    np.testing.assert_array_equal(seen[0], want_seen[0])
    np.testing.assert_array_equal(kept[0].grad.numpy(), want_seen[0])
    _same(got, want)
    _same(got2, want)
    _same(got_x, _grads(h0, w0, b0, t0, loss="xent"))


def test_autograd_grad_gets_the_dense_gradient(fused):
    h0, w0, b0, t0 = _model()
    h = nabla.tensor(h0, requires_grad=True)
    w, b = nabla.tensor(w0, requires_grad=True), nabla.tensor(b0, requires_grad=True)
    loss = F.nll_loss(F.log_softmax(F.linear(h, w, b), dim=1), nabla.tensor(t0))
    gh, gw = nabla.autograd.grad(loss, [h, w])
    assert fused == []
    want = _grads(h0, w0, b0, t0)
    np.testing.assert_allclose(gh.numpy(), want[0].reshape(ROWS, H), rtol=0,
                               atol=2e-6 * np.abs(want[0]).max())
    np.testing.assert_allclose(gw.numpy(), want[1], rtol=0, atol=1e-6 * np.abs(want[1]).max())


@pytest.mark.parametrize("kind", ["nll", "xent"])
@pytest.mark.parametrize("order", ["before", "after"])
def test_a_second_use_of_the_logits_adds_up(order, kind, monkeypatch):
    h0, w0, b0, t0 = _model()

    def run():
        h = nabla.tensor(h0, requires_grad=True)
        w, b = nabla.tensor(w0, requires_grad=True), nabla.tensor(b0, requires_grad=True)
        logits = F.linear(h, w, b)
        extra = (logits * logits).mean() if order == "before" else None
        if kind == "xent":
            loss = F.cross_entropy(logits, nabla.tensor(t0))
        else:
            loss = F.nll_loss(F.log_softmax(logits, dim=1), nabla.tensor(t0))
        if order == "after":
            extra = (logits * logits).mean()
        (loss + extra).backward()
        return [h.grad.numpy(), w.grad.numpy(), b.grad.numpy()]

    got = run()
    _dense(monkeypatch)
    want = run()
    _same(got, want)


def test_explain_gets_dense_gradients(fused, monkeypatch):
    """``explain`` runs each node's backward itself and shows every gradient."""
    h0, w0, b0, t0 = _model()
    h = nabla.tensor(h0, requires_grad=True)
    w, b = nabla.tensor(w0, requires_grad=True), nabla.tensor(b0, requires_grad=True)
    loss = F.nll_loss(F.log_softmax(F.linear(h, w, b), dim=1), nabla.tensor(t0))
    rows = nabla.viz.explain(loss, quiet=True).rows
    assert fused == []
    assert all(type(r[k]) is np.ndarray for r in rows[1:] for k in ("product", "grad"))
    _dense(monkeypatch)
    want = _grads(h0, w0, b0, t0)
    np.testing.assert_array_equal(rows[-2]["grad"], want[1])


def test_column_blocks_dense_reshape_and_sums():
    h0, w0, b0, t0 = _model()
    h = nabla.tensor(h0)
    w = nabla.tensor(w0, requires_grad=True)
    lp = F.log_softmax(F.linear(h, w, nabla.tensor(b0)), dim=1)
    v = np.full(ROWS, -1 / ROWS, np.float32)
    g = activation._picks_by_columns(RowPicks(t0, v, (ROWS, V)), lp._data)
    d = g.dense()
    want = np.exp(lp._data) * (1 / ROWS)
    want[np.arange(ROWS), t0] -= 1 / ROWS
    np.testing.assert_allclose(d, want, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(g.reshape((7, ROWS // 7, V)).dense(), d.reshape(7, -1, V))
    np.testing.assert_array_equal(g.reshape((ROWS * V,)), d.reshape(-1))  # rows lost
    np.testing.assert_array_equal(g + np.ones_like(d), d + 1)
    np.testing.assert_array_equal(np.ones_like(d) + g, d + 1)


def test_kernel_columns_are_the_whole_rows_bits():
    k = elementwise.elementwise_kernels()
    if k is None:
        pytest.skip("no compiled kernels")
    rng = np.random.default_rng(3)
    out = -np.abs(rng.standard_normal((6, 50)).astype(np.float32)) * 30
    out[1, 3] = -np.inf
    v = rng.standard_normal(6).astype(np.float32)
    t = np.array([0, 3, 17, 49, 20, 31])
    whole = np.empty_like(out)
    k.log_softmax_grad_picked(out, v, whole)
    whole[np.arange(6), t] += v
    for j, w in ((0, 17), (17, 16), (33, 17)):
        res = np.empty((6, w), np.float32)
        k.log_softmax_grad_picked_cols(out, v, t, j, res)
        np.testing.assert_array_equal(res, whole[:, j:j + w])


def test_retain_graph_and_tied_weights_add_up(fused, monkeypatch):
    """A second backward through the kept graph doubles every gradient; a weight shared
    with an embedding (the word language model's ``--tied``) gets both layers' parts."""
    h0, w0, b0, t0 = _model()
    idx = np.random.default_rng(4).integers(0, V, ROWS)

    def run():
        w, b = nabla.tensor(w0, requires_grad=True), nabla.tensor(b0, requires_grad=True)
        h = F.embedding(nabla.tensor(idx), w) * 0.5 + nabla.tensor(h0)
        loss = F.nll_loss(F.log_softmax(F.linear(h, w, b), dim=1), nabla.tensor(t0))
        loss.backward(retain_graph=True)
        once = [w.grad.numpy().copy(), b.grad.numpy().copy()]
        loss.backward()
        return once, [w.grad.numpy(), b.grad.numpy()]

    once, twice = run()
    assert len(fused) == 2
    _dense(monkeypatch)
    want_once, want_twice = run()
    for got, want in ((once, want_once), (twice, want_twice)):
        for a, d in zip(got, want):
            np.testing.assert_allclose(a, d, rtol=0, atol=2e-6 * np.abs(d).max())
    np.testing.assert_allclose(twice[0], 2 * once[0], rtol=1e-6, atol=1e-9)
