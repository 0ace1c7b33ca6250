"""Datasets, samplers and the DataLoader, with torch.utils.data's API."""
from __future__ import annotations

from ._utils.fetch import _DatasetKind  # noqa: F401
from ._utils.worker import WorkerInfo
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .distributed import DistributedSampler
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                      TensorDataset, random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "WorkerInfo", "default_collate", "default_convert", "get_worker_info", "random_split"]

from ... import _missing  # noqa: E402

__getattr__ = _missing.module_getattr(__name__, "torch.utils.data")  # torch's: MissingAPIError
