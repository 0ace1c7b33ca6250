"""``torch.backends.openmp``: torch's CPU build reports OpenMP."""
from __future__ import annotations

__all__ = ["is_available"]


def is_available() -> bool:
    """True, as torch's CPU build answers."""
    return True
