"""The autograd engine's rules: leaves, accumulation, grad modes, graph lifetime, errors,
``autograd.grad``, and the public ``gradcheck``. PyTorch's behaviour is the reference;
where it is installed the tests compare with it directly."""

from __future__ import annotations

import gc
import re
import weakref

import numpy as np
import pytest

import nabla
from nabla.autograd import Function

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def leaf(values, dtype=nabla.float64):
    return nabla.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------- leaves, flags
def test_leaf_and_non_leaf():
    a = leaf([1.0, 2.0])
    c = nabla.tensor([3.0, 4.0])
    b = a * c
    assert a.is_leaf and a.requires_grad and a.grad_fn is None
    assert not b.is_leaf and b.requires_grad and b.grad_fn is not None
    # a result of tensors that need no gradient is a leaf that needs none
    d = c * 2
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    # requires_grad spreads from any input
    assert (c + a).requires_grad and (a.sum() * c).requires_grad


def test_requires_grad_rules():
    a = nabla.tensor([1.0, 2.0])
    assert a.requires_grad_() is a and a.requires_grad
    a.requires_grad_(False)
    assert not a.requires_grad
    b = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        b.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        nabla.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        nabla.tensor([1, 2]).requires_grad_()


def test_non_leaf_has_no_grad_unless_retained():
    a = leaf([1.0, 2.0])
    b = a * 2
    c = a * 3
    c.retain_grad()
    assert c.retains_grad and not b.retains_grad
    ((b * b).sum() + (c * c).sum()).backward()
    assert b.grad is None
    np.testing.assert_allclose(c.grad._data, 2 * 3 * np.array([1.0, 2.0]))
    np.testing.assert_allclose(a.grad._data, 8 * np.array([1.0, 2.0]) + 18 * np.array([1.0, 2.0]))


def test_retain_grad_matches_torch():
    pytest.importorskip("torch")
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    res = []
    for lib in (nabla, torch):
        a = lib.tensor(x, requires_grad=True)
        h = (a @ a).tanh()
        h.retain_grad()
        m = h * a
        m.retain_grad()
        m.sum().backward()
        res.append([np.array(t.grad.tolist()) for t in (a, h, m)])
    for n, t in zip(*res):
        np.testing.assert_allclose(n, t, rtol=1e-12)


def test_retain_grad_on_leaf_is_a_no_op_and_needs_requires_grad():
    a = leaf([1.0])
    a.retain_grad()
    (a * 2).sum().backward()
    assert a.grad.item() == 2.0
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        nabla.tensor([1.0]).retain_grad()


# ------------------------------------------------------------------- accumulation
def test_gradients_accumulate_over_backward_calls():
    x = np.array([1.0, -2.0, 3.0])
    a = leaf(x)
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad._data, 2 * x)
    (a * a * a).sum().backward()
    np.testing.assert_allclose(a.grad._data, 2 * x + 3 * x**2)
    a.grad = None
    (a * 5).sum().backward()
    np.testing.assert_allclose(a.grad._data, [5.0, 5.0, 5.0])
    a.grad.zero_()
    (a * 5).sum().backward()
    np.testing.assert_allclose(a.grad._data, [5.0, 5.0, 5.0])


def test_a_tensor_used_twice_gets_both_contributions():
    a = leaf([1.0, 2.0])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad._data, [2.0, 2.0])
    b = leaf([1.0, 2.0])
    (b * b + b).sum().backward()
    np.testing.assert_array_equal(b.grad._data, [3.0, 5.0])


def test_leaf_gradients_never_alias():
    # Add hands the same array to both inputs, reshape/permute/expand/indexing hand
    # out views: every leaf must still get its own writable buffer.
    a, b = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    (a + b).sum().backward()
    a.grad += 1
    np.testing.assert_array_equal(b.grad._data, [1.0, 1.0])

    g = nabla.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=nabla.float64)
    p, q, r, s = (leaf(np.ones(4)) for _ in range(4))
    u, v = leaf(np.ones((2, 1))), leaf(np.ones((2, 2)))
    out = (p.reshape(2, 2) + q.reshape(2, 2).T + r.reshape(2, 2).clone() + s[:].reshape(2, 2)
           + u.expand(2, 2) + v)
    out.backward(g)
    grads = [t.grad._data for t in (p, q, r, s, u, v)]
    for i, x in enumerate(grads):
        assert x.flags.writeable and x.flags.c_contiguous
        assert not np.shares_memory(x, g._data), f"grad {i} aliases the given gradient"
        for j in range(i):
            assert not np.shares_memory(x, grads[j]), f"grads {j} and {i} alias"
    before = [x.copy() for x in grads]
    p.grad += 1  # the optimizer's kind of in-place update touches p.grad alone
    np.testing.assert_array_equal(g._data, [[1.0, 2.0], [3.0, 4.0]])
    for x, b in zip(grads[1:], before[1:]):
        np.testing.assert_array_equal(x, b)


def test_backward_with_gradient_on_a_leaf_does_not_alias_it():
    x = leaf([0.0, 0.0, 0.0])
    g = nabla.ones(3, dtype=nabla.float64)
    x.backward(g)
    x.backward(g)
    np.testing.assert_array_equal(x.grad._data, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(g._data, [1.0, 1.0, 1.0])


def test_retained_grad_and_leaf_grad_do_not_alias():
    x = leaf([1.0, 2.0])
    y = x.clone()
    y.retain_grad()
    (y * 3).sum().backward()
    y.grad += 100
    np.testing.assert_array_equal(x.grad._data, [3.0, 3.0])


def test_gradient_dtype_follows_the_leaf():
    x32 = nabla.tensor([1.0, 2.0], requires_grad=True)
    y64 = nabla.tensor([3.0, 4.0], dtype=nabla.float64)
    out = x32 * y64
    assert out.dtype == nabla.float64  # as in PyTorch
    out.sum().backward()
    assert x32.grad.dtype == nabla.float32
    np.testing.assert_array_equal(x32.grad._data, [3.0, 4.0])


# ------------------------------------------------------------ detach, grad modes
def test_detach_shares_memory_and_stops_gradients():
    a = leaf([1.0, 2.0])
    d = a.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d._data, a._data)
    (a * a.detach()).sum().backward()  # d(a * const)/da = const
    np.testing.assert_array_equal(a.grad._data, [1.0, 2.0])
    b = a * 2
    b.detach_()
    assert not b.requires_grad and b.grad_fn is None


def test_no_grad_context_and_decorator():
    a = leaf([1.0, 2.0])
    with nabla.no_grad():
        assert not nabla.is_grad_enabled()
        y = a * 2
        with nabla.enable_grad():
            assert nabla.is_grad_enabled()
            z = a * 2
        w = a * 2
    assert nabla.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and not w.requires_grad
    assert z.requires_grad and z.grad_fn is not None

    @nabla.no_grad()
    def double(x):
        return x * 2

    @nabla.enable_grad()
    def triple(x):
        return x * 3

    assert not double(a).requires_grad and nabla.is_grad_enabled()
    assert double.__name__ == "double"
    with nabla.no_grad():
        assert triple(a).requires_grad
        assert not nabla.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with nabla.no_grad():
            raise KeyError
    assert nabla.is_grad_enabled()

    @nabla.no_grad()
    def boom():
        raise ValueError

    with pytest.raises(ValueError):
        boom()
    assert nabla.is_grad_enabled()


def test_set_grad_enabled():
    a = leaf([1.0])
    with nabla.set_grad_enabled(False):
        assert not (a * 2).requires_grad
    assert nabla.is_grad_enabled()
    with nabla.set_grad_enabled(True):
        assert (a * 2).requires_grad

    @nabla.set_grad_enabled(False)
    def double(x):
        return x * 2

    assert nabla.is_grad_enabled()  # decorating must not switch recording off
    assert not double(a).requires_grad and nabla.is_grad_enabled()
    nabla.set_grad_enabled(False)  # a plain call sets the mode, as in PyTorch
    assert not nabla.is_grad_enabled()
    nabla.set_grad_enabled(True)
    assert nabla.is_grad_enabled()


def test_in_place_update_under_no_grad_like_an_optimizer():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with nabla.no_grad():
        w -= 0.5 * w.grad
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w._data, [0.0, 0.0])


# ---------------------------------------------------------------- grad_fn names
GRAD_FN_OPS = {
    "Add": lambda a: a + 1,
    "Sub": lambda a: a - 1,
    "Mul": lambda a: a * a,
    "Div": lambda a: a / 2,
    "Neg": lambda a: -a,
    "Sum": lambda a: a.sum(),
    "Mean": lambda a: a.mean(),
    "Exp": lambda a: a.exp(),
    "Log": lambda a: a.log(),
    "Sqrt": lambda a: a.sqrt(),
    "Tanh": lambda a: a.tanh(),
    "Sigmoid": lambda a: a.sigmoid(),
    "Relu": lambda a: a.relu(),
    "Abs": lambda a: a.abs(),
    "Sin": lambda a: a.sin(),
    "Cos": lambda a: a.cos(),
    "Permute": lambda a: a.permute(1, 0),
    "Expand": lambda a: a.expand(3, 2, 2),
    "Clone": lambda a: a.clone(),
}


@pytest.mark.parametrize("op", sorted(GRAD_FN_OPS))
def test_grad_fn_names(op):
    # PyTorch appends an overload number (MulBackward0); the stem is the same.
    a = leaf([[1.0, 2.0], [3.0, 4.0]])
    fn = GRAD_FN_OPS[op](a).grad_fn
    assert fn.name() == f"{op}Backward"
    assert repr(fn) == f"<{op}Backward>"
    if torch is not None:
        t = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        assert re.sub(r"\d+$", "", GRAD_FN_OPS[op](t).grad_fn.name()) == fn.name()


def test_next_functions_follow_the_graph():
    a, c = leaf([1.0]), nabla.tensor([2.0], dtype=nabla.float64)
    b = a * 2
    y = b * c
    assert y.grad_fn.next_functions == ((b.grad_fn, 0), (None, 0))
    assert b.grad_fn.next_functions[0][0] is a
    y.sum().backward()  # after backward the edges remain, the tensors are let go
    assert y.grad_fn.next_functions[0] == (b.grad_fn, 0)


# --------------------------------------------------------------- backward errors
def test_backward_with_gradient():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[0.5, -1.0], [2.0, 0.0]])
    a = leaf(x)
    (a * a).backward(gradient=nabla.tensor(g, dtype=nabla.float64))
    np.testing.assert_allclose(a.grad._data, 2 * x * g)
    b = leaf(x)
    (b * 3).backward(g)  # an array works too
    np.testing.assert_allclose(b.grad._data, 3 * g)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2, 2\)"):
        (b * 3).backward(nabla.ones(3))


def test_implicit_gradient_only_for_one_element_outputs():
    a = leaf([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match="implicitly created only for one-element"):
        (a * 2).backward()
    (a[:, :1] * 2).backward()  # shape (1, 1): one element, so the gradient is 1
    np.testing.assert_array_equal(a.grad._data, [[2.0, 0.0]])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nabla.tensor([1.0, 2.0]).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        with nabla.no_grad():
            y = leaf([1.0]) * 2
        y.backward()


def test_backward_twice_needs_retain_graph():
    a = leaf([1.0, 2.0])
    y = (a * a).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    b = leaf([1.0, 2.0])
    z = (b * b).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(b.grad._data, [4.0, 8.0])
    # an intermediate result of a freed graph cannot be backpropagated through again
    c = leaf([1.0, 2.0])
    h = c.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


def test_graph_is_freed_after_backward():
    x = nabla.randn(100, requires_grad=True)
    h = (x * 2).tanh()
    ref = weakref.ref(h._data)
    loss = (h * h).sum()
    del h
    gc.collect()
    assert ref() is not None  # the graph keeps the activation until backward
    loss.backward()
    gc.collect()
    assert ref() is None, "the loss still holds the graph's arrays after backward"


def test_retain_graph_keeps_the_saved_arrays():
    x = nabla.randn(10, requires_grad=True)
    h = x.tanh()
    ref = weakref.ref(h._data)
    loss = (h * h).sum()
    del h
    loss.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None
    loss.backward()
    np.testing.assert_allclose(x.grad._data, 2 * 2 * np.tanh(x._data) * (1 - np.tanh(x._data) ** 2),
                               rtol=1e-5)


def test_in_place_change_of_a_saved_tensor_is_detected():
    a = leaf([1.0, 2.0])
    b = a * 1
    c = b * b  # saves b
    with nabla.no_grad():
        b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        c.sum().backward()
    # the same through memory shared by detach() and by a view
    a = leaf([1.0, 2.0])
    c = a * a
    d = a.detach()
    d += 1
    with pytest.raises(RuntimeError, match="version"):
        c.sum().backward()
    a = leaf([[1.0, 2.0], [3.0, 4.0]])
    e = a.exp()  # saves its output
    with nabla.no_grad():
        e[0].fill_(0.0)
    with pytest.raises(RuntimeError, match="in-place"):
        e.sum().backward()


def test_version_counter_counts_in_place_ops():
    t = nabla.zeros(3)
    v0 = t._version
    t += 1
    t.mul_(2)
    t[0] = 5
    assert t._version == v0 + 3
    assert t[1:]._version == t._version  # a view shares its base's counter


def test_in_place_on_tensor_that_requires_grad_raises():
    # PyTorch's errors, word for word
    a = leaf([1.0, 2.0])
    for op in (lambda: a.add_(1), lambda: a.mul_(2), lambda: a.__iadd__(1), lambda: a.zero_()):
        with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being"):
            op()
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
        a[0] = 3.0
    np.testing.assert_array_equal(a._data, [1.0, 2.0])  # nothing was changed


def test_in_place_with_an_operand_that_requires_grad_is_recorded():
    # In-place ops are recorded as in PyTorch: `total += loss` keeps loss's gradient (this
    # test asserted the old refusal before in-place ops were recorded).
    w = leaf([1.0, 2.0])
    total = nabla.zeros(2, dtype=nabla.float64)
    total += w * 2
    total.mul_(w)
    total[0] = w[1] * 5
    assert total.requires_grad and not total.is_leaf
    total.sum().backward()
    # total = [5 w1, 2 w1^2]: d/dw0 = 0, d/dw1 = 5 + 4 w1
    np.testing.assert_allclose(w.grad._data, [0.0, 13.0])
    assert total.tolist() == [10.0, 8.0]
    with nabla.no_grad():  # outside of recording it is an ordinary update
        total += w
    assert total.tolist() == [11.0, 10.0] and total.grad_fn is not None


def test_100000_node_chain_has_no_recursion_limit():
    x = nabla.tensor(1.0, dtype=nabla.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.00001**100_000, rtol=1e-9)
    del y  # freeing the long chain must not overflow the C stack either
    z = x
    for _ in range(100_000):
        z = z + 1
    del z


# ------------------------------------------------------------------ autograd.grad
def test_autograd_grad_does_not_touch_dot_grad():
    a, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (a * w).sum()
    ga, gw = nabla.autograd.grad(y, [a, w])
    np.testing.assert_array_equal(ga._data, [3.0, 4.0])
    np.testing.assert_array_equal(gw._data, [1.0, 2.0])
    assert a.grad is None and w.grad is None
    (g,) = nabla.autograd.grad((a * a).sum(), a)
    np.testing.assert_array_equal(g._data, [2.0, 4.0])


def test_autograd_grad_allow_unused():
    a, u = leaf([1.0, 2.0]), leaf([5.0])
    with pytest.raises(RuntimeError, match="input 1 was not used"):
        nabla.autograd.grad((a * 2).sum(), [a, u])
    ga, gu = nabla.autograd.grad((a * 2).sum(), [a, u], allow_unused=True)
    assert gu is None
    np.testing.assert_array_equal(ga._data, [2.0, 2.0])


def test_autograd_grad_of_non_leaf_outputs_and_grad_outputs():
    a = leaf([1.0, 2.0])
    h = a * 3
    y = h * h
    (gh, ga) = nabla.autograd.grad(y, [h, a], grad_outputs=nabla.tensor([1.0, 0.5],
                                                                        dtype=nabla.float64))
    np.testing.assert_allclose(gh._data, 2 * h._data * [1.0, 0.5])
    np.testing.assert_allclose(ga._data, 3 * 2 * h._data * [1.0, 0.5])
    with pytest.raises(RuntimeError, match="does not require grad"):
        nabla.autograd.grad(y.sum(), [nabla.tensor([1.0])])


def test_autograd_grad_retain_graph():
    a = leaf([1.0, 2.0])
    y = (a * a).sum()
    g1 = nabla.autograd.grad(y, a, retain_graph=True)[0]
    g2 = nabla.autograd.grad(y, a)[0]
    np.testing.assert_array_equal(g1._data, g2._data)
    with pytest.raises(RuntimeError, match="second time"):
        nabla.autograd.grad(y, a)


def test_backward_of_several_outputs():
    a = leaf([1.0, 2.0])
    y1, y2 = (a * 2).sum(), (a * a).sum()
    nabla.autograd.backward([y1, y2])
    np.testing.assert_array_equal(a.grad._data, [4.0, 6.0])


def test_create_graph_is_refused_clearly():
    a = leaf([1.0])
    with pytest.raises(NotImplementedError, match="create_graph"):
        (a * a).sum().backward(create_graph=True)


# -------------------------------------------------------------- custom Functions
class ScaledCube(Function):
    """A user's own op: x**3 * k, with what backward saw recorded for the test."""

    seen = []

    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x**3 * k

    @staticmethod
    def backward(ctx, g):
        ScaledCube.seen.append(ctx.needs_input_grad)
        (x,) = ctx.saved_tensors
        return 3 * x**2 * ctx.k * g


def test_custom_function_with_constants():
    x = leaf([1.0, -2.0])
    y = ScaledCube.apply(x, 2.0)
    assert y.grad_fn.name() == "ScaledCubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, [6.0, 24.0])
    assert nabla.gradcheck(lambda t: ScaledCube.apply(t, 0.5), leaf([0.3, -1.2]))


class MulAdd(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.calls = ctx.needs_input_grad
        return a * b + a

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        MulAdd.asked = (na, nb)
        return (g * (b + 1) if na else None), (g * a if nb else None)


def test_needs_input_grad_lets_backward_skip_work():
    a = leaf([1.0, 2.0])
    b = nabla.tensor([3.0, 4.0], dtype=nabla.float64)
    MulAdd.apply(a, b).sum().backward()
    assert MulAdd.asked == (True, False)
    np.testing.assert_array_equal(a.grad._data, [4.0, 5.0])
    assert b.grad is None


class FirstOnly(Function):
    """A backward that returns one gradient for two inputs: the second gets none."""

    @staticmethod
    def forward(ctx, a, b):
        return a * 2 + b

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_a_backward_may_return_fewer_gradients_than_inputs():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = b * 1  # a node behind the input that gets no gradient
    y = FirstOnly.apply(a, c)
    node = y.grad_fn
    y.sum().backward()
    np.testing.assert_array_equal(a.grad._data, [2.0, 2.0])
    assert b.grad is None
    # The node was released like any other, its edges kept for next_functions.
    (fa, _), (fc, _) = node.next_functions
    assert fa is a and fc is c.grad_fn


class Split2(Function):
    """Two outputs from one node: both gradients arrive in one backward call."""

    @staticmethod
    def forward(ctx, x):
        return x * 2, x * x

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 2 * ctx.inputs[0]._data


def test_function_with_two_outputs():
    x = leaf([1.0, 3.0])
    p, q = Split2.apply(x)
    (p.sum() + q.sum()).backward()
    np.testing.assert_array_equal(x.grad._data, [4.0, 8.0])
    y = leaf([1.0, 3.0])
    p, q = Split2.apply(y)
    q.sum().backward()  # the unused output's gradient arrives as zeros
    np.testing.assert_array_equal(y.grad._data, [2.0, 6.0])


def test_max_with_dim_indices_get_no_gradient():
    x = leaf([[1.0, 5.0], [7.0, 2.0]])
    values, indices = x.max(1)
    assert values.requires_grad and not indices.requires_grad
    values.sum().backward()
    np.testing.assert_array_equal(x.grad._data, [[0.0, 1.0], [1.0, 0.0]])


def test_unbroadcast():
    from nabla.autograd import unbroadcast

    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 4)), g.sum(0))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(0).sum(1, keepdims=True))
    np.testing.assert_array_equal(unbroadcast(g, (1, 3, 1)), g.sum((0, 2), keepdims=True))
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    assert unbroadcast(g, (2, 3, 4)) is g


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
@pytest.mark.parametrize("shape,target", [
    ((32, 200), (200,)), ((16, 32, 64), (64,)), ((16, 32, 64), (32, 64)),
    ((40, 7), ()), ((5, 3, 4), (3, 1)), ((6, 4), (1, 4)),
])
def test_unbroadcast_by_blas_agrees_with_numpy(dtype, shape, target):
    # Leading axes summed away go through one BLAS product with ones (float32/64,
    # C-contiguous); the rest, and other dtypes, through NumPy's sums.
    from nabla.autograd import unbroadcast

    rng = np.random.default_rng(0)
    g = (rng.standard_normal(shape) * 4).astype(dtype)
    extra = len(shape) - len(target)
    want = g.astype(np.float64).sum(axis=tuple(range(extra)))
    want = want.sum(axis=tuple(i for i, n in enumerate(target) if n == 1), keepdims=True)
    for grad in (g, np.asfortranarray(g)):
        got = unbroadcast(grad, target)
        assert got.shape == target and got.dtype == g.dtype
        tol = {np.float16: 5e-2, np.float32: 1e-4}.get(dtype, 1e-12)
        np.testing.assert_allclose(got.astype(np.float64), want.reshape(target), rtol=tol,
                                   atol=tol * np.abs(g.astype(np.float64)).sum())


# ---------------------------------------------------------------------- gradcheck
def test_gradcheck_accepts_correct_functions():
    x = leaf(np.random.default_rng(0).standard_normal((3, 4)))
    w = leaf(np.random.default_rng(1).standard_normal((4, 2)))
    assert nabla.gradcheck(lambda x, w: (x @ w).tanh(), (x, w))
    # several outputs, a constant argument, an input without requires_grad
    c = nabla.tensor([1.0, 2.0], dtype=nabla.float64)
    assert nabla.gradcheck(lambda x, k, c: ((x * k).sum(0), x.exp().mean() * c), (x, 3.0, c))
    # an output that does not depend on the input: its Jacobian is zero on both sides
    assert nabla.gradcheck(lambda x: (x.sum(), c * 2), x)


def test_gradcheck_is_a_runtime_error_naming_input_element_and_values():
    assert issubclass(nabla.GradcheckError, RuntimeError)

    class WrongAt12(Function):
        # The gradient is wrong in one element only: (1, 2) of the second input.
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = (t._data for t in ctx.inputs)
            gb = g * a
            gb[1, 2] += 0.5
            return g * b, gb

    a, b = leaf(np.ones((2, 3))), leaf(np.full((2, 3), 2.0))
    with pytest.raises(nabla.GradcheckError) as info:
        nabla.gradcheck(WrongAt12.apply, (a, b))
    msg = str(info.value)
    # d out[0,0] / d b[1,2] is 0; the wrong backward says 0.5 for all 6 outputs
    assert "input 1, input element (1, 2), output element (0, 0)" in msg
    assert "numerical 0.0, analytical 0.5" in msg and "6 of 36" in msg
    assert nabla.gradcheck(WrongAt12.apply, (a, b), raise_exception=False) is False


def test_gradcheck_catches_an_error_in_a_second_output():
    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, g1, g2):
            (x,) = ctx.saved_tensors
            return g1 * 2 + g2 * x  # should be 2 * x

    with pytest.raises(nabla.GradcheckError, match="output 1 with respect to input 0"):
        nabla.gradcheck(Pair.apply, leaf([1.0, 2.0]))


def test_gradcheck_demands_float64_and_something_to_check():
    with pytest.raises(TypeError, match="float64"):
        nabla.gradcheck(lambda x: x * 2, nabla.tensor([1.0], requires_grad=True))
    with pytest.raises(ValueError, match="requires_grad"):
        nabla.gradcheck(lambda x: x * 2, nabla.tensor([1.0], dtype=nabla.float64))
    with pytest.raises(TypeError, match="Tensor"):
        nabla.gradcheck(lambda x: x.sum().item(), leaf([1.0]))


def test_gradcheck_leaves_its_inputs_as_they_were():
    x = leaf([0.5, 1.5, -2.0])
    data = x._data
    before = data.copy()
    nabla.gradcheck(lambda t: (t * t).sum(), x)
    assert x._data is data
    np.testing.assert_array_equal(x._data, before)
    assert x.grad is None  # gradcheck uses autograd.grad, not .grad


def test_gradcheck_on_odd_inputs_and_outputs():
    x = leaf([1.0, 2.0])
    assert nabla.gradcheck(lambda t: t, x)  # the output is the input itself
    assert nabla.gradcheck(lambda t: t[0:0], x)  # an empty output
    # an input whose memory is transposed (Fortran order)
    a = np.arange(6.0).reshape(2, 3).T
    y = nabla.from_numpy(a).requires_grad_()
    assert nabla.gradcheck(lambda t: (t * t).sum(0) * t[0], y)
    assert np.shares_memory(y._data, a) and a.tolist() == np.arange(6.0).reshape(2, 3).T.tolist()
    # integer outputs (indices) are not differentiated
    z = leaf([[1.0, 5.0], [3.0, 2.0]])
    assert nabla.gradcheck(lambda t: tuple(t.max(1)), z)


def test_gradcheck_rtol_and_atol():
    class OffByOnePercent(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3.03

    x = leaf([1.0, 2.0])
    assert not nabla.gradcheck(OffByOnePercent.apply, x, raise_exception=False)
    assert nabla.gradcheck(OffByOnePercent.apply, x, rtol=0.02)
    assert nabla.gradcheck(OffByOnePercent.apply, x, atol=0.05)


# ------------------------------------------------------------ scheduling order
def test_uneven_paths_deliver_every_contribution_before_a_node_runs():
    # b feeds c directly and through a four-node detour; b's node may only run once both
    # have arrived, whatever order the edges are found in. The result is checked
    # against the derivative by hand: d/dx of (e + b) with e = ((b*2)*3 + 1)*b ... below.
    x = leaf([0.5, -1.5, 2.0])
    b = x.tanh()
    e = ((b * 2.0) * 3.0 + 1.0) * b  # 6b^2 + b, four nodes after b
    out = (e + b).sum()  # d/db = 12b + 2
    out.backward()
    t = np.tanh(x._data)
    np.testing.assert_allclose(x.grad._data, (12 * t + 2) * (1 - t * t), rtol=1e-12)


def test_one_root_an_ancestor_of_another():
    # y1 is both a root and an input of y2's graph: its node must wait for y2's share.
    a = leaf([1.0, 2.0])
    y1 = (a * a).sum()
    y2 = y1 * 3.0
    nabla.autograd.backward([y1, y2])
    np.testing.assert_allclose(a.grad._data, (1 + 3) * 2 * a._data)


def test_nodes_reached_without_a_gradient_are_released():
    # A backward that returns None for a needed input: the node behind that input is
    # reached with no gradient, and must still drop its saved arrays.
    class Blocks(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            return None

    x = nabla.randn(50, requires_grad=True)
    h = x.tanh()
    ref = weakref.ref(h.grad_fn.saved_tensors[0])
    loss = (Blocks.apply(h) + x).sum()
    del h
    loss.backward()
    gc.collect()
    assert ref() is None, "a node reached with no gradient kept its saved arrays"
    np.testing.assert_array_equal(x.grad._data, np.ones(50))


def test_a_second_backward_without_gradient_flow_keeps_next_functions():
    x = leaf([1.0, 2.0])
    y = (x * 2.0).sum()
    y.backward()
    edges = y.grad_fn.next_functions
    inner = edges[0][0]
    before = inner.next_functions
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    assert inner.next_functions == before


# ------------------------------------------- grad-mode decorators, inference_mode
def test_grad_mode_decorators_with_and_without_parentheses_as_torch():
    if torch is None:
        pytest.skip("torch not installed")
    for lib in (nabla, torch):
        def probe(lib=lib):
            return lib.is_grad_enabled()

        forms = [lib.no_grad(probe), lib.no_grad()(probe), lib.inference_mode(probe),
                 lib.inference_mode()(probe), lib.inference_mode(False)(probe)]
        assert [f() for f in forms] == [False, False, False, False, True]
        assert forms[0].__name__ == "probe"
        with lib.no_grad():
            assert lib.enable_grad(probe)() is True
            with lib.inference_mode(False):  # turns recording on, as in torch
                assert lib.is_grad_enabled()
            assert not lib.is_grad_enabled()
        with lib.inference_mode():
            y = lib.ones(2, requires_grad=True) * 2
            assert lib.is_inference_mode_enabled() and not y.requires_grad
        assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()


def test_default_generator_starts_from_a_fixed_seed():
    import subprocess
    import sys

    code = "import nabla; print(nabla.initial_seed(), nabla.rand(3).tolist())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1 and runs.pop().startswith("67280421310721 ")
    if torch is not None:  # a new generator starts where torch's does
        assert nabla.Generator().initial_seed() == torch.Generator().initial_seed()


# ------------------------------------------------------------- backward(inputs=...)
def _both():
    torch = pytest.importorskip("torch")
    return (nabla, torch)


def test_backward_inputs_accumulates_only_into_the_named_tensors():
    got = []
    for lib in _both():
        w1 = lib.ones(2, requires_grad=True)
        w2 = lib.ones(2, requires_grad=True)
        x = lib.ones(2, requires_grad=True)
        h = x * 2.0
        y = (w1 * 2.0 + w2 * 3.0).sum() + (h * h).sum()
        y.backward(inputs=[w1, h], retain_graph=True)
        y.backward(inputs=w1)  # a single tensor; accumulates
        got.append([w1.grad.tolist(), w2.grad, h.grad.tolist(), x.grad])
    assert got[0] == got[1] == [[4.0, 4.0], None, [4.0, 4.0], None]


def _hooked_pair(lib, fired, names, times=None):
    """Two leaves with a tensor hook and a post-accumulate hook each that note their
    name in ``fired`` (the first's hook returns its gradient times ``times``, if given),
    and their product with a hook noting "h"."""
    a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
    a.register_hook(lambda g: fired.append(names[0]) or (None if times is None else g * times))
    b.register_hook(lambda g: fired.append(names[1]))
    for name, t in zip(names, (a, b)):
        t.register_post_accumulate_grad_hook(lambda p, n=name: fired.append("post " + n))
    h = a * b
    h.register_hook(lambda g: fired.append("h"))
    return a, b, h


def test_backward_inputs_hooks_and_unused_inputs():
    seen = {}
    for lib in _both():
        fired = seen[lib.__name__] = []
        w1, w2, h = _hooked_pair(lib, fired, ("w1", "w2"))
        unused = lib.ones(2, requires_grad=True)
        h.sum().backward(inputs=[w1, unused])
        fired.append((w1.grad.tolist(), w2.grad, unused.grad))
    assert seen["nabla"] == seen["torch"] == ["h", "w1", "post w1", ([1.0, 1.0], None, None)]


def test_backward_inputs_refuses_an_empty_list_and_a_tensor_without_grad():
    x = nabla.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2.0).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match=r"inputs\[1\] does not require grad"):
        (x * 2.0).sum().backward(inputs=[x, nabla.ones(2)])
    assert x.grad is None


def test_autograd_grad_runs_the_input_leaves_hooks_as_pytorch():
    seen = {}
    for lib in _both():
        fired = seen[lib.__name__] = []
        w, v, h = _hooked_pair(lib, fired, ("w", "v"), times=10)  # v: not an input
        gw, gh = lib.autograd.grad((h * 3).sum(), [w, h])
        fired.append((gw.tolist(), gh.tolist(), w.grad, v.grad))
    assert seen["nabla"] == seen["torch"] == ["h", "w", ([30.0, 30.0], [3.0, 3.0], None, None)]
