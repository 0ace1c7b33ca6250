"""``torch.xpu`` as torch's CPU build answers: no Intel GPU."""
from __future__ import annotations

from typing import Any

__all__ = ["is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all",
           "seed", "seed_all", "current_device", "synchronize", "empty_cache",
           "is_bf16_supported"]


def _no_xpu() -> AssertionError:
    return AssertionError("Torch not compiled with XPU enabled")  # torch's CPU build's error


def is_available() -> bool:
    """False: no XPU."""
    return False


def device_count() -> int:
    """0 XPU devices."""
    return 0


def is_initialized() -> bool:
    """False: never initialised."""
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: no XPU."""
    return False


def manual_seed(seed: int) -> None:
    """Ignored without XPU (torch ignores it too)."""


def manual_seed_all(seed: int) -> None:
    """Ignored without XPU (torch ignores it too)."""


def seed() -> None:
    """Ignored without XPU (torch ignores it too)."""


def seed_all() -> None:
    """Ignored without XPU (torch ignores it too)."""


def current_device() -> int:
    """Raises: there is no XPU."""
    raise _no_xpu()


def synchronize(device: Any = None) -> None:
    """Raises: there is no XPU."""
    raise _no_xpu()


def empty_cache() -> None:
    """Nothing to free without XPU."""
