"""3-d pooling: max_pool3d, avg_pool3d, adaptive_avg_pool3d, adaptive_max_pool3d.

3-d pooling folds depth into the 2-d window kernels: the
backend's ``depth_windows`` gathers the KD input slices every output depth reads, the 2-d
``window_reduce`` reduces each slice's windows, and a reduction over KD finishes the job; the
gradients scatter back through ``col2im`` and ``depth_col2im``, looping over kernel offsets only.
Max pooling's gradient is a scatter over flat indices into each ``D*H*W`` volume, its own
backward a gather.
"""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from ..backend import WindowGeometry, get_array_module
from ..tensor import Tensor
from .inplace import type_name
from . import pool as _pool


# -- max pooling over flat plane indices ---------------------------------------------


class _PlaneScatter(Op):
    """``g`` (..., *out) scattered onto zeros (..., *size) at the flat per-plane indices ``idx``
    (accumulating where ``overlap``); its backward gathers."""

    @staticmethod
    def forward(ctx, g, idx, *, size, overlap):
        xp = ctx.xp
        ctx.save_for_backward(idx)
        nd = ctx.nd_ = len(size)
        lead = idx.shape[:-nd]
        planes, plane = math.prod(lead), math.prod(size)
        per = math.prod(idx.shape[-nd:])
        flat = (idx.reshape(planes, per) + (xp.arange(planes) * plane)[:, None]).ravel()
        out = xp.zeros(planes * plane, dtype=g.dtype)
        if overlap:  # windows share elements: an element may win several of them
            ctx.backend.scatter_add(out, flat, g.ravel())
        else:
            out[flat] = g.ravel()
        return out.reshape(tuple(lead) + tuple(size))

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        nd = ctx.nd_
        lead = idx.shape[:-nd]
        flat_gg = gg.reshape(*lead, -1)
        flat_idx = idx.reshape(*lead, math.prod(idx.shape[-nd:]))
        return flat_gg.gather(-1, flat_idx).reshape(idx.shape), None


class MaxPool3dGrad(_PlaneScatter, name="MaxPool3DWithIndicesBackwardBackward0"):
    pass


class AdaptiveMaxPool3dGrad(_PlaneScatter, name="AdaptiveMaxPool3DBackwardBackward0"):
    pass


def _last_nan_or_first_max(xp: Any, v: Any, axis: int) -> Any:
    """torch's winner along ``axis``: the first maximum, or the last NaN where there is one
    (its kernels take ``val > max || isnan(val)``)."""
    arg = v.argmax(axis=axis)
    if v.dtype.kind == "f":
        nan = xp.isnan(v)
        if nan.any():
            n = v.shape[axis]
            last = n - 1 - xp.flip(nan, axis=axis).argmax(axis=axis)
            arg = xp.where(nan.any(axis=axis), last, arg)
    return arg


class MaxPool3d(Op, name="MaxPool3DWithIndicesBackward0"):
    @staticmethod
    def forward(ctx, x, *, geo, return_indices):
        xp, be = ctx.xp, ctx.backend
        x5 = x if x.ndim == 5 else x[None]
        n, c, d, h, w = x5.shape
        (kd, kw), (od, oh, ow) = (geo.kernel[0], geo.kernel[2]), geo.out_hw
        lowest = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        cols = be.depth_windows(x5, kd, geo.stride[0], geo.dilation[0], geo.pad[0], od, lowest)
        plane = _plane(geo)
        x4 = cols.reshape(n, c * kd * od, h, w)
        y2, arg2 = be.window_reduce(be.pad_to_windows(x4, plane, lowest), plane.kernel,
                                    plane.stride, plane.dilation, plane.out_hw, "argmax")
        y2 = y2.reshape(n, c, kd, od, oh, ow)
        best = _last_nan_or_first_max(xp, y2, 2)[:, :, None]  # the winning kernel depth
        y = xp.take_along_axis(y2, best, axis=2)[:, :, 0]
        off = xp.take_along_axis(arg2.reshape(y2.shape), best, axis=2)[:, :, 0].astype(xp.int64)
        i, j = xp.divmod(off, kw)
        starts = [xp.arange(o) * s - p for o, s, p in zip(geo.out_hw, geo.stride, geo.pad)]
        dd = starts[0].reshape(-1, 1, 1) + best[:, :, 0] * geo.dilation[0]
        hh = starts[1].reshape(-1, 1) + i * geo.dilation[1]
        ww = starts[2] + j * geo.dilation[2]
        # a window of -inf only wins at its first element, which may be padding (padded with
        # -inf too); torch's index is then the window's first element inside the input
        outside = (dd < 0) | (dd >= d) | (hh < 0) | (hh >= h) | (ww < 0) | (ww >= w)
        if outside.any():
            first = [st + -(-xp.maximum(-st, 0) // dl) * dl
                     for st, dl in zip(starts, geo.dilation)]
            dd = xp.where(outside, first[0].reshape(-1, 1, 1), dd)
            hh = xp.where(outside, first[1].reshape(-1, 1), hh)
            ww = xp.where(outside, first[2], ww)
        idx = ((dd * h + hh) * w + ww).reshape(x.shape[:-3] + (od, oh, ow))
        y = y.reshape(idx.shape)
        ctx.size = (d, h, w)
        ctx.overlap = any(s < dl * (k - 1) + 1
                          for s, dl, k in zip(geo.stride, geo.dilation, geo.kernel))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
        if return_indices:
            ctx.mark_non_differentiable(idx)
            return y, idx
        return y

    @staticmethod
    def backward(ctx, g, *unused):
        (idx,) = ctx.saved_tensors
        return MaxPool3dGrad.apply(g, idx, size=ctx.size, overlap=ctx.overlap)


def _plane(geo: WindowGeometry) -> WindowGeometry:
    return WindowGeometry(geo.kernel[1:], geo.stride[1:], geo.pad[1:], geo.dilation[1:], 1,
                          geo.in_hw[1:], geo.out_hw[1:])


class AdaptiveMaxPool3d(Op, name="AdaptiveMaxPool3DBackward0"):
    @staticmethod
    def forward(ctx, x, *, out_size, return_indices):
        xp = ctx.xp
        x5 = x if x.ndim == 5 else x[None]
        d, h, w = x.shape[-3:]
        od, oh, ow = out_size
        td, th, tw = (_pool._adaptive_taps(xp, n, o) for n, o in zip((d, h, w), out_size))
        win = x5[:, :, td[:, :, None, None, None, None], th[None, None, :, :, None, None],
                 tw[None, None, None, None, :, :]]  # (N, C, OD, KD, OH, KH, OW, KW)
        kd, kh, kw = td.shape[1], th.shape[1], tw.shape[1]
        win = win.transpose(0, 1, 2, 4, 6, 3, 5, 7).reshape(x5.shape[:2] + (od, oh, ow,
                                                                            kd * kh * kw))
        arg = _last_nan_or_first_max(xp, win, -1)
        y = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        a, r = xp.divmod(arg, kh * kw)
        b, e = xp.divmod(r, kw)
        dd = td[xp.arange(od)[:, None, None], a]
        hh = th[xp.arange(oh)[:, None], b]
        ww = tw[xp.arange(ow), e]
        idx = ((dd * h + hh) * w + ww).reshape(x.shape[:-3] + tuple(out_size))
        y = y.reshape(idx.shape)
        ctx.size = (d, h, w)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(idx)
        if return_indices:
            ctx.mark_non_differentiable(idx)
            return y, idx
        return y

    @staticmethod
    def backward(ctx, g, *unused):
        (idx,) = ctx.saved_tensors
        return AdaptiveMaxPool3dGrad.apply(g, idx, size=ctx.size, overlap=True)


# -- average pooling -------------------------------------------------------------------------------


def _divisor(xp: Any, geo: WindowGeometry, count_include_pad: bool, dtype: Any) -> Any:
    """(OD, OH, OW) window sizes as torch divides by them (see ``pool._avg_divisor``)."""
    out = None
    for o, s, p, k, n in zip(geo.out_hw, geo.stride, geo.pad, geo.kernel, geo.in_hw):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        size = end - start if count_include_pad else xp.minimum(end, n) - xp.maximum(start, 0)
        out = size if out is None else out[..., None] * size
    return out.astype(dtype)


class AvgPool3d(Op, name="AvgPool3DBackward0"):
    @staticmethod
    def forward(ctx, x, *, geo, divisor):
        xp, be = ctx.xp, ctx.backend
        ctx.geo, ctx.divisor, ctx.in_shape = geo, divisor, x.shape
        x5 = x if x.ndim == 5 else x[None]
        n, c, d, h, w = x5.shape
        (kd, od), plane = (geo.kernel[0], geo.out_hw[0]), _plane(geo)
        cols = be.depth_windows(x5, kd, geo.stride[0], 1, geo.pad[0], od)
        x4 = cols.reshape(n, c * kd * od, h, w)
        y2, _ = be.window_reduce(be.pad_to_windows(x4, plane), plane.kernel, plane.stride,
                                 plane.dilation, plane.out_hw, "sum")
        y = y2.reshape((n, c, kd, od) + plane.out_hw).sum(axis=2)
        y = _pool._window_mean(xp, y, divisor)
        return y.reshape(x.shape[:-3] + y.shape[-3:])

    @staticmethod
    def backward(ctx, g):
        return AvgPool3dGrad.apply(g, geo=ctx.geo, divisor=ctx.divisor, in_shape=ctx.in_shape)


class AvgPool3dGrad(Op, name="AvgPool3DBackwardBackward0"):
    """The adjoint of avg_pool3d: each window's gradient, divided, spread over the window."""

    @staticmethod
    def forward(ctx, g, *, geo, divisor, in_shape):
        xp, be = ctx.xp, ctx.backend
        ctx.geo, ctx.divisor = geo, divisor
        g5 = g if g.ndim == 5 else g[None]
        n, c, od = g5.shape[:3]
        plane = _plane(geo)
        scaled = (g5 / divisor).reshape((n, c * od) + plane.out_hw)
        cols = xp.broadcast_to(scaled[:, :, None, None], scaled.shape[:2] + plane.kernel
                               + plane.out_hw)
        (pt, pl), (h, w) = plane.pad, plane.in_hw
        img = be.col2im(cols, (pt + h, pl + w), plane.stride, plane.dilation, g.dtype)
        img = img[:, :, pt:, pl:].reshape(n, c, 1, od, h, w)
        img = xp.broadcast_to(img, (n, c, geo.kernel[0], od, h, w))
        gx = be.depth_col2im(img, geo.in_hw[0], geo.stride[0], 1, geo.pad[0])
        return xp.ascontiguousarray(gx).reshape(in_shape)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool3d.apply(gg, geo=ctx.geo, divisor=ctx.divisor)


class AdaptiveAvgPool3d(Op, name="AdaptiveAvgPool3DBackward0"):
    """``y`` = the (out, in) averaging matrices applied along D, H and W; ``transpose``
    applies their adjoint (the gradient)."""

    @staticmethod
    def forward(ctx, x, *, mats, transpose=False):
        xp = ctx.xp
        ctx.mats, ctx.transpose = mats, transpose
        ad, ah, aw = (m.astype(x.dtype, copy=False) for m in mats)
        if transpose:
            ad, ah, aw = ad.T, ah.T, aw.T
        lead, d = x.shape[:-3], x.shape[-3]
        t = xp.matmul(x, aw.T)  # (..., D, H, OW)
        t = xp.matmul(ah, t)  # (..., D, OH, OW)
        oh, ow = t.shape[-2:]
        t = xp.matmul(ad, t.reshape(lead + (d, oh * ow)))  # (..., OD, OH*OW)
        return t.reshape(lead + (ad.shape[0], oh, ow))

    @staticmethod
    def backward(ctx, g):
        op = AdaptiveAvgPool3dGrad if not ctx.transpose else AdaptiveAvgPool3d
        return op.apply(g, mats=ctx.mats, transpose=not ctx.transpose)


class AdaptiveAvgPool3dGrad(AdaptiveAvgPool3d, name="AdaptiveAvgPool3DBackwardBackward0"):
    pass


# -- argument checks and the public functions ------------------------------------------------------


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """3-d max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; ``stride`` defaults to the
    kernel. ``return_indices`` also returns each maximum's flat index ``(d*H + h)*W + w``."""
    geo = _pool._pool_geometry("max_pool3d", input, kernel_size, stride, padding, dilation,
                               ceil_mode, dims=3)
    return MaxPool3d.apply(input, geo=geo, return_indices=return_indices)


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    """``max_pool3d`` returning ``(output, indices)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """3-d average pooling; ``count_include_pad`` and ``divisor_override`` as in
    ``avg_pool2d``."""
    if input.ndim not in (4, 5) or any(n == 0 for n in input.shape[-4:]):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    geo = _pool._pool_geometry("avg_pool3d", input, kernel_size, stride, padding, 1, ceil_mode,
                               dims=3)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        divisor: Any = divisor_override
    else:
        divisor = _divisor(get_array_module(input._data), geo, count_include_pad,
                           input._data.dtype)
    return AvgPool3d.apply(input, geo=geo, divisor=divisor)


def _adaptive_size3d(op: str, input: Tensor, output_size: Any, colon: str = "",
                     kernel: str = "") -> tuple:
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{op}(): Expected 4D or 5D tensor, but got{colon} "
                           f"{list(input.shape)}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 3:
            raise RuntimeError(f"{op}: internal error: output_size.size() must be 3")
        size = tuple(n if o is None else int(o) for o, n in zip(output_size, input.shape[-3:]))
    else:
        size = (int(output_size),) * 3
    for i in range(1, input.ndim):
        if input.shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {i} being empty")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel or op}" not implemented for '
                                  f"'{type_name(input)}'")
    return size


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of ``(N, C, D, H, W)`` to a fixed ``output_size`` (an int, or a triple
    whose ``None`` keeps that size), over torch's adaptive windows."""
    if input.ndim in (4, 5) and output_size in (1, (1, 1, 1), [1, 1, 1]):
        return input.mean((-1, -2, -3), keepdim=True)  # torch takes this shortcut, as a mean
    size = _adaptive_size3d("adaptive_avg_pool3d", input, output_size,
                            kernel="adaptive_avg_pool3d_cpu")
    xp = get_array_module(input._data)
    mats = tuple(_pool._averaging_matrix(xp, n, o) for n, o in zip(input.shape[-3:], size))
    return AdaptiveAvgPool3d.apply(input, mats=mats)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of ``(N, C, D, H, W)`` to a fixed ``output_size``."""
    size = _adaptive_size3d("adaptive_max_pool3d", input, output_size, colon=":",
                            kernel="adaptive_max_pool3d_cpu")
    return AdaptiveMaxPool3d.apply(input, out_size=size, return_indices=return_indices)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple:
    return adaptive_max_pool3d(input, output_size, True)


__all__ = ["max_pool3d"]  # (torch.max_pool3d; the rest are nn.functional's)
TENSOR_METHODS: dict = {}
