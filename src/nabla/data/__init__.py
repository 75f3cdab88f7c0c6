"""Data loading: datasets, the DataLoader that batches them, ready-made datasets.

The shape is PyTorch's ``torch.utils._data``: a ``Dataset`` maps an index to a sample, a
``DataLoader`` turns it into shuffled, collated batches.

>>> import numpy as np
>>> from nabla.data import DataLoader, TensorDataset
>>> X, y = np.random.rand(100, 3).astype(np.float32), np.arange(100) % 2
>>> loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
>>> len(loader)
4
"""

from . import datasets
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader, default_collate

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
    "DataLoader", "default_collate", "datasets",
]
