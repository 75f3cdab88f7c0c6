"""NLL's gradient as ``RowPicks`` into log_softmax's backward (``row_picks.py``): the same
bits as the dense gradient it replaces, on the compiled and the NumPy paths, through a
``.view``; and everything that wants the dense gradient still gets it (hooks,
``retain_grad``, ``autograd.grad``, a second use of the log-probabilities, ``explain``)."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla.ops import activation, loss
from nabla.ops import elementwise as E
from nabla.row_picks import RowPicks

F = nabla.nn.functional
ROWS, C = 40, 30000  # 1.2M logits: past the row blocks' threshold


def _data(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((ROWS, C)) * 4).astype(dtype)
    x[0, :50] = -np.inf  # -inf logits: exp(out) is 0 there
    t = rng.integers(0, C, ROWS)
    t[3] = 7
    return x, t


def _grad(x0, t0, view=False, **kw):
    x = nabla.tensor(x0, requires_grad=True)
    if view:  # the word language model's Transformer: 3-D, then .view(-1, ntokens)
        lp = F.log_softmax(x.reshape(4, ROWS // 4, C), dim=-1).view(-1, C)
    else:
        lp = F.log_softmax(x, dim=1)
    out = F.nll_loss(lp, nabla.tensor(t0), **kw)
    out.backward(nabla.ones_like(out) if out.ndim else None)
    return x.grad.numpy()


def _dense(monkeypatch):
    monkeypatch.setattr(loss, "_from_log_softmax", lambda x: False)


@pytest.fixture
def sent(monkeypatch):
    """Counts the RowPicks that reach log_softmax's backward."""
    seen = []
    real = activation._log_softmax_grad_picks
    monkeypatch.setattr(activation, "_log_softmax_grad_picks",
                        lambda p, out: seen.append(p) or real(p, out))
    return seen


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("case", [
    {}, {"view": True}, {"reduction": "sum"}, {"reduction": "none"},
    {"weight": "w"}, {"ignore_index": 7}, {"dtype": np.float64},
])
def test_picks_give_the_dense_gradients_bits(case, compiled, sent, monkeypatch):
    case = dict(case)
    if not compiled:
        monkeypatch.setattr(E, "_kernels", [None])
    x0, t0 = _data(dtype=case.pop("dtype", np.float32))
    if case.get("weight") == "w":
        w = np.random.default_rng(1).random(C).astype(x0.dtype)
        case["weight"] = nabla.tensor(w)
    got = _grad(x0, t0, **case)
    assert len(sent) == 1 and type(sent[0]) is RowPicks
    _dense(monkeypatch)
    want = _grad(x0, t0, **case)
    assert len(sent) == 1  # the dense gradient went the usual way
    assert got.dtype == x0.dtype
    np.testing.assert_array_equal(got, want)
    if "ignore_index" in case:
        assert not got[3].any()  # the ignored row gets no gradient


def test_picks_match_torch():
    torch = pytest.importorskip("torch")
    x0, t0 = _data()
    got = _grad(x0, t0, view=True)
    xt = torch.tensor(x0.astype(np.float64), requires_grad=True)
    lp = torch.log_softmax(xt.reshape(4, ROWS // 4, C), -1).view(-1, C)
    torch.nn.functional.nll_loss(lp, torch.tensor(t0)).backward()
    want = xt.grad.numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_small_arrays_and_label_smoothing_keep_the_dense_gradient(sent):
    x = nabla.randn(8, 10, requires_grad=True)
    F.nll_loss(F.log_softmax(x, dim=1), nabla.tensor(np.arange(8))).backward()
    x0, t0 = _data()
    x = nabla.tensor(x0, requires_grad=True)
    F.nll_loss(F.log_softmax(x, dim=1) * 1.0, nabla.tensor(t0)).backward()  # not straight
    assert sent == []


def _logp(x0):
    x = nabla.tensor(x0, requires_grad=True)
    return x, F.log_softmax(x, dim=1)


def test_hooks_retain_grad_and_autograd_grad_get_the_dense_gradient(sent, monkeypatch):
    x0, t0 = _data()
    target = nabla.tensor(t0)
    expected = np.zeros((ROWS, C), np.float32)
    expected[np.arange(ROWS), t0] = -1 / ROWS
    x, lp = _logp(x0)
    seen = []
    lp.register_hook(lambda g: seen.append(g.numpy().copy()))
    lp.retain_grad()
    F.nll_loss(lp, target).backward()
    np.testing.assert_array_equal(seen[0], expected)
    np.testing.assert_array_equal(lp.grad.numpy(), expected)
    with_hook = x.grad.numpy()
    x2, lp2 = _logp(x0)
    (g,) = nabla.autograd.grad(F.nll_loss(lp2, target), [lp2])
    np.testing.assert_array_equal(g.numpy(), expected)
    assert sent == []  # each of them took the dense way
    np.testing.assert_array_equal(with_hook, _grad(x0, t0))  # which has the same bits
    assert len(sent) == 1


@pytest.mark.parametrize("order", ["other first", "other last"])
def test_a_second_use_of_the_log_probabilities_adds_up(order):
    """Another gradient for the log-probabilities, arriving before or after NLL's: the
    sum is PyTorch's."""
    torch = pytest.importorskip("torch")
    x0, t0 = _data()
    x0[0, :50] = 0.0  # (-inf * 0 would be NaN in the extra term, in both libraries)
    grads = []
    for lib in (nabla, torch):
        x = lib.tensor(x0.astype(np.float64) if lib is torch else x0, requires_grad=True)
        lp = lib.nn.functional.log_softmax(x, dim=1)
        # Recorded first, a node runs last in backward.
        if order == "other last":
            total = lib.nn.functional.nll_loss(lp, lib.tensor(t0))
            total = total + (lp * 1e-3).sum()
        else:
            total = (lp * 1e-3).sum()
            total = total + lib.nn.functional.nll_loss(lp, lib.tensor(t0))
        total.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=0, atol=1e-5 * np.abs(grads[1]).max())


def test_explain_gets_dense_gradients(sent):
    """``explain`` runs each node's backward itself and shows every gradient: it makes
    NLL's picks dense as they come."""
    x0, t0 = _data()
    x = nabla.tensor(x0, requires_grad=True)
    out = F.nll_loss(F.log_softmax(x, dim=1), nabla.tensor(t0))
    rows = nabla.viz.explain(out, quiet=True).rows
    assert sent == []
    assert all(type(r[k]) is np.ndarray for r in rows[1:] for k in ("product", "grad"))
    np.testing.assert_array_equal(rows[-1]["grad"], _grad(x0, t0))


def test_row_picks_dense_and_sums():
    p = RowPicks(np.array([1, 0, 2]), np.array([1.0, 2.0, 3.0], np.float32), (3, 3))
    d = p.dense()
    assert d.tolist() == [[0, 1, 0], [2, 0, 0], [0, 0, 3]] and d.dtype == np.float32
    assert (np.ones((3, 3), np.float32) + p).tolist() == (1 + d).tolist()
    assert (p + p).tolist() == (2 * d).tolist()
    q = p.reshape((1, 3, 3))
    assert type(q) is RowPicks and q.dense().tolist() == [d.tolist()]
    assert p.reshape((9,)).tolist() == d.reshape(9).tolist()
    with pytest.raises(TypeError):
        np.add(d, p, out=d)  # no ufunc may take it for an array


@pytest.mark.parametrize("view", [False, True])
def test_a_second_backward_through_a_released_graph_says_so(view):
    x0, t0 = _data()
    x = nabla.tensor(x0, requires_grad=True)
    if view:
        lp = F.log_softmax(x.reshape(4, ROWS // 4, C), dim=-1).view(-1, C)
    else:
        lp = F.log_softmax(x, dim=1)
    F.nll_loss(lp, nabla.tensor(t0)).backward()
    with pytest.raises(RuntimeError, match="second time"):
        F.nll_loss(lp, nabla.tensor(t0)).backward()
