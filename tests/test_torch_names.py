"""Small PyTorch names that course code reaches for: the constants and the type tests."""

from __future__ import annotations

import math

import pytest

import nabla


def test_constants_are_torchs(torch):
    for name in ("inf", "nan", "pi", "e"):
        ours, theirs = getattr(nabla, name), getattr(torch, name)
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), name


def test_is_tensor_and_is_floating_point():
    p = nabla.nn.Parameter(nabla.zeros(2))
    assert nabla.is_tensor(nabla.ones(1)) and nabla.is_tensor(p)
    assert not nabla.is_tensor([1.0]) and not nabla.is_tensor(1.0)
    assert nabla.is_floating_point(nabla.ones(1))
    assert not nabla.is_floating_point(nabla.ones(1, dtype=nabla.int64))


def test_normal_forms_give_torchs_shapes_and_dtypes(torch):
    cases = [
        lambda m: m.normal(m.zeros(2, 3), m.ones(3)),
        lambda m: m.normal(m.zeros(4, dtype=m.float64), 2.0),
        lambda m: m.normal(1.0, m.ones(5)),
        lambda m: m.normal(0.0, 1.0, size=(3, 2)),
        lambda m: m.normal(0.0, 1.0, (7,)),
    ]
    for case in cases:
        ours, theirs = case(nabla), case(torch)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        assert not ours.requires_grad


def test_normal_and_bernoulli_sample_the_right_distribution_reproducibly():
    g = nabla.Generator().manual_seed(3)
    x = nabla.normal(nabla.full((20000,), 2.0), 0.5, generator=g)
    assert abs(x.mean().item() - 2.0) < 0.02 and abs(x.std().item() - 0.5) < 0.02
    p = nabla.full((20000,), 0.3)
    b = nabla.bernoulli(p, generator=nabla.Generator().manual_seed(3))
    assert set(b.unique().tolist()) == {0.0, 1.0} and abs(b.mean().item() - 0.3) < 0.02
    again = nabla.bernoulli(p, generator=nabla.Generator().manual_seed(3))
    assert nabla.equal(b, again)
    assert nabla.bernoulli(nabla.zeros(3), p=1.0).tolist() == [1.0, 1.0, 1.0]


def test_normal_and_bernoulli_refuse_what_torch_refuses():
    with pytest.raises(ValueError, match="std >= 0"):
        nabla.normal(nabla.zeros(2), -1.0)
    with pytest.raises(TypeError, match="needs a size"):
        nabla.normal(0.0, 1.0)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        nabla.bernoulli(nabla.tensor([0.5, 1.5]))


# 'mean' warns that it is not the KL divergence, in torch and in nabla alike
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_kl_div_loss_module_matches_torch(torch):
    import numpy as np

    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((4, 5)), rng.dirichlet(np.ones(5), size=4)
    for reduction in ("mean", "sum", "batchmean", "none"):
        for log_target in (False, True):
            tgt = np.log(target) if log_target else target
            x = nabla.tensor(logits, requires_grad=True)
            t = torch.tensor(logits, requires_grad=True)
            ours = nabla.nn.KLDivLoss(reduction=reduction, log_target=log_target)(
                x.log_softmax(-1), nabla.tensor(tgt))
            theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(
                t.log_softmax(-1), torch.tensor(tgt))
            np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                                       rtol=1e-12, atol=1e-15)
            ours.sum().backward()
            theirs.sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-15)
    with pytest.raises(ValueError):
        nabla.nn.KLDivLoss(reduction="avg")


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
def test_finfo_matches_torch(name, torch):
    ours, theirs = nabla.finfo(getattr(nabla, name)), torch.finfo(getattr(torch, name))
    for field in ("eps", "max", "min", "tiny", "smallest_normal", "resolution", "bits", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
        assert type(getattr(ours, field)) is type(getattr(theirs, field)), field


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8"])
def test_iinfo_matches_torch(name, torch):
    ours, theirs = nabla.iinfo(getattr(nabla, name)), torch.iinfo(getattr(torch, name))
    assert (ours.min, ours.max, ours.bits, ours.dtype) == (
        theirs.min, theirs.max, theirs.bits, theirs.dtype)


def test_finfo_and_iinfo_refuse_the_other_kind():
    with pytest.raises(TypeError, match="use iinfo"):
        nabla.finfo(nabla.int64)
    with pytest.raises(TypeError, match="use finfo"):
        nabla.iinfo(nabla.float32)
    assert nabla.finfo().bits == 32  # the default dtype


def test_clamp_min_max_and_hstack_vstack_match_torch(torch):
    import numpy as np

    a, b = np.arange(6.0).reshape(2, 3) - 2, np.ones((2, 1))
    x = nabla.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    ours = x.clamp_min(0.5) + x.clamp_max(1.0)
    theirs = t.clamp_min(0.5) + t.clamp_max(1.0)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    for fn in ("hstack", "vstack"):
        for args in ([a, a], [a[0], a[1]]) if fn == "vstack" else ([a, b], [a[0], a[1]]):
            ours = getattr(nabla, fn)([nabla.tensor(v) for v in args])
            theirs = getattr(torch, fn)([torch.tensor(v) for v in args])
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _arrays():
    import numpy as np

    rng = np.random.default_rng(5)
    a = rng.uniform(0.1, 2.0, (2, 3)).astype(np.float32)
    b = rng.uniform(0.1, 2.0, (2, 3)).astype(np.float32)
    return a, b, rng.uniform(0.1, 2.0, (3, 4)).astype(np.float32), a[0], b[0]


_FUNCTION_FORMS = [
    lambda m, a, b, c, v, w: m.mm(a, c),
    lambda m, a, b, c, v, w: m.dot(v, w),
    lambda m, a, b, c, v, w: m.ger(v, w),
    lambda m, a, b, c, v, w: m.addcmul(a, a, b, value=0.5),
    lambda m, a, b, c, v, w: m.addcdiv(a, a, b, value=2.0),
    lambda m, a, b, c, v, w: m.broadcast_to(v, (2, 3)),
    lambda m, a, b, c, v, w: m.clamp_min(a, 0.7),
    lambda m, a, b, c, v, w: m.clamp_max(a, 0.7),
    lambda m, a, b, c, v, w: m.divide(a, b),
    lambda m, a, b, c, v, w: m.true_divide(a, b),
    lambda m, a, b, c, v, w: m.multiply(a, b),
    lambda m, a, b, c, v, w: m.subtract(a, b),
    lambda m, a, b, c, v, w: m.reciprocal(a),
    lambda m, a, b, c, v, w: m.masked_fill(a, a > 1.0, 0.0),
    lambda m, a, b, c, v, w: m.swapaxes(a, 0, 1),
]
_IN_PLACE = ["abs_", "cos_", "exp_", "log_", "neg_", "negative_", "relu_", "sigmoid_", "sin_",
             "sqrt_", "square_", "tanh_", "reciprocal_", "zero_"]


@pytest.mark.parametrize("form", _FUNCTION_FORMS)
def test_function_forms_of_methods_match_torch(form, torch):
    arrays = _arrays()
    ours = form(nabla, *[nabla.tensor(x) for x in arrays])
    theirs = form(torch, *[torch.tensor(x) for x in arrays])
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.numpy() == pytest.approx(theirs.numpy(), rel=1e-6)


@pytest.mark.parametrize("name", _IN_PLACE + ["clamp_", "clip_", "fill_"])
def test_in_place_function_forms_change_their_argument_as_torch(name, torch):
    args = {"clamp_": (0.5, 1.0), "clip_": (0.5, 1.0), "fill_": (2.0,)}.get(name, ())
    a = _arrays()[0]
    t, tt = nabla.tensor(a), torch.tensor(a)
    assert getattr(nabla, name)(t, *args) is t
    getattr(torch, name)(tt, *args)
    assert t.numpy() == pytest.approx(tt.numpy(), rel=1e-6)


def test_torchs_functions_that_are_also_methods_have_function_forms(torch):
    # PyTorch offers most tensor methods as torch.<name>(tensor, ...) too; course code uses
    # both spellings. Each method nabla has must then exist as a function as well.
    methods = {n for n in dir(torch.Tensor) if not n.startswith("_")}
    functions = {n for n in dir(torch) if not n.startswith("_") and callable(getattr(torch, n))}
    ours = {n for n in dir(nabla.Tensor) if not n.startswith("_")}
    missing = sorted((methods & functions & ours) - set(dir(nabla)) - {"dtype"})
    assert not missing, f"methods without their torch.<name> function form: {missing}"


@pytest.mark.parametrize("view", [
    lambda x: x,
    lambda x: x.transpose(0, 2),
    lambda x: x[:, ::2],
    lambda x: x[0:1].expand(5, 3, 4),
    lambda x: x[1, 2],
    lambda x: x.permute(2, 0, 1)[1:],
    lambda x: x.reshape(6, 4).t(),
    lambda x: x[:1].transpose(0, 1),  # a size-1 dim's step does not count
    lambda x: x[:, 1],
    lambda x: x[:, :0].transpose(1, 2),
])
def test_layout_introspection_matches_torch(view, torch):
    x, tx = nabla.arange(24.0).reshape(2, 3, 4), torch.arange(24.0).reshape(2, 3, 4)
    ours, theirs = view(x), view(tx)
    assert ours.stride() == theirs.stride()
    for d in range(-ours.ndim, ours.ndim):
        assert ours.stride(d) == theirs.stride(d)
    assert ours.ndimension() == theirs.ndimension()
    assert (ours.nbytes, ours.itemsize) == (theirs.nbytes, theirs.itemsize)
    # a view's first element sits at the same offset from its base's as in PyTorch (an
    # empty one has none: 0)
    if theirs.numel() == 0:
        assert ours.data_ptr() == theirs.data_ptr() == 0
    else:
        assert ours.data_ptr() - x.data_ptr() == theirs.data_ptr() - tx.data_ptr()
    assert ours.is_contiguous() == theirs.is_contiguous()
    c, tc = ours.contiguous(), theirs.contiguous()  # itself exactly where PyTorch's is
    assert (c is ours) == (tc is theirs) and c.is_contiguous() and c.stride() == tc.stride()
    assert c.tolist() == tc.tolist()


def test_contiguous_copy_records_its_gradient():
    x = nabla.arange(6.0, requires_grad=True)
    y = x.reshape(2, 3).t().contiguous()
    assert y.is_contiguous() and y.grad_fn is not None
    (y * nabla.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert x.grad.tolist() == [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]
