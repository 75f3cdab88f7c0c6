"""``torch.utils.data``'s names, which are ``nabla.data``'s: this module re-exports them.

>>> import nabla.utils.data as tud, nabla.data
>>> tud.DataLoader is nabla.data.DataLoader and tud.RandomSampler is nabla.data.RandomSampler
True
"""

from ...data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    WorkerInfo,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)
from ...data.distributed import DistributedSampler

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
    "ChainDataset", "random_split", "DataLoader", "default_collate", "default_convert",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler", "get_worker_info", "WorkerInfo",
    "DistributedSampler",
]
