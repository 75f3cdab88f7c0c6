"""``torch.nn.modules.activation``."""

from ..layers.activation import *  # noqa: F401,F403
from ..layers.activation import __all__  # noqa: F401
