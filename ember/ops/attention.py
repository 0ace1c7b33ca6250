"""Scaled dot-product attention as one fused op (torch's CPU flash kernel).

``out = softmax(q k^T * scale + mask) v`` over the last two dims of 4-d ``(N, H, L, E)`` inputs,
one node forward and backward (``ScaledDotProductFlashAttentionForCpuBackward0``). With ``P`` the
attention weights, ``S`` the scores and ``g`` the output's gradient:
``gv = P^T g``, ``gP = g v^T``, ``gS = P * (gP - rowsum(gP * P))``, ``gq = gS k * scale``,
``gk = gS^T q * scale``. The first-order backward reuses the ``P`` forward computed; under
``create_graph`` it recomputes ``P`` from ``q`` and ``k`` with ember ops, so it differentiates
again. Other ranks, a value head size other than the query's, a mask that requires grad and
``dropout_p > 0`` take torch's math path, composed of ember ops, so their
``grad_fn`` reads as torch's (``UnsafeViewBackward0``, ``MmBackward0``).

A row whose every key is masked out gives zeros (torch's kernels do the same), not NaN.
"""
from __future__ import annotations

import math
from typing import Any

from ..backend import backend_of
from ..dtypes import bool as _bool
from ..graph import grad_mode
from ..tensor import Tensor
from ._op import Op
from .activation import dropout


def _weights(xp: Any, s: Any) -> Any:
    """Row softmax of the scores ``s`` in place; rows of only ``-inf`` become zeros."""
    m = s.max(axis=-1, keepdims=True)
    m[~xp.isfinite(m)] = 0  # an all -inf row: exp gives zeros, not nan
    s -= m
    xp.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    s /= total
    return s


_BIASES: dict = {}


def _causal_bias(xp: Any, L: int, S: int, dtype: Any) -> Any:
    """``(L, S)``: 0 where query i may see key j (j <= i), ``-inf`` elsewhere; kept per shape
    (a model asks for the same few shapes at every step). Callers only read it."""
    key = (id(xp), L, S, dtype)
    bias = _BIASES.get(key)
    if bias is None:
        if len(_BIASES) > 64:
            _BIASES.clear()
        bias = xp.where(xp.tri(L, S, dtype=bool), 0, -xp.inf).astype(dtype)
        _BIASES[key] = bias
    return bias


def _scores(xp: Any, q: Any, k: Any, scale: float, mask: Any, causal: bool) -> Any:
    s = xp.matmul(q, xp.swapaxes(k, -1, -2))
    s *= s.dtype.type(scale)
    if causal:  # top-left aligned: query i sees keys 0..i
        s += _causal_bias(xp, s.shape[-2], s.shape[-1], s.dtype)
    if mask is not None:
        if mask.dtype == bool:
            s = xp.where(mask, s, -xp.inf)
        else:
            s += mask.astype(s.dtype, copy=False)
    return s


class ScaledDotProductAttention(Op, name="ScaledDotProductFlashAttentionForCpuBackward0"):
    @staticmethod
    def forward(ctx, q, k, v, *, scale, mask, causal):
        xp = ctx.xp
        p = _weights(xp, _scores(xp, q, k, scale, mask, causal))
        ctx.scale, ctx.mask, ctx.causal, ctx.p = scale, mask, causal, p
        need_q, need_k, need_v = ctx.needs_input_grad
        # q and k for any gradient: under create_graph the weights are recomputed from them
        qk = need_q or need_k or need_v
        ctx.save_for_backward(q if qk else None, k if qk else None,
                              v if need_q or need_k else None)
        return xp.matmul(p, v)

    @staticmethod
    def backward(ctx, g):
        q, k, v = ctx.saved_tensors
        need_q, need_k, need_v = ctx.needs_input_grad
        if grad_mode.state.enabled:  # create_graph: recompute P with ember ops
            return _backward_graph(ctx, q, k, v, g)
        xp = ctx.xp
        p, gd = ctx.p, g._data
        gv = xp.matmul(xp.swapaxes(p, -1, -2), gd) if need_v else None
        gq = gk = None
        if need_q or need_k:
            gp = xp.matmul(gd, xp.swapaxes(v._data, -1, -2))
            gp -= (gp * p).sum(axis=-1, keepdims=True)
            gp *= p
            gp *= gp.dtype.type(ctx.scale)
            if need_q:
                gq = Tensor._make(xp.matmul(gp, k._data))
            if need_k:
                gk = Tensor._make(xp.matmul(xp.swapaxes(gp, -1, -2), q._data))
        return gq, gk, None if gv is None else Tensor._make(gv)


def _backward_graph(ctx: Any, q: Tensor, k: Tensor, v: Tensor, g: Tensor) -> tuple:
    need_q, need_k, need_v = ctx.needs_input_grad
    s = q.matmul(k.transpose(-2, -1)) * ctx.scale
    keep = None
    if ctx.causal:
        L, S = s.shape[-2:]
        keep = ctx.xp.tri(L, S, dtype=bool)
    if ctx.mask is not None and ctx.mask.dtype == bool:
        keep = ctx.mask if keep is None else keep & ctx.mask
    elif ctx.mask is not None:
        s = s + Tensor._make(ctx.mask.astype(s._data.dtype, copy=False))
    if keep is not None:
        s = s.masked_fill(Tensor._make(~ctx.xp.broadcast_to(keep, s.shape)), -math.inf)
    m = Tensor._make(ctx.xp.where(ctx.xp.isfinite(ctx.p.max(axis=-1, keepdims=True)),
                                  s._data.max(axis=-1, keepdims=True), 0.0).astype(
        s._data.dtype))
    e = (s - m).exp()
    total = e.sum(-1, keepdim=True)
    # an all-masked row sums to 0: divide by 1 there instead (its weights are all 0)
    p = e / (total + Tensor._make((total._data == 0).astype(s._data.dtype)))
    gv = p.transpose(-2, -1).matmul(g) if need_v else None
    gq = gk = None
    if need_q or need_k:
        gp = g.matmul(v.transpose(-2, -1))
        gs = p * (gp - (gp * p).sum(-1, keepdim=True)) * ctx.scale
        gq = gs.matmul(k) if need_q else None
        gk = gs.transpose(-2, -1).matmul(q) if need_k else None
    return gq, gk, gv


# -- the public function ---------------------------------------------------------------------------


def _math_attention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None,
                    dropout_p: float, is_causal: bool, scale: float) -> Tensor:
    """torch's math path: the same formula composed of ember ops (other ranks, dropout)."""
    s = query.matmul(key.transpose(-2, -1) * scale)
    xp = backend_of(s._data).xp
    if is_causal:
        L, S = s.shape[-2:]
        s = s.masked_fill(Tensor._make(~xp.tri(L, S, dtype=bool)), -math.inf)
    if mask is not None:
        s = s + mask if mask.dtype.is_floating_point else s.masked_fill(
            Tensor._make(~mask._data), -math.inf)
    # all-masked rows give zeros, as torch's safe softmax does
    dead = Tensor._make((s._data == -math.inf).all(axis=-1, keepdims=True))
    p = s.softmax(-1).masked_fill(dead, 0.0)
    if dropout_p > 0:
        p = dropout(p, dropout_p, True)
    return p.matmul(value)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value``, with optional dropout on the weights.

    Args:
        query: ``(N, ..., L, E)``.
        key: ``(N, ..., S, E)``.
        value: ``(N, ..., S, Ev)``.
        attn_mask: broadcastable to ``(N, ..., L, S)``: bool (True takes part) or float (added).
        dropout_p: probability of dropping an attention weight (always applied when > 0).
        is_causal: mask out keys after each query (top-left aligned).
        scale: the score scale; ``1 / sqrt(E)`` by default.
        enable_gqa: let key/value have fewer heads (dim -3) than query, shared by groups.

    Returns:
        ``(N, ..., L, Ev)``.
    """
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_dtype_name(query)} key.dtype: {_dtype_name(key)} and value.dtype: "
            f"{_dtype_name(value)} instead.")
    if attn_mask is not None and not attn_mask.dtype.is_floating_point \
            and attn_mask.dtype is not _bool:
        raise RuntimeError(
            "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {_dtype_name(attn_mask)} and  query.dtype: "
            f"{_dtype_name(query)} instead.")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hk == 0 or hq % hk:
            raise RuntimeError("Number of heads in key and value must divide the number of heads "
                               "in query")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    if query.dim() == 4 and key.dim() == 4 and value.dim() == 4 and dropout_p == 0 \
            and query.shape[:2] == key.shape[:2] == value.shape[:2] \
            and key.shape[-1] == query.shape[-1] == value.shape[-1] \
            and key.shape[-2] == value.shape[-2] \
            and (attn_mask is None or not attn_mask.requires_grad):
        mask = None if attn_mask is None else attn_mask._data
        if mask is not None and mask.dtype != bool:
            mask = mask.astype(query._data.dtype, copy=False)
        # with is_causal too, torch's fused kernel applies both masks (its math path refuses)
        return ScaledDotProductAttention.apply(query, key, value, scale=float(scale), mask=mask,
                                               causal=bool(is_causal))
    if attn_mask is not None and is_causal:
        _causal_with_mask()
    return _math_attention(query, key, value, attn_mask, dropout_p, is_causal, float(scale))


def _causal_with_mask() -> None:
    raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                       "is_causal=True")


def _repeat_heads(t: Tensor, r: int) -> Tensor:
    """``t.repeat_interleave(r, dim=-3)``: each head repeated ``r`` times in place."""
    shape = tuple(t.shape)
    return t.unsqueeze(-3).expand(*shape[:-2], r, *shape[-2:]).reshape(
        *shape[:-3], shape[-3] * r, *shape[-2:])


def _dtype_name(t: Tensor) -> str:
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "bool": "bool", "bfloat16": "c10::BFloat16"}.get(
        t._data.dtype.name, t._data.dtype.name)


__all__: list = []
TENSOR_METHODS: dict = {}
