"""``torch.nn.modules.activation``."""

from ..layers.activation import *  # noqa: F401,F403
from ..layers.pointwise import *  # noqa: F401,F403
from ..layers.transformer import MultiheadAttention  # noqa: F401
