"""Sorting and selection: sort/argsort/msort, topk, kthvalue, median/nanmedian, mode, unique and
unique_consecutive (searchsorted, bincount and the histograms are in ``counting.py``).

Every order is numpy's stable sort (NaN last, as torch's "NaN is the largest"); descending
orders sort the reversed input and reverse back, so equal elements keep their original order.
The selecting ops (sort, topk, kthvalue, median, mode) scatter their gradient back to the
indices they picked; median over every element shares it among the ties, as torch does.
"""
from __future__ import annotations

from typing import Any

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru

_UNSET = object()  # torch records ``sort(x, stable=...)`` as SortBackward1, whatever the value


def _order(xp: Any, a: Any, axis: int, descending: bool) -> Any:
    """Stable argsort along ``axis`` (int64); descending keeps equal elements in input order."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    rev = xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)
    return (n - 1) - rev


def _selected_grad(g: Tensor, shape: tuple, dim: int, idx: Any, keepdim: bool) -> Tensor:
    """The gradient of values picked along ``dim`` at ``idx``: ``g`` scattered into zeros."""
    if not shape:
        return g
    if not keepdim and idx.ndim < len(shape):
        g = g.unsqueeze(dim)
        idx = idx.reshape(idx.shape[:dim] + (1,) + idx.shape[dim:])
    return g.new_zeros(shape).scatter(dim, Tensor._make(idx), g)


class _Selecting(Op):
    """Ops returning ``(values, indices)`` picked along ``ctx.dim``."""

    @staticmethod
    def backward(ctx, g, _):
        return _selected_grad(g, ctx.shape, ctx.dim, ctx.idx, ctx.keepdim)

    @staticmethod
    def _done(ctx, a, values, idx, keepdim=True):
        ctx.shape, ctx.idx, ctx.keepdim = a.shape, idx, keepdim
        ctx.mark_non_differentiable(idx)
        return values, idx


class Sort(_Selecting, name="SortBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, descending=False):
        ctx.dim = dim
        if a.ndim == 0:
            return Sort._done(ctx, a, a.copy(), ctx.xp.zeros((), "int64"))
        idx = _order(ctx.xp, a, dim, descending).astype("int64", copy=False)
        return Sort._done(ctx, a, ctx.xp.take_along_axis(a, idx, axis=dim), idx)


class SortStable(Sort, name="SortBackward1"):
    pass


class Topk(_Selecting, name="TopkBackward0"):
    @staticmethod
    def forward(ctx, a, *, k, dim, largest=True, sorted=True):
        ctx.dim = dim
        if a.ndim == 0:
            return Topk._done(ctx, a, a.copy(), ctx.xp.zeros((), "int64"))
        xp = ctx.xp
        n = a.shape[dim]
        if 0 < k and 4 * k < n:
            # partition out the k first (NaN counts as largest), then order just those: by
            # index first, so that a stable sort by value keeps equal ones in input order
            kth = n - k if largest else k - 1
            part = xp.argpartition(a, kth, axis=dim)
            part = xp.take(part, xp.arange(n - k, n) if largest else xp.arange(k), axis=dim)
            part = xp.sort(part, axis=dim)
            order = _order(xp, xp.take_along_axis(a, part, axis=dim), dim, largest)
            idx = xp.take_along_axis(part, order, axis=dim).astype("int64", copy=False)
        else:
            idx = _order(xp, a, dim, largest).astype("int64", copy=False)
            idx = xp.take(idx, xp.arange(k), axis=dim)
        return Topk._done(ctx, a, xp.take_along_axis(a, idx, axis=dim), idx)


class Kthvalue(_Selecting, name="KthvalueBackward0"):
    @staticmethod
    def forward(ctx, a, *, k, dim, keepdim=False):
        ctx.dim = dim
        if a.ndim == 0:
            return Kthvalue._done(ctx, a, a.copy(), ctx.xp.zeros((), "int64"))
        idx = _kth(ctx.xp, a, k - 1, dim)
        values = ctx.xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return Kthvalue._done(ctx, a, values, idx, keepdim)


def _kth(xp: Any, a: Any, k: int, dim: int) -> Any:
    """The index of the ``k``-th smallest along ``dim`` (0-based, NaN largest), kept as a size-1
    dim: a partition, not a sort (which of equal elements is picked is unspecified, as in
    torch's selection)."""
    return xp.take(xp.argpartition(a, k, axis=dim), [k], axis=dim).astype("int64", copy=False)


def _median_positions(xp: Any, a: Any, order: Any, dim: int, ignore_nan: bool) -> Any:
    """Per row along ``dim``, the position in the sorted order of the (lower) median."""
    n = a.shape[dim]
    if a.dtype.kind != "f":
        return xp.full(a.shape[:dim] + (1,) + a.shape[dim + 1:], (n - 1) // 2)
    nan = xp.isnan(a)
    if ignore_nan:  # NaNs sort last: the median of the others sits at (count - 1) // 2
        count = n - nan.sum(axis=dim, keepdims=True)
        return xp.maximum(count - 1, 0) // 2
    any_nan = nan.any(axis=dim, keepdims=True)
    if not any_nan.any():
        return xp.full(any_nan.shape, (n - 1) // 2)
    # any NaN makes the median NaN, at the first NaN's index: the sorted position of that NaN
    first_nan = xp.argmax(nan, axis=dim, keepdims=True)
    sorted_pos = xp.argsort(order, axis=dim, kind="stable")
    nan_pos = xp.take_along_axis(sorted_pos, first_nan, axis=dim)
    return xp.where(any_nan, nan_pos, (n - 1) // 2)


class MedianDim(_Selecting, name="MedianBackward1"):
    _ignore_nan = False

    @staticmethod
    def forward(ctx, a, *, dim, keepdim=False):
        xp = ctx.xp
        ctx.dim = dim
        if a.ndim == 0:
            return MedianDim._done(ctx, a, a.copy(), xp.zeros((), "int64"))
        if a.dtype.kind != "f" or not xp.isnan(a).any():  # one position in every row
            idx = _kth(xp, a, (a.shape[dim] - 1) // 2, dim)
        else:
            order = _order(xp, a, dim, False).astype("int64", copy=False)
            pos = _median_positions(xp, a, order, dim, ctx._ignore_nan)
            idx = xp.take_along_axis(order, pos, axis=dim)
        values = xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return MedianDim._done(ctx, a, values, idx, keepdim)


class NanmedianDim(MedianDim, name="NanmedianBackward1"):
    _ignore_nan = True


class MedianAll(Op, name="MedianBackward0"):
    _ignore_nan = False

    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        flat = a.reshape(-1)
        if flat.size == 0:
            out = xp.asarray(xp.nan, dtype=a.dtype) if a.dtype.kind == "f" else None
            if out is None:
                raise IndexError("median() input tensor cannot be empty")
        else:
            order = _order(xp, flat, 0, False)
            pos = _median_positions(xp, flat, order, 0, ctx._ignore_nan)
            out = flat[order[pos[0]]].copy()
        ctx.save_for_backward(a, out)
        return xp.asarray(out)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors  # the gradient is shared among the elements equal to it
        return g * ru.tie_weights(x, out, tuple(range(x.ndim)), True)


class NanmedianAll(MedianAll, name="NanmedianBackward0"):
    _ignore_nan = True


class Mode(_Selecting, name="ModeBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, keepdim=False):
        xp = ctx.xp
        ctx.dim = dim
        if a.ndim == 0:
            return Mode._done(ctx, a, a.copy(), xp.zeros((), "int64"))
        # rows along the last axis; in sorted order each run of equal values is one candidate:
        # the longest wins, the smallest value among equals (the first run), and its index is
        # the last occurrence (the run's end: the stable order keeps input order within a run)
        moved = xp.moveaxis(a, dim, -1)
        rows = moved.reshape(-1, moved.shape[-1])
        n = rows.shape[1]
        order = xp.argsort(rows, axis=1, kind="stable")
        s = xp.take_along_axis(rows, order, axis=1)
        pos = xp.broadcast_to(xp.arange(n), rows.shape)
        starts = xp.ones(rows.shape, bool)
        starts[:, 1:] = s[:, 1:] != s[:, :-1]
        ends = xp.ones(rows.shape, bool)
        ends[:, :-1] = starts[:, 1:]
        first = xp.maximum.accumulate(xp.where(starts, pos, 0), axis=1)
        last = xp.flip(xp.minimum.accumulate(xp.flip(xp.where(ends, pos, n), 1), axis=1), 1)
        best = xp.argmax(last - first, axis=1)
        r = xp.arange(rows.shape[0])
        values = s[r, best]
        idx = order[r, last[r, best]].astype("int64")
        shape = moved.shape[:-1]
        values, idx = values.reshape(shape), idx.reshape(shape)
        if keepdim:
            values, idx = xp.expand_dims(values, dim), xp.expand_dims(idx, dim)
        return Mode._done(ctx, a, values, idx, keepdim)


class _NotDifferentiable(Op):
    """A node whose backward torch has not implemented (unique's outputs)."""

    _derivative = ""

    @staticmethod
    def forward(ctx, a, *, outputs):
        ctx.mark_non_differentiable(*outputs[1:])
        return outputs if len(outputs) > 1 else outputs[0]

    @classmethod
    def backward(cls, ctx, *grads):
        raise NotImplementedError(f"the derivative for '{ctx._derivative}' is not implemented.")


class Unique(_NotDifferentiable, name="Unique2Backward0"):
    _derivative = "_unique2"


class UniqueDim(_NotDifferentiable, name="UniqueDimBackward0"):
    _derivative = "unique_dim"


class UniqueConsecutive(_NotDifferentiable, name="UniqueConsecutiveBackward0"):
    _derivative = "unique_consecutive"


# -- public functions --------------------------------------------------------------------------


_sort_t = ru.return_type("sort", ("values", "indices"))
_topk_t = ru.return_type("topk", ("values", "indices"))
_kthvalue_t = ru.return_type("kthvalue", ("values", "indices"))
_median_t = ru.return_type("median", ("values", "indices"))
_nanmedian_t = ru.return_type("nanmedian", ("values", "indices"))
_mode_t = ru.return_type("mode", ("values", "indices"))


def _dim(input: Tensor, dim: int) -> int:
    return _wrap_dim(dim, input.ndim)  # (a 0-d tensor takes dim 0 or -1)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *,
         stable: Any = _UNSET) -> Any:
    """``(values, indices)`` of ``input`` sorted along ``dim`` (stably; NaN counts as largest)."""
    op = Sort if stable is _UNSET else SortStable
    return _sort_t(*op.apply(input, dim=_dim(input, dim), descending=descending))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim``."""
    d = _dim(input, dim)
    a = input._data
    xp = get_array_module(a)
    if a.ndim == 0:
        return Tensor._make(xp.zeros((), "int64"))
    return Tensor._make(_order(xp, a, d, descending).astype("int64", copy=False))


def msort(input: Tensor) -> Tensor:
    """``input`` sorted along its first dimension (the values of ``sort(input, 0)``)."""
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices."""
    d = _dim(input, dim)
    if input.dtype is _dt.bool:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    return _topk_t(*Topk.apply(input, k=k, dim=d, largest=largest, sorted=sorted))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The ``k``-th smallest element along ``dim`` (1-based) and its index."""
    d = _dim(input, dim)
    _no_bool("kthvalue_cpu", input)
    ru.check_nonempty("kthvalue", input, (d,))
    n = input.shape[d] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    return _kthvalue_t(*Kthvalue.apply(input, k=k, dim=d, keepdim=keepdim))


def _median(name: str, all_op: type, dim_op: type, result: type, input: Tensor, dim: Any,
            keepdim: bool) -> Any:
    if dim is None:
        _no_bool("median_cpu", input)
        return all_op.apply(input)
    _no_bool("median_out", input)
    d = _dim(input, dim)
    ru.check_nonempty(name, input, (d,))
    return result(*dim_op.apply(input, dim=d, keepdim=keepdim))


@ru.axis_alias
def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The (lower) median of all elements, or ``(values, indices)`` along ``dim``; NaN wins."""
    return _median("median", MedianAll, MedianDim, _median_t, input, dim, keepdim)


@ru.axis_alias
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """:func:`median` ignoring NaN (NaN only where everything is NaN)."""
    return _median("nanmedian", NanmedianAll, NanmedianDim, _nanmedian_t, input, dim, keepdim)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """The most frequent value along ``dim`` (the smallest among equals) and its last index."""
    d = _dim(input, dim)
    ru.check_nonempty("mode", input, (d,))
    return _mode_t(*Mode.apply(input, dim=d, keepdim=keepdim))


def _no_bool(kernel: str, input: Tensor) -> None:
    if input.dtype is _dt.bool:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _with_node(op: type, input: Tensor, outputs: tuple) -> Any:
    if input.requires_grad and input.is_floating_point():
        out = op.apply(input, outputs=outputs)
    else:
        out = tuple(Tensor._make(o) for o in outputs)
    return out if len(outputs) > 1 else out[0] if isinstance(out, tuple) else out


def _check_unique_dim(a: Any, d: int) -> None:
    if any(s == 0 for i, s in enumerate(a.shape) if i != d):
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")


def _results(values: Any, inverse: Any, counts: Any, return_inverse: bool,
             return_counts: bool) -> tuple:
    out = [values]
    if return_inverse:
        out.append(inverse.astype("int64", copy=False))
    if return_counts:
        out.append(counts.astype("int64", copy=False))
    return tuple(out)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct elements of ``input`` (or slices along ``dim``), sorted, with the inverse
    mapping and the counts on request. (Like torch on CPU, the result is sorted either way.)"""
    a = input._data
    xp = get_array_module(a)
    if dim is None:
        flat = a.reshape(-1)
        values, inverse, counts = xp.unique(flat, return_inverse=True, return_counts=True,
                                            equal_nan=False)
        inverse = inverse.reshape(a.shape)
        op = Unique
    else:
        d = _wrap_dim(dim, a.ndim)
        _check_unique_dim(a, d)
        if a.shape[d] == 0:
            values, inverse, counts = a, xp.zeros(0, "int64"), xp.zeros(0, "int64")
        else:
            values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True,
                                                axis=d, equal_nan=False)
            inverse = inverse.reshape(-1)
        op = UniqueDim
    outs = _results(values, inverse, counts, return_inverse, return_counts)
    return _with_node(op, input, outs)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """Collapses each run of equal consecutive elements (or slices along ``dim``) to one."""
    a = input._data
    xp = get_array_module(a)
    d = 0 if dim is None else _wrap_dim(dim, a.ndim)
    if dim is not None:
        _check_unique_dim(a, d)
    work = a.reshape(-1) if dim is None else xp.moveaxis(a, d, 0)
    n = work.shape[0]
    starts = xp.ones(n, bool)
    if n > 1:
        differs = work[1:] != work[:-1]
        starts[1:] = differs.reshape(n - 1, -1).any(axis=1) if differs.ndim > 1 else differs
    values = work[starts]
    if dim is not None:
        values = xp.moveaxis(values, 0, d)
    inverse = xp.cumsum(starts) - 1
    if dim is None:
        inverse = inverse.reshape(a.shape)
    counts = xp.diff(xp.append(xp.flatnonzero(starts), n))
    outs = _results(xp.ascontiguousarray(values), inverse, counts, return_inverse, return_counts)
    return _with_node(UniqueConsecutive, input, outs)


def _unique_method(self: Tensor, sorted: bool = True, return_inverse: bool = False,
                   return_counts: bool = False, dim: int | None = None) -> Any:
    return unique(self, sorted, return_inverse, return_counts, dim)


__all__ = [
    "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "unique",
    "unique_consecutive",
]
TENSOR_METHODS = {name: globals()[name] for name in __all__}
TENSOR_METHODS["unique"] = _unique_method
