"""More of ``torchvision.transforms.functional``: grayscale, the geometric warps (rotate, affine,
perspective, elastic), erase, blur, and the colour operations AutoAugment draws from.

PIL images go through Pillow as torchvision's ``_functional_pil`` does (``Image.rotate``,
``Image.transform``, ``ImageOps``, ``ImageEnhance``); tensor images are warped by sampling a grid
exactly as torchvision's ``grid_sample(align_corners=False)`` path does, in NumPy.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

import ember
from ember import Tensor

from . import _functional_pil as F_pil
from . import _functional_tensor as F_t
from ._pil import is_pil_image, require_pil
from .functional import InterpolationMode, _check_interpolation, pil_modes_mapping

__all__ = [
    "rgb_to_grayscale", "to_grayscale", "rotate", "affine", "perspective", "elastic_transform",
    "erase", "gaussian_blur", "invert", "posterize", "solarize", "adjust_sharpness",
    "autocontrast", "equalize", "adjust_gamma", "five_crop", "ten_crop",
]


def _pil_filter(interpolation: InterpolationMode) -> int:
    return pil_modes_mapping[interpolation]


# ---------------------------------------------------------------------------- tensor helpers


def _as_batch(arr: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """[..., C, H, W] (or [H, W]) as [N, C, H, W], with the shape to restore."""
    shape = arr.shape
    if arr.ndim == 2:
        return arr[None, None], shape
    return arr.reshape((-1,) + shape[-3:]), shape


def _cast_out(out: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # torchvision's _cast_squeeze_out: integer images are rounded back, floats keep their type
    if dtype.kind in "iub":
        out = np.round(out)
    return out.astype(dtype)


def _grid_sample(img: np.ndarray, x: np.ndarray, y: np.ndarray, mode: str) -> np.ndarray:
    """Samples [N, C, H, W] at pixel coordinates x, y ([OH, OW], pixel centres at integers)
    with zero padding: torch's ``grid_sample(align_corners=False, padding_mode="zeros")``."""
    n, c, h, w = img.shape
    flat = img.reshape(n, c, h * w)  # one flat gather per tap is faster than 2-D fancy indexing

    def gather(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        valid = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        idx = np.clip(ys, 0, h - 1) * w + np.clip(xs, 0, w - 1)
        return np.take(flat, idx, axis=-1), valid

    if mode == "nearest":
        taps, valid = gather(np.rint(x).astype(np.int64), np.rint(y).astype(np.int64))
        return taps * valid  # rint: half to even, as torch's nearbyint
    if mode != "bilinear":
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    tx, ty = (x - x0).astype(img.dtype), (y - y0).astype(img.dtype)
    out = np.zeros((n, c) + x.shape, dtype=img.dtype)
    for dy, wy in ((0, 1 - ty), (1, ty)):  # the four taps of each output pixel
        for dx, wx in ((0, 1 - tx), (1, tx)):
            taps, valid = gather(x0 + dx, y0 + dy)
            out += taps * (wx * wy * valid)
    return out


@F_t.on_host
def _apply_grid(img: Tensor, x: np.ndarray, y: np.ndarray, mode: str, fill: Any) -> Tensor:
    """torchvision's ``_apply_grid_transform``: sample, and where ``fill`` is given, blend it in
    through a sampled mask of ones (so edges are blended under bilinear, cut under nearest)."""
    arr, shape = _as_batch(img._data)
    if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != arr.shape[1]:
        raise ValueError("The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({len(fill)} != {arr.shape[1]})")
    dtype = arr.dtype
    work = arr.astype(dtype if dtype.kind == "f" else np.float32)
    if fill is not None:
        work = np.concatenate([work, np.ones_like(work[:, :1])], axis=1)
    out = _grid_sample(work, x, y, mode)
    if fill is not None:
        out, mask = out[:, :-1], out[:, -1:]
        fills = np.asarray(fill if isinstance(fill, (list, tuple)) else [float(fill)],
                           dtype=out.dtype).reshape(1, -1, 1, 1)
        if mode == "nearest":
            out = np.where(mask < 0.5, np.broadcast_to(fills, out.shape), out)
        else:
            out = out * mask + (1.0 - mask) * fills
    out = _cast_out(out, dtype)
    return F_t._wrap(out.reshape(shape[:-2] + out.shape[-2:]))


def _affine_sample_points(matrix: Sequence[float], w: int, h: int, ow: int,
                          oh: int) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates of each output pixel under an inverse affine ``matrix`` given
    about the image centre (torchvision's ``_gen_affine_grid``, mapped back to pixels)."""
    m = np.asarray(matrix, dtype=np.float32)
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=np.float32)[None, :]
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=np.float32)[:, None]
    # torchvision normalises by (w/2, h/2) and grid_sample un-normalises: the same in float32
    gx = (m[0] * xs + m[1] * ys + m[2]) / np.float32(0.5 * w)
    gy = (m[3] * xs + m[4] * ys + m[5]) / np.float32(0.5 * h)
    return ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2


def _get_inverse_affine_matrix(center: Sequence[float], angle: float,
                               translate: Sequence[float], scale: float, shear: Sequence[float],
                               inverted: bool = True) -> list[float]:
    """The 2x3 matrix (row-major, six numbers) of the affine map about ``center``: rotation by
    ``angle`` degrees, shear, scale, then translation; its inverse when ``inverted``."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    # RSS without scale: rotation composed with the shears
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    if inverted:
        matrix = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
        matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
        matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
        matrix[2] += cx
        matrix[5] += cy
    else:
        matrix = [a * scale, b * scale, 0.0, c * scale, d * scale, 0.0]
        matrix[2] += matrix[0] * (-cx) + matrix[1] * (-cy)
        matrix[5] += matrix[3] * (-cx) + matrix[4] * (-cy)
        matrix[2] += cx + tx
        matrix[5] += cy + ty
    return matrix


def _compute_affine_output_size(matrix: Sequence[float], w: int, h: int) -> tuple[int, int]:
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    new_pts = pts @ np.asarray(matrix, dtype=np.float32).reshape(2, 3).T
    lo = new_pts.min(axis=0) + np.array([w * 0.5, h * 0.5], dtype=np.float32)
    hi = new_pts.max(axis=0) + np.array([w * 0.5, h * 0.5], dtype=np.float32)
    tol = 1e-4  # truncate so that 1e-15 above an integer does not ceil to the next one
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def _check_fill(fill: Any) -> None:
    if fill is not None and not isinstance(fill, (Sequence, numbers.Number)):
        raise TypeError("Argument fill should be either int, float, tuple or list")


def _tensor_fill(fill: Any) -> Any:
    # torchvision's F.rotate/affine pass fill through; a number becomes a one-element list
    if fill is None or isinstance(fill, (list, tuple)):
        return fill
    return [float(fill)]


def _pil_fill(fill: Any, img: Any) -> dict:
    return F_pil._parse_fill(fill, img, name="fillcolor")


# ---------------------------------------------------------------------------- grayscale


@F_t.on_host
def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """ITU-R 601-2 luma (``L = 0.2989 R + 0.587 G + 0.114 B``) with 1 or 3 output channels."""
    if not isinstance(img, Tensor):
        return _pil_grayscale(img, num_output_channels)
    if img.ndim < 3:
        raise TypeError(
            f"Input image tensor should have at least 3 dimensions, but found {img.ndim}")
    F_t._assert_channels(img, [1, 3])
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    arr = img._data
    gray = F_t._grayscale(arr) if arr.shape[-3] == 3 else arr.copy()
    if num_output_channels == 3:
        gray = np.broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:])
    return F_t._wrap(gray)


def to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """A PIL image as grayscale (Pillow's ``convert("L")``), with 1 or 3 channels."""
    return _pil_grayscale(img, num_output_channels)


def _pil_grayscale(img: Any, num_output_channels: int) -> Any:
    if not is_pil_image(img):
        raise TypeError("Input should be PIL Image")
    Image = require_pil()
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        arr = np.asarray(img.convert("L"), dtype=np.uint8)
        return Image.fromarray(np.dstack([arr, arr, arr]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


# ---------------------------------------------------------------------------- geometry


def rotate(img: Any, angle: float,
           interpolation: InterpolationMode = InterpolationMode.NEAREST, expand: bool = False,
           center: Sequence[int] | None = None, fill: Any = None) -> Any:
    """Rotates by ``angle`` degrees counter-clockwise about ``center`` (default: the image
    centre); ``expand`` grows the output to hold the whole rotated image."""
    interpolation = _check_interpolation(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    _check_fill(fill)
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return img.rotate(angle, _pil_filter(interpolation), expand, center,
                          **_pil_fill(fill, img))
    _, h, w = F_t.get_dimensions(img)
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h])]
    # the tensor path's angle runs the other way from affine's, as torchvision's
    matrix = _get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _compute_affine_output_size(matrix, w, h) if expand else (w, h)
    x, y = _affine_sample_points(matrix, w, h, ow, oh)
    return _apply_grid(img, x, y, interpolation.value, _tensor_fill(fill))


def affine(img: Any, angle: float, translate: Sequence[int], scale: float,
           shear: float | Sequence[float],
           interpolation: InterpolationMode = InterpolationMode.NEAREST, fill: Any = None,
           center: Sequence[int] | None = None) -> Any:
    """Rotation (degrees), translation (pixels), scale and shear (degrees, x or (x, y)) about
    ``center``, keeping the image size."""
    interpolation = _check_interpolation(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if isinstance(angle, int):
        angle = float(angle)
    if isinstance(translate, tuple):
        translate = list(translate)
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    if isinstance(shear, tuple):
        shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    _check_fill(fill)
    from .functional import get_dimensions

    _, height, width = get_dimensions(img)
    if not isinstance(img, Tensor):
        # the PIL path measures from the image's corner, with the centre at (w/2, h/2)
        if center is None:
            center = [width * 0.5, height * 0.5]
        matrix = _get_inverse_affine_matrix(center, angle, translate, scale, shear)
        return img.transform(img.size, require_pil().AFFINE, matrix, _pil_filter(interpolation),
                             **_pil_fill(fill, img))
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    translate_f = [1.0 * t for t in translate]
    matrix = _get_inverse_affine_matrix(center_f, angle, translate_f, scale, shear)
    x, y = _affine_sample_points(matrix, width, height, width, height)
    return _apply_grid(img, x, y, interpolation.value, _tensor_fill(fill))


def _get_perspective_coeffs(startpoints: Sequence[Sequence[int]],
                            endpoints: Sequence[Sequence[int]]) -> list[float]:
    """The 8 coefficients mapping output (end) points to input (start) points: least squares
    on the 8x8 system, in float64, rounded to float32 as torchvision's."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(
            f"Please provide exactly four corners, got {len(startpoints)} startpoints "
            f"and {len(endpoints)} endpoints.")
    a = np.zeros((8, 8), dtype=np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b = np.asarray(startpoints, dtype=np.float64).reshape(8)
    res = np.linalg.lstsq(a, b, rcond=None)[0].astype(np.float32)
    return res.tolist()


def perspective(img: Any, startpoints: list[list[int]], endpoints: list[list[int]],
                interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                fill: Any = None) -> Any:
    """Warps so that the four ``startpoints`` (top-left, top-right, bottom-right, bottom-left)
    land on ``endpoints``."""
    interpolation = _check_interpolation(interpolation)
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    _check_fill(fill)
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return img.transform(img.size, require_pil().PERSPECTIVE, coeffs,
                             _pil_filter(interpolation), **_pil_fill(fill, img))
    _, h, w = F_t.get_dimensions(img)
    c = np.asarray(coeffs, dtype=np.float32)
    xs = np.linspace(0.5, w - 0.5, w, dtype=np.float32)[None, :]
    ys = np.linspace(0.5, h - 0.5, h, dtype=np.float32)[:, None]
    den = c[6] * xs + c[7] * ys + np.float32(1.0)
    gx = (c[0] * xs + c[1] * ys + c[2]) / np.float32(0.5 * w) / den - 1
    gy = (c[3] * xs + c[4] * ys + c[5]) / np.float32(0.5 * h) / den - 1
    x, y = ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2
    return _apply_grid(img, x, y, interpolation.value, _tensor_fill(fill))


@F_t.on_host
def elastic_transform(img: Any, displacement: Tensor,
                      interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                      fill: Any = None) -> Any:
    """Moves each pixel by ``displacement`` (``[1, H, W, 2]``, in grid units of ``[-1, 1]``)."""
    from .functional import pil_to_tensor, to_pil_image

    interpolation = _check_interpolation(interpolation)
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if not isinstance(img, Tensor):
        F_pil._check(img)
        out = elastic_transform(pil_to_tensor(img), displacement, interpolation, fill)
        return to_pil_image(out, mode=img.mode)
    _, h, w = F_t.get_dimensions(img)
    if tuple(displacement.shape) != (1, h, w, 2):
        raise ValueError(f"Argument displacement shape should be (1, {h}, {w}, 2), "
                         f"but given {tuple(displacement.shape)}")
    d = displacement.detach().to(img.device)._data  # (torchvision: on the image's device)
    gxs = np.linspace((-w + 1) / w, (w - 1) / w, w, dtype=np.float32)[None, :]
    gys = np.linspace((-h + 1) / h, (h - 1) / h, h, dtype=np.float32)[:, None]
    gx, gy = gxs + d[0, :, :, 0], gys + d[0, :, :, 1]
    x, y = ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2
    return _apply_grid(img, x, y, interpolation.value, _tensor_fill(fill))


def erase(img: Tensor, i: int, j: int, h: int, w: int, v: Any, inplace: bool = False) -> Tensor:
    """Sets the box at ``(i, j)`` of ``h x w`` to ``v`` (a value or a broadcastable tensor)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    if not inplace:
        img = img.clone()
    img[..., i:i + h, j:j + w] = v
    return img


def _crop_size(size: int | Sequence[int]) -> Sequence[int]:
    """five_crop's and ten_crop's ``size`` as ``(h, w)`` (a length-2 sequence as given)."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    return size


def five_crop(img: Any, size: int | Sequence[int]) -> tuple[Any, Any, Any, Any, Any]:
    """The four corner crops and the centre crop: ``(tl, tr, bl, br, center)``."""
    from .functional import center_crop, crop, get_dimensions

    size = _crop_size(size)
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = size
    if crop_width > image_width or crop_height > image_height:
        raise ValueError(f"Requested crop size {size} is bigger than input size "
                         f"{(image_height, image_width)}")
    tl = crop(img, 0, 0, crop_height, crop_width)
    tr = crop(img, 0, image_width - crop_width, crop_height, crop_width)
    bl = crop(img, image_height - crop_height, 0, crop_height, crop_width)
    br = crop(img, image_height - crop_height, image_width - crop_width, crop_height, crop_width)
    center = center_crop(img, [crop_height, crop_width])
    return tl, tr, bl, br, center


def ten_crop(img: Any, size: int | Sequence[int], vertical_flip: bool = False) -> tuple:
    """:func:`five_crop` of the image and of its flipped version (horizontal by default)."""
    from .functional import hflip, vflip

    size = _crop_size(size)
    first_five = five_crop(img, size)
    img = vflip(img) if vertical_flip else hflip(img)
    return first_five + five_crop(img, size)


# ---------------------------------------------------------------------------- blur


def _gaussian_kernel1d(kernel_size: int, sigma: float) -> np.ndarray:
    half = (kernel_size - 1) * 0.5
    x = np.linspace(-half, half, kernel_size, dtype=np.float32)
    pdf = np.exp(-0.5 * (x / np.float32(sigma)) ** 2)
    return pdf / pdf.sum()


def _conv_sep(arr: np.ndarray, ky: np.ndarray, kx: np.ndarray) -> np.ndarray:
    """Valid correlation of [N, C, H, W] with the separable kernel ``ky x kx``."""
    h_out = arr.shape[-2] - len(ky) + 1
    w_out = arr.shape[-1] - len(kx) + 1
    tmp = sum(arr[..., i:i + h_out, :] * ky[i] for i in range(len(ky)))  # over kernel taps
    return sum(tmp[..., j:j + w_out] * kx[j] for j in range(len(kx)))


@F_t.on_host
def gaussian_blur(img: Any, kernel_size: int | list[int],
                  sigma: float | list[float] | None = None) -> Any:
    """Blurs with a Gaussian kernel of ``kernel_size`` (odd, positive) and ``sigma`` (default
    ``0.3 * ((k - 1) * 0.5 - 1) + 0.8``); borders are reflected."""
    from .functional import pil_to_tensor, to_pil_image

    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(
            f"kernel_size should be int or a sequence of integers. Got {type(kernel_size)}")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    if len(kernel_size) != 2:
        raise ValueError(
            f"If kernel_size is a sequence its length should be 2. Got {len(kernel_size)}")
    for ksize in kernel_size:
        if ksize % 2 == 0 or ksize < 0:
            raise ValueError(
                f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sigma = [ksize * 0.15 + 0.35 for ksize in kernel_size]
    if sigma is not None and not isinstance(sigma, (int, float, list, tuple)):
        raise TypeError(f"sigma should be either float or sequence of floats. Got {type(sigma)}")
    if isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    if isinstance(sigma, (list, tuple)) and len(sigma) == 1:
        sigma = [sigma[0], sigma[0]]
    if len(sigma) != 2:
        raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sigma)}")
    for s in sigma:
        if s <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return to_pil_image(gaussian_blur(pil_to_tensor(img), kernel_size, sigma),
                            mode=img.mode)
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0])
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1])
    arr, shape = _as_batch(img._data)
    work = arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float32)
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    work = np.pad(work, [(0, 0), (0, 0), (py, py), (px, px)], mode="reflect")
    out = _cast_out(_conv_sep(work, ky, kx), arr.dtype)
    return F_t._wrap(out.reshape(shape))


# ---------------------------------------------------------------------------- colour


def _check_tensor_channels(img: Tensor, permitted: Sequence[int]) -> None:
    F_t._assert_image_tensor(img)
    F_t._assert_channels(img, permitted)


@F_t.on_host
def invert(img: Any) -> Any:
    """``max - img``: 255 - x for uint8, 1 - x for floats."""
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return _image_ops().invert(img)
    _check_tensor_channels(img, [1, 3])
    arr = img._data
    if arr.dtype == np.bool_:
        return F_t._wrap(~arr)
    return F_t._wrap((F_t._max_value(img.dtype) - arr).astype(arr.dtype))


def _image_ops() -> Any:
    require_pil()
    from PIL import ImageOps

    return ImageOps


@F_t.on_host
def posterize(img: Any, bits: int) -> Any:
    """Keeps the top ``bits`` bits of each channel (uint8 images)."""
    if not (0 <= bits <= 8):
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return _image_ops().posterize(img, bits)
    _check_tensor_channels(img, [1, 3])
    if img.dtype != ember.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
    return F_t._wrap(img._data & mask)


@F_t.on_host
def solarize(img: Any, threshold: float) -> Any:
    """Inverts the pixels at or above ``threshold``."""
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return _image_ops().solarize(img, threshold)
    _check_tensor_channels(img, [1, 3])
    if threshold > F_t._max_value(img.dtype):
        raise TypeError("Threshold should be less than bound of img.")
    arr = img._data
    return F_t._wrap(np.where(arr >= threshold, invert(img)._data, arr))


@F_t.on_host
def adjust_sharpness(img: Any, sharpness_factor: float) -> Any:
    """Blends with a smoothed copy (PIL's SMOOTH kernel): 0 blurs, 1 keeps, 2 sharpens."""
    if not isinstance(img, Tensor):
        F_pil._check(img)
        require_pil()
        from PIL import ImageEnhance

        return ImageEnhance.Sharpness(img).enhance(sharpness_factor)
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    _check_tensor_channels(img, [1, 3])
    arr = img._data
    if arr.shape[-1] <= 2 or arr.shape[-2] <= 2:
        return img
    k = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    batch, shape = _as_batch(arr)
    work = batch.astype(arr.dtype if arr.dtype.kind == "f" else np.float32)
    # the 3x3 kernel [[1,1,1],[1,5,1],[1,1,1]] / 13 is the 3x3 box plus 4x the centre
    box = _conv_sep(work, k, k)
    smooth = (box + 4 * work[..., 1:-1, 1:-1]) / np.float32(13.0)
    degenerate = batch.copy()
    degenerate[..., 1:-1, 1:-1] = _cast_out(smooth, arr.dtype)
    return F_t._blend(arr, degenerate.reshape(shape), float(sharpness_factor))


@F_t.on_host
def autocontrast(img: Any) -> Any:
    """Stretches each channel so its darkest pixel becomes black and its lightest white."""
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return _image_ops().autocontrast(img)
    F_t._assert_image_tensor(img)
    if img.ndim < 3:
        raise TypeError(
            f"Input image tensor should have at least 3 dimensions, but found {img.ndim}")
    _check_tensor_channels(img, [1, 3])
    arr = img._data
    bound = F_t._max_value(img.dtype)
    wt = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    lo = arr.min(axis=(-2, -1), keepdims=True).astype(wt)
    hi = arr.max(axis=(-2, -1), keepdims=True).astype(wt)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = wt.type(bound) / (hi - lo)
    flat = ~np.isfinite(scale)  # a constant channel is left as it is
    lo = np.where(flat, 0, lo).astype(wt)
    scale = np.where(flat, 1, scale).astype(wt)
    out = np.clip((arr - lo) * scale, 0, bound)
    return F_t._wrap(out.astype(arr.dtype))


@F_t.on_host
def equalize(img: Any) -> Any:
    """Equalises each channel's histogram (uint8 images), as ``PIL.ImageOps.equalize``."""
    if not isinstance(img, Tensor):
        F_pil._check(img)
        return _image_ops().equalize(img)
    F_t._assert_image_tensor(img)
    if not (3 <= img.ndim <= 4):
        raise TypeError(f"Input image tensor should have 3 or 4 dimensions, but found {img.ndim}")
    if img.dtype != ember.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _check_tensor_channels(img, [1, 3])
    arr = img._data
    chans = arr.reshape(-1, arr.shape[-2] * arr.shape[-1])  # one row per (image, channel)
    n = chans.shape[0]
    # all channels' histograms at once: offset each row's values into its own 256 bins
    hist = np.bincount((chans + 256 * np.arange(n)[:, None]).ravel(),
                       minlength=256 * n).reshape(n, 256)
    # step = (sum of the non-zero bins except the last) // 255
    last_nz = 255 - np.argmax(hist[:, ::-1] != 0, axis=1)
    step = (hist.sum(axis=1) - hist[np.arange(n), last_nz]) // 255
    safe = np.maximum(step, 1)[:, None]
    lut = (np.cumsum(hist, axis=1) + (step // 2)[:, None]) // safe
    lut = np.clip(np.concatenate([np.zeros((n, 1), lut.dtype), lut[:, :-1]], axis=1), 0, 255)
    out = np.take_along_axis(lut, chans.astype(np.int64), axis=1).astype(np.uint8)
    out = np.where((step == 0)[:, None], chans, out)  # a flat histogram is left alone
    return F_t._wrap(out.reshape(arr.shape))


@F_t.on_host
def adjust_gamma(img: Any, gamma: float, gain: float = 1) -> Any:
    """``gain * img ** gamma`` on intensities in ``[0, 1]``."""
    if not isinstance(img, Tensor):
        F_pil._check(img)
        if gamma < 0:
            raise ValueError("Gamma should be a non-negative real number")
        input_mode = img.mode
        img = img.convert("RGB")
        gamma_map = [int((255 + 1 - 1e-3) * gain * pow(ele / 255.0, gamma))
                     for ele in range(256)] * 3
        return img.point(gamma_map).convert(input_mode)
    F_t._assert_image_tensor(img)
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    from .functional import convert_image_dtype

    result = img if img.dtype.is_floating_point else convert_image_dtype(img, ember.float32)
    r = result._data
    out = np.clip(gain * r ** r.dtype.type(gamma), 0, 1).astype(r.dtype)
    out_t = F_t._wrap(out)
    return out_t if img.dtype.is_floating_point else convert_image_dtype(out_t, img.dtype)
