"""``torch.nn.modules.linear``."""

from ..layers.container import Identity  # noqa: F401
from ..layers.linear import Linear  # noqa: F401
