"""``Tensor.register_hook`` and ``register_post_accumulate_grad_hook`` against torch 2.13:
order of calls, arguments, replacement, removal, and hooks across retain_graph."""

from __future__ import annotations

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")


def run(program):
    """``program(lib, log)`` on both libraries; returns both logs (lists of tuples)."""
    logs = []
    for lib in (nabla, torch):
        log = []
        program(lib, log)
        logs.append([tuple(np.round(v, 10).tolist() if hasattr(v, "tolist") else v
                           for v in entry) for entry in log])
    return logs


def rec(log, name, ret=None):
    def hook(g):
        log.append((name, g.detach().numpy().copy()))
        return None if ret is None else ret(g)
    return hook


def test_order_arguments_and_replacement_on_leaves_and_non_leaves():
    def program(lib, log):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        x.register_hook(rec(log, "x1", lambda g: g * 2))
        x.register_hook(rec(log, "x2"))
        x.register_hook(rec(log, "x3", lambda g: g - 1))
        x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.numpy())))
        y = x * 3
        y.register_hook(rec(log, "y", lambda g: g + 1))
        (y * y + x).sum().backward()  # x is used twice: its hooks see the total once
        log.append(("grad", x.grad.numpy()))

    ours, theirs = run(program)
    assert ours == theirs and len(ours) == 6


def test_removal_and_retain_graph():
    def program(lib, log):
        x = lib.tensor([1.0, -1.0], dtype=lib.float64, requires_grad=True)
        y = x.exp()
        hx = x.register_hook(rec(log, "x", lambda g: g * 10))
        hy = y.register_hook(rec(log, "y"))
        p = x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.numpy())))
        z = (y * y).sum()
        z.backward(retain_graph=True)  # hooks fire on each backward
        hx.remove()
        z.backward(retain_graph=True)
        hy.remove()
        p.remove()
        z.backward()
        log.append(("grad", x.grad.numpy()))

    ours, theirs = run(program)
    assert ours == theirs and [e[0] for e in ours] == [
        "y", "x", "post", "y", "post", "grad"]


def test_retain_grad_sees_the_hooked_gradient():
    def program(lib, log):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        h = x.tanh()
        h.retain_grad()
        h.register_hook(lambda g: g * 0 + 5)
        (h * x).sum().backward()
        log.append(("h", h.grad.numpy()))
        log.append(("x", x.grad.numpy()))

    ours, theirs = run(program)
    assert ours == theirs


def test_post_accumulate_hooks_fire_per_parameter_as_a_reducer_needs():
    def program(lib, log):
        lib.manual_seed(0)
        a, b = lib.nn.Linear(3, 4), lib.nn.Linear(4, 2)
        names = {}
        for name, m in (("a", a), ("b", b)):
            for pname, p in m.named_parameters():
                names[p] = f"{name}.{pname}"
                p.register_post_accumulate_grad_hook(
                    lambda t: log.append((names[t], t.grad is not None)))
        for _ in range(2):
            b(a(lib.ones(5, 3)).relu()).sum().backward()

    ours, theirs = run(program)
    assert sorted(ours) == sorted(theirs) and len(ours) == 8
    # a layer's parameters come before the layer below it, as in torch's engine
    assert [n for n, _ in ours[:4]] and {n[0] for n, _ in ours[:2]} == {"b"}


def test_hook_errors_as_torch():
    for lib in (nabla, torch):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.ones(2).register_hook(lambda g: g)
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    x = nabla.ones(2, requires_grad=True)
    x.register_hook(lambda g: nabla.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        (x * 2).sum().backward()


def test_hooks_in_autograd_grad_and_without_hooks_nothing_changes():
    x = nabla.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.tolist()) or g * 3)
    (gx,) = nabla.autograd.grad((h * h).sum(), x)
    assert seen == [[4.0, 8.0]] and gx.tolist() == [24.0, 48.0]
    w = nabla.tensor([1.0], requires_grad=True)
    handle = w.register_hook(lambda g: g * 0)
    handle.remove()
    (w * 5).sum().backward()
    assert w.grad.tolist() == [5.0]
    assert not nabla.autograd._leaf_hooks.get(id(w))  # the leaf is off the hook path


def test_post_accumulate_hooks_fire_during_backward_as_each_gradient_completes():
    # What a data-parallel reducer needs: the last layer's hooks run before backward
    # has reached the layer below (seen by a hook on that layer's output), as in torch.
    torch = pytest.importorskip("torch")

    def run(lib):
        lib.manual_seed(0)
        first, last = lib.nn.Linear(3, 4), lib.nn.Linear(4, 2)
        seen = []
        for name, layer in (("first", first), ("last", last)):
            for p in layer.parameters():
                p.register_post_accumulate_grad_hook(lambda p, name=name: seen.append(name))
        x = lib.ones(5, 3)
        h = first(x).tanh()
        h.register_hook(lambda g: seen.append("h"))
        (last(h) * last(h)).sum().backward()  # the last layer's parameters used twice
        return seen

    ours, theirs = run(nabla), run(torch)
    assert theirs == ["last", "last", "h", "first", "first"]
    assert ours == theirs
