"""``torch.nn.modules.transformer``."""

from ..layers.transformer import *  # noqa: F401,F403
from ..layers.transformer import __all__  # noqa: F401
