"""Losses with their own torch nodes: soft_margin_loss, multi_margin_loss, multilabel_margin_loss
and ctc_loss (per-sample; ``nn.functional_losses`` reduces it as torch does).

The margin losses compute, in forward, the coefficient of each input element in the loss's
gradient (piecewise linear or quadratic: a mask, or ``p * z^(p-1)``), so backward is one product
with the incoming gradient. CTC runs the alpha (forward) and beta (backward) recursions in log
space, vectorised over the batch and the extended label positions, one step per time step (the
recursion is sequential in time, as an RNN's); its gradient is torch's formula, the gradient with
respect to the pre-softmax activations: ``exp(lp) - exp(log(sum alpha*beta) + nll - lp)``.
"""
from __future__ import annotations

from ._op import Op
from ..tensor import Tensor
from ..backend import quiet as _quiet


def _reduce(xp, loss, reduction):
    if reduction == "mean":
        return xp.asarray(loss.mean(), dtype=loss.dtype)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=loss.dtype)
    return loss


def _scaled(g: Tensor, coef, reduction: str, count: int, lead: tuple) -> Tensor:
    """``g`` (the loss's gradient, reduced or per sample) times the per-element coefficients."""
    c = Tensor._make(coef.astype(g._data.dtype, copy=False))
    if reduction == "none":
        return c * g.reshape(lead + (1,) * (c.ndim - len(lead)))
    return c * (g / count if reduction == "mean" else g)


class SoftMarginLoss(Op, name="SoftMarginLossBackward0"):
    """``log(1 + exp(-y * x))``."""

    @staticmethod
    def forward(ctx, x, y, *, reduction):
        xp = ctx.xp
        ctx.reduction, ctx.count = reduction, x.size
        with _quiet(xp):
            z = xp.exp(-y * x)
            loss = xp.log1p(z)
            # d/dx log(1 + exp(-y x)) = -y * z / (1 + z)
            ctx.coef = -y * z / (1 + z)
        return _reduce(xp, loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        return _scaled(g, ctx.coef, ctx.reduction, ctx.count, tuple(ctx.coef.shape)), None


class MultiMarginLoss(Op, name="MultiMarginLossBackward0"):
    """``sum_{i != y} max(0, margin - x[y] + x[i])^p * w[y] / C`` per sample."""

    @staticmethod
    def forward(ctx, x, w=None, *, target, p, margin, reduction):
        xp = ctx.xp
        x2 = x.reshape(-1, x.shape[-1])
        n, c = x2.shape
        rows = xp.arange(n)
        xy = x2[rows, target]
        z = margin - xy[:, None] + x2
        z[rows, target] = 0  # the target class is not its own competitor
        pos = z > 0
        h = xp.where(pos, z, 0) ** p
        scale = xp.ones(n, dtype=x.dtype) if w is None else w[target]
        loss = (h * scale[:, None]).sum(1) / c
        coef = xp.where(pos, p * z ** (p - 1), 0) * (scale / c)[:, None]
        coef[rows, target] = -coef.sum(1)
        ctx.coef = coef.reshape(x.shape)
        ctx.reduction, ctx.count = reduction, n
        loss = loss.astype(x.dtype, copy=False)
        if x.ndim == 1 and reduction == "none":
            loss = loss.reshape(())
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx, g):
        lead = tuple(ctx.coef.shape[:-1])
        return _scaled(g, ctx.coef, ctx.reduction, ctx.count, lead), None


class MultilabelMarginLoss(Op, name="MultilabelMarginLossBackward0"):
    """``sum_{j in targets} sum_{i not in targets} max(0, 1 - (x[y_j] - x[i])) / C`` per
    sample; a sample's targets are its target row up to the first -1."""

    @staticmethod
    def forward(ctx, x, *, target, reduction):
        xp, be = ctx.xp, ctx.backend
        x2 = x.reshape(-1, x.shape[-1])
        t2 = target.reshape(x2.shape)
        n, c = x2.shape
        valid = xp.cumprod(t2 >= 0, axis=1).astype(bool)  # the targets before the first -1
        y = xp.where(valid, t2, 0)
        rows = xp.arange(n)[:, None]
        is_target = xp.zeros((n, c), dtype=bool)
        is_target[xp.broadcast_to(rows, y.shape)[valid], y[valid]] = True
        xy = x2[rows, y]  # (N, C): the target scores, in list order
        z = 1 - xy[:, :, None] + x2[:, None, :]  # (N, J, I)
        mask = valid[:, :, None] & ~is_target[:, None, :] & (z > 0)
        loss = (z * mask).sum((1, 2)) / c
        per_i = mask.sum(1).astype(x.dtype) / c  # d/dx_i
        per_j = -mask.sum(2).astype(x.dtype) / c  # d/dx_{y_j}
        coef = per_i
        be.scatter_add(coef, (xp.broadcast_to(rows, y.shape)[valid], y[valid]), per_j[valid])
        ctx.coef = coef.reshape(x.shape)
        ctx.reduction, ctx.count = reduction, n
        loss = loss.astype(x.dtype, copy=False)
        if x.ndim == 1 and reduction == "none":
            loss = loss.reshape(())
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx, g):
        lead = tuple(ctx.coef.shape[:-1])
        return _scaled(g, ctx.coef, ctx.reduction, ctx.count, lead)


class CtcLoss(Op, name="CtcLossBackward0"):
    """Per-sample negative log-likelihood of the targets under CTC: ``lp`` (T, N, C) log
    probabilities; ``targets`` (N, S) padded; lengths (N,)."""

    @staticmethod
    def forward(ctx, lp, *, targets, input_lengths, target_lengths, blank, zero_infinity):
        xp = ctx.xp
        t_max, n, c = lp.shape
        s = targets.shape[1]
        width = 2 * s + 1
        ext = xp.full((n, width), blank, dtype=xp.int64)  # blank, l1, blank, l2, ..., blank
        ext[:, 1::2] = targets
        # the skip transition s-2 -> s: onto a label that differs from the one two back
        skip = xp.zeros((n, width), dtype=bool)
        skip[:, 3::2] = targets[:, 1:] != targets[:, :-1]
        ninf = -xp.inf
        rows = xp.arange(n)[:, None]
        lp_ext = lp[:, rows, ext]  # (T, N, S'): the log-probability of each extended label
        live = xp.arange(width)[None, :] < (2 * target_lengths + 1)[:, None]

        def step(prev, shifted_ok):
            a1 = xp.concatenate([xp.full((n, 1), ninf), prev[:, :-1]], axis=1)
            a2 = xp.concatenate([xp.full((n, 2), ninf), prev[:, :-2]], axis=1)
            a2 = xp.where(shifted_ok, a2, ninf)
            return _logsumexp3(xp, prev, a1, a2)

        with _quiet(xp):
            alpha = xp.full((t_max, n, width), ninf, dtype=lp.dtype)
            alpha[0, :, 0] = lp_ext[0, :, 0]
            alpha[0, :, 1] = xp.where(target_lengths > 0, lp_ext[0, :, 1] if width > 1 else ninf,
                                      ninf)
            alpha[0] = xp.where(live, alpha[0], ninf)
            for t in range(1, t_max):
                alpha[t] = xp.where(live, step(alpha[t - 1], skip) + lp_ext[t], ninf)
            last = xp.clip(input_lengths - 1, 0, None)
            end = 2 * target_lengths
            a_last = alpha[last, xp.arange(n)]  # (N, S')
            tail = a_last[xp.arange(n), end]
            prev = xp.where(target_lengths > 0, a_last[xp.arange(n), xp.maximum(end - 1, 0)],
                            ninf)
            nll = -xp.logaddexp(tail, prev)
            nll = xp.where(input_lengths > 0, nll, xp.where(target_lengths > 0, xp.inf, 0.0))
        ctx.save = (lp, lp_ext, alpha, ext, skip, live, input_lengths, target_lengths, nll,
                    zero_infinity)
        return nll.astype(lp.dtype)  # (zero_infinity's zeros are a where() after this node)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        (lp, lp_ext, alpha, ext, skip, live, input_lengths, target_lengths, nll,
         zero_infinity) = ctx.save
        t_max, n, c = lp.shape
        width = ext.shape[1]
        ninf = -xp.inf
        idx = xp.arange(n)
        end = 2 * target_lengths
        # skip for beta: from s+2 back onto s, allowed where s+2 may skip onto s
        skip_back = xp.zeros((n, width), dtype=bool)
        skip_back[:, :-2] = skip[:, 2:]
        with _quiet(xp):
            beta = xp.full((t_max, n, width), ninf, dtype=lp.dtype)
            for t in range(t_max - 1, -1, -1):
                start = t == input_lengths - 1  # (N,): this sample's last frame
                init = xp.full((n, width), ninf, dtype=lp.dtype)
                init[idx, end] = lp_ext[t, idx, end]
                init[idx, xp.maximum(end - 1, 0)] = xp.where(
                    target_lengths > 0, lp_ext[t, idx, xp.maximum(end - 1, 0)],
                    init[idx, xp.maximum(end - 1, 0)])
                if t + 1 < t_max:
                    nxt = beta[t + 1]
                    b1 = xp.concatenate([nxt[:, 1:], xp.full((n, 1), ninf)], axis=1)
                    b2 = xp.concatenate([nxt[:, 2:], xp.full((n, 2), ninf)], axis=1)
                    b2 = xp.where(skip_back, b2, ninf)
                    rec = _logsumexp3(xp, nxt, b1, b2) + lp_ext[t]
                else:
                    rec = xp.full((n, width), ninf, dtype=lp.dtype)
                inside = (t < input_lengths - 1)[:, None]
                beta[t] = xp.where(live, xp.where(start[:, None], init,
                                                  xp.where(inside, rec, ninf)), ninf)
            ab = alpha + beta  # (T, N, S')
            peak = ab.max(axis=2, keepdims=True)
            peak = xp.where(xp.isfinite(peak), peak, 0)
            # alpha*beta summed per (t, n, label): a weighted bincount over flat indices
            flat = (xp.arange(t_max)[:, None, None] * n + idx[None, :, None]) * c + ext[None]
            summed = xp.bincount(flat.ravel(), weights=xp.exp(ab - peak).ravel(),
                                 minlength=t_max * n * c).reshape(t_max, n, c)
            lcab = xp.log(summed) + peak
            grad = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
            frames = xp.arange(t_max)[:, None] < input_lengths[None, :]
            grad = xp.where(frames[:, :, None], grad, 0)
            if zero_infinity:
                grad = xp.where(xp.isinf(nll)[None, :, None], 0, grad)
        gx = Tensor._make(grad.astype(lp.dtype))
        return gx * g.reshape(1, n, 1)


def _logsumexp3(xp, a, b, c):
    m = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isfinite(m), m, 0)
    return xp.log(xp.exp(a - safe) + xp.exp(b - safe) + xp.exp(c - safe)) + safe


__all__: list = []
TENSOR_METHODS: dict = {}
