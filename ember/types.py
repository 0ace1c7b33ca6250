"""``ember.types``: the type aliases torch's annotations use (``Number``, ``Device``,
``_size`` ...), for code written against ``torch.types``."""
from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from typing import IO, Union

from .dtypes import dtype as _dtype_cls
from .ops.strided import layout as _layout_cls
from .tensor import Size, Tensor
from .devices import device as _device_cls

_bool = builtins.bool
_int = builtins.int
_float = builtins.float
_complex = builtins.complex
_str = builtins.str
_dtype = _dtype_cls
_device = _device_cls
_layout = _layout_cls

_Number = (builtins.int, builtins.float, builtins.bool)  # (for isinstance)
Number = builtins.int | builtins.float | builtins.bool
Device = _device_cls | builtins.str | builtins.int | None
_size = Size | list[builtins.int] | tuple[builtins.int, ...]
_TensorOrTensors = Tensor | Sequence[Tensor]
_TensorOrOptionalTensors = Tensor | Sequence[Tensor | None]
FileLike = Union[builtins.str, os.PathLike[builtins.str], IO[bytes]]

__all__ = ["Number", "Device", "FileLike", "Size", "Tensor"]
