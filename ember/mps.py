"""``torch.mps`` as torch's CPU build answers: no Metal device."""
from __future__ import annotations

__all__ = ["is_available", "device_count", "manual_seed", "seed", "synchronize", "empty_cache"]


def is_available() -> bool:
    """False: no MPS device."""
    return False


def device_count() -> int:
    """0 MPS devices."""
    return 0


def manual_seed(seed: int) -> None:
    """Ignored without MPS (torch ignores it too)."""


def seed() -> None:
    """Raises: there is no MPS generator."""
    raise RuntimeError("Cannot execute getDefaultGenerator() without MPS backend.")


def synchronize() -> None:
    """Raises: there is no MPS backend."""
    raise RuntimeError("Cannot execute deviceSynchronize() without MPS backend.")


def empty_cache() -> None:
    """Raises: there is no MPS backend."""
    raise RuntimeError("Cannot execute emptyCache() without MPS backend.")
