"""``ember.nn.parallel``: ``DistributedDataParallel`` (``torch.nn.parallel``; no DataParallel:
ember has no GPUs to split a batch over)."""
from __future__ import annotations

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
