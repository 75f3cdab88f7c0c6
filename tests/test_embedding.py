"""Embedding: lookup and scatter-add backward against PyTorch, padding_idx, pretrained
tables, gradcheck and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nabla
from nabla.nn.layers.embedding import Embedding
from nabla.ops.embedding import embedding


@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
def test_matches_torch(torch, padding_idx, dtype, idx_dtype):
    rng = np.random.default_rng(0)
    ours = Embedding(7, 4, padding_idx=padding_idx)
    ref = torch.nn.Embedding(7, 4, padding_idx=padding_idx)
    ref.load_state_dict({"weight": torch.tensor(ours.weight.detach().numpy())})
    if dtype == np.float64:
        ours, ref = ours.double(), ref.double()
    idx = rng.integers(0, 7, size=(5, 6)).astype(idx_dtype)  # repeats are certain
    out = ours(nabla.tensor(idx))
    tout = ref(torch.tensor(idx.astype(np.int64)))
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    assert out.dtype == nabla.backend.dtype(np.dtype(dtype).name)
    g = rng.standard_normal((5, 6, 4)).astype(dtype)
    (out * nabla.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(),
                               rtol=1e-6, atol=1e-6)
    assert ours.weight.grad.dtype == nabla.backend.dtype(np.dtype(dtype).name)


def test_padding_row_starts_zero_and_gets_no_gradient():
    emb = Embedding(5, 3, padding_idx=2)
    np.testing.assert_array_equal(emb.weight.detach().numpy()[2], 0)
    emb(nabla.tensor([2, 2, 1])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[2], 0)
    np.testing.assert_array_equal(emb.weight.grad.numpy()[1], 1)
    assert Embedding(5, 3, padding_idx=-1).padding_idx == 4


def test_init_is_standard_normal():
    w = Embedding(2000, 10).weight.detach().numpy()
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1) < 0.03


def test_output_shapes():
    emb = Embedding(10, 3)
    assert emb(nabla.tensor(4)).shape == (3,)
    assert emb(nabla.tensor([[1, 2, 3]])).shape == (1, 3, 3)
    assert emb(nabla.tensor(np.zeros((2, 0), dtype=np.int64))).shape == (2, 0, 3)


def test_from_pretrained():
    table = nabla.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen(nabla.tensor([1, 0])).tolist() == [[3.0, 4.0], [1.0, 2.0]]
    trainable = Embedding.from_pretrained(table, freeze=False)
    trainable(nabla.tensor([1])).sum().backward()
    assert trainable.weight.grad.tolist() == [[0.0, 0.0], [1.0, 1.0]]


def test_functional_and_gradcheck():
    w = nabla.randn(6, 3, dtype=nabla.float64, requires_grad=True)
    idx = nabla.tensor([[0, 5, 5], [2, 0, 1]])
    assert nabla.gradcheck(lambda w: embedding(idx, w), (w,))
    # Array-likes work as indices too.
    assert embedding([0, 5], w).shape == (2, 3)


def test_state_dict_and_repr():
    emb = Embedding(10, 3, padding_idx=0)
    assert list(emb.state_dict()) == ["weight"]
    assert repr(emb) == "Embedding(10, 3, padding_idx=0)"
    assert repr(Embedding(4, 2)) == "Embedding(4, 2)"


def test_bad_input():
    emb = Embedding(5, 2)
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        emb(nabla.tensor([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        emb(nabla.tensor([-1]))
    with pytest.raises(TypeError, match="integer indices"):
        emb(nabla.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="_weight has shape"):
        Embedding(5, 2, _weight=nabla.zeros(5, 3))
    with pytest.raises(NotImplementedError, match="max_norm"):
        Embedding(5, 2, max_norm=1.0)
