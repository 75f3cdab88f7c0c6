"""``torch.nn.modules.upsampling``."""

from ..layers.pooling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401
