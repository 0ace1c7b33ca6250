"""``torch.cpu``: the one device ember computes on."""
from __future__ import annotations

from typing import Any

from . import amp  # noqa: F401

__all__ = ["amp", "is_available", "device_count", "current_device", "set_device",
           "synchronize", "is_initialized"]


def is_available() -> bool:
    """True: the CPU is always there."""
    return True


def device_count() -> int:
    """1, as torch counts the CPU."""
    return 1


def current_device() -> str:
    """``"cpu"``."""
    return "cpu"


def set_device(device: Any) -> None:
    """Ignored: there is one CPU device (torch ignores it too)."""


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: ember's CPU work is synchronous."""


def is_initialized() -> bool:
    """True."""
    return True
