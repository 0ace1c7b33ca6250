"""Functional image transforms (``torchvision.transforms.functional``).

Each function takes a PIL image or an ember Tensor image ``[..., C, H, W]`` and dispatches to
``_functional_pil`` or ``_functional_tensor``. Pillow is imported only when a PIL image is used.
"""
from __future__ import annotations

import numbers
import warnings
from enum import Enum
from typing import Any, Sequence

import numpy as np

import ember
from ember import Tensor

from . import _functional_pil as F_pil
from . import _functional_tensor as F_t
from ._pil import is_pil_image, require_pil

__all__ = [
    "InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
    "to_tensor", "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize", "resize",
    "pad", "crop", "center_crop", "resized_crop", "hflip", "vflip", "adjust_brightness",
    "adjust_contrast", "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "to_grayscale",
    "rotate", "affine", "perspective", "elastic_transform", "erase", "gaussian_blur", "invert",
    "posterize", "solarize", "adjust_sharpness", "autocontrast", "equalize", "adjust_gamma",
    "five_crop", "ten_crop",
]


class InterpolationMode(Enum):
    """Interpolation modes: ``nearest``, ``nearest-exact``, ``bilinear``, ``bicubic``, ``box``,
    ``hamming`` and ``lanczos`` (the last three for PIL images only)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's integer filter constants (PIL.Image.Resampling), accepted for backward compatibility.
_FROM_PIL_INT = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
                 3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX,
                 5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}
pil_modes_mapping = {InterpolationMode.NEAREST: 0, InterpolationMode.BILINEAR: 2,
                     InterpolationMode.BICUBIC: 3, InterpolationMode.NEAREST_EXACT: 0,
                     InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5,
                     InterpolationMode.LANCZOS: 1}


def _interpolation_modes_from_int(i: int) -> InterpolationMode:
    return _FROM_PIL_INT[i]


def _check_interpolation(interpolation: Any) -> InterpolationMode:
    if isinstance(interpolation, int):
        return _interpolation_modes_from_int(interpolation)
    if not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding "
                        "Pillow integer constant")
    return interpolation


def get_dimensions(img: Any) -> list[int]:
    """Returns ``[channels, height, width]`` of a PIL image or tensor image."""
    if isinstance(img, Tensor):
        return F_t.get_dimensions(img)
    return F_pil.get_dimensions(img)


def get_image_size(img: Any) -> list[int]:
    """Returns ``[width, height]``."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img: Any) -> int:
    return get_dimensions(img)[0]


# ---------------------------------------------------------------------------- conversions

# PIL modes whose pixels are not 8-bit and are therefore returned unscaled by to_tensor
_MODE_TO_NPTYPE = {"I": np.int32, "I;16": np.int16, "F": np.float32}


def to_tensor(pic: Any) -> Tensor:
    """Converts a PIL image or ``HxWxC`` ndarray to a ``CxHxW`` tensor; 8-bit data becomes
    float in ``[0, 1]`` (the default dtype), other data keeps its values.

    See :class:`~ember.vision.transforms.ToTensor`.
    """
    is_array = isinstance(pic, np.ndarray)
    if not (is_pil_image(pic) or is_array):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if is_array and pic.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    float_dtype = ember.get_default_dtype().np

    if is_array:
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if arr.dtype == np.uint8:
            return Tensor._make(arr.astype(float_dtype) / float_dtype.type(255))
        return ember.from_numpy(arr)

    arr = np.array(pic, _MODE_TO_NPTYPE.get(pic.mode, np.uint8), copy=True)
    if pic.mode == "1":
        arr = 255 * arr
    arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if arr.dtype == np.uint8:
        return Tensor._make(arr.astype(float_dtype) / float_dtype.type(255))
    return Tensor._make(arr)


def pil_to_tensor(pic: Any) -> Tensor:
    """Converts a PIL image to a ``CxHxW`` tensor of the same type (no scaling).

    See :class:`~ember.vision.transforms.PILToTensor`.
    """
    if not is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic, copy=True)
    if arr.dtype == np.uint16:
        arr = arr.astype(np.int32)  # ember has no uint16 ("I;16" images): int32 keeps every value
    arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    # a permuted view, as torchvision returns
    return Tensor._make(arr).permute(2, 0, 1)


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """Converts a ``CxHxW`` tensor or ``HxWxC`` ndarray to a PIL image (floats are scaled by
    255)."""
    Image = require_pil("to_pil_image")
    if isinstance(pic, Tensor):
        if pic.ndim == 3:
            pic = pic.permute(1, 2, 0)
        pic = pic.detach().cpu().numpy()
    elif not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    if pic.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if pic.shape[-1] > 4:
        raise ValueError(f"pic should not have > 4 channels. Got {pic.shape[-1]} channels.")
    arr = pic
    if np.issubdtype(arr.dtype, np.floating) and mode != "F":
        arr = (arr * 255).astype(np.uint8)
    channels = arr.shape[2]
    if channels == 1:
        arr = arr[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(arr.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {arr.dtype}. "
                             f"Should be {expected}")
        mode = expected
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for {channels}D inputs")
        if mode is None and arr.dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"Input type {arr.dtype} is not supported")
    if mode in ("L", "LA", "RGB", "RGBA", "I", "F") and _natural_mode(arr) == mode:
        return Image.fromarray(np.ascontiguousarray(arr))
    return Image.frombytes(mode, (arr.shape[1], arr.shape[0]), np.ascontiguousarray(arr).tobytes())


def _natural_mode(arr: np.ndarray) -> str | None:
    # the mode Pillow's fromarray picks by itself (passing mode= is deprecated in Pillow 11.3+)
    if arr.dtype == np.uint8:
        return {2: "L"}.get(arr.ndim) or {2: "LA", 3: "RGB", 4: "RGBA"}.get(arr.shape[-1])
    if arr.ndim == 2:
        return {np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(arr.dtype)
    return None


def convert_image_dtype(image: Tensor, dtype: ember.dtype = ember.float32) -> Tensor:
    """Converts a tensor image to ``dtype``, rescaling values: floats span ``[0, 1]``, integers
    ``[0, max]``. float32 -> int32/int64 and float64 -> int64 raise RuntimeError (not exact)."""
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    return F_t.convert_image_dtype(image, dtype)


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a float ``[..., C, H, W]`` tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    return F_t.normalize(tensor, mean=mean, std=std, inplace=inplace)


# ---------------------------------------------------------------------------- geometry


def _compute_resized_output_size(image_size: tuple[int, int], size: Sequence[int],
                                 max_size: int | None = None) -> list[int]:
    h, w = image_size
    if len(size) == 2:
        return [size[0], size[1]]
    short, long = (w, h) if w <= h else (h, w)
    new_short = size[0]
    # torchvision truncates the long side (int(), not round()): 500x375 -> 341x256
    new_long = int(new_short * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested "
                             f"size for the smaller edge size = {list(size)}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return [new_h, new_w]


def resize(img: Any, size: int | Sequence[int],
           interpolation: InterpolationMode = InterpolationMode.BILINEAR,
           max_size: int | None = None, antialias: bool | None = True) -> Any:
    """Resizes an image. An int ``size`` (or ``[size]``) sets the shorter side, keeping the aspect
    ratio; ``(h, w)`` sets both. ``max_size`` caps the longer side. PIL images are always
    antialiased; tensors follow ``antialias`` for bilinear/bicubic."""
    interpolation = _check_interpolation(interpolation)
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError("Size must be an int or a 1 or 2 element tuple/list, not a "
                             f"{len(size)} element tuple/list")
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of the "
                             "smaller edge, i.e. size should be an int or a sequence of length 1 "
                             "in torchscript mode.")
    _, height, width = get_dimensions(img)
    size = [size] if isinstance(size, int) else list(size)
    output_size = _compute_resized_output_size((height, width), size, max_size)
    if [height, width] == output_size:
        return img
    if not isinstance(img, Tensor):
        if antialias is False:
            warnings.warn("Anti-alias option is always applied for PIL Image input. Argument "
                          "antialias is ignored.")
        return F_pil.resize(img, output_size, pil_modes_mapping[interpolation])
    return F_t.resize(img, output_size, interpolation.value, antialias)


def pad(img: Any, padding: int | Sequence[int], fill: Any = 0,
        padding_mode: str = "constant") -> Any:
    """Pads all sides: an int, ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``;
    modes ``constant`` (with ``fill``), ``edge``, ``reflect``, ``symmetric``."""
    if isinstance(img, Tensor):
        return F_t.pad(img, padding, fill, padding_mode)
    return F_pil.pad(img, padding, fill, padding_mode)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """Crops the box at ``(top, left)`` of ``height x width``; parts outside are zero."""
    if isinstance(img, Tensor):
        return F_t.crop(img, top, left, height, width)
    return F_pil.crop(img, top, left, height, width)


def center_crop(img: Any, output_size: int | Sequence[int]) -> Any:
    """Crops the centre ``(h, w)`` box, zero-padding first if the image is smaller."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    # Python's round() (half to even), as torchvision: a 375-high image cropped to 224 starts at 76
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(img: Any, top: int, left: int, height: int, width: int,
                 size: int | Sequence[int],
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> Any:
    """``crop`` then ``resize`` (used by RandomResizedCrop)."""
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


def hflip(img: Any) -> Any:
    """Flips left-right."""
    if isinstance(img, Tensor):
        return F_t.hflip(img)
    return F_pil.hflip(img)


def vflip(img: Any) -> Any:
    """Flips top-bottom."""
    if isinstance(img, Tensor):
        return F_t.vflip(img)
    return F_pil.vflip(img)


# ---------------------------------------------------------------------------- colour


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    """0 gives black, 1 the original, 2 twice as bright (PIL: ``ImageEnhance.Brightness``)."""
    if isinstance(img, Tensor):
        return F_t.adjust_brightness(img, brightness_factor)
    return F_pil.adjust_brightness(img, brightness_factor)


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    """0 gives solid grey at the mean luminance, 1 the original (PIL: ``ImageEnhance.Contrast``)."""
    if isinstance(img, Tensor):
        return F_t.adjust_contrast(img, contrast_factor)
    return F_pil.adjust_contrast(img, contrast_factor)


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    """0 gives greyscale, 1 the original (PIL: ``ImageEnhance.Color``)."""
    if isinstance(img, Tensor):
        return F_t.adjust_saturation(img, saturation_factor)
    return F_pil.adjust_saturation(img, saturation_factor)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Shifts the hue channel in HSV by ``hue_factor`` in ``[-0.5, 0.5]`` turns."""
    if isinstance(img, Tensor):
        return F_t.adjust_hue(img, hue_factor)
    return F_pil.adjust_hue(img, hue_factor)


# grayscale, the warps, blur, erase and AutoAugment's colour operations live in their own module
from ._functional_more import (  # noqa: E402
    adjust_gamma, adjust_sharpness, affine, autocontrast, elastic_transform, equalize, erase,
    five_crop, gaussian_blur, invert, perspective, posterize, rgb_to_grayscale, rotate, solarize,
    ten_crop, to_grayscale,
)
