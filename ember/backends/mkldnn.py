"""``torch.backends.mkldnn``: torch's CPU build reports oneDNN (ember computes with NumPy)."""
from __future__ import annotations

__all__ = ["is_available", "enabled", "deterministic", "allow_tf32"]

enabled: bool = True
deterministic: bool = False
allow_tf32: bool = False


def is_available() -> bool:
    """True, as torch's CPU build answers."""
    return True
