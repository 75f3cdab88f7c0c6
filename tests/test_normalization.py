"""Normalization: batch/layer/group norm, functional and layers, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from _conv_helpers import assert_close, check_against_torch

import nabla
from nabla.nn.layers.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    LayerNorm,
)
from nabla.ops import norm as N

DTYPES = [np.float64, np.float32]


def _stats(torch, c, dtype, rng):
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2.0, c).astype(dtype)
    return (nabla.tensor(rm.copy()), nabla.tensor(rv.copy()),
            torch.tensor(rm.copy()), torch.tensor(rv.copy()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (3, 4, 5, 6), (2, 2, 3, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_torch(torch, shape, training, affine, dtype):
    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape) * 3 + 1
    w = rng.standard_normal(c) if affine else None
    b = rng.standard_normal(c) if affine else None
    rm, rv, trm, trv = _stats(torch, c, dtype, rng)
    check_against_torch(
        torch,
        lambda x, w, b: N.batch_norm(x, rm, rv, w, b, training, 0.3, 1e-4),
        lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, training, 0.3, 1e-4),
        [x, w, b], dtype,
    )
    # The running statistics moved the same way (unbiased variance for running_var).
    assert_close(rm.numpy(), trm.numpy(), dtype, "running_mean")
    assert_close(rv.numpy(), trv.numpy(), dtype, "running_var")


def test_batch_norm_bias_without_weight_and_no_running_stats(torch):
    rng = np.random.default_rng(1)
    check_against_torch(
        torch,
        lambda x, b: N.batch_norm(x, None, None, None, b, True),
        lambda x, b: torch.nn.functional.batch_norm(x, None, None, None, b, True),
        [rng.standard_normal((5, 3, 2)), rng.standard_normal(3)], np.float64,
    )


def test_batch_norm_input_without_grad_still_trains_affine(torch):
    rng = np.random.default_rng(2)
    rm, rv, trm, trv = _stats(torch, 4, np.float64, rng)
    check_against_torch(
        torch,
        lambda x, w, b: N.batch_norm(x, rm, rv, w, b, True),
        lambda x, w, b: torch.nn.functional.batch_norm(x, trm, trv, w, b, True),
        [rng.standard_normal((6, 4, 3, 3)), rng.standard_normal(4), rng.standard_normal(4)],
        np.float64, grads=[False, True, True],
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,nshape,affine,bias",
    [((4, 10), (10,), True, True), ((2, 3, 4, 5), (4, 5), True, True),
     ((2, 3, 6), (6,), False, False), ((3, 5, 2), (5, 2), True, False)],
)
def test_layer_norm_matches_torch(torch, shape, nshape, affine, bias, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 2 - 1
    w = rng.standard_normal(nshape) if affine else None
    b = rng.standard_normal(nshape) if bias else None
    check_against_torch(
        torch,
        lambda x, w, b: N.layer_norm(x, nshape, w, b, 1e-3),
        lambda x, w, b: torch.nn.functional.layer_norm(x, nshape, w, b, 1e-3),
        [x, w, b], dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,groups,affine",
    [((2, 6, 4, 4), 3, True), ((3, 4, 5), 2, True), ((2, 4, 3, 3), 4, False),
     ((2, 6), 1, True), ((2, 8, 2, 3, 2), 4, True)],
)
def test_group_norm_matches_torch(torch, shape, groups, affine, dtype):
    rng = np.random.default_rng(4)
    c = shape[1]
    x = rng.standard_normal(shape) + 0.5
    w = rng.standard_normal(c) if affine else None
    b = rng.standard_normal(c) if affine else None
    check_against_torch(
        torch,
        lambda x, w, b: N.group_norm(x, groups, w, b),
        lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b),
        [x, w, b], dtype,
    )


def test_instance_norm_matches_torch(torch):
    rng = np.random.default_rng(5)
    check_against_torch(
        torch, lambda x: N.instance_norm(x), lambda x: torch.nn.functional.instance_norm(x),
        [rng.standard_normal((2, 3, 4, 4))], np.float64,
    )


# ---------------------------------------------------------------------- gradcheck
def _f64(*shape, seed=0):
    return nabla.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_gradcheck_norms():
    x, w, b = _f64(4, 3, 2), _f64(3, seed=1), _f64(3, seed=2)
    rm, rv = nabla.zeros(3, dtype=nabla.float64), nabla.ones(3, dtype=nabla.float64)
    assert nabla.gradcheck(lambda x, w, b: N.batch_norm(x, None, None, w, b, True), (x, w, b))
    assert nabla.gradcheck(lambda x, w, b: N.batch_norm(x, rm, rv, w, b, False), (x, w, b))
    lw, lb = _f64(3, 2, seed=3), _f64(3, 2, seed=4)
    assert nabla.gradcheck(lambda x, w, b: N.layer_norm(x, (3, 2), w, b), (x, lw, lb))
    x6 = _f64(2, 6, 3, seed=5)
    w6, b6 = _f64(6, seed=6), _f64(6, seed=7)
    assert nabla.gradcheck(lambda x, w, b: N.group_norm(x, 3, w, b), (x6, w6, b6))


# ------------------------------------------------------------------------ layers
def _copy_state(torch, mine, ref):
    mine.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cls,shape", [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (4, 4, 6)),
                  ("BatchNorm2d", (4, 4, 3, 5)), ("BatchNorm3d", (2, 4, 2, 3, 2))]
)
def test_batchnorm_layers_train_and_eval_like_torch(torch, cls, shape, dtype):
    classes = dict(BatchNorm1d=BatchNorm1d, BatchNorm2d=BatchNorm2d, BatchNorm3d=BatchNorm3d)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    ref = getattr(torch.nn, cls)(4, momentum=0.2).to(tdt)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-1, 1)
    mine = classes[cls](4, momentum=0.2, dtype=nabla.float64 if dtype == np.float64 else None)
    _copy_state(torch, mine, ref)
    assert repr(mine) == repr(ref)
    rng = np.random.default_rng(6)
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1)
        check_against_torch(torch, mine, ref, [x], dtype)
        for k, v in ref.state_dict().items():
            assert_close(mine.state_dict()[k].numpy(), v.numpy(), dtype, k)
        ref.zero_grad()
        mine.zero_grad()
    mine.eval()
    ref.eval()
    check_against_torch(torch, mine, ref, [rng.standard_normal(shape)], dtype)


def test_batchnorm_cumulative_average_and_no_tracking(torch):
    rng = np.random.default_rng(7)
    ref = torch.nn.BatchNorm2d(3, momentum=None).double()
    mine = BatchNorm2d(3, momentum=None, dtype=nabla.float64)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2))
        with torch.no_grad():
            ref(torch.tensor(x))
        mine(nabla.tensor(x))
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(mine.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)
    ref = torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False).double()
    mine = BatchNorm1d(3, affine=False, track_running_stats=False, dtype=nabla.float64)
    assert list(mine.state_dict()) == list(ref.state_dict()) == []
    assert repr(mine) == repr(ref)
    mine.eval()
    ref.eval()  # with no running statistics, evaluation still uses batch statistics
    check_against_torch(torch, mine, ref, [rng.standard_normal((5, 3))], np.float64)


def test_batchnorm_loads_a_torch_state_dict_with_its_names(torch):
    ref = torch.nn.BatchNorm2d(5)
    mine = BatchNorm2d(5)
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert mine.num_batches_tracked.dtype == nabla.int64
    ref.train()(torch.randn(4, 5, 2, 2))
    mine.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    assert int(mine.num_batches_tracked) == 1
    # Converting the module's dtype leaves the integer counter alone.
    assert mine.double().num_batches_tracked.dtype == nabla.int64
    assert mine.running_mean.dtype == nabla.float64


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_and_groupnorm_layers_like_torch(torch, dtype):
    rng = np.random.default_rng(8)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    ndt = nabla.float64 if dtype == np.float64 else nabla.float32
    for ref, mine, shape in [
        (torch.nn.LayerNorm((3, 4)), LayerNorm((3, 4), dtype=ndt), (2, 3, 4)),
        (torch.nn.LayerNorm(4, bias=False), LayerNorm(4, bias=False, dtype=ndt), (5, 4)),
        (torch.nn.LayerNorm(4, elementwise_affine=False),
         LayerNorm(4, elementwise_affine=False, dtype=ndt), (5, 4)),
        (torch.nn.GroupNorm(2, 4), GroupNorm(2, 4, dtype=ndt), (3, 4, 2, 2)),
        (torch.nn.GroupNorm(4, 4, affine=False), GroupNorm(4, 4, affine=False, dtype=ndt),
         (3, 4, 5)),
        (torch.nn.GroupNorm(2, 4, bias=False), GroupNorm(2, 4, bias=False, dtype=ndt),
         (3, 4, 5)),
        (torch.nn.BatchNorm1d(4, bias=False), BatchNorm1d(4, bias=False, dtype=ndt), (6, 4)),
    ]:
        ref = ref.to(tdt)
        assert repr(mine) == repr(ref)
        assert list(mine.state_dict()) == list(ref.state_dict())
        with torch.no_grad():
            for p in ref.parameters():
                p.uniform_(-1, 1)
        _copy_state(torch, mine, ref)
        check_against_torch(torch, mine, ref, [rng.standard_normal(shape)], dtype)


def test_default_parameters_are_ones_and_zeros():
    for m in (BatchNorm2d(3), LayerNorm(3), GroupNorm(1, 3)):
        assert m.weight.tolist() == [1.0, 1.0, 1.0] and m.bias.tolist() == [0.0, 0.0, 0.0]
        assert m.weight.requires_grad


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: BatchNorm2d(3)(nabla.zeros(2, 3, 4)), r"expected 4D input.*\[2, 3, 4\]"),
        (lambda: BatchNorm2d(3)(nabla.zeros(2, 4, 3, 3)), r"3 channels.*\[2, 4, 3, 3\]"),
        (lambda: BatchNorm1d(3)(nabla.zeros(2, 3, 4, 4)), "2D or 3D"),
        (lambda: BatchNorm1d(3)(nabla.zeros(1, 3)), "more than 1 value per channel"),
        (lambda: N.batch_norm(nabla.zeros(4, 3), nabla.zeros(2), nabla.ones(3)),
         r"running_mean of shape \(3,\)"),
        (lambda: N.batch_norm(nabla.zeros(4, 3), None, None), "needed when training=False"),
        (lambda: N.batch_norm(nabla.zeros(4), None, None, training=True), "at least 2"),
        (lambda: N.batch_norm(nabla.zeros(4, 3), None, None, nabla.ones(4), training=True),
         r"weight of shape \(3,\)"),
        (lambda: LayerNorm(5)(nabla.zeros(2, 4)), r"normalized_shape=\[5\].*\[2, 4\]"),
        (lambda: N.layer_norm(nabla.zeros(2, 4), (4,), nabla.ones(5)), r"weight of shape"),
        (lambda: GroupNorm(2, 4)(nabla.zeros(2, 3, 5)), r"\(N, 4, \*\).*\[2, 3, 5\]"),
        (lambda: N.group_norm(nabla.zeros(2, 3, 5), 2), "divisible by num_groups"),
        (lambda: GroupNorm(3, 4), "divisible"),
    ],
)
def test_bad_normalization_input_raises_clearly(call, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        call()


def test_failed_batch_norm_leaves_running_stats_alone():
    bn = BatchNorm2d(3)
    with pytest.raises(ValueError):
        bn(nabla.zeros(2, 4, 3, 3))
    with pytest.raises(TypeError):
        N.batch_norm(nabla.zeros(4, 3, dtype=nabla.int64), bn.running_mean, bn.running_var)
    assert bn.running_mean.tolist() == [0.0] * 3 and int(bn.num_batches_tracked) == 0


def test_running_stats_update_is_seen_by_backward_of_an_old_eval_graph():
    rm, rv = nabla.zeros(2), nabla.ones(2)
    x = nabla.randn(4, 2, requires_grad=True)
    y = N.batch_norm(x, rm, rv, training=False)
    N.batch_norm(nabla.randn(4, 2), rm, rv, training=True)
    y.sum().backward()  # eval-mode backward does not read the running stats again
    assert x.grad is not None
