"""``torch.backends.cudnn``: no cuDNN on a CPU build; its flags are kept but change nothing."""
from __future__ import annotations

from typing import Any

__all__ = ["is_available", "version", "is_acceptable", "flags", "enabled", "benchmark",
           "deterministic", "allow_tf32", "benchmark_limit"]

# torch's defaults on a CPU build
enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = True
benchmark_limit: int = 10


def is_available() -> bool:
    """False: there is no cuDNN."""
    return False


def version() -> None:
    """None: there is no cuDNN."""
    return None


def is_acceptable(tensor: Any) -> bool:
    """False: cuDNN would not take the tensor (it is not a CUDA tensor)."""
    return False


class flags:  # noqa: N801 - torch's name
    """Sets the flags for a ``with`` block, then restores them (torch's context manager)."""

    def __init__(self, enabled: bool = False, benchmark: bool = False,
                 benchmark_limit: int = 10, deterministic: bool = False,
                 allow_tf32: bool = True) -> None:
        self._new = {"enabled": enabled, "benchmark": benchmark,
                     "benchmark_limit": benchmark_limit, "deterministic": deterministic,
                     "allow_tf32": allow_tf32}

    def __enter__(self) -> None:
        g = globals()
        self._old = {k: g[k] for k in self._new}
        g.update(self._new)

    def __exit__(self, *exc: object) -> None:
        globals().update(self._old)
