"""The LSTM's compiled path (``ops/lstm_compiled.py``, ``recurrent_kernels.py``) against
the NumPy passes it replaces, in every configuration of ``nn.LSTM``, with the batch in
parts on threads; its ``tanh`` against the true one; and the switches that keep to
NumPy. (``test_recurrent.py`` compares whichever path runs with PyTorch.)"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest

import nabla
from nabla.blas import sgemm_function
from nabla.ops import lstm_compiled as LC
from nabla.ops import recurrent_numba as RN

numba = pytest.importorskip("numba")
RK = pytest.importorskip("nabla.ops.recurrent_kernels")


def _real():
    k = RN.kernels()
    if k is None:
        pytest.skip("the compiled path is off (NABLA_NUMBA=0, or no OpenBLAS under NumPy)")
    return k


def _counting(calls):
    """The real kernels, wrapped to count their calls."""
    real = _real()

    def wrap(name):
        fn = getattr(real, name)

        def counted(*args):
            calls[name] += 1
            return fn(*args)

        return counted

    return types.SimpleNamespace(forward_part=wrap("forward_part"),
                                 backward_part=wrap("backward_part"), sgemm=real.sgemm)


def _train_step(layers, bidirectional, bias, state, all_outputs, batch, seed=0):
    """One forward and backward of a float32 LSTM; its outputs and every gradient."""
    rng = np.random.default_rng(seed)
    nabla.manual_seed(seed)
    lstm = nabla.nn.LSTM(5, 7, num_layers=layers, bidirectional=bidirectional, bias=bias,
                         batch_first=True)
    f32 = nabla.float32
    x = nabla.tensor(rng.standard_normal((batch, 6, 5)), dtype=f32, requires_grad=True)
    d = 2 if bidirectional else 1
    hc = None
    if state:
        hc = tuple(nabla.tensor(rng.standard_normal((layers * d, batch, 7)), dtype=f32,
                                requires_grad=True) for _ in range(2))
    out, (h_n, c_n) = lstm(x, hc)
    loss = (h_n * h_n).sum() + (c_n * 0.5).sum()
    if all_outputs:
        loss = loss + (out * nabla.tensor(rng.standard_normal(out.shape), dtype=f32)).sum()
    loss.backward()
    grads = [p.grad for p in lstm.parameters()] + [x.grad]
    if state:
        grads += [s.grad for s in hc]
    return [a.detach().numpy() for a in (out, h_n, c_n, *grads)]


CONFIGS = [
    # layers, bidirectional, bias, initial state, gradient into every output, batch
    (1, False, True, False, False, 64),  # the benchmark's shape of use: two parts
    (1, False, True, True, True, 37),  # parts of 18 and 19 columns
    (2, True, True, False, True, 40),
    (1, True, False, True, False, 33),
    (2, False, True, True, True, 5),  # one part
    (1, True, True, True, True, 0),  # an empty batch
]


@pytest.mark.parametrize("config", CONFIGS)
def test_compiled_path_matches_the_numpy_passes(monkeypatch, two_threads, config):
    calls = {"forward_part": 0, "backward_part": 0}
    monkeypatch.setattr(LC, "kernels", lambda dtype: _counting(calls))
    compiled = _train_step(*config)
    # One call a part, direction and layer, forward and backward (the path under test).
    parts = 1 if config[-1] < 2 * LC._MIN_PART else 2
    runs = config[0] * (2 if config[1] else 1) * parts
    assert calls == {"forward_part": runs, "backward_part": runs}
    monkeypatch.setattr(LC, "kernels", lambda dtype: None)
    reference = _train_step(*config)
    for mine, ref in zip(compiled, reference, strict=True):
        assert mine.dtype == ref.dtype == np.float32
        # Another tanh (within 6 units in the last place) and another product order.
        np.testing.assert_allclose(mine, ref, rtol=2e-5, atol=2e-6)


def test_one_part_and_two_parts_agree(two_threads):
    two = _train_step(2, True, True, True, True, 40)
    nabla.set_num_threads(1)
    one = _train_step(2, True, True, True, True, 40)
    for a, b in zip(two, one, strict=True):
        # The weight gradients are sums over the parts: another order of the same sums.
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_only_float32_takes_the_compiled_path():
    assert LC.kernels(np.dtype(np.float64)) is None
    assert LC.kernels(np.dtype(np.float16)) is None
    assert LC.kernels(np.dtype(np.float32)) is RN.kernels()


def _ulps(got, x):
    """Distance of float32 results from the true tanh of float32 inputs, in units in the
    last place of the correctly rounded value."""
    true = np.tanh(x.astype(np.float64))
    rounded = true.astype(np.float32)
    return np.abs(got.astype(np.float64) - true) / np.spacing(np.abs(rounded)).astype(np.float64)


def test_tanh32_is_within_6_ulp_everywhere():
    # Every 1009th float32 from 1e-30 to 12, both signs (1.7 million inputs, every
    # binade sampled densely); every 13th, 133 million, gave a largest error of 5.4.
    lo, hi = np.float32(1e-30).view(np.int32), np.float32(12.0).view(np.int32)
    pos = np.arange(lo, hi, 1009, dtype=np.int32).view(np.float32)
    x = np.concatenate([pos, -pos])
    got = np.empty_like(x)
    RK.tanh_into(x, got)
    assert _ulps(got, x).max() <= 6.0
    # As a check that the measure can fail: NumPy's float32 tanh is within 1.5 here, a
    # cruder formula is not.
    assert _ulps(np.tanh(x), x).max() <= 1.5
    assert _ulps(np.float32(1) - np.float32(2) / (np.exp(2 * x) + 1), x).max() > 6.0


def test_tanh32_special_values():
    x = np.array([0.0, -0.0, 1e-38, -1e-40, 9.5, -9.5, 1e30, -1e30, np.inf, -np.inf, np.nan],
                 np.float32)
    got = np.empty_like(x)
    RK.tanh_into(x, got)
    want = np.array([0.0, -0.0, 1e-38, -1e-40, 1, -1, 1, -1, 1, -1, np.nan], np.float32)
    np.testing.assert_array_equal(got, want)
    assert math.copysign(1, got[1]) == -1  # tanh(-0) is -0


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _gates(pre, H):
    """i, f, g, o from the pre-activations (rows in PyTorch's order)."""
    return (_sigmoid(pre[:H]), _sigmoid(pre[H:2 * H]), np.tanh(pre[2 * H:3 * H]),
            _sigmoid(pre[3 * H:]))


def test_kernels_compute_the_textbook_lstm():
    # Not only consistent with the NumPy passes (which could share a mistake): one part
    # of 3 columns, 4 steps, against the LSTM's formulas in float64.
    k = _real()
    rng = np.random.default_rng(2)
    T, H, I, bp = 4, 5, 3, 3
    K, G = H + I + 1, 4 * H
    w = rng.standard_normal((G, K)) * 0.5  # [W_hh | W_ih | b], rows i, f, g, o
    xs = rng.standard_normal((T, I, bp))
    # The kernel's weights: rows i, f, o, g, the sigmoid ones halved.
    perm = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
    wk = (w[perm] * np.r_[np.full(3 * H, 0.5), np.ones(H)][:, None]).astype(np.float32)
    z = np.zeros((T + 1, K, bp), np.float32)
    z[:T, H:H + I] = xs
    z[:, H + I] = 1
    a, c = np.empty((T, G, bp), np.float32), np.zeros((T + 1, H, bp), np.float32)
    tc = np.empty((T, H, bp), np.float32)
    k.forward_part(k.sgemm, wk, z.reshape(T + 1, -1), a.reshape(T, -1),
                   c.reshape(T + 1, -1), tc.reshape(T, -1), bp, False, True)
    h, cell = np.zeros((H, bp)), np.zeros((H, bp))
    hs, cs = [h], [cell]
    for t in range(T):
        pre = w @ np.concatenate([h, xs[t], np.ones((1, bp))])
        i, f, g, o = _gates(pre, H)
        cell = f * cell + i * g
        h = o * np.tanh(cell)
        hs.append(h)
        cs.append(cell)
    np.testing.assert_allclose(z[1:, :H], np.array(hs[1:]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c[1:], np.array(cs[1:]), rtol=1e-5, atol=1e-6)
    # Backward, with a gradient on every output: the gate gradients by the chain rule.
    w_hh = w[:, :H].astype(np.float32)  # PyTorch's order, as backward takes it
    dout = rng.standard_normal((T, H, bp)).astype(np.float32)
    dh, dc = np.zeros(H * bp, np.float32), np.zeros(H * bp, np.float32)
    dg = np.empty((T, G, bp), np.float32)
    k.backward_part(k.sgemm, w_hh, a.reshape(T, -1), c.reshape(T + 1, -1),
                    tc.reshape(T, -1), z.reshape(T + 1, -1), dout.reshape(T, -1), dh, dc,
                    dg.reshape(T, -1), bp, False, True)
    dh_r, dc_r = np.zeros((H, bp)), np.zeros((H, bp))
    for t in range(T - 1, -1, -1):
        pre = w @ np.concatenate([hs[t], xs[t], np.ones((1, bp))])
        i, f, g, o = _gates(pre, H)
        tct = np.tanh(cs[t + 1])
        dh_r = dh_r + dout[t]
        dc_r = dc_r + dh_r * o * (1 - tct**2)
        want = np.concatenate([dc_r * g * i * (1 - i), dc_r * cs[t] * f * (1 - f),
                               dc_r * i * (1 - g**2), dh_r * tct * o * (1 - o)])
        np.testing.assert_allclose(dg[t], want, rtol=1e-4, atol=1e-5)
        dh_r, dc_r = w[:, :H].T @ want, dc_r * f
    np.testing.assert_allclose(dh.reshape(H, bp), dh_r, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dc.reshape(H, bp), dc_r, rtol=1e-4, atol=1e-5)


def _load_again(monkeypatch):
    """``RN.kernels()`` as on first use: looked for anew."""
    monkeypatch.setattr(RN, "_loaded", [])
    return RN.kernels()


def test_nabla_numba_0_keeps_to_numpy(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    assert _load_again(monkeypatch) is None
    monkeypatch.setenv("NABLA_NUMBA", "1")
    assert _load_again(monkeypatch) is not None or sgemm_function() is None


def test_without_numba_the_kernels_are_none(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "1")  # whatever the environment says
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    assert _load_again(monkeypatch) is None


def test_without_openblas_the_kernels_are_none(monkeypatch):
    import nabla.threads as TH

    monkeypatch.setenv("NABLA_NUMBA", "1")
    monkeypatch.setattr(TH, "openblas_symbol", lambda name: (None, None))
    assert _load_again(monkeypatch) is None


def test_a_kernel_that_fails_its_check_warns_and_keeps_to_numpy(monkeypatch):
    def broken(k):
        raise RuntimeError("no LLVM for this CPU")

    monkeypatch.setenv("NABLA_NUMBA", "1")
    monkeypatch.setattr(RN, "_check", broken)
    with pytest.warns(UserWarning, match="could not be compiled.*no LLVM for this CPU"):
        assert _load_again(monkeypatch) is None
