"""Pooling and resampling: max/avg (1-D, 2-D), adaptive, interpolate, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from _conv_helpers import check_against_torch

import nabla
from nabla.ops import pool as PF
from nabla.ops import resample as RF

DTYPES = [np.float64, np.float32]

# (shape, kernel, stride, padding, dilation, ceil_mode)
MAX2D = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 2, 7, 9), 3, 2, 1, 1, False),
    ((1, 3, 7, 7), (3, 2), (2, 1), (1, 0), (1, 2), False),
    ((2, 2, 9, 8), 3, 2, 1, 2, True),
    ((1, 2, 6, 7), 2, 2, 0, 1, True),
    ((2, 1, 5, 5), 3, 1, 1, 1, False),
]


def _distinct(rng, shape):
    # Distinct values: the maximum of each window is unique, so gradients are defined.
    return rng.permutation(np.prod(shape)).reshape(shape) / 7.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX2D)
def test_max_pool2d_matches_torch(torch, case, dtype):
    shape, k, s, p, d, ceil = case
    x = _distinct(np.random.default_rng(0), shape)
    args = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    check_against_torch(
        torch,
        lambda x: PF.max_pool2d(x, **args),
        lambda x: torch.nn.functional.max_pool2d(x, **args),
        [x], dtype,
    )
    out, idx = PF.max_pool2d(nabla.tensor(x), return_indices=True, **args)
    tout, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **args)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == nabla.int64


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(torch):
    # After a ReLU whole windows are 0: PyTorch routes each gradient to one element.
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 1.0
    check_against_torch(
        torch,
        lambda x: PF.max_pool2d(x, 2),
        lambda x: torch.nn.functional.max_pool2d(x, 2),
        [x], np.float64,
    )
    check_against_torch(
        torch,
        lambda x: PF.max_pool2d(x, 3, 1, 1),
        lambda x: torch.nn.functional.max_pool2d(x, 3, 1, 1),
        [x], np.float64,
    )


def test_max_pool_propagates_nan(torch):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    mine = PF.max_pool2d(nabla.tensor(x), 2, return_indices=True)
    ref = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(mine[0].numpy(), ref[0].numpy())
    np.testing.assert_array_equal(mine[1].numpy(), ref[1].numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "case",
    [((2, 3, 10), 2, None, 0, 1, False), ((2, 2, 11), 3, 2, 1, 2, True),
     ((3, 9), 4, 3, 2, 1, False)],
)
def test_max_pool1d_matches_torch(torch, case, dtype):
    shape, k, s, p, d, ceil = case
    x = _distinct(np.random.default_rng(1), shape)
    args = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    check_against_torch(
        torch,
        lambda x: PF.max_pool1d(x, **args),
        lambda x: torch.nn.functional.max_pool1d(x, **args),
        [x], dtype,
    )
    _, idx = PF.max_pool1d(nabla.tensor(x), return_indices=True, **args)
    _, tidx = torch.nn.functional.max_pool1d(torch.tensor(x), return_indices=True, **args)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


# (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG2D = [
    ((2, 3, 8, 8), 2, None, 0, False, True, None),
    ((2, 2, 7, 9), 3, 2, 1, False, True, None),
    ((2, 2, 7, 9), 3, 2, 1, False, False, None),
    ((1, 3, 8, 7), (3, 2), (2, 1), (1, 1), True, True, None),
    ((1, 3, 8, 7), (3, 2), (2, 1), (1, 1), True, False, None),
    ((2, 2, 6, 6), 3, 3, 1, True, True, 5),
    ((3, 5, 5), 2, 1, 0, False, True, None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG2D)
def test_avg_pool2d_matches_torch(torch, case, dtype):
    shape, k, s, p, ceil, include, div = case
    x = np.random.default_rng(2).standard_normal(shape)
    args = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil,
                count_include_pad=include, divisor_override=div)
    check_against_torch(
        torch,
        lambda x: PF.avg_pool2d(x, **args),
        lambda x: torch.nn.functional.avg_pool2d(x, **args),
        [x], dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "case", [((2, 3, 10), 2, None, 0, False, True), ((2, 2, 11), 3, 2, 1, True, False)]
)
def test_avg_pool1d_matches_torch(torch, case, dtype):
    shape, k, s, p, ceil, include = case
    x = np.random.default_rng(3).standard_normal(shape)
    args = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=include)
    check_against_torch(
        torch,
        lambda x: PF.avg_pool1d(x, **args),
        lambda x: torch.nn.functional.avg_pool1d(x, **args),
        [x], dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,out",
    [((2, 3, 8, 8), (4, 4)), ((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), 1), ((1, 2, 3, 4), (5, 6)),
     ((2, 2, 6, 10), (None, 3)), ((3, 7, 7), 2)],
)
def test_adaptive_pools_match_torch(torch, shape, out, dtype):
    x = _distinct(np.random.default_rng(4), shape)
    check_against_torch(
        torch,
        lambda x: PF.adaptive_avg_pool2d(x, out),
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, out),
        [x], dtype,
    )
    check_against_torch(
        torch,
        lambda x: PF.adaptive_max_pool2d(x, out),
        lambda x: torch.nn.functional.adaptive_max_pool2d(x, out),
        [x], dtype,
    )
    _, idx = PF.adaptive_max_pool2d(nabla.tensor(x), out, return_indices=True)
    _, tidx = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", [4, 11, 1])
def test_adaptive_pools_1d_match_torch(torch, out, dtype):
    x = _distinct(np.random.default_rng(5), (2, 3, 11))
    check_against_torch(
        torch, lambda x: PF.adaptive_avg_pool1d(x, out),
        lambda x: torch.nn.functional.adaptive_avg_pool1d(x, out), [x], dtype,
    )
    check_against_torch(
        torch, lambda x: PF.adaptive_max_pool1d(x, out),
        lambda x: torch.nn.functional.adaptive_max_pool1d(x, out), [x], dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((2, 3, 4, 5), dict(scale_factor=2)),
        ((2, 3, 4, 5), dict(scale_factor=(3, 2))),
        ((2, 3, 4, 5), dict(size=(7, 3))),
        ((2, 3, 6, 6), dict(scale_factor=0.5)),
        ((2, 3, 5, 5), dict(scale_factor=1.7)),
        ((2, 3, 5, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
        ((2, 3, 5, 4), dict(size=(9, 7), mode="nearest-exact")),
        ((2, 3, 5, 4), dict(size=(9, 7), mode="bilinear", align_corners=False)),
        ((2, 3, 5, 4), dict(scale_factor=2.5, mode="bilinear", align_corners=True)),
        ((2, 3, 5, 4), dict(size=(3, 2), mode="bilinear")),
        ((2, 3, 7), dict(scale_factor=3)),
        ((2, 3, 7), dict(size=10, mode="linear")),
    ],
)
def test_interpolate_matches_torch(torch, shape, kwargs, dtype):
    x = np.random.default_rng(6).standard_normal(shape)
    check_against_torch(
        torch,
        lambda x: RF.interpolate(x, **kwargs),
        lambda x: torch.nn.functional.interpolate(x, **kwargs),
        [x], dtype,
    )


# ---------------------------------------------------------------------- gradcheck
def _f64(*shape, seed=0):
    return nabla.tensor(_distinct(np.random.default_rng(seed), shape), requires_grad=True)


def test_gradcheck_pools():
    x = _f64(1, 2, 5, 6)
    assert nabla.gradcheck(lambda x: PF.max_pool2d(x, 3, 2, 1, ceil_mode=True), (x,))
    assert nabla.gradcheck(lambda x: PF.max_pool2d(x, 2, 1, dilation=2), (x,))
    assert nabla.gradcheck(lambda x: PF.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (x,))
    assert nabla.gradcheck(lambda x: PF.adaptive_max_pool2d(x, (3, 4)), (x,))
    assert nabla.gradcheck(lambda x: PF.adaptive_avg_pool2d(x, (3, 4)), (x,))
    assert nabla.gradcheck(lambda x: RF.interpolate(x, size=(7, 4)), (x,))
    assert nabla.gradcheck(lambda x: RF.interpolate(x, scale_factor=2), (x,))
    assert nabla.gradcheck(
        lambda x: RF.interpolate(x, scale_factor=1.5, mode="bilinear"), (x,)
    )


def test_pool_of_input_without_grad_records_nothing():
    y = PF.max_pool2d(nabla.randn(1, 1, 4, 4), 2)
    assert y.grad_fn is None and not y.requires_grad


def test_indices_get_no_gradient():
    x = nabla.randn(1, 1, 4, 4, requires_grad=True)
    out, idx = PF.max_pool2d(x, 2, return_indices=True)
    assert out.requires_grad and not idx.requires_grad
    out.sum().backward()
    assert float(x.grad.sum()) == 4.0


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: PF.max_pool2d(nabla.zeros(1, 1, 2, 2), 3), "too small"),
        (lambda: PF.max_pool2d(nabla.zeros(1, 1, 8, 8), 2, padding=2), "at most half"),
        (lambda: PF.max_pool2d(nabla.zeros(8, 8), 2), r"3D \(unbatched\) or 4D.*\[8, 8\]"),
        (lambda: PF.max_pool1d(nabla.zeros(1, 1, 1, 8), 2), r"got input of size \[1, 1, 1, 8\]"),
        (lambda: PF.avg_pool2d(nabla.zeros(1, 1, 8, 8), 2, padding=2), "at most half"),
        (lambda: PF.avg_pool2d(nabla.zeros(1, 1, 1, 1), 2), "too small"),
        (lambda: PF.max_pool2d(nabla.zeros(1, 1, 8, 8), 0), "kernel_size must be positive"),
        (lambda: PF.adaptive_avg_pool2d(nabla.zeros(1, 1, 4, 4), 0), "positive"),
        (lambda: RF.interpolate(nabla.zeros(1, 1, 4, 4)), "exactly one"),
        (lambda: RF.interpolate(nabla.zeros(1, 4, 4), scale_factor=2, mode="bilinear"),
         "4D input"),
        (lambda: RF.interpolate(nabla.zeros(4, 4), scale_factor=2), r"\[4, 4\]"),
        (lambda: RF.interpolate(nabla.zeros(1, 1, 4, 4), scale_factor=2, align_corners=True),
         "align_corners"),
    ],
)
def test_bad_pooling_input_raises_clearly(call, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        call()


def test_pool_of_integers_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        PF.max_pool2d(nabla.zeros(1, 1, 4, 4, dtype=nabla.int64), 2)


# ------------------------------------------------------------------------ dropout2d
def test_dropout2d_zeroes_whole_channels():
    g = nabla.Generator().manual_seed(1)
    x = nabla.ones(8, 16, 3, 3, requires_grad=True)
    y = RF.dropout2d(x, 0.25, generator=g)
    per_channel = y.detach().numpy().reshape(8, 16, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # constant per channel
    assert set(np.unique(per_channel)) <= {0.0, np.float32(1 / 0.75)}
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    assert RF.dropout2d(x, 0.5, training=False) is x
    assert float(RF.dropout2d(x, 1.0).abs().sum()) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        RF.dropout2d(x, 1.5)


def test_dropout2d_of_3d_input_drops_per_first_two_dims_like_torch():
    y = RF.dropout2d(nabla.ones(4, 6, 5), 0.5, generator=nabla.Generator().manual_seed(0))
    a = y.numpy()
    assert np.all(a.min(-1) == a.max(-1))
    y1 = RF.dropout1d(nabla.ones(6, 5), 0.5, generator=nabla.Generator().manual_seed(0))
    assert np.all(y1.numpy().min(-1) == y1.numpy().max(-1))


# --------------------------------------------------------------------------- layers
from nabla.nn.layers import pooling as P  # noqa: E402

POOL_LAYERS = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=1, ceil_mode=True), (2, 3, 8, 9)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 10)),
    ("AvgPool2d", ((3, 2),), dict(stride=(2, 1), padding=1, count_include_pad=False),
     (2, 3, 7, 6)),
    ("AvgPool2d", (2,), dict(ceil_mode=True, divisor_override=3), (1, 2, 5, 5)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, (2, 3, 7, 9)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 5)),
    ("AdaptiveMaxPool2d", ((None, 3),), {}, (2, 3, 5, 7)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
    ("Upsample", (), dict(scale_factor=2), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=(5, 7), mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", (), dict(scale_factor=1.5, mode="nearest"), (2, 3, 4, 5)),
    ("UpsamplingNearest2d", (), dict(size=(6, 6)), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", (), dict(scale_factor=2), (1, 2, 3, 4)),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", POOL_LAYERS)
def test_pooling_layers_match_torch(torch, layer, dtype):
    from _conv_helpers import check_module

    name, args, kwargs, shape = layer
    ref = getattr(torch.nn, name)(*args, **kwargs)
    mine = getattr(P, name)(*args, **kwargs)
    x = _distinct(np.random.default_rng(20), shape)
    check_module(torch, mine, ref, x, dtype)


def test_max_pool_layer_with_indices(torch):
    x = _distinct(np.random.default_rng(21), (2, 2, 6, 6))
    out, idx = P.MaxPool2d(3, 2, 1, return_indices=True)(nabla.tensor(x))
    tout, tidx = torch.nn.MaxPool2d(3, 2, 1, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    _, idx = P.AdaptiveMaxPool2d(4, return_indices=True)(nabla.tensor(x))
    _, tidx = torch.nn.AdaptiveMaxPool2d(4, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_pooling_layers_have_no_parameters():
    for m in (P.MaxPool2d(2), P.AvgPool2d(2), P.AdaptiveAvgPool2d(1), P.Upsample(scale_factor=2)):
        assert list(m.parameters()) == [] and list(m.state_dict()) == []


def test_max_pool_routes_infinite_gradients_exactly(torch):
    # 0 * inf is nan: elements that did not win must still get exactly 0.
    x = _distinct(np.random.default_rng(22), (1, 1, 4, 4))
    g = np.ones((1, 1, 2, 2))
    g[0, 0, 0, 1] = np.inf
    xt = nabla.tensor(x, requires_grad=True)
    PF.max_pool2d(xt, 2).backward(nabla.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 2).backward(torch.tensor(g))
    np.testing.assert_array_equal(xt.grad.numpy(), tx.grad.numpy())


def test_max_pool_routes_gradients_that_overflow_where_windows_overlap():
    # The middle element wins all nine overlapping windows. The gradients are finite and
    # so is their sum, but the row pass adds 3e38 + 3e38 for the first column: inf,
    # which the column pass must route exactly (0 * inf would put nan beside it).
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 2] = 1.0
    g = np.array([[-3e38, 0, -3e38], [3e38, 0, 0], [3e38, 0, 0]], np.float32)
    assert np.isfinite(g.sum())
    xt = nabla.tensor(x, requires_grad=True)
    with np.errstate(over="ignore"):
        PF.max_pool2d(xt, 3, stride=1).backward(nabla.tensor(g[None, None]))
    expected = np.zeros((5, 5), np.float32)
    expected[2, 2] = np.inf
    np.testing.assert_array_equal(xt.grad.numpy()[0, 0], expected)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_an_empty_batch_as_torch(name):
    torch = pytest.importorskip("torch")
    got = []
    for lib in (nabla, torch):
        x = lib.zeros(0, 4, 8, 8, requires_grad=True)
        y = getattr(lib.nn.functional, name)(x, 2)
        y.sum().backward()
        got.append((tuple(y.shape), tuple(x.grad.shape)))
    assert got[0] == got[1]
