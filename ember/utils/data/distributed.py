"""``DistributedSampler``: each rank's share of a dataset, with torch's exact index lists.

The shuffled order is ember's ``randperm`` seeded with ``seed + epoch``, which is not torch's
permutation for the same seed (ember's generator is not torch's), so a shuffled run gives each
rank other indices than under torch; without shuffling, the lists are torch's exactly.
"""
from __future__ import annotations

import math
from typing import Iterator, TypeVar

import ember
from ... import distributed as dist
from ...random import Generator
from .dataset import Dataset
from .sampler import Sampler

__all__ = ["DistributedSampler"]

_T_co = TypeVar("_T_co", covariant=True)


class DistributedSampler(Sampler[_T_co]):
    """Restricts loading to this rank's share of ``dataset`` (every rank gets the same count).

    Args:
        dataset: the dataset to sample from.
        num_replicas: the number of ranks (default: the default group's world size).
        rank: this rank (default: the default group's rank).
        shuffle: shuffle, with ``seed + epoch`` (call :meth:`set_epoch` each epoch, or every
            epoch has the same order). Default: ``True``.
        seed: the shuffle's seed; must be the same on every rank. Default: 0.
        drop_last: drop the tail that does not divide evenly, instead of padding by repeating
            indices from the start. Default: ``False``.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if num_replicas is None:
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size()
        if rank is None:
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[_T_co]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = ember.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:  # pad by repeating from the start, as often as needed
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match "
                                 f"total_size ({self.total_size})")
        indices = indices[self.rank:self.total_size:self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(f"Number of subsampled indices ({len(indices)}) does not "
                                 f"match num_samples ({self.num_samples})")
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which seeds the shuffle (``seed + epoch``): call it every epoch."""
        self.epoch = epoch
