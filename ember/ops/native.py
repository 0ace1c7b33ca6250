"""torch's ``native_*`` functions: the normalisations and dropout as the kernels they run on,
returning the statistics (or the mask) beside the result, as ``torch.native_layer_norm`` etc.
do. The result comes from the same op as ``layer_norm``/``batch_norm``/``group_norm`` (so the
same ``Native*Backward0`` node); the layer and batch norms' statistics are plain tensors, as
torch's do not require grad, while group norm's are outputs of its node, as torch's are."""
from __future__ import annotations

from typing import Any, Sequence

from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from . import norm as _norm
from ._op import Op


def _stats(x: Tensor, axes: tuple, eps: float, keep: bool) -> tuple[Tensor, Tensor]:
    """Mean and 1 / sqrt(biased variance + eps) of ``x`` over ``axes``, in its floating dtype
    (float32 for bfloat16, as torch's kernels accumulate)."""
    a = x._data
    xp = get_array_module(a)
    acc = a.astype("float32") if a.dtype.kind == "V" else a
    mean = acc.mean(axis=axes, keepdims=True)
    var = ((acc - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / xp.sqrt(var + eps)
    if not keep:
        mean, rstd = mean.squeeze(axis=axes), rstd.squeeze(axis=axes)
    dt = acc.dtype if a.dtype.kind == "V" else a.dtype
    return Tensor._make(mean.astype(dt)), Tensor._make(rstd.astype(dt))


def native_layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None,
                      bias: Tensor | None, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``layer_norm`` returning ``(output, mean, rstd)``; the statistics have ``input``'s leading
    shape and size-1 trailing dims."""
    out = _norm.layer_norm(input, normalized_shape, weight, bias, eps)
    k = len(tuple(normalized_shape))
    mean, rstd = _stats(input, tuple(range(input.ndim - k, input.ndim)), eps, keep=True)
    return out, mean, rstd


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool,
                      momentum: float, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``batch_norm`` returning ``(output, save_mean, save_invstd)``: the batch's per-channel
    statistics in training, empty tensors in evaluation (as torch)."""
    if training:  # (before the running statistics move)
        axes = (0,) + tuple(range(2, input.ndim))
        mean, invstd = _stats(input, axes, eps, keep=False)
    out = _norm.batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
                           eps)
    if not training:
        xp = get_array_module(input._data)
        mean, invstd = (Tensor._make(xp.empty((0,), input._data.dtype)) for _ in range(2))
    return out, mean, invstd


class NativeGroupNorm(_norm.GroupNorm, name="NativeGroupNormBackward0"):
    """group_norm's op with its statistics as two more outputs, as torch's node has them: the
    gradients reaching mean and rstd flow back to the input too."""

    @staticmethod
    def forward(ctx, x, w, b, **options):
        y = _norm._Norm.forward(ctx, x, w, b, **options)
        n, groups = ctx.layout.work[:2]
        return (y, ctx.mean.reshape(n, groups).astype(y.dtype),
                ctx.invstd.reshape(n, groups).astype(y.dtype))

    @staticmethod
    def backward(ctx, g, g_mean, g_rstd):
        gx, gw, gb = _norm._Norm.backward(ctx, g)
        if gx is None or not (g_mean.abs().sum() + g_rstd.abs().sum()).item():
            return gx, gw, gb
        # d mean / dx = 1/M; d rstd / dx = -rstd^3 (x - mean) / M, per group of M values
        x, _ = ctx.saved_tensors
        n, groups = ctx.layout.work[:2]
        xg = x.reshape(n, groups, -1)
        m = xg.shape[-1]
        mean = xg.mean(-1, keepdim=True)
        rstd = ((xg - mean).pow(2).mean(-1, keepdim=True) + ctx.eps).rsqrt()
        extra = g_mean.reshape(n, groups, 1) / m \
            - g_rstd.reshape(n, groups, 1) * rstd.pow(3) * (xg - mean) / m
        return gx + extra.reshape(x.shape), gw, gb


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int, C: int,
                      HxW: int, group: int, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``group_norm`` of ``input`` seen as (N, C, HxW), returning ``(output, mean, rstd)``, the
    statistics of shape (N, group) and on the same node as the output (they are
    differentiable too, as torch's)."""
    if input.numel() != N * C * HxW:
        raise RuntimeError("Expected X.numel() == N * C * HxW to be true, but got false.  (Could "
                           "this error message be improved?  If so, please report an enhancement "
                           "request to PyTorch.)")
    layout = _norm.group_norm_layout(input, group, weight, bias)
    return NativeGroupNorm.apply(input, weight, bias, layout=layout, eps=eps)


class NativeDropout(Op, name="NativeDropoutBackward0"):
    """``input * keep * scale``; the gradient flows through the kept elements, scaled alike."""

    on_arrays = True

    @staticmethod
    def forward(ctx, a, keep, *, scale):
        ctx.save_for_backward(keep if ctx.needs_input_grad[0] else None)
        ctx.scale = scale
        kept = a * keep  # (keep is bool: a's dtype stays)
        return kept * a.dtype.type(scale) if scale != 1.0 else kept

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved
        return g * keep * ctx.scale, None


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple[Tensor, Tensor]:
    """Dropout returning ``(output, mask)``: ``mask`` (bool) marks the kept elements, which are
    scaled by ``1 / (1 - p)``. ``train=False`` keeps everything (a copy of ``input``)."""
    xp = get_array_module(input._data)
    if train is False:
        keep = xp.ones(input._data.shape, dtype=bool)
        scale = 1.0
    else:  # (None means training, as in torch)
        draw = input.new_empty(tuple(input.shape), dtype=_dt.float32).bernoulli_(1 - p)
        keep = draw._data.astype(bool)
        scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = Tensor._make(keep)
    return NativeDropout.apply(input, mask, scale=scale), mask


class NoDerivative(Op, name="NotImplemented"):
    """torch's node for an op without a derivative: the values pass, a backward raises."""

    @staticmethod
    def forward(ctx, a, *, values, aten):
        ctx.aten = aten
        return values

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(f"derivative for aten::{ctx.aten} is not implemented")


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``channel_shuffle``'s values, without a derivative (as torch's native kernel)."""
    from ..graph import grad_mode
    from .activation_ext import channel_shuffle

    with grad_mode.no_grad():
        values = channel_shuffle(input, groups)._data
    return NoDerivative.apply(input, values=values, aten="native_channel_shuffle")


__all__ = ["native_layer_norm", "native_batch_norm", "native_group_norm", "native_dropout",
           "native_channel_shuffle"]
TENSOR_METHODS: dict[str, Any] = {}
