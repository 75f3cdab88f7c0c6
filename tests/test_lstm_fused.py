"""The fused LSTM sequence (``nabla.ops.recurrent``) on sequences long enough for its
backward's chunks of steps (``_CHUNK``) to matter: several chunks and a remainder, both
directions, with and without initial states, gradients through every output at once;
each against PyTorch with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla.nn.layers.recurrent import LSTM
from nabla.ops import recurrent as R

TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _pair(torch, dtype, **kw):
    ours = LSTM(**kw)
    ref = torch.nn.LSTM(**kw)
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return (ours.double(), ref.double()) if dtype == np.float64 else (ours.float(), ref.float())


def _close(a, b, dtype, what):
    a = a.detach().numpy() if hasattr(a, "detach") else a.numpy()
    b = b.detach().numpy()
    assert a.dtype == dtype and a.shape == b.shape, what
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T", [R._CHUNK * 2 + 3, R._CHUNK, 1])
@pytest.mark.parametrize("bidir,with_state,batch_first", [
    (False, False, True), (False, True, False), (True, True, True), (True, False, False)])
def test_long_lstm_matches_torch(torch, dtype, T, bidir, with_state, batch_first):
    rng = np.random.default_rng(T)
    B, I, H, L = 3, 5, 6, 2
    ours, ref = _pair(torch, dtype, input_size=I, hidden_size=H, num_layers=L,
                      bidirectional=bidir, batch_first=batch_first)
    D = 2 if bidir else 1
    x_np = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    x, tx = nabla.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    s_np = [rng.standard_normal((L * D, B, H)).astype(dtype) for _ in range(2)]
    hs = [nabla.tensor(s, requires_grad=True) for s in s_np] if with_state else []
    ths = [torch.tensor(s, requires_grad=True) for s in s_np] if with_state else []
    out, (h_n, c_n) = ours(x, tuple(hs) if hs else None)
    tout, (th_n, tc_n) = ref(tx, tuple(ths) if ths else None)
    for a, b, what in [(out, tout, "output"), (h_n, th_n, "h_n"), (c_n, tc_n, "c_n")]:
        _close(a, b, dtype, what)
    # Every output carries a gradient: the loop adds dout at each step, and dh_n/dc_n start it.
    ws = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in (out, h_n, c_n)]
    sum((t * nabla.tensor(w)).sum() for t, w in zip((out, h_n, c_n), ws)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip((tout, th_n, tc_n), ws)).backward()
    _close(x.grad, tx.grad, dtype, "input grad")
    for k, (a, b) in enumerate(zip(hs, ths)):
        _close(a.grad, b.grad, dtype, f"initial state {k} grad")
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, theirs[name].grad, dtype, f"grad of {name}")


def test_benchmark_shape_matches_torch(torch):
    # The suite's case 5: LSTM(28, 128) over 28 rows, batch 64, only h_n used.
    rng = np.random.default_rng(5)
    ours, ref = _pair(torch, np.float32, input_size=28, hidden_size=128, batch_first=True)
    x_np = rng.random((64, 28, 28), dtype=np.float32)
    _, (h_n, _) = ours(nabla.tensor(x_np))
    _, (th_n, _) = ref(torch.tensor(x_np))
    _close(h_n, th_n, np.float32, "h_n")
    w = rng.standard_normal((1, 64, 128)).astype(np.float32)
    (h_n * nabla.tensor(w)).sum().backward()
    (th_n * torch.tensor(w)).sum().backward()
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-3,
                                   atol=1e-5, err_msg=name)
