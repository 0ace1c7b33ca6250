"""``ember.nn.parallel``: ``DistributedDataParallel`` (``torch.nn.parallel``; no DataParallel:
ember has no GPUs to split a batch over)."""
from __future__ import annotations

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]

from ..._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.nn.parallel")  # torch's names: MissingAPIError
