"""``torch.nn.modules.conv``."""

from ..layers.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
