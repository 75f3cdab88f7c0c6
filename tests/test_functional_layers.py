"""The layers whose math nn.functional also has call the F function (one implementation):
F.pixel_shuffle/pixel_unshuffle match PyTorch, value and gradient, and each layer gives the
F function's result bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla import nn
from nabla.nn import functional as F

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_functions_match_torch(r, torch):
    for ours, theirs, shape in (
        (F.pixel_shuffle, torch.nn.functional.pixel_shuffle, (2, 2 * r * r, 3, 4)),
        (F.pixel_unshuffle, torch.nn.functional.pixel_unshuffle, (3, 2, 2 * r, 3 * r)),
    ):
        a = RNG.standard_normal(shape)
        x = nabla.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        y, u = ours(x, r), theirs(t, r)
        np.testing.assert_array_equal(y.detach().numpy(), u.detach().numpy())
        w = RNG.standard_normal(tuple(u.shape))
        (y * nabla.tensor(w)).sum().backward()
        (u * torch.tensor(w)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_pixel_shuffle_refuses_a_channel_count_it_cannot_split():
    with pytest.raises(ValueError, match=r"pixel_shuffle: expected \(\*, C\*4, H, W\)"):
        F.pixel_shuffle(nabla.zeros(1, 6, 2, 2), 2)


@pytest.mark.parametrize("layer,fn", [
    (nn.ELU(0.7), lambda x: F.elu(x, 0.7)),
    (nn.Hardtanh(-0.5, 2.0), lambda x: F.hardtanh(x, -0.5, 2.0)),
    (nn.LogSigmoid(), F.logsigmoid),
    (nn.GLU(1), lambda x: F.glu(x, 1)),
    (nn.ReflectionPad2d((1, 2, 0, 1)), lambda x: F.pad(x, (1, 2, 0, 1), mode="reflect")),
    (nn.ReplicationPad2d((3, 1, 2, 0)), lambda x: F.pad(x, (3, 1, 2, 0), mode="replicate")),
    (nn.PixelShuffle(2), lambda x: F.pixel_shuffle(x, 2)),
    (nn.PixelUnshuffle(2), lambda x: F.pixel_unshuffle(x, 2)),
])
def test_each_layer_gives_its_functions_result(layer, fn):
    x = nabla.tensor(RNG.standard_normal((2, 4, 4, 6)))
    assert nabla.equal(layer(x), fn(x))


@pytest.mark.parametrize("name,args", [
    ("selu", ()), ("celu", (1.7,)), ("relu6", ()), ("softsign", ()), ("mish", ()),
    ("hardsigmoid", ()), ("hardswish", ()), ("elu", (0.4,)),
])
def test_activation_functions_match_torch(name, args, torch):
    a = RNG.standard_normal((3, 7)) * 5
    x = nabla.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, u = getattr(F, name)(x, *args), getattr(torch.nn.functional, name)(t, *args)
    # torch computes CELU's 1/alpha and Hardsigmoid's 1/6 in float32 even for float64
    np.testing.assert_allclose(y.detach().numpy(), u.detach().numpy(), rtol=1e-6, atol=1e-9)
    y.sum().backward()
    u.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layer,fn", [
    (nn.SELU(), F.selu), (nn.CELU(1.7), lambda x: F.celu(x, 1.7)), (nn.ReLU6(), F.relu6),
    (nn.Softsign(), F.softsign), (nn.Mish(), F.mish), (nn.Hardsigmoid(), F.hardsigmoid),
    (nn.Hardswish(), F.hardswish),
])
def test_activation_layers_give_their_functions_result(layer, fn):
    x = nabla.tensor(RNG.standard_normal((4, 5)) * 4)
    assert nabla.equal(layer(x), fn(x))
