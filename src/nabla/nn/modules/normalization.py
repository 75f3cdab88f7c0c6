"""``torch.nn.modules.normalization``."""

from ..layers.normalization import GroupNorm, LayerNorm, RMSNorm  # noqa: F401
