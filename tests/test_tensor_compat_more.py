"""addmm, repeat_interleave, tile, movedim, diff, take_along_dim, isin, tril/triu_indices,
logspace and nabla.linalg's norms, against PyTorch: values, dtypes, shapes, gradients
(float64 and float32) and the errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import nabla

DTYPES = [np.float64, np.float32]


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)


def _check(torch, fn, arrays, dtype=np.float64, grad=True):
    """fn(module, *tensors) in nabla and torch: the values, dtype, shape, and the
    gradient of every float input under a random upstream gradient."""
    arrays = [np.asarray(a, dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    floats = [a.dtype.kind == "f" and grad for a in arrays]
    ours = [nabla.tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    theirs = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    o, t = fn(nabla, *ours), fn(torch, *theirs)
    assert tuple(o.shape) == tuple(t.shape)
    assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), **_tol(dtype))
    if not any(floats):
        return
    up = np.random.default_rng(1).standard_normal(tuple(t.shape)).astype(dtype)
    (o * nabla.tensor(up)).sum().backward()
    (t * torch.tensor(up)).sum().backward()
    for x, tx, f in zip(ours, theirs, floats):
        if f:
            # an input that does not reach the output: torch's None or zeros, either way
            expected = np.zeros(x.shape, dtype) if tx.grad is None else tx.grad.numpy()
            got = np.zeros(x.shape, dtype) if x.grad is None else x.grad.numpy()
            np.testing.assert_allclose(got, expected, **_tol(dtype))


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------------------ addmm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_shape", [(2, 4), (4,), (1, 4), (2, 1), ()])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 3.0)])
def test_addmm_matches_torch(torch, dtype, in_shape, beta, alpha):
    arrays = [_rand(*in_shape), _rand(2, 3, seed=1), _rand(3, 4, seed=2)]
    _check(torch, lambda m, i, a, b: m.addmm(i, a, b, beta=beta, alpha=alpha), arrays, dtype)
    _check(torch, lambda m, i, a, b: i.addmm(a, b, beta=beta, alpha=alpha), arrays, dtype)


def test_addmm_ignores_input_when_beta_is_zero(torch):
    nan = np.full((2, 2), np.nan)
    ours = nabla.addmm(nabla.tensor(nan), nabla.ones(2, 3, dtype=nabla.float64),
                       nabla.ones(3, 2, dtype=nabla.float64), beta=0)
    theirs = torch.addmm(torch.tensor(nan), torch.ones(2, 3, dtype=torch.float64),
                         torch.ones(3, 2, dtype=torch.float64), beta=0)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_addmm_errors_name_the_shapes():
    with pytest.raises(nabla.ShapeError, match=r"cannot be multiplied \(2x3 and 4x2\)"):
        nabla.addmm(nabla.zeros(2, 2), nabla.zeros(2, 3), nabla.zeros(4, 2))
    with pytest.raises(nabla.ShapeError, match="must be matrices"):
        nabla.addmm(nabla.zeros(2), nabla.zeros(2, 3, 1), nabla.zeros(3, 2))
    with pytest.raises(nabla.ShapeError, match=r"input of shape \(3,\) cannot be broadcast"):
        nabla.addmm(nabla.zeros(3), nabla.zeros(2, 3), nabla.zeros(3, 2))


# ------------------------------------------------------------------ repeat_interleave
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("repeats,dim", [
    (2, None), (3, 0), (2, -1), (0, 1), ("t", 0), ("t1", -2), ("one", 1), ("t", None)])
def test_repeat_interleave_matches_torch(torch, dtype, repeats, dim):
    def fn(m, x):
        counts = {"t": [1, 0, 3], "t1": [2, 1, 1], "one": [2]}.get(repeats)
        r = repeats if counts is None else m.tensor(counts)
        if repeats == "t" and dim is None:
            r = m.tensor([1, 0, 2, 1, 1, 3, 0, 2, 1, 1, 1, 2])
        return m.repeat_interleave(x, r, dim) if dim is not None else x.repeat_interleave(r)

    _check(torch, fn, [_rand(3, 4)], dtype)


def test_repeat_interleave_of_ints_and_its_one_argument_form(torch):
    x = [[1, 2], [3, 4]]
    assert (nabla.tensor(x).repeat_interleave(2).tolist()
            == torch.tensor(x).repeat_interleave(2).tolist())
    for counts in ([2, 0, 1], [0], []):
        ours = nabla.repeat_interleave(nabla.tensor(counts, dtype=nabla.int64))
        theirs = torch.repeat_interleave(torch.tensor(counts, dtype=torch.int64))
        assert ours.tolist() == theirs.tolist()
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


def test_repeat_interleave_errors():
    x = nabla.zeros(2, 3)
    with pytest.raises(nabla.ShapeError, match="same size as input along dim 0"):
        x.repeat_interleave(nabla.tensor([1, 2, 3]), dim=0)
    with pytest.raises(ValueError, match="non-negative"):
        x.repeat_interleave(-1)
    with pytest.raises(ValueError, match="non-negative"):
        x.repeat_interleave(nabla.tensor([1, -2]), dim=0)
    with pytest.raises(TypeError, match="integer tensor"):
        x.repeat_interleave(nabla.tensor([1.0, 2.0]), dim=0)
    with pytest.raises(nabla.ShapeError, match="0-dim or 1-dim"):
        x.repeat_interleave(nabla.tensor([[1, 2]]), dim=0)
    with pytest.raises(IndexError, match="dimension out of range"):
        x.repeat_interleave(2, dim=2)
    with pytest.raises(ShapeErrorOrType, match="1-D integer tensor"):
        nabla.repeat_interleave(nabla.tensor([1.0]))


ShapeErrorOrType = (nabla.ShapeError, TypeError)


# ----------------------------------------------------------------- tile, movedim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims", [(2,), (2, 1), (1, 3, 2), (2, 2, 1, 2), ()])
def test_tile_matches_torch(torch, dtype, dims):
    _check(torch, lambda m, x: m.tile(x, dims), [_rand(2, 3)], dtype)
    _check(torch, lambda m, x: x.tile(dims), [_rand(2, 3)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src,dst", [(0, 2), (-1, 0), ((0, 1), (2, 0)), ((0, -1), (-1, 1)),
                                     ((), ()), (1, 1)])
def test_movedim_and_moveaxis_match_torch(torch, dtype, src, dst):
    _check(torch, lambda m, x: m.movedim(x, src, dst), [_rand(2, 3, 4)], dtype)
    _check(torch, lambda m, x: x.moveaxis(src, dst), [_rand(2, 3, 4)], dtype)


def test_movedim_errors():
    x = nabla.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="same number"):
        x.movedim((0, 1), 2)
    with pytest.raises(ValueError, match="repeated dim in source"):
        x.movedim((0, 0), (1, 2))
    with pytest.raises(ValueError, match="repeated dim in destination"):
        x.movedim((0, 1), (-1, 2))
    with pytest.raises(IndexError, match="dimension out of range"):
        x.movedim(3, 0)


# ------------------------------------------------------------------------------ diff
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,dim", [(1, -1), (2, 0), (0, 1), (3, -1), (5, 1)])
def test_diff_matches_torch(torch, dtype, n, dim):
    _check(torch, lambda m, x: m.diff(x, n=n, dim=dim), [_rand(3, 4)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_diff_with_prepend_and_append_matches_torch(torch, dtype):
    arrays = [_rand(3, 4), _rand(3, 2, seed=1), _rand(3, 1, seed=2)]
    _check(torch, lambda m, x, p, a: x.diff(2, -1, p, a), arrays, dtype)
    _check(torch, lambda m, x, p, a: m.diff(x, 1, 1, prepend=p), arrays, dtype)
    _check(torch, lambda m, x, p, a: m.diff(x.t(), 1, 0, append=a.t()), arrays, dtype)


def test_diff_of_ints_bools_and_mixed_dtypes_matches_torch(torch):
    cases = [
        lambda m: m.diff(m.tensor([1, 4, 2, 9])),
        lambda m: m.diff(m.tensor([True, False, False, True]), n=2),
        lambda m: m.diff(m.tensor([1, 4, 2]), prepend=m.tensor([0.5])),
        lambda m: m.diff(m.tensor([1.0, 4.0], dtype=m.float64), append=m.tensor([2.0])),
    ]
    for case in cases:
        ours, theirs = case(nabla), case(torch)
        assert ours.tolist() == theirs.tolist()
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


def test_diff_errors():
    x = nabla.zeros(2, 3)
    with pytest.raises(ValueError, match="non-negative"):
        x.diff(n=-1)
    with pytest.raises(nabla.ShapeError, match="at least one-dimensional"):
        nabla.tensor(1.0).diff()
    with pytest.raises(nabla.ShapeError, match=r"prepend of shape \(3, 1\) must match"):
        x.diff(prepend=nabla.zeros(3, 1))
    with pytest.raises(TypeError, match="append must be a tensor"):
        x.diff(append=1.0)


# -------------------------------------------------------------------- take_along_dim
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_shape,dim", [
    ((3, 2), 1), ((1, 5), 1), ((3, 4), -1), ((2, 1), 0), ((5,), None), ((2, 2), None)])
def test_take_along_dim_matches_torch(torch, dtype, index_shape, dim):
    size = 12 if dim is None else (3, 4)[dim]
    idx = np.random.default_rng(3).integers(0, size, index_shape)  # repeats included

    def fn(m, x):
        return m.take_along_dim(x, m.tensor(idx), dim) if dim is not None else (
            x.take_along_dim(m.tensor(idx)))

    _check(torch, fn, [_rand(3, 4)], dtype)


def test_take_along_dim_broadcasts_the_input_too(torch):
    x, idx = _rand(1, 4), np.array([[0], [3], [1]])
    _check(torch, lambda m, a: m.take_along_dim(a, m.tensor(idx), 1), [x])


def test_take_along_dim_errors():
    x = nabla.zeros(3, 4)
    with pytest.raises(nabla.ShapeError, match="same number of dimensions"):
        x.take_along_dim(nabla.tensor([0]), 1)
    with pytest.raises(nabla.ShapeError, match="cannot be broadcast"):
        x.take_along_dim(nabla.zeros(2, 1, dtype=nabla.int64), 1)
    with pytest.raises(TypeError, match="integer tensor"):
        x.take_along_dim(nabla.zeros(3, 1), 1)
    with pytest.raises(IndexError, match="out of range"):
        x.take_along_dim(nabla.tensor([[4]]), 1)


# ------------------------------------------------------------------------------ isin
def test_isin_matches_torch(torch):
    cases = [
        lambda m: m.isin(m.tensor([[1, 2], [3, 4]]), m.tensor([4, 1, 9])),
        lambda m: m.isin(m.tensor([1, 2, 3]), 2),
        lambda m: m.isin(2.0, m.tensor([1, 2, 3])),
        lambda m: m.isin(m.tensor([1.5, 2.0, 3.0]), m.tensor([1, 2])),
        lambda m: m.isin(m.tensor([1, 2, 3]), m.tensor([[3], [5]]), invert=True),
        lambda m: m.isin(m.tensor([0.1, float("nan")]), 0.1),
        lambda m: m.isin(m.tensor([0.1, float("nan")]), m.tensor([float("nan")])),
        lambda m: m.isin(m.tensor([1, 2]), m.tensor([], dtype=m.int64)),
    ]
    for case in cases:
        ours, theirs = case(nabla), case(torch)
        assert ours.tolist() == theirs.tolist()
        assert ours.dtype == nabla.bool and tuple(ours.shape) == tuple(theirs.shape)
        assert not ours.requires_grad


def test_isin_needs_a_tensor():
    with pytest.raises(TypeError, match="elements or test_elements must be a tensor"):
        nabla.isin(1, 2)


# --------------------------------------------------------- index and range factories
@pytest.mark.parametrize("row,col,offset", [
    (3, 3, 0), (3, 4, 1), (4, 3, -1), (0, 0, 0), (3, 5, 7), (5, 3, -7), (1, 6, 2)])
def test_tril_and_triu_indices_match_torch(torch, row, col, offset):
    for name in ("tril_indices", "triu_indices"):
        ours = getattr(nabla, name)(row, col, offset)
        theirs = getattr(torch, name)(row, col, offset)
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == nabla.int64
        assert ours.tolist() == theirs.tolist()
    assert nabla.tril_indices(3, 3, dtype=nabla.int32).dtype == nabla.int32


def test_tril_indices_errors():
    with pytest.raises(ValueError, match="row must be non-negative"):
        nabla.tril_indices(-1, 3)
    with pytest.raises(ValueError, match="col must be non-negative"):
        nabla.triu_indices(2, -3)
    with pytest.raises(TypeError, match="integer dtype"):
        nabla.tril_indices(2, 2, dtype=nabla.float32)


@pytest.mark.parametrize("args,kwargs", [
    ((0, 2, 3), {}), ((-1, 1, 5), {"base": 3}), ((0, 1, 0), {}), ((2, -2, 7), {}),
    ((0, 3, 4), {"base": 2.0, "dtype": "float64"}), ((0, 2, 5), {"dtype": "int64"}),
    ((-1, 1, 5), {"base": 3, "dtype": "int64"}), ((1, 1, 1), {})])
def test_logspace_matches_torch(torch, args, kwargs):
    name = kwargs.pop("dtype", None)
    ours = nabla.logspace(*args, **kwargs, dtype=name and getattr(nabla, name))
    theirs = torch.logspace(*args, **kwargs, dtype=name and getattr(torch, name))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        nabla.logspace(0, 1, -1)


# ----------------------------------------------------------------------- nabla.linalg
ORDS = [2, 1, math.inf, -math.inf, 0, 3, 0.5, -1.5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ORDS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-2, True),
                                         ((0, 2), False)])
def test_vector_norm_matches_torch(torch, dtype, ord, dim, keepdim):
    x = _rand(2, 3, 4)
    x[0, 1, 2] = x[1, 0, 0] = 3.5  # ties for the inf norms' gradient
    _check(torch, lambda m, a: m.linalg.vector_norm(a, ord, dim, keepdim), [x], dtype)


@pytest.mark.parametrize("ord", [2, 1, math.inf, 0, 3])
def test_vector_norm_gradient_at_zero_is_torchs(torch, ord):
    # torch takes the subgradient 0 at the origin (no nan) for ord 2 and the others
    _check(torch, lambda m, a: m.linalg.vector_norm(a, ord, dim=1),
           [np.array([[0.0, 0.0, 0.0], [0.0, 2.0, -1.0]])])


def test_vector_norm_of_ints_is_refused_and_dtype_casts(torch):
    with pytest.raises(TypeError, match="floating point"):
        nabla.linalg.vector_norm(nabla.tensor([3, 4]))
    with pytest.raises(ValueError, match="ord must be a number"):
        nabla.linalg.vector_norm(nabla.ones(2), ord="fro")
    ours = nabla.linalg.vector_norm(nabla.tensor([3.0, 4.0]), dtype=nabla.float64)
    theirs = torch.linalg.vector_norm(torch.tensor([3.0, 4.0]), dtype=torch.float64)
    assert ours.item() == theirs.item() and ours.dtype == nabla.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 1), False)])
def test_matrix_norm_matches_torch(torch, dtype, ord, dim, keepdim):
    _check(torch, lambda m, a: m.linalg.matrix_norm(a, ord, dim, keepdim), [_rand(2, 3, 4)],
           dtype)


@pytest.mark.parametrize("shape,ord,dim", [
    ((2, 3, 4), None, None), ((5,), None, None), ((5,), 1, None), ((5,), -math.inf, None),
    ((3, 4), None, None), ((3, 4), "fro", None), ((3, 4), 1, None), ((3, 4), math.inf, None),
    ((3, 4), 3, 1), ((2, 3, 4), None, (0, 1)), ((2, 3, 4), -1, (2, 0)), ((2, 3, 4), 0, (1,)),
    ((3, 4), None, -1)])
def test_norm_picks_torchs_norm(torch, shape, ord, dim):
    for keepdim in (False, True):
        _check(torch, lambda m, a, k=keepdim: m.linalg.norm(a, ord, dim, k), [_rand(*shape)])


def test_norms_needing_singular_values_say_so():
    a = nabla.ones(3, 3)
    for ord in ("nuc", 2, -2):
        with pytest.raises(NotImplementedError, match=f"ord={ord!r} needs singular values"):
            nabla.linalg.norm(a, ord=ord)
    with pytest.raises(ValueError, match="ord must be 'fro'"):
        nabla.linalg.matrix_norm(a, ord=3)
    with pytest.raises(nabla.ShapeError, match="1-D or 2-D"):
        nabla.linalg.norm(nabla.ones(2, 2, 2), ord=1)
    with pytest.raises(ValueError, match="matrix norm"):
        nabla.linalg.norm(nabla.ones(3), ord="fro")
    with pytest.raises(nabla.ShapeError, match="at least 2 dimensions"):
        nabla.linalg.matrix_norm(nabla.ones(3))
    with pytest.raises(nabla.ShapeError, match="empty"):
        nabla.linalg.vector_norm(nabla.ones(0), ord=math.inf)


def test_linalg_is_loaded_lazily_and_both_imports_work():
    from nabla import linalg

    assert linalg is nabla.linalg and callable(linalg.vector_norm)
    code = ("import sys, nabla\nassert 'nabla.linalg' not in sys.modules\n"
            "nabla.linalg.norm(nabla.ones(2))\nassert 'nabla.linalg' in sys.modules\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
