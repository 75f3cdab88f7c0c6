"""``torch.nn.modules.distance``."""

from ..loss import CosineSimilarity, PairwiseDistance  # noqa: F401

__all__ = ["CosineSimilarity", "PairwiseDistance"]
