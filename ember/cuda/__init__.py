"""``torch.cuda`` as seen from a machine without a GPU: ember runs on the CPU only (for now).

Scripts written for PyTorch ask ``torch.cuda.is_available()`` before choosing a device; these answer
as torch's CPU build does, so such scripts take their CPU branch.
"""
from __future__ import annotations

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "current_device",
           "synchronize"]


def is_available() -> bool:
    """False: ember has no CUDA backend yet."""
    return False


def device_count() -> int:
    """0: no CUDA devices are visible to ember."""
    return 0


def manual_seed(seed: int) -> None:
    """Does nothing without CUDA (torch silently ignores it too)."""


def manual_seed_all(seed: int) -> None:
    """Does nothing without CUDA (torch silently ignores it too)."""


def _no_cuda() -> AssertionError:
    # torch's CPU build raises AssertionError here, and scripts catch exactly that
    return AssertionError("Torch not compiled with CUDA enabled")


def current_device() -> int:
    """Raises: there is no CUDA device."""
    raise _no_cuda()


def synchronize(device: object = None) -> None:
    """Raises: there is no CUDA device."""
    raise _no_cuda()


def __getattr__(name: str) -> object:
    # ``torch.cuda.amp`` is reachable after ``import torch``: submodules load on first use
    from .._missing import submodule_or_error

    return submodule_or_error(__name__, "torch.cuda", name)
