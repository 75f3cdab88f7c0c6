"""In-place ops under autograd, recorded as PyTorch records them: each case runs the same
program on nabla and on torch 2.13 and compares values, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest

import nabla

torch = pytest.importorskip("torch")

X = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
W = [[2.0, -0.5, 1.0], [0.3, 1.2, -2.0]]
POS = [[0.5, 1.0, 2.0], [1.5, 0.25, 0.75]]


def both(program, x=X, w=W):
    """Run ``program(lib, x, w)`` on nabla and torch (float64 leaves); compare the output
    and the gradients of x and w."""
    out = {}
    for lib in (nabla, torch):
        xs = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        ws = lib.tensor(w, dtype=lib.float64, requires_grad=True)
        y = program(lib, xs, ws)
        (y * lib.tensor(np.arange(y.numel()).reshape(y.shape) + 1.0)).sum().backward()
        out[lib] = [y.detach().numpy()] + [
            None if t.grad is None else t.grad.numpy() for t in (xs, ws)
        ]
    for a, b in zip(out[nabla], out[torch]):
        if b is None:
            assert a is None or not np.any(a)  # torch: no gradient; nabla: none or zeros
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _h(x):
    return x * 2  # a non-leaf


CASES = {
    "iadd": lambda lib, x, w: _iadd(_h(x), w),
    "isub_imul_idiv": lambda lib, x, w: _arith(_h(x), w),
    "add_alpha": lambda lib, x, w: _h(x).add_(w, alpha=0.5).sub_(w, alpha=2),
    "mul_div_": lambda lib, x, w: _h(x).mul_(w).div_(w + 3),
    "pow_": lambda lib, x, w: _h(x).pow_(2),
    "ipow": lambda lib, x, w: _ipow(_h(x)),
    "pow_tensor": lambda lib, x, w: (_h(x).abs() + 1).pow_(w),
    "clamp_": lambda lib, x, w: _h(x).clamp_(-1.0, 2.0),
    "masked_fill_": lambda lib, x, w: _h(x).masked_fill_(x > 1, 0.0),
    "copy_": lambda lib, x, w: _h(x).copy_(w * 3),
    "copy_broadcast": lambda lib, x, w: _h(x).copy_(w[0]),
    "fill_": lambda lib, x, w: _h(x).fill_(1.5) * w,
    "fill_tensor": lambda lib, x, w: _h(x).fill_(w[0, 1]),
    "zero_": lambda lib, x, w: _h(x).zero_() + w,
    "exp_": lambda lib, x, w: _h(x).exp_(),
    "sigmoid_": lambda lib, x, w: _h(x).sigmoid_(),
    "tanh_": lambda lib, x, w: _h(x).tanh_(),
    "relu_": lambda lib, x, w: _h(x).relu_(),
    "neg_abs_": lambda lib, x, w: _h(x).neg_().abs_(),
    "sqrt_": lambda lib, x, w: (_h(x) * _h(x) + 1).sqrt_(),
    "addcmul_": lambda lib, x, w: _h(x).addcmul_(w, x, value=0.5),
    "addcdiv_": lambda lib, x, w: _h(x).addcdiv_(w, x * x + 1, value=-2),
    "lerp_": lambda lib, x, w: _h(x).lerp_(w, 0.25),
    "exp_then_use": lambda lib, x, w: _h(x).exp_() * w,
    "target_needs_no_grad": lambda lib, x, w: lib.zeros(2, 3, dtype=lib.float64).add_(x * w),
    "setitem_value_needs_grad": lambda lib, x, w: _logits(lib, x, w),
    "setitem_mask_non_leaf": lambda lib, x, w: _mask(x, w),
    "setitem_slice_view": lambda lib, x, w: _view_iadd(x, w),
    "view_of_view": lambda lib, x, w: _view_of_view(x, w),
    "view_copy_into_constant": lambda lib, x, w: _view_copy(lib, x, w),
    "use_before_in_place": lambda lib, x, w: _use_before(x, w),
    "out_of_place_alpha": lambda lib, x, w: x.add(w, alpha=3).sub(w, alpha=0.5),
    "addcmul_out_of_place": lambda lib, x, w: x.addcmul(w, w, value=2).addcdiv(x, w + 5),
}


def _iadd(h, w):
    h += w
    h += 1.0
    return h


def _ipow(h):
    h **= 3
    return h


def _arith(h, w):
    h -= w
    h *= w
    h /= 4.0
    return h


def _logits(lib, x, w):
    logits = lib.zeros(3, 3, dtype=lib.float64)  # does not require grad
    for i in range(2):
        logits[i] = x[i] * w[i]
    logits[2] = (x * w).sum(0)
    return logits


def _mask(x, w):
    y = x * w
    y[y < 0] = 0.0
    y[0, 1] = -3.0
    return y


def _view_iadd(x, w):
    h = x * w
    h[:, 0] += 1
    h[1] *= 3
    h[:, 1:] = w[:, :2] * 5
    return h


def _view_of_view(x, w):
    h = x * w
    h[0][1:] *= 2
    v = h[1]
    v.mul_(w[0])
    return h


def _view_copy(lib, x, w):
    z = lib.zeros(2, 3, dtype=lib.float64)
    z[1].copy_(w[0] * x[1])
    v = z[0]
    v.add_(x[0])
    return z


def _use_before(x, w):
    y = x * 2
    z = y + w  # takes y before it changes (and saves nothing, so that is allowed)
    y.mul_(5)
    y[0] += 1
    return z * y


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_place_matches_torch(name):
    both(CASES[name])


def test_in_place_ops_replace_history_and_storage():
    x = nabla.tensor(X, requires_grad=True)
    h = x * 2
    data, fn = h._data, h.grad_fn
    h.add_(1)
    assert h._data is data and h.grad_fn is not fn and h._version == 1
    h.exp_()
    assert h._data is data and h._version == 2 and not h.is_leaf


def _error(program):
    """The RuntimeError message from each library (None when it ran)."""
    msgs = []
    for lib in (nabla, torch):
        x = lib.tensor(POS, dtype=lib.float64, requires_grad=True)
        try:
            program(lib, x)
            msgs.append(None)
        except RuntimeError as e:
            msgs.append(str(e))
    return msgs


def _overwrite_saved_input(lib, x):
    y = x * 1
    z = y * y  # saves y
    y.add_(1)
    z.sum().backward()


def _overwrite_saved_output(lib, x):
    y = (x * 1).exp_()  # exp_ saves its result, which is y
    y.mul_(2)
    y.sum().backward()


def _overwrite_through_view(lib, x):
    y = x.exp()
    y[0].zero_()
    y.sum().backward()


@pytest.mark.parametrize("program", [_overwrite_saved_input, _overwrite_saved_output,
                                     _overwrite_through_view])
def test_backward_through_an_overwritten_value_fails_as_in_torch(program):
    ours, theirs = _error(program)
    assert theirs is not None and ours is not None
    pattern = r"modified by an inplace operation: .* is at version (\d+); expected version (\d+)"
    import re

    assert re.search(pattern, ours).groups() == re.search(pattern, theirs).groups()


def test_in_place_on_a_leaf_fails_as_in_torch():
    def leaf_ops(lib, x):
        for op in (lambda: x.add_(1), lambda: x.exp_(), lambda: x.copy_(x * 2),
                   lambda: x.masked_fill_(x > 0, 0.0)):
            try:
                op()
            except RuntimeError as e:
                yield str(e)

    ours, theirs = (list(leaf_ops(lib, lib.tensor(POS, requires_grad=True)))
                    for lib in (nabla, torch))
    assert ours == theirs and len(ours) == 4
    views = []
    for lib in (nabla, torch):
        x = lib.tensor(POS, requires_grad=True)
        with pytest.raises(RuntimeError) as e:
            x[0] = 1.0
        views.append(str(e.value))
        with pytest.raises(RuntimeError):
            x[1].mul_(2)
        np.testing.assert_array_equal(x.detach().numpy(), np.float32(POS))
    assert views[0] == views[1]


def test_in_place_without_autograd_is_allowed():
    x = nabla.tensor(POS, requires_grad=True)
    with nabla.no_grad():
        x.add_(1)
        x[0] = 0.0
        x.exp_()
    assert x.is_leaf and x.requires_grad
    np.testing.assert_allclose(x._data[0], 1.0)


def test_in_place_on_a_reshaped_view_in_a_graph_names_the_limit():
    x = nabla.tensor(POS, requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match="reshape.*indexing"):
        h.reshape(6).add_(1)
    assert h.tolist() == (x * 2).tolist()


def test_index_into_a_1d_tensor_is_a_view():
    t = nabla.zeros(3)
    t[1].fill_(5)  # as in PyTorch: t[1] shares memory with t
    assert t.tolist() == [0.0, 5.0, 0.0]


def test_in_place_errors_leave_values_unchanged_under_autograd():
    x = nabla.tensor(POS, requires_grad=True)
    h = x * 2
    before = h.tolist()
    with pytest.raises(nabla.ShapeError):
        h.add_(nabla.ones(4, 2, 3))
    with pytest.raises(TypeError, match="int64"):
        nabla.zeros(2, 3, dtype=nabla.int64).add_(x)
    assert h.tolist() == before and h._version == 0


def _stale_view(lib, x, w):
    h = x * w
    v = h[1:]  # taken before h changes ...
    early = v + 2  # ... and used before: the old values
    h.mul_(3)
    vv = v[0]
    h[0, 0] = 5.0
    return early + v * vv + h[1:]  # ... and after: the new values, through the new history


def test_a_view_taken_before_an_in_place_change_follows_its_base():
    both(_stale_view)
