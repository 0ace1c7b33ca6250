"""``torch.cuda.amp``: the deprecated spelling of ``torch.amp`` for CUDA. Without CUDA, both
classes warn and disable themselves, as torch's CPU build does."""
from __future__ import annotations

import warnings
from typing import Any

from ...amp import autocast_mode, grad_scaler  # noqa: F401
from ...amp.autocast_mode import autocast as _autocast
from ...amp.autocast_mode import custom_bwd, custom_fwd  # noqa: F401
from ...amp.grad_scaler import GradScaler as _GradScaler

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


class autocast(_autocast):  # noqa: N801 - torch's name
    """``torch.cuda.amp.autocast(...)``: deprecated; disables itself without CUDA."""

    def __init__(self, enabled: bool = True, dtype: Any = None,
                 cache_enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        from ... import dtypes

        super().__init__("cuda", dtype=dtype or dtypes.float16, enabled=enabled,
                         cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    """``torch.cuda.amp.GradScaler(...)``: deprecated; disables itself without CUDA."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
