"""Reducing scatters and the rest of the scatter family: scatter_reduce (sum, prod, mean, amax,
amin; include_self), index_reduce, masked_scatter and put.

A reduction runs as one unbuffered ufunc ``at`` over all the scattered elements. The backward
formulas follow torch's: sum and mean pass the gradient through (mean divided by each target's
count); prod divides the result by each factor, with zeros handled exactly; amax/amin share the
gradient evenly among the elements equal to the result.
"""
from __future__ import annotations

import warnings
from typing import Any

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from . import _reduce_util as ru
from .compare import where
from .inplace import apply_inplace, type_name
from .scatter import _check_index, _grid, _lead, _pad_to, _vector_index

_REDUCES = {"sum": "sum", "prod": "prod", "mean": "mean", "amax": "amax", "amin": "amin",
            "max": "amax", "min": "amin"}  # (torch also takes max and min)


def _identity(xp: Any, reduce: str, dtype: Any) -> Any:
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -xp.inf if reduce == "amax" else xp.inf
    info = xp.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:  # bool
        return reduce == "amin"
    return info.min if reduce == "amax" else info.max


def _scatter_reduce(xp: Any, a: Any, src: Any, key: tuple, reduce: str,
                    include_self: bool) -> tuple[Any, Any]:
    """The reduced copy of ``a``, and the per-position count of contributors (mean)."""
    out = a.copy()
    if not include_self:
        out[key] = _identity(xp, reduce, a.dtype)
    ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum,
             "amin": xp.minimum}[reduce]
    ufunc.at(out, key, src)
    count = None
    if reduce == "mean":
        count = xp.full(a.shape, 1 if include_self else 0, "int64")
        xp.add.at(count, key, 1)
        count = xp.maximum(count, 1)
        if a.dtype.kind == "f":
            out = (out / count).astype(a.dtype, copy=False)
        else:
            out = xp.floor_divide(out, count).astype(a.dtype, copy=False)
    return out, count


class ScatterReduce(Op, name="ScatterReduceBackward0"):
    @staticmethod
    def forward(ctx, a, src, *, dim, index, reduce, include_self):
        ctx.dim, ctx.index, ctx.reduce, ctx.include_self = dim, index, reduce, include_self
        key = _grid(index, dim)
        values = src[_lead(index.shape)]
        out, ctx.count = _scatter_reduce(ctx.xp, a, values, key, reduce, include_self)
        ctx.shape, ctx.src_shape = a.shape, src.shape
        if reduce in ("prod", "amax", "amin"):  # (sum and mean need no values)
            ctx.save_for_backward(a, src, out)
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_src = ctx.needs_input_grad[:2]
        dim, index, reduce = ctx.dim, ctx.index, ctx.reduce
        idx = Tensor._make(index)
        if reduce in ("prod", "amax", "amin"):
            x, src, out = ctx.saved_tensors
            src_used = src[tuple(slice(0, s) for s in index.shape)] \
                if src.shape != index.shape else src

        def gather(t: Tensor) -> Tensor:
            return t.gather(dim, idx)

        if reduce == "sum":
            gx, gs = g, gather(g)
        elif reduce == "mean":
            gx = g / ru.const(ctx.count, g)
            gs = gather(gx)
        elif reduce == "prod":
            gx, gs = _prod_grads(g, x, src_used, out, dim, idx, ctx.include_self)
        else:  # amax / amin: shared evenly among the elements equal to the result
            value = gather(out)
            x_is = ru.const((x._data == out._data), g)
            src_is = ru.const((src_used._data == value._data), g)
            n = x_is.scatter_add(dim, idx, src_is)
            shared = g / n
            gx, gs = x_is * shared, src_is * gather(shared)
        if not ctx.include_self:  # the scattered-to positions never saw input
            xp = get_array_module(index)
            hit = xp.zeros(ctx.shape, bool)
            hit[_grid(index, dim)] = True
            gx = where(ru.const(hit), 0.0, gx)
        return (gx if need_x else None), (_pad_to(gs, ctx.src_shape) if need_src else None)


def _prod_grads(g: Tensor, x: Tensor, src: Tensor, out: Tensor, dim: int, idx: Tensor,
                include_self: bool) -> tuple[Tensor, Tensor]:
    """Gradients of a scattered product: each factor's gradient is the product of the others,
    ``out / factor`` where the factor is non-zero, else the product of the other factors (0 when
    another factor is 0 too)."""
    xp = get_array_module(x._data)
    src_zero = src._data == 0
    x_zero = (x._data == 0) if include_self else xp.zeros(x.shape, bool)
    zeros_at = xp.zeros(x.shape, "int64")
    xp.add.at(zeros_at, _grid(idx._data, dim), src_zero.astype("int64"))  # zeros per position
    # the product of the non-zero sources at each position (1 where none), and of input too
    ones = x.new_ones(x.shape)
    nonzero_src = where(ru.const(src_zero), 1.0, src)
    prod_src = ones.scatter_reduce(dim, idx, nonzero_src, "prod", include_self=False)
    x_factor = where(ru.const(x_zero), 1.0, x) if include_self else ones
    gx = where(ru.const(x_zero), where(ru.const(zeros_at == 0), prod_src, 0.0),
               out / where(ru.const(x_zero), 1.0, x))
    key = _grid(idx._data, dim)
    alone = (zeros_at[key] == 1) & ~x_zero[key]
    others_of_zero = where(ru.const(alone), (x_factor * prod_src).gather(dim, idx), 0.0)
    gs = where(ru.const(src_zero), others_of_zero, out.gather(dim, idx) / nonzero_src)
    return g * gx, g.gather(dim, idx) * gs


def _reduce_name(reduce: str) -> str:
    name = _REDUCES.get(reduce)
    if name is None:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    return name


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Reduces ``src`` into a copy of ``input`` at ``index`` along ``dim`` with ``reduce``
    (``"sum"``, ``"prod"``, ``"mean"``, ``"amax"``, ``"amin"``); ``include_self=False`` leaves
    input's own values out where anything is scattered."""
    name = _reduce_name(reduce)
    d = _check_index("scatter", input, dim, index, src)
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return ScatterReduce.apply(input, src, dim=d, index=index._data, reduce=name,
                               include_self=include_self)


class IndexReduce(ScatterReduce, name="IndexReduceBackward0"):
    pass


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """Reduces the slices of ``source`` into a copy of ``input`` at the 1-d ``index`` along
    ``dim`` with ``reduce`` (``"prod"``, ``"mean"``, ``"amax"``, ``"amin"``)."""
    warnings.warn("index_reduce() is in beta and the API may change at any time.", UserWarning,
                  stacklevel=2)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError("index_reduce(): Expected reduce to be one of prod, mean, amax or amin "
                           f"but got {reduce}.")
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        got = type_name(index) if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"index_reduce_(): Expected dtype int32/int64 for index but got: {got}")
    d, idx = _vector_index("index_reduce_", input, dim, index)
    n_src = source.shape[d] if source.ndim else 1
    if len(idx) != n_src:
        raise RuntimeError(f"index_reduce_(): Number of indices ({len(idx)}) should be equal to "
                           f"source.size(dim): ({n_src}), for dim: {d}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_reduce_(): self ({type_name(input)}) and source "
                           f"({type_name(source)}) must have the same scalar type")
    n = input.shape[d] if input.ndim else 1
    if ((idx < 0) | (idx >= n)).any():  # (negative indices too, unlike index_add)
        raise IndexError("index out of range in self")
    xp = get_array_module(idx)
    shape = [1] * source.ndim
    if source.ndim:
        shape[d] = -1
    full = xp.broadcast_to(idx.reshape(shape), source.shape).astype("int64")
    return IndexReduce.apply(input, source, dim=d, index=xp.ascontiguousarray(full),
                             reduce=reduce, include_self=include_self)


# -- masked_scatter, put ------------------------------------------------------------------------


class MaskedScatter(Op, name="MaskedScatterBackward0"):
    @staticmethod
    def forward(ctx, a, src, *, mask):
        ctx.mask, ctx.src_shape = mask, src.shape
        out = a.copy()
        count = int(mask.sum())
        out[mask] = src.reshape(-1)[:count]
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        mask = ru.const(ctx.mask)
        ga = where(mask, 0.0, g) if need_a else None
        gs = None
        if need_src:
            picked = g.masked_select(mask)
            numel = 1
            for s in ctx.src_shape:
                numel *= s
            gs = _pad_to(picked, (numel,)).reshape(ctx.src_shape)
        return ga, gs


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """Copies ``source``'s elements, in order, into a copy of ``input`` where ``mask`` is True."""
    if mask.dtype is not _dt.bool:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{type_name(mask)}")
    if source.dtype is not input.dtype:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but got"
                           f"{type_name(input)} and {type_name(source)}")
    xp = get_array_module(input._data)
    from ._util import broadcast_shape

    shape = broadcast_shape(input.shape, mask.shape)
    if shape != tuple(input.shape):
        input = input.expand(shape)
    m = xp.broadcast_to(mask._data, shape)
    if int(m.sum()) > source.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return MaskedScatter.apply(input, source, mask=xp.ascontiguousarray(m))


class Put(Op, name="PutBackward0"):
    @staticmethod
    def forward(ctx, a, src, *, index, accumulate):
        ctx.index, ctx.accumulate, ctx.src_shape = index, accumulate, src.shape
        out = a.copy()
        flat = out.reshape(-1)  # (a view of the fresh copy)
        if accumulate:
            ctx.xp.add.at(flat, index, src.reshape(-1))
        else:
            flat[index] = src.reshape(-1)
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        idx = Tensor._make(ctx.index)
        ga = None
        if need_a:
            ga = g if ctx.accumulate else g.put(idx, g.new_zeros(ctx.index.shape))
        gs = g.take(idx).reshape(ctx.src_shape) if need_src else None
        return ga, gs


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``source`` written (or added) at flat indices ``index``."""
    if index.dtype is not _dt.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {type_name(index)}")
    if source.dtype is not input.dtype:
        raise RuntimeError("put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {type_name(input)} and source.dtype = "
                           f"{type_name(source)}")
    if source.numel() != index.numel():
        raise IndexError("put_(): Expected source and index to have the same number of elements, "
                         f"but got source.numel() = {source.numel()}, index.numel() = "
                         f"{index.numel()}")
    n = input.numel()
    idx = index._data.reshape(-1)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(idx[bad][0])} on a tensor of "
                         f"{n} elements.")
    return Put.apply(input, source, index=idx % n if n else idx, accumulate=accumulate)


def _inplace(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply_inplace(self, lambda s: fn(s, *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of :meth:`Tensor.{fn.__name__}`."
    return method


__all__ = ["scatter_reduce", "index_reduce", "masked_scatter", "put"]
TENSOR_METHODS = {name: globals()[name] for name in __all__}
TENSOR_METHODS.update({name + "_": _inplace(globals()[name]) for name in __all__})
