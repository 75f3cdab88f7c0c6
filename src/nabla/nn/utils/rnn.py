"""Batches of sequences of different lengths, as ``torch.nn.utils.rnn``.

>>> import nabla
>>> from nabla.nn.utils.rnn import pad_sequence
>>> pad_sequence([nabla.tensor([1, 2, 3]), nabla.tensor([4])], batch_first=True)
tensor([[1, 2, 3],
        [4, 0, 0]])
"""

from __future__ import annotations

from ...functions import pad, stack
from ...tensor import ShapeError, Tensor

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Pad tensors of shapes ``(L_i, *)`` to the longest ``L`` and stack them: ``(L, B, *)``,
    or ``(B, L, *)`` with ``batch_first``.

    ``padding_value`` fills the new places (cast to the result's dtype, the first
    sequence's, as PyTorch does: 9.7 pads token ids with 9); ``padding_side="left"`` pads
    before each sequence instead of after. Differentiable into every sequence.

    >>> import nabla
    >>> a = nabla.tensor([1.0, 2.0], requires_grad=True)
    >>> out = pad_sequence([a, nabla.tensor([3.0])], padding_value=-1.0, padding_side="left")
    >>> out
    tensor([[ 1., -1.],
            [ 2.,  3.]], grad_fn=<StackBackward>)
    >>> out.sum().backward(); a.grad
    tensor([1., 1.])
    """
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    seqs = list(sequences)
    if not seqs:
        raise ShapeError("pad_sequence: received an empty list of sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise TypeError(
                f"pad_sequence: expected a list of Tensors, but sequence {i} is "
                f"{type(s).__name__}")
        if s.ndim == 0:
            raise ShapeError(
                f"pad_sequence: sequence {i} is a 0-d tensor; each sequence needs a length "
                "dimension (shape (L, *))")
    first = seqs[0]
    trailing = tuple(first.shape[1:])
    for i, s in enumerate(seqs):
        if tuple(s.shape[1:]) != trailing:
            raise ShapeError(
                f"pad_sequence: every sequence must have the trailing shape of sequence 0, "
                f"{trailing}, but sequence {i} has shape {tuple(s.shape)}")
    longest = max(s.shape[0] for s in seqs)
    dtype = first.dtype
    padded = []
    for s in seqs:
        if s.dtype != dtype:
            s = s.to(dtype)
        gap = longest - s.shape[0]
        if gap:
            before, after = (gap, 0) if padding_side == "left" else (0, gap)
            s = pad(s, (0, 0) * (s.ndim - 1) + (before, after), value=padding_value)
        padded.append(s)
    return stack(padded, dim=0 if batch_first else 1)
