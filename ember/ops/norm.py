"""Normalisation: batch_norm, layer_norm, group_norm as fused ops.

All three normalise ``x`` over some axes and apply a per-feature affine map, so one Op serves
them, with a ``_Layout`` saying how ``x`` is viewed: stats are taken over ``axes`` of the view
``x.reshape(work)``, and weight/bias broadcast as ``pshape``. Forward and the first-order backward
are fused array code (statistics accumulate in float64 for float32 input, as torch's CPU
batch_norm does). Under ``create_graph`` the backward is instead composed of ember ops that
recompute the statistics from ``x``, so it differentiates again.

The gradient, with ``xhat = (x - mean) * invstd`` and ``M`` elements per statistic:
``gx = invstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))``, ``gxhat = g * w``
(in eval mode, with fixed running statistics, only ``gx = gxhat * invstd``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from .. import dtypes as _dt
from ..graph import grad_mode
from ._op import Op
from ..tensor import Tensor


@dataclass(frozen=True)
class _Layout:
    work: tuple  # x viewed as this shape
    axes: tuple  # statistics over these axes of the view
    pshape: tuple  # weight and bias viewed as this shape (broadcasting against the view)

    @property
    def count(self) -> int:
        return math.prod(self.work[a] for a in self.axes)

    @property
    def param_axes(self) -> tuple:
        """Axes of the view that weight/bias gradients sum over."""
        return tuple(i for i, n in enumerate(self.pshape) if n == 1)

    @property
    def per_stat(self) -> bool:
        """Whether weight/bias are constant wherever the statistics are (batch norm), so the
        whole normalisation folds into one scale and shift per statistic."""
        return set(self.param_axes) == set(self.axes)


def _acc(xp: Any, dtype: Any) -> Any:
    return xp.float64 if dtype.kind == "f" and dtype.itemsize <= 4 else dtype


def _sum(backend: Any, a: Any, axes: tuple, b: Any = None) -> Any:
    """The sum of ``a`` (or of ``a * b``) over ``axes``, kept, in float64 for float32 input.
    When the last (contiguous) axis is summed, it goes first, in ``a``'s dtype (the backend's
    ``sum_last``): far faster than a strided float64 sum, and only the short remaining axes
    accumulate in float64."""
    acc = _acc(backend.xp, a.dtype)
    if a.ndim - 1 not in axes:
        return (a if b is None else a * b).sum(axis=axes, keepdims=True, dtype=acc)
    last = backend.sum_last(a, b)
    rest = tuple(ax for ax in axes if ax != a.ndim - 1)
    return last.sum(axis=rest, keepdims=True, dtype=acc) if rest else last.astype(acc)


def _moments(backend: Any, x: Any, axes: tuple, count: int) -> tuple:
    """Mean and biased variance over ``axes`` (kept, float64 for float32 input), in two passes
    (the variance of the deviations, which cancels nothing), and the deviations themselves."""
    mean = _sum(backend, x, axes) / count
    d = x - mean.astype(x.dtype)
    return mean, _sum(backend, d, axes, d) / count, d


class _Norm(Op):
    @staticmethod
    def forward(ctx, x, w, b, *, layout, eps, training=True, running_mean=None,
                running_var=None, momentum=0.1):
        xp = ctx.xp
        # bfloat16, or float16 with float32 parameters (autocast's mix, which torch accepts):
        # normalised in float32, rounded once at the end
        ctx.low = x.dtype if x.dtype.kind == "V" or (
            x.dtype.itemsize == 2 and any(t is not None and t.dtype.itemsize == 4
                                          for t in (w, b))) else None
        if ctx.low is not None:
            x, w, b = (None if t is None else t.astype("float32") for t in (x, w, b))
        ctx.layout, ctx.eps, ctx.training, ctx.shape = layout, eps, training, x.shape
        ctx.param_shape = (w if w is not None else b).shape if w is not None or b is not None \
            else None
        xv = x.reshape(layout.work)
        acc = _acc(xp, x.dtype)
        stat_shape = tuple(1 if i in layout.axes else n for i, n in enumerate(layout.work))
        d = None
        if training:
            mean, var, d = _moments(ctx.backend, xv, layout.axes, layout.count)
            if running_mean is not None:  # momentum-weighted update, unbiased variance
                m, n = momentum, layout.count
                unbiased = var * (n / (n - 1)) if n > 1 else var * xp.inf
                running_mean[...] = ((1 - m) * running_mean + m * mean.ravel()).astype(
                    running_mean.dtype)
                running_var[...] = ((1 - m) * running_var + m * unbiased.ravel()).astype(
                    running_var.dtype)
        else:
            mean = running_mean.astype(acc).reshape(stat_shape)
            var = running_var.astype(acc).reshape(stat_shape)
        invstd = 1.0 / xp.sqrt(var + eps)
        ctx.mean, ctx.invstd = mean, invstd  # (stat_shape) in the accumulation dtype
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.save_for_backward(x if need_x or need_w else None, w if need_x else None)
        wv = None if w is None else w.reshape(layout.pshape).astype(acc)
        bv = None if b is None else b.reshape(layout.pshape).astype(acc)
        if layout.per_stat and d is not None:  # the deviations, scaled and shifted in place
            y = d
            y *= (invstd if wv is None else invstd * wv).astype(x.dtype)
            if bv is not None:
                y += bv.astype(x.dtype)
        elif layout.per_stat:  # one scale and shift per channel: two passes
            scale = invstd if wv is None else invstd * wv
            shift = -mean * scale if bv is None else bv - mean * scale
            y = xv * scale.astype(x.dtype)
            y += shift.astype(x.dtype)
        else:
            y = d if d is not None else xv - mean.astype(x.dtype)
            y *= invstd.astype(x.dtype)
            if wv is not None or bv is not None:
                # xhat kept for a plain backward, which would recompute it (two broadcasting
                # passes); only when y is another array, so an in-place change of y spares it
                if need_x or need_w:
                    ctx.xhat = y
                y = y * wv.astype(x.dtype) if wv is not None else y + bv.astype(x.dtype)
                if wv is not None and bv is not None:
                    y += bv.astype(x.dtype)
        y = y.reshape(x.shape)
        return y if ctx.low is None else y.astype(ctx.low)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        if ctx.low is not None:  # (bfloat16: the float32 copies were saved; g follows)
            g = g.float()
        if grad_mode.state.enabled:  # create_graph: a composite that differentiates again
            return _norm_backward_graph(ctx, x, w, g)
        return _norm_backward_fused(ctx, x, w, g)


def _norm_backward_fused(ctx: Any, x: Tensor | None, w: Tensor | None, g: Tensor) -> tuple:
    B, layout = ctx.backend, ctx.layout
    need_x, need_w, need_b = ctx.needs_input_grad
    gv = g._data.reshape(layout.work)
    dtype = gv.dtype
    mean, invstd = ctx.mean, ctx.invstd
    axes, pax, n = layout.axes, layout.param_axes, layout.count
    train_x = need_x and ctx.training
    gx = gw = gb = None
    xhat = ctx.__dict__.get("xhat")  # (read, never written: a retained graph runs again)
    d = None if x is None or xhat is not None else \
        x._data.reshape(layout.work) - mean.astype(dtype)
    wv = None if w is None else w._data.reshape(layout.pshape).astype(mean.dtype)
    if layout.per_stat:
        # with per-channel constants a, k, c: gx = g*a + d*k + c (invstd applied once per channel)
        sum_g = _sum(B, gv, pax) if need_b or train_x else None
        sum_gxhat = _sum(B, gv, pax, d) * invstd if need_w or train_x else None
        if need_x:
            a = invstd if wv is None else invstd * wv
            gxv = gv * a.astype(dtype)
            if ctx.training:
                d *= (-a * invstd * sum_gxhat / n).astype(dtype)
                gxv += d
                gxv += (-a * sum_g / n).astype(dtype)
    else:
        inv = invstd.astype(dtype)
        if xhat is None and d is not None:
            xhat = d * inv
        if pax == (0,) and gv.ndim == 2:  # layer norm's (rows, features): one GEMM per sum
            rows = ctx.backend.sum_rows
            sum_g = rows(gv) if need_b else None
            sum_gxhat = rows(gv * xhat) if need_w else None
        else:
            sum_g = _sum(B, gv, pax) if need_b else None
            sum_gxhat = _sum(B, gv, pax, xhat) if need_w else None
        if need_x:
            gxhat = gv if wv is None else gv * wv.astype(dtype)
            if ctx.training:
                m1 = (_sum(B, gxhat, axes) / n).astype(dtype)
                m2 = (_sum(B, gxhat, axes, xhat) / n).astype(dtype)
                gxv = gxhat - m1
                gxv -= xhat * m2
                gxv *= inv
            else:
                gxv = gxhat * inv
    if need_x:
        gx = Tensor._make(gxv.reshape(ctx.shape))
    if need_w:
        gw = Tensor._make(sum_gxhat.astype(dtype).reshape(ctx.param_shape))
    if need_b:
        gb = Tensor._make(sum_g.astype(dtype).reshape(ctx.param_shape))
    return gx, gw, gb


def _norm_backward_graph(ctx: Any, x: Tensor | None, w: Tensor | None, g: Tensor) -> tuple:
    layout = ctx.layout
    need_x, need_w, need_b = ctx.needs_input_grad
    axes, pax = layout.axes, layout.param_axes
    gv = g.reshape(layout.work)
    gx = gw = gb = None
    if x is not None:
        xv = x.reshape(layout.work)
        if ctx.training:
            mean = xv.mean(axes, keepdim=True)
            var = (xv - mean).square().mean(axes, keepdim=True)
            invstd = (var + ctx.eps).rsqrt()
        else:
            mean = Tensor._make(ctx.mean.astype(g._data.dtype))
            invstd = Tensor._make(ctx.invstd.astype(g._data.dtype))
        xhat = (xv - mean) * invstd
    if need_x:
        gxhat = gv if w is None else gv * w.reshape(layout.pshape)
        if ctx.training:
            gxv = invstd * (gxhat - gxhat.mean(axes, keepdim=True)
                            - xhat * (gxhat * xhat).mean(axes, keepdim=True))
        else:
            gxv = gxhat * invstd
        gx = gxv.reshape(ctx.shape)
    if need_w:
        gw = (gv * xhat).sum(pax).reshape(ctx.param_shape)
    if need_b:
        gb = gv.sum(pax).reshape(ctx.param_shape)
    return gx, gw, gb


class BatchNorm(_Norm, name="NativeBatchNormBackward0"):
    pass


class LayerNorm(_Norm, name="NativeLayerNormBackward0"):
    pass


class GroupNorm(_Norm, name="NativeGroupNormBackward0"):
    pass


# -- the public functions -------------------------------------------------------------------------


def _check_vector(t: Tensor | None, name: str, n: int) -> None:
    if t is not None and t.numel() != n:
        raise RuntimeError(f"{name} should contain {n} elements not {t.numel()}")


def _check_dtypes(input: Tensor, *others: Tensor | None) -> None:
    mixed = [t for t in others if t is not None and t.dtype != input.dtype]
    if not mixed:
        return
    if input.dtype in (_dt.float16, _dt.bfloat16):  # a reduced input with float32 parameters
        if all(t.dtype is _dt.float32 for t in mixed):
            return
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
               running_mean: Tensor | None, running_var: Tensor | None, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool = True) -> Tensor:
    """``torch.batch_norm``: normalises each channel (dim 1) over the batch and spatial dims.

    In training the batch statistics are used and ``running_mean``/``running_var`` (if given)
    are updated in place: ``r = (1 - momentum) * r + momentum * stat``, with the unbiased batch
    variance. Otherwise the running statistics normalise.
    """
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got 1)")
    c = input.shape[1]
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean must be defined in evaluation mode")
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_vector(t, name, c)
    _check_dtypes(input, weight, bias)
    n = input.shape[0]
    spatial = math.prod(input.shape[2:])
    layout = _Layout((n, c, spatial), (0, 2), (1, c, 1))
    out = BatchNorm.apply(
        input, weight, bias, layout=layout, eps=eps, training=training, momentum=momentum,
        running_mean=None if running_mean is None else running_mean._data,
        running_var=None if running_var is None else running_var._data)
    return out


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    """Normalises over the trailing dims ``normalized_shape``, then applies the elementwise
    ``weight`` and ``bias`` (of that shape)."""
    if isinstance(normalized_shape, int):
        raise TypeError("layer_norm(): argument 'normalized_shape' (position 2) must be tuple of "
                        "ints, not int")
    norm = tuple(int(n) for n in normalized_shape)
    k = len(norm)
    for t in (weight, bias):
        if t is not None and tuple(t.shape) != norm:
            name = "weight" if t is weight else "bias"
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(norm)}")
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != norm:
        raise RuntimeError(f"Given normalized_shape={list(norm)}, expected input with shape "
                           f"[*, {', '.join(str(n) for n in norm)}], but got input of size"
                           f"{list(input.shape)}")
    _check_dtypes(input, weight, bias)
    d = math.prod(norm)
    rows = math.prod(input.shape[:input.ndim - k])
    return LayerNorm.apply(input, weight, bias, layout=_Layout((rows, d), (1,), (1, d)), eps=eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    """Normalises each group of ``C / num_groups`` channels of each sample, then applies the
    per-channel ``weight`` and ``bias``."""
    layout = group_norm_layout(input, num_groups, weight, bias)
    return GroupNorm.apply(input, weight, bias, layout=layout, eps=eps)


def group_norm_layout(input: Tensor, num_groups: int, weight: Tensor | None,
                      bias: Tensor | None) -> _Layout:
    """torch's checks of group_norm's arguments, and the (N, groups, C/groups, spatial) layout
    its op normalises (native_group_norm shares both)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} and "
                               f"input of shape {list(input.shape)}")
    _check_dtypes(input, weight, bias)
    spatial = math.prod(input.shape[2:])
    cg = c // num_groups
    return _Layout((n, num_groups, cg, spatial), (2, 3), (1, num_groups, cg, 1))


__all__ = ["batch_norm", "layer_norm", "group_norm"]
TENSOR_METHODS: dict = {}
