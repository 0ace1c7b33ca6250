"""2-d pooling and resampling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d,
and interpolate (nearest, nearest-exact, bilinear, area).

Windows are read as strided slices of the padded input, one whole-array step per kernel offset
(the backend's ``window_reduce``, and ``max_pool2d``, which also gives the winners' indices);
no window matrix is materialised. Max pooling sends each gradient to the input element that won
its window (the first maximum, as torch), by a scatter-add over flat indices; average pooling's
gradient is a col2im of the scaled output gradient. Each gradient op is linear in the incoming
gradient, and its own backward is its adjoint (a gather, or the pooling itself), so every pooling
differentiates twice, as torch's do.
"""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from ..backend import WindowGeometry, get_array_module
from ..tensor import Tensor
from .inplace import type_name

IntOr2 = Any


def _as4d(x: Any) -> Any:
    return x if x.ndim == 4 else x[None]


# -- max pooling -----------------------------------------------------------------------------------


class MaxPool2d(Op, name="MaxPool2DWithIndicesBackward0"):
    @staticmethod
    def forward(ctx, x, *, geo, return_indices):
        xp = ctx.xp
        ctx.in_shape = x.shape
        # (bfloat16 is kind "V": a float, padded with -inf too)
        lowest = xp.iinfo(x.dtype).min if x.dtype.kind in "iu" else -xp.inf
        want = ctx.needs_input_grad[0] or return_indices
        y, idx = ctx.backend.max_pool2d(_as4d(x), geo, lowest, want)
        y = y.reshape(x.shape[:-2] + y.shape[-2:])
        if not want:
            return y
        idx = idx.reshape(y.shape)
        ctx.overlap = any(s < d * (k - 1) + 1
                          for s, d, k in zip(geo.stride, geo.dilation, geo.kernel))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
        if return_indices:
            ctx.mark_non_differentiable(idx)
            return y, idx
        return y

    @staticmethod
    def backward(ctx, g, *unused):
        (idx,) = ctx.saved_tensors
        return MaxPool2dGrad.apply(g, idx, in_shape=ctx.in_shape, overlap=ctx.overlap)


class MaxPool2dGrad(Op, name="MaxPool2DWithIndicesBackwardBackward0"):
    """Scatter-adds ``g`` onto the input elements named by the plane indices ``idx``."""

    @staticmethod
    def forward(ctx, g, idx, *, in_shape, overlap):
        xp = ctx.xp
        ctx.save_for_backward(idx)
        planes = math.prod(in_shape[:-2])
        size = in_shape[-2] * in_shape[-1]
        per = idx.shape[-2] * idx.shape[-1]  # (explicit sizes: -1 is ambiguous for empty input)
        flat = (idx.reshape(planes, per) + (xp.arange(planes) * size)[:, None]).ravel()
        gx = xp.zeros(planes * size, dtype=g.dtype)
        if overlap:  # windows share elements: an element may win several of them
            ctx.backend.scatter_add(gx, flat, g.ravel())
        else:
            gx[flat] = g.ravel()
        return gx.reshape(in_shape)

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        lead = idx.shape[:-2]
        flat_gg = gg.reshape(*lead, gg.shape[-2] * gg.shape[-1])
        flat_idx = idx.reshape(*lead, idx.shape[-2] * idx.shape[-1])
        return flat_gg.gather(-1, flat_idx).reshape(idx.shape), None


class AdaptiveMaxPool2d(Op, name="AdaptiveMaxPool2DBackward0"):
    @staticmethod
    def forward(ctx, x, *, out_hw, return_indices):
        xp = ctx.xp
        ctx.in_shape = x.shape
        x4 = _as4d(x)
        (h, w), (oh, ow) = x.shape[-2:], out_hw
        ih, iw = _adaptive_taps(xp, h, oh), _adaptive_taps(xp, w, ow)
        # gather every window, padded to the widest by repeating its last tap (which cannot win:
        # the same value already appeared earlier in the window)
        win = x4[:, :, ih[:, :, None, None], iw[None, None, :, :]]  # (N, C, OH, KH, OW, KW)
        win = win.transpose(0, 1, 2, 4, 3, 5).reshape(x4.shape[:2] + (oh, ow, ih.shape[1]
                                                                          * iw.shape[1]))
        arg = win.argmax(axis=-1)
        if x.dtype.kind == "f":  # torch's kernel lets every NaN win, so the last NaN is kept
            nan = xp.isnan(win)
            last_nan = win.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
            arg = xp.where(nan.any(axis=-1), last_nan, arg)
        y = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        kw = iw.shape[1]
        rows = ih[xp.arange(oh)[:, None], arg // kw]
        cols = iw[xp.arange(ow), arg % kw]
        idx = rows * w + cols
        y, idx = y.reshape(x.shape[:-2] + (oh, ow)), idx.reshape(x.shape[:-2] + (oh, ow))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
        if return_indices:
            ctx.mark_non_differentiable(idx)
            return y, idx
        return y

    @staticmethod
    def backward(ctx, g, *unused):
        (idx,) = ctx.saved_tensors
        return AdaptiveMaxPool2dGrad.apply(g, idx, in_shape=ctx.in_shape, overlap=True)


class AdaptiveMaxPool2dGrad(MaxPool2dGrad, name="AdaptiveMaxPool2DBackwardBackward0"):
    pass


def _adaptive_bounds(size: int, out: int) -> tuple:
    """torch's adaptive windows: ``[floor(i*size/out), ceil((i+1)*size/out))`` for each i."""
    starts = [i * size // out for i in range(out)]
    ends = [-(-(i + 1) * size // out) for i in range(out)]
    return starts, ends


def _adaptive_taps(xp: Any, size: int, out: int) -> Any:
    """(out, widest window) input positions, each window padded with its last position."""
    starts, ends = _adaptive_bounds(size, out)
    k = max(e - s for s, e in zip(starts, ends)) if out else 1
    s, e = xp.asarray(starts).reshape(-1, 1), xp.asarray(ends).reshape(-1, 1)
    return xp.minimum(s + xp.arange(k), e - 1)


# -- average pooling -------------------------------------------------------------------------------


def _avg_divisor(xp: Any, geo: WindowGeometry, count_include_pad: bool, dtype: Any) -> Any:
    """(OH, OW) window sizes as torch divides by them: windows clipped to the padded input, and
    further to the real input unless ``count_include_pad``."""
    sizes = []
    for o, s, p, k, n in zip(geo.out_hw, geo.stride, geo.pad, geo.kernel, geo.in_hw):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if count_include_pad:
            sizes.append(end - start)
        else:
            sizes.append(xp.minimum(end, n) - xp.maximum(start, 0))
    return (sizes[0].reshape(-1, 1) * sizes[1]).astype(dtype)


class AvgPool2d(Op, name="AvgPool2DBackward0"):
    @staticmethod
    def forward(ctx, x, *, geo, divisor):
        xp = ctx.xp
        ctx.geo, ctx.divisor, ctx.in_shape = geo, divisor, x.shape
        padded = ctx.backend.pad_to_windows(_as4d(x), geo)
        y, _ = ctx.backend.window_reduce(padded, geo.kernel, geo.stride, geo.dilation,
                                         geo.out_hw, "sum")
        y = _window_mean(xp, y, divisor)
        return y.reshape(x.shape[:-2] + y.shape[-2:])

    @staticmethod
    def backward(ctx, g):
        return AvgPool2dGrad.apply(g, geo=ctx.geo, divisor=ctx.divisor, in_shape=ctx.in_shape)


class AvgPool2dGrad(Op, name="AvgPool2DBackwardBackward0"):
    """The adjoint of avg_pool2d: each window's gradient, divided, spread over the window."""

    @staticmethod
    def forward(ctx, g, *, geo, divisor, in_shape):
        xp = ctx.xp
        ctx.geo, ctx.divisor = geo, divisor
        g4 = _as4d(g)
        scaled = g4 / divisor
        cols = xp.broadcast_to(scaled[:, :, None, None], g4.shape[:2] + geo.kernel + geo.out_hw)
        (pt, pl), (h, w) = geo.pad, geo.in_hw
        img = ctx.backend.col2im(cols, (pt + h, pl + w), geo.stride, geo.dilation, g.dtype)
        return xp.ascontiguousarray(img[:, :, pt:, pl:]).reshape(in_shape)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, geo=ctx.geo, divisor=ctx.divisor)


class AdaptiveAvgPool2d(Op, name="AdaptiveAvgPool2DBackward0"):
    """``y = A_h @ x @ A_w^T`` with A the (out, in) averaging matrices of the adaptive windows;
    ``transpose`` applies the adjoint ``A_h^T @ g @ A_w`` instead (the gradient)."""

    @staticmethod
    def forward(ctx, x, *, mats, transpose=False):
        ctx.mats, ctx.transpose = mats, transpose
        ah, aw = (m.astype(x.dtype, copy=False) for m in mats)
        if transpose:
            ah, aw = ah.T, aw.T
        xp = ctx.xp
        lead = x.shape[:-2]
        rows = x.size // x.shape[-1] if x.shape[-1] else 0
        t = xp.matmul(x.reshape(rows, x.shape[-1]), aw.T).reshape(lead + (x.shape[-2],
                                                                          aw.shape[0]))
        return xp.matmul(ah, t)

    @staticmethod
    def backward(ctx, g):
        op = AdaptiveAvgPool2dGrad if not ctx.transpose else AdaptiveAvgPool2d
        return op.apply(g, mats=ctx.mats, transpose=not ctx.transpose)


class AdaptiveAvgPool2dGrad(AdaptiveAvgPool2d, name="AdaptiveAvgPool2DBackwardBackward0"):
    pass


def _averaging_matrix(xp: Any, size: int, out: int) -> Any:
    starts, ends = _adaptive_bounds(size, out)
    s, e = xp.asarray(starts).reshape(-1, 1), xp.asarray(ends).reshape(-1, 1)
    pos = xp.arange(size)
    return ((pos >= s) & (pos < e)) / (e - s)


# -- resampling ------------------------------------------------------------------------------------


class _Resample(Op):
    """Separable resampling of the last two dims: along each, output ``o`` is
    ``sum_t weight_t[o] * x[index_t[o]]`` (one tap for nearest, two for linear). ``taps`` holds
    ``((index, weight or None), ...)`` for H then W; ``adjoint`` applies the transpose (the
    gradient), a segment sum, as the taps' indices never decrease."""

    grad_cls: type

    @staticmethod
    def forward(ctx, x, *, taps, in_hw, adjoint=False):
        ctx.taps, ctx.in_hw, ctx.adjoint = taps, in_hw, adjoint
        axes = ((-1, 1), (-2, 0)) if not adjoint else ((-2, 0), (-1, 1))  # W inside, as torch
        for axis, which in axes:
            total = None
            for index, weight in taps[which]:
                if not adjoint:
                    part = x.take(index, axis=axis)
                    if weight is not None:
                        part = part * _along(weight.astype(x.dtype, copy=False), axis)
                else:
                    v = x if weight is None else x * _along(weight.astype(x.dtype), axis)
                    part = ctx.backend.segment_sum(v, index, in_hw[which], axis)
                total = part if total is None else total + part
            x = total
        return x

    @staticmethod
    def backward(ctx, g):
        op = ctx.grad_cls if not ctx.adjoint else type(ctx).grad_cls
        return op.apply(g, taps=ctx.taps, in_hw=ctx.in_hw, adjoint=not ctx.adjoint)


def _along(weight: Any, axis: int) -> Any:
    return weight.reshape(-1, 1) if axis == -2 else weight


def _resample_ops(label: str) -> type:
    grad = type(f"Upsample{label}2dGrad", (_Resample,), {"__module__": __name__},
                name=f"Upsample{label}2DBackwardBackward0")
    op = type(f"Upsample{label}2d", (_Resample,), {"__module__": __name__},
              name=f"Upsample{label}2DBackward0")
    op.grad_cls, grad.grad_cls = grad, op
    return op


_RESAMPLE = {"nearest": _resample_ops("Nearest"), "nearest-exact": _resample_ops("NearestExact"),
             "bilinear": _resample_ops("Bilinear")}


def _taps(xp: Any, size: int, out: int, mode: str, align_corners: bool,
          scale: float | None) -> tuple:
    """torch's source positions along one dim (``scale`` is a given scale factor, if any)."""
    dst = xp.arange(out)
    if mode != "bilinear":  # torch computes these indices in float32
        f32 = xp.float32
        step = f32(1.0 / scale) if scale else f32(size) / f32(out)
        pos = dst.astype(f32) + (f32(0.5) if mode == "nearest-exact" else f32(0))
        return ((xp.minimum(xp.floor(pos * step).astype(xp.int64), size - 1), None),)
    if align_corners:
        src = dst * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        step = 1.0 / scale if scale else size / out
        src = xp.maximum((dst + 0.5) * step - 0.5, 0.0)
    i0 = src.astype(xp.int64)
    i1 = i0 + (i0 < size - 1)
    w1 = src - i0
    return ((i0, 1.0 - w1), (i1, w1))


# -- argument checks and the public functions ------------------------------------------------------


_N_INTS = {2: "two", 3: "three"}
_AXES = {2: "HW", 3: "THW"}


def _pool_pair(value: Any, op: str, name: str, default: Any = None, dims: int = 2) -> tuple:
    """A pooling argument as ``dims`` ints (one int, or one per spatial dim), with torch's error
    for any other length."""
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0 and default):
        value = default
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return (int(value[0]),) * dims
        if len(value) == dims:
            return tuple(int(v) for v in value)
        n = _N_INTS[dims]
        what = {"kernel_size": f"kernel_size must either be a single int, or a tuple of {n} ints",
                "stride": f"stride must either be omitted, a single int, or a tuple of {n} ints",
                "padding": f"padding must either be a single int, or a tuple of {n} ints",
                "dilation": f"dilation must be either a single int, or a tuple of {n} ints"}[name]
        raise RuntimeError(f"{op}: {what}")
    return (int(value),) * dims


def _window_mean(xp: Any, sums: Any, divisor: Any) -> Any:
    """Window sums divided by their divisor (a number, or one per window), in the sums' dtype:
    integer pooling truncates the mean, as torch's kernel does."""
    if sums.dtype.kind in "iu":
        return xp.trunc(sums / divisor).astype(sums.dtype)
    sums /= divisor if not hasattr(divisor, "dtype") else divisor.astype(sums.dtype, copy=False)
    return sums


def _pool_output(size: int, k: int, p: int, s: int, d: int, ceil_mode: bool) -> int:
    span = d * (k - 1) + 1
    out = (size + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window may not start in the padding
        out -= 1
    return out


def _pool_geometry(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool, dims: int = 2) -> WindowGeometry:
    """The windows of a ``dims``-d max or average pooling, after torch's argument checks."""
    kernel = _pool_pair(kernel_size, op, "kernel_size", dims=dims)
    stride = _pool_pair(stride, op, "stride", default=kernel, dims=dims)
    pad = _pool_pair(padding, op, "padding", dims=dims)
    dil = _pool_pair(dilation, op, "dilation", dims=dims)
    axes = _AXES[dims]
    if min(stride) == 0:
        raise RuntimeError("stride should not be zero")
    if min(pad) < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {min(pad)}")
    if min(kernel) <= 0:
        got = " ".join(f"k{a}: {k}" for a, k in zip(axes, kernel))
        raise RuntimeError(f"kernel size should be greater than zero, but got {got}")
    if min(dil) <= 0:
        got = " ".join(f"dilation{a}: {d}" for a, d in zip(axes, dil))
        raise RuntimeError(f"dilation should be greater than zero, but got {got}")
    for p, k, d in zip(pad, kernel, dil):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    if dims == 2 and input.ndim in (3, 4) and 0 in input.shape[-3:]:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{list(input.shape)}")
    if input.ndim not in (dims + 1, dims + 2) or any(n == 0 for n in input.shape[-dims - 1:]):
        raise RuntimeError(f"non-empty {dims + 1}D or {dims + 2}D (batch mode) tensor expected "
                           "for input")
    size = tuple(input.shape[-dims:])
    out = tuple(_pool_output(n, k, p, s, d, ceil_mode)
                for n, k, p, s, d in zip(size, kernel, pad, stride, dil))
    if min(out) < 1:
        c = input.shape[-dims - 1]
        given, got = "x".join(map(str, (c, *size))), "x".join(map(str, (c, *out)))
        raise RuntimeError(f"Given input size: ({given}). Calculated output size: ({got}). "
                           "Output size is too small")
    return WindowGeometry(kernel, stride, pad, dil, 1, size, out)


def max_pool2d(input: Tensor, kernel_size: IntOr2, stride: IntOr2 | None = None,
               padding: IntOr2 = 0, dilation: IntOr2 = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """2-d max pooling over ``(N, C, H, W)`` or ``(C, H, W)``; ``stride`` defaults to the kernel.

    With ``return_indices`` it also returns, per output, the flat index ``h*W + w`` of the
    winning input element within its plane (what ``max_unpool2d`` takes).
    """
    geo = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2d.apply(input, geo=geo, return_indices=return_indices)


def avg_pool2d(input: Tensor, kernel_size: IntOr2, stride: IntOr2 | None = None,
               padding: IntOr2 = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-d average pooling; ``count_include_pad`` counts the zero padding in each window's size,
    and ``divisor_override`` replaces that size altogether."""
    if input.ndim not in (3, 4) or any(n == 0 for n in input.shape[-3:]):
        if input.ndim < 3:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-input.ndim}, {input.ndim - 1}], but got -3)")
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{list(input.shape)}")
    geo = _pool_geometry("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        divisor: Any = divisor_override
    else:
        divisor = _avg_divisor(get_array_module(input._data), geo, count_include_pad,
                               input._data.dtype)
    return AvgPool2d.apply(input, geo=geo, divisor=divisor)


def _adaptive_size(op: str, input: Tensor, output_size: Any) -> tuple:
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got {list(input.shape)}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise RuntimeError(f"{op}: output_size must be 2")
        size = tuple(n if o is None else int(o) for o, n in zip(output_size, input.shape[-2:]))
    else:
        size = (int(output_size),) * 2
    for i in range(1, input.ndim):
        if input.shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {i} being empty")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"{op}" not implemented for \'{type_name(input)}\'')
    return size


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed ``output_size`` (an int, or a pair whose ``None`` keeps that
    input size); window ``i`` covers ``[floor(i*H/OH), ceil((i+1)*H/OH))``."""
    if input.ndim in (3, 4) and output_size in (1, (1, 1), [1, 1]):
        return input.mean((-1, -2), keepdim=True)  # torch takes this shortcut, as a mean
    size = _adaptive_size("adaptive_avg_pool2d", input, output_size)
    xp = get_array_module(input._data)
    mats = (_averaging_matrix(xp, input.shape[-2], size[0]),
            _averaging_matrix(xp, input.shape[-1], size[1]))
    return AdaptiveAvgPool2d.apply(input, mats=mats)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed ``output_size`` over torch's adaptive windows."""
    size = _adaptive_size("adaptive_max_pool2d", input, output_size)
    return AdaptiveMaxPool2d.apply(input, out_hw=size, return_indices=return_indices)


__all__ = ["max_pool2d"]
TENSOR_METHODS: dict = {}
