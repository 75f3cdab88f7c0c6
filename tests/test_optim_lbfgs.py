"""LBFGS: iterations, line search, closure and state dict against torch.optim.LBFGS."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla.optim import LBFGS

OPTIONS = [
    {"max_iter": 4},
    {"line_search_fn": "strong_wolfe", "max_iter": 4},
    {"lr": 0.5, "max_iter": 7, "history_size": 3},  # the history fills and rolls over
    {"line_search_fn": "strong_wolfe", "max_iter": 6, "history_size": 2, "max_eval": 9},
    {"line_search_fn": "strong_wolfe", "lr": 4.0, "max_iter": 5},  # overshoots: zooms in
    {"line_search_fn": "strong_wolfe", "lr": 0.05, "max_iter": 3},  # too short: extrapolates
]


def _problem(lib, dtype):
    """A small convex fit, least squares plus a quartic penalty: well conditioned, so
    the last-bit differences of the two libraries' forward passes stay that small."""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((12, 3)).astype(dtype))
    y = lib.tensor(rng.standard_normal((12, 2)).astype(dtype) * 0.5)
    w = lib.tensor(rng.standard_normal((3, 2)).astype(dtype), requires_grad=True)
    b = lib.tensor(np.zeros(2, dtype), requires_grad=True)
    return x, y, [w, b]


def _run(lib, kw, dtype=np.float64, steps=3, params=None, opt=None):
    x, y, ps = _problem(lib, dtype)
    if params is not None:
        ps = params
    opt = opt or lib.optim.LBFGS(ps, **kw)
    w, b = ps

    def closure():
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean() + 0.1 * (w**4).sum()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return ps, opt, losses


def _arrays(ps):
    return [p._data if isinstance(p, nabla.Tensor) else p.detach().numpy() for p in ps]


def _same_state(ours: dict, theirs: dict, **tol):
    """Same keys in the same order, the same kinds of values, equal values."""
    assert list(ours) == list(theirs)
    for key, val in theirs.items():
        mine = ours[key]
        if isinstance(val, list):
            assert isinstance(mine, list) and len(mine) == len(val), key
            for a, b in zip(mine, val):
                _same_value(a, b, key, **tol)
        else:
            _same_value(mine, val, key, **tol)


def _same_value(mine, val, key, **tol):
    if val is None or isinstance(val, (int, float)):
        assert type(mine) is type(val), key
        # (pytest 9.2's approx refuses None: compare it plainly)
        assert mine is None if val is None else mine == pytest.approx(val, rel=tol["rtol"]), key
    else:
        assert isinstance(mine, nabla.Tensor), key
        assert mine.shape == tuple(val.shape), key
        np.testing.assert_allclose(mine._data, val.numpy(), **tol, err_msg=key)


@pytest.mark.parametrize("kw", OPTIONS, ids=[str(k) for k in OPTIONS])
def test_matches_torch(kw):
    torch = pytest.importorskip("torch")
    ours, opt, losses = _run(nabla, kw)
    theirs, topt, tlosses = _run(torch, kw)
    tol = {"rtol": 1e-9, "atol": 1e-12}
    assert losses == pytest.approx(tlosses, rel=1e-9)
    for a, b in zip(_arrays(ours), _arrays(theirs)):
        np.testing.assert_allclose(a, b, **tol)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd["state"]) == list(tsd["state"]) == [0]
    # The curvature pairs near convergence are differences of nearly equal values:
    # last-bit differences of the forward pass grow there, so a looser tolerance.
    _same_state(sd["state"][0], tsd["state"][0], rtol=1e-6, atol=1e-10)
    assert {k: v for k, v in sd["param_groups"][0].items()} == tsd["param_groups"][0]


def test_float32_matches_torch():
    torch = pytest.importorskip("torch")
    kw = {"line_search_fn": "strong_wolfe", "max_iter": 5}
    ours, opt, _ = _run(nabla, kw, np.float32, steps=2)
    theirs, topt, _ = _run(torch, kw, np.float32, steps=2)
    for a, b in zip(_arrays(ours), _arrays(theirs)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    st, tst = opt.state[ours[0]], topt.state[theirs[0]]
    assert type(st["t"]) is type(tst["t"]) is int  # lr itself after the first iteration
    for key in ("d", "H_diag", "prev_flat_grad"):
        assert st[key]._data.dtype == np.float32 and tst[key].dtype == torch.float32, key
    assert {r._data.dtype for r in st["ro"]} == {np.dtype(np.float32)}


@pytest.mark.parametrize("kw", OPTIONS[1:3], ids=["wolfe", "plain"])
def test_state_dict_round_trip_continues_like_uninterrupted(kw):
    full, _, full_losses = _run(nabla, kw, steps=4)
    ps, opt, losses = _run(nabla, kw, steps=2)
    sd = opt.state_dict()
    ps2 = [nabla.tensor(p._data.copy(), requires_grad=True) for p in ps]
    opt2 = LBFGS(ps2, lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw.get("lr", 1)
    # The loaded state is a copy: more steps of the old optimizer must not reach it.
    _run(nabla, kw, steps=1, params=ps, opt=opt)
    _, _, rest = _run(nabla, kw, steps=2, params=ps2, opt=opt2)
    assert losses + rest == full_losses
    for a, b in zip(_arrays(full), _arrays(ps2)):
        np.testing.assert_array_equal(a, b)


def test_stops_at_once_when_the_gradient_is_zero():
    w = nabla.tensor([1.0, 2.0], requires_grad=True)
    opt = LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * 0).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert len(calls) == 1 and w.tolist() == [1.0, 2.0]
    assert dict(opt.state[w]) == {"func_evals": 1, "n_iter": 0}


def test_errors():
    w = nabla.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        LBFGS([{"params": [w]}, {"params": [nabla.zeros(1, requires_grad=True)]}])
    opt = LBFGS([w])
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [nabla.zeros(1, requires_grad=True)]})
    with pytest.raises(RuntimeError, match="LBFGS needs a closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="Invalid learning rate"):
        LBFGS([w], lr=-1)
    assert LBFGS([w], max_iter=8).param_groups[0]["max_eval"] == 10
