"""``torch.utils.data.distributed``: ``DistributedSampler``, each rank's share of a dataset
(defined in ``nabla.data.distributed``; importing it does not import MPI).

>>> from nabla.utils.data.distributed import DistributedSampler
>>> list(DistributedSampler(range(6), num_replicas=2, rank=0, shuffle=False))
[0, 2, 4]
"""

from ...data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
