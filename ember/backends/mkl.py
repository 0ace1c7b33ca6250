"""``torch.backends.mkl``: torch's CPU build reports MKL (ember's BLAS is NumPy's)."""
from __future__ import annotations

__all__ = ["is_available"]


def is_available() -> bool:
    """True, as torch's CPU build answers."""
    return True
