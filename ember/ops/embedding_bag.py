"""The ``embedding_bag`` op: sums, means or maxima of bags of embedding rows, as one node
(torch's ``EmbeddingBagBackward0``); the argument checks are in ``nn.functional_layers``.

Bags are runs of the flat index list (each starts at its offset), so a bag's rows are one
contiguous segment: sum and mean are a segment sum (the backend's ``segment_sum``); max packs the
segments into a (bags, longest, D) block padded with -inf and takes one ``argmax`` over it. The
gradient sums each bag's gradient onto the rows of its indices (the backend's ``index_sum``: a
sort, then a segment sum; max mode scatters onto the winners with ``index_add``), weighted
by ``per_sample_weights`` or ``1/count``; for max only the winning row of each column gets it.
"""
from __future__ import annotations

from ._op import Op
from ..tensor import Tensor


class EmbeddingBag(Op, name="EmbeddingBagBackward0"):
    """``weight`` (V, D) and optional ``psw`` (L,); ``idx`` (L,) the rows, ``bag`` (L,) the bag
    of each (non-decreasing), ``starts`` (B,) the bags' first positions, ``keep`` (L,) False at
    padding, ``freq`` (V,) each row's count in ``idx`` when the gradient is scaled by it."""

    @staticmethod
    def forward(ctx, weight, psw=None, *, idx, bag, starts, mode, keep, freq=None):
        xp = ctx.xp
        bags, d = starts.shape[0], weight.shape[1]
        rows = weight[idx]
        if psw is not None:
            rows = rows * psw[:, None]
        ctx.idx, ctx.bag, ctx.mode, ctx.vocab, ctx.freq = idx, bag, mode, weight.shape[0], freq
        if mode == "max":
            kept = bag[keep]
            counts = xp.bincount(kept, minlength=bags)
            longest = max(int(counts.max()) if counts.size else 0, 1)
            # each kept row's slot in its bag, counting kept rows only (padding takes none)
            pos = xp.arange(kept.shape[0]) - xp.searchsorted(kept, kept, side="left")
            block = xp.full((bags, longest, d), -xp.inf, dtype=weight.dtype)
            block[kept, pos] = rows[keep]
            arg = block.argmax(axis=1)  # (B, D): where each column's maximum sits in its bag
            y = xp.take_along_axis(block, arg[:, None], axis=1)[:, 0]
            empty = counts == 0
            y[empty] = 0
            source = xp.full((bags, longest), -1, dtype=xp.int64)
            source[kept, pos] = idx[keep]
            # the row of weight that won each (bag, column); -1 in an empty bag
            ctx.winner = xp.where(empty[:, None], -1, xp.take_along_axis(source, arg, axis=1))
            return y
        scale = keep.astype(weight.dtype)
        if mode == "mean":
            counts = xp.bincount(bag[keep], minlength=bags).astype(weight.dtype)
            scale = scale / xp.maximum(counts, 1)[bag]
        ctx.scale = scale
        need_w, need_psw = ctx.needs_input_grad[0], psw is not None and ctx.needs_input_grad[1]
        ctx.save_for_backward(weight if need_psw else None, psw if need_w else None)
        return ctx.backend.segment_sum(rows * scale[:, None], bag, bags, 0)

    @staticmethod
    def backward(ctx, g):
        from ..creation import arange, zeros
        from .scatter import index_add

        need_w = ctx.needs_input_grad[0]
        need_psw = len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]
        d = g.shape[1]
        if ctx.mode == "max":
            win = Tensor._make(ctx.winner)
            if ctx.freq is not None:  # scaled by each winning row's count in the input
                g = g / Tensor._make(ctx.freq[ctx.winner.clip(0)]).to(g.dtype)
            cols = (g * (win >= 0).to(g.dtype)).reshape(-1)
            target = (win.clamp_min(0) * d + arange(d, device=g.device)).reshape(-1)
            flat = index_add(zeros(ctx.vocab * d, dtype=g.dtype, device=g.device), 0, target, cols)
            return flat.reshape(ctx.vocab, d)
        weight, psw = ctx.saved_tensors
        scale = ctx.scale if ctx.freq is None else ctx.scale / ctx.freq[ctx.idx]
        idx = Tensor._make(ctx.idx)
        per_row = g[Tensor._make(ctx.bag)]
        gw = gpsw = None
        if need_w:
            src = per_row * Tensor._make(scale.astype(ctx.scale.dtype)).to(g.dtype).unsqueeze(1)
            if psw is not None:
                src = src * psw.unsqueeze(1)
            gw = RowSum.apply(src, index=ctx.idx, size=ctx.vocab)
        if need_psw:
            s = Tensor._make(ctx.scale).to(g.dtype)
            gpsw = (per_row * weight[idx]).sum(1) * s
        return gw, gpsw


class RowSum(Op, name="EmbeddingBagBackwardBackward0"):
    """``out[index[i]] += src[i]``: the backend's ``index_sum`` (a stable sort, then a segment
    sum: several times faster than a scatter-add with repeated indices); the gradient reads ``g``
    back at each index."""

    @staticmethod
    def forward(ctx, src, *, index, size):
        ctx.index = index
        return ctx.backend.index_sum(src, index, size)

    @staticmethod
    def backward(ctx, g):
        return g[Tensor._make(ctx.index)]


__all__: list = []
TENSOR_METHODS: dict = {}
