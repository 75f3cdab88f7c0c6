"""Optimizers: step for step against torch.optim, state dicts, zero_grad, errors."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import nabla
from nabla import optim
from nabla.optim import (
    ASGD,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    Optimizer,
    RAdam,
    RMSprop,
    Rprop,
)

SHAPES = [(3, 4), (5,), ()]  # a matrix, a vector and a scalar

# (nabla class, torch class name, options) for a grid of options per optimizer.
GRID = [
    *[
        (SGD, "SGD", kw)
        for kw in [
            {"lr": 0.1},
            {"lr": 0.1, "momentum": 0.9},
            {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
            {"lr": 0.05, "momentum": 0.8, "nesterov": True},
            {"lr": 0.1, "weight_decay": 0.1},
            {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05, "nesterov": True},
            {"lr": 0.1, "maximize": True},
            {"lr": 0.1, "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.2, "maximize": True},
        ]
    ],
    *[
        (Adam, "Adam", kw)
        for kw in [
            {},
            {"lr": 0.01, "betas": (0.8, 0.99)},
            {"lr": 0.01, "betas": (0.3, 0.7), "eps": 1e-3},  # lerp's other branch
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.01, "amsgrad": True},
            {"lr": 0.01, "maximize": True},
            {"lr": 0.02, "amsgrad": True, "weight_decay": 0.05, "maximize": True},
        ]
    ],
    *[
        (AdamW, "AdamW", kw)
        for kw in [
            {},
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
            {"lr": 0.01, "weight_decay": 0.0, "maximize": True},
            {"lr": 0.01, "betas": (0.4, 0.9), "weight_decay": 0.3, "maximize": True},
        ]
    ],
    *[
        (RMSprop, "RMSprop", kw)
        for kw in [
            {},
            {"lr": 0.01, "alpha": 0.9},
            {"lr": 0.01, "momentum": 0.9},
            {"lr": 0.01, "centered": True},
            {"lr": 0.01, "centered": True, "momentum": 0.5},
            {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-4},
            {"lr": 0.01, "alpha": 0.3, "centered": True, "maximize": True},
            {"lr": 0.01, "momentum": 0.7, "weight_decay": 0.1, "maximize": True},
        ]
    ],
    *[
        (Adagrad, "Adagrad", kw)
        for kw in [
            {},
            {"lr": 0.1, "lr_decay": 0.05},
            {"lr": 0.1, "weight_decay": 0.1},
            {"lr": 0.1, "initial_accumulator_value": 0.5},
            {"lr": 0.1, "eps": 1e-3, "maximize": True},
            {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.2, "initial_accumulator_value": 0.1},
        ]
    ],
    *[
        (Adadelta, "Adadelta", kw)
        for kw in [
            {},
            {"lr": 0.5, "rho": 0.8},
            {"lr": 0.5, "weight_decay": 0.1, "eps": 1e-4},
            {"lr": 0.5, "weight_decay": 0.05, "maximize": True},
        ]
    ],
    *[
        (Adamax, "Adamax", kw)
        for kw in [
            {},
            {"lr": 0.01, "betas": (0.3, 0.7)},  # lerp's other branch
            {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3, "maximize": True},
        ]
    ],
    *[
        (NAdam, "NAdam", kw)
        for kw in [
            {},
            {"lr": 0.01, "momentum_decay": 0.05},
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
            {"lr": 0.01, "betas": (0.4, 0.9), "weight_decay": 0.2, "maximize": True},
        ]
    ],
    *[
        (RAdam, "RAdam", kw)
        for kw in [
            {},
            {"lr": 0.01, "betas": (0.9, 0.9)},  # rho_t passes 5 at step 6: both branches
            {"lr": 0.01, "betas": (0.5, 0.8), "weight_decay": 0.1},
            {"lr": 0.01, "betas": (0.3, 0.8), "weight_decay": 0.1, "decoupled_weight_decay": True},
            {"lr": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.05, "maximize": True},
        ]
    ],
    *[
        (Rprop, "Rprop", kw)
        for kw in [
            {},
            {"lr": 0.05, "etas": (0.3, 1.5)},
            {"lr": 0.05, "step_sizes": (0.01, 0.08)},  # both clamps bite
            {"lr": 0.05, "maximize": True},
        ]
    ],
    *[
        (ASGD, "ASGD", kw)
        for kw in [
            {},
            {"lr": 0.1, "lambd": 0.01, "alpha": 0.5},
            {"lr": 0.1, "t0": 3},  # averaging starts (mu < 1) after step 4
            {"lr": 0.1, "t0": 2, "weight_decay": 0.1, "maximize": True},
        ]
    ],
]
GRID_IDS = [f"{cls.__name__}-{kw}" for cls, _, kw in GRID]


def _start(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(steps, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _nabla_params(arrays):
    return [nabla.tensor(a.copy(), requires_grad=True) for a in arrays]


def _set_grads(params, grads, skip=None):
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = None if i == skip else nabla.tensor(g.copy())


def _run_nabla(cls, kw, start, grads, groups=None):
    params = _nabla_params(start)
    opt = cls(groups(params) if groups else params, **kw)
    history = []
    for k, g in enumerate(grads):
        _set_grads(params, g, skip=1 if k == 2 else None)  # one step without a grad
        opt.step()
        history.append([p._data.copy() for p in params])
    return history, opt


def _run_torch(torch, name, kw, start, grads, groups=None):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt = getattr(torch.optim, name)(groups(params) if groups else params, **kw)
    history = []
    for k, g in enumerate(grads):
        for i, (p, gi) in enumerate(zip(params, g)):
            p.grad = None if (k == 2 and i == 1) else torch.tensor(gi.copy())
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history, opt


def _tol(dtype):
    # float64: only FMA-vs-separate rounding differs from PyTorch's kernels.
    return {"rtol": 1e-10, "atol": 1e-13} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}


# --------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("cls", "name", "kw"), GRID, ids=GRID_IDS)
def test_matches_torch(cls, name, kw, dtype):
    torch = pytest.importorskip("torch")
    start, grads = _start(dtype), _grads(8, dtype)
    ours, opt = _run_nabla(cls, kw, start, grads)
    theirs, topt = _run_torch(torch, name, kw, start, grads)
    for k, (a_step, b_step) in enumerate(zip(ours, theirs)):
        for a, b in zip(a_step, b_step):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, **_tol(dtype), err_msg=f"step {k}")
    # The state must match too: same keys, same values.
    ours_sd, theirs_sd = opt.state_dict(), topt.state_dict()
    assert ours_sd["state"].keys() == theirs_sd["state"].keys()
    for i, st in theirs_sd["state"].items():
        assert list(ours_sd["state"][i]) == list(st)
        for key, val in st.items():
            np.testing.assert_allclose(
                ours_sd["state"][i][key]._data, val.numpy(), **_tol(dtype), err_msg=key
            )
    for g, tg in zip(ours_sd["param_groups"], theirs_sd["param_groups"]):
        assert g["params"] == tg["params"]
        for key, val in g.items():
            assert tg[key] == val, key


@pytest.mark.parametrize(
    ("cls", "name", "kw"),
    [
        (SGD, "SGD", {"lr": 0.1, "momentum": 0.9}),
        (Adam, "Adam", {"lr": 0.01}),
        (AdamW, "AdamW", {"lr": 0.01}),
        (RMSprop, "RMSprop", {"lr": 0.01, "momentum": 0.3, "centered": True}),
        (Adagrad, "Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
        (Adadelta, "Adadelta", {"rho": 0.8}),
        (Adamax, "Adamax", {"lr": 0.01}),
        (NAdam, "NAdam", {"lr": 0.01, "decoupled_weight_decay": True}),
        (RAdam, "RAdam", {"lr": 0.01, "betas": (0.9, 0.9)}),
        (Rprop, "Rprop", {"lr": 0.05}),
        (ASGD, "ASGD", {"lr": 0.05, "t0": 2}),
    ],
)
def test_param_groups_match_torch(cls, name, kw):
    """Per-group options override the defaults, exactly as in PyTorch."""
    torch = pytest.importorskip("torch")
    start, grads = _start(np.float64), _grads(6, np.float64)

    def groups(ps):
        return [{"params": ps[:1], "lr": 0.3, "weight_decay": 0.1}, {"params": ps[1:]}]

    ours, _ = _run_nabla(cls, kw, start, grads, groups)
    theirs, _ = _run_torch(torch, name, kw, start, grads, groups)
    for a_step, b_step in zip(ours, theirs):
        for a, b in zip(a_step, b_step):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_lr_changed_between_steps_matches_torch():
    torch = pytest.importorskip("torch")
    start, grads = _start(np.float64), _grads(6, np.float64)
    params = _nabla_params(start)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt, topt = Adam(params, lr=0.1), torch.optim.Adam(tparams, lr=0.1)
    for k, g in enumerate(grads):
        opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 0.1 / (k + 1)
        _set_grads(params, g)
        for p, gi in zip(tparams, g):
            p.grad = torch.tensor(gi)
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p._data, tp.detach().numpy(), rtol=1e-10)


def test_training_a_linear_layer_matches_torch():
    """Integration: nn.Linear + backward + optimizer, against the same in PyTorch."""
    torch = pytest.importorskip("torch")
    nn = pytest.importorskip("nabla.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("nabla.nn.Linear does not exist yet")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    model = nn.Linear(3, 2, dtype=nabla.float64)
    tmodel = torch.nn.Linear(3, 2, dtype=torch.float64)
    with torch.no_grad():
        tmodel.weight.copy_(torch.tensor(model.weight._data))
        tmodel.bias.copy_(torch.tensor(model.bias._data))
    opt = AdamW(model.parameters(), lr=0.05, weight_decay=0.1, amsgrad=True)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=0.05, weight_decay=0.1, amsgrad=True)
    xn, yn, xt, yt = nabla.tensor(x), nabla.tensor(y), torch.tensor(x), torch.tensor(y)
    for _ in range(10):
        opt.zero_grad()
        ((model(xn) - yn) ** 2).mean().backward()
        opt.step()
        topt.zero_grad()
        ((tmodel(xt) - yt) ** 2).mean().backward()
        topt.step()
    np.testing.assert_allclose(model.weight._data, tmodel.weight.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.bias._data, tmodel.bias.detach().numpy(), rtol=1e-10)


def test_torch_state_dict_loads_into_nabla():
    """The layouts agree: a PyTorch state dict (as arrays) resumes a nabla optimizer."""
    torch = pytest.importorskip("torch")
    start, grads = _start(np.float64), _grads(6, np.float64)
    theirs, topt = _run_torch(torch, "Adam", {"lr": 0.01, "amsgrad": True}, start, grads)
    sd = topt.state_dict()
    converted = {
        "state": {
            i: {k: nabla.tensor(v.numpy()) for k, v in st.items()} for i, st in sd["state"].items()
        },
        "param_groups": sd["param_groups"],
    }
    params = _nabla_params(theirs[-1])
    opt = Adam(params, lr=0.5)
    opt.load_state_dict(converted)
    assert opt.param_groups[0]["lr"] == 0.01
    tparams = topt.param_groups[0]["params"]
    for g in _grads(3, np.float64, seed=9):
        _set_grads(params, g)
        for p, gi in zip(tparams, g):
            p.grad = torch.tensor(gi)
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p._data, tp.detach().numpy(), rtol=1e-10)


# ------------------------------------------------------------------ state dicts
ROUND_TRIP = [
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (Adam, {"lr": 0.01, "amsgrad": True}),
    (AdamW, {"lr": 0.01}),
    (RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.1}),
    (Adadelta, {"lr": 0.5, "weight_decay": 0.1}),
    (Adamax, {"lr": 0.01}),
    (RAdam, {"lr": 0.01, "betas": (0.9, 0.9)}),
    (Rprop, {"lr": 0.05}),
]
# NAdam's mu_product and ASGD's eta and mu are float32 0-d tensors that a load casts to
# the parameter's dtype (as PyTorch does): their round trip is checked against PyTorch's.
IN_PLACE = ROUND_TRIP + [(NAdam, {"lr": 0.01}), (ASGD, {"lr": 0.1, "t0": 2})]


@pytest.mark.parametrize(("cls", "kw"), ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
def test_state_dict_round_trip_continues_like_uninterrupted(cls, kw):
    start, grads = _start(np.float64), _grads(8, np.float64)
    # Uninterrupted run.
    full, _ = _run_nabla(cls, kw, start, grads)
    # Interrupted: 4 steps, save, fresh optimizer on copies of the params, load, 4 more.
    params = _nabla_params(start)
    opt = cls(params, **kw)
    for k in range(4):
        _set_grads(params, grads[k], skip=1 if k == 2 else None)
        opt.step()
    sd = opt.state_dict()
    params2 = _nabla_params([p._data for p in params])
    opt2 = cls(params2, lr=123.0)  # a different lr: the loaded one must win
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    # The loaded state is a copy: stepping the old optimizer must not leak into it.
    _set_grads(params, grads[0])
    opt.step()
    for k in range(4, 8):
        _set_grads(params2, grads[k])
        opt2.step()
    for a, b in zip(full[-1], params2):
        np.testing.assert_array_equal(a, b._data)


def test_state_dict_structure():
    a, b, c = (nabla.zeros(2, requires_grad=True) for _ in range(3))
    opt = Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    for p in (a, c):
        p.grad = nabla.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]
    assert sorted(sd["state"]) == [0, 2]  # b never had a gradient
    st = sd["state"][2]
    assert list(st) == ["step", "exp_avg", "exp_avg_sq"]
    assert all(isinstance(v, nabla.Tensor) for v in st.values())
    assert st["step"].shape == () and st["step"].dtype == nabla.float32
    assert st["step"].item() == 1.0
    # The packed groups are copies: editing them does not reach the optimizer.
    sd["param_groups"][0]["lr"] = 9.0
    assert opt.param_groups[0]["lr"] == 0.1


def test_load_state_dict_casts_to_param_dtype():
    p64 = nabla.tensor([1.0, 2.0], dtype=nabla.float64, requires_grad=True)
    opt = Adam([p64], lr=0.1)
    p64.grad = nabla.tensor([1.0, 1.0], dtype=nabla.float64)
    opt.step()
    p32 = nabla.tensor([1.0, 2.0], dtype=nabla.float32, requires_grad=True)
    opt32 = Adam([p32])
    opt32.load_state_dict(opt.state_dict())
    st = opt32.state[p32]
    assert st["exp_avg"].dtype == nabla.float32
    assert st["step"].dtype == nabla.float32  # the counter keeps its own dtype
    p32.grad = nabla.tensor([1.0, 1.0])
    opt32.step()
    assert p32.dtype == nabla.float32 and st["step"].item() == 2.0


def test_load_state_dict_errors_leave_optimizer_unchanged():
    a, b = nabla.zeros(2, requires_grad=True), nabla.zeros(3, requires_grad=True)
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = nabla.ones(2), nabla.ones(3)
    opt.step()
    sd = opt.state_dict()

    two_groups = SGD([{"params": [nabla.zeros(2, requires_grad=True)]},
                      {"params": [nabla.zeros(3, requires_grad=True)]}], lr=0.1)  # fmt: skip
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two_groups.load_state_dict(sd)

    one = SGD([nabla.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        one.load_state_dict(sd)

    swapped = SGD([nabla.zeros(3, requires_grad=True), nabla.zeros(2, requires_grad=True)], lr=1)
    before = swapped.state_dict()
    with pytest.raises(ValueError, match="has shape"):
        swapped.load_state_dict(sd)
    assert swapped.param_groups[0]["lr"] == 1 and len(swapped.state) == 0
    assert before["param_groups"] == swapped.state_dict()["param_groups"]

    bad = {"state": {5: {"momentum_buffer": nabla.zeros(2)}}, "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="parameter 5"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_named_parameters_are_accepted_and_saved():
    a, b = nabla.zeros(2, requires_grad=True), nabla.zeros(1, requires_grad=True)
    opt = SGD([("layer.weight", a), ("layer.bias", b)], lr=0.1)
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(a), id(b)]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [nabla.zeros(1, requires_grad=True)]})


@pytest.mark.parametrize(("cls", "name", "kw"), [(c, c.__name__, kw) for c, kw in IN_PLACE],
                         ids=[c.__name__ for c, _ in IN_PLACE])  # fmt: skip
def test_state_dict_round_trip_matches_torch_round_trip(cls, name, kw):
    """4 steps, save, load into a fresh optimizer, 4 more: the same in both libraries,
    with the loaded state's types and dtypes as PyTorch casts them."""
    torch = pytest.importorskip("torch")
    start, grads = _start(np.float64), _grads(8, np.float64)
    params, tparams = _nabla_params(start), [torch.tensor(a, requires_grad=True) for a in start]
    opt, topt = cls(params, **kw), getattr(torch.optim, name)(tparams, **kw)
    for k in range(4):
        _set_grads(params, grads[k], skip=1 if k == 2 else None)
        for i, (p, g) in enumerate(zip(tparams, grads[k])):
            p.grad = None if (k == 2 and i == 1) else torch.tensor(g)
        opt.step()
        topt.step()
    opt2 = cls(_nabla_params([p._data for p in params]), lr=123.0)
    opt2.load_state_dict(opt.state_dict())
    topt2 = getattr(torch.optim, name)([p.detach().clone().requires_grad_() for p in tparams],
                                       lr=123.0)  # fmt: skip
    topt2.load_state_dict(topt.state_dict())
    for st, tst in zip(opt2.state.values(), topt2.state.values()):
        for key, val in tst.items():
            assert st[key]._data.dtype == np.dtype(str(val.dtype).replace("torch.", "")), key
    params2, tparams2 = opt2.param_groups[0]["params"], topt2.param_groups[0]["params"]
    for k in range(4, 8):
        _set_grads(params2, grads[k])
        for p, g in zip(tparams2, grads[k]):
            p.grad = torch.tensor(g)
        opt2.step()
        topt2.step()
    for p, tp in zip(params2, tparams2):
        np.testing.assert_allclose(p._data, tp.detach().numpy(), rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------------ step details
@pytest.mark.parametrize(("cls", "kw"), IN_PLACE, ids=[c.__name__ for c, _ in IN_PLACE])
def test_updates_in_place_and_bumps_version(cls, kw):
    p = nabla.tensor(np.ones((4, 3)), requires_grad=True)
    arr, version = p._data, p._version
    opt = cls([p], **kw)
    y = (p * p).sum()  # a graph that saved p before the step
    for _ in range(3):
        p.grad = nabla.ones(4, 3)
        opt.step()
    assert p._data is arr
    assert not np.allclose(arr, 1.0)
    assert p._version == version + 3
    buffers = {k: v._data for k, v in opt.state[p].items()}
    p.grad = nabla.ones(4, 3)
    opt.step()
    for k, v in opt.state[p].items():
        assert v._data is buffers[k], f"state {k!r} was replaced, not updated in place"
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize(("cls", "kw"), IN_PLACE, ids=[c.__name__ for c, _ in IN_PLACE])
def test_step_allocates_no_parameter_sized_arrays(cls, kw):
    n = 250_000  # 2 MB in float64: any fresh per-step temporary shows up in the peak
    p = nabla.tensor(np.ones(n), requires_grad=True)
    p.grad = nabla.tensor(np.full(n, 0.5))
    opt = cls([p], **kw)
    opt.step()  # the first step creates the state and the scratch space
    opt.step()
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p._data.nbytes // 4, f"a step allocated {peak} bytes"


def test_params_without_grad_are_skipped():
    a, b = nabla.ones(2, requires_grad=True), nabla.ones(2, requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = nabla.ones(2)
    opt.step()
    assert b.tolist() == [1.0, 1.0] and b not in opt.state
    assert a.tolist() != [1.0, 1.0] and a in opt.state


def test_grad_shape_mismatch_is_clear():
    p = nabla.ones(2, 3, requires_grad=True)
    opt = SGD([p], lr=0.1)
    p.grad = nabla.ones(3, 2)
    with pytest.raises(ValueError, match=r"gradient of shape \(3, 2\) does not match"):
        opt.step()
    assert p._data.tolist() == np.ones((2, 3)).tolist()


def test_step_with_closure():
    w = nabla.tensor([2.0], requires_grad=True)
    opt = SGD([w], lr=0.25)
    calls = []

    def closure():
        calls.append(nabla.is_grad_enabled())
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with nabla.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert calls == [True] and loss.item() == 4.0
    assert w.tolist() == [1.0]  # 2 - 0.25 * 4
    assert opt.step() is None


def test_add_param_group_later():
    a, b = nabla.ones(1, requires_grad=True), nabla.ones(1, requires_grad=True)
    opt = Adagrad([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 1.0})
    assert opt.param_groups[1]["lr_decay"] == 0  # defaults fill the rest
    a.grad, b.grad = nabla.ones(1), nabla.ones(1)
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.0, abs=1e-9)


def test_caller_dict_is_not_modified():
    group = {"params": [nabla.ones(1, requires_grad=True)]}
    SGD([group], lr=0.1)
    assert set(group) == {"params"}


def test_repr_lists_groups():
    opt = SGD([nabla.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ---------------------------------------------------------------------- zero_grad
def test_zero_grad_set_to_none():
    w = nabla.ones(3, requires_grad=True)
    w.sum().backward()
    SGD([w]).zero_grad()
    assert w.grad is None


def test_zero_grad_keeps_persistent_buffers():
    w = nabla.ones(3, requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * 2).sum().backward()
    buf = w.grad._data
    opt.zero_grad(set_to_none=False)
    assert w.grad._data is buf and buf.tolist() == [0.0, 0.0, 0.0]
    (w * 3).sum().backward()  # backward accumulates into the same buffer
    assert w.grad._data is buf and buf.tolist() == [3.0, 3.0, 3.0]


def test_zero_grad_replaces_a_read_only_grad():
    w = nabla.ones(3, requires_grad=True)
    ro = np.ones(3)
    ro.flags.writeable = False
    w.grad = nabla.Tensor(ro)
    SGD([w]).zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0, 0.0] and ro.tolist() == [1.0, 1.0, 1.0]


# -------------------------------------------------------------------------- errors
def test_param_given_twice_raises():
    w = nabla.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="appears twice"):
        SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    assert len(opt.param_groups) == 1


def test_empty_and_malformed_param_lists_raise():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD(iter([]), lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([{"params": []}], lr=0.1)
    with pytest.raises(TypeError, match="wrap it in a list"):
        SGD(nabla.ones(2, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        SGD({nabla.ones(2, requires_grad=True)}, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        SGD([np.ones(2)], lr=0.1)
    opt = SGD([nabla.ones(1, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([nabla.ones(1, requires_grad=True)])


def test_non_leaf_and_non_float_params_raise():
    w = nabla.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        SGD([nabla.tensor([1, 2])], lr=0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda p: SGD(p, momentum=-1), "Invalid momentum value"),
        (lambda p: SGD(p, weight_decay=-1), "Invalid weight_decay value"),
        (lambda p: SGD(p, nesterov=True), "Nesterov momentum requires"),
        (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
        (lambda p: SGD([{"params": p, "lr": -1}], lr=0.1), "Invalid learning rate: -1"),
        (lambda p: Adam(p, lr=-1), "Invalid learning rate"),
        (lambda p: Adam(p, eps=-1), "Invalid epsilon value"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
        (lambda p: Adam(p, weight_decay=-1), "Invalid weight_decay value"),
        (lambda p: AdamW(p, lr=-1), "Invalid learning rate"),
        (lambda p: RMSprop(p, alpha=-1), "Invalid alpha value"),
        (lambda p: RMSprop(p, momentum=-1), "Invalid momentum value"),
        (lambda p: RMSprop(p, eps=-1), "Invalid epsilon value"),
        (lambda p: Adagrad(p, lr_decay=-1), "Invalid lr_decay value"),
        (lambda p: Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
    ],
)
def test_bad_hyperparameters_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make([nabla.ones(1, requires_grad=True)])


def test_bad_hyperparameters_match_torch_errors():
    torch = pytest.importorskip("torch")
    cases = [
        ("SGD", {"lr": -1}),
        ("Adam", {"betas": (1.0, 0.9)}),
        ("RMSprop", {"alpha": -1}),
        ("Adadelta", {"rho": 1.5}),
        ("Adamax", {"betas": (0.9, 1.0)}),
        ("NAdam", {"momentum_decay": -1}),
        ("RAdam", {"eps": -1}),
        ("Rprop", {"etas": (1.5, 2.0)}),
        ("ASGD", {"weight_decay": -1}),
        ("LBFGS", {"lr": -1}),
    ]
    for name, kw in cases:
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)([torch.ones(1, requires_grad=True)], **kw)
        with pytest.raises(ValueError) as ours:
            getattr(optim, name)([nabla.ones(1, requires_grad=True)], **kw)
        assert str(ours.value) == str(theirs.value)


def test_required_hyperparameter():
    class Plain(Optimizer):
        def __init__(self, params, lr=optim.required):
            super().__init__(params, {"lr": lr})

    Plain([{"params": [nabla.ones(1, requires_grad=True)], "lr": 0.1}])
    with pytest.raises(ValueError, match="didn't specify a value of required"):
        Plain([nabla.ones(1, requires_grad=True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repr(optim.required) == "<required parameter>"


def test_plain_sgd_follows_a_parameter_whose_array_was_replaced():
    # Plain SGD keeps a scratch array per parameter: a new array of another shape must
    # get a fresh one, not the old one's.
    w = nabla.ones(2, 3, requires_grad=True)
    opt = SGD([w], lr=0.5)
    w.grad = nabla.ones(2, 3)
    opt.step()
    w._data = np.full((4,), 2.0, np.float32)
    w.grad = nabla.tensor([1.0, 2.0, 3.0, 4.0])
    opt.step()
    np.testing.assert_array_equal(w._data, [1.5, 1.0, 0.5, 0.0])
