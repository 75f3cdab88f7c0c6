"""``minimize``: plain gradient descent with the course's stop rule, recorded for plotting.

Each step computes the cost, its derivative for every parameter element, and the
*step size* ``learning rate * derivative``; the parameters move by minus the step
size. Descent stops as soon as every step size is smaller than ``tol`` (the
parameters barely move any more), or after ``max_steps`` steps.

>>> import nabla
>>> from nabla.optim import minimize
>>> r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=0.001)
>>> r.converged, r.steps, round(r.params.item(), 3)
(True, 30, 2.996)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["MinimizeResult", "minimize"]


@dataclass
class MinimizeResult:
    """What ``minimize`` did, step by step.

    Attributes:
        params: the final parameters: the tensors that were passed in (updated in
            place), or new float64 tensors for plain numbers; one tensor when a single
            parameter was given, else a list.
        path: parameter values at the start and after every step, shape
            ``(steps + 1, *param.shape)`` for a single parameter (a 1-D array for a
            scalar one) or ``(steps + 1, total elements)`` for a list, each row the
            parameters flattened and concatenated in order.
        costs: the cost at every point of ``path`` (length ``steps + 1``).
        step_sizes: the largest ``|lr * derivative|`` of each step (length ``steps``).
        lrs: the learning rate used at each step (length ``steps``).
        steps: the number of steps taken.
        converged: True when the stop rule fired (every step size below ``tol``),
            False when ``max_steps`` ran out or the values became infinite or NaN.
        tol: the tolerance the stop rule used (handy for plotting it).
    """

    params: Tensor | list[Tensor]
    path: np.ndarray
    costs: np.ndarray
    step_sizes: np.ndarray
    lrs: np.ndarray
    steps: int
    converged: bool
    tol: float = field(default=1e-3, repr=False)


def minimize(
    f: Callable[..., Tensor],
    params,
    lr: float,
    tol: float = 1e-3,
    max_steps: int = 1000,
    schedule: float | Callable[[int], float] | None = None,
) -> MinimizeResult:
    """Minimize ``f(*params)`` by plain gradient descent.

    Args:
        f: the cost, called as ``f(*params)`` (one argument per parameter) and
            returning a one-element tensor. A cost that closes over its parameters
            can ignore the arguments: ``lambda *_: loss()``.
        params: one parameter or a list of them: tensors (changed in place; a leaf
            that does not require grad is switched to requiring it) or numbers /
            array-likes (made into float64 tensors).
        lr: the learning rate.
        tol: stop when every element's ``|step size| = |lr * derivative|`` is below it.
            The step that satisfies the rule is still applied, then descent stops.
        max_steps: stop after this many steps at the latest.
        schedule: a decaying learning rate. ``None``: constant ``lr``. A number
            ``gamma``: ``lr * gamma ** k`` at step ``k`` (0-based). A callable:
            ``lr * schedule(k)`` (a multiplier, like ``LambdaLR``).

    Returns:
        A ``MinimizeResult`` with the final ``params``, the ``path`` and ``costs``
        for plotting, ``step_sizes``, ``lrs``, ``steps`` and ``converged``.

    Two parameters (a line ``y = a + b x`` through three points), with a learning rate
    that halves every 100 steps:

    >>> import nabla
    >>> x = nabla.tensor([0.0, 1.0, 2.0]); y = nabla.tensor([1.0, 3.0, 5.0])
    >>> r = minimize(lambda a, b: ((a + b * x - y) ** 2).sum(), [0.0, 0.0], lr=0.05,
    ...              schedule=lambda k: 0.5 ** (k // 100))
    >>> r.converged, [round(p.item(), 2) for p in r.params], r.path.shape == (r.steps + 1, 2)
    (True, [1.01, 1.99], True)
    """
    if not lr >= 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if int(max_steps) != max_steps or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer, got {max_steps}")
    lr_at = _schedule(lr, schedule)

    single = not isinstance(params, (list, tuple))
    ps = [_param(p, i) for i, p in enumerate([params] if single else params)]
    if not ps:
        raise ValueError("minimize got an empty parameter list")
    if len({id(p) for p in ps}) != len(ps):
        raise ValueError("minimize got the same tensor twice in its parameter list")

    def snapshot():
        if single:
            return np.array(ps[0]._data, dtype=np.float64)
        return np.concatenate([p._data.ravel().astype(np.float64) for p in ps])

    def cost_of():
        cost = f(*ps)
        if not isinstance(cost, Tensor):
            raise TypeError(
                f"the cost function must return a nabla Tensor (built from its arguments), "
                f"got {type(cost).__name__}"
            )
        if cost.numel() != 1:
            raise ValueError(f"the cost must be a single number, got shape {tuple(cost.shape)}")
        return cost

    path = [snapshot()]
    costs, step_sizes, lrs = [], [], []
    converged = False
    final_cost = None
    for k in range(int(max_steps)):
        for p in ps:
            p.grad = None
        cost = cost_of()
        c = float(cost.item())
        costs.append(c)
        if not math.isfinite(c):
            final_cost = c  # already at this point: no step was taken from it
            costs.pop()
            break
        if cost.requires_grad:
            cost.backward()
        rate = lr_at(k)
        biggest = 0.0
        for p in ps:
            if p.grad is None:  # f does not depend on p: derivative 0
                continue
            step = np.multiply(p.grad._data, rate)
            if step.size:
                biggest = max(biggest, float(np.max(np.abs(step))))
            np.subtract(p._data, step, out=p._data, casting="same_kind")
            p._vc[0] += 1
        lrs.append(rate)
        step_sizes.append(biggest)
        path.append(snapshot())
        if biggest < tol:  # also False for NaN: a diverged run never "converges"
            converged = True
            break
        if not math.isfinite(biggest):
            break
    for p in ps:
        p.grad = None
    if final_cost is None:
        with no_grad():
            final_cost = float(cost_of().item())
    costs.append(final_cost)

    return MinimizeResult(
        params=ps[0] if single else ps,
        path=np.stack(path),
        costs=np.array(costs, dtype=np.float64),
        step_sizes=np.array(step_sizes, dtype=np.float64),
        lrs=np.array(lrs, dtype=np.float64),
        steps=len(step_sizes),
        converged=converged,
        tol=tol,
    )


def _schedule(lr: float, schedule) -> Callable[[int], float]:
    if schedule is None:
        return lambda k: lr
    if callable(schedule):
        return lambda k: lr * float(schedule(k))
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        gamma = float(schedule)
        if not 0 < gamma <= 1:
            raise ValueError(f"a decay factor schedule must be in (0, 1], got {gamma}")
        return lambda k: lr * gamma**k
    raise TypeError(
        "schedule must be None, a decay factor gamma (lr * gamma ** step) or a callable "
        f"step -> multiplier, got {type(schedule).__name__}"
    )


def _param(p, i: int) -> Tensor:
    if not isinstance(p, Tensor):
        arr = np.array(p, dtype=np.float64)
        return Tensor._wrap(arr, requires_grad=True)
    if p._data.dtype.kind != "f":
        raise TypeError(f"parameter {i} has dtype {p.dtype}: minimize needs floating-point tensors")
    if not p.is_leaf:
        raise ValueError(
            f"parameter {i} is not a leaf tensor (it was computed from others): pass the "
            "tensor it came from, or detach() it"
        )
    if not p.requires_grad:
        p.requires_grad_(True)
    return p
