"""``torch.nn.modules.dropout``."""

from ..layers.conv import Dropout1d, Dropout2d  # noqa: F401
from ..layers.dropout import Dropout  # noqa: F401
