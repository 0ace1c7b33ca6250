"""``ember.linalg``: the part of ``torch.linalg`` ember offers."""
from __future__ import annotations

from .ops.linalg import matmul  # noqa: F401
from .ops.stats import vector_norm  # noqa: F401

__all__ = ["matmul", "vector_norm"]
