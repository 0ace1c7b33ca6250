"""Distances: the p-norm over dims as ATen's ``norm`` records it (``NormBackward1``, the node
behind ``pairwise_distance`` and the distance losses; ``Tensor.norm`` records
``linalg.vector_norm``'s; same values and gradients as ``stats.VectorNorm``), and ``pdist``, the
condensed distances between the rows of a matrix (``PdistBackward0``): all pairs at once, the
gradient the norm's, scattered back onto both rows of each pair."""
from __future__ import annotations

import math
from typing import Any

from . import _reduce_util as ru
from ._op import Op
from .stats import VectorNorm, _norm_backward
from ..tensor import Tensor


class NormDim(VectorNorm, name="NormBackward1"):
    pass


def norm_dim(x: Tensor, p: float, dim: Any, keepdim: bool = False) -> Tensor:
    """``at::norm(x, p, dim, keepdim)``."""
    return NormDim.apply(x, ord=float(p), axes=ru.reduce_axes(x, dim), keepdim=keepdim,
                         dtype=None)


class Pdist(Op, name="PdistBackward0"):
    @staticmethod
    def forward(ctx, x, *, p):
        xp = ctx.xp
        i, j = xp.triu_indices(x.shape[0], 1)
        ctx.i, ctx.j, ctx.p = i, j, p
        a = xp.abs(x[i] - x[j])
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=1))
        elif p == math.inf:
            # (CuPy's max has no ``initial``: no pair distance is below 0 anyway)
            out = a.max(axis=1) if a.shape[1] else xp.zeros(a.shape[0], a.dtype)
        elif p == 0:
            out = (a != 0).sum(axis=1).astype(x.dtype)
        elif p == 1:
            out = a.sum(axis=1)
        else:
            out = (a ** p).sum(axis=1) ** (1 / p)
        out = out.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from ..creation import zeros
        from .scatter import index_add

        x, out = ctx.saved_tensors
        i, j = Tensor._make(ctx.i), Tensor._make(ctx.j)
        diff = x[i] - x[j]
        gx = zeros(tuple(x.shape), dtype=g.dtype, device=g.device)
        gd = _norm_backward(g, diff, out, ctx.p, (1,), False)
        if gd is None:  # p = 0: piecewise constant, torch's gradient is zeros
            return gx
        gx = index_add(gx, 0, i, gd)
        return index_add(gx, 0, j, -gd)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm distances between the rows of ``input`` (N, M), for every pair ``i < j``
    in row-major order: ``(N*(N-1)/2,)``."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return Pdist.apply(input, p=float(p))


__all__ = ["pdist"]
TENSOR_METHODS: dict = {}
