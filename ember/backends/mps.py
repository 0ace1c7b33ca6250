"""``torch.backends.mps``: no Metal backend."""
from __future__ import annotations

__all__ = ["is_available", "is_built", "is_macos13_or_newer", "is_macos_or_newer"]


def is_available() -> bool:
    """False: no MPS device."""
    return False


def is_built() -> bool:
    """False: not built with MPS."""
    return False


def is_macos_or_newer(major: int, minor: int) -> bool:
    """False, as on any machine without MPS."""
    return False


def is_macos13_or_newer(minor: int = 0) -> bool:
    """False, as on any machine without MPS."""
    return False
