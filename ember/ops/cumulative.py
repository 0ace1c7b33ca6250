"""Cumulative ops along one dimension: cumsum, cumprod, cummax, cummin."""
from __future__ import annotations

from typing import Any

from ._op import Op
from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru


class Cumsum(Op, name="CumsumBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, dtype=None, reverse=False):
        ctx.dim, ctx.reverse = dim, reverse
        out = ru.int64_dtype(a, dtype)
        if a.ndim == 0:
            return a.astype(out)
        xp = ctx.xp
        if reverse:  # sums from the end: the backward of cumsum (and cumsum is its backward)
            a = xp.flip(a, dim)
        r = xp.cumsum(a, axis=dim, dtype=ru.acc_dtype(out)).astype(out, copy=False)
        return xp.ascontiguousarray(xp.flip(r, dim)) if reverse else r

    @staticmethod
    def backward(ctx, g):
        return Cumsum.apply(g, dim=ctx.dim, reverse=not ctx.reverse)


class Cumprod(Op, name="CumprodBackward0"):
    @staticmethod
    def forward(ctx, a, *, dim, dtype=None):
        ctx.dim = dim
        out_dtype = ru.int64_dtype(a, dtype)
        if a.ndim == 0:
            out = a.astype(out_dtype)
        else:
            acc = ru.acc_dtype(out_dtype)
            out = ctx.xp.cumprod(a, axis=dim, dtype=acc).astype(out_dtype, copy=False)
        ctx.has_zero = bool((a == 0).any())
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        if x.ndim == 0:
            return g
        d = ctx.dim
        if not ctx.has_zero:
            # d out_k / d x_i = out_k / x_i for every k >= i
            return Cumsum.apply(g * out, dim=d, reverse=True) / x
        # with zeros: grad_i = sum over k >= i of g_k * prod(x_j for j <= k, j != i)
        xp = ctx.xp
        n = x.shape[d]
        later = xp.triu(xp.ones((n, n), dtype=bool)).reshape((n, n) + (1,) * (x.ndim - d - 1))
        partial = ru.others_product(x, d, cumulative=True)
        return (partial * (g.unsqueeze(d) * ru.const(later, g))).sum(d + 1)


class Cummax(Op, name="CummaxBackward0"):
    _ufunc = "maximum"

    @staticmethod
    def forward(ctx, a, *, dim):
        xp = ctx.xp
        ctx.dim, ctx.shape = dim, a.shape
        if a.ndim == 0:
            idx, values = xp.zeros((), "int64"), a.copy()
        else:
            values = getattr(xp, ctx._ufunc).accumulate(a, axis=dim)
            # each position takes the latest index at which the running extremum was reached:
            # torch moves the index on ties, and on every nan
            hit = a == values
            if a.dtype.kind == "f":
                hit |= xp.isnan(a)
            n = a.shape[dim]
            pos = xp.arange(n).reshape((n,) + (1,) * (a.ndim - dim - 1))
            idx = xp.maximum.accumulate(xp.where(hit, pos, 0), axis=dim).astype("int64")
        ctx.idx = idx
        ctx.mark_non_differentiable(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g, _):
        if not ctx.shape:
            return g
        return g.new_zeros(ctx.shape).scatter_add(ctx.dim, Tensor._make(ctx.idx), g)


class Cummin(Cummax, name="CumminBackward0"):
    _ufunc = "minimum"


@ru.axis_alias
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sums of ``input`` along ``dim``."""
    npd = ru.np_dtype(dtype)
    ru.check_grad_dtype(input, ru.int64_dtype(input._data, npd))
    return Cumsum.apply(input, dim=_wrap_dim(dim, input.ndim), dtype=npd)


@ru.axis_alias
def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative products of ``input`` along ``dim``."""
    npd = ru.np_dtype(dtype)
    ru.check_grad_dtype(input, ru.int64_dtype(input._data, npd))
    return Cumprod.apply(input, dim=_wrap_dim(dim, input.ndim), dtype=npd)


_cummax_t = ru.return_type("cummax", ("values", "indices"))
_cummin_t = ru.return_type("cummin", ("values", "indices"))


def _scan_dim(name: str, input: Tensor, dim: int) -> int:
    if input.ndim == 0 and dim not in (0, -1):
        raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
    return _wrap_dim(dim, input.ndim)


@ru.axis_alias
def cummax(input: Tensor, dim: int) -> Any:
    """Running maximum along ``dim`` and the index where each was reached."""
    return _cummax_t(*Cummax.apply(input, dim=_scan_dim("cummax", input, dim)))


@ru.axis_alias
def cummin(input: Tensor, dim: int) -> Any:
    """Running minimum along ``dim`` and the index where each was reached."""
    return _cummin_t(*Cummin.apply(input, dim=_scan_dim("cummin", input, dim)))


__all__ = ["cumsum", "cumprod", "cummax", "cummin"]
TENSOR_METHODS = {"cumsum": cumsum, "cumprod": cumprod, "cummax": cummax, "cummin": cummin}
