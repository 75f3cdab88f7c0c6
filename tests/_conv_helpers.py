"""Helpers shared by the convolution, pooling and normalization tests: run one function
in nabla and in PyTorch on the same arrays and compare outputs and gradients."""

from __future__ import annotations

import numpy as np

import nabla

TOL = {np.float64: (1e-10, 1e-10), np.float32: (2e-4, 2e-5)}


def as_nabla(a, grad=True):
    return None if a is None else nabla.tensor(a, requires_grad=grad)


def as_torch(torch, a, grad=True):
    return None if a is None else torch.tensor(a, requires_grad=grad)


def assert_close(mine, ref, dtype, what, scale=1.0):
    rtol, atol = TOL[np.dtype(dtype).type]
    mine = np.asarray(mine)
    ref = np.asarray(ref)
    assert mine.shape == ref.shape, f"{what}: shape {mine.shape} != torch {ref.shape}"
    assert mine.dtype == ref.dtype, f"{what}: dtype {mine.dtype} != torch {ref.dtype}"
    np.testing.assert_allclose(mine, ref, rtol=rtol, atol=atol * scale, err_msg=what)


def check_against_torch(torch, nabla_fn, torch_fn, arrays, dtype, *, seed=0, grads=None,
                        scale=1.0):
    """Forward and backward of ``nabla_fn(*tensors)`` against ``torch_fn(*tensors)``.

    ``arrays`` may hold None (an absent bias). ``grads`` lists, per array, whether it
    requires a gradient (all do by default). The upstream gradient is random so that
    every output element's path is checked.
    """
    arrays = [None if a is None else np.asarray(a, dtype=dtype) for a in arrays]
    grads = grads or [True] * len(arrays)
    nin = [as_nabla(a, g) for a, g in zip(arrays, grads)]
    tin = [as_torch(torch, a, g) for a, g in zip(arrays, grads)]
    out_n = nabla_fn(*nin)
    out_t = torch_fn(*tin)
    assert_close(out_n.detach().numpy(), out_t.detach().numpy(), dtype, "forward", scale)
    upstream = np.random.default_rng(seed).standard_normal(out_t.shape).astype(dtype)
    out_n.backward(nabla.tensor(upstream))
    out_t.backward(torch.tensor(upstream))
    for i, (a, b, g) in enumerate(zip(nin, tin, grads)):
        if a is None:
            continue
        if not g:
            assert a.grad is None, f"input {i} does not require grad but got one"
            continue
        assert a.grad is not None, f"input {i}: no gradient"
        assert_close(a.grad.numpy(), b.grad.numpy(), dtype, f"grad of input {i}", scale)
    return out_n


def check_module(torch, mine, ref, x, dtype, *, seed=0, scale=1.0, input_grad=True):
    """A nabla layer against a PyTorch layer holding the same state: repr, state_dict
    names, output, input gradient and every parameter gradient."""
    assert repr(mine) == repr(ref)
    assert list(mine.state_dict()) == list(ref.state_dict())
    mine.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    check_against_torch(torch, mine, ref, [x], dtype, seed=seed, grads=[input_grad],
                        scale=scale)
    theirs = dict(ref.named_parameters())
    for name, p in mine.named_parameters():
        assert p.grad is not None, f"{name}: no gradient"
        assert_close(p.grad.numpy(), theirs[name].grad.numpy(), dtype, f"grad of {name}",
                     scale)
