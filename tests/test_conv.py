"""Convolution: conv1d/conv2d/conv_transpose, unfold/fold, against PyTorch and by gradcheck."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _conv_helpers import check_against_torch

import nabla
from nabla import workspace
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
    (2, 2, 3, 4, 4, (2, 3), (2, 1), (0, 1), (1, 1), 2, 2, True),
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
    cols._data[...] = 0
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


@pytest.mark.parametrize("stride,padding,dilation", list(itertools.product((1, 2), (0, 1), (1, 2))))
def test_conv2d_output_size_rule(stride, padding, dilation):
    h = 9
    out = C.conv2d(nabla.zeros(1, 1, h, h), nabla.zeros(1, 1, 3, 3), stride=stride,
                   padding=padding, dilation=dilation)
    expected = (h + 2 * padding - dilation * 2 - 1) // stride + 1
    assert out.shape == (1, 1, expected, expected)


# --------------------------------------------------------------------------- layers
from nabla.nn.layers.conv import (  # noqa: E402
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    Dropout1d,
    Dropout2d,
)

LAYERS = [
    ("Conv2d", (1, 6, 5), dict(padding=2), (4, 1, 12, 12)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=2, dilation=(1, 2), groups=2, bias=False),
     (2, 4, 9, 9)),
    ("Conv2d", (3, 4, 3), dict(padding="same", padding_mode="reflect"), (2, 3, 6, 5)),
    ("Conv2d", (3, 4, 3), dict(padding=(1, 2), padding_mode="replicate"), (2, 3, 6, 5)),
    ("Conv2d", (2, 2, 3), dict(padding=1, padding_mode="circular", stride=2), (2, 2, 5, 6)),
    ("Conv2d", (2, 3, 3), dict(padding="valid"), (2, 5, 5)),
    ("Conv1d", (3, 4, 3), dict(padding=1, stride=2), (2, 3, 9)),
    ("Conv1d", (4, 4, 2), dict(padding="same", dilation=3, groups=4), (2, 4, 8)),
    ("Conv1d", (2, 3, 3), dict(padding=2, padding_mode="reflect"), (2, 2, 7)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 4, 5)),
    ("ConvTranspose2d", (3, 2, (2, 3)), dict(stride=(2, 1), dilation=2, bias=False),
     (2, 3, 3, 3)),
    ("ConvTranspose1d", (3, 2, 4), dict(stride=3, padding=1), (2, 3, 5)),
]
CLASSES = dict(Conv1d=Conv1d, Conv2d=Conv2d, ConvTranspose1d=ConvTranspose1d,
               ConvTranspose2d=ConvTranspose2d)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", LAYERS)
def test_conv_layers_match_torch(torch, layer, dtype):
    from _conv_helpers import check_module

    name, args, kwargs, shape = layer
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    ref = getattr(torch.nn, name)(*args, **kwargs).to(tdt)
    mine = CLASSES[name](*args, **kwargs, dtype=nabla.float64 if dtype == np.float64 else None)
    x = np.random.default_rng(10).standard_normal(shape)
    check_module(torch, mine, ref, x, dtype, scale=10)


def test_conv_layer_input_of_a_network_gets_no_gradient(torch):
    from _conv_helpers import check_module

    ref = torch.nn.Conv2d(1, 6, 5, padding=2).double()
    mine = Conv2d(1, 6, 5, padding=2, dtype=nabla.float64)
    x = np.random.default_rng(11).standard_normal((3, 1, 8, 8))
    check_module(torch, mine, ref, x, np.float64, input_grad=False)


def test_conv_transpose_output_size_argument(torch):
    ref = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    mine = ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    mine.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(12).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in [(7, 7), (8, 8), (1, 2, 8, 7)]:
        out = mine(nabla.tensor(x), output_size=size)
        tout = ref(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        mine(nabla.tensor(x), output_size=(9, 9))


@pytest.mark.parametrize(
    "cls,args,fan_in", [(Conv2d, (3, 8, 5), 75), (Conv2d, (4, 8, 3, 1, 0, 1, 2), 18),
                        (Conv1d, (4, 16, 7), 28), (ConvTranspose2d, (6, 4, 3), 36)]
)
def test_default_init_is_kaiming_uniform_like_torch(cls, args, fan_in):
    nabla.manual_seed(0)
    m = cls(*args)
    bound = 1 / np.sqrt(fan_in)
    w, b = m.weight.numpy(force=True), m.bias.numpy(force=True)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.8 * bound  # uniform over the whole range
    assert w.dtype == np.float32 and m.weight.requires_grad


def test_conv_layer_constructor_errors():
    with pytest.raises(ValueError, match="in_channels .* divisible by groups"):
        Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels .* divisible by groups"):
        Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="strided"):
        Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        Conv2d(3, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="zeros"):
        ConvTranspose2d(3, 6, 3, padding_mode="reflect")
    with pytest.raises((ValueError, RuntimeError), match="to have 3 channels"):
        Conv2d(3, 6, 3)(nabla.zeros(1, 4, 8, 8))


def test_dropout_layers():
    d = Dropout2d(0.5)
    assert repr(d) == "Dropout2d(p=0.5, inplace=False)"
    x = nabla.ones(4, 8, 2, 2)
    y = d(x).numpy().reshape(4, 8, 4)
    assert np.all(y.min(-1) == y.max(-1)) and 0 < y.mean() < 2
    assert d.eval()(x) is x
    assert Dropout1d(0.2)(nabla.ones(3, 5, 4)).shape == (3, 5, 4)
    with pytest.raises(ValueError):
        Dropout2d(2.0)


def test_lenet_forward_backward_shapes():
    from nabla.nn.layers.pooling import MaxPool2d

    x = nabla.randn(5, 1, 28, 28)
    c1, c2, pool = Conv2d(1, 6, 5, padding=2), Conv2d(6, 16, 5), MaxPool2d(2)
    h = pool(c2(pool(c1(x).relu())).relu())
    assert h.shape == (5, 16, 5, 5)
    h.sum().backward()
    assert c1.weight.grad.shape == (6, 1, 5, 5) and x.grad is None


def test_pooled_columns_survive_other_calls_and_retained_graphs():
    # Columns wait in a reused workspace for backward: other convolutions of the same
    # shape in between, and a second backward of a retained graph, must not disturb them.
    rng = np.random.default_rng(13)
    x1 = nabla.tensor(rng.standard_normal((2, 3, 6, 6)))
    x2 = nabla.tensor(rng.standard_normal((2, 3, 6, 6)))
    w = nabla.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y1 = C.conv2d(x1, w, padding=1)
    y2 = C.conv2d(x2, w, padding=1)
    with nabla.no_grad():
        C.conv2d(x2, w, padding=1)
    y1.sum().backward(retain_graph=True)
    g1 = w.grad.numpy().copy()
    w.grad = None
    y1.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), g1)
    w.grad = None
    y2.sum().backward()
    w.grad = None
    ref = C.conv2d(x1, w, padding=1)
    w.grad = None
    ref.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), g1, rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        y1.sum().backward()


def test_reused_workspaces_keep_their_zeros():
    # A padded input plane and the adjoint's widened gradient come back from the
    # workspace pool with their zeros in place (only their interior is ever written).
    # An op in between that takes a workspace of the same shape and fills it must not
    # get one of them: results with a warm pool equal those with an empty one.
    rng = np.random.default_rng(21)
    w = nabla.tensor(rng.standard_normal((3, 3, 3, 3)), requires_grad=True)
    other = nabla.nn.Sequential(nabla.nn.Conv2d(3, 3, 1), nabla.nn.MaxPool2d(2)).double()

    def run(x):
        xt = nabla.tensor(x, requires_grad=True)
        w.grad = None
        y = C.conv2d(xt, w, padding=2)  # its padded plane: (2, 3, 10, 10)
        y.backward(nabla.tensor(np.cos(np.arange(y.numel())).reshape(y.shape)))
        return y.detach().numpy(), xt.grad.numpy(), w.grad.numpy()

    for _ in range(3):
        x = rng.standard_normal((2, 3, 6, 6))
        run(rng.standard_normal((2, 3, 6, 6)))
        big = nabla.tensor(1e6 * rng.standard_normal((2, 3, 10, 10)), requires_grad=True)
        out = other(big)  # its convolution's output, a (2, 3, 10, 10) workspace
        assert out.grad_fn.name() == "Conv2dMaxPool2dBackward"
        out.sum().backward()
        warm = run(x)
        workspace._pool.free.clear()
        workspace._pool.bytes = 0
        cold = run(x)
        for a, b in zip(warm, cold):
            np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("grads", [[True, True, True], [False, True, True], [True, False, False]])
@pytest.mark.parametrize("case", [c for c in CONV2D if c[5] != (1, 1)])
def test_conv2d_streamed_in_chunks_matches_torch_and_whole(torch, monkeypatch, case, grads):
    # A convolution with many columns runs in chunks of samples, and its backward lays
    # the columns out again from the kept input. Forced here on small geometries, with
    # 19 samples in chunks of 2 (a short last chunk in each thread's part), against
    # PyTorch and against the whole-batch path.
    _, cin, h, w, cout, k, stride, padding, dilation, groups, bias = case
    n = 19
    rng = np.random.default_rng(31)
    arrays = [rng.standard_normal((n, cin, h, w)), rng.standard_normal((cout, cin // groups, *k)),
              rng.standard_normal(cout) if bias else None]
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    def run():
        return check_against_torch(
            torch, lambda x, w, b: C.conv2d(x, w, b, **args),
            lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **args),
            arrays, np.float64, grads=grads, scale=10)

    chunks = []  # (samples from, to) of every chunk run, forward and backward
    real = C._streamed

    def spy(fn, ws_shape, dtype, lo, hi, chunk):
        chunks.extend((s, min(s + chunk, hi)) for s in range(lo, hi, chunk))
        return real(fn, ws_shape, dtype, lo, hi, chunk)

    monkeypatch.setattr(C, "_streamed", spy)
    whole = run()
    assert chunks == []
    per_sample = cin * k[0] * k[1] * whole.shape[2] * whole.shape[3] * 8
    monkeypatch.setattr(C, "_STREAM_MIN", 0)
    monkeypatch.setattr(C, "_STREAM_CHUNK", 2 * per_sample)
    streamed = run()
    # Forward and backward each covered every sample once, in chunks of at most 2.
    covered = np.zeros(n, int)
    for lo, hi in chunks:
        covered[lo:hi] += 1
    assert covered.tolist() == [2] * n and max(hi - lo for lo, hi in chunks) == 2
    np.testing.assert_allclose(streamed.detach().numpy(), whole.detach().numpy(), rtol=1e-13)


def test_conv2d_1x1_is_never_streamed():
    # A 1x1 convolution's columns are its input itself: nothing to lay out or stream.
    geom = C._conv_geom((64, 512, 32, 32), (256, 512, 1, 1), ((1, 1), (0, 0, 0, 0), (1, 1), 1))
    assert C._stream_chunk(64, geom, ((1, 1), (0, 0, 0, 0), (1, 1), 1), 4) == 0
    geom = C._conv_geom((64, 32, 26, 26), (64, 32, 3, 3), ((1, 1), (0, 0, 0, 0), (1, 1), 1))
    assert C._stream_chunk(64, geom, ((1, 1), (0, 0, 0, 0), (1, 1), 1), 4) == 4


@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_weight_gradient_over_all_samples_at_once(torch, monkeypatch, groups):
    # The weight gradient's path for big partial products: (sample, position) contracted
    # in one product per group (forced here by a zero threshold).
    monkeypatch.setattr(C, "_PER_SAMPLE_GW_MAX", 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 7, 6))
    wt = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    args = dict(stride=1, padding=1, groups=groups)
    for dtype in DTYPES:
        check_against_torch(
            torch,
            lambda x, w, b: C.conv2d(x, w, b, **args),
            lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **args),
            [x, wt, b], dtype, scale=10,
        )


@pytest.mark.parametrize("c, o, k, stride, groups, dtype", [
    (3, 4, 3, 1, 1, "float32"), (16, 16, 3, 1, 1, "float64"), (4, 6, 3, 2, 2, "float32"),
    (8, 8, 1, 1, 1, "float32"), (6, 4, 5, 1, 1, "float32"),
])
def test_an_empty_batch_as_torch(c, o, k, stride, groups, dtype):
    """A batch of no samples gives empty outputs and zero kernel gradients, as in
    PyTorch (the im2col path's reshapes once failed on it)."""
    torch = pytest.importorskip("torch")
    got = []
    for lib in (nabla, torch):
        d = getattr(lib, dtype)
        x = lib.zeros(0, c, 12, 12, dtype=d, requires_grad=True)
        w = lib.ones(o, c // groups, k, k, dtype=d, requires_grad=True)
        b = lib.ones(o, dtype=d, requires_grad=True)
        y = lib.nn.functional.conv2d(x, w, b, stride=stride, groups=groups)
        y.sum().backward()
        got.append((tuple(y.shape), tuple(x.grad.shape), w.grad.abs().sum().item(),
                    b.grad.abs().sum().item()))
    assert got[0] == got[1]
