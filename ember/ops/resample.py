"""``interpolate`` in every mode and dimension torch has: nearest and nearest-exact (1-3 d),
linear, bilinear, trilinear, bicubic, area, and antialiased bilinear/bicubic.

Every mode but area is separable: along each resized dim, output ``o`` is
``sum_k weight_k[o] * x[index_k[o]]`` over a few taps (1 for nearest, 2 for linear, 4 for
bicubic, the filter's support for antialias). Each tap's indices never decrease along ``o``, so
the adjoint (the gradient) is a segment sum per tap (the backend's ``segment_sum``); forward and
adjoint are the two directions of one op, so the gradient differentiates again. Area mode is
adaptive average pooling, as in torch.
"""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from .inplace import type_name
from . import pool as _pool
from . import pool_1d as _pool_1d, pool_nd as _pool_nd


class _ResampleNd(Op):
    """``taps``: per resized dim (the last ``len(taps)`` dims, outermost first), a tuple of
    ``(index, weight or None)``; ``sizes`` the input sizes; ``adjoint`` applies the transpose."""

    grad_cls: type

    @staticmethod
    def forward(ctx, x, *, taps, sizes, adjoint=False):
        ctx.taps, ctx.sizes, ctx.adjoint = taps, sizes, adjoint
        nd = len(taps)
        order = range(nd - 1, -1, -1) if not adjoint else range(nd)  # innermost dim first
        for which in order:
            axis = x.ndim - nd + which
            shape = [1] * x.ndim
            shape[axis] = -1
            total = None
            for index, weight in taps[which]:
                if not adjoint:
                    part = x.take(index, axis=axis)
                    if weight is not None:
                        part = part * weight.astype(x.dtype, copy=False).reshape(shape)
                else:
                    v = x if weight is None else x * weight.astype(x.dtype).reshape(shape)
                    part = ctx.backend.segment_sum(v, index, sizes[which], axis)
                total = part if total is None else total + part
            x = total
        return x

    @staticmethod
    def backward(ctx, g):
        op = ctx.grad_cls if not ctx.adjoint else type(ctx).grad_cls
        return op.apply(g, taps=ctx.taps, sizes=ctx.sizes, adjoint=not ctx.adjoint)


def _ops(label: str) -> type:
    grad = type(f"Upsample{label}Grad", (_ResampleNd,), {"__module__": __name__},
                name=f"Upsample{label}BackwardBackward0")
    op = type(f"Upsample{label}", (_ResampleNd,), {"__module__": __name__},
              name=f"Upsample{label}Backward0")
    op.grad_cls, grad.grad_cls = grad, op
    return op


def _aa_ops(label: str) -> type:
    grad = type(f"Upsample{label}AaGrad", (_ResampleNd,), {"__module__": __name__},
                name=f"Upsample{label}AaBackwardBackward0")
    op = type(f"Upsample{label}Aa", (_ResampleNd,), {"__module__": __name__},
              name=f"Upsample{label}AaBackward0")
    op.grad_cls, grad.grad_cls = grad, op
    return op


_OPS = {("nearest", 1): _ops("Nearest1D"), ("nearest", 3): _ops("Nearest3D"),
        ("nearest-exact", 1): _ops("NearestExact1D"),
        ("nearest-exact", 3): _ops("NearestExact3D"),
        ("linear", 1): _ops("Linear1D"), ("trilinear", 3): _ops("Trilinear3D"),
        ("bicubic", 2): _ops("Bicubic2D"),
        ("bilinear-aa", 2): _aa_ops("Bilinear2D"), ("bicubic-aa", 2): _aa_ops("Bicubic2D")}


def _cubic_taps(xp: Any, size: int, out: int, align_corners: bool,
                scale: float | None) -> tuple:
    """torch's bicubic convolution (A = -0.75): 4 taps, indices clamped to the input."""
    dst = xp.arange(out, dtype=xp.float64)
    if align_corners:
        src = dst * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:  # no clamp at 0 here, unlike linear
        src = (dst + 0.5) * (1.0 / scale if scale else size / out) - 0.5
    base = xp.floor(src)
    t = src - base
    a = -0.75
    ws = (((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
          ((a + 2) * t - (a + 3)) * t * t + 1,
          ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
          ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a)
    base = base.astype(xp.int64)
    return tuple((xp.clip(base - 1 + k, 0, size - 1), ws[k]) for k in range(4))


def _aa_taps(xp: Any, size: int, out: int, align_corners: bool, scale: float | None,
             cubic: bool) -> tuple:
    """torch's antialiased weights: a filter (triangle, or cubic with a = -0.5) stretched by the
    downscale factor, normalised per output; taps padded to the widest support."""
    if align_corners:
        step = (size - 1) / (out - 1) if out > 1 else 0.0
    else:
        step = 1.0 / scale if scale else size / out
    support = (2.0 if cubic else 1.0) * (step if step >= 1.0 else 1.0)
    inv = 1.0 / step if step >= 1.0 else 1.0
    i = xp.arange(out, dtype=xp.float64)
    center = step * (i + 0.5)
    lo = xp.maximum((center - support + 0.5).astype(xp.int64), 0)
    hi = xp.minimum((center + support + 0.5).astype(xp.int64), size)
    width = int((hi - lo).max()) if out else 0
    k = xp.arange(width)
    pos = lo[:, None] + k  # (out, width)
    x = (pos - center[:, None] + 0.5) * inv
    if cubic:
        a = -0.5
        ax = xp.abs(x)
        w = xp.where(ax < 1, ((a + 2) * ax - (a + 3)) * ax * ax + 1,
                     xp.where(ax < 2, ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a, 0.0))
    else:
        w = xp.maximum(1.0 - xp.abs(x), 0.0)
    w = xp.where(pos < hi[:, None], w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = w / xp.where(total == 0, 1.0, total)
    pos = xp.minimum(pos, size - 1)
    return tuple((pos[:, j], w[:, j]) for j in range(width))


def _dim_taps(xp: Any, mode: str, size: int, out: int, align_corners: bool,
              scale: float | None, antialias: bool) -> tuple:
    if antialias:
        return _aa_taps(xp, size, out, align_corners, scale, mode == "bicubic")
    if mode == "bicubic":
        return _cubic_taps(xp, size, out, align_corners, scale)
    linear = mode in ("linear", "bilinear", "trilinear")
    return _pool._taps(xp, size, out, "bilinear" if linear else mode, align_corners, scale)


_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_NEEDS = {"linear": 3, "bilinear": 4, "trilinear": 5}


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resizes the spatial dims of ``(N, C, *)`` to ``size`` or by ``scale_factor``.

    Args:
        mode: ``'nearest'`` (torch's legacy floor rule), ``'nearest-exact'``, ``'linear'``
            (3-D), ``'bilinear'`` and ``'bicubic'`` (4-D), ``'trilinear'`` (5-D) or ``'area'``
            (adaptive average pooling).
        align_corners: the interpolating modes map corner pixels onto each other.
        recompute_scale_factor: compute the sampling step from the output size instead of the
            given ``scale_factor``.
        antialias: low-pass filter when downsampling (bilinear and bicubic, 4-D).
    """
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and output size "
                    f"of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                    "and output size in (o1, o2, ...,oK) format.")
            if not all(isinstance(n, int) or hasattr(n, "__index__") for n in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] "
                                "or Tuple[int, int, int], but got size with types "
                                f"{[type(n) for n in size]}")
            out_size = [int(n) for n in size]
        else:
            out_size = [int(size)] * dim
        scales: list = [None] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in (N, "
                    "C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(f) for f in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out_size = [int(math.floor(n * f)) for n, f in zip(input.shape[2:], scales)]
        if recompute_scale_factor or mode == "area":
            scales = [None] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         "and requires a 4-D tensor as input")
    if mode == "lanczos" and input.ndim == 4:
        raise NotImplementedError("interpolate: mode 'lanczos' is not supported by ember")
    if mode in _NEEDS and input.ndim in (3, 4, 5) and input.ndim != _NEEDS[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_NEEDS[mode]}D input")
    if mode not in _MODES or input.ndim not in (3, 4, 5) or (mode == "bicubic"
                                                            and input.ndim != 4):
        raise NotImplementedError(
            "Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{input.ndim}D) for the modes: nearest | linear | bilinear | bicubic | trilinear | "
            f"lanczos | area | nearest-exact (got {mode})")
    if not input.is_floating_point():
        kernel = {"linear": "compute_indices_weights_linear",
                  "trilinear": "compute_indices_weights_linear",
                  "bicubic": "compute_indices_weights_cubic"}.get(mode)
        if mode == "bicubic" and input.dtype.name == "uint8":
            # torch resamples uint8 images with its own rounding; ember does not reproduce it
            raise NotImplementedError("interpolate: uint8 input in bicubic mode is not supported "
                                      "by ember; convert to float first")
        if antialias:
            raise NotImplementedError("interpolate: antialias=True on integer input is not "
                                      "supported by ember; convert to float first")
        if kernel is not None:
            raise NotImplementedError(f'"{kernel}" not implemented for \'{type_name(input)}\'')
    if mode == "area":
        fn = {3: _pool_1d.adaptive_avg_pool1d, 4: _pool.adaptive_avg_pool2d,
              5: _pool_nd.adaptive_avg_pool3d}[input.ndim]
        return fn(input, out_size[0] if dim == 1 else tuple(out_size))
    xp = get_array_module(input._data)
    sizes = tuple(input.shape[2:])
    if dim == 2 and mode in ("nearest", "nearest-exact", "bilinear") and not antialias:
        taps = tuple(_pool._taps(xp, n, o, mode, bool(align_corners), f)
                     for n, o, f in zip(sizes, out_size, scales))
        return _pool._RESAMPLE[mode].apply(input, taps=taps, in_hw=sizes)
    taps = tuple(_dim_taps(xp, mode, n, o, bool(align_corners), f, antialias)
                 for n, o, f in zip(sizes, out_size, scales))
    key = (mode + "-aa" if antialias else mode, dim)
    return _OPS[key].apply(input, taps=taps, sizes=sizes)


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated spelling of :func:`interpolate` (with torch's warning)."""
    import warnings

    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    import warnings

    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    import warnings

    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


__all__: list = []
TENSOR_METHODS: dict = {}
