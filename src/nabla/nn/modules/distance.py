"""``torch.nn.modules.distance``."""

from ..loss import PairwiseDistance  # noqa: F401

__all__ = ["PairwiseDistance"]
