"""``torch.nn.modules.sparse``."""

from ..layers.embedding import Embedding  # noqa: F401
