"""Learning-rate schedulers: the lr sequence against torch.optim.lr_scheduler, state dicts."""

from __future__ import annotations

import warnings

import pytest

import nabla
from nabla.optim import SGD, Adam
from nabla.optim import lr_scheduler as ls

LRS = (0.1, 0.02)  # two param groups with different learning rates

CASES = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 5, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 7, 7, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),  # 30 steps: down, up, down again
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 1}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1 / (1 + e), lambda e: 1.0 + (e % 4)]}),
]


def _nabla_opt(cls=SGD):
    return cls([{"params": [nabla.zeros(1, requires_grad=True)], "lr": lr} for lr in LRS])


def _torch_opt(torch, name="SGD"):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in LRS]
    return getattr(torch.optim, name)(groups)


def _sequence(sched, opt, steps=30):
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == out[-1]
    return out


@pytest.mark.parametrize(("name", "kw"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_sequence_matches_torch_exactly(name, kw):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    ours = _sequence(getattr(ls, name)(opt, **kw), opt)
    theirs = _sequence(getattr(torch.optim.lr_scheduler, name)(topt, **kw), topt)
    assert ours == theirs  # exact: the same float operations in the same order


def test_cosine_follows_pytorch_recursion_not_the_closed_form():
    """PyTorch's recursive cosine differs from the closed form in the last bits."""
    import math

    opt = SGD([nabla.zeros(1, requires_grad=True)], lr=0.1)
    sched = ls.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    lrs = _sequence(sched, opt, 30)
    closed = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(31)]
    assert [x[0] for x in lrs] == pytest.approx(closed, rel=1e-12)
    assert lrs[10][0] == pytest.approx(0.001) and lrs[20][0] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("StepLR", {"step_size": 3}),
        ("MultiStepLR", {"milestones": [2, 5], "gamma": 0.5}),
        ("ExponentialLR", {"gamma": 0.8}),
        ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.01}),
    ],
)
def test_step_with_epoch_uses_closed_form_like_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    sched = getattr(ls, name)(opt, **kw)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for epoch in [4, 9, 2, 13]:
        sched.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch deprecates the epoch argument
            tsched.step(epoch)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)


PLATEAU = [
    {},
    {"patience": 2, "factor": 0.5},
    {"patience": 0, "factor": 0.5, "cooldown": 2},
    {"mode": "max", "patience": 1, "factor": 0.2},
    {"mode": "min", "threshold": 0.1, "threshold_mode": "abs", "patience": 1},
    {"mode": "max", "threshold": 0.05, "threshold_mode": "rel", "patience": 1},
    {"patience": 0, "factor": 0.1, "min_lr": [0.005, 1e-4]},
    {"patience": 0, "factor": 0.5, "min_lr": 0.01, "eps": 0.02},
]
METRICS = [1.0, 0.9, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.5, 0.6, 0.7, 0.49, 0.49, 0.6] * 2 + [
    0.3,
    0.31,
]


@pytest.mark.parametrize("kw", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    sched = ls.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    for m in METRICS:
        sched.step(m)
        tsched.step(m)
        assert sched.get_last_lr() == tsched.get_last_lr()
        assert (sched.num_bad_epochs, sched.cooldown_counter, sched.best) == (
            tsched.num_bad_epochs,
            tsched.cooldown_counter,
            tsched.best,
        )
    assert sched.last_epoch == tsched.last_epoch == len(METRICS)


def test_reduce_on_plateau_accepts_a_tensor_metric_and_reduces():
    opt = _nabla_opt()
    sched = ls.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    for _ in range(3):
        sched.step(nabla.tensor(1.0))
    assert sched.get_last_lr() == [0.05, 0.01]


def test_reduce_on_plateau_state_dict_round_trip():
    opt = _nabla_opt()
    sched = ls.ReduceLROnPlateau(opt, mode="max", patience=1, cooldown=1, factor=0.5)
    for m in METRICS[:7]:
        sched.step(m)
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["mode"] == "max" and sd["best"] == max(METRICS[:7])

    opt2 = _nabla_opt()
    opt2.load_state_dict(opt.state_dict())
    sched2 = ls.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(sd)
    for m in METRICS[7:]:
        sched.step(m)
        sched2.step(m)
        assert sched2.get_last_lr() == sched.get_last_lr()
    assert sched2._is_better(10.0, 1.0)  # the restored mode is "max"


@pytest.mark.parametrize(("name", "kw"), CASES[:7], ids=[n for n, _ in CASES[:7]])
def test_state_dict_round_trip_continues_like_uninterrupted(name, kw):
    opt = _nabla_opt()
    full = _sequence(getattr(ls, name)(opt, **kw), opt, 25)

    opt = _nabla_opt()
    sched = getattr(ls, name)(opt, **kw)
    first = _sequence(sched, opt, 10)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_sd and sched_sd["last_epoch"] == 10

    opt2 = _nabla_opt()
    opt2.load_state_dict(opt_sd)
    sched2 = getattr(ls, name)(opt2, **kw)
    sched2.load_state_dict(sched_sd)
    rest = _sequence(sched2, opt2, 15)
    assert first + rest[1:] == full


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    sched = ls.StepLR(_nabla_opt(), step_size=3)
    tsched = torch.optim.lr_scheduler.StepLR(_torch_opt(torch), step_size=3)
    ours, theirs = sched.state_dict(), tsched.state_dict()
    # PyTorch also stores its misuse-warning flag, which nabla does not have.
    assert set(ours) == set(theirs) - {"_get_lr_called_within_step"}
    for k in ours:
        assert ours[k] == theirs[k], k


def test_lambda_lr_state_dict_skips_functions_keeps_callable_objects():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    opt = _nabla_opt()
    sched = ls.LambdaLR(opt, [lambda e: 1.0, Decay(0.5)])
    sched.step()
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"rate": 0.5}]
    assert "optimizer" not in sd and sd["last_epoch"] == 1

    obj = Decay(0.9)
    sched2 = ls.LambdaLR(_nabla_opt(), [lambda e: 2.0, obj])
    sched2.load_state_dict(sd)
    assert obj.rate == 0.5 and sched2.last_epoch == 1
    assert sd["lr_lambdas"] == [None, {"rate": 0.5}]  # the caller's dict is untouched


def test_lambda_lr_errors():
    opt = _nabla_opt()
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        ls.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        ls.LambdaLR(opt, 0.5)


def test_resuming_needs_initial_lr():
    opt = _nabla_opt()
    with pytest.raises(KeyError, match="initial_lr"):
        ls.StepLR(opt, step_size=2, last_epoch=5)
    ls.StepLR(opt, step_size=2)  # sets initial_lr
    sched = ls.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert sched.last_epoch == 4 and sched.get_last_lr() == list(LRS)  # no jump at creation


def test_resuming_matches_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    for g in opt.param_groups + topt.param_groups:
        g["initial_lr"] = 1.0
    ours = _sequence(ls.CosineAnnealingLR(opt, T_max=8, last_epoch=3), opt, 10)
    theirs = _sequence(torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=8, last_epoch=3),
                       topt, 10)  # fmt: skip
    assert ours == theirs


def test_works_with_any_optimizer_and_rejects_others():
    opt = _nabla_opt(Adam)
    sched = ls.MultiStepLR(opt, milestones=[1])
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        ls.StepLR(object(), step_size=1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        ls.ReduceLROnPlateau(object())


def test_reduce_on_plateau_bad_arguments():
    opt = _nabla_opt()
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        ls.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode sideways is unknown"):
        ls.ReduceLROnPlateau(opt, mode="sideways")
    with pytest.raises(ValueError, match="threshold mode x is unknown"):
        ls.ReduceLROnPlateau(opt, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        ls.ReduceLROnPlateau(opt, min_lr=[0.1])
    sched = ls.ReduceLROnPlateau(opt, min_lr=[0.0, 0.0], patience=0)
    opt.add_param_group({"params": [nabla.zeros(1, requires_grad=True)], "lr": 1.0})
    sched.step(1.0)
    with pytest.raises(RuntimeError, match="number of param groups"):
        sched.step(2.0)
