"""Fused losses and softmax paths at a large common offset of the logits (issue 22):
shifting the logits must not change the result beyond rounding of the inputs."""

import numpy as np
import pytest

import nabla
import nabla.nn.functional as F

torch = pytest.importorskip("torch")

OFFSETS = [1e4, 1e6, 1e7]
DTYPES = [(np.float32, torch.float32), (np.float64, torch.float64)]


def _logits(o, dt):
    # Integer spreads keep o + k exact in float32 up to 1.6e7, so both libraries see the
    # same logits and any difference is the loss's own rounding.
    base = np.array([[1, 0, -1, 2], [0, 3, 1, -2], [2, 2, 0, 1]], dtype=np.float64)
    return (base + o).astype(dt)


@pytest.mark.parametrize("o", OFFSETS)
def test_cross_entropy_issue_example_is_exact(o):
    for dt, _ in DTYPES:
        x = nabla.tensor(np.array([[o + 1, o, o - 1]], dtype=dt))
        got = F.cross_entropy(x, nabla.tensor([0])).item()
        assert abs(got - 0.40760596444) < 1e-5, (o, dt, got)


@pytest.mark.parametrize("o", OFFSETS)
@pytest.mark.parametrize("dt,tdt", DTYPES)
@pytest.mark.parametrize("kw", [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"label_smoothing": 0.1},
    {"weight": [1.0, 2.0, 0.5, 1.0]}, {"ignore_index": 1},
    {"weight": [1.0, 2.0, 0.5, 1.0], "label_smoothing": 0.2},
])
def test_cross_entropy_at_offsets_matches_torch(o, dt, tdt, kw):
    a = _logits(o, dt)
    t = np.array([0, 1, 3])
    tkw = dict(kw)
    if "weight" in kw:
        kw = dict(kw, weight=nabla.tensor(np.array(kw["weight"], dtype=dt)))
        tkw["weight"] = torch.tensor(tkw["weight"], dtype=tdt)
    x = nabla.tensor(a, requires_grad=True)
    loss = F.cross_entropy(x, nabla.tensor(t), **kw)
    loss.sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(tx, torch.tensor(t), **tkw)
    ref.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), ref.detach().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("o", OFFSETS)
@pytest.mark.parametrize("dt,tdt", DTYPES)
def test_soft_targets_nll_softmax_logsumexp_at_offsets(o, dt, tdt):
    a = _logits(o, dt)
    probs = np.array([[0.5, 0.5, 0, 0], [0.1, 0.2, 0.3, 0.4], [1, 0, 0, 0]], dtype=dt)
    x, tx = nabla.tensor(a), torch.tensor(a)
    pairs = [
        (F.cross_entropy(x, nabla.tensor(probs)),
         torch.nn.functional.cross_entropy(tx, torch.tensor(probs))),
        (F.nll_loss(F.log_softmax(x, 1), nabla.tensor([0, 1, 3])),
         torch.nn.functional.nll_loss(torch.log_softmax(tx, 1), torch.tensor([0, 1, 3]))),
        (F.log_softmax(x, 1), torch.log_softmax(tx, 1)),
        (F.softmax(x, 1), torch.softmax(tx, 1)),
        (x.log_softmax(0), tx.log_softmax(0)),
    ]
    for got, ref in pairs:
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=0, atol=1e-5)
    # logsumexp keeps the offset, so only its relative rounding can be asked for.
    np.testing.assert_allclose(x.logsumexp(1).numpy(), tx.logsumexp(1).numpy(), rtol=1e-7)


@pytest.mark.parametrize("o", OFFSETS)
@pytest.mark.parametrize("dt,tdt", DTYPES)
def test_bce_with_logits_at_offsets(o, dt, tdt):
    a = np.array([o, -o, o / 2, -o / 2, 0.5], dtype=dt)
    y = np.array([1, 0, 0, 1, 0.3], dtype=dt)
    got = F.binary_cross_entropy_with_logits(nabla.tensor(a), nabla.tensor(y), reduction="none")
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(a), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=1e-5)
