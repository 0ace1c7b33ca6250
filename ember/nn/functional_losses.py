"""``torch.nn.functional``'s losses beyond ``functional.py`` (re-exported by it): poisson_nll,
gaussian_nll, cosine_embedding, margin_ranking, triplet_margin (with distance), hinge_embedding,
multilabel_margin, multilabel_soft_margin, multi_margin, soft_margin and ctc. Where torch composes
a loss from other ops, ember composes it the same way, so its ``grad_fn`` is torch's; the others
are nodes of ``ops/loss_ext.py``."""
from __future__ import annotations

import math
from typing import Any, Callable

from ..backend import get_array_module
from ..graph.grad_mode import no_grad
from ..ops import loss_ext as _ext
from ..ops.compare import where
from ..tensor import Tensor
from .functional_layers import pairwise_distance


def _reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    from .functional import _reduction as legacy

    return legacy(size_average, reduce, reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target ~ Poisson(rate)``: ``exp(input) - target * input``
    (``log_input``), else ``input - target * log(input + eps)``; ``full`` adds Stirling's
    approximation of ``log(target!)`` where ``target > 1``."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target ~ N(input, var)``:
    ``0.5 * (log(max(var, eps)) + (input - target)**2 / max(var, eps))`` (+ const with
    ``full``). ``var`` may have one dim fewer, or size 1 in one dim (shared variances)."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_ones(tuple(input.shape)) * var
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(
                y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass  # heteroscedastic: one dim of size 1, broadcast
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():  # the clamp keeps the gradient flowing where var < eps, as torch's
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where
    ``target == -1``; ``x1, x2`` are ``(N, D)`` or ``(D,)``."""
    reduction = _reduction(size_average, reduce, reduction)
    dim = target.ndim
    if dim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if dim == 1 and (input1.ndim != 2 or input2.ndim != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if dim == 0 and (input1.ndim != 1 or input2.ndim != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    eps = 1e-12  # torch's EPSILON, added to each squared magnitude
    prod_sum = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod_sum / (mag1 * mag2).sqrt()
    zeros = cos.new_zeros(tuple(cos.shape))
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    loss = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``x`` where ``target == 1``, ``max(0, margin - x)`` where ``target == -1``."""
    reduction = _reduction(size_average, reduce, reduction)
    zeros = input.new_zeros(tuple(input.shape)) if input.is_floating_point() else \
        input.new_zeros(tuple(input.shape))
    margin_clamp = (margin - input).clamp_min(0)
    loss = where(target != 1, margin_clamp, zeros) + where(target != -1, input, zeros)
    return _reduce(loss, reduction)


def _check_triplet(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p and p == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, and "
                           f"negative {n}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``d`` the pairwise p-distance; ``swap`` uses
    ``min(d(a, n), d(p, n))``."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet(anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    loss = (margin + d_pos - d_neg).clamp_min(0)
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """:func:`triplet_margin_loss` with any ``distance_function(x, y)`` (default: pairwise
    2-distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet(anchor, positive, negative)
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    loss = (margin + d_pos - d_neg).clamp_min(0)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-target * input))`` (two-class logistic loss, targets ±1)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.requires_grad:
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect "
                           "to argument 'target'. This input cannot have requires_grad True.")
    if tuple(input.shape) != tuple(target.shape):
        from ..ops._util import broadcast_shape

        shape = broadcast_shape(tuple(input.shape), tuple(target.shape))
        input, target = input.expand(shape), target.expand(shape)
    return _ext.SoftMarginLoss.apply(input, target, reduction=reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: Any = None, reduce: Any = None,
                                reduction: str = "mean") -> Tensor:
    """One-vs-all logistic loss over the classes (last dim), averaged over them."""
    from .functional import logsigmoid

    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def _class_target(op: str, input: Tensor, target: Tensor) -> None:
    if input.ndim not in (1, 2) or input.numel() == 0 and input.ndim != 2:
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {list(input.shape)}")


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])**p / C`` per sample
    (times ``weight[y]``); ``input`` (N, C) or (C,), ``target`` (N,) or ()."""
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    if weight is not None and weight.requires_grad:
        raise RuntimeError("The function 'multi_margin_loss' is not differentiable with respect "
                           "to argument 'weight'. This input cannot have requires_grad True.")
    _class_target("multi_margin_loss", input, target)
    c = input.shape[-1]
    n = input.shape[0] if input.ndim == 2 else 1
    if target.ndim > 1 or target.numel() != n:
        raise RuntimeError(f"inconsistent target size, expected {n} but got "
                           f"{list(target.shape)}")
    t = target._data.reshape(-1).astype("int64")
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError("target out of range")
    if weight is not None and weight.numel() != c:
        raise RuntimeError(f"inconsistent weight size, expected {c} but got "
                           f"{list(weight.shape)}")
    args = (input,) if weight is None else (input, weight)
    return _ext.MultiMarginLoss.apply(*args, target=t, p=p, margin=margin, reduction=reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Any = None,
                           reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: ``sum_{j} sum_{i not a target} max(0, 1 - (x[y_j] - x[i])) / C``
    per sample; each ``target`` row lists class indices, ended by the first -1."""
    reduction = _reduction(size_average, reduce, reduction)
    _class_target("multilabel_margin_loss", input, target)
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    t = target._data.astype("int64")
    if t.size and (t.min() < -1 or t.max() >= input.shape[-1]):
        raise RuntimeError("target out of range")
    return _ext.MultilabelMarginLoss.apply(input, target=t, reduction=reduction)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor | Any,
             target_lengths: Tensor | Any, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """Connectionist Temporal Classification loss.

    Args:
        log_probs: ``(T, N, C)`` or ``(T, C)`` log-probabilities (e.g. ``log_softmax``).
        targets: ``(N, S)`` padded, or the targets of all samples concatenated, or ``(S,)``.
        input_lengths, target_lengths: ``(N,)`` (tensors or sequences of ints).
        blank: the blank label. zero_infinity: impossible alignments give 0 (and no gradient).
        reduction: ``'mean'`` divides each loss by its target length, then averages.
    """
    from ..creation import tensor

    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    # the lengths on the log-probabilities' device, where the kernel reads them
    as_array = (lambda v: v.to(lp.device)._data if isinstance(v, Tensor)  # noqa: E731
                else tensor(v, dtype=None, device=lp.device)._data)
    in_len = as_array(input_lengths).reshape(-1).astype("int64")
    tg_len = as_array(target_lengths).reshape(-1).astype("int64")
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    if in_len.shape[0] != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tg_len.shape[0] != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    tg = targets._data.astype("int64")
    if unbatched:
        tg = tg.reshape(1, -1)
    xp = get_array_module(tg)
    if tg.ndim == 1:  # concatenated targets: pad them into rows
        s = int(tg_len.max()) if n else 0
        starts = xp.concatenate([xp.zeros(1, dtype=xp.int64), xp.cumsum(tg_len)[:-1]])
        pos = xp.arange(max(s, 1))
        take = xp.minimum(starts[:, None] + pos, max(tg.shape[0] - 1, 0))
        padded = tg[take] if tg.size else xp.zeros((n, max(s, 1)), dtype=xp.int64)
        tg = xp.where(pos < tg_len[:, None], padded, blank)[:, :max(s, 0) or 1]
    if in_len.size and int(in_len.max()) > t_max:
        raise RuntimeError(f"Expected input_lengths to have value at most {t_max}, but got "
                           f"value {int(in_len.max())} (while checking arguments for "
                           "ctc_loss_allocate_outputs)")
    if tg.shape[1] == 0:
        tg = xp.full((n, 1), blank, dtype=xp.int64)
    if tg_len.size and int(tg_len.max()) > tg.shape[1]:
        raise RuntimeError(f"Expected tensor to have size at least {int(tg_len.max())} at "
                           f"dimension 1, but got size {tg.shape[1]} for argument #2 'targets' "
                           "(while checking arguments for ctc_loss_allocate_outputs)")
    tg = xp.where(xp.arange(tg.shape[1]) < tg_len[:, None], tg, blank)
    loss = _ext.CtcLoss.apply(lp, targets=tg, input_lengths=in_len, target_lengths=tg_len,
                              blank=blank, zero_infinity=zero_infinity)
    if zero_infinity:  # torch's where(): the node's own backward also gives those no gradient
        loss = where(loss == math.inf, loss.new_zeros(()), loss)
    if unbatched:
        loss = loss.squeeze(0)
    if reduction == "mean":
        lengths = Tensor._make(tg_len.reshape(loss.shape) if unbatched else tg_len
                               ).to(loss.dtype).clamp_min(1)
        return (loss / lengths).mean()
    if reduction == "sum":
        return loss.sum()
    return loss


__all__ = [
    "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss", "margin_ranking_loss",
    "hinge_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
    "multilabel_margin_loss", "ctc_loss",
]
