"""The tensor half of ``ember.vision.transforms.functional`` (torchvision's ``_functional_tensor``).

Images are ember Tensors of shape ``[..., C, H, W]``. Cropping, flipping, dtype conversion and
normalisation are ember ops (they keep autograd); resampling, padding and the colour operations
work on the NumPy array underneath and need no Pillow.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

import ember
from ember import Tensor

__all__: list[str] = []


def _assert_image_tensor(img: Any) -> None:
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    if img.ndim < 2:
        raise TypeError("Tensor is not a torch image.")


def get_dimensions(img: Tensor) -> list[int]:
    _assert_image_tensor(img)
    channels = 1 if img.ndim == 2 else int(img.shape[-3])
    return [channels, int(img.shape[-2]), int(img.shape[-1])]


def _assert_channels(img: Tensor, permitted: Sequence[int]) -> None:
    c = get_dimensions(img)[0]
    if c not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {list(permitted)}, "
                        f"but found {c}")


def _max_value(dtype: ember.dtype) -> int:
    # the value that means "full intensity": 1 for floats and bool, the type's maximum for ints
    if dtype.is_floating_point or dtype is ember.bool:
        return 1
    return int(np.iinfo(dtype.np).max)


def _wrap(arr: np.ndarray) -> Tensor:
    return Tensor._make(np.ascontiguousarray(arr))


def _to(out: Any, device: Any) -> Any:
    if isinstance(out, Tensor):
        return out.to(device)
    if isinstance(out, (tuple, list)):
        return type(out)(_to(o, device) for o in out)
    return out


def on_host(fn: Callable) -> Callable:
    """For the kernels written in NumPy: an image on a device (and the tensors among the other
    arguments) is copied to the host, and the result back to the image's device. A CPU image
    (or a PIL one) goes straight through."""
    @functools.wraps(fn)
    def run(img: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(img, Tensor) or type(img._data) is np.ndarray:
            return fn(img, *args, **kwargs)
        args = tuple(a.cpu() if isinstance(a, Tensor) else a for a in args)
        kwargs = {k: v.cpu() if isinstance(v, Tensor) else v for k, v in kwargs.items()}
        return _to(fn(img.cpu(), *args, **kwargs), img.device)
    return run


# ---------------------------------------------------------------------------- geometry


def hflip(img: Tensor) -> Tensor:
    _assert_image_tensor(img)
    return img.flip(-1)


def vflip(img: Tensor) -> Tensor:
    _assert_image_tensor(img)
    return img.flip(-2)


def crop(img: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        # a box reaching outside the image is zero-padded, like PIL's crop
        padding_ltrb = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                        max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        return pad(img[..., max(top, 0):bottom, max(left, 0):right], padding_ltrb, fill=0)
    return img[..., top:bottom, left:right]


def _check_pad(padding: Any, fill: Any, padding_mode: Any, padding_types: tuple,
               fill_types: tuple) -> None:
    """The argument checks of both backends' ``pad`` (each accepts its own types), in
    torchvision's order and with its errors."""
    if not isinstance(padding, padding_types):
        raise TypeError("Got inappropriate padding arg")
    if not isinstance(fill, fill_types):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


@on_host
def pad(img: Tensor, padding: Any, fill: float = 0, padding_mode: str = "constant") -> Tensor:
    _assert_image_tensor(img)
    _check_pad(padding, fill, padding_mode, (int, tuple, list), (int, float))

    if isinstance(padding, int):
        left = top = right = bottom = padding
    elif len(padding) == 1:
        left = top = right = bottom = padding[0]
    elif len(padding) == 2:
        left = right = padding[0]
        top = bottom = padding[1]
    else:
        left, top, right, bottom = padding
    arr = img._data
    # negative padding crops
    arr = arr[..., max(-top, 0):arr.shape[-2] - max(-bottom, 0),
              max(-left, 0):arr.shape[-1] - max(-right, 0)]
    widths = [(0, 0)] * (arr.ndim - 2) + [(max(top, 0), max(bottom, 0)),
                                          (max(left, 0), max(right, 0))]
    if padding_mode == "constant":
        out = np.pad(arr, widths, "constant", constant_values=np.array(fill).astype(arr.dtype))
    else:
        out = np.pad(arr, widths, padding_mode)
    return _wrap(out)


# ---------------------------------------------------------------------------- resampling

# Filters as Pillow defines them (torch's antialiased interpolate follows the same ones).
def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(1.0 - np.abs(x), 0.0)


def _cubic(a: float):
    def kernel(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
        return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))
    return kernel


def _resample_matrix(in_size: int, out_size: int, mode: str, antialias: bool) -> np.ndarray:
    """The (out_size, in_size) matrix whose rows are the weights of each output pixel."""
    scale = in_size / out_size
    weights = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if antialias:
        # Pillow's scheme (and torch's antialias=True): when shrinking, the filter is stretched
        # by the scale so every input pixel contributes; weights are renormalised at the borders.
        kernel, support = (_triangle, 1.0) if mode == "bilinear" else (_cubic(-0.5), 2.0)
        stretch = max(scale, 1.0)
        support *= stretch
        for i in rows:
            center = (i + 0.5) * scale
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), in_size)
            w = kernel((np.arange(lo, hi) - center + 0.5) / stretch)
            total = w.sum()
            weights[i, lo:hi] = w / total if total != 0 else w
        return weights
    # torch's plain interpolate (align_corners=False): sample at the mapped pixel centre,
    # indices clamped to the image.
    src = (rows + 0.5) * scale - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)
        i0 = np.floor(src).astype(np.int64)
        t = src - i0
        taps = [(i0, 1.0 - t), (i0 + 1, t)]
    else:
        i0 = np.floor(src).astype(np.int64)
        t = src - i0
        k = _cubic(-0.75)
        taps = [(i0 - 1, k(t + 1.0)), (i0, k(t)), (i0 + 1, k(1.0 - t)), (i0 + 2, k(2.0 - t))]
    for idx, w in taps:
        np.add.at(weights, (rows, np.clip(idx, 0, in_size - 1)), w)
    return weights


def _nearest_index(in_size: int, out_size: int, exact: bool) -> np.ndarray:
    scale = in_size / out_size
    offset = 0.5 if exact else 0.0  # "nearest" is torch's legacy floor(i * scale)
    return np.minimum(np.floor((np.arange(out_size) + offset) * scale).astype(np.int64),
                      in_size - 1)


@on_host
def resize(img: Tensor, size: Sequence[int], interpolation: str = "bilinear",
           antialias: bool | None = True) -> Tensor:
    """Resizes ``[..., H, W]`` to exactly ``size = [h, w]``.

    Bilinear/bicubic are separable: one weight matrix per axis, applied as two matmuls. Results
    equal torch's ``interpolate`` (float) up to float rounding; integer images are computed in
    float, rounded and clamped, so a value may differ by 1 from torch's native uint8 kernel.
    """
    _assert_image_tensor(img)
    if interpolation not in ("nearest", "nearest-exact", "bilinear", "bicubic"):
        raise ValueError(f"Interpolation mode '{interpolation}' is not supported for tensors; "
                         "use nearest, nearest-exact, bilinear or bicubic")
    out_h, out_w = int(size[0]), int(size[1])
    arr = img._data
    in_h, in_w = arr.shape[-2:]
    if interpolation.startswith("nearest"):
        exact = interpolation == "nearest-exact"
        rows, cols = _nearest_index(in_h, out_h, exact), _nearest_index(in_w, out_w, exact)
        return _wrap(arr[..., rows[:, None], cols[None, :]])

    aa = bool(antialias)
    wh = _resample_matrix(in_h, out_h, interpolation, aa)
    ww = _resample_matrix(in_w, out_w, interpolation, aa)
    out = np.matmul(np.matmul(wh, arr.astype(np.float64)), ww.T)
    if arr.dtype.kind == "f":
        return _wrap(out.astype(arr.dtype))
    info = np.iinfo(arr.dtype) if arr.dtype.kind in "iu" else None
    out = np.round(out)
    if info is not None:
        out = np.clip(out, info.min, info.max)  # bicubic overshoots
    return _wrap(out.astype(arr.dtype))


# ---------------------------------------------------------------------------- dtype, normalize


def convert_image_dtype(image: Tensor, dtype: ember.dtype = ember.float32) -> Tensor:
    if image.dtype == dtype:
        return image
    if image.dtype.is_floating_point:
        if dtype.is_floating_point:
            return image.to(dtype)
        if (image.dtype == ember.float32 and dtype in (ember.int32, ember.int64)) or (
                image.dtype == ember.float64 and dtype == ember.int64):
            raise RuntimeError(
                f"The cast from {image.dtype} to {dtype} cannot be performed safely.")
        # 1.0 must land on the integer maximum and every bin must be equally wide: scale by
        # max + 1 and step back by eps so that 1.0 does not overflow to max + 1.
        eps = 1e-3
        return image.mul(float(_max_value(dtype)) + 1.0 - eps).to(dtype)
    input_max = float(_max_value(image.dtype))
    if dtype.is_floating_point:
        return image.to(dtype) / input_max
    output_max = float(_max_value(dtype))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return ember.div(image, factor, rounding_mode="floor").to(dtype)
    factor = int((output_max + 1) // (input_max + 1))
    return image.to(dtype) * factor


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Input tensor should be a torch tensor. Got {type(tensor)}.")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}.")
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean_t = ember.as_tensor(mean, dtype=dtype, device=tensor.device)
    std_t = ember.as_tensor(std, dtype=dtype, device=tensor.device)
    if bool((std_t == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, "
                         "leading to division by zero.")
    if mean_t.ndim == 1:
        mean_t = mean_t.view(-1, 1, 1)
    if std_t.ndim == 1:
        std_t = std_t.view(-1, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)


# ---------------------------------------------------------------------------- colour


def _float(arr: np.ndarray) -> np.ndarray:
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


def _grayscale(arr: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of [..., 3, H, W] as [..., 1, H, W], in the input dtype (truncated)."""
    r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
    lum = 0.2989 * _float(r) + 0.587 * _float(g) + 0.114 * _float(b)
    return lum.astype(arr.dtype)[..., None, :, :]


def _blend(a: np.ndarray, b: np.ndarray, ratio: float) -> Tensor:
    bound = np.iinfo(a.dtype).max if a.dtype.kind in "iu" else 1.0
    out = np.clip(ratio * _float(a) + (1.0 - ratio) * _float(b), 0, bound)
    return _wrap(out.astype(a.dtype))


def _check_factor(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")


@on_host
def adjust_brightness(img: Tensor, brightness_factor: float) -> Tensor:
    _check_factor("brightness_factor", brightness_factor)
    _assert_channels(img, [1, 3])
    arr = img._data
    return _blend(arr, np.zeros_like(arr), float(brightness_factor))


@on_host
def adjust_contrast(img: Tensor, contrast_factor: float) -> Tensor:
    _check_factor("contrast_factor", contrast_factor)
    _assert_channels(img, [1, 3])
    arr = img._data
    gray = _grayscale(arr) if get_dimensions(img)[0] == 3 else arr
    mean = _float(gray).mean(axis=(-3, -2, -1), keepdims=True)
    return _blend(arr, mean, float(contrast_factor))


@on_host
def adjust_saturation(img: Tensor, saturation_factor: float) -> Tensor:
    _check_factor("saturation_factor", saturation_factor)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:
        return img
    arr = img._data
    return _blend(arr, _grayscale(arr), float(saturation_factor))


def _rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    chroma = maxc - minc
    flat = chroma == 0
    s = chroma / np.where(flat, 1.0, maxc)
    c = np.where(flat, 1.0, chroma)
    rc, gc, bc = (maxc - r) / c, (maxc - g) / c, (maxc - b) / c
    # the sector is picked by which channel is the maximum (red first, then green)
    h = np.select([maxc == r, maxc == g], [bc - gc, 2.0 + rc - bc], 4.0 + gc - rc)
    h = np.where(flat, 0.0, h)
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return np.stack([h, s, maxc], axis=-3)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0, :, :], hsv[..., 1, :, :], hsv[..., 2, :, :]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    sectors = [i == k for k in range(6)]
    r = np.select(sectors, [v, q, p, p, t, v])
    g = np.select(sectors, [t, v, v, q, p, p])
    b = np.select(sectors, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3)


@on_host
def adjust_hue(img: Tensor, hue_factor: float) -> Tensor:
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:
        return img
    orig = img.dtype
    arr = convert_image_dtype(img, ember.float32)._data
    hsv = _rgb_to_hsv(arr)
    hsv[..., 0, :, :] = (hsv[..., 0, :, :] + hue_factor) % 1.0
    out = _wrap(_hsv_to_rgb(hsv).astype(np.float32))
    return convert_image_dtype(out, orig)

