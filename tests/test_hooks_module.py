"""Module hooks against torch 2.13: each scenario runs on both libraries with the same
weights (float64) and the recorded calls, arguments and results are compared."""

import numpy as np
import pytest

import nabla
from nabla import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 4))
B = RNG.standard_normal(3)
X = RNG.standard_normal((5, 4))


def _np(t):
    if t is None:
        return None
    return t.detach().numpy().copy() if hasattr(t, "detach") else np.asarray(t).copy()


def _linear(L):
    fc = L.nn.Linear(4, 3).double()
    fc.load_state_dict({"weight": L.tensor(W), "bias": L.tensor(B)})
    return fc


def _same(a, b):
    """Recorded events of both runs agree (names, Nones, shapes, values)."""
    assert len(a) == len(b), (a, b)
    for ea, eb in zip(a, b):
        assert type(ea) is type(eb) or {type(ea), type(eb)} <= {tuple, list}, (ea, eb)
        if isinstance(ea, (tuple, list)):
            _same(ea, eb)
        elif isinstance(ea, np.ndarray):
            np.testing.assert_allclose(ea, eb, rtol=1e-12, atol=1e-12)
        else:
            assert ea == eb


def _both(fn):
    return fn(nabla), fn(torch)


def test_forward_pre_and_forward_hooks_order_args_and_replacement():
    def run(L):
        log = []
        fc = _linear(L)
        h1 = fc.register_forward_pre_hook(lambda m, a: log.append(("pre1", _np(a[0]))))
        fc.register_forward_pre_hook(lambda m, a: a[0] * 2)  # replaces the input
        fc.register_forward_pre_hook(lambda m, a: log.append(("pre0",)), prepend=True)
        fc.register_forward_pre_hook(
            lambda m, a, kw: log.append(("prekw", sorted(kw))) or ((a[0] + 1,), kw),
            with_kwargs=True)
        fc.register_forward_hook(lambda m, a, out: log.append(("fwd", _np(a[0]), _np(out))))
        fc.register_forward_hook(lambda m, a, out: out * 3)  # replaces the output
        h2 = fc.register_forward_hook(lambda m, a, out: log.append(("first",)), prepend=True)
        fc.register_forward_hook(lambda m, a, kw, out: log.append(("kw", _np(out))),
                                 with_kwargs=True)
        y = fc(L.tensor(X))
        log.append(("y", _np(y)))
        h1.remove()
        with h2:
            pass  # the context manager removes it
        h2.remove()  # twice is harmless
        log.append(("y2", _np(fc(L.tensor(X)))))
        return log

    _same(*_both(run))


def test_global_hooks_run_before_local_and_are_removable():
    def run(L):
        mm = L.nn.modules.module
        log = []
        seq = L.nn.Sequential(_linear(L), L.nn.ReLU())
        seq[1].register_forward_hook(lambda m, a, o: log.append(("local", type(m).__name__)))
        hs = [mm.register_module_forward_pre_hook(
                  lambda m, a: log.append(("gpre", type(m).__name__))),
              mm.register_module_forward_hook(
                  lambda m, a, o: log.append(("gfwd", type(m).__name__, _np(o))))]
        out = seq(L.tensor(X))
        for h in hs:
            h.remove()
        seq(L.tensor(X))
        log.append(_np(out))
        return log

    _same(*_both(run))


def test_always_call_hook_runs_when_forward_raises():
    def run(L):
        log = []

        class Boom(L.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        m = Boom()
        m.register_forward_hook(lambda mod, a, o: log.append(("always", o)), always_call=True)
        m.register_forward_hook(lambda mod, a, o: log.append(("never",)))
        with pytest.raises(ValueError, match="boom"):
            m(L.tensor(X))
        return log

    _same(*_both(run))


def test_pre_hook_with_kwargs_bad_return_is_refused():
    for L in (nabla, torch):
        fc = _linear(L)
        fc.register_forward_pre_hook(lambda m, a, kw: 5, with_kwargs=True)
        with pytest.raises(RuntimeError, match="new_args, new_kwargs"):
            fc(L.tensor(X))


def test_full_backward_hooks_arguments_replacement_and_order():
    def run(L):
        log = []
        fc = _linear(L)
        fc.register_full_backward_pre_hook(
            lambda m, go: log.append(("pre", [_np(g) for g in go])))
        fc.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
        fc.register_full_backward_hook(
            lambda m, gi, go: log.append(("bw", [_np(g) for g in gi], [_np(g) for g in go])))
        fc.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1,))
        fc.register_full_backward_hook(lambda m, gi, go: log.append(("first",)), prepend=True)
        x = L.tensor(X, requires_grad=True)
        loss = (fc(x) ** 2).sum()
        loss.backward(retain_graph=True)
        log.append(("x.grad", _np(x.grad), _np(fc.weight.grad)))
        loss.backward()  # the hooks fire again on the retained graph
        log.append(("x.grad2", _np(x.grad), _np(fc.weight.grad)))
        return log

    _same(*_both(run))


def test_full_backward_hook_when_input_needs_no_grad_and_several_inputs():
    def run(L):
        log = []

        class Two(L.nn.Module):
            def forward(self, a, k, b):
                return a * b, a + k

        fc = _linear(L)
        fc.register_full_backward_hook(
            lambda m, gi, go: log.append(("fc", [_np(g) for g in gi], [_np(g) for g in go])))
        two = Two()
        two.register_full_backward_hook(
            lambda m, gi, go: log.append(("two", [_np(g) for g in gi], [_np(g) for g in go])))
        b = L.tensor(X[:, :3], requires_grad=True)
        out1, out2 = two(fc(L.tensor(X)), 3.0, b)
        (out1.sum() * 2).backward()
        log.append(_np(b.grad))
        return log

    _same(*_both(run))


def test_global_backward_hooks():
    def run(L):
        mm = L.nn.modules.module
        log = []
        fc = _linear(L)
        hs = [mm.register_module_full_backward_pre_hook(
                  lambda m, go: log.append(("gpre", _np(go[0])))),
              mm.register_module_full_backward_hook(
                  lambda m, gi, go: log.append(("gbw", _np(gi[0]))))]
        fc.register_full_backward_hook(lambda m, gi, go: log.append(("local",)))
        x = L.tensor(X, requires_grad=True)
        fc(x).tanh().sum().backward()
        for h in hs:
            h.remove()
        fc(x).sum().backward()
        return log

    _same(*_both(run))


@pytest.mark.parametrize("act", ["ReLU", "Tanh", "Sigmoid"])
def test_hook_on_fused_activation_is_honoured(act):
    def run(L, hooked=True):
        log = []
        seq = L.nn.Sequential(_linear(L), getattr(L.nn, act)(), _linear(L).__class__(3, 2))
        seq[2].double()
        seq[2].load_state_dict({"weight": L.tensor(W[:2, :3]), "bias": L.tensor(B[:2])})
        if hooked:
            seq[1].register_forward_hook(lambda m, a, o: log.append(("act", _np(a[0]), _np(o))))
            seq[1].register_full_backward_hook(
                lambda m, gi, go: log.append(("actbw", _np(gi[0]), _np(go[0]))))
        x = L.tensor(X, requires_grad=True)
        seq(x).sum().backward()
        log += [_np(x.grad), _np(seq[0].weight.grad), _np(seq[0].bias.grad)]
        return log

    n, t = run(nabla), run(torch)
    _same(n, t)
    assert n[0][0] == "act" and len(n) == 5
    # Unhooked, nabla fuses (one LinearXBackward node) and gets the same gradients.
    _same(run(nabla, hooked=False), t[2:])


def _node_names(out):
    names, todo = [], [out.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or not hasattr(node, "next_functions"):
            continue
        names.append(node.name())
        todo += [f for f, _ in node.next_functions]
    return names


def test_fusion_stays_on_for_unhooked_layers_and_off_under_global_hooks():
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3), nn.ReLU())
    x = nabla.ones(2, 4, requires_grad=True)
    assert _node_names(seq(x)).count("LinearReluBackward") == 2
    with seq[3].register_forward_hook(lambda m, a, o: None):
        names = _node_names(seq(x))
    # the first pair, with no hook on it, is still one fused node; the hooked one is not
    assert names.count("LinearReluBackward") == 1, names
    with nn.modules.module.register_module_forward_hook(lambda m, a, o: None):
        names = _node_names(seq(x))
    assert "LinearReluBackward" not in names, names


def test_handles_ids_and_no_hook_state_left():
    import gc

    from nabla.nn import hooks

    gc.collect()
    fc = nn.Linear(2, 2)
    before = hooks._live[0]
    h1 = fc.register_forward_hook(lambda *a: None)
    h2 = fc.register_full_backward_hook(lambda *a: None)
    assert h2.id > h1.id and hooks._live[0] == before + 2
    h1.remove()
    h2.remove()
    assert hooks._live[0] == before
    fc2 = nn.Linear(2, 2)
    fc2.register_forward_hook(lambda *a: None)
    del fc2  # a forgotten hooked module gives its count back
    gc.collect()
    assert hooks._live[0] == before


def test_deepcopy_keeps_hooks_and_counts_them():
    import copy
    import gc

    from nabla.nn import hooks

    gc.collect()
    before = hooks._live[0]
    seen = []
    fc = nn.Linear(2, 2)
    fc.register_forward_hook(lambda m, a, o: seen.append(m))
    twin = copy.deepcopy(fc)
    assert hooks._live[0] == before + 2
    twin(nabla.ones(1, 2))
    assert seen == [twin]
    del fc, twin, seen[:]
    gc.collect()
    assert hooks._live[0] == before


def test_hook_on_pool_after_relu_sees_the_relu_output():
    x0 = RNG.standard_normal((1, 1, 4, 4))

    def run(L):
        log = []
        seq = L.nn.Sequential(L.nn.ReLU(), L.nn.MaxPool2d(2))
        seq[1].register_forward_pre_hook(lambda m, a: log.append(_np(a[0])))
        x = L.tensor(x0, requires_grad=True)
        seq(x).sum().backward()
        return log + [_np(x.grad)]

    _same(*_both(run))
