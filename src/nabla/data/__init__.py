"""Data loading: datasets, samplers, the DataLoader that batches them, ready-made datasets.

The shape is PyTorch's ``torch.utils.data`` (also reachable as ``nabla.utils.data``): a
``Dataset`` maps an index to a sample, a sampler orders the indices, a ``DataLoader``
turns them into collated batches.

>>> import numpy as np
>>> from nabla.data import DataLoader, TensorDataset
>>> X, y = np.random.rand(100, 3).astype(np.float32), np.arange(100) % 2
>>> loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
>>> len(loader)
4
"""

from . import datasets
from .collate import default_collate, default_convert
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .distributed import DistributedSampler
from .loader import DataLoader
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker_info import WorkerInfo, get_worker_info

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
    "ChainDataset", "random_split", "DataLoader", "default_collate", "default_convert",
    "Sampler", "DistributedSampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler", "get_worker_info", "WorkerInfo", "datasets",
]
