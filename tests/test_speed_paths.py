"""Guard rails for the speed work: every fast path gives what the plain way gives.

The hot paths of nabla (Function.apply's branches for one, two and more inputs, the
backward engine's inline leaf delivery, the fused losses, the optimizers' in-place
updates, reused gradient buffers) are written for speed rather than for reading. Each
test here runs a fast path next to a straightforward formulation of the same thing and
asks for the same numbers. No test here measures time. The last one runs the benchmark
suite in its quick mode, as a smoke test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nabla
from nabla.autograd import Function

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ Function.apply
class Affine(Function):
    """a * b + c with any number of tensor inputs and an optional constant."""

    @staticmethod
    def forward(ctx, *arrays, k=1.0):
        ctx.save_for_backward(*arrays)
        ctx.k = k
        out = arrays[0] * k
        for a in arrays[1:]:
            out = out * a
        return out

    @staticmethod
    def backward(ctx, g):
        arrays = ctx.saved_tensors
        grads = []
        for i in range(len(arrays)):
            others = ctx.k * g
            for j, a in enumerate(arrays):
                if j != i:
                    others = others * a
            grads.append(others if ctx.needs_input_grad[i] else None)
        return tuple(grads)


class ScaleBy(Function):
    """x * s for a trailing constant s: inputs followed by constants (the generic path)."""

    @staticmethod
    def forward(ctx, x, s):
        ctx.s = s
        return x * s

    @staticmethod
    def backward(ctx, g):
        return g * ctx.s


def _leaves(n, seed=0):
    rng = np.random.default_rng(seed)
    return [nabla.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_apply_branches_record_and_differentiate_alike(n):
    # apply() has its own code for one input, two inputs and the general case; each
    # must record the same graph and give the product rule's gradients.
    xs = _leaves(n)
    y = Affine.apply(*xs, k=2.0)
    expected = 2.0 * np.prod([x.data for x in xs], axis=0)
    np.testing.assert_allclose(y.data, expected)
    assert y.requires_grad and y.grad_fn.needs_input_grad == (True,) * n
    assert y.grad_fn.next_functions == tuple((x, 0) for x in xs)
    y.sum().backward()
    for i, x in enumerate(xs):
        others = np.prod([z.data for j, z in enumerate(xs) if j != i], axis=0) if n > 1 else 1
        np.testing.assert_allclose(x.grad.data, 2.0 * others * np.ones((3, 4)))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_apply_without_recording_gives_plain_tensors(n):
    xs = _leaves(n)
    recorded = Affine.apply(*xs)
    with nabla.no_grad():
        plain = Affine.apply(*xs)
    consts = [x.detach() for x in xs]
    plain2 = Affine.apply(*consts)
    for t in (plain, plain2):
        assert not t.requires_grad and t.grad_fn is None and t.is_leaf
        np.testing.assert_array_equal(t.data, recorded.data)


def test_apply_with_constants_after_the_inputs():
    (x,) = _leaves(1)
    y = ScaleBy.apply(x, 3.0)
    np.testing.assert_allclose(y.data, 3.0 * x.data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((3, 4), 3.0))


def test_mixed_inputs_send_gradients_only_where_needed():
    a, b = _leaves(2)
    c = nabla.tensor(np.full((3, 4), 2.0))  # a constant between them
    y = Affine.apply(a, c, b)
    assert y.grad_fn.needs_input_grad == (True, False, True)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.data, 2.0 * b.data)
    np.testing.assert_allclose(b.grad.data, 2.0 * a.data)
    assert c.grad is None


def test_saved_input_changed_in_place_is_still_detected_on_every_branch():
    for n in (1, 2, 3):
        xs = _leaves(n)
        h = [x * 1 for x in xs]
        y = Affine.apply(*h)
        with nabla.no_grad():
            h[-1].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            y.sum().backward()


def test_leaf_takes_fresh_gradients_but_never_aliases_one():
    # The engine lets a leaf keep a gradient array without copying it when nothing
    # else refers to it; an array handed to two leaves (Add's backward returns g, g)
    # must be copied for at least one of them.
    a, b = _leaves(2)
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    a.grad.data[0, 0] = 99.0
    assert b.grad.data[0, 0] == 1.0


def test_gradient_given_by_the_caller_is_never_aliased():
    (a,) = _leaves(1)
    g = np.ones((3, 4))
    (a * 1).backward(g)
    a.grad.data += 1  # accumulating into .grad must not change the caller's array
    np.testing.assert_array_equal(g, np.ones((3, 4)))


# ------------------------------------------------------------------ the smoke test
def test_benchmark_suite_quick_runs():
    pytest.importorskip("torch")
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "suite.py"), "--quick", "--quiet",
         "--cases", "1,2"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "| 1 |" in out.stdout and "| 2 |" in out.stdout
    assert "losses differ" not in out.stdout
