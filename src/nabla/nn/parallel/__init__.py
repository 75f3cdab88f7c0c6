"""PyTorch's ``torch.nn.parallel``: data parallelism across processes.

>>> from nabla.nn.parallel import DistributedDataParallel
"""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
