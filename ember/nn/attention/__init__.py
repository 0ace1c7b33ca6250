"""``torch.nn.attention``: which scaled_dot_product_attention kernels may run.

ember has one CPU kernel for ``scaled_dot_product_attention``; the switches are kept (in
``ember.backends.cuda``) so that programs choosing a kernel run unchanged and read back what they
set, as on torch's CPU build.
"""
from __future__ import annotations

import contextlib
import enum
from typing import Iterable, Iterator, Union

from ...backends import cuda as _cuda
from ..._missing import module_getattr as _module_getattr

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The attention kernels torch can pick (values as torch's)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __repr__(self) -> str:
        return f"<SDPBackend.{self.name}: {self.value}>"

    __str__ = enum.Enum.__str__


_SWITCH = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
           SDPBackend.EFFICIENT_ATTENTION: "mem_efficient", SDPBackend.CUDNN_ATTENTION: "cudnn"}


@contextlib.contextmanager
def sdpa_kernel(backends: Union[SDPBackend, Iterable[SDPBackend]],
                set_priority: bool = False) -> Iterator[None]:
    """Allows only ``backends`` for scaled_dot_product_attention inside the block."""
    if isinstance(backends, SDPBackend):
        backends = [backends]
    elif not isinstance(backends, list) or not all(isinstance(b, SDPBackend) for b in backends):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend "
                             f"instances, got {type(backends).__name__}")
    before = dict(_cuda._sdp)
    _cuda._sdp.update({switch: kind in backends for kind, switch in _SWITCH.items()})
    try:
        yield
    finally:
        _cuda._sdp.update(before)


__getattr__ = _module_getattr(__name__, "torch.nn.attention")
