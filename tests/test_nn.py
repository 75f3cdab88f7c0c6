"""nabla.nn: Module mechanics, layers against PyTorch, init, Perceptron, utils."""

from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import nabla
import nabla.nn.functional as F
from nabla import nn
from nabla.nn import init

DTYPES = [(np.float64, 1e-10), (np.float32, 1e-5)]


def _nb(arr, requires_grad=False):
    return nabla.tensor(np.array(arr), requires_grad=requires_grad)


def _copy_to_torch(torch, module, tmodule):
    tmodule.load_state_dict(
        {k: torch.from_numpy(np.array(v._data)) for k, v in module.state_dict().items()}
    )
    return tmodule


def _compare_module(torch, module, tmodule, x, dtype, tol, upstream=None):
    """Same weights and input: forward, input gradient and parameter gradients agree."""
    np_dt = np.dtype(dtype)
    module.to(nabla.float64 if np_dt == np.float64 else nabla.float32)
    tmodule.to(torch.float64 if np_dt == np.float64 else torch.float32)
    _copy_to_torch(torch, module, tmodule)
    xa = np.asarray(x, dtype=np_dt)
    xn = nabla.tensor(xa, requires_grad=True)
    xt = torch.tensor(xa, requires_grad=True)
    yn, yt = module(xn), tmodule(xt)
    np.testing.assert_allclose(yn._data, yt.detach().numpy(), rtol=tol, atol=tol)
    assert yn.dtype == nabla.tensor(np.zeros(1, np_dt)).dtype
    g = np.random.default_rng(1).standard_normal(yt.shape).astype(np_dt) if upstream is None \
        else upstream
    yn.backward(nabla.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad._data, xt.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad._data, tparams[name].grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10, err_msg=name)


# ------------------------------------------------------------------------- Parameter
def test_parameter_basics():
    t = nabla.ones(3)
    p = nn.Parameter(t)
    assert isinstance(p, nabla.Tensor) and p.requires_grad and p.is_leaf
    assert p._data is t._data  # shares memory
    assert repr(p) == "Parameter containing:\ntensor([1., 1., 1.], requires_grad=True)"
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert nn.Parameter([1.0, 2.0]).dtype == nabla.float32  # the default dtype, as tensor()
    assert nn.Parameter(np.zeros(2)).dtype == nabla.float64  # an array keeps its dtype
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q._data is not p._data and q.requires_grad


def test_parameter_repr_matches_torch(torch):
    assert repr(nn.Parameter(nabla.ones(2))) == repr(torch.nn.Parameter(torch.ones(2)))


# ------------------------------------------------------------------ registration, names
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2)
        self.register_buffer("steps", nabla.zeros(1))
        self.register_buffer("scratch", nabla.zeros(2), persistent=False)
        self.plain = 5

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_registration_and_names():
    m = Net()
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                     "fc2.bias"]
    assert len(list(m.parameters())) == 4
    assert list(m.parameters(recurse=False)) == []
    assert [n for n, _ in m.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(m.modules())[0] is m
    assert list(m.state_dict()) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight",
                                    "fc2.bias"]
    assert m.plain == 5 and "plain" not in m._parameters
    assert m.get_submodule("fc2") is m.fc2
    assert m.get_parameter("fc1.bias") is m.fc1.bias
    # reassigning changes the kind; deleting unregisters
    m.fc1 = None
    assert [n for n, _ in m.named_parameters()] == ["fc2.weight", "fc2.bias"]
    del m.fc2
    assert list(m.parameters()) == [] and not hasattr(m, "fc2")
    m.extra = nn.Parameter(nabla.zeros(2))
    assert [n for n, _ in m.named_parameters()] == ["extra"]


def test_state_dict_keys_match_torch(torch):
    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 3)
            self.act = torch.nn.ReLU()
            self.fc2 = torch.nn.Linear(3, 2)
            self.register_buffer("steps", torch.zeros(1))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    assert list(Net().state_dict()) == list(TNet().state_dict())
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3)))
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
                               torch.nn.Sequential(torch.nn.Linear(3, 3)))
    assert list(seq.state_dict()) == list(tseq.state_dict())


def test_shared_parameters_listed_once():
    a = nn.Linear(3, 3)
    m = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(m.modules())) == 3  # Sequential, Linear (once), ReLU
    tied = nn.Module()
    tied.enc = nn.Linear(2, 2)
    tied.dec = nn.Linear(2, 2)
    tied.dec.weight = tied.enc.weight
    assert [n for n, _ in tied.named_parameters()] == ["enc.weight", "enc.bias", "dec.bias"]
    assert len(list(tied.named_parameters(remove_duplicate=False))) == 4


def test_registration_errors():
    class NoInit(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(nabla.zeros(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        NoInit()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = nabla.zeros(2, 2)
    with pytest.raises(KeyError, match="cannot contain"):
        m.register_buffer("a.b", nabla.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("weight", nabla.zeros(1))
    with pytest.raises(TypeError, match="buffer"):
        m.register_buffer("buf", np.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("w2", nabla.zeros(1))
    with pytest.raises(TypeError, match="is not a Module"):
        m.add_module("sub", 3)
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope  # noqa: B018


def test_buffers_and_assignment():
    m = nn.Module()
    m.register_buffer("running", nabla.zeros(2))
    m.running = nabla.ones(2)  # assigning a tensor to a buffer name replaces the buffer
    assert m._buffers["running"] is m.running
    assert m.state_dict()["running"].tolist() == [1.0, 1.0]
    m.b2 = nn.Buffer(nabla.zeros(1), persistent=False)
    assert "b2" in dict(m.named_buffers()) and "b2" not in m.state_dict()
    with pytest.raises(TypeError, match="buffer 'running'"):
        m.running = 3


# ------------------------------------------------------------------ state dict, load
def test_state_dict_round_trip_and_in_place():
    a, b = Net(), Net()
    w_obj = b.fc1.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.fc1.weight is w_obj  # copied in place, so optimizers keep their references
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert np.array_equal(va._data, vb._data), k
    # state_dict shares memory with the parameters and is detached
    sd = a.state_dict()
    assert not sd["fc1.weight"].requires_grad
    assert np.shares_memory(sd["fc1.weight"]._data, a.fc1.weight._data)
    # numpy arrays and other dtypes are accepted and cast
    arrays = {k: np.array(v._data, dtype=np.float64) + 1 for k, v in a.state_dict().items()}
    b.load_state_dict(arrays)
    assert b.fc2.bias.dtype == nabla.float32
    np.testing.assert_allclose(b.fc2.bias._data, a.fc2.bias._data + 1, rtol=1e-6)


def test_load_state_dict_strict_errors():
    m = nn.Linear(2, 3)
    before = m.weight._data.copy()
    sd = {"weight": nabla.zeros(3, 3), "foo": nabla.zeros(1)}
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "bias"' in msg
    assert 'Unexpected key(s) in state_dict: "foo"' in msg
    assert "size mismatch for weight" in msg and "(3, 3)" in msg and "(3, 2)" in msg
    assert np.array_equal(m.weight._data, before)  # nothing was changed
    # non-strict: keys are reported, but a shape mismatch is still an error (as PyTorch)
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(sd, strict=False)
    res = m.load_state_dict({"weight": np.ones((3, 2)), "foo": 1.0}, strict=False)
    assert res == (["bias"], ["foo"])
    assert m.weight._data.sum() == 6
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([1, 2])


def test_state_dict_interop_with_torch(torch):
    m = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(m(nabla.tensor(x))._data, t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ modes and dtypes
def test_train_eval_flags():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.1)))
    assert all(sub.training for sub in m.modules())
    assert m.eval() is m
    assert not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())
    with pytest.raises(ValueError, match="boolean"):
        m.train("no")


def test_to_dtype_in_place_keeps_references():
    m = Net()
    m.register_buffer("count", nabla.tensor([3]))
    w = m.fc1.weight
    x = nabla.ones(1, 4)
    m(x).sum().backward()
    assert m.to(nabla.float64) is m
    assert m.fc1.weight is w and w.dtype == nabla.float64 and w.grad.dtype == nabla.float64
    assert m.steps.dtype == nabla.float64 and m.count.dtype == nabla.int64
    assert m(x.double()).dtype == nabla.float64
    m.float()
    assert w.dtype == nabla.float32
    m.double()
    assert w.dtype == nabla.float64
    assert m.to("cpu") is m and m.to(device="cpu", dtype=nabla.float32) is m
    assert w.dtype == nabla.float32
    m.to(nabla.zeros(1, dtype=nabla.float64))
    assert w.dtype == nabla.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(nabla.int64)
    with pytest.raises(RuntimeError, match="not available"):
        m.to("cuda")


def test_zero_grad_requires_grad_apply():
    m = nn.Linear(3, 2)
    m(nabla.ones(2, 3)).sum().backward()
    buf = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is buf and not buf._data.any()
    m.zero_grad()
    assert m.weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    nn.Sequential(nn.Linear(1, 1), nn.ReLU()).apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Sequential"]

    def reinit(mod):
        if isinstance(mod, nn.Linear):
            init.zeros_(mod.weight)

    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).apply(reinit)
    assert all(not layer.weight._data.any() for layer in net)


# ------------------------------------------------------------------ containers, repr
def test_repr_matches_torch(torch):
    def build(lib):
        return lib.Sequential(
            lib.Linear(784, 128), lib.ReLU(), lib.Linear(128, 64, bias=False), lib.Sigmoid(),
            lib.Dropout(0.25), lib.Linear(64, 10), lib.LogSoftmax(dim=1),
            lib.Sequential(lib.Flatten(), lib.Unflatten(1, (2, 5)), lib.Identity()),
            lib.ModuleList([lib.Tanh(), lib.LeakyReLU(0.2)]),
            lib.ModuleDict({"a": lib.Softplus(), "b": lib.GELU("tanh"), "c": lib.Softmax(dim=0)}),
            lib.CrossEntropyLoss(), lib.MSELoss(), lib.HuberLoss(), lib.BCEWithLogitsLoss(),
            lib.SiLU(),
        )

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(Net()).startswith("Net(\n  (fc1): Linear(in_features=4, out_features=3")


def test_sequential_container():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert list(sub._modules) == ["1", "2"]  # slicing keeps the keys, as PyTorch
    assert s(nabla.ones(4, 2)).shape == (4, 1)
    s.append(nn.Sigmoid())
    assert len(s) == 4 and list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    assert not hasattr(s, "3")
    s.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in s] == ["Linear", "Tanh", "Linear", "Sigmoid"]
    s[1] = nn.ReLU()
    assert isinstance(s[1], nn.ReLU)
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["enc.weight", "enc.bias"] and named.enc is named[0]
    with pytest.raises(IndexError, match="out of range"):
        s[10]  # noqa: B018
    assert len(s + named) == 6


def test_modulelist_moduledict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3", "4"]
    del ml[0]
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    assert list(md) == ["a", "b"] and "a" in md and len(md) == 2
    assert md.pop("a").in_features == 1 and list(md.keys()) == ["b"]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    assert list(Holder().state_dict())[:2] == ["blocks.0.weight", "blocks.0.bias"]


def test_flatten_unflatten_identity(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    for mod, tmod in [(nn.Flatten(), torch.nn.Flatten()),
                      (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                      (nn.Identity(), torch.nn.Identity())]:
        for dt, tol in DTYPES:
            _compare_module(torch, mod, tmod, x, dt, tol)
    _compare_module(torch, nn.Unflatten(1, (2, 6)), torch.nn.Unflatten(1, (2, 6)),
                    x.reshape(2, 12, 5), np.float64, 1e-12)


# ------------------------------------------------------------------ Linear
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_against_torch(torch, dtype, tol, shape, bias):
    x = np.random.default_rng(2).standard_normal(shape)
    _compare_module(torch, nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias), x,
                    dtype, tol)


def test_linear_init_and_dtype():
    nabla.manual_seed(0)
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert fc.weight.shape == (300, 400) and fc.bias.shape == (300,)
    assert fc.weight.dtype == nabla.float32
    w = fc.weight._data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b/sqrt(3)
    assert np.abs(fc.bias._data).max() <= bound
    assert nn.Linear(2, 2, dtype=nabla.float64).weight.dtype == nabla.float64
    assert nn.Linear(3, 2, bias=False).bias is None
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]
    with pytest.raises(nabla.ShapeError, match="does not fit weight"):
        fc(nabla.ones(2, 5))


def test_linear_gradcheck():
    fc = nn.Linear(3, 2).double()
    x = nabla.randn(4, 3, dtype=nabla.float64, requires_grad=True)
    assert nabla.gradcheck(lambda x, w, b: F.linear(x, w, b).sin(), (x, fc.weight, fc.bias))


def test_mlp_against_torch(torch):
    m = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3),
                      nn.LogSoftmax(dim=1))
    t = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                            torch.nn.Tanh(), torch.nn.Linear(8, 3), torch.nn.LogSoftmax(dim=1))
    x = np.random.default_rng(3).standard_normal((5, 6))
    for dt, tol in DTYPES:
        _compare_module(torch, m, t, x, dt, tol)


# ------------------------------------------------------------------ activations
ACTIVATIONS = [
    ("ReLU", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}), ("LeakyReLU", (0.2,), {}),
    ("LeakyReLU", (), {}), ("Softplus", (), {}), ("Softplus", (), {"beta": 2.0, "threshold": 1.0}),
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}), ("LogSoftmax", (), {"dim": 1}), ("LogSoftmax", (), {"dim": 0}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_activation_modules_against_torch(torch, name, args, kwargs, dtype, tol):
    x = np.random.default_rng(4).standard_normal((4, 5, 3)) * 3
    _compare_module(torch, getattr(nn, name)(*args, **kwargs),
                    getattr(torch.nn, name)(*args, **kwargs), x, dtype, tol)


@pytest.mark.parametrize("fn,kwargs", [
    ("relu", {}), ("sigmoid", {}), ("tanh", {}), ("leaky_relu", {"negative_slope": 0.3}),
    ("softplus", {"beta": 0.5}), ("gelu", {"approximate": "tanh"}), ("silu", {}),
    ("softmax", {"dim": 0}), ("log_softmax", {"dim": 1}),
])
def test_activation_functions_against_torch(torch, fn, kwargs):
    x = np.random.default_rng(5).standard_normal((3, 4))
    xn = nabla.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yn = getattr(F, fn)(xn, **kwargs)
    yt = getattr(torch.nn.functional, fn)(xt, **kwargs)
    np.testing.assert_allclose(yn._data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (yn * yn).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xn.grad._data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert nabla.gradcheck(lambda t: getattr(F, fn)(t, **kwargs), nabla.tensor(
        x, requires_grad=True))


def test_softmax_implicit_dim_warns_like_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(nabla.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt = torch.nn.Softmax()(torch.tensor(x))
    np.testing.assert_allclose(y._data, yt.numpy())


def test_step_activation():
    x = nabla.tensor([-1.0, 0.0, 1e-3, 2.0], requires_grad=True)
    y = F.step(x)
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert not y.requires_grad  # no useful gradient: cut from the graph
    assert nn.Step(threshold=1.5)(x).tolist() == [0.0, 0.0, 0.0, 1.0]
    assert nn.Heaviside is nn.Step and F.heaviside is F.step
    assert F.step(nabla.tensor([1, -1])).dtype == nabla.float32
    assert repr(nn.Step()) == "Step(threshold=0.0)"


def test_functional_names():
    x = nabla.tensor([-1.0, 1.0])
    assert nabla.nn.functional.relu(x).tolist() == [0.0, 1.0]
    assert F.one_hot(nabla.tensor([1, 0]), 3).tolist() == [[0, 1, 0], [1, 0, 0]]


# ------------------------------------------------------------------ dropout
def test_dropout_statistics_and_modes():
    nabla.manual_seed(0)
    x = nabla.ones(200, 500)
    d = nn.Dropout(0.3)
    y = d(x)
    vals = y._data
    np.testing.assert_allclose(np.unique(vals), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((vals == 0).mean() - 0.3) < 0.01
    assert abs(vals.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    assert d.eval()(x) is x
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0)._data.any()
    assert F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


def test_dropout_gradient_and_seed():
    x = nabla.randn(50, 20, requires_grad=True)
    nabla.manual_seed(3)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, (y._data != 0) * 2.0)
    nabla.manual_seed(3)
    assert np.array_equal(F.dropout(x, 0.5)._data, y._data)  # the global generator decides
    assert F.dropout(x.double(), 0.5).dtype == nabla.float64


# ------------------------------------------------------------------ init
def test_calculate_gain_and_fans(torch):
    for nl, p in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                  ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    for shape in [(5, 3), (16, 3, 5, 5), (4, 2, 3)]:
        assert init._calculate_fan_in_and_fan_out(nabla.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(nabla.empty(5))


def _gen(seed=0):
    return nabla.Generator().manual_seed(seed)


def test_init_distributions():
    w = init.normal_(nabla.empty(200, 300), generator=_gen())
    assert abs(w._data.mean()) < 0.01 and abs(w._data.std() - 1) < 0.01  # standard normal
    w = init.normal_(nabla.empty(100, 100), mean=2, std=0.5, generator=_gen())
    assert abs(w._data.mean() - 2) < 0.02 and abs(w._data.std() - 0.5) < 0.01
    w = init.uniform_(nabla.empty(100, 100), generator=_gen())
    assert w._data.min() >= 0 and w._data.max() < 1 and abs(w._data.mean() - 0.5) < 0.01
    w = init.uniform_(nabla.empty(100, 100), -3, -1, generator=_gen())
    assert w._data.min() >= -3 and w._data.max() < -1
    assert init.zeros_(nabla.ones(3)).tolist() == [0, 0, 0]
    assert init.ones_(nabla.zeros(3)).tolist() == [1, 1, 1]
    assert init.constant_(nabla.zeros(2), 0.25).tolist() == [0.25, 0.25]
    w = init.trunc_normal_(nabla.empty(10000), std=1.0, a=-1, b=1.5, generator=_gen())
    assert w._data.min() >= -1 and w._data.max() <= 1.5
    assert init.eye_(nabla.empty(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    q = init.orthogonal_(nabla.empty(3, 5, dtype=nabla.float64), generator=_gen())._data
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 3, 3)])
def test_xavier_kaiming_bounds_vs_torch_formula(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    # xavier: bound = gain * sqrt(6 / (fan_in + fan_out))
    w = init.xavier_uniform_(nabla.empty(*shape), gain=2.0, generator=_gen())._data
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    w = init.xavier_normal_(nabla.empty(*shape), generator=_gen())._data
    assert w.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.03)
    # kaiming: bound = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a²)) for leaky_relu
    w = init.kaiming_uniform_(nabla.empty(*shape), a=0.1, generator=_gen())._data
    bound = math.sqrt(2 / (1 + 0.01)) * math.sqrt(3 / fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    w = init.kaiming_uniform_(nabla.empty(*shape), mode="fan_out", nonlinearity="relu",
                              generator=_gen())._data
    assert np.abs(w).max() <= math.sqrt(6 / fan_out)
    w = init.kaiming_normal_(nabla.empty(*shape), nonlinearity="relu", generator=_gen())._data
    assert w.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(nabla.empty(*shape), mode="fan_avg")


def test_init_matches_torch_statistics(torch):
    torch.manual_seed(0)
    shape = (256, 512)
    for ours, theirs in [
        (lambda t: init.kaiming_normal_(t, mode="fan_out"),
         lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out")),
        (lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")),
         lambda t: torch.nn.init.xavier_uniform_(t, gain=torch.nn.init.calculate_gain("tanh"))),
    ]:
        a = ours(nabla.empty(*shape))._data
        b = theirs(torch.empty(*shape)).numpy()
        assert a.std() == pytest.approx(b.std(), rel=0.02)
        assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=0.1)


def test_init_generator_in_place_and_no_grad():
    w = nn.Parameter(nabla.empty(4, 4))
    obj = w._data
    a = init.kaiming_uniform_(w, generator=_gen(7))._data.copy()
    assert w._data is obj  # in place, even though w requires grad
    b = init.kaiming_uniform_(w, generator=_gen(7))._data
    assert np.array_equal(a, b)
    assert init.normal_(w) is w
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(nabla.empty(0, 3))


# ------------------------------------------------------------------ Perceptron
X2 = [[0, 0], [0, 1], [1, 0], [1, 1]]


@pytest.mark.parametrize("name,y", [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])])
def test_perceptron_learns_and_or(name, y):
    p = nn.Perceptron(2)
    result = p.fit(X2, y)
    assert result.converged and result.linearly_separable, name
    assert result.errors[-1] == 0 and result.epochs == len(result.errors)
    assert p.predict(X2).tolist() == y
    assert p(nabla.tensor(X2)).tolist() == [float(v) for v in y]


def test_perceptron_fails_on_xor():
    xor = [0, 1, 1, 0]
    p = nn.Perceptron(2)
    with pytest.warns(nn.ConvergenceWarning, match="not linearly separable"):
        result = p.fit(X2, xor)
    assert not result.converged and result.cycled and result.linearly_separable is False
    assert p.predict(X2).tolist() != xor
    with pytest.raises(nn.NotLinearlySeparableError, match="did not converge"):
        nn.Perceptron(2).fit(X2, xor, raise_on_failure=True)
    # non-integer learning rate and a short budget: no cycle found, still no convergence
    with pytest.warns(nn.ConvergenceWarning, match="within 1 epoch: the data may not"):
        r = nn.Perceptron(2, lr=0.37).fit(X2, xor, epochs=1)
    assert not r.converged and r.epochs == 1 and r.linearly_separable is None


def test_perceptron_rule_by_hand():
    # One update from zero weights: sample (1, 1) labelled 1 is predicted 0, so
    # w <- w + lr * (1 - 0) * x and b <- b + lr.
    p = nn.Perceptron(2, lr=0.5)
    p.fit([[1, 1]], [1], epochs=1, warn=False)
    assert p.weight.tolist() == [0.5, 0.5] and p.bias.item() == 0.5


def test_perceptron_course_examples():
    # weights 2, 6, 2 and threshold 5: the decision follows the heavily weighted input.
    p = nn.Perceptron(weights=[2, 6, 2], threshold=5)
    assert p.threshold == 5 and p.bias.item() == -5
    inputs = [[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    assert p.predict(inputs).tolist() == [row[1] for row in inputs]
    # the surfing decision: inputs (1, 0, 1), weights (5, 2, 4), bias -3 -> 6 -> output 1
    surf = nn.Perceptron(weights=[5, 2, 4], bias=-3)
    assert surf.decision_function([1, 0, 1]).item() == 6
    assert surf.predict([1, 0, 1]).item() == 1
    assert surf(nabla.tensor([1.0, 0.0, 1.0])).item() == 1.0
    assert nn.Perceptron(weights=[5, 2, 4], threshold=3).predict([1, 0, 1]).item() == 1
    assert list(surf.state_dict()) == ["weight", "bias"]
    assert not surf.weight.requires_grad


def test_perceptron_bad_input():
    with pytest.raises(TypeError, match="n_inputs or weights"):
        nn.Perceptron()
    with pytest.raises(ValueError, match="either bias or threshold"):
        nn.Perceptron(weights=[1, 2], bias=1, threshold=2)
    with pytest.raises(ValueError, match="n_inputs=3 but 2 weights"):
        nn.Perceptron(3, weights=[1, 2])
    p = nn.Perceptron(2)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        p.fit(X2, [0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"expects X of shape \(n_samples, 2\)"):
        p.predict([[1, 2, 3]])
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        p.fit(X2, [0, 1, 1])


# ------------------------------------------------------------------ utils
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_against_torch(torch, norm_type, max_norm):
    rng = np.random.default_rng(6)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2, 2)]]
    ps = [nn.Parameter(nabla.zeros(*g.shape)) for g in grads]
    tps = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = nabla.tensor(g.copy())
        tp.grad = torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_((p for p in ps), max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    assert total.item() == pytest.approx(ttotal.item(), rel=1e-5)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad._data, tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_misc(torch):
    p = nn.Parameter(nabla.zeros(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no grads at all
    p.grad = nabla.tensor([float("inf"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    g = np.array([-3.0, 0.2, 5.0], dtype=np.float32)
    p.grad = nabla.tensor(g)
    tp = torch.nn.Parameter(torch.zeros(3))
    tp.grad = torch.tensor(g)
    nn.utils.clip_grad_value_(p, 1.0)
    torch.nn.utils.clip_grad_value_(tp, 1.0)
    np.testing.assert_allclose(p.grad._data, tp.grad.numpy())


def test_parameters_to_vector_round_trip(torch):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    t = _copy_to_torch(torch, m, torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                                      torch.nn.Linear(4, 2)))
    v = nn.utils.parameters_to_vector(m.parameters())
    np.testing.assert_array_equal(v._data,
                                  torch.nn.utils.parameters_to_vector(t.parameters()).detach())
    w_obj = m[0].weight
    nn.utils.vector_to_parameters(v * 2, m.parameters())
    assert m[0].weight is w_obj
    np.testing.assert_allclose(nn.utils.parameters_to_vector(m.parameters())._data, v._data * 2)
    assert v.requires_grad  # differentiable, as in PyTorch
    with pytest.raises(TypeError, match="expected nabla.Tensor"):
        nn.utils.vector_to_parameters(np.zeros(26), m.parameters())
    with pytest.raises(ValueError, match="26 elements"):
        nn.utils.vector_to_parameters(nabla.zeros(5), m.parameters())


# ------------------------------------------------------------------ training end to end
def test_training_step_decreases_loss():
    nabla.manual_seed(0)
    x = nabla.randn(64, 4)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    crit = nn.CrossEntropyLoss()
    losses = []
    for _ in range(50):
        model.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        with nabla.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
