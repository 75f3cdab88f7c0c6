"""``torch.nn.modules.batchnorm``."""

from ..layers.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
