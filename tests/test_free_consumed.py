"""Intermediates the program has let go of give up their arrays before backward
(``graph_memory.free_consumed``), and ``Mul``/``Div`` save only the operands their
gradients need, as PyTorch does. Gradients, hooks, ``retain_grad``, ``explain`` and the
compact gradients that peek at the graph are unchanged."""

import weakref

import numpy as np
import pytest

import nabla
from nabla import graph_memory
from nabla.viz import explain

N = 128  # 128 x 128 float32: 64 KiB, the smallest array free_consumed lets go of


def _x(seed=0, shape=(N, N)):
    rng = np.random.default_rng(seed)
    return nabla.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)


def test_a_dropped_intermediate_array_goes_before_backward():
    x = _x()
    a = x * 2.0  # Mul saves nothing of its own output
    gone = weakref.ref(a._data)
    b = a + 1.0
    del a
    c = b.tanh()  # recording tanh lets go of what only Add's node still held
    assert gone() is None
    c.sum().backward()
    want = 2.0 * (1.0 - np.tanh(2.0 * x.detach().numpy() + 1.0) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5, atol=1e-6)


def test_held_small_and_saved_intermediates_keep_their_values():
    x = _x()
    a = x * 2.0
    b = a + 1.0
    c = b.tanh()
    assert np.array_equal(a.detach().numpy(), 2.0 * x.detach().numpy())  # held: kept
    small = _x(shape=(8, 8)) * 3.0
    keep = weakref.ref(small._data)
    d = (small + 1.0).tanh()
    del small
    assert keep() is not None  # below FREE_FROM: not worth the check
    (c.sum() + d.sum()).backward()


def test_an_array_saved_for_backward_stays():
    x = _x()
    a = x * x  # saved by the next Mul, whose other operand needs a gradient
    saved = weakref.ref(a._data)
    b = a * x
    del a
    c = b + 1.0
    d = c.tanh()
    assert saved() is not None
    d.sum().backward()
    xv = x.detach().numpy().astype(np.float64)
    want = 3 * xv ** 2 * (1 - np.tanh(xv ** 3 + 1) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-4, atol=1e-5)


def test_hooks_and_retain_grad_on_a_dropped_intermediate():
    x = _x()
    seen = []
    a = x * 2.0
    a.register_hook(lambda g: seen.append(g.shape))
    b = a + 1.0
    del a
    kept = b * 1.0
    kept.retain_grad()
    y = kept.tanh() + 0.0
    y.sum().backward()
    assert seen == [(N, N)]
    assert kept.grad is not None and kept.grad.shape == (N, N)


def test_the_placeholder_is_read_only_and_explain_says_freed():
    x = _x()
    a = x * 2.0
    b = a + 1.0
    del a
    c = b.tanh()
    node = b.grad_fn  # Add: its input a is the placeholder now
    (held,) = [t for t in node.inputs if t.grad_fn is not None]
    assert graph_memory.freed(held._data) and held.shape == (N, N)
    with pytest.raises(ValueError):
        held._data[0, 0] = 1.0
    rows = explain(c.sum(), quiet=True).rows
    assert any(r["value"] is None for r in rows)
    assert "(freed)" in explain(c.sum(), quiet=True).text


def test_log_softmax_picks_survive_the_loss_output_being_consumed():
    # A per-sample NLL whose output is big enough to let go of log_softmax's output
    # tensor when the next op records: NLL's backward must still see log_softmax.
    from nabla.ops import activation
    from nabla.row_picks import RowPicks

    seen = []
    real = activation._log_softmax_grad_picks
    activation._log_softmax_grad_picks = lambda p, out: seen.append(p) or real(p, out)
    try:
        rng = np.random.default_rng(1)
        x = nabla.tensor(rng.standard_normal((16384, 64)).astype(np.float32),
                         requires_grad=True)
        lp = nabla.nn.functional.log_softmax(x, dim=1)
        t = nabla.tensor(rng.integers(0, 64, 16384))
        per_row = nabla.nn.functional.nll_loss(lp, t, reduction="none")
        del lp
        (per_row * 0.5).sum().backward()
    finally:
        activation._log_softmax_grad_picks = real
    assert len(seen) == 1 and type(seen[0]) is RowPicks
    xv = x.detach().numpy().astype(np.float64)
    p = np.exp(xv - xv.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(16384), t.numpy()] -= 1.0
    np.testing.assert_allclose(x.grad.numpy(), 0.5 * p, rtol=1e-4, atol=1e-6)


def test_mul_and_div_save_what_pytorch_saves():
    torch = pytest.importorskip("torch")
    for lib in (nabla, torch):
        # The operand whose gradient is not needed is not saved: changing the other one
        # in place is fine (a * c saves c only, for a's gradient).
        x = lib.ones(3, requires_grad=True)
        c = lib.tensor([1.0, 2.0, 3.0])
        a = x * 2.0
        y = a * c
        a.add_(1.0)
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 4.0, 6.0]
        # ... but the saved one may not change.
        x = lib.ones(3, requires_grad=True)
        c = lib.tensor([1.0, 2.0, 3.0])
        y = (x * 2.0) * c
        c.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        # a / c keeps a only for c's gradient.
        x = lib.ones(3, requires_grad=True)
        a = x * 2.0
        y = a / lib.tensor([1.0, 2.0, 4.0])
        a.add_(1.0)
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 1.0, 0.5]


def test_gradients_through_a_gelu_written_out_match_pytorch():
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(2).standard_normal((16, 32, 256)).astype(np.float32)
    grads = []
    for lib in (nabla, torch):
        x = lib.tensor(x0, requires_grad=True)
        y = 0.5 * x * (1.0 + lib.tanh(0.7978845608 * (x + 0.044715 * lib.pow(x, 3.0))))
        (y * y).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5)
