"""Utilities with torch.utils' layout: ``ember.utils.data``."""
from __future__ import annotations

from . import checkpoint, data  # noqa: F401  (torch.utils.data is reachable after `import torch.utils`)
