"""``torch.nn.modules.container``."""

from ..module import ModuleDict, ModuleList, Sequential  # noqa: F401
