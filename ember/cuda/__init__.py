"""``torch.cuda`` as seen from a machine without a GPU: ember runs on the CPU only (for now).

Scripts written for PyTorch ask ``torch.cuda.is_available()`` before choosing a device; these answer
as torch's CPU build does, so such scripts take their CPU branch.
"""
from __future__ import annotations

from typing import Any, Callable

from .._errors import OutOfMemoryError  # noqa: F401  (torch.cuda's name for torch's class)

__all__ = ["OutOfMemoryError", "is_available", "device_count", "manual_seed", "manual_seed_all",
           "current_device", "synchronize", "is_initialized", "empty_cache", "is_bf16_supported",
           "is_tf32_supported", "get_arch_list", "seed", "seed_all", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_stats",
           "get_device_name", "get_device_capability", "get_device_properties", "init",
           "ipc_collect", "get_rng_state", "initial_seed", "current_stream", "mem_get_info",
           "can_device_access_peer"]


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


def is_initialized() -> bool:
    """False: CUDA is never initialised."""
    return False


def empty_cache() -> None:
    """Nothing to free without CUDA (torch's CPU build does nothing either)."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: no CUDA device."""
    return False


def is_tf32_supported() -> bool:
    """False: no CUDA device."""
    return False


def get_arch_list() -> list[str]:
    """[]: built for no CUDA architecture."""
    return []


def seed() -> None:
    """Does nothing without CUDA (torch silently ignores it too)."""


def seed_all() -> None:
    """Does nothing without CUDA (torch silently ignores it too)."""


def memory_allocated(device: object = None) -> int:
    """0 bytes: no CUDA memory is in use."""
    return 0


def max_memory_allocated(device: object = None) -> int:
    """0 bytes: no CUDA memory was ever in use."""
    return 0


def memory_reserved(device: object = None) -> int:
    """0 bytes: no CUDA memory is reserved."""
    return 0


def max_memory_reserved(device: object = None) -> int:
    """0 bytes: no CUDA memory was ever reserved."""
    return 0


def memory_stats(device: object = None) -> dict:
    """An empty OrderedDict, as torch's CPU build returns."""
    from collections import OrderedDict

    return OrderedDict()


def _raising(name: str) -> Callable[..., Any]:
    def query(*args: Any, **kwargs: Any) -> Any:
        raise _no_cuda()

    query.__name__ = query.__qualname__ = name
    query.__doc__ = "Raises: there is no CUDA device (torch's CPU build's AssertionError)."
    return query


# what torch's CPU build answers with "Torch not compiled with CUDA enabled"
get_device_name = _raising("get_device_name")
get_device_capability = _raising("get_device_capability")
get_device_properties = _raising("get_device_properties")
init = _raising("init")
ipc_collect = _raising("ipc_collect")
get_rng_state = _raising("get_rng_state")
initial_seed = _raising("initial_seed")
current_stream = _raising("current_stream")
mem_get_info = _raising("mem_get_info")
can_device_access_peer = _raising("can_device_access_peer")


def __getattr__(name: str) -> object:
    # ``torch.cuda.amp`` is reachable after ``import torch``: submodules load on first use
    from .._missing import submodule_or_error

    return submodule_or_error(__name__, "torch.cuda", name)
