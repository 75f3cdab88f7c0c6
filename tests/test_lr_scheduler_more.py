"""The warm-up, cyclic and composite schedulers against torch.optim.lr_scheduler."""

from __future__ import annotations

import warnings

import pytest

import nabla
from nabla.optim import SGD, Adam
from nabla.optim import lr_scheduler as ls

LRS = (0.1, 0.02)  # two param groups with different learning rates
STEPS = 40

# Each case builds a scheduler from a lr_scheduler module (nabla's or torch's) and an
# optimizer, so composite schedulers can build their parts from the same module.
CASES = {
    "LinearLR": lambda m, o: m.LinearLR(o),
    "LinearLR-down": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=9),
    "LinearLR-up": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=7),
    "ConstantLR": lambda m, o: m.ConstantLR(o),
    "ConstantLR-long": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=10),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o),
    "PolynomialLR-square": lambda m, o: m.PolynomialLR(o, total_iters=12, power=2.0),
    "WarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5),
    "WarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=1e-3),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "CyclicLR-tri2": lambda m, o: m.CyclicLR(
        o, [0.01, 0.001], [0.1, 0.05], step_size_up=3, step_size_down=5, mode="triangular2"
    ),
    "CyclicLR-exp": lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.95, base_momentum=0.7
    ),
    "CyclicLR-fn": lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 0.9**x, scale_mode="iterations",
        cycle_momentum=False,
    ),  # fmt: skip
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS),
    "OneCycleLR-3": lambda m, o: m.OneCycleLR(
        o, max_lr=[0.5, 0.3], epochs=4, steps_per_epoch=10, three_phase=True,
        anneal_strategy="linear", pct_start=0.25,
    ),  # fmt: skip
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.2, total_iters=4), m.ExponentialLR(o, gamma=0.9)], [5]
    ),
    "SequentialLR-3": lambda m, o: m.SequentialLR(
        o,
        [m.ConstantLR(o, factor=0.5, total_iters=3), m.CosineAnnealingLR(o, T_max=8),
         m.StepLR(o, step_size=4, gamma=0.5)],
        milestones=[4, 15],
    ),  # fmt: skip
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9)]
    ),
    "ChainedScheduler-opt": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.5, total_iters=6), m.MultiStepLR(o, [3, 9], gamma=0.5)],
        optimizer=o,
    ),
}
NAMES = list(CASES)


def _nabla_opt(cls=SGD, **kw):
    return cls([{"params": [nabla.zeros(1, requires_grad=True)], "lr": lr} for lr in LRS], **kw)


def _torch_opt(torch, name="SGD", **kw):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in LRS]
    return getattr(torch.optim, name)(groups, **kw)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _sequence(sched, opt, steps=STEPS):
    """The lrs (and momenta) after construction and after each step."""
    out = [(sched.get_last_lr(), _momenta(opt))]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), _momenta(opt)))
        assert [g["lr"] for g in opt.param_groups] == out[-1][0]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_sequence_matches_torch(name):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    ours = _sequence(CASES[name](ls, opt), opt)
    theirs = _sequence(CASES[name](torch.optim.lr_scheduler, topt), topt)
    assert ours == theirs  # exact: the same float operations in the same order


@pytest.mark.parametrize("name", ["CyclicLR", "OneCycleLR", "OneCycleLR-3"])
def test_cycles_adam_beta1_like_torch(name):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(Adam), _torch_opt(torch, "Adam")
    ours = _sequence(CASES[name](ls, opt), opt)
    theirs = _sequence(CASES[name](torch.optim.lr_scheduler, topt), topt)
    assert ours == theirs
    assert [g["betas"] for g in opt.param_groups] == [g["betas"] for g in topt.param_groups]


def _comparable(sd: dict) -> dict:
    """A state dict without what cannot be compared across libraries."""
    sd = {k: v for k, v in sd.items() if k != "_get_lr_called_within_step"}
    if "_schedulers" in sd:
        sd["_schedulers"] = [_comparable(s) for s in sd["_schedulers"]]
    return sd


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_matches_torch(name):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    sched, tsched = CASES[name](ls, opt), CASES[name](torch.optim.lr_scheduler, topt)
    for _ in range(7):
        opt.step(), topt.step()
        sched.step(), tsched.step()
    assert _comparable(sched.state_dict()) == _comparable(tsched.state_dict())
    assert opt.state_dict()["param_groups"] == [
        {k: v for k, v in g.items() if k in ours}
        for g, ours in zip(topt.state_dict()["param_groups"], opt.state_dict()["param_groups"])
    ]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_like_uninterrupted(name):
    opt = _nabla_opt()
    full = _sequence(CASES[name](ls, opt), opt, 30)

    opt = _nabla_opt()
    sched = CASES[name](ls, opt)
    first = _sequence(sched, opt, 12)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_sd

    # Build everything first, then load: a warm-up's constructor scales the lr it finds.
    opt2 = _nabla_opt()
    sched2 = CASES[name](ls, opt2)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    rest = _sequence(sched2, opt2, 18)
    assert first + rest[1:] == full


@pytest.mark.parametrize(
    ("name", "epochs"),
    [
        ("LinearLR-up", [4, 9, 2, 13]),
        ("ConstantLR-long", [4, 12, 2, 10]),
        ("PolynomialLR-square", [4, 9, 2, 13]),
        ("WarmRestarts", [4, 9, 2.5, 13, 0]),
        ("WarmRestarts-mult", [4, 9, 2.5, 13, 30.25, 1]),
    ],
)
def test_step_with_epoch_matches_torch(name, epochs):
    torch = pytest.importorskip("torch")
    opt, topt = _nabla_opt(), _torch_opt(torch)
    sched, tsched = CASES[name](ls, opt), CASES[name](torch.optim.lr_scheduler, topt)
    for epoch in epochs:
        sched.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch deprecates the epoch argument
            tsched.step(epoch)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)
        assert sched.last_epoch == tsched.last_epoch


def test_one_cycle_stops_past_total_steps():
    opt = _nabla_opt()
    sched = ls.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_cyclic_lr_saves_callable_objects_not_functions():
    class Half:
        def __init__(self):
            self.base = 2.0

        def __call__(self, x):
            return 1 / self.base**x

    sched = ls.CyclicLR(_nabla_opt(), 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert sched.state_dict()["_scale_fn_custom"] is None
    obj = Half()
    sched = ls.CyclicLR(_nabla_opt(), 0.01, 0.1, scale_fn=obj)
    obj.base = 3.0
    sd = sched.state_dict()
    assert sd["_scale_fn_custom"] == {"base": 3.0}
    other = Half()
    ls.CyclicLR(_nabla_opt(), 0.01, 0.1, scale_fn=other).load_state_dict(sd)
    assert other.base == 3.0 and sd["_scale_fn_custom"] == {"base": 3.0}


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda o: ls.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative"),
        (lambda o: ls.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative"),
        (lambda o: ls.ConstantLR(o, factor=2), ValueError, "between 0 and 1"),
        (lambda o: ls.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
        (lambda o: ls.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError, "T_mult >= 1"),
        (lambda o: ls.CyclicLR(o, 0.1, 1.0, mode="up"), ValueError, "mode is invalid"),
        (lambda o: ls.CyclicLR(o, [0.1], 1.0), ValueError, "same length"),
        (lambda o: ls.OneCycleLR(o, 1.0), ValueError, "either total_steps OR"),
        (lambda o: ls.OneCycleLR(o, 1.0, total_steps=0), ValueError, "total_steps"),
        (lambda o: ls.OneCycleLR(o, 1.0, 9, pct_start=2.0), ValueError, "pct_start"),
        (lambda o: ls.OneCycleLR(o, 1.0, 9, anneal_strategy="exp"), ValueError, "'cos'"),
        (lambda o: ls.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
        (lambda o: ls.SequentialLR(o, [ls.StepLR(o, 2)], [3]), ValueError, "one more"),
        (lambda o: ls.SequentialLR(o, [ls.ReduceLROnPlateau(o)], []), ValueError, "Plateau"),
        (lambda o: ls.SequentialLR(o, [ls.StepLR(_nabla_opt(), 2)], []), ValueError,
         "same optimizer"),  # fmt: skip
        (lambda o: ls.ChainedScheduler([]), ValueError, "at least one scheduler"),
        (lambda o: ls.ChainedScheduler([object()], o), TypeError, "no `optimizer`"),
        (lambda o: ls.CyclicLR(_nabla_opt(nabla.optim.Adagrad), 0.1, 1.0), ValueError,
         "must support momentum"),  # fmt: skip
    ],
)
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_nabla_opt())
