"""``histogramdd``: the D-dimensional histogram of the points in ``input`` (..., D), each bin
found per dimension by a binary search of its edges, the counts by one bincount over the
flattened bin indices (no gradient: torch records a node that refuses one)."""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from ._op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from . import _reduce_util as ru
from .inplace import type_name

_histogramdd_t = ru.return_type("histogramdd", ("hist", "bin_edges"))


class Histogramdd(Op, name="NotImplemented"):
    @staticmethod
    def forward(ctx, a, *, outputs):
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::_histogramdd_from_bin_cts is not implemented")


def _edges(xp: Any, pts: Any, bins: Any, rng: Any, dtype: Any) -> list:
    """Each dimension's bin edges: given, or ``bins[d]`` equal bins over the range."""
    d_count = pts.shape[1]
    if not isinstance(bins, numbers.Integral) and len(bins) and isinstance(bins[0], Tensor):
        return [b._data.astype(dtype) for b in bins]
    counts = [int(bins)] * d_count if isinstance(bins, numbers.Integral) else [int(b) for b in bins]
    edges = []
    for d in range(d_count):  # one linspace per dimension of the histogram
        if counts[d] <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {counts[d]} for "
                               f"dimension {d}".replace("torch.", "ember."))
        if rng is not None:
            lo, hi = float(rng[2 * d]), float(rng[2 * d + 1])
        elif pts.shape[0]:
            lo, hi = float(pts[:, d].min()), float(pts[:, d].max())
        else:
            lo, hi = 0.0, 1.0
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension {d}'s range [{lo:g}, {hi:g}] is "
                               "not finite".replace("torch.", "ember."))
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                               f"{lo:g} max {hi:g} for dimension {d}".replace("torch.", "ember."))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(xp.linspace(lo, hi, counts[d] + 1).astype(dtype))
    return edges


def histogramdd(input: Tensor, bins: int | Sequence[int] | Sequence[Tensor], *,
                range: Sequence[float] | None = None, weight: Tensor | None = None,  # noqa: A002
                density: bool = False) -> Any:
    """``(hist, bin_edges)``: the counts (or ``weight`` sums, or a density) of the points of
    ``input`` (..., D) in a D-dimensional grid of bins; the last bin of each dim is closed."""
    a = input._data
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{type_name(input)}'")
    if input.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions"
                           .replace("torch.", "ember."))
    d_count = a.shape[-1]
    if not isinstance(bins, numbers.Integral) and len(bins) != d_count:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    if range is not None and len(range) != 2 * d_count:
        raise RuntimeError(f"torch.histogramdd: for a {d_count}-dimensional histogram range "
                           f"should have {2 * d_count} elements, but got {len(range)}"
                           .replace("torch.", "ember."))
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape[:-1]):
            raise RuntimeError(
                "torch.histogramdd: if weight tensor is provided it should have the same shape "
                "as the input tensor excluding its innermost dimension, but got input with shape "
                f"{list(input.shape)} and weight with shape {list(weight.shape)}"
                .replace("torch.", "ember."))
        if weight.dtype is not input.dtype:
            raise RuntimeError(
                "torch.histogramdd: if weight tensor is provided, input tensor and weight tensor "
                f"should have the same dtype, but got input({input.dtype.np.name}), and "
                f"weight({weight.dtype.np.name})".replace("torch.", "ember.")
                .replace("float64", "double").replace("float32", "float"))
    xp = get_array_module(a)
    pts = a.reshape(-1, d_count)
    edges = _edges(xp, pts, bins, range, a.dtype)
    sizes = tuple(e.shape[0] - 1 for e in edges)
    keep = xp.ones(pts.shape[0], dtype=bool)
    index = xp.zeros(pts.shape[0], dtype="int64")
    for d, e in enumerate(edges):  # one binary search per dimension, over all points
        col = pts[:, d]
        pos = xp.searchsorted(e, col, side="right") - 1
        pos = xp.where(col == e[-1], sizes[d] - 1, pos)  # the last bin is closed
        keep &= (col >= e[0]) & (col <= e[-1])
        index = index * max(sizes[d], 1) + xp.clip(pos, 0, max(sizes[d] - 1, 0))
    w = None if weight is None else weight._data.reshape(-1)[keep]
    total = math.prod(sizes)
    hist = xp.bincount(index[keep], weights=w, minlength=total)[:total] if total else \
        xp.zeros(0)
    hist = hist.reshape(sizes).astype(a.dtype)
    if density:
        volume = xp.ones((), dtype=a.dtype)
        for d, e in enumerate(edges):
            shape = [1] * d_count
            shape[d] = sizes[d]
            volume = volume * xp.diff(e).reshape(shape)
        with ru.quiet(hist):
            hist = (hist / (hist.sum() * volume)).astype(a.dtype)
    outs = (hist,) + tuple(xp.ascontiguousarray(e) for e in edges)
    if input.requires_grad:
        made = Histogramdd.apply(input, outputs=outs)
    else:
        made = tuple(Tensor._make(o) for o in outs)
    return _histogramdd_t(made[0], tuple(made[1:]))


__all__ = ["histogramdd"]
TENSOR_METHODS: dict = {}
