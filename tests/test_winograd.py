"""The Winograd path of ``Conv2d`` (``ops/winograd.py``, ``winograd_kernels.py``) against
im2col, the reference path it replaces, and against PyTorch: padding of every kind,
outputs that do not fill whole 4x4 tiles, a batch in several chunks on two threads,
every combination of wanted gradients; where it must not run; and the switches that
keep to im2col."""

from __future__ import annotations

import numpy as np
import pytest
from _compiled_helpers import count_calls, real_kernels

import nabla
from nabla.ops import winograd as W

pytest.importorskip("numba")


def _real():
    return real_kernels(W.kernels, "the Winograd kernels")


@pytest.fixture
def calls(monkeypatch):
    """Counts of the compiled transforms' calls, the real kernels still running."""
    counts = {"input_tiles": 0, "input_grad_tiles": 0}
    return count_calls(monkeypatch, W, "_loaded", _real(), counts, tuple(counts))


def _im2col_only(monkeypatch):
    monkeypatch.setattr(W, "applies", lambda x, w, params: False)


def _run(shape, out_ch, padding, bias=True, needs=(True, True, True), seed=0,
         dtype=np.float32, **kw):
    """Forward and backward of one conv2d; the output and the wanted gradients."""
    rng = np.random.default_rng(seed)
    x = nabla.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=needs[0])
    w = nabla.tensor((rng.standard_normal((out_ch, shape[1] // kw.get("groups", 1),
                                           *kw.pop("k", (3, 3)))) * 0.2).astype(dtype),
                     requires_grad=needs[1])
    b = nabla.tensor(rng.standard_normal(out_ch).astype(dtype),
                     requires_grad=needs[2]) if bias else None
    y = nabla.nn.functional.conv2d(x, w, b, padding=padding, **kw)
    g = nabla.tensor(rng.standard_normal(tuple(y.shape)).astype(dtype))
    if any(needs[:2 + bias]):
        (y * g).sum().backward()
    grads = [t.grad.numpy() if t is not None and t.grad is not None else None
             for t in (x, w, b)]
    return [y.detach().numpy()] + grads


def _close(got, want, rel=2e-5):
    for a, b in zip(got, want):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=0, atol=rel * np.abs(b).max())


GEOMETRIES = [
    # (N, C, H, W), out channels, padding
    ((6, 32, 26, 26), 64, 0),  # the MNIST CNN's second layer, smaller batch
    ((5, 16, 13, 11), 24, 1),  # outputs of 13x11: part-filled tiles at both edges
    ((3, 17, 9, 10), 16, (1, 0)),
    ((2, 16, 8, 8), 20, "same"),
    ((2, 16, 3, 4), 16, 0),  # a single 1x2 output
    ((1, 20, 2, 2), 16, 2),  # more padding than image
    ((4, 8, 10, 10), 5, 1),  # few channels: 8 in, 5 out
]


@pytest.mark.parametrize("shape, out_ch, padding", GEOMETRIES)
def test_winograd_equals_im2col(shape, out_ch, padding, calls, monkeypatch):
    got = _run(shape, out_ch, padding)
    assert calls["input_tiles"] > 0 and calls["input_grad_tiles"] > 0
    _im2col_only(monkeypatch)
    _close(got, _run(shape, out_ch, padding))


def test_uneven_padding_through_conv_layers(calls, monkeypatch):
    """``padding`` as (top, bottom, left, right) reaches the kernels unchanged, as the
    layers' asymmetric 'same' padding of even kernels does elsewhere."""
    from nabla.ops.conv import Conv2d

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 7, 9)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    params = ((1, 1), (2, 0, 0, 1), (1, 1), 1)
    got = Conv2d.forward(type("Ctx", (), {})(), x, w, None, *params)
    assert calls["input_tiles"] > 0
    _im2col_only(monkeypatch)
    want = Conv2d.forward(type("Ctx", (), {})(), x, w, None, *params)
    assert got.shape == want.shape == (2, 16, 7, 8)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_chunks_and_threads(two_threads, calls, monkeypatch):
    """A batch in several chunks, the last one short, the chunks split over two
    threads: the same values as im2col."""
    from nabla.ops import conv

    monkeypatch.setattr(conv, "_MIN_PART_MACS", 1)  # so small a batch splits too
    monkeypatch.setattr(conv, "_MIN_ROWS", 1)
    monkeypatch.setattr(W, "_CHUNK", 1)  # one sample a chunk
    got = _run((11, 16, 10, 9), 16, 1)
    assert calls["input_tiles"] == 11
    monkeypatch.setattr(W, "_CHUNK", 3 * (16 + 16) * 36 * 9 * 4)  # 3 a chunk: 3, 3, 3, 2
    again = _run((11, 16, 10, 9), 16, 1)
    _im2col_only(monkeypatch)
    want = _run((11, 16, 10, 9), 16, 1)
    _close(got, want)
    _close(again, want)


@pytest.mark.parametrize("needs, bias", [
    ((True, False, False), True), ((False, True, False), True), ((False, False, True), True),
    ((False, True, True), True), ((True, True, False), False), ((False, False, False), True),
])
def test_wanted_gradients_only(needs, bias, calls, monkeypatch):
    got = _run((3, 16, 9, 9), 16, 1, bias=bias, needs=needs)
    _im2col_only(monkeypatch)
    _close(got, _run((3, 16, 9, 9), 16, 1, bias=bias, needs=needs))


def test_against_torch():
    torch = pytest.importorskip("torch")
    _real()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 24, 14, 15)).astype(np.float32)
    w = (rng.standard_normal((32, 24, 3, 3)) * 0.2).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    g = rng.standard_normal((4, 32, 14, 15)).astype(np.float32)
    outs = []
    for lib, as_t in ((nabla, nabla.tensor), (torch, torch.tensor)):
        ts = [as_t(a, requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.conv2d(*ts, padding=1)
        y.backward(as_t(g))
        outs.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    _close(*outs)


@pytest.mark.parametrize("kw", [
    {"dtype": np.float64}, {"stride": 2}, {"dilation": 2}, {"groups": 2},
    {"k": (5, 5)}, {"k": (3, 1)},
])
def test_runs_only_where_it_applies(kw, calls):
    _run((2, 16, 12, 12), 16, 1, **kw)
    assert calls["input_tiles"] == 0


def test_too_few_channels(calls):
    _run((2, 3, 12, 12), 32, 1)  # a first layer: 3 channels in
    _run((2, 7, 12, 12), 32, 1)
    _run((2, 32, 12, 12), 3, 1)
    assert calls["input_tiles"] == 0
    _run((2, 8, 12, 12), 4, 1)  # the fewest that take this path
    assert calls["input_tiles"] == 1


def test_no_graph_keeps_nothing(calls):
    """Without a graph the transformed input goes straight back to the pool."""
    x = nabla.randn(2, 16, 8, 8)
    w = nabla.randn(16, 16, 3, 3)
    with nabla.no_grad():
        y = nabla.nn.functional.conv2d(x, w, padding=1)
    assert calls["input_tiles"] > 0 and y.grad_fn is None


def test_switched_off(monkeypatch):
    monkeypatch.setenv("NABLA_NUMBA", "0")
    monkeypatch.setattr(W, "_loaded", [])
    assert W.kernels() is None
    x = np.ones((1, 16, 6, 6), np.float32)
    assert not W.applies(x, np.ones((16, 16, 3, 3), np.float32),
                         ((1, 1), (0, 0, 0, 0), (1, 1), 1))


def test_failing_check_warns_and_keeps_to_im2col(monkeypatch):
    def broken(wk):
        raise RuntimeError("wrong values")

    monkeypatch.setenv("NABLA_NUMBA", "1")
    monkeypatch.setattr(W, "_loaded", [])
    monkeypatch.setattr(W, "_check", broken)
    with pytest.warns(UserWarning, match="Winograd.*wrong values.*im2col"):
        assert W.kernels() is None


def test_check_catches_a_wrong_transform(monkeypatch):
    """The start-up check fails on a kernel that computes a wrong value."""
    wk = _real()

    class Off:
        def __getattr__(self, name):
            return getattr(wk, name)

        @staticmethod
        def output_tiles(m, lo, hi, th, tw, bias, out):
            wk.output_tiles(m, lo, hi, th, tw, bias + np.float32(1e-2), out)

    with pytest.raises(RuntimeError, match="wrong values"):
        W._check(Off())


def test_kernel_transform_matches_the_points():
    """G, together with the kernels' B^T and A^T, computes the 1-D correlation exactly
    (float64): the matrices belong to one algorithm."""
    bt = np.array([[4, 0, -5, 0, 1, 0], [0, 4, 4, -1, -1, 0], [0, -4, 4, 1, -1, 0],
                   [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]])
    at = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                   [0, 1, -1, 8, -8, 1]])
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal(6), rng.standard_normal(3)
    direct = np.array([d[k:k + 3] @ g for k in range(4)])
    np.testing.assert_allclose(at @ ((W._G @ g) * (bt @ d)), direct, rtol=1e-12)


def test_non_finite_values_stay_in_their_tiles(calls):
    """A NaN spreads to at most the 4x4 output blocks of the tiles that read it (and
    their neighbours' overlap), never further; finite elsewhere."""
    x = np.zeros((1, 16, 12, 12), np.float32)
    x[0, 3, 1, 1] = np.nan
    w = nabla.ones(16, 16, 3, 3)
    y = nabla.nn.functional.conv2d(nabla.tensor(x), w).numpy()  # outputs 10x10
    assert calls["input_tiles"] > 0
    nan = np.isnan(y[0, 0])
    assert nan[0, 0] and nan[1, 1]  # the direct convolution's NaNs are there
    assert not nan[4:].any() and not nan[:, 4:].any()  # nothing beyond its tile


def test_buffers_come_back_to_the_pool(calls):
    """Training steps reuse the pooled buffers, the kept transformed input among them:
    the pool does not grow from step to step (it did, by the kept tiles each step, when
    they were handed back under another key than they were taken with)."""
    from nabla import workspace

    x = nabla.randn(4, 16, 10, 10, requires_grad=True)
    w = nabla.randn(16, 16, 3, 3, requires_grad=True)
    sizes = []
    for _ in range(4):
        nabla.nn.functional.conv2d(x, w, padding=1).sum().backward()
        sizes.append(workspace._pool.bytes)
    assert calls["input_tiles"] == 4
    assert sizes[1] == sizes[2] == sizes[3] > 0


def test_sequential_leaves_such_convolutions_unfused(calls):
    """``Sequential`` fuses Conv2d -> ReLU -> MaxPool2d into one im2col node, except for a
    convolution that this path takes: it runs alone here, the same values."""
    nn, F = nabla.nn, nabla.nn.functional
    nabla.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    x = nabla.randn(3, 1, 14, 14)
    y = model(x)
    assert calls["input_tiles"] == 1  # the second convolution only
    c1, c2 = model[0], model[3]
    h = F.max_pool2d(F.relu(F.conv2d(x, c1.weight, c1.bias)), 2)
    want = F.max_pool2d(F.relu(F.conv2d(h, c2.weight, c2.bias, padding=1)), 2)
    np.testing.assert_array_equal(y.detach().numpy(), want.detach().numpy())


def test_an_empty_batch(calls):
    x = nabla.zeros(0, 16, 8, 8, requires_grad=True)
    w = nabla.randn(16, 16, 3, 3, requires_grad=True)
    b = nabla.randn(16, requires_grad=True)
    y = nabla.nn.functional.conv2d(x, w, b, padding=1)
    y.sum().backward()
    assert y.shape == x.grad.shape == (0, 16, 8, 8)
    assert not w.grad.numpy().any() and not b.grad.numpy().any()
