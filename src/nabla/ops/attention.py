"""Scaled dot-product attention, PyTorch's ``F.scaled_dot_product_attention``.

Composed from differentiable ops (matmul, masked fill, softmax), so the gradient comes
from theirs: ``softmax(q @ k^T * scale + mask) @ v``.
"""

from __future__ import annotations

import math

import numpy as np

from ..random import _np as _rng
from ..tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def _dropout(x: Tensor, p: float, generator=None) -> Tensor:
    if p == 0.0:
        return x
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    dt = x._data.dtype
    if p == 1.0:
        return x * Tensor._wrap(np.zeros(x.shape, dtype=dt))
    keep = _rng(generator).random(x.shape) >= p
    return x * Tensor._wrap(keep.astype(dt) * dt.type(1.0 / (1.0 - p)))


def _repeat_heads(t: Tensor, times: int) -> Tensor:
    """Repeat each head ``times`` times along dim -3 (``repeat_interleave``)."""
    if times == 1:
        return t
    shape = t.shape
    t = t.unsqueeze(-3).expand(*shape[:-2], times, *shape[-2:])
    return t.reshape(*shape[:-3], shape[-3] * times, *shape[-2:])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` over the last two dims.

    ``attn_mask``: a bool mask (True: this position takes part) or a float mask added
    to the scores, broadcast to ``(..., L, S)``. ``is_causal``: position ``i`` sees
    keys ``0..i`` only (no ``attn_mask`` then). ``scale`` defaults to ``1/sqrt(E)``.
    ``enable_gqa``: ``key``/``value`` may have fewer heads (dim -3) than ``query``,
    each shared by a group of query heads. ``dropout_p`` drops attention weights
    whenever it is above 0 (pass ``0.0`` in evaluation, as in PyTorch).

    >>> import nabla
    >>> q = k = v = nabla.ones(2, 4, 3, 8)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (2, 4, 3, 8)
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, "
                            f"got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} needs at least 2 dims "
                             f"(..., seq, features), got shape {t.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query and key feature sizes differ: "
                         f"{query.shape} vs {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key and value lengths differ: "
                         f"{key.shape} vs {value.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or "
                         "is_causal=True, not both")
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or hq % value.shape[-3]:
            raise ValueError(f"scaled_dot_product_attention: enable_gqa needs the query heads "
                             f"({hq}) to be a multiple of the key/value heads "
                             f"({hk}, {value.shape[-3]})")
        key = _repeat_heads(key, hq // hk)
        value = _repeat_heads(value, hq // value.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = query.matmul(key.transpose(-2, -1)) * s
    if is_causal:
        attn_mask = Tensor._wrap(np.tril(np.ones((L, S), dtype=bool)))
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            attn_mask = Tensor._wrap(np.asarray(attn_mask))
        if attn_mask._data.dtype == np.bool_:
            scores = scores.masked_fill(Tensor._wrap(~attn_mask._data), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = _dropout(scores.softmax(-1), float(dropout_p))
    return weights.matmul(value)
