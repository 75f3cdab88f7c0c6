"""``Dropout``: randomly zero activations while training (inverted dropout)."""

from __future__ import annotations

from .. import functional as F
from ..module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each element with probability ``p`` while training and scale the survivors by
    ``1/(1-p)``, so nothing needs rescaling at evaluation time, where it is the identity.
    Draws from the global generator (``nabla.manual_seed``).

    >>> import nabla
    >>> from nabla import nn
    >>> d = nn.Dropout(0.25)
    >>> d
    Dropout(p=0.25, inplace=False)
    >>> x = nabla.ones(4)
    >>> d.eval()(x) is x
    True
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
