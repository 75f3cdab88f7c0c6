"""Embedding lookup: rows of a weight matrix picked by integer indices.

Forward is one ``np.take``; backward scatters the output gradient back onto the rows
that were picked. Rows may repeat (a word appears twice in a batch), so the scatter
must accumulate: ``index.add_rows`` does.

>>> import nabla
>>> w = nabla.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], requires_grad=True)
>>> out = embedding(nabla.tensor([[1, 2, 1]]), w)
>>> out.tolist()
[[[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]]]
>>> out.sum().backward(); w.grad.tolist()
[[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from .index import add_rows

__all__ = ["EmbeddingLookup", "embedding"]


class EmbeddingLookup(Function):
    """``weight[indices]`` with the gradient scattered back to the picked rows."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None):
        ctx.indices, ctx.rows, ctx.padding_idx = indices, weight.shape[0], padding_idx
        return np.take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, g):
        grad = add_rows(ctx.rows, ctx.indices.reshape(-1), g.reshape(-1, g.shape[-1]))
        if ctx.padding_idx is not None:
            grad[ctx.padding_idx] = 0  # the padding row is a constant, never trained
        return grad


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (``(num_embeddings, embedding_dim)``) by the integer
    indices in ``input``; the result has shape ``input.shape + (embedding_dim,)``.

    ``padding_idx``: that row gets no gradient. As ``torch.nn.functional.embedding``.

    >>> import nabla
    >>> embedding(nabla.tensor([0, 2]), nabla.eye(3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    idx = input._data if hasattr(input, "_data") and not isinstance(input, np.ndarray) \
        else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"embedding: expected integer indices (int64 or int32), got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(
            f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
            f"{tuple(weight.shape)}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for {n} embeddings "
                         f"(expected 0 <= index < {n})")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"padding_idx must be within num_embeddings ({n}), got {padding_idx}")
        padding_idx %= n
    return EmbeddingLookup.apply(weight, idx, padding_idx)
