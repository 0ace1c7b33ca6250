"""The PIL-image half of ``ember.vision.transforms.functional`` (torchvision's ``_functional_pil``).

Every function takes and returns a ``PIL.Image.Image``; Pillow is imported lazily.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ._functional_tensor import _check_pad
from ._pil import is_pil_image, require_pil

__all__: list[str] = []


def _check(img: Any) -> None:
    if not is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")


def get_dimensions(img: Any) -> list[int]:
    _check(img)
    width, height = img.size
    return [len(img.getbands()), height, width]


def hflip(img: Any) -> Any:
    _check(img)
    return img.transpose(require_pil().Transpose.FLIP_LEFT_RIGHT)


def vflip(img: Any) -> Any:
    _check(img)
    return img.transpose(require_pil().Transpose.FLIP_TOP_BOTTOM)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    _check(img)
    # Pillow fills the part of the box outside the image with zeros, as torchvision documents.
    return img.crop((left, top, left + width, top + height))


def resize(img: Any, size: Sequence[int], interpolation: int = 2) -> Any:
    """Resizes to exactly ``size = [h, w]`` with Pillow's (always antialiased) filters."""
    _check(img)
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        raise TypeError(f"Got inappropriate size arg: {size}")
    return img.resize((int(size[1]), int(size[0])), interpolation)


def _parse_fill(fill: Any, img: Any, name: str = "fill") -> dict:
    bands = len(img.getbands())
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and bands > 1:
        fill = (fill,) * bands
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * bands
        elif len(fill) != bands:
            raise ValueError("The number of elements in 'fill' does not match the number of "
                             f"channels of the image ({len(fill)} != {bands})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def _ltrb(padding: Any) -> list[int]:
    """Padding as [left, top, right, bottom] from an int or a 1-, 2- or 4-sequence."""
    if isinstance(padding, numbers.Number):
        return [int(padding)] * 4
    padding = list(padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    return padding


def pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    _check(img)
    _check_pad(padding, fill, padding_mode, (numbers.Number, tuple, list),
               (numbers.Number, str, tuple, list))

    Image = require_pil()
    left, top, right, bottom = _ltrb(padding)
    # Negative padding crops, as in torchvision.
    cl, ct, cr, cb = (max(-p, 0) for p in (left, top, right, bottom))
    if cl or ct or cr or cb:
        img = img.crop((cl, ct, img.width - cr, img.height - cb))
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    palette = img.getpalette() if img.mode == "P" else None

    if padding_mode == "constant":
        from PIL import ImageOps

        out = ImageOps.expand(img, border=(left, top, right, bottom),
                              **_parse_fill(fill, img, "fill"))
    else:
        arr = np.asarray(img)
        widths = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
        out = Image.fromarray(np.pad(arr, widths, padding_mode))
    if palette is not None:
        out.putpalette(palette)
    return out


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    _check(img)
    from PIL import ImageEnhance

    return ImageEnhance.Brightness(img).enhance(brightness_factor)


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    _check(img)
    from PIL import ImageEnhance

    return ImageEnhance.Contrast(img).enhance(contrast_factor)


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    _check(img)
    from PIL import ImageEnhance

    return ImageEnhance.Color(img).enhance(saturation_factor)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _check(img)
    Image = require_pil()
    mode = img.mode
    if mode in {"L", "1", "I", "F"}:
        return img  # no hue to shift
    h, s, v = img.convert("HSV").split()
    # Pillow's hue is a uint8 circle: the shift wraps around modulo 256, as in torchvision.
    shift = int(hue_factor * 255) % 256
    h = Image.fromarray(((np.asarray(h, dtype=np.int32) + shift) % 256).astype(np.uint8))
    return Image.merge("HSV", (h, s, v)).convert(mode)
