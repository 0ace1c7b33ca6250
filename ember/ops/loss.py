"""Losses with their own torch nodes: nll_loss, mse_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy, binary_cross_entropy_with_logits.

Each forward reduces on arrays (``'none' | 'mean' | 'sum'``); each backward is a formula in ember
ops scaled by the incoming gradient, so the losses differentiate twice. Class weights, targets
of nll_loss and ``pos_weight`` are constants (torch gives them no gradient either). The argument
checks and composite losses (cross_entropy, l1_loss, kl_div) live in ``nn.functional``.
"""
from __future__ import annotations

from typing import Any

from ._op import Op
from ..tensor import Tensor
from .activation import LogSigmoid
from ..backend import quiet as _quiet

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(xp: Any, loss: Any, reduction: str) -> Any:
    if reduction == "none":
        return loss
    total = loss.sum(dtype=xp.float64 if loss.dtype.itemsize <= 4 else None)
    if reduction == "mean":
        total = total / loss.size if loss.size else xp.nan
    return xp.asarray(total, dtype=loss.dtype)


def _scale(g: Tensor, reduction: str, n: int) -> Tensor:
    """The incoming gradient as a per-element factor: broadcast for 'sum', over n for 'mean'."""
    return g / n if reduction == "mean" else g


class DivScalar(Op, name="DivBackward1"):
    """``input / scalar`` as torch's C++ composites record it (a Python ``/`` is DivBackward0)."""

    @staticmethod
    def forward(ctx, a, *, scalar):
        ctx.scalar = scalar
        return (a / scalar).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.scalar


# -- negative log likelihood -----------------------------------------------------------------------


class NllLoss(Op, name="NllLossBackward0"):
    """``-weight[t] * x[n, t, k]`` for ``x`` viewed as (N, C, K) and targets as (N, K); a 1-d
    ``x`` is one sample. 'none' returns the losses in the target's shape."""

    on_arrays = True

    @staticmethod
    def forward(ctx, x, *, target, weight, ignore_index, reduction):
        xp = ctx.xp
        n, c = (1, x.shape[0]) if x.ndim == 1 else x.shape[:2]
        k = x.size // (n * c) if n * c else 1  # (explicit: -1 is ambiguous for an empty batch)
        xv = x.reshape(n, c, k)
        tv = target.reshape(n, k)
        keep = tv != ignore_index
        safe = xp.where(keep, tv, 0)
        picked = xp.take_along_axis(xv, safe[:, None, :], axis=1)[:, 0, :]
        w = (keep if weight is None else weight[safe] * keep).astype(x.dtype)
        ctx.shape, ctx.safe, ctx.w, ctx.reduction = x.shape, safe, w, reduction
        loss = -picked * w
        if reduction == "none":
            return loss.reshape(target.shape)
        acc = xp.float64 if x.dtype.itemsize <= 4 else x.dtype
        total = loss.sum(dtype=acc)
        if reduction == "mean":
            ctx.total_weight = w.sum(dtype=acc)
            with _quiet(xp):  # all targets ignored: 0/0 = nan, as in torch
                total = total / ctx.total_weight
        return xp.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        n, k = ctx.safe.shape
        F = ctx.F
        coef = F.const(NllLoss._coef(ctx, F.data(g).dtype))
        if ctx.reduction == "none":
            return (coef * g.reshape(n, 1, k)).reshape(ctx.shape)
        return (coef * g).reshape(ctx.shape)

    @staticmethod
    def _coef(ctx, dtype: Any) -> Any:
        """d loss / d x as an (N, C, K) array, before the incoming gradient's factor."""
        xp = ctx.xp
        n, k = ctx.safe.shape
        c = ctx.shape[0] if len(ctx.shape) == 1 else ctx.shape[1]
        coef = xp.zeros((n, c, k), dtype=dtype)
        w = -ctx.w
        if ctx.reduction == "mean":  # (ignored targets stay 0 even when the total weight is 0)
            with _quiet(xp):
                w = xp.where(w != 0, w / ctx.total_weight, 0)
        xp.put_along_axis(coef, ctx.safe[:, None, :], w.astype(coef.dtype)[:, None, :], axis=1)
        return coef


class NllLoss2d(NllLoss, name="NllLoss2DBackward0"):
    pass


# -- regression losses ---------------------------------------------------------------------------


class _Pointwise(Op):
    """A loss ``l(input - target)`` reduced; ``grad(d)`` is dl/dd as a formula in ember ops."""

    @staticmethod
    def forward(ctx, a, b, *, reduction, param=None):
        xp = ctx.xp
        ctx.reduction, ctx.param, ctx.n = reduction, param, max(a.size, b.size)
        ctx.save_for_backward(a, b)
        d = a - b
        return _reduce(xp, ctx.loss(xp, d, param).astype(d.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = ctx.grad(a - b, ctx.param) * _scale(g, ctx.reduction, ctx.n)
        return (ga if need_a else None), (-ga if need_b else None)


class MseLoss(_Pointwise, name="MseLossBackward0"):
    loss = staticmethod(lambda xp, d, p: d * d)
    grad = staticmethod(lambda d, p: 2 * d)


class SmoothL1Loss(_Pointwise, name="SmoothL1LossBackward0"):
    @staticmethod
    def loss(xp, d, beta):
        ad = xp.abs(d)
        return xp.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)

    grad = staticmethod(lambda d, beta: (d / beta).clamp(-1, 1))


class HuberLoss(_Pointwise, name="HuberLossBackward0"):
    @staticmethod
    def loss(xp, d, delta):
        ad = xp.abs(d)
        return xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))

    grad = staticmethod(lambda d, delta: d.clamp(-delta, delta))


# -- binary cross entropy -------------------------------------------------------------------------


class BinaryCrossEntropy(Op, name="BinaryCrossEntropyBackward0"):
    """``-w (t log p + (1 - t) log(1 - p))`` with each log clamped to >= -100, as torch."""

    @staticmethod
    def forward(ctx, p, t, *, weight, reduction):
        xp = ctx.xp
        ctx.weight, ctx.reduction, ctx.n = weight, reduction, p.size
        ctx.save_for_backward(p, t)
        with _quiet(xp):
            loss = (t - 1) * xp.maximum(xp.log1p(-p), -100) - t * xp.maximum(xp.log(p), -100)
        if weight is not None:
            loss = loss * weight
        return _reduce(xp, loss.astype(p.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad
        scale = _scale(g, ctx.reduction, ctx.n)
        if ctx.weight is not None:
            scale = scale * Tensor._make(ctx.weight)
        gp = gt = None
        if need_p:  # torch bounds the denominator away from 0 by 1e-12
            gp = (p - t) / ((1 - p) * p).clamp_min(1e-12) * scale
        if need_t:
            gt = ((1 - p).log().clamp_min(-100) - p.log().clamp_min(-100)) * scale
        return gp, gt


class BinaryCrossEntropyWithLogits(Op, name="BinaryCrossEntropyWithLogitsBackward0"):
    """``w ((1 - t) x - lw * logsigmoid(x))`` with ``lw = 1 + (pos_weight - 1) t``: stable for
    any logit, since logsigmoid never exponentiates a positive number."""

    @staticmethod
    def forward(ctx, x, t, *, weight, pos_weight, reduction):
        xp = ctx.xp
        ctx.weight, ctx.pos_weight, ctx.reduction, ctx.n = weight, pos_weight, reduction, x.size
        ctx.save_for_backward(x, t)
        log_sig = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
        if pos_weight is not None:
            log_sig = log_sig * ((pos_weight - 1) * t + 1)
        loss = (1 - t) * x - log_sig
        if weight is not None:
            loss = loss * weight
        return _reduce(xp, loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        need_x, need_t = ctx.needs_input_grad
        scale = _scale(g, ctx.reduction, ctx.n)
        if ctx.weight is not None:
            scale = scale * Tensor._make(ctx.weight)
        pw = None if ctx.pos_weight is None else Tensor._make(ctx.pos_weight)
        gx = gt = None
        if need_x:
            s = x.sigmoid()
            gx = (s - t if pw is None else ((pw - 1) * t + 1) * s - pw * t) * scale
        if need_t:
            gt = (-x if pw is None else -x - (pw - 1) * LogSigmoid.apply(x)) * scale
        return gx, gt


TENSOR_METHODS: dict = {}
