"""The ops of issue 20 (item 5), each through ``check_op``: NumPy reference in float32
and float64, gradcheck, and forward values and gradients against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import away, check_op, distinct, normal, off_bounds, positive

import nabla
import nabla.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None
# For the tests that call torch directly (check_op leaves torch out by itself).
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------ elementwise
@pytest.mark.parametrize("op", ["log2", "log10"])
def test_log2_log10(op, rng):
    x = positive(rng, (3, 4))
    check_op(op, lambda t: getattr(t, op)(), getattr(np, op), "same", [x])
    check_op(f"nabla.{op}", getattr(nabla, op), getattr(np, op),
             lambda t: getattr(torch, op)(t), [x])


def test_lerp_and_isclose(rng):
    a, b, w = normal(rng, (3, 4)), normal(rng, (3, 4)), rng.uniform(0, 1, (4,))
    check_op("lerp", lambda x, y, z: x.lerp(y, z), lambda x, y, z: x + z * (y - x), "same",
             [a, b, w])
    check_op("lerp_scalar", lambda x, y: nabla.lerp(x, y, 0.3), lambda x, y: x + 0.3 * (y - x),
             lambda x, y: torch.lerp(x, y, 0.3), [a, b])
    c = a.copy()
    c[0] += 1e-9
    c[1] += 1e-3
    got = nabla.isclose(nabla.tensor(a), nabla.tensor(c)).numpy()
    np.testing.assert_array_equal(got, torch.isclose(torch.tensor(a), torch.tensor(c)).numpy())
    assert got.dtype == np.bool_ and got[0].all() and not got[1].any()


def test_cumprod(rng):
    x = normal(rng, (3, 4, 2))
    for d in (0, 1, -1):
        check_op(f"cumprod({d})", lambda t, d=d: t.cumprod(d),
                 lambda a, d=d: np.cumprod(a, d), "same", [x])
    z = normal(rng, (2, 5))
    z[0, 1] = z[1, 3] = z[1, 4] = 0.0  # exact gradients through zeros, as PyTorch's
    check_op("cumprod_zeros", lambda t: nabla.cumprod(t, 1), lambda a: np.cumprod(a, 1),
             lambda t: torch.cumprod(t, 1), [z])


# ------------------------------------------------------------------- order
@pytest.mark.parametrize("descending", [False, True])
def test_sort_argsort(descending, rng):
    x = distinct(rng, (3, 5))
    for d in (0, 1, -1):
        check_op(f"sort({d}, {descending})", lambda t, d=d: t.sort(d, descending),
                 lambda a, d=d: (np.sort(a, d)[:, ::-1] if d else np.sort(a, d)[::-1])
                 if descending and False else _np_sort(a, d, descending), "same", [x])
        check_op(f"argsort({d})", lambda t, d=d: t.argsort(d, descending=descending),
                 lambda a, d=d: _np_sort(a, d, descending)[1], "same", [x])


def _np_sort(a, d, descending):
    idx = np.argsort(-a if descending else a, axis=d, kind="stable")
    return np.take_along_axis(a, idx, d), idx


@needs_torch
def test_sort_is_stable_with_ties_like_torch():
    x = np.array([[2, 1, 2, 1, 3, 1], [0, 0, 0, 1, 1, 0]])
    for descending in (False, True):
        for dt in (np.int64, np.float64):
            got = nabla.tensor(x.astype(dt)).sort(descending=descending, stable=True)
            want = torch.tensor(x.astype(dt)).sort(descending=descending, stable=True)
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    f = np.array([1.0, np.nan, -2.0, 3.0])
    for descending in (False, True):
        got = nabla.tensor(f).sort(descending=descending)
        want = torch.tensor(f).sort(descending=descending)
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


@pytest.mark.parametrize("largest", [True, False])
def test_topk(largest, rng):
    x = distinct(rng, (4, 6))
    for d, k in ((1, 3), (0, 2), (-1, 6)):
        check_op(f"topk({k}, {d}, {largest})", lambda t, d=d, k=k: t.topk(k, d, largest),
                 lambda a, d=d, k=k: tuple(np.take(s, np.arange(k), d)
                                           for s in _np_sort(a, d, largest)),
                 "same", [x])
    got = nabla.topk(nabla.tensor(x), 2)
    assert got.values.shape == (4, 2) and got._fields == ("values", "indices")
    with pytest.raises(IndexError, match="k"):
        nabla.tensor(x).topk(7)


# --------------------------------------------------------- triangles, rolls
@pytest.mark.parametrize("op", ["tril", "triu"])
def test_tril_triu(op, rng):
    x = normal(rng, (2, 3, 4))
    for k in (0, 1, -1, 5):
        check_op(f"{op}({k})", lambda t, k=k: getattr(t, op)(k),
                 lambda a, k=k: getattr(np, op)(a, k), "same", [x])
    check_op(f"nabla.{op}", lambda t: getattr(nabla, op)(t, diagonal=-1),
             lambda a: getattr(np, op)(a, -1), lambda t: getattr(torch, op)(t, diagonal=-1), [x])
    with pytest.raises(nabla.ShapeError, match="2 dimensions"):
        getattr(nabla.ones(3), op)()


def test_roll(rng):
    x = normal(rng, (3, 4))
    cases = [(1, None), (-2, 0), ((1, -3), (0, 1)), (5, 1), ((2,), None)]
    for shifts, dims in cases:
        check_op(f"roll({shifts}, {dims})", lambda t, s=shifts, d=dims: t.roll(s, d),
                 lambda a, s=shifts, d=dims: np.roll(a, s, d), "same", [x])


# ------------------------------------------------------------------ indexing
def test_gather(rng):
    x = normal(rng, (3, 4))
    idx = rng.integers(0, 4, (3, 5))  # repeats: their gradients add up
    check_op("gather(1)", lambda t, i: t.gather(1, i),
             lambda a, i: np.take_along_axis(a, i, 1), "same", [x, idx])
    idx0 = rng.integers(0, 3, (2, 3))  # smaller than the input in the other dim
    check_op("gather(0)", lambda t, i: nabla.gather(t, 0, i),
             lambda a, i: np.take_along_axis(a[:, :3], i, 0),
             lambda t, i: torch.gather(t, 0, i), [x, idx0])
    with pytest.raises(IndexError, match="out of range"):
        nabla.tensor(x).gather(1, nabla.tensor([[4]] * 3))


def _perm_index(rng, shape, n, axis):
    """Distinct indices along ``axis`` (scatter with repeats is order-dependent)."""
    moved = list(shape)
    moved[axis], moved[-1] = moved[-1], moved[axis]
    rows = [rng.permutation(n)[: shape[axis]] for _ in range(int(np.prod(moved[:-1])))]
    return np.moveaxis(np.array(rows).reshape(moved), -1, axis)


def test_scatter_and_scatter_add(rng):
    x, src = normal(rng, (4, 5)), normal(rng, (3, 6))
    idx = _perm_index(rng, (3, 5), 4, 0)

    def ref_scatter(a, s, i):
        out = a.copy()
        for r in range(i.shape[0]):
            for c in range(i.shape[1]):
                out[i[r, c], c] = s[r, c]
        return out

    check_op("scatter", lambda t, s, i: t.scatter(0, i, s), ref_scatter, "same",
             [x, src[:, :5], idx])
    # a src larger than the index (PyTorch's own backward refuses that shape)
    check_op("scatter_big_src", lambda t, s, i: t.scatter(0, i, s), ref_scatter, None,
             [x, src, idx])
    check_op("scatter_value", lambda t, i: t.scatter(0, i, 2.5),
             lambda a, i: ref_scatter(a, np.full((3, 6), 2.5), i), "same", [x, idx])
    rep = rng.integers(0, 5, (4, 6))  # repeats accumulate

    def ref_add(a, s, i):
        out = a.copy()
        np.add.at(out, (np.arange(4)[:, None], i), s[:4, :6])
        return out

    check_op("scatter_add", lambda t, s, i: t.scatter_add(1, i, s), ref_add,
             None, [x, normal(rng, (4, 7)), rep])
    check_op("nabla.scatter_add", lambda t, s, i: nabla.scatter_add(t, 1, i, s), ref_add,
             lambda t, s, i: torch.scatter_add(t, 1, i, s), [x, normal(rng, (4, 6)), rep])


def test_index_select_and_masked_select(rng):
    x = normal(rng, (3, 4))
    idx = np.array([2, 0, 2, 3])
    check_op("index_select(1)", lambda t, i: t.index_select(1, i),
             lambda a, i: np.take(a, i, 1), "same", [x, idx])
    check_op("index_select(0)", lambda t, i: nabla.index_select(t, 0, i),
             lambda a, i: np.take(a, i, 0), lambda t, i: torch.index_select(t, 0, i),
             [x, np.array([1, 1])])
    mask = rng.random((4,)) > 0.4
    check_op("masked_select", lambda t, m: t.masked_select(m),
             lambda a, m: np.broadcast_to(a, (3, 4))[np.broadcast_to(m, (3, 4))], "same",
             [x, mask])


@needs_torch
def test_nonzero_unique_bincount(rng):
    x = rng.integers(-1, 3, (3, 4)) * (rng.random((3, 4)) > 0.3)
    n, t = nabla.tensor(x), torch.tensor(x)
    np.testing.assert_array_equal(n.nonzero().numpy(), t.nonzero().numpy())
    for a, b in zip(nabla.nonzero(n, as_tuple=True), torch.nonzero(t, as_tuple=True)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}, {"dim": 0}, {"dim": 1}):
        got, want = nabla.unique(n, **kw), torch.unique(t, **kw)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        assert len(got) == len(want), kw
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=str(kw))
            assert a.dtype.name == str(b.dtype).split(".")[1]
    c = rng.integers(0, 5, 20)
    w = rng.random(20)
    for kw in ({}, {"minlength": 9}):
        got = nabla.bincount(nabla.tensor(c), **kw)
        want = torch.bincount(torch.tensor(c), **kw)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert got.dtype == nabla.int64
    for dt in ("float32", "float64"):
        got = nabla.tensor(c).bincount(nabla.tensor(w.astype(dt)))
        want = torch.tensor(c).bincount(torch.tensor(w.astype(dt)))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        assert got.dtype.name == str(want.dtype).split(".")[1]
    with pytest.raises(ValueError, match="non-negative"):
        nabla.tensor([1, -1]).bincount()


@needs_torch
def test_histc_and_histogram(rng):
    x = rng.standard_normal(200)
    for dt in ("float32", "float64"):
        xs = x.astype(dt)
        for kw in ({"bins": 7}, {"bins": 5, "min": -1, "max": 1}, {"bins": 10, "min": 0, "max": 3}):
            got = nabla.histc(nabla.tensor(xs), **kw)
            want = torch.histc(torch.tensor(xs), **kw)
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=str(kw))
            assert got.dtype.name == dt
    for kw in ({"bins": 6}, {"bins": 4, "range": (-1.0, 2.0)}, {"bins": 5, "density": True}):
        got = nabla.histogram(nabla.tensor(x), **kw)
        want = torch.histogram(torch.tensor(x), **kw)
        np.testing.assert_allclose(got.hist.numpy(), want.hist.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got.bin_edges.numpy(), want.bin_edges.numpy(), rtol=1e-12)
    edges = np.array([-2.0, 0.0, 0.5, 3.0])
    got = nabla.tensor(x).histogram(nabla.tensor(edges), weight=nabla.tensor(x * x))
    want = torch.tensor(x).histogram(torch.tensor(edges), weight=torch.tensor(x * x))
    np.testing.assert_allclose(got.hist.numpy(), want.hist.numpy(), rtol=1e-12)


# ------------------------------------------------------------- matrix forms
def test_outer_diag_bmm_baddbmm(rng):
    u, v = normal(rng, (3,)), normal(rng, (4,))
    check_op("outer", lambda a, b: a.outer(b), np.outer, "same", [u, v])
    check_op("nabla.outer", nabla.outer, np.outer, lambda a, b: torch.outer(a, b), [u, v])
    for k in (0, 1, -2):
        check_op(f"diag_vector({k})", lambda a, k=k: a.diag(k), lambda a, k=k: np.diag(a, k),
                 "same", [u])
        m = normal(rng, (3, 5))
        check_op(f"diag_matrix({k})", lambda a, k=k: nabla.diag(a, k),
                 lambda a, k=k: np.diag(a, k).copy(), lambda a, k=k: torch.diag(a, k), [m])
    a, b, c = normal(rng, (2, 3, 4)), normal(rng, (2, 4, 5)), normal(rng, (2, 3, 5))
    check_op("bmm", lambda x, y: x.bmm(y), np.matmul, "same", [a, b])
    check_op("baddbmm", lambda z, x, y: z.baddbmm(x, y, beta=0.5, alpha=2.0),
             lambda z, x, y: 0.5 * z + 2.0 * (x @ y), "same", [c, a, b])
    check_op("nabla.baddbmm", lambda z, x, y: nabla.baddbmm(z, x, y),
             lambda z, x, y: z + x @ y, lambda z, x, y: torch.baddbmm(z, x, y),
             [normal(rng, (3, 1)), a, b])
    with pytest.raises(nabla.ShapeError, match="bmm"):
        nabla.ones(2, 3).bmm(nabla.ones(2, 3))


EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("...j,jk->...k", [(2, 3, 4), (4, 5)]),
    ("b...,b->...", [(2, 3, 4), (2,)]),
    ("ijk,jl,lk->il", [(2, 3, 4), (3, 5), (5, 4)]),
    ("iji->j", [(3, 2, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
]


@pytest.mark.parametrize("eq, shapes", EINSUMS)
def test_einsum(eq, shapes, rng):
    xs = [normal(rng, s) for s in shapes]
    check_op(f"einsum({eq})", lambda *t: nabla.einsum(eq, *t), lambda *a: np.einsum(eq, *a),
             lambda *t: torch.einsum(eq, *t), xs)


def test_einsum_errors():
    with pytest.raises(nabla.ShapeError, match="'j'"):
        nabla.einsum("ij,jk->ik", nabla.ones(2, 3), nabla.ones(4, 2))
    with pytest.raises(ValueError, match="operands"):
        nabla.einsum("ij,jk->ik", nabla.ones(2, 3))
    assert nabla.einsum("ij,jk->ik", [nabla.ones(2, 3), nabla.ones(3, 1)]).shape == (2, 1)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing, rng):
    xs = [normal(rng, (3,)), normal(rng, (4,)), normal(rng, (2,))]
    check_op(f"meshgrid({indexing})", lambda *t: nabla.meshgrid(*t, indexing=indexing),
             lambda *a: np.meshgrid(*a, indexing=indexing),
             lambda *t: torch.meshgrid(*t, indexing=indexing), xs)
    check_op(f"meshgrid2({indexing})", lambda *t: nabla.meshgrid(list(t), indexing=indexing),
             lambda *a: np.meshgrid(*a, indexing=indexing),
             lambda *t: torch.meshgrid(list(t), indexing=indexing), xs[:2])


# ------------------------------------------------------------------ keepdims
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "prod", "logsumexp", "std",
                                "var"])
def test_keepdims_is_keepdim(op, rng):
    # PyTorch takes NumPy's spelling wherever it takes keepdim (but not in norm)
    x = distinct(rng, (3, 4))
    fn = lambda t: getattr(t, op)(1, keepdims=True)  # noqa: E731
    check_op(f"{op}(keepdims)", fn, lambda a: _np_keep(op, a), "same", [x])


def _np_keep(op, a):
    f = {"amax": np.max, "amin": np.min, "logsumexp": lambda a, axis, keepdims: np.log(
        np.exp(a).sum(axis, keepdims=keepdims)), "std": lambda a, axis, keepdims: np.std(
        a, axis, ddof=1, keepdims=keepdims), "var": lambda a, axis, keepdims: np.var(
        a, axis, ddof=1, keepdims=keepdims)}.get(op) or getattr(np, op)
    return f(a, axis=1, keepdims=True)


@needs_torch
def test_keepdims_on_max_min_argmax(rng):
    x = distinct(rng, (3, 4))
    n, t = nabla.tensor(x), torch.tensor(x)
    for op in ("max", "min"):
        got, want = getattr(n, op)(0, keepdims=True), getattr(t, op)(0, keepdims=True)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    for op in ("argmax", "argmin"):
        np.testing.assert_array_equal(getattr(n, op)(1, keepdims=True).numpy(),
                                      getattr(t, op)(1, keepdims=True).numpy())
    assert nabla.sum(n, 1, keepdims=True).shape == (3, 1)


# --------------------------------------------------------------- multinomial
def test_multinomial_with_replacement_follows_the_weights():
    w = nabla.tensor([[1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 5.0, 0.0]])
    g = nabla.Generator().manual_seed(5)
    draws = w.multinomial(20000, replacement=True, generator=g)
    assert draws.shape == (2, 20000) and draws.dtype == nabla.int64
    freq = np.bincount(draws.numpy()[0], minlength=4) / 20000
    np.testing.assert_allclose(freq, [1 / 8, 0, 3 / 8, 4 / 8], atol=0.015)
    assert (draws.numpy()[1] == 2).all()
    again = w.multinomial(20000, replacement=True, generator=nabla.Generator().manual_seed(5))
    np.testing.assert_array_equal(again.numpy(), draws.numpy())


def test_multinomial_without_replacement():
    w = nabla.tensor([1.0, 0.0, 2.0, 1.0, 4.0])
    g = nabla.Generator().manual_seed(1)
    firsts = []
    for _ in range(3000):
        d = nabla.multinomial(w, 4, generator=g).numpy()
        assert sorted(d.tolist()) == [0, 2, 3, 4]  # distinct, never the zero weight
        firsts.append(d[0])
    freq = np.bincount(firsts, minlength=5) / 3000
    np.testing.assert_allclose(freq, [1 / 8, 0, 2 / 8, 1 / 8, 4 / 8], atol=0.03)
    nabla.manual_seed(3)
    a = w.multinomial(2)
    nabla.manual_seed(3)
    np.testing.assert_array_equal(w.multinomial(2).numpy(), a.numpy())
    with pytest.raises(ValueError, match="non-zero weight"):
        w.multinomial(5)
    with pytest.raises(ValueError, match="without replacement"):
        w.multinomial(6)
    with pytest.raises(ValueError, match="non-negative"):
        nabla.tensor([1.0, -1.0]).multinomial(1)


# ---------------------------------------------------------------- functional
def test_elu_hardtanh_logsigmoid(rng):
    x = away(rng, (3, 4)) * 3
    for alpha in (1.0, 0.5):
        check_op(f"elu({alpha})", lambda t, a=alpha: F.elu(t, a),
                 lambda v, a=alpha: np.where(v > 0, v, a * np.expm1(v)),
                 lambda t, a=alpha: TF.elu(t, a), [x])
    with np.errstate(over="ignore"):  # the reference's unused branch overflows
        check_op("elu_big", F.elu, lambda v: np.where(v > 0, v, np.expm1(v)), TF.elu,
                 [np.array([800.0, -800.0, 1.5])])
    check_op("hardtanh", F.hardtanh, lambda v: np.clip(v, -1, 1), TF.hardtanh,
             [off_bounds(rng, (3, 4)) * 2])
    check_op("hardtanh(-0.5, 2)", lambda t: F.hardtanh(t, -0.5, 2.0),
             lambda v: np.clip(v, -0.5, 2.0), lambda t: TF.hardtanh(t, -0.5, 2.0),
             [off_bounds(rng, (3, 4))])
    check_op("logsigmoid", F.logsigmoid, lambda v: -np.logaddexp(0, -v), TF.logsigmoid,
             [np.concatenate([normal(rng, (6,)) * 5, [-40.0, 40.0]])])


def test_glu(rng):
    x = normal(rng, (2, 4, 6))
    for d in (-1, 1):
        check_op(f"glu({d})", lambda t, d=d: F.glu(t, d),
                 lambda v, d=d: np.split(v, 2, d)[0] / (1 + np.exp(-np.split(v, 2, d)[1])),
                 lambda t, d=d: TF.glu(t, d), [x])
    with pytest.raises(ValueError, match="even"):
        F.glu(nabla.ones(3))


@needs_torch
def test_normalize_and_cosine_similarity(rng):
    x = normal(rng, (3, 4))
    check_op("normalize", F.normalize,
             lambda v: v / np.sqrt((v * v).sum(1, keepdims=True)), TF.normalize, [x])
    check_op("normalize(p=1, dim=0)", lambda t: F.normalize(t, p=1.0, dim=0),
             lambda v: v / np.abs(v).sum(0, keepdims=True),
             lambda t: TF.normalize(t, p=1.0, dim=0), [away(rng, (3, 4))])
    y = normal(rng, (1, 4))

    def ref(a, b):
        return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))

    check_op("cosine_similarity", F.cosine_similarity, ref, TF.cosine_similarity, [x, y])
    check_op("cosine_similarity(dim=0)", lambda a, b: F.cosine_similarity(a, b, dim=0),
             lambda a, b: ref(a.T, b.T), lambda a, b: TF.cosine_similarity(a, b, dim=0),
             [x, normal(rng, (3, 4))])
    z = np.zeros((2, 4))  # a zero vector: eps keeps it finite, as in PyTorch
    check_op("cosine_similarity_zero", F.cosine_similarity, lambda a, b: np.zeros(2),
             TF.cosine_similarity, [z, normal(rng, (2, 4))], grad=False)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, rng):
    logp = np.log(rng.dirichlet(np.ones(5), 3))
    q = rng.dirichlet(np.ones(5), 3)
    q[0, 1] = 0.0  # a zero target contributes 0, not nan
    target = np.log(rng.dirichlet(np.ones(5), 3)) if log_target else q

    def ref(x, t):
        loss = np.exp(t) * (t - x) if log_target else np.where(
            t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x
        return {"none": loss, "sum": loss.sum(), "mean": loss.mean(),
                "batchmean": loss.sum() / x.shape[0]}[reduction]

    kw = {"reduction": reduction, "log_target": log_target}
    nondiff = () if log_target else (1,)  # d/dt of t log t is -inf at t == 0
    if reduction == "mean":
        with pytest.warns(UserWarning, match="batchmean"):
            F.kl_div(nabla.tensor(logp), nabla.tensor(target), **kw)
    check_op(f"kl_div({reduction}, {log_target})", lambda x, t: F.kl_div(x, t, **kw), ref,
             lambda x, t: TF.kl_div(x, t, **kw), [logp, target], nondiff=nondiff)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes(mode, rng):
    x = normal(rng, (2, 3, 4, 5))
    cases = [(1, 2), (2, 1, 1, 3), (0, 3, 2, 0)]
    if mode == "constant":
        cases += [(1, 1, 0, 2, 1, 0)]
    for p in cases:
        xx = x[0] if len(p) == 2 and mode != "constant" else x
        npad = [(0, 0)] * (xx.ndim - len(p) // 2) + [
            (p[2 * i], p[2 * i + 1]) for i in reversed(range(len(p) // 2))]
        np_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
        check_op(f"pad({p}, {mode})", lambda t, p=p: F.pad(t, p, mode=mode),
                 lambda a, n=npad, m=np_mode: np.pad(a, n, mode=m),
                 lambda t, p=p: TF.pad(t, p, mode=mode), [xx])
    check_op("pad(value)", lambda t: F.pad(t, (1, 1), value=2.5),
             lambda a: np.pad(a, [(0, 0)] * 3 + [(1, 1)], constant_values=2.5),
             lambda t: TF.pad(t, (1, 1), value=2.5), [x])


def test_pad_errors():
    with pytest.raises(ValueError, match="less than the size"):
        F.pad(nabla.ones(1, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        F.pad(nabla.ones(1, 3), (1, 0), mode="mirror")
    with pytest.raises(ValueError, match="even"):
        F.pad(nabla.ones(1, 3), (1,))
