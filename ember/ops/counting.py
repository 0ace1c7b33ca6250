"""Counting and binning: searchsorted/bucketize, bincount, histc and histogram (none of them
differentiable; histogram's outputs carry torch's node that refuses a backward)."""
from __future__ import annotations

from typing import Any

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from . import _reduce_util as ru
from .inplace import type_name
from .sorting import _no_bool


class Histogram(Op, name="NotImplemented"):
    """torch records histogram's outputs with a node that refuses to differentiate."""

    @staticmethod
    def forward(ctx, a, *, outputs):
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("derivative for aten::histogram is not implemented")


_histogram_t = ru.return_type("histogram", ("hist", "bin_edges"))


def _side(side: str | None, right: bool) -> str:
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError("torch.searchsorted(): side can only be 'left' or 'right' but got "
                               f"{side}".replace("torch.", "ember."))
        if side == "left" and right:
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True".replace("torch.",
                                                                                "ember."))
        return side
    return "right" if right else "left"


def searchsorted(sorted_sequence: Tensor, input: Tensor | float, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None,
                 sorter: Tensor | None = None) -> Tensor:
    """Indices at which ``input`` would be inserted into ``sorted_sequence`` (along its last
    dimension; leading dimensions, if any, match ``input``'s) to keep it sorted."""
    how = _side(side, right)
    if _dt.result_type(sorted_sequence, input) is _dt.bool:  # (they compare in a common dtype)
        raise NotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool'")
    seq = sorted_sequence._data
    xp = get_array_module(seq)
    scalar = not isinstance(input, Tensor)
    v = xp.asarray(input) if scalar else input._data
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, axis=-1)
    if seq.ndim > 1 and (scalar or seq.shape[:-1] != v.shape[:-1]):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor {list(v.shape)}"
            .replace("torch.", "ember."))
    if seq.ndim <= 1:
        out = xp.searchsorted(seq.reshape(-1), v, side=how)
    else:  # one comparison per (value, boundary) pair, all rows at once
        cmp = seq[..., None, :] <= v[..., :, None] if how == "right" else \
            seq[..., None, :] < v[..., :, None]
        out = cmp.sum(axis=-1)
    return Tensor._make(xp.asarray(out).astype("int32" if out_int32 else "int64"))


def bucketize(input: Tensor | float, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each element among 1-D ``boundaries`` (``right``: buckets closed on the
    left)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each value of a 1-D tensor of non-negative integers (sums of ``weights``)."""
    a = input._data
    if a.dtype.kind not in "iu":
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{type_name(input)}'")
    xp = get_array_module(a)
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        out = xp.bincount(a, minlength=minlength).astype("int64")
    else:
        w = weights._data
        if w.ndim != 1 or w.shape[0] != a.shape[0]:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        out = xp.bincount(a, weights=w, minlength=minlength)
        out = out.astype("float32" if w.dtype == _dt.float32.np else "float64")
    return Tensor._make(out)


def _bin_counts(xp: Any, a: Any, edges: Any, weight: Any) -> Any:
    """Counts of ``a`` in the bins of sorted ``edges``; the last bin is closed, outside ignored."""
    bins = edges.shape[0] - 1
    pos = xp.searchsorted(edges, a, side="right") - 1
    pos = xp.where(a == edges[-1], bins - 1, pos)
    keep = (a >= edges[0]) & (a <= edges[-1])
    w = None if weight is None else weight[keep]
    return xp.bincount(pos[keep], weights=w, minlength=bins)[:bins]


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of ``bins`` equal bins over ``[min, max]`` (the data's range when both are
    0); elements outside are ignored."""
    a = input._data
    _no_bool("linspace_cpu", input)
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{type_name(input)}'")
    if bins <= 0:
        raise RuntimeError("torch.histc: bins must be > 0, but got "
                           f"{bins} for dimension 0".replace("torch.", "ember."))
    if max < min:
        raise RuntimeError("torch.histc: max must be larger than min".replace("torch.", "ember."))
    xp = get_array_module(a)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    edges = xp.linspace(lo, hi, bins + 1).astype(a.dtype)
    flat = a.reshape(-1)
    return Tensor._make(_bin_counts(xp, flat, edges, None).astype(a.dtype))


def histogram(input: Tensor, bins: int | Tensor, *, range: Any = None,  # noqa: A002
              weight: Tensor | None = None, density: bool = False) -> Any:
    """``(hist, bin_edges)``: ``bins`` equal bins over ``range`` (the data's range by default),
    or the given edges; weighted by ``weight``, normalised to a density on request."""
    a = input._data
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{type_name(input)}'")
    xp = get_array_module(a)
    flat = a.reshape(-1)
    if isinstance(bins, Tensor):
        edges = bins._data.astype(a.dtype)
    else:
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif flat.size:
            lo, hi = float(flat.min()), float(flat.max())
        else:
            lo, hi = 0.0, 1.0  # (torch's range for no data)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = xp.linspace(lo, hi, bins + 1).astype(a.dtype)
    w = None if weight is None else weight._data.reshape(-1)
    hist = _bin_counts(xp, flat, edges, w).astype(a.dtype)
    if density:
        total = hist.sum()
        with ru.quiet(hist):
            hist = (hist / (total * xp.diff(edges))).astype(a.dtype)
    outs = (hist, xp.ascontiguousarray(edges))
    if input.requires_grad:
        return _histogram_t(*Histogram.apply(input, outputs=outs))
    return _histogram_t(*(Tensor._make(o) for o in outs))


__all__ = ["searchsorted", "bucketize", "bincount", "histc", "histogram"]
TENSOR_METHODS = {name: globals()[name] for name in ("bincount", "histc", "histogram")}
