"""``torch.nn.modules.instancenorm``."""

from ..layers.instancenorm import *  # noqa: F401,F403
