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
import weakref

import numpy as np
import pytest

import nabla
from nabla.autograd import Function
from nabla.tensor import ShapeError

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
    expected = 2.0 * np.prod([x._data for x in xs], axis=0)
    np.testing.assert_allclose(y._data, expected)
    assert y.requires_grad and y.grad_fn.needs_input_grad == (True,) * n
    assert y.grad_fn.next_functions == tuple((x, 0) for x in xs)
    y.sum().backward()
    for i, x in enumerate(xs):
        others = np.prod([z._data for j, z in enumerate(xs) if j != i], axis=0) if n > 1 else 1
        np.testing.assert_allclose(x.grad._data, 2.0 * others * np.ones((3, 4)))


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
        np.testing.assert_array_equal(t._data, recorded._data)


def test_apply_with_constants_after_the_inputs():
    (x,) = _leaves(1)
    y = ScaleBy.apply(x, 3.0)
    np.testing.assert_allclose(y._data, 3.0 * x._data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, np.full((3, 4), 3.0))


def test_mixed_inputs_send_gradients_only_where_needed():
    a, b = _leaves(2)
    c = nabla.tensor(np.full((3, 4), 2.0))  # a constant between them
    y = Affine.apply(a, c, b)
    assert y.grad_fn.needs_input_grad == (True, False, True)
    y.sum().backward()
    np.testing.assert_allclose(a.grad._data, 2.0 * b._data)
    np.testing.assert_allclose(b.grad._data, 2.0 * a._data)
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
    assert a.grad._data is not b.grad._data
    a.grad._data[0, 0] = 99.0
    assert b.grad._data[0, 0] == 1.0


class Handout(Function):
    """y = 2x; the gradient it returns is remembered (weakly) to see who ends up with it."""

    last = None

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        out = g * 2
        Handout.last = weakref.ref(out)
        return out


def test_leaf_keeps_a_fresh_gradient_without_copying_it():
    # The engine's ownership test (refcounts) must recognise an array nobody else holds:
    # a needless copy of every gradient costs a memory pass per parameter per step.
    (a,) = _leaves(1)
    Handout.apply(a).sum().backward()
    assert a.grad._data is Handout.last()
    (b,) = _leaves(1)
    y = Handout.apply(b)
    y.sum().backward(retain_graph=True)  # still nobody else's: kept as is
    assert b.grad._data is Handout.last()


def test_gradient_given_by_the_caller_is_never_aliased():
    (a,) = _leaves(1)
    g = np.ones((3, 4))
    (a * 1).backward(g)
    a.grad._data += 1  # accumulating into .grad must not change the caller's array
    np.testing.assert_array_equal(g, np.ones((3, 4)))


# ------------------------------------------------------------------------ ops
def test_sigmoid_matches_the_textbook_formula_everywhere():
    x = np.array([-1000.0, -104.0, -90.0, -88.0, -30.0, -1.0, 0.0, 1e-8, 2.0, 30.0, 90.0, 1e4])
    for dt in (np.float32, np.float64):
        a = nabla.tensor(x.astype(dt), requires_grad=True)
        y = a.sigmoid()
        with np.errstate(over="ignore"):
            ref = 1 / (1 + np.exp(-x))
        np.testing.assert_allclose(y._data, ref.astype(dt), rtol=2e-7 if dt == np.float32
                                   else 1e-15, atol=1e-38)
        y.sum().backward()
        # float32 rounds sigmoid(30) to 1, so its slope is 0 there, as in PyTorch
        np.testing.assert_allclose(a.grad._data, (ref * (1 - ref)).astype(dt), rtol=1e-5,
                                   atol=1e-12 if dt == np.float32 else 1e-300)
    assert nabla.tensor(0.0).sigmoid().item() == 0.5  # 0-d input


def test_linear_bias_gradient_is_the_batch_sum():
    rng = np.random.default_rng(1)
    for shape in [(5, 3), (2, 4, 3), (0, 3)]:
        x = nabla.tensor(rng.standard_normal(shape), requires_grad=True)
        w = nabla.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        b = nabla.tensor(rng.standard_normal(2), requires_grad=True)
        g = rng.standard_normal(shape[:-1] + (2,))
        nabla.linear(x, w, b).backward(g)
        np.testing.assert_allclose(b.grad._data, g.reshape(-1, 2).sum(axis=0), atol=1e-12)
        np.testing.assert_allclose(w.grad._data, g.reshape(-1, 2).T @ x._data.reshape(-1, 3))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("shape", [(16, 300), (2, 8, 300)])
def test_linear_input_gradient_is_row_major(shape, fused):
    # A short, wide product runs with BLAS's roles swapped and comes out column-major;
    # the input gradient must not: the layers below reshape it and multiply it with
    # row-major arrays (the MNIST CNN's flatten -> dropout ran 12x slower on such a view).
    x = nabla.randn(*shape, requires_grad=True)
    h = x * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().flags.c_contiguous))
    net = nabla.nn.Sequential(nabla.nn.Linear(300, 40), nabla.nn.ReLU())
    net.fuse_activations = fused
    y = net(h)
    y.backward(nabla.ones(*y.shape))
    assert seen == [True]


# ------------------------------------------------- Sequential's fused Linear+activation
def _twin_mlps(act, bias, dtype):
    """The same Linear/act/Linear/act network twice: fused (the default) and not."""
    acts = {"relu": nabla.nn.ReLU, "tanh": nabla.nn.Tanh, "sigmoid": nabla.nn.Sigmoid}
    nets = []
    for fuse in (True, False):
        nabla.manual_seed(3)
        net = nabla.nn.Sequential(nabla.nn.Linear(6, 5, bias=bias), acts[act](),
                                  nabla.nn.Linear(5, 4, bias=bias), acts[act]())
        net.to(dtype)
        net.fuse_activations = fuse
        nets.append(net)
    return nets


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [nabla.float32, nabla.float64])
@pytest.mark.parametrize("shape", [(7, 6), (2, 3, 6), (6,)])
def test_fused_linear_activation_is_bitwise_the_two_ops(act, bias, dtype, shape):
    fused, plain = _twin_mlps(act, bias, dtype)
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal(shape) * 3  # wide enough to reach both sides of relu
    g = rng.standard_normal(shape[:-1] + (4,))
    outs, grads, names = [], [], []
    for net in (fused, plain):
        x = nabla.tensor(x0, dtype=dtype, requires_grad=True)
        out = net(x)
        out.backward(nabla.tensor(g, dtype=dtype))
        outs.append(out._data)
        names.append(out.grad_fn.next_functions[0][0].name())
        grads.append([x.grad._data] + [p.grad._data for p in net.parameters()])
    # Each net records what it should: the fused node, or the Linear then the activation.
    assert names[0] == "Linear" + act.capitalize() + "Backward"
    assert names[1] == "LinearBackward"
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[0].dtype == outs[1].dtype == x0.astype(dtype.name).dtype
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_fused_node_names_its_activation_and_gradchecks():
    fused, _ = _twin_mlps("sigmoid", True, nabla.float64)
    x = nabla.tensor(np.random.default_rng(5).standard_normal((3, 6)), requires_grad=True)
    assert fused(x).grad_fn.name() == "LinearSigmoidBackward"
    from nabla.ops import linalg
    w, b = fused[0].weight, fused[0].bias
    for op in (linalg.LinearRelu, linalg.LinearTanh, linalg.LinearSigmoid):
        assert nabla.gradcheck(lambda x, w, b, op=op: op.apply(x, w, b), (x, w, b))


@pytest.mark.parametrize("op", ["LinearRelu", "LinearTanh", "LinearSigmoid"])
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True),
                                   (True, False, False)])
def test_fused_linear_records_directly_the_node_apply_records(op, needs):
    from nabla.ops import linalg

    cls = getattr(linalg, op)
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s).astype(np.float32) * 2 for s in [(5, 4), (3, 4), (3,)]]
    g = rng.standard_normal((5, 3)).astype(np.float32)
    results = []
    for apply in (cls.apply, lambda *a: Function.apply.__func__(cls, *a)):
        x, w, b = (nabla.tensor(a, requires_grad=r) for a, r in zip(arrays, needs))
        out = apply(x, w, b)
        node = out.grad_fn
        assert node._seq > 0 and out._vc == [0] and out.requires_grad
        assert node.inputs[0] is x and node.inputs[1] is w and node.inputs[2] is b
        assert node.needs_input_grad == needs
        saved = [a is t for a, t in zip(node.saved_tensors, (x._data, w._data, out._data))]
        checks = [(vc[0], version, a.shape) for vc, version, a in node._checks]
        out.backward(nabla.tensor(g))
        results.append((out._data, [None if t.grad is None else t.grad._data for t in (x, w, b)],
                        saved, checks))
    (o1, g1, s1, c1), (o2, g2, s2, c2) = results
    np.testing.assert_array_equal(o1, o2)
    for a, b in zip(g1, g2):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert s1 == s2 == [True, True, True] and c1 == c2


def test_fused_linear_direct_record_still_catches_in_place_changes():
    from nabla.ops import linalg

    x = nabla.ones(2, 3, requires_grad=True)
    w, b = nabla.ones(4, 3, requires_grad=True), nabla.zeros(4, requires_grad=True)
    out = linalg.LinearSigmoid.apply(x, w, b)
    with nabla.no_grad():
        w.mul_(2)  # as an optimizer step between forward and backward would
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()
    out = linalg.LinearRelu.apply(x, nabla.ones(4, 3), nabla.zeros(4))
    out2 = out * 1
    with nabla.no_grad():
        out.add_(1)  # the activation's output, which backward needs
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out2.sum().backward()


def test_fused_linear_other_calls_take_the_general_path():
    from nabla.ops import linalg

    x, w = nabla.ones(2, 3, requires_grad=True), nabla.ones(4, 3)
    assert linalg.LinearTanh.apply(x, w).grad_fn.needs_input_grad == (True, False)
    with nabla.no_grad():
        assert linalg.LinearTanh.apply(x, w, nabla.zeros(4)).grad_fn is None
    assert linalg.LinearTanh.apply(nabla.ones(2, 3), w, nabla.zeros(4)).grad_fn is None
    out = linalg.LinearTanh.apply(x, w, np.zeros(4, np.float32))  # a constant bias
    assert out.grad_fn.needs_input_grad == (True, False)


@pytest.mark.parametrize("pool", [
    lambda: nabla.nn.MaxPool2d(2), lambda: nabla.nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
    lambda: nabla.nn.MaxPool2d(2, return_indices=True)])
def test_relu_then_max_pool_runs_reordered_with_the_same_bits(pool):
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((3, 2, 7, 7)).astype(np.float32)
    x0[0, :, :4, :4] = -1.0  # windows with no positive value: no gradient at all
    x0[1, :, :2, :2] = 0.5  # ties: the first one wins in both orders
    g = None
    outs, grads, names = [], [], []
    for fuse in (False, True):
        net = nabla.nn.Sequential(nabla.nn.ReLU(), pool())
        net.fuse_activations = fuse
        x = nabla.tensor(x0, requires_grad=True)
        out = net(x)
        if isinstance(out, tuple):  # return_indices: not reordered (relu of a tuple)
            out = out[0]
        if g is None:
            g = nabla.tensor(rng.standard_normal(out.shape).astype(np.float32))
        out.backward(g)
        outs.append(out._data)
        names.append(out.grad_fn.name())
        grads.append(x.grad._data)
    reordered = not pool().return_indices
    assert names == (["MaxPool2dBackward", "ReluBackward"] if reordered
                     else ["MaxPool2dBackward"] * 2)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(grads[0], grads[1])
    assert np.count_nonzero(grads[0]) > 0 and not grads[0][0, :, :2, :2].any()


CONV_POOL_GRID = [
    # conv (stride, padding, dilation, groups), pool (kernel, stride, padding, dilation, ceil)
    ((1, 2, 1, 1), (2, None, 0, 1, False)),
    ((1, 0, 1, 2), (3, 2, 1, 1, True)),
    ((2, 1, 2, 1), (2, 1, 0, 2, False)),
    ((1, 1, 1, 1), (1, None, 0, 1, False)),
    ((1, 1, 1, 2), ((2, 3), (2, 1), (1, 0), 1, True)),
]


@pytest.mark.parametrize("conv,pool", CONV_POOL_GRID)
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("batch,dtype", [(20, np.float32), (3, np.float64)])
def test_conv_then_max_pool_fused_matches_the_two_layers(conv, pool, relu, batch, dtype,
                                                         monkeypatch):
    # Two threads even on a one-core runner, and parts however small, so that batch 20
    # runs in two parts.
    from nabla.ops import conv as conv_ops

    monkeypatch.setattr(nabla.threads, "_setting", [2])
    monkeypatch.setattr(conv_ops, "_MIN_PART_MACS", 0)
    (cs, cp, cd, groups), (pk, ps, pp, pd, ceil) = conv, pool
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((batch, 4, 11, 10)).astype(dtype)
    x0[0, 0, 3, 3] = np.nan  # NaN wins a window, as in the plain pooling
    results, names = [], []
    for fuse in (True, False):
        nabla.manual_seed(2)
        layers = [nabla.nn.Conv2d(4, 6, 3, cs, cp, cd, groups)]
        layers += [nabla.nn.ReLU()] if relu else []
        layers += [nabla.nn.MaxPool2d(pk, ps, pp, pd, ceil_mode=ceil)]
        net = nabla.nn.Sequential(*layers).to(nabla.float64 if dtype == np.float64
                                              else nabla.float32)
        net.fuse_activations = fuse
        x = nabla.tensor(x0, requires_grad=True)
        out = net(x)
        g = np.nan_to_num(np.sin(np.arange(out.numel(), dtype=dtype))).reshape(out.shape)
        out.backward(nabla.tensor(g))
        names.append(out.grad_fn.name())
        results.append([out._data, x.grad._data, net[0].weight.grad._data, net[0].bias.grad._data])
    assert names[0] == "Conv2dMaxPool2dBackward"
    (o1, gx1, gw1, gb1), (o2, gx2, gw2, gb2) = results
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(gx1, gx2)
    # The weight and bias gradients add the same terms, per thread part first.
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gw1, gw2, rtol=tol, atol=tol)
    np.testing.assert_allclose(gb1, gb2, rtol=tol, atol=tol)
    assert np.isnan(o1).any() and np.isfinite(gw1).any()


def test_conv_then_max_pool_fused_with_frozen_weights_and_no_input_grad():
    nabla.manual_seed(3)
    net = nabla.nn.Sequential(nabla.nn.Conv2d(2, 3, 3), nabla.nn.MaxPool2d(2))
    net[0].weight.requires_grad_(False)
    x = nabla.randn(20, 2, 8, 8, requires_grad=True)
    out = net(x)
    assert out.grad_fn.name() == "Conv2dMaxPool2dBackward"
    out.sum().backward()
    assert net[0].weight.grad is None and net[0].bias.grad is not None
    net.fuse_activations = False
    x2 = nabla.tensor(x._data, requires_grad=True)
    net(x2).sum().backward()
    np.testing.assert_array_equal(x.grad._data, x2.grad._data)
    net[0].weight.requires_grad_(True)
    net[0].bias.requires_grad_(False)
    net.fuse_activations = True
    y = net(nabla.randn(20, 2, 8, 8))  # the input needs no gradient: no adjoint at all
    y.sum().backward()
    assert net[0].weight.grad is not None


def test_conv_max_pool_relu_catches_an_in_place_change_of_its_output():
    net = nabla.nn.Sequential(nabla.nn.Conv2d(1, 2, 3), nabla.nn.ReLU(), nabla.nn.MaxPool2d(2))
    out = net(nabla.randn(2, 1, 6, 6))
    assert out.grad_fn.name() == "Conv2dMaxPool2dBackward"
    with nabla.no_grad():
        out.mul_(-1)  # relu's mask (out > 0) would now be wrong
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()


def _stages_net(relus, bias=True, second=None):
    """Conv2d (ReLU) MaxPool2d, three times; ``second`` replaces the second Conv2d."""
    nn = nabla.nn
    convs = [nn.Conv2d(3, 4, 3, padding=1, bias=bias),
             second or nn.Conv2d(4, 5, 3, bias=bias, groups=1),
             nn.Conv2d(5, 2, (2, 1), padding=(1, 0), bias=bias)]
    pools = [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1, ceil_mode=True), nn.MaxPool2d((1, 2))]
    layers = []
    for conv, relu, pool in zip(convs, relus, pools):
        layers += [conv] + ([nn.ReLU()] if relu else []) + [pool]
    return nn.Sequential(*layers)


def _nodes(out):
    """The names of the nodes from ``out`` back to the input, first input first."""
    names, node = [], out.grad_fn
    while node is not None and hasattr(node, "next_functions"):
        names.append(node.name())
        node = node.next_functions[0][0]
    return names


def _run_both(make, x0, dtype=np.float32):
    """``make()``'s net fused and not: (node names, [out, x grad, param grads...])."""
    results = []
    for fuse in (True, False):
        nabla.manual_seed(5)
        net = make().to(nabla.float64 if dtype == np.float64 else nabla.float32)
        net.fuse_activations = fuse
        x = nabla.tensor(x0.astype(dtype), requires_grad=True)
        out = net(x)
        g = np.cos(np.arange(out.numel(), dtype=dtype)).reshape(out.shape)
        out.backward(nabla.tensor(g))
        grads = [p.grad._data if p.grad is not None else None for p in net.parameters()]
        results.append((_nodes(out), [out._data, x.grad._data] + grads))
    return results


@pytest.mark.parametrize("relus", [(True, True, True), (False, True, False)])
@pytest.mark.parametrize("bias,dtype", [(True, np.float32), (False, np.float64)])
def test_conv_pool_stages_in_a_row_run_as_one_node(relus, bias, dtype, monkeypatch):
    from nabla.ops import conv as conv_ops

    monkeypatch.setattr(nabla.threads, "_setting", [2])  # two parts even on one core
    monkeypatch.setattr(conv_ops, "_MIN_PART_MACS", 0)
    x0 = np.random.default_rng(8).standard_normal((20, 3, 14, 13))
    (names, fused), (plain_names, plain) = _run_both(lambda: _stages_net(relus, bias), x0,
                                                     dtype)
    assert names == ["Conv2dMaxPool2dBackward"]
    assert "Conv2dMaxPool2dBackward" not in plain_names
    np.testing.assert_array_equal(fused[0], plain[0])  # values and the input gradient:
    np.testing.assert_array_equal(fused[1], plain[1])  # bit for bit
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(fused[2:], plain[2:]):  # the same terms, summed per part first
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert all(np.isfinite(a).all() and np.count_nonzero(a) for a in fused)


def test_conv_pool_stages_stop_where_a_stage_cannot_join():
    nn = nabla.nn
    x0 = np.random.default_rng(9).standard_normal((4, 3, 14, 13))
    relus = (True, True, True)
    # A second convolution without the bias the others have: a run stops before it, and
    # again after it.
    (names, fused), (_, plain) = _run_both(
        lambda: _stages_net(relus, second=nn.Conv2d(4, 5, 3, bias=False)), x0)
    assert names == ["Conv2dMaxPool2dBackward"] * 3
    # One that pads by reflection: it runs alone, with its pooling reordered after relu.
    (names2, fused2), (_, plain2) = _run_both(
        lambda: _stages_net(relus, second=nn.Conv2d(4, 5, 3, padding=1,
                                                    padding_mode="reflect")), x0)
    assert names2 == ["Conv2dMaxPool2dBackward", "ReluBackward", "MaxPool2dBackward",
                      "Conv2dBackward", "IndexPad2dBackward", "Conv2dMaxPool2dBackward"]
    for a, b in zip(fused + fused2, plain + plain2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # One whose channels do not fit: the same error as without fusion, from its conv2d.
    errors = []
    for fuse in (True, False):
        net = _stages_net(relus, second=nn.Conv2d(6, 5, 3))
        net.fuse_activations = fuse
        with pytest.raises(nabla.ShapeError) as err:
            net(nabla.tensor(x0.astype(np.float32)))
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "expected input[4, 4, 7, 6] to have 6 channels" in \
        errors[0]


def test_conv_pool_stages_with_frozen_stages_and_no_input_grad():
    x0 = np.random.default_rng(10).standard_normal((20, 3, 14, 13)).astype(np.float32)
    grads = []
    for fuse in (True, False):
        nabla.manual_seed(6)
        net = _stages_net((True, False, True))
        net.fuse_activations = fuse
        for p in list(net[0].parameters()) + [net[3].bias]:
            p.requires_grad_(False)  # the first stage frozen, the second one's bias too
        out = net(nabla.tensor(x0))  # the input takes no gradient
        out.sum().backward()
        grads.append([None if p.grad is None else p.grad._data for p in net.parameters()])
    assert [g is None for g in grads[0]] == [True, True, False, True, False, False]
    for a, b in zip(grads[0], grads[1]):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # inf * 0 in dW
def test_conv_pool_fused_routes_an_infinite_gradient_exactly():
    # The fused node learns that g is finite from its bias gradient's sums; an infinite
    # entry must send routing down the exact path (0 * inf would put NaN beside it).
    x0 = np.random.default_rng(15).standard_normal((4, 2, 8, 8)).astype(np.float32)
    results = []
    for fuse in (True, False):
        nabla.manual_seed(4)
        net = nabla.nn.Sequential(nabla.nn.Conv2d(2, 3, 3, padding=1), nabla.nn.MaxPool2d(2))
        net.fuse_activations = fuse
        x = nabla.tensor(x0, requires_grad=True)
        out = net(x)
        assert (out.grad_fn.name() == "Conv2dMaxPool2dBackward") == fuse
        g = np.ones(out.shape, np.float32)
        g[1, 2, 3, 1] = np.inf
        out.backward(nabla.tensor(g))
        results.append((x.grad._data, net[0].bias.grad._data))
    (gx, gb), (want_gx, want_gb) = results
    assert np.isinf(gx).any() and not np.isnan(gx[0]).any()
    np.testing.assert_array_equal(gx, want_gx)
    np.testing.assert_array_equal(gb, want_gb)


def test_conv2d_max_pool2d_takes_unbatched_input_of_any_kind():
    from nabla.ops.conv import conv2d
    from nabla.ops.fused import conv2d_max_pool2d
    from nabla.ops.pool import max_pool2d

    x = np.random.default_rng(11).standard_normal((1, 6, 6)).astype(np.float32)
    w = nabla.tensor(np.random.default_rng(12).standard_normal((2, 1, 3, 3)),
                     dtype=nabla.float32)
    want = max_pool2d(conv2d(nabla.tensor(x), w, padding=1), 2).relu()
    for given in (x.tolist(), nabla.tensor(x)):
        got = conv2d_max_pool2d(given, w, padding=1, relu=True)
        assert got.shape == (2, 3, 3)
        np.testing.assert_array_equal(got._data, want._data)


def test_sequential_does_not_fuse_subclasses_or_wrapped_forwards():
    class MyReLU(nabla.nn.ReLU):
        def forward(self, input):
            return input.relu() * 2

    net = nabla.nn.Sequential(nabla.nn.Linear(3, 2), MyReLU())
    x = nabla.ones(1, 3)
    assert net(x).grad_fn.name() == "MulBackward"
    net = nabla.nn.Sequential(nabla.nn.Linear(3, 2), nabla.nn.Tanh())
    net[1].__dict__["forward"] = lambda input: input.sigmoid()  # as draw_model wraps
    assert net(x).grad_fn.name() == "SigmoidBackward"
    net = nabla.nn.Sequential(nabla.nn.Linear(3, 2), nabla.nn.Tanh())
    assert net(x).grad_fn.name() == "LinearTanhBackward"

# ---------------------------------------------------------------------- losses
def _composite_ce(x, y, reduction):
    """Cross-entropy from smaller ops: log_softmax, pick, reduce."""
    logp = x.log_softmax(1)
    picked = logp[nabla.arange(len(y)), y]
    return -(picked.mean() if reduction == "mean" else picked.sum())


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n,c", [(64, 10), (5, 3), (40, 100), (1, 1)])
def test_fused_cross_entropy_matches_the_composite(n, c, reduction):
    rng = np.random.default_rng(n + c)
    for scale in (1.0, 1e3):  # large logits: the shift by the row max matters
        data = (rng.standard_normal((n, c)) * scale).astype(np.float32)
        y = nabla.tensor(rng.integers(0, c, n))
        a = nabla.tensor(data, requires_grad=True)
        b = nabla.tensor(data.astype(np.float64), requires_grad=True)
        la = nabla.nn.functional.cross_entropy(a, y, reduction=reduction)
        lb = _composite_ce(b, y, reduction)
        la.backward()
        lb.backward()
        np.testing.assert_allclose(la.item(), lb.item(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(a.grad._data, b.grad._data, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_cross_entropy_op_paths_agree(reduction):
    # ignore_index=None takes the op's fast path; an int (that no target equals) the
    # general one; both must give the same loss and gradient.
    from nabla.ops.loss import ClassNLL

    rng = np.random.default_rng(6)
    data = rng.standard_normal((32, 7)).astype(np.float32)
    t = rng.integers(0, 7, 32)
    grads, losses = [], []
    for ignore in (None, -100):
        x = nabla.tensor(data, requires_grad=True)
        loss = ClassNLL.apply(x, t, None, ignore, 0.0, reduction, True)
        loss.backward()
        losses.append(loss.item())
        grads.append(x.grad._data)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)


def test_cross_entropy_checks_targets_on_the_fast_path_too():
    x = nabla.zeros(3, 4)
    for bad in ([0, 4, 1], [0, -1, 1]):
        with pytest.raises(IndexError, match="out of bounds"):
            nabla.nn.functional.cross_entropy(x, nabla.tensor(bad))
    # a non-negative ignore_index leaves the fast path and is honoured
    kept = nabla.nn.functional.cross_entropy(x, nabla.tensor([0, 3, 1]), ignore_index=3)
    np.testing.assert_allclose(kept.item(), np.log(4), rtol=1e-6)


def test_cross_entropy_falls_back_on_non_finite_logits():
    # A row of -inf but the target's entry, and an ignored target: the general path.
    x = np.array([[0.0, -np.inf, -np.inf], [1.0, 2.0, 3.0]], dtype=np.float32)
    a = nabla.tensor(x, requires_grad=True)
    loss = nabla.nn.functional.cross_entropy(a, nabla.tensor([0, 2]))
    ref = (0.0 + (np.log(np.exp([1.0, 2.0, 3.0]).sum()) - 3.0)) / 2
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-6)
    loss.backward()
    assert np.isfinite(a.grad._data).all()
    b = nabla.tensor(x[1:].repeat(3, 0), requires_grad=True)
    ignored = nabla.nn.functional.cross_entropy(b, nabla.tensor([2, -100, 0]))
    kept = nabla.nn.functional.cross_entropy(b[[0, 2]], nabla.tensor([2, 0]))
    np.testing.assert_allclose(ignored.item(), kept.item(), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_mse_matches_the_composite(reduction):
    rng = np.random.default_rng(3)
    a = nabla.tensor(rng.standard_normal((10, 7)), requires_grad=True)
    b = nabla.tensor(rng.standard_normal((10, 7)), requires_grad=True)
    a2 = nabla.tensor(a._data.copy(), requires_grad=True)
    b2 = nabla.tensor(b._data.copy(), requires_grad=True)
    fused = nabla.nn.functional.mse_loss(a, b, reduction=reduction)
    d = a2 - b2
    composite = (d * d).mean() if reduction == "mean" else (d * d).sum()
    fused.backward()
    composite.backward()
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad._data, a2.grad._data, rtol=1e-12)
    np.testing.assert_allclose(b.grad._data, b2.grad._data, rtol=1e-12)



def test_mse_module_inline_path_is_the_function():
    # MSELoss calls the node itself for two float tensors alike; everything else goes
    # through F.mse_loss, with its conversions, warnings and errors.
    rng = np.random.default_rng(8)
    F = nabla.nn.functional
    for reduction in ("mean", "sum", "none"):
        a = nabla.tensor(rng.standard_normal((4, 3)), dtype=nabla.float32, requires_grad=True)
        b = nabla.tensor(rng.standard_normal((4, 3)), dtype=nabla.float32)
        a2 = nabla.tensor(a._data.copy(), requires_grad=True)
        got = nabla.nn.MSELoss(reduction=reduction)(a, b)
        want = F.mse_loss(a2, b, reduction=reduction)
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_array_equal(got._data, want._data)
        np.testing.assert_array_equal(a.grad._data, a2.grad._data)
    crit = nabla.nn.MSELoss()
    x = nabla.tensor(rng.standard_normal((4, 3)))
    ints = nabla.tensor(rng.integers(0, 3, (4, 3)))
    np.testing.assert_allclose(crit(x, ints).item(), F.mse_loss(x, ints).item())
    with pytest.warns(UserWarning, match="target size"):
        crit(x, nabla.tensor(rng.standard_normal((4, 1))))
    crit.reduction = "avg"  # changed after construction: still refused
    with pytest.raises(ValueError, match="reduction"):
        crit(x, x)


# ------------------------------------------------------------------- optimizers
def test_plain_sgd_step_is_p_minus_lr_grad():
    rng = np.random.default_rng(4)
    params = [nabla.tensor(rng.standard_normal(s).astype(dt), requires_grad=True)
              for s, dt in [((3, 4), np.float32), ((4,), np.float64), ((2, 2), np.float32)]]
    expected = [p._data.copy() for p in params]
    opt = nabla.optim.SGD(params, lr=0.1)
    for step in range(3):
        for i, p in enumerate(params):
            if i == 2 and step == 1:
                p.grad = None  # a parameter without a gradient is left alone
                continue
            g = rng.standard_normal(p.shape).astype(p._data.dtype)
            p.grad = nabla.tensor(g)
            expected[i] = expected[i] - p._data.dtype.type(0.1) * g
        opt.step()
        for p, e in zip(params, expected):
            np.testing.assert_array_equal(p._data, e)
            assert p._data.dtype == e.dtype
    # a parameter given new data of another shape gets a scratch array of that shape
    params[0]._data = np.ones((5,), np.float32)
    params[0].grad = nabla.tensor(np.full(5, 2.0, np.float32))
    opt.step()
    np.testing.assert_allclose(params[0]._data, np.full(5, 0.8, np.float32))
    params[0].grad = nabla.tensor(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="does not match"):
        opt.step()


def test_plain_sgd_step_equals_the_general_path():
    # lr * g through the plain loop and through the momentum=0 general loop
    # (weight_decay=0.0 and maximize=False but spelled so that the general loop runs).
    rng = np.random.default_rng(5)
    a = nabla.tensor(rng.standard_normal((6, 3)).astype(np.float32), requires_grad=True)
    b = nabla.tensor(a._data.copy(), requires_grad=True)
    fast = nabla.optim.SGD([a], lr=0.05)
    general = nabla.optim.SGD([b], lr=0.05, weight_decay=1e-300)  # wd * p underflows to 0
    for _ in range(3):
        g = rng.standard_normal((6, 3)).astype(np.float32)
        a.grad, b.grad = nabla.tensor(g), nabla.tensor(g.copy())
        fast.step()
        general.step()
    np.testing.assert_array_equal(a._data, b._data)


def test_gradients_into_kept_buffers_equal_fresh_ones():
    # zero_grad(set_to_none=True) lets backward hand each leaf a fresh array;
    # set_to_none=False keeps the buffers and backward adds into them. Same numbers.
    rng = np.random.default_rng(7)
    x = nabla.tensor(rng.standard_normal((16, 8)).astype(np.float32))
    y = nabla.tensor(rng.integers(0, 3, 16))
    nets, opts = [], []
    for _ in range(2):
        nabla.manual_seed(0)
        net = nabla.nn.Sequential(nabla.nn.Linear(8, 6), nabla.nn.ReLU(), nabla.nn.Linear(6, 3))
        nets.append(net)
        opts.append(nabla.optim.SGD(net.parameters(), lr=0.1))
    buffers = None
    for _ in range(3):
        for k, (net, opt) in enumerate(zip(nets, opts)):
            opt.zero_grad(set_to_none=(k == 0))
            nabla.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        kept = [p.grad._data for p in nets[1].parameters()]
        if buffers is not None:
            assert all(a is b for a, b in zip(kept, buffers))  # the same arrays each step
        buffers = kept
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_array_equal(a._data, b._data)
        np.testing.assert_array_equal(a.grad._data, b.grad._data)


# -------------------------------------------------------------------- allocator
def _tune_in_child(env):
    code = "from nabla import backend; print(backend.tune_allocator())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return out.stdout.strip()


def test_tune_allocator_defers_to_the_environment():
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")}
    assert _tune_in_child({"NABLA_TUNE_MALLOC": "0"}) == "False"
    assert _tune_in_child({"MALLOC_TRIM_THRESHOLD_": "1000000"}) == "False"
    expected = "True" if sys.platform.startswith("linux") else "False"
    out = subprocess.run([sys.executable, "-c", "from nabla import backend; "
                          "print(backend.tune_allocator(), backend.tune_allocator())"],
                         capture_output=True, text=True, env=clean, check=True)
    # glibc accepts the settings (musl and others have no such knob: False)
    assert out.stdout.split()[0] in (expected, "False")
    assert out.stdout.split()[0] == out.stdout.split()[1]  # once decided, it stays



def test_the_first_backward_tunes_the_allocator_and_import_does_not():
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES",
                          "NABLA_TUNE_MALLOC")}
    code = ("import nabla; from nabla import backend; before = backend._allocator_tuned[0]; "
            "x = nabla.ones(3, requires_grad=True); (x * 2).sum().backward(); "
            "after = backend._allocator_tuned[0]; "
            "y = nabla.ones(3, requires_grad=True); (y * 2).sum().backward(); "
            "print(before, after, backend._allocator_tuned[0])")

    def child(env):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, check=True).stdout.split()

    before, after, again = child(clean)
    assert before == "None"  # import alone changes nothing process-wide
    # Tried at the first backward (True where glibc takes the settings), and only then.
    assert after in ("True", "False") and again == after
    if sys.platform.startswith("linux") and after == "False":
        pytest.skip("this C library has no mallopt")
    assert child({**clean, "NABLA_TUNE_MALLOC": "0"}) == ["None", "False", "False"]
    assert child({**clean, "MALLOC_TRIM_THRESHOLD_": "1000000"}) == ["None", "False", "False"]


# ------------------------------------------- p.data.add_(p.grad, alpha=-lr) through axpy
@pytest.mark.parametrize("method,alpha", [("add_", -20.0), ("sub_", 0.5), ("add_", 3)])
def test_add_with_alpha_on_a_big_tensor_is_torchs_fused_update(method, alpha):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(31)
    d0 = rng.standard_normal((300, 250)).astype(np.float32)  # 75,000 elements: BLAS
    g0 = rng.standard_normal((300, 250)).astype(np.float32)
    results = []
    for lib in (nabla, torch):
        p = lib.nn.Parameter(lib.from_numpy(d0.copy()))
        p.grad = lib.from_numpy(g0.copy())
        getattr(p.data, method)(p.grad, alpha=alpha)  # the word language model's update
        t = lib.from_numpy(d0.copy())
        getattr(t, method)(lib.from_numpy(g0), alpha=alpha)
        results.append((p.detach().numpy(), t.numpy(), t._version))
    # One rounding, as PyTorch's fused add (NumPy's two passes differ in a quarter of the
    # elements here). OpenBLAS's Haswell axpy rounds twice in the few elements past each
    # thread's last full vector, so there only: within that one extra rounding.
    bound = np.finfo(np.float32).eps * (abs(alpha) * np.abs(g0) + np.abs(results[1][0]))
    for k in (0, 1):
        a, b = results[0][k], results[1][k]
        assert (np.abs(a - b) <= bound).all() and (a != b).mean() < 0.001
    assert results[0][2] == results[1][2] == 1  # an in-place change, counted


def test_add_with_alpha_keeps_the_general_rules_where_blas_does_not_apply():
    rng = np.random.default_rng(32)
    big = rng.standard_normal((300, 250)).astype(np.float32)
    # Broadcasting, another dtype, a transposed view: NumPy's passes, the same values.
    t = nabla.from_numpy(big.copy())
    t.add_(nabla.from_numpy(np.ones(250, np.float32)), alpha=2.0)
    np.testing.assert_allclose(t.numpy(), big + 2.0)
    t = nabla.from_numpy(big.copy())
    t.add_(nabla.from_numpy(big.astype(np.float64)), alpha=-1.0)
    np.testing.assert_allclose(t.numpy(), 0.0, atol=1e-6)
    t = nabla.from_numpy(big.T.copy())
    v = t.T  # a transposed view of t: not C-contiguous
    v.add_(nabla.from_numpy(big), alpha=-1.0)
    np.testing.assert_allclose(t.numpy(), 0.0, atol=1e-6)
    # A leaf that requires grad cannot change in place while a graph is recorded.
    w = nabla.nn.Parameter(nabla.from_numpy(big.copy()))
    with pytest.raises(RuntimeError):
        w.add_(nabla.from_numpy(big), alpha=-0.1)
    with nabla.no_grad():  # ... but can under no_grad, as in a hand-written optimizer
        w.add_(nabla.from_numpy(big), alpha=-1.0)
    np.testing.assert_allclose(w.detach().numpy(), 0.0, atol=1e-6)
    # Recorded through autograd when the other side requires grad: a graph, not a write.
    x = nabla.from_numpy(big.copy())
    g = nabla.from_numpy(big.copy()).requires_grad_()
    x.add_(g, alpha=2.0)
    x.sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), 2.0)

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


def test_gemm_share_stubs_the_products_and_puts_numpy_back():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import gemm_share
    finally:
        sys.path.pop(0)
    import nabla.ops.conv as conv_ops

    stub = gemm_share._NoMatmul()
    out = np.full((2, 3), 7.0)
    assert stub.matmul(np.ones((2, 4)), np.ones((4, 3)), out=out) is out
    assert (out == 7.0).all()  # nothing was computed into it
    assert stub.matmul(np.ones((5, 2, 4)), np.ones((4, 3))).shape == (5, 2, 3)
    assert stub.exp is np.exp
    best = gemm_share.nabla_share("4", steps=1, rounds=1)
    assert set(best) == {"full", "no_matmul"}
    assert conv_ops.np is np  # the kernels compute again afterwards


def test_conv_pool_stage_checks_are_kept_per_configuration(monkeypatch):
    # A network repeats the stages' argument checks every step: they run once per
    # configuration (shapes, dtypes, constants), and a change of any of those checks
    # again, errors included.
    from nabla.ops import fused as conv_ops

    calls = []
    prepare = conv_ops._conv2d_prepare
    monkeypatch.setattr(conv_ops, "_conv2d_prepare",
                        lambda *a: calls.append(1) or prepare(*a))
    monkeypatch.setattr(conv_ops, "_RUNS_CHECKED", {})
    nabla.manual_seed(3)
    net = _stages_net((True, True, False))
    x = nabla.randn(4, 3, 14, 13)
    first = net(x)
    assert len(calls) == 3
    again = net(x)
    assert len(calls) == 3  # kept
    np.testing.assert_array_equal(first._data, again._data)
    net(nabla.randn(2, 3, 14, 13))  # another batch size: checked once more
    assert len(calls) == 6
    net[0].padding = (3, 3)  # a constant changed: checked, and the new output shape
    assert net(x).shape != first.shape and len(calls) > 6
    with pytest.raises(ShapeError):
        net(nabla.randn(4, 2, 14, 13))  # the wrong channel count raises every time
    with pytest.raises(ShapeError):
        net(nabla.randn(4, 2, 14, 13))


# ------------------------------------------------- products with the sides swapped
def test_short_wide_products_run_swapped_and_give_the_product():
    # Batch 10 through 20 -> 40 -> 20: the forward products (10x40, 10x20 results with
    # n >= 2m) and the input gradients run as (b.T @ a.T).T; the answer must not change.
    from nabla.ops.linalg import _product

    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((10, 20)), rng.standard_normal((20, 40))
    swapped = _product(a, b)
    assert swapped.flags.f_contiguous and not swapped.flags.c_contiguous  # the swap ran
    np.testing.assert_allclose(swapped, a @ b, rtol=1e-12, atol=1e-12)
    assert _product(b.T, a.T).flags.c_contiguous  # tall results go straight
    # A batch above 64 rows goes straight too, however wide the layer (a language
    # model's decoder): its row-wise passes after it (log_softmax) need rows.
    big = _product(rng.standard_normal((65, 20)), b)
    assert big.flags.c_contiguous
    assert nabla.nn.Linear(20, 300)(nabla.randn(100, 20))._data.flags.c_contiguous

    x0, g = rng.standard_normal((10, 20)), rng.standard_normal((10, 20))
    runs = []
    for fuse in (True, False):
        nabla.manual_seed(5)
        net = nabla.nn.Sequential(nabla.nn.Linear(20, 40), nabla.nn.Sigmoid(),
                                  nabla.nn.Linear(40, 20), nabla.nn.Sigmoid())
        net.fuse_activations = fuse
        x = nabla.tensor(x0, dtype=nabla.float32, requires_grad=True)
        out = net(x)
        out.backward(nabla.tensor(g, dtype=nabla.float32))
        runs.append([out._data, x.grad._data] + [p.grad._data for p in net.parameters()])
    for fused, plain in zip(*runs):  # fused or not, the same products: the same bits
        np.testing.assert_array_equal(fused, plain)
    # The same network in float64 NumPy, written out.
    w1, b1, w2, b2 = (p._data.astype(np.float64) for p in net.parameters())
    h = 1 / (1 + np.exp(-(x0 @ w1.T + b1)))
    y = 1 / (1 + np.exp(-(h @ w2.T + b2)))
    d2 = g * y * (1 - y)
    d1 = (d2 @ w2) * h * (1 - h)
    want = [y, d1 @ w1, d1.T @ x0, d1.sum(0), d2.T @ h, d2.sum(0)]
    for got, expected in zip(runs[0], want):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # Gradients land C-ordered, whatever the products' layout (SGD's passes need it).
    assert all(gr.flags.c_contiguous for gr in runs[0][1:])
