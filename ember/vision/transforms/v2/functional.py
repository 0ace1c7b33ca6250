"""``torchvision.transforms.v2.functional``: the v1 functional forms plus ``to_image`` and
``to_dtype``."""
from __future__ import annotations

from typing import Any

import numpy as np

import ember
from ember import Tensor

from ..functional import *  # noqa: F403
from ..functional import __all__ as _v1_all
from ..functional import (
    convert_image_dtype, elastic_transform, get_dimensions, hflip, pil_to_tensor, vflip,
)
from .._pil import is_pil_image

__all__ = list(_v1_all) + ["to_image", "to_dtype", "to_pure_tensor", "gaussian_noise",
                           "permute_channels", "horizontal_flip", "vertical_flip", "elastic",
                           "get_size", "get_num_channels", "grayscale_to_rgb"]


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


def gaussian_noise(inpt: Tensor, mean: float = 0.0, sigma: float = 0.1,
                   clip: bool = True) -> Tensor:
    """Adds ``N(mean, sigma^2)`` noise to a float image, clamped to ``[0, 1]`` when ``clip``."""
    if not inpt.is_floating_point():
        raise ValueError(f"Input tensor is expected to be in float dtype, got dtype={inpt.dtype}")
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    out = inpt + (mean + ember.randn_like(inpt) * sigma)
    return out.clamp(0, 1) if clip else out


def permute_channels(inpt: Any, permutation: list[int]) -> Any:
    """Reorders the channels: output channel ``i`` is input channel ``permutation[i]``."""
    if is_pil_image(inpt):
        from ..functional import to_pil_image

        return to_pil_image(permute_channels(pil_to_tensor(inpt), permutation), mode=inpt.mode)
    return inpt[..., list(permutation), :, :]


# v2's names for v1 functions
horizontal_flip = hflip
vertical_flip = vflip
elastic = elastic_transform


def get_size(inpt: Any) -> list[int]:
    """``[height, width]`` (v1's ``get_image_size`` is ``[width, height]``)."""
    return get_dimensions(inpt)[1:]


def get_num_channels(inpt: Any) -> int:
    return get_dimensions(inpt)[0]


def grayscale_to_rgb(inpt: Any) -> Any:
    """A 1-channel image as 3 identical channels; a 3-channel image unchanged."""
    if is_pil_image(inpt):
        return inpt.convert(mode="RGB")
    if inpt.shape[-3] >= 3:
        return inpt
    return inpt.repeat(*([1] * (inpt.ndim - 3)), 3, 1, 1)
