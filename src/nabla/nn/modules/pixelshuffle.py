"""``torch.nn.modules.pixelshuffle``."""

from ..layers.padding import PixelShuffle, PixelUnshuffle  # noqa: F401
