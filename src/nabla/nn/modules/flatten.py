"""``torch.nn.modules.flatten``."""

from ..layers.container import Flatten, Unflatten  # noqa: F401
