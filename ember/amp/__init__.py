"""``torch.amp``: mixed precision on the CPU and on CUDA (autocast and GradScaler), with torch's
semantics."""
from __future__ import annotations

from . import autocast_mode, grad_scaler  # noqa: F401
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.amp")  # torch's names ember lacks: MissingAPIError
