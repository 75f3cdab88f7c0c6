"""minimize: plain gradient descent with the stop rule |lr * derivative| < tol."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nabla
from nabla.optim import MinimizeResult, minimize


def _reference(w0, lr, tol, max_steps, target=3.0):
    """The course's loop for (w - target)^2, in plain Python floats."""
    w, path, sizes = w0, [w0], []
    for _ in range(max_steps):
        step = lr * 2 * (w - target)
        w -= step
        path.append(w)
        sizes.append(abs(step))
        if abs(step) < tol:
            return path, sizes, True
    return path, sizes, False


def test_course_example_converges_near_three():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=0.001)
    assert isinstance(r, MinimizeResult)
    assert r.converged and r.steps == 30
    assert abs(r.params.item() - 3) < 0.005
    path, sizes, converged = _reference(0.0, 0.1, 0.001, 1000)
    assert converged and r.steps == len(sizes)
    np.testing.assert_allclose(r.path, path, rtol=1e-12)
    np.testing.assert_allclose(r.step_sizes, sizes, rtol=1e-12)


def test_stop_rule_is_exact():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=0.001)
    assert r.step_sizes[-1] < 0.001  # the last step was below tol...
    assert np.all(r.step_sizes[:-1] >= 0.001)  # ...and none before it was
    # The step sizes are |lr * derivative| at each point of the path.
    np.testing.assert_allclose(r.step_sizes, np.abs(0.1 * 2 * (r.path[:-1] - 3)), rtol=1e-12)
    # A tol just above the last-but-one step size stops one step earlier.
    r2 = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=r.step_sizes[-2] * (1 + 1e-9))
    assert r2.converged and r2.steps == r.steps - 1


def test_path_and_costs_line_up():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=0.001)
    assert r.path.shape == (r.steps + 1,) and r.path[0] == 0.0
    assert r.costs.shape == (r.steps + 1,) and r.lrs.shape == r.step_sizes.shape == (r.steps,)
    np.testing.assert_allclose(r.costs, (r.path - 3) ** 2, rtol=1e-12)
    assert r.path[-1] == r.params.item()
    assert np.all(np.diff(r.costs) < 0)


def test_max_steps_stops_it():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.001, tol=1e-6, max_steps=25)
    assert not r.converged and r.steps == 25 and len(r.path) == 26
    assert r.step_sizes[-1] >= 1e-6
    r0 = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, max_steps=0)
    assert r0.steps == 0 and not r0.converged and r0.costs.tolist() == [9.0]


def test_rule_firing_on_the_last_allowed_step_counts_as_converged():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=0.001, max_steps=30)
    assert r.converged and r.steps == 30


def test_callable_schedule_decays_the_learning_rate():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.4, tol=1e-4, schedule=lambda k: 1 / (1 + k))
    np.testing.assert_allclose(r.lrs, [0.4 / (1 + k) for k in range(r.steps)])
    constant = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.4, tol=1e-4)
    assert r.steps != constant.steps
    np.testing.assert_allclose(r.step_sizes, np.abs(r.lrs * 2 * (r.path[:-1] - 3)), rtol=1e-12)
    # Step 0 uses the full lr, step 1 half of it: the second move is smaller than lr alone gives.
    assert r.path[1] == pytest.approx(0.4 * 6)
    assert r.path[2] == pytest.approx(r.path[1] - 0.2 * 2 * (r.path[1] - 3))


def test_decay_factor_schedule():
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=1e-3, schedule=0.9)
    np.testing.assert_allclose(r.lrs, 0.1 * 0.9 ** np.arange(r.steps))
    # A fast decay stops the descent early, far from the minimum: the lr shrank, not
    # the slope. This is what the stop rule measures.
    r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=0.1, tol=1e-3, schedule=0.5)
    assert r.converged and abs(r.params.item() - 3) > 0.5


def test_several_parameters_and_tensors_updated_in_place():
    x = nabla.tensor([0.0, 1.0, 2.0, 3.0], dtype=nabla.float64)
    y = 2.0 * x + 1.0
    a = nabla.tensor(0.0, dtype=nabla.float64, requires_grad=True)
    b = nabla.tensor([0.0], dtype=nabla.float64)  # not requiring grad: switched on
    arr = a._data
    r = minimize(lambda a, b: ((a + b * x - y) ** 2).mean(), [a, b], lr=0.1, tol=1e-6)
    assert r.converged and r.params[0] is a and r.params[1] is b and a._data is arr
    assert a.item() == pytest.approx(1.0, abs=1e-4) and b.item() == pytest.approx(2.0, abs=1e-4)
    assert r.path.shape == (r.steps + 1, 2) and r.path[0].tolist() == [0.0, 0.0]
    assert r.path[-1].tolist() == [a.item(), b.item()]
    assert a.grad is None and b.grad is None


def test_vector_parameter_keeps_its_shape_in_the_path():
    target = nabla.tensor([[1.0, -2.0], [0.5, 4.0]], dtype=nabla.float64)
    r = minimize(lambda w: ((w - target) ** 2).sum(), np.zeros((2, 2)), lr=0.25, tol=1e-8)
    assert r.converged and r.path.shape == (r.steps + 1, 2, 2)
    np.testing.assert_allclose(r.params._data, target._data, atol=1e-7)


def test_every_element_must_be_below_tol():
    # One coordinate converges in a step, the other slowly: descent goes on for the slow one.
    r = minimize(lambda a, b: (a - 1) ** 2 + 0.01 * (b - 1) ** 2, [0.0, 0.0], lr=0.5, tol=1e-3)
    assert r.path[1][0] == 1.0 and r.steps > 100 and r.converged


def test_unused_parameter_has_zero_derivative():
    r = minimize(lambda a, b: (a - 2) ** 2, [0.0, 5.0], lr=0.1)
    assert r.converged and np.all(r.path[:, 1] == 5.0)


def test_divergence_stops_without_converging():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = minimize(lambda w: (w - 3) ** 2, 0.0, lr=10.0, max_steps=1000)
    assert not r.converged and r.steps < 1000
    assert len(r.path) == len(r.costs) == r.steps + 1


def test_bad_arguments_raise():
    f = lambda w: (w - 3) ** 2  # noqa: E731
    with pytest.raises(ValueError, match="Invalid learning rate"):
        minimize(f, 0.0, lr=-0.1)
    with pytest.raises(ValueError, match="tol must be positive"):
        minimize(f, 0.0, lr=0.1, tol=0)
    with pytest.raises(ValueError, match="max_steps"):
        minimize(f, 0.0, lr=0.1, max_steps=-1)
    with pytest.raises(ValueError, match="decay factor"):
        minimize(f, 0.0, lr=0.1, schedule=1.5)
    with pytest.raises(TypeError, match="schedule must be"):
        minimize(f, 0.0, lr=0.1, schedule="cosine")
    with pytest.raises(ValueError, match="empty parameter list"):
        minimize(f, [], lr=0.1)
    w = nabla.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="same tensor twice"):
        minimize(lambda a, b: a * b, [w, w], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        minimize(f, w * 2, lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        minimize(f, nabla.tensor(1), lr=0.1)
    with pytest.raises(ValueError, match="single number"):
        minimize(lambda w: w * 2, np.zeros(3), lr=0.1)
    with pytest.raises(TypeError, match="must return a nabla Tensor"):
        minimize(lambda w: 3.0, 0.0, lr=0.1)
