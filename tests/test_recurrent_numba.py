"""The compiled LSTM step kernels (``ops/recurrent_numba.py``) against the NumPy passes
they replace: the same outputs and gradients, bit for bit, in every configuration of
``nn.LSTM``; and the switches that keep to NumPy."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import nabla
from nabla.ops import recurrent as R
from nabla.ops import recurrent_numba as RN

numba = pytest.importorskip("numba")


def _counting(calls):
    """The real kernels, wrapped to count their calls."""
    real = RN.kernels()
    assert real is not None

    def wrap(name):
        fn = getattr(real, name)

        def counted(*args):
            calls[name] += 1
            return fn(*args)

        return counted

    return types.SimpleNamespace(cell=wrap("cell"), backward_step=wrap("backward_step"))


def _train_step(dtype, layers, bidirectional, bias, state, all_outputs, seed=0):
    """One forward and backward of an LSTM; its outputs and every gradient, as arrays."""
    rng = np.random.default_rng(seed)
    nabla.manual_seed(seed)
    lstm = nabla.nn.LSTM(5, 7, num_layers=layers, bidirectional=bidirectional, bias=bias,
                         batch_first=True).to(dtype)
    x = nabla.tensor(rng.standard_normal((3, 6, 5)), dtype=dtype, requires_grad=True)
    d = 2 if bidirectional else 1
    hc = None
    if state:
        hc = tuple(nabla.tensor(rng.standard_normal((layers * d, 3, 7)), dtype=dtype,
                                requires_grad=True) for _ in range(2))
    out, (h_n, c_n) = lstm(x, hc)
    loss = (h_n * h_n).sum() + (c_n * 0.5).sum()
    if all_outputs:
        loss = loss + (out * nabla.tensor(rng.standard_normal(out.shape), dtype=dtype)).sum()
    loss.backward()
    grads = [p.grad for p in lstm.parameters()] + [x.grad]
    if state:
        grads += [s.grad for s in hc]
    return [a.detach().numpy() for a in (out, h_n, c_n, *grads)]


CONFIGS = [
    # dtype, layers, bidirectional, bias, initial state, gradient into every output
    (nabla.float32, 1, False, True, False, False),  # the benchmark's shape of use
    (nabla.float32, 1, False, True, True, True),
    (nabla.float32, 2, True, True, False, True),
    (nabla.float32, 1, True, False, True, False),
    (nabla.float64, 2, False, True, True, True),
    (nabla.float64, 1, True, True, False, False),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_kernels_give_the_numpy_passes_bits(monkeypatch, config):
    calls = {"cell": 0, "backward_step": 0}
    monkeypatch.setattr(R, "_kernels", lambda dtype: _counting(calls))
    compiled = _train_step(*config)
    # 6 steps per direction and layer, forward and backward (the path under test ran).
    runs = config[1] * (2 if config[2] else 1) * 6
    assert calls == {"cell": runs, "backward_step": runs}
    monkeypatch.setattr(R, "_kernels", lambda dtype: None)
    reference = _train_step(*config)
    for mine, ref in zip(compiled, reference, strict=True):
        assert mine.dtype == ref.dtype
        np.testing.assert_array_equal(mine, ref)


def test_float16_and_other_dtypes_keep_to_numpy():
    assert R._kernels(np.dtype(np.float16)) is None
    assert R._kernels(np.dtype(np.float32)) is RN.kernels()


def test_nabla_numba_0_keeps_to_numpy(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    assert RN._compile() is None
    monkeypatch.setenv("NABLA_NUMBA", "1")
    assert RN._compile() is not None


def test_without_numba_the_kernels_are_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    assert RN._compile() is None


def test_kernel_arithmetic_is_the_formula_not_just_consistent():
    # The NumPy passes could share a mistake with the kernels; check a step by the
    # textbook formulas too: sigmoid gates from halved rows, c = f c_prev + i g.
    k = RN.kernels()
    rng = np.random.default_rng(1)
    n = 10
    pre = rng.standard_normal(4 * n)  # i, f, o from halved rows; g whole
    a = np.tanh(pre)
    c_prev = rng.standard_normal(n)
    c = np.empty(n)
    k.cell(a, c_prev, c, np.float64(0.5), False)
    sig = 1 / (1 + np.exp(-2 * pre[:3 * n]))
    np.testing.assert_allclose(a[:3 * n], sig, rtol=1e-12)
    i, f, g = a[:n], a[n:2 * n], a[3 * n:]
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-12)
    a = np.tanh(pre)
    k.cell(a, c_prev, c, np.float64(0.5), True)  # a first step has no c_prev
    np.testing.assert_allclose(c, sig[:n] * a[3 * n:], rtol=1e-12)
    # Backward: dc_total = dc + dh * o (1 - tanh(c)^2), then d(pre-activations) of
    # i, f, g, o, and dc times f for the step before.
    o, tc = a[2 * n:3 * n], np.tanh(c)
    h = o * tc
    dh, dc = rng.standard_normal(n), rng.standard_normal(n)
    dg, dc_k = np.empty(4 * n), dc.copy()
    k.backward_step(dh, dc_k, a, c_prev, tc, h, dg, True)
    i, f, g = a[:n], a[n:2 * n], a[3 * n:]
    total = dc + dh * o * (1 - tc**2)
    want = np.concatenate([total * g * i * (1 - i), total * c_prev * f * (1 - f),
                           total * i * (1 - g**2), dh * tc * o * (1 - o)])
    np.testing.assert_allclose(dg, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dc_k, total * f, rtol=1e-12)


def test_a_numba_that_cannot_compile_warns_and_keeps_to_numpy(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no LLVM for this CPU")

    monkeypatch.setattr(numba, "njit", broken)
    with pytest.warns(UserWarning, match="could not be compiled.*no LLVM for this CPU"):
        assert RN._compile() is None
