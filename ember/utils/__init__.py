"""Utilities with torch.utils' layout: ``ember.utils.data``."""
from __future__ import annotations

from . import checkpoint, data  # noqa: F401  (torch.utils.data is reachable after `import torch.utils`)

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.utils")  # torch's: MissingAPIError
