"""``torch.accelerator`` as torch's CPU build answers: no accelerator."""
from __future__ import annotations

from typing import Any

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "current_device_idx", "set_device_index", "set_device_idx", "synchronize",
           "empty_cache"]


def _none() -> RuntimeError:
    return RuntimeError("Cannot access accelerator device when none is available.")


def is_available() -> bool:
    """False: ember runs on the CPU only."""
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator."""
    return None


def device_count() -> int:
    """0 accelerator devices."""
    return 0


def current_device_index() -> int:
    """Raises: there is no accelerator."""
    raise _none()


current_device_idx = current_device_index


def set_device_index(device: Any) -> None:
    """Raises: there is no accelerator."""
    raise _none()


set_device_idx = set_device_index


def synchronize(device: Any = None) -> None:
    """Raises: there is no accelerator."""
    raise _none()


def empty_cache() -> None:
    """Raises: there is no accelerator."""
    raise _none()
