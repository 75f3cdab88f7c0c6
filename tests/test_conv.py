"""Convolution: conv1d/conv2d/conv_transpose, unfold/fold, against PyTorch and by gradcheck."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _conv_helpers import check_against_torch

import nabla
from nabla.ops import conv as C

DTYPES = [np.float64, np.float32]

# (N, Cin, H, W, Cout, (kh, kw), stride, padding, dilation, groups, bias): a modest grid
# that still crosses every parameter with the others.
CONV2D = [
    (2, 3, 7, 7, 4, (3, 3), 1, 0, 1, 1, True),
    (2, 3, 8, 6, 4, (3, 2), 2, 1, 1, 1, False),
    (1, 4, 9, 9, 6, (3, 3), (2, 1), (1, 2), 2, 2, True),
    (3, 6, 6, 7, 6, (1, 1), 1, 0, 1, 3, True),
    (2, 4, 10, 8, 4, (5, 3), 3, (2, 1), (1, 2), 4, True),
    (2, 2, 5, 5, 3, (2, 2), 1, "same", 1, 1, True),
    (2, 2, 6, 7, 2, (3, 4), 1, "same", 2, 2, False),
    (1, 3, 6, 6, 2, (3, 3), 2, "valid", 1, 1, True),
    (2, 1, 28, 28, 6, (5, 5), 1, 2, 1, 1, True),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV2D)
def test_conv2d_matches_torch(torch, case, dtype):
    n, cin, h, w, cout, k, stride, padding, dilation, groups, bias = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, cin, h, w))
    wt = rng.standard_normal((cout, cin // groups, *k))
    b = rng.standard_normal(cout) if bias else None
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    check_against_torch(
        torch,
        lambda x, w, b: C.conv2d(x, w, b, **args),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **args),
        [x, wt, b], dtype, scale=10,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_input_gets_no_gradient_when_not_required(torch, dtype):
    rng = np.random.default_rng(2)
    check_against_torch(
        torch,
        lambda x, w, b: C.conv2d(x, w, b, padding=1),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1),
        [rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)),
         rng.standard_normal(4)],
        dtype, grads=[False, True, True],
    )


def test_conv2d_only_input_gradient(torch):
    rng = np.random.default_rng(3)
    check_against_torch(
        torch,
        lambda x, w: C.conv2d(x, w, stride=2),
        lambda x, w: torch.nn.functional.conv2d(x, w, stride=2),
        [rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))],
        np.float64, grads=[True, False],
    )


def test_conv2d_unbatched_input(torch):
    rng = np.random.default_rng(4)
    check_against_torch(
        torch,
        lambda x, w: C.conv2d(x, w, padding=1),
        lambda x, w: torch.nn.functional.conv2d(x, w, padding=1),
        [rng.standard_normal((3, 5, 5)), rng.standard_normal((2, 3, 3, 3))],
        np.float64,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "case",
    [
        (2, 3, 11, 4, 3, 1, 0, 1, 1, True),
        (2, 4, 12, 6, 3, 2, 2, 2, 2, False),
        (1, 2, 9, 4, 4, 1, "same", 3, 2, True),
        (2, 3, 8, 3, 1, 1, 0, 1, 3, True),
    ],
)
def test_conv1d_matches_torch(torch, case, dtype):
    n, cin, length, cout, k, stride, padding, dilation, groups, bias = case
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, cin, length))
    wt = rng.standard_normal((cout, cin // groups, k))
    b = rng.standard_normal(cout) if bias else None
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    check_against_torch(
        torch,
        lambda x, w, b: C.conv1d(x, w, b, **args),
        lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **args),
        [x, wt, b], dtype, scale=10,
    )


# (N, Cin, H, W, Cout, k, stride, padding, output_padding, groups, dilation, bias)
TRANSPOSED = [
    (2, 3, 4, 4, 2, (3, 3), 1, 0, 0, 1, 1, True),
    (2, 4, 5, 4, 6, (3, 2), 2, 1, 1, 2, 1, True),
    (1, 2, 3, 5, 3, (2, 3), (2, 3), (0, 1), (1, 2), 1, 1, False),
    (2, 4, 4, 4, 4, (3, 3), 2, 1, 0, 4, 2, True),
    (1, 2, 6, 6, 2, (4, 4), 2, 1, 0, 1, 1, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TRANSPOSED)
def test_conv_transpose2d_matches_torch(torch, case, dtype):
    n, cin, h, w, cout, k, stride, padding, opad, groups, dilation, bias = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, cin, h, w))
    wt = rng.standard_normal((cin, cout // groups, *k))
    b = rng.standard_normal(cout) if bias else None
    args = dict(stride=stride, padding=padding, output_padding=opad, groups=groups,
                dilation=dilation)
    check_against_torch(
        torch,
        lambda x, w, b: C.conv_transpose2d(x, w, b, **args),
        lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **args),
        [x, wt, b], dtype, scale=10,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose1d_matches_torch(torch, dtype):
    rng = np.random.default_rng(7)
    args = dict(stride=3, padding=1, output_padding=1, groups=2, dilation=2)
    check_against_torch(
        torch,
        lambda x, w, b: C.conv_transpose1d(x, w, b, **args),
        lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **args),
        [rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 3, 3)),
         rng.standard_normal(6)],
        dtype, scale=10,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kernel,dilation,padding,stride",
    [((2, 3), 1, 0, 1), (3, (2, 1), 1, 2), ((1, 1), 1, 0, 1), (2, 1, (1, 0), (1, 3))],
)
def test_unfold_and_fold_match_torch(torch, kernel, dilation, padding, stride, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 8))
    args = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    cols = check_against_torch(
        torch,
        lambda x: C.unfold(x, **args),
        lambda x: torch.nn.functional.unfold(x, **args),
        [x], dtype,
    )
    check_against_torch(
        torch,
        lambda c: C.fold(c, (7, 8), **args),
        lambda c: torch.nn.functional.fold(c, (7, 8), **args),
        [cols.detach().numpy()], dtype,
    )


def test_unfold_of_1x1_kernel_owns_its_memory():
    x = nabla.randn(1, 2, 3, 3)
    cols = C.unfold(x, 1)
    cols.data[...] = 0
    assert float(x.abs().sum()) > 0


def test_unfold_unbatched(torch):
    x = np.arange(2 * 4 * 4, dtype=np.float64).reshape(2, 4, 4)
    ref = torch.nn.functional.unfold(torch.tensor(x), 2).numpy()
    np.testing.assert_array_equal(C.unfold(nabla.tensor(x), 2).numpy(), ref)


def test_conv2d_as_unfold_then_matmul():
    # The textbook identity: convolution is a matrix product over unfolded patches.
    rng = np.random.default_rng(9)
    x = nabla.tensor(rng.standard_normal((2, 3, 6, 6)))
    w = nabla.tensor(rng.standard_normal((4, 3, 3, 3)))
    direct = C.conv2d(x, w, padding=1, stride=2)
    cols = C.unfold(x, 3, padding=1, stride=2)  # (2, 27, 9)
    via = (w.reshape(4, -1) @ cols).reshape(2, 4, 3, 3)
    np.testing.assert_allclose(direct.numpy(), via.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------- gradcheck
def _f64(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return nabla.tensor(rng.standard_normal(shape), requires_grad=True)


def test_gradcheck_conv2d():
    x, w, b = _f64(2, 4, 5, 5), _f64(4, 2, 3, 2, seed=1), _f64(4, seed=2)
    assert nabla.gradcheck(
        lambda x, w, b: C.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                                 groups=2),
        (x, w, b),
    )


def test_gradcheck_conv_transpose2d():
    x, w, b = _f64(1, 2, 3, 3), _f64(2, 3, 3, 3, seed=1), _f64(3, seed=2)
    assert nabla.gradcheck(
        lambda x, w, b: C.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        (x, w, b),
    )


def test_gradcheck_conv1d_and_fold():
    x, w = _f64(2, 2, 6), _f64(3, 2, 3, seed=1)
    assert nabla.gradcheck(lambda x, w: C.conv1d(x, w, padding="same", dilation=2), (x, w))
    cols = _f64(1, 8, 4, seed=3)
    assert nabla.gradcheck(lambda c: C.fold(c, (3, 3), 2), (cols,))


def test_conv2d_float32_stays_float32():
    x = nabla.randn(2, 3, 8, 8)
    w = nabla.randn(4, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w, nabla.zeros(4, requires_grad=True))
    y.sum().backward()
    assert y.dtype == nabla.float32 and w.grad.dtype == nabla.float32


def test_conv2d_graph_repeats_and_frees():
    # The same weights used twice in one graph: both uses contribute to the gradient.
    w = nabla.randn(3, 3, 3, 3, dtype=nabla.float64, requires_grad=True)
    x = nabla.randn(1, 3, 6, 6, dtype=nabla.float64)
    C.conv2d(C.conv2d(x, w, padding=1), w, padding=1).sum().backward()
    g1 = w.grad.numpy().copy()
    w.grad = None
    h = C.conv2d(x, w, padding=1).detach().requires_grad_()
    C.conv2d(h, w, padding=1).sum().backward()
    part = w.grad.numpy().copy()
    assert not np.allclose(g1, part)  # the first use contributed too


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "x_shape,w_shape,kwargs,match",
    [
        ((2, 3, 8, 8), (4, 2, 3, 3), {}, r"expected input\[2, 3, 8, 8\] to have 2 channels"),
        ((2, 4, 8, 8), (4, 2, 3, 3), {"groups": 3}, "to have 6 channels"),
        ((2, 4, 8, 8), (3, 2, 3, 3), {"groups": 2}, "not divisible by groups=2"),
        ((2, 3, 2, 2), (4, 3, 3, 3), {}, r"Kernel size: \(3 x 3\)"),
        ((2, 3, 4, 4), (4, 3, 3, 3), {"dilation": 2}, r"Kernel size: \(5 x 5\)"),
        ((3, 8, 8, 2, 1), (4, 3, 3, 3), {}, r"got input of size \[3, 8, 8, 2, 1\]"),
        ((8, 8), (4, 3, 3, 3), {}, r"3D \(unbatched\) or 4D"),
        ((2, 3, 8, 8), (4, 3, 3), {}, r"4D weight.*\[4, 3, 3\]"),
    ],
)
def test_conv2d_bad_shapes_say_what_was_expected(x_shape, w_shape, kwargs, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        C.conv2d(nabla.zeros(*x_shape), nabla.zeros(*w_shape), **kwargs)


def test_conv_bad_arguments():
    x, w = nabla.zeros(1, 2, 5, 5), nabla.zeros(2, 2, 3, 3)
    with pytest.raises(ValueError, match="strided"):
        C.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        C.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="stride must be positive"):
        C.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="non-negative"):
        C.conv2d(x, w, padding=-1)
    with pytest.raises((ValueError, RuntimeError), match=r"bias of shape \(2,\)"):
        C.conv2d(x, w, nabla.zeros(3))
    with pytest.raises(RuntimeError, match="dtype"):
        C.conv2d(x.double(), w)
    with pytest.raises(TypeError, match="floating-point"):
        C.conv2d(nabla.zeros(1, 2, 5, 5, dtype=nabla.int64), w)
    with pytest.raises((ValueError, RuntimeError), match="3D weight"):
        C.conv1d(nabla.zeros(1, 2, 5), w)
    with pytest.raises((ValueError, RuntimeError), match="expects input with 2 channels"):
        C.conv_transpose2d(nabla.zeros(1, 3, 5, 5), w)
    with pytest.raises(ValueError, match="output_padding"):
        C.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises((ValueError, RuntimeError), match="sliding blocks"):
        C.fold(nabla.zeros(1, 8, 5), (3, 3), 2)
    with pytest.raises((ValueError, RuntimeError), match="too small"):
        C.unfold(nabla.zeros(1, 1, 2, 2), 3)


def test_bad_input_leaves_nothing_recorded():
    w = nabla.zeros(2, 2, 3, 3, requires_grad=True)
    with pytest.raises(RuntimeError):
        C.conv2d(nabla.zeros(1, 3, 5, 5), w)
    assert w.grad is None


@pytest.mark.parametrize("stride,padding,dilation", itertools.product((1, 2), (0, 1), (1, 2)))
def test_conv2d_output_size_rule(stride, padding, dilation):
    h = 9
    out = C.conv2d(nabla.zeros(1, 1, h, h), nabla.zeros(1, 1, 3, 3), stride=stride,
                   padding=padding, dilation=dilation)
    expected = (h + 2 * padding - dilation * 2 - 1) // stride + 1
    assert out.shape == (1, 1, expected, expected)
