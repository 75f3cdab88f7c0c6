"""``torch.nn.modules.normalization``."""

from ..layers.normalization import GroupNorm, LayerNorm  # noqa: F401
