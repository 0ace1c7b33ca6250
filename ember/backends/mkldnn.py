"""``torch.backends.mkldnn``: oneDNN, the library torch's CPU build convolves with. ember runs
float32 convolutions through it when the ``onednn`` extra is installed (``backend/onednn.py``);
``enabled = False`` (or ``flags(enabled=False)``) sends them to the NumPy kernels, as it sends
torch's to its native ones. ``is_available()`` answers as torch's CPU build does."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

__all__ = ["is_available", "enabled", "deterministic", "allow_tf32", "flags", "set_flags"]

enabled: bool = True  # read by backend.onednn at each convolution
deterministic: bool = False
allow_tf32: bool = False
fp32_precision: str = "none"


def is_available() -> bool:
    """True, as torch's CPU build answers."""
    return True


def set_flags(_enabled: bool | None = None, _deterministic: bool | None = None,
              _allow_tf32: bool | None = None, _fp32_precision: str = "none") -> tuple:
    """Sets the flags given (None leaves one as it is); returns the previous ones."""
    global enabled, deterministic, allow_tf32, fp32_precision
    previous = (enabled, deterministic, allow_tf32, fp32_precision)
    if _enabled is not None:
        enabled = bool(_enabled)
    if _deterministic is not None:
        deterministic = bool(_deterministic)
    if _allow_tf32 is not None:
        allow_tf32 = bool(_allow_tf32)
    fp32_precision = _fp32_precision
    return previous


@contextlib.contextmanager
def flags(enabled: bool = False, deterministic: bool = False, allow_tf32: bool = True,
          fp32_precision: str = "none") -> Iterator[Any]:
    """The flags set for a ``with`` block, restored after it."""
    previous = set_flags(enabled, deterministic, allow_tf32, fp32_precision)
    try:
        yield
    finally:
        set_flags(*previous)
