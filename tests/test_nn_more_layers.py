"""Activations, padding, PixelShuffle, InstanceNorm, ParameterList/Dict, nn.init, nn.utils
and the torch.nn.modules import paths, against torch 2.13 (float64)."""

import numpy as np
import pytest

import nabla
from nabla import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1)
TOL = dict(rtol=1e-10, atol=1e-12)


def _run(nmod, tmod, x, grad=True, tol=TOL):
    """Same input through both; outputs, input gradients and parameter gradients agree."""
    tmod = tmod.double()
    nmod = nmod.to(nabla.float64)
    sd = {k: nabla.tensor(v.detach().numpy().copy()) for k, v in tmod.state_dict().items()}
    assert sorted(sd) == sorted(nmod.state_dict())
    nmod.load_state_dict(sd)
    nx, tx = nabla.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)
    n, t = nmod(nx), tmod(tx)
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **tol)
    if grad:
        g = RNG.standard_normal(t.shape)
        (n * nabla.tensor(g)).sum().backward()
        (t * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), **tol)
        tp = dict(tmod.named_parameters())
        for name, p in nmod.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), **tol)
    return nmod, tmod


# values away from the kinks, where the one-sided derivatives differ
X = RNG.standard_normal((3, 4, 5)) * 3
X[np.abs(X) < 1e-3] = 0.5
X[np.abs(np.abs(X) - 3) < 1e-3] = 1.0
X[np.abs(X - 6) < 1e-3] = 1.0


@pytest.mark.parametrize("name,args", [
    ("ELU", ()), ("ELU", (0.3,)), ("CELU", (1.7,)), ("SELU", ()), ("Hardtanh", ()),
    ("Hardtanh", (-2.0, 0.5)), ("ReLU6", ()), ("LogSigmoid", ()), ("Softsign", ()),
    ("Mish", ()), ("Hardsigmoid", ()), ("Hardswish", ()), ("PReLU", ()), ("PReLU", (4,)),
    ("GLU", ()), ("GLU", (1,)),
])
def test_activations_match_torch(name, args):
    x = X[:, :, :4] if name == "GLU" else X
    # torch computes CELU's 1/alpha and Hardsigmoid's 1/6 in float32 even for float64
    tol = dict(rtol=1e-6, atol=1e-9) if name in ("CELU", "Hardsigmoid") else TOL
    n, t = _run(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x, tol=tol)
    assert repr(n) == repr(t)


def test_logsigmoid_is_stable():
    x = nabla.tensor([-800.0, 800.0], dtype=nabla.float64)
    assert nn.LogSigmoid()(x).tolist() == [-800.0, 0.0]


@pytest.mark.parametrize("name,pad,shape", [
    ("ZeroPad1d", 2, (2, 3, 5)), ("ZeroPad2d", (1, 2, 0, 3), (2, 3, 4, 5)),
    ("ReflectionPad1d", (2, 3), (2, 3, 5)), ("ReflectionPad2d", (1, 2, 3, 1), (2, 3, 4, 5)),
    ("ReflectionPad2d", 2, (3, 4, 5)), ("ReplicationPad1d", (4, 1), (2, 3, 5)),
    ("ReplicationPad2d", (3, 0, 1, 5), (2, 3, 4, 5)),
])
def test_padding_layers_match_torch(name, pad, shape):
    n, t = _run(getattr(nn, name)(pad), getattr(torch.nn, name)(pad),
                RNG.standard_normal(shape))
    assert repr(n) == repr(t)


@pytest.mark.parametrize("name", ["ConstantPad1d", "ConstantPad2d"])
def test_constant_padding_matches_torch(name):
    shape = (2, 3, 4) if name.endswith("1d") else (2, 3, 4, 5)
    pad = (1, 2) if name.endswith("1d") else (1, 0, 2, 3)
    n, t = _run(getattr(nn, name)(pad, 2.5), getattr(torch.nn, name)(pad, 2.5),
                RNG.standard_normal(shape))
    assert repr(n) == repr(t)


def test_reflection_pad_too_wide_is_refused():
    with pytest.raises(ValueError, match=r"ReflectionPad1d: .*less than the size 3"):
        nn.ReflectionPad1d(3)(nabla.ones(1, 1, 3))


@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_and_unshuffle_match_torch(r):
    _run(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), RNG.standard_normal((2, 2 * r * r, 3, 4)))
    _run(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r),
         RNG.standard_normal((2, 3, 2 * r, 3 * r)))


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (2, 3, 7)),
                                       ("InstanceNorm2d", (2, 3, 4, 5)),
                                       ("InstanceNorm2d", (3, 4, 5))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True)])
def test_instance_norm_matches_torch(cls, shape, affine, track):
    tm = getattr(torch.nn, cls)(3, affine=affine, track_running_stats=track)
    nm = getattr(nn, cls)(3, affine=affine, track_running_stats=track)
    if affine:
        with torch.no_grad():
            tm.weight.normal_()
            tm.bias.normal_()
    nm, tm = _run(nm, tm, RNG.standard_normal(shape) * 2 + 1)
    assert repr(nm) == repr(tm)
    if track:
        for k, v in tm.state_dict().items():
            np.testing.assert_allclose(nm.state_dict()[k].numpy(), v.numpy(), **TOL)
        nm.eval()
        tm.eval()
        _run(nm, tm, RNG.standard_normal(shape))


def test_parameter_list_and_dict_behave_as_torch():
    def build(L):
        pl = L.nn.ParameterList([L.nn.Parameter(L.ones(2)), L.zeros(3)])
        pl.append(L.ones(1))
        pl.extend([L.zeros(4)])
        pl[1] = L.ones(5)
        pd = L.nn.ParameterDict({"b": L.ones(2)})
        pd["a"] = L.zeros(1)
        pd.update([("c", L.ones(3))])
        pd.setdefault("d", L.zeros(2))
        popped = pd.pop("b")
        m = L.nn.Module()
        m.pl, m.pd = pl, pd
        return ([(n, tuple(p.shape), type(p).__name__) for n, p in m.named_parameters()],
                len(pl), list(pd.keys()), tuple(popped.shape), "a" in pd, len(pl[1:3]))

    assert build(nabla) == build(torch)
    pl = nn.ParameterList([nabla.ones(2)])
    assert repr(pl) == repr(torch.nn.ParameterList([torch.ones(2)])).replace("torch", "nabla")
    with pytest.raises(IndexError):
        pl[3]


def test_init_functions_match_torch_shapes_and_statistics():
    from nabla.nn import init

    torch_names = [n for n in dir(torch.nn.init) if not n.startswith("_")
                   and callable(getattr(torch.nn.init, n))
                   and getattr(torch.nn.init, n).__module__ == "torch.nn.init"]
    assert [n for n in torch_names if not hasattr(init, n)] == []
    for shape, groups in [((4, 2, 3), 1), ((6, 2, 3, 3), 2), ((2, 4, 3, 3, 3), 1)]:
        np.testing.assert_array_equal(init.dirac_(nabla.empty(*shape), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    w = init.sparse_(nabla.empty(200, 30), sparsity=0.25, std=0.5)
    assert ((w.numpy() == 0).sum(0) == 50).all()
    assert abs(w.numpy()[w.numpy() != 0].std() - 0.5) < 0.05
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        init.xavier_uniform(nabla.empty(3, 3))


def test_clip_grad_value_and_parameter_vectors_match_torch():
    def run(L):
        m = L.nn.Linear(3, 2).double()
        with L.no_grad():
            for p, v in zip(m.parameters(), (np.arange(6.0).reshape(2, 3) - 3, [5.0, -7.0])):
                p.copy_(L.tensor(np.array(v)))
        (m(L.tensor(np.ones((4, 3)))) ** 2).sum().backward()
        L.nn.utils.clip_grad_value_(m.parameters(), 3.0)
        vec = L.nn.utils.parameters_to_vector(m.parameters())
        L.nn.utils.vector_to_parameters(vec * 2, m.parameters())
        return ([p.grad.numpy().tolist() for p in m.parameters()], vec.detach().numpy().tolist(),
                [p.detach().numpy().tolist() for p in m.parameters()])

    assert run(nabla) == run(torch)


def test_torch_import_paths():
    from nabla.nn.modules.activation import ELU, MultiheadAttention, ReLU  # noqa: F401
    from nabla.nn.modules.container import ParameterList, Sequential  # noqa: F401
    from nabla.nn.modules.conv import Conv2d  # noqa: F401
    from nabla.nn.modules.linear import Linear
    from nabla.nn.modules.loss import CrossEntropyLoss  # noqa: F401
    from nabla.nn.modules.module import Module
    from nabla.nn.modules.rnn import LSTM
    from nabla.nn.modules.transformer import TransformerEncoderLayer  # noqa: F401
    from nabla.nn.parameter import Parameter

    assert Linear is nn.Linear and Module is nn.Module and LSTM is nn.LSTM
    assert Parameter is nn.Parameter
    missing = [n for n in dir(torch.nn.modules) if n[:1].isupper() and n in dir(torch.nn)
               and hasattr(nn, n) and not hasattr(nn.modules, n)]
    assert missing == []
