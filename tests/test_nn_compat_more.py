"""RMSNorm, Softmin, Threshold, Tanhshrink and nn.utils.rnn.pad_sequence against torch 2.13:
values, gradients, dtypes, reprs, import paths and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
import nabla.nn.functional as F
from nabla import nn
from nabla.gradcheck import gradcheck

DTYPES = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _pair(torch, x, dtype, grad=True):
    """The same array as a nabla and a torch tensor of ``dtype``, both leaves."""
    n = nabla.tensor(x.astype(dtype), requires_grad=grad)
    t = torch.tensor(x.astype(dtype), requires_grad=grad)
    return n, t


def _close(n, t, tol):
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **tol)


# ------------------------------------------------------------------------------ RMSNorm
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", [4, (4,), (3, 4)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [None, 1e-2])
def test_rmsnorm_layer_matches_torch(dtype, shape, affine, eps, rng, torch):
    tol = DTYPES[dtype]
    x = rng.standard_normal((2, 3, 4)) * 0.1  # small rows: eps shows in the result
    n_mod = nn.RMSNorm(shape, eps=eps, elementwise_affine=affine, dtype=getattr(nabla, dtype))
    t_mod = torch.nn.RMSNorm(shape, eps=eps, elementwise_affine=affine,
                             dtype=getattr(torch, dtype))
    assert repr(n_mod) == repr(t_mod)
    assert sorted(n_mod.state_dict()) == sorted(t_mod.state_dict())
    if affine:
        assert n_mod.weight.dtype == getattr(nabla, dtype)
        np.testing.assert_array_equal(n_mod.weight.detach().numpy(), np.ones(n_mod.weight.shape))
        w = rng.uniform(0.5, 1.5, n_mod.weight.shape).astype(dtype)
        n_mod.load_state_dict({"weight": nabla.tensor(w)})
        t_mod.load_state_dict({"weight": torch.tensor(w)})
    nx, tx = _pair(torch, x, dtype)
    out, expected = n_mod(nx), t_mod(tx)
    assert out.dtype == getattr(nabla, dtype)
    _close(out, expected, tol)
    g = rng.standard_normal(x.shape).astype(dtype)
    (out * nabla.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    _close(nx.grad, tx.grad, tol)
    if affine:
        _close(n_mod.weight.grad, t_mod.weight.grad, tol)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_functional_rms_norm_matches_torch_and_numpy(dtype, rng, torch):
    x = rng.standard_normal((2, 3, 4)) * 0.01
    w = rng.uniform(0.5, 1.5, (3, 4))
    nx, tx = _pair(torch, x, dtype)
    nw, tw = _pair(torch, w, dtype)
    out = F.rms_norm(nx, (3, 4), nw)
    _close(out, torch.nn.functional.rms_norm(tx, (3, 4), tw), DTYPES[dtype])
    eps = np.finfo(dtype).eps
    by_hand = x / np.sqrt((x * x).mean(axis=(1, 2), keepdims=True) + eps) * w
    np.testing.assert_allclose(out.detach().numpy(), by_hand, **DTYPES[dtype])


def test_rms_norm_gradcheck(rng):
    x = nabla.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = nabla.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda a, b: F.rms_norm(a, (3, 4), b, eps=1e-3), (x, w))


@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")
def test_rms_norm_keeps_the_inputs_dtype_with_a_weight_of_another(torch):
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    for xd, wd in (("float32", "float64"), ("float64", "float32")):
        out = F.rms_norm(nabla.tensor(x.astype(xd)), (3,), nabla.ones(3, dtype=getattr(nabla, wd)))
        ref = torch.nn.functional.rms_norm(torch.tensor(x.astype(xd)), (3,),
                                           torch.ones(3, dtype=getattr(torch, wd)))
        assert out.numpy().dtype == ref.numpy().dtype == np.dtype(xd)


def test_rms_norm_refuses_bad_input():
    x = nabla.ones(2, 3)
    with pytest.raises(ValueError, match=r"normalized_shape=\[2\].*size \[2, 3\]"):
        F.rms_norm(x, (2,))
    with pytest.raises(ValueError, match=r"normalized_shape=\[2, 3, 4\]"):
        F.rms_norm(x, (2, 3, 4))
    with pytest.raises(ValueError, match="at least 1-dimensional"):
        F.rms_norm(x, ())
    with pytest.raises(ValueError, match=r"weight of shape \[2\]"):
        F.rms_norm(x, (3,), weight=nabla.ones(2))
    with pytest.raises(TypeError, match="rms_norm: input must be a floating-point"):
        F.rms_norm(nabla.tensor([[1, 2, 3]]), (3,))
    with pytest.raises(RuntimeError, match="expected input with shape"):
        nn.RMSNorm(4)(x)  # torch code catches RuntimeError


# --------------------------------------------------------------------------- activations
X = np.random.default_rng(3).standard_normal((3, 4, 5)) * 2


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name,args", [
    ("Softmin", (1,)), ("Softmin", (-1,)), ("Threshold", (0.1, 20.0)),
    ("Threshold", (-0.5, -3.0)), ("Tanhshrink", ()),
])
def test_activation_layers_match_torch(name, args, dtype, rng, torch):
    nx, tx = _pair(torch, X, dtype)
    n_mod, t_mod = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(n_mod) == repr(t_mod)
    out, expected = n_mod(nx), t_mod(tx)
    assert out.dtype == getattr(nabla, dtype)
    _close(out, expected, DTYPES[dtype])
    g = rng.standard_normal(X.shape).astype(dtype)
    (out * nabla.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    _close(nx.grad, tx.grad, DTYPES[dtype])


@pytest.mark.parametrize("fn", [lambda x: F.softmin(x, dim=1), F.tanhshrink,
                                lambda x: F.threshold(x, 0.3, -2.0)])
def test_activation_gradcheck(fn):
    x = nabla.tensor(X[:2, :3, :4], requires_grad=True)
    assert gradcheck(fn, (x,))


def test_activations_against_numpy():
    x = nabla.tensor(X)
    np.testing.assert_allclose(F.tanhshrink(x).numpy(), X - np.tanh(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(F.threshold(x, 0.5, 7.0).numpy(),
                                  np.where(X > 0.5, X, 7.0))
    e = np.exp(-X)
    np.testing.assert_allclose(F.softmin(x, 2).numpy(), e / e.sum(2, keepdims=True), rtol=1e-6)


def test_softmin_implicit_dim_and_dtype_as_torch(torch):
    x = X[0]
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        out = F.softmin(nabla.tensor(x.astype(np.float32)))
    with pytest.warns(UserWarning):
        ref = torch.nn.functional.softmin(torch.tensor(x.astype(np.float32)))
    _close(out, ref, DTYPES["float32"])
    out = F.softmin(nabla.tensor(x.astype(np.float32)), 0, dtype=nabla.float64)
    ref = torch.nn.functional.softmin(torch.tensor(x.astype(np.float32)), 0, dtype=torch.float64)
    assert out.dtype == nabla.float64
    _close(out, ref, DTYPES["float64"])


def test_threshold_edges_as_torch(torch):
    """At the threshold itself the value replaces x; NaN passes through with gradient 1;
    an integer input gets the value truncated; inplace writes into the input."""
    x = np.array([1.0, 2.0, 3.0, np.nan])
    nx, tx = _pair(torch, x, "float64")
    out, ref = F.threshold(nx, 2.0, 0.5), torch.nn.functional.threshold(tx, 2.0, 0.5)
    _close(out, ref, DTYPES["float64"])
    out.sum().backward()
    ref.sum().backward()
    _close(nx.grad, tx.grad, DTYPES["float64"])
    ints = [1, 2, 3]
    out = F.threshold(nabla.tensor(ints), 1.5, 9.5)
    ref = torch.nn.functional.threshold(torch.tensor(ints), 1.5, 9.5)
    assert out.tolist() == ref.tolist() and out.numpy().dtype == ref.numpy().dtype
    # inplace: a non-leaf is changed and the gradient flows through the change
    nx, tx = _pair(torch, x[:3], "float64")
    ny, ty = nx * 1.0, tx * 1.0
    assert F.threshold(ny, 2.0, 0.5, inplace=True) is ny
    assert torch.nn.functional.threshold(ty, 2.0, 0.5, inplace=True) is ty
    assert ny.tolist() == ty.tolist()
    (ny * nabla.tensor([1.0, 2.0, 3.0], dtype=nabla.float64)).sum().backward()
    (ty * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    _close(nx.grad, tx.grad, DTYPES["float64"])


def test_tanhshrink_of_integers_is_float_as_torch(torch):
    out = F.tanhshrink(nabla.tensor([1, 2]))
    ref = torch.nn.functional.tanhshrink(torch.tensor([1, 2]))
    assert out.numpy().dtype == ref.numpy().dtype
    _close(out, ref, DTYPES["float32"])


def test_new_names_have_torchs_import_paths():
    from nabla.nn.modules import RMSNorm, Softmin
    from nabla.nn.modules.activation import Tanhshrink, Threshold
    from nabla.nn.modules.normalization import RMSNorm as RMSNorm2
    from nabla.nn.utils.rnn import pad_sequence

    assert RMSNorm is RMSNorm2 is nn.RMSNorm and Softmin is nn.Softmin
    assert Tanhshrink is nn.Tanhshrink and Threshold is nn.Threshold
    assert pad_sequence is nn.utils.rnn.pad_sequence
    assert callable(nn.utils.clip_grad_norm_)  # the rest of nn.utils stays where it was


# ------------------------------------------------------------------------- pad_sequence
def _seqs(rng, lengths, trailing, dtype):
    return [rng.standard_normal((n, *trailing)).astype(dtype) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(), (2, 3)])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_pad_sequence_matches_torch(batch_first, side, trailing, dtype, rng, torch):
    from torch.nn.utils.rnn import pad_sequence as t_pad

    from nabla.nn.utils.rnn import pad_sequence

    arrays = _seqs(rng, [3, 5, 1, 5], trailing, dtype)
    ns = [nabla.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = pad_sequence(ns, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    ref = t_pad(ts, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    assert out.shape == tuple(ref.shape) and out.dtype == getattr(nabla, dtype)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    g = rng.standard_normal(out.shape).astype(dtype)
    (out * nabla.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    for n, t in zip(ns, ts):
        np.testing.assert_array_equal(n.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_of_token_ids_as_torch(side, torch):
    from torch.nn.utils.rnn import pad_sequence as t_pad

    from nabla.nn.utils.rnn import pad_sequence

    ids = [[5, 1, 7], [2], [9, 9]]
    for value in (0, -100, 9.7):  # a float value is truncated into the ids' dtype
        out = pad_sequence([nabla.tensor(i) for i in ids], True, value, side)
        ref = t_pad([torch.tensor(i) for i in ids], True, value, side)
        assert out.tolist() == ref.tolist()
        assert out.numpy().dtype == ref.numpy().dtype == np.int64
    out = pad_sequence(nabla.tensor(i, dtype=nabla.int32) for i in ids)  # any iterable
    assert out.numpy().dtype == np.int32 and out.shape == (3, 3)


def test_pad_sequence_mixed_dtypes_take_the_first_as_torch(torch):
    from torch.nn.utils.rnn import pad_sequence as t_pad

    from nabla.nn.utils.rnn import pad_sequence

    a, b = np.array([1.0, 2.0]), np.array([1.5])
    out = pad_sequence([nabla.tensor(a, dtype=nabla.int64), nabla.tensor(b)])
    ref = t_pad([torch.tensor(a, dtype=torch.int64), torch.tensor(b)])
    assert out.tolist() == ref.tolist() and out.numpy().dtype == ref.numpy().dtype


def test_pad_sequence_gradcheck(rng):
    from nabla.nn.utils.rnn import pad_sequence

    a, b = (nabla.tensor(x, requires_grad=True) for x in _seqs(rng, [2, 4], (3,), "float64"))
    assert gradcheck(lambda p, q: pad_sequence([p, q], padding_side="left"), (a, b))


def test_pad_sequence_refuses_bad_input(torch):
    from torch.nn.utils.rnn import pad_sequence as t_pad

    from nabla.nn.utils.rnn import pad_sequence

    # torch raises RuntimeError for the first two; ours is also a ValueError
    for bad in ([], [nabla.zeros(2, 3), nabla.zeros(3, 4)]):
        with pytest.raises(RuntimeError):
            t_pad([torch.tensor(t.numpy()) for t in bad])
    with pytest.raises(ValueError, match="pad_sequence: received an empty list"):
        pad_sequence([])
    with pytest.raises(RuntimeError, match=r"trailing shape of sequence 0, \(3,\).*"
                                           r"sequence 1 has shape \(3, 4\)"):
        pad_sequence([nabla.zeros(2, 3), nabla.zeros(3, 4)])
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(3,\)"):
        pad_sequence([nabla.zeros(2, 3), nabla.zeros(3)])
    with pytest.raises(ValueError, match="sequence 0 is a 0-d tensor"):
        pad_sequence([nabla.tensor(1.0), nabla.tensor(2.0)])
    with pytest.raises(TypeError, match="sequence 1 is list"):
        pad_sequence([nabla.zeros(2), [1.0, 2.0]])
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right', got 'up'"):
        pad_sequence([nabla.zeros(2)], padding_side="up")
