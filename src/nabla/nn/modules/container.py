"""``torch.nn.modules.container``."""

from ..layers.params import ParameterDict, ParameterList  # noqa: F401
from ..module import ModuleDict, ModuleList, Sequential  # noqa: F401
