"""``torchvision.transforms.v2.functional``: the v1 functional forms plus ``to_image`` and
``to_dtype``."""
from __future__ import annotations

from typing import Any

import numpy as np

import ember
from ember import Tensor

from ..functional import *  # noqa: F403
from ..functional import __all__ as _v1_all
from ..functional import convert_image_dtype, pil_to_tensor
from .._pil import is_pil_image

__all__ = list(_v1_all) + ["to_image", "to_dtype", "to_pure_tensor"]


def to_image(inpt: Any) -> Tensor:
    """A PIL image, an ``HxWxC`` ndarray or a tensor, as a ``CxHxW`` tensor (dtype kept)."""
    if isinstance(inpt, np.ndarray):
        arr = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return ember.from_numpy(np.ascontiguousarray(arr)).permute((2, 0, 1)).contiguous()
    if is_pil_image(inpt):
        return pil_to_tensor(inpt)
    if isinstance(inpt, Tensor):
        return inpt
    raise TypeError(
        f"Input can either be a pure Tensor, a numpy array, or a PIL image, but got {type(inpt)} "
        "instead.")


def to_dtype(inpt: Tensor, dtype: ember.dtype = ember.float32, scale: bool = False) -> Tensor:
    """``inpt.to(dtype)``; with ``scale``, rescaled between the value ranges of the dtypes."""
    if scale:
        return convert_image_dtype(inpt, dtype)
    return inpt.to(dtype)


def to_pure_tensor(inpt: Tensor) -> Tensor:
    return inpt
