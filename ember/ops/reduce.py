"""Reductions: sum, mean, prod, max/min in all their forms, all/any, logsumexp, softmax.

``sum_to_size`` also serves the engine, which sums every broadcast gradient back with it. The
backwards take masks and signs as constants computed from the saved data (they are piecewise
constant) and everything else through ember ops, so that they differentiate again. var/std/norm
live in ``stats.py`` and the cumulative ops in ``cumulative.py``.
"""
from __future__ import annotations

import builtins
import functools
from typing import Any

from ._op import Op
from ..backend import get_array_module, sum_to_axes
from ..dtypes import EXTENSION_NP
from ..tensor import Size, Tensor, _wrap_dim
from . import _reduce_util as ru
from ._util import float_array
from .inplace import type_name


class _AllDims:
    """Default ``dim`` of sum/mean: torch records ``x.sum()`` as SumBackward0, but an explicit
    ``x.sum(dim=None)`` as SumBackward1."""

    def __repr__(self) -> str:
        return "None"


_ALL = _AllDims()
_max_t = ru.return_type("max", ("values", "indices"))
_min_t = ru.return_type("min", ("values", "indices"))
_aminmax_t = ru.return_type("aminmax", ("min", "max"))


# -- sum, mean, prod, nansum ---------------------------------------------------------------------


class Sum(Op, name="SumBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, axes=None, keepdim=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        out = ru.int64_dtype(a, dtype)
        return a.sum(axis=axes, keepdims=keepdim, dtype=ru.acc_dtype(out)).astype(out, copy=False)

    @staticmethod
    def backward(ctx, g):
        if ctx.axes is not None:
            g = ru.keep(g, ctx.shape, ctx.axes, ctx.keepdim)
        return ctx.F.expand(g, ctx.shape)


class SumDim(Sum, name="SumBackward1"):
    pass


class Mean(Op, name="MeanBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, axes, keepdim=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        out = a.dtype if dtype is None else dtype
        n = a.size if len(axes) == a.ndim else ru.count(a.shape, axes)
        with ctx.backend.errors_quiet():
            s = a.sum(axis=axes, keepdims=keepdim, dtype=ru.acc_dtype(out))
            return (s / n).astype(out, copy=False)

    @staticmethod
    def backward(ctx, g):
        g = ru.keep(g, ctx.shape, ctx.axes, ctx.keepdim)
        return ctx.F.mean_backward(g, ctx.shape, ru.count(ctx.shape, ctx.axes))


class MeanDim(Mean, name="MeanBackward1"):
    pass


class Prod(Op, name="ProdBackward0"):
    @staticmethod
    def forward(ctx, a, *, axis=None, keepdim=False, dtype=None):
        ctx.axis, ctx.keepdim = axis, keepdim
        out_dtype = ru.int64_dtype(a, dtype)
        out = ctx.xp.asarray(a.prod(axis=axis, keepdims=keepdim, dtype=ru.acc_dtype(out_dtype)),
                             dtype=out_dtype)
        ctx.has_zero = bool((a == 0).any())
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        if ctx.axis is None:  # over every element: a prod over dim 0 of the flattened input
            if not ctx.has_zero:
                return g * out / x
            return g * ru.others_product(x.reshape(-1), 0, False).reshape(x.shape)
        axes = (ctx.axis,)
        g = ru.keep(g, x.shape, axes, ctx.keepdim)
        if not ctx.has_zero:
            return g * ru.keep(out, x.shape, axes, ctx.keepdim) / x
        return g * ru.others_product(x, ctx.axis, False)


class ProdDim(Prod, name="ProdBackward1"):
    pass


class Nansum(Op, name="NansumBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, keepdim=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.save_for_backward(a)
        out = ru.int64_dtype(a, dtype)
        return ctx.xp.nansum(a, axis=axes, keepdims=keepdim, dtype=ru.acc_dtype(out)).astype(out)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        not_nan = ru.const(~get_array_module(x._data).isnan(x._data), g)
        return ru.keep(g, ctx.shape, ctx.axes, ctx.keepdim) * not_nan


@ru.axis_alias
def sum(input: Tensor, dim: Any = _ALL, keepdim: bool = False, *,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """Sums ``input`` over ``dim`` (an int, a tuple of ints, or None for all dimensions)."""
    npd = ru.np_dtype(dtype)
    ru.check_grad_dtype(input, ru.int64_dtype(input._data, npd))
    if dim is _ALL and not keepdim:
        return Sum.apply(input, dtype=npd)
    dim = None if dim is _ALL else dim
    return SumDim.apply(input, axes=ru.reduce_axes(input, dim), keepdim=keepdim, dtype=npd)


def sum_to_size(input: Tensor, *size: Any) -> Tensor:
    """Sums ``input`` down to ``size`` (the reverse of broadcasting ``size`` to input's shape)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, Size)) else size
    axes = sum_to_axes(input.shape, shape)
    if not axes:
        return input
    out = SumDim.apply(input, axes=axes, keepdim=True)
    return out.reshape(shape) if input.ndim > len(shape) else out


@ru.axis_alias
def mean(input: Tensor, dim: Any = _ALL, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """Mean of ``input`` over ``dim`` (all dimensions when None); needs a floating dtype."""
    npd = input._data.dtype
    if dim is _ALL and not keepdim and dtype is None and npd.kind == "f":  # a loss's x.mean()
        return Mean.apply(input, axes=tuple(range(input._data.ndim)), dtype=npd)
    if dtype is None:
        ru.require_float(input, "mean(): could not infer output dtype. Input dtype must be "
                                "either a floating point or complex dtype. Got: ")
        npd = input._data.dtype
    else:
        npd = ru.np_dtype(dtype)
        if npd.kind != "f":
            raise RuntimeError("mean(): could not infer output dtype. Optional dtype must be "
                               f"either a floating point or complex dtype. Got: {type_name(npd)}")
    op = Mean if dim is _ALL and not keepdim else MeanDim
    dim = None if dim is _ALL else dim
    return op.apply(input, axes=ru.reduce_axes(input, dim), keepdim=keepdim, dtype=npd)


@ru.axis_alias
def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """Product of the elements of ``input``, over dimension ``dim`` if given."""
    npd = ru.np_dtype(dtype)
    ru.check_grad_dtype(input, ru.int64_dtype(input._data, npd))
    if dim is None:
        return Prod.apply(input, dtype=npd)
    if not isinstance(dim, int):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    d = _wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return ProdDim.apply(input, dtype=npd)
    return ProdDim.apply(input, axis=d, keepdim=keepdim, dtype=npd)


@ru.axis_alias
def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *,
           dtype: Any = None) -> Tensor:
    """Sum of ``input`` over ``dim``, treating NaN as zero."""
    npd = ru.np_dtype(dtype)
    return Nansum.apply(input, axes=ru.reduce_axes(input, dim), keepdim=keepdim, dtype=npd)


@ru.axis_alias
def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *,
            dtype: Any = None) -> Tensor:
    """Mean of the non-NaN elements of ``input`` over ``dim``."""
    ru.require_float(input, "nanmean(): expected input to have floating point or complex dtype but "
                          "got ")
    axes = ru.reduce_axes(input, dim)
    xp = get_array_module(input._data)
    n = (~xp.isnan(input._data)).sum(axis=axes, keepdims=keepdim)
    return nansum(input, axes, keepdim, dtype=dtype) / Tensor._make(n)


# -- max, min, amax, amin, argmax, argmin, aminmax -----------------------------------------------


class Amax(Op, name="AmaxBackward0"):
    _fn, _nan_ties = "amax", False

    @staticmethod
    def forward(ctx, a, *, axes, keepdim=False):
        ctx.axes, ctx.keepdim = axes, keepdim
        out = ctx.xp.asarray(getattr(ctx.xp, ctx._fn)(a, axis=axes, keepdims=keepdim))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return ru.keep(g, x.shape, ctx.axes, ctx.keepdim) * ru.tie_weights(x, out, ctx.axes,
                                                                        ctx._nan_ties)


class Amin(Amax, name="AminBackward0"):
    _fn = "amin"


class MaxAll(Amax, name="MaxBackward1"):
    _nan_ties = True


class MinAll(Amax, name="MinBackward1"):
    _fn, _nan_ties = "amin", True


class MaxDim(Op, name="MaxBackward0"):
    _fn = "argmax"

    @staticmethod
    def forward(ctx, a, *, dim, keepdim=False):
        xp = ctx.xp
        ctx.shape, ctx.dim, ctx.keepdim = a.shape, dim, keepdim
        if a.ndim == 0:
            idx = xp.zeros((), "int64")
            values = a.copy()
        else:  # argmax/argmin return the first extremum, and the first nan, as torch does
            idx = getattr(xp, ctx._fn)(a, axis=dim, keepdims=True).astype("int64")
            values = xp.take_along_axis(a, idx, axis=dim)
            ctx.idx = idx
            if not keepdim:
                idx, values = idx.squeeze(dim), values.squeeze(dim)
        ctx.mark_non_differentiable(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g, _):
        if not ctx.shape:
            return g
        xp = get_array_module(ctx.idx)
        n = ctx.shape[ctx.dim]
        pos = xp.arange(n).reshape((n,) + (1,) * (len(ctx.shape) - ctx.dim - 1))
        axes = (ctx.dim,)
        return ru.keep(g, ctx.shape, axes, ctx.keepdim) * ru.const(pos == ctx.idx, g)


class MinDim(MaxDim, name="MinBackward0"):
    _fn = "argmin"


class Aminmax(Op, name="AminmaxBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, keepdim=False):
        ctx.axes, ctx.keepdim = axes, keepdim
        lo = ctx.xp.asarray(ctx.xp.amin(a, axis=axes, keepdims=keepdim))
        hi = ctx.xp.asarray(ctx.xp.amax(a, axis=axes, keepdims=keepdim))
        ctx.save_for_backward(a, lo, hi)
        return lo, hi

    @staticmethod
    def backward(ctx, g_lo, g_hi):
        x, lo, hi = ctx.saved_tensors
        keep = functools.partial(ru.keep, shape=x.shape, axes=ctx.axes, keepdim=ctx.keepdim)
        return (keep(g_lo) * ru.tie_weights(x, lo, ctx.axes, False)
                + keep(g_hi) * ru.tie_weights(x, hi, ctx.axes, False))


def _extremum(name: str, input: Tensor, dim: Any, keepdim: bool, other: Any) -> Any:
    if other is not None or isinstance(dim, Tensor):
        from . import compare

        binary = compare.maximum if name == "max" else compare.minimum
        return binary(input, other if other is not None else dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            "(Tensor, keepdim=bool)")
        ru.check_nonempty(name, input, None)
        op = MaxAll if name == "max" else MinAll
        return op.apply(input, axes=ru.reduce_axes(input, None))
    d = _wrap_dim(dim, input.ndim)
    ru.check_nonempty(name, input, (d,))
    values, indices = (MaxDim if name == "max" else MinDim).apply(input, dim=d, keepdim=keepdim)
    return (_max_t if name == "max" else _min_t)(values, indices)


@ru.axis_alias
def max(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False, *,  # noqa: A001
        other: Tensor | None = None) -> Any:
    """The maximum of all elements; ``(values, indices)`` along ``dim``; or, given another
    tensor, the element-wise maximum."""
    return _extremum("max", input, dim, keepdim, other)


@ru.axis_alias
def min(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False, *,  # noqa: A001
        other: Tensor | None = None) -> Any:
    """The minimum of all elements; ``(values, indices)`` along ``dim``; or, given another
    tensor, the element-wise minimum."""
    return _extremum("min", input, dim, keepdim, other)


def _amax_amin(op: type, name: str, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    axes = ru.reduce_axes(input, dim)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None or len(dim) == 0:
        if input.numel() == 0:
            ru.check_nonempty(name, input, None)
    else:  # torch names the empty dim as it was given, not wrapped
        ru.check_nonempty(name, input, [_wrap_dim(d, input.ndim) for d in dim], dim)
    return op.apply(input, axes=axes, keepdim=keepdim)


@ru.axis_alias
def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dimensions when empty); ties share the gradient evenly."""
    return _amax_amin(Amax, "amax", input, dim, keepdim)


@ru.axis_alias
def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dimensions when empty); ties share the gradient evenly."""
    return _amax_amin(Amin, "amin", input, dim, keepdim)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """``(min, max)`` of ``input``, over ``dim`` if given."""
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
    else:
        d = _wrap_dim(dim, input.ndim)
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
    axes = ru.reduce_axes(input, dim)
    return _aminmax_t(*Aminmax.apply(input, axes=axes, keepdim=keepdim))


def _arg_extremum(name: str, input: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    a = input._data
    if a.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    xp = get_array_module(a)
    if dim is None:
        if a.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        r = xp.asarray(getattr(xp, name)(a))
        if keepdim:
            r = r.reshape((1,) * a.ndim)
    else:
        d = _wrap_dim(dim, a.ndim)
        ru.check_nonempty(name, input, (d,))
        r = xp.zeros((), "int64") if a.ndim == 0 else getattr(xp, name)(a, axis=d,
                                                                          keepdims=keepdim)
    return Tensor._make(r.astype("int64", copy=False))


@ru.axis_alias
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum, in the flattened input when ``dim`` is None."""
    return _arg_extremum("argmax", input, dim, keepdim)


@ru.axis_alias
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum, in the flattened input when ``dim`` is None."""
    return _arg_extremum("argmin", input, dim, keepdim)




# -- logsumexp, softmax, log_softmax -------------------------------------------------------------


class Logsumexp(Op, name="LogsumexpBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, keepdim):
        xp = ctx.xp
        ctx.axes, ctx.keepdim = axes, keepdim
        x = float_array(a)
        if x.size:  # shift by the max for stability, but not by an infinite one (inf - inf)
            m = xp.amax(x, axis=axes, keepdims=True)
            m = xp.where(xp.isinf(m), 0, m).astype(x.dtype, copy=False)
        else:
            m = xp.zeros(ru.kept_shape(x.shape, axes), x.dtype)
        with ru.quiet(x):
            out = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        if not keepdim:
            out = out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))
        out = xp.asarray(out)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        k = functools.partial(ru.keep, shape=x.shape, axes=ctx.axes, keepdim=ctx.keepdim)
        return k(g) * (x - k(out)).exp()


@ru.axis_alias
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow."""
    return Logsumexp.apply(input, axes=ru.reduce_axes(input, dim), keepdim=keepdim)


class Softmax(Op, name="SoftmaxBackward0"):
    on_arrays = True
    _log = False

    @staticmethod
    def forward(ctx, a, *, dim, dtype=None):
        ctx.dim = dim
        x = a if dtype is None else a.astype(dtype)
        y = (x.reshape(1) if x.ndim == 0 else x).astype(ru.acc_dtype(x.dtype), copy=False)
        if y.size:  # (an empty max has no identity)
            with ctx.backend.errors_quiet():
                y = ctx.backend.softmax(y, dim, ctx._log)
        out = y.reshape(x.shape).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return ctx.F.softmax_backward(g, y, ctx.dim, ctx._log)


class LogSoftmax(Softmax, name="LogSoftmaxBackward0"):
    _log = True


def _softmax_call(op: type, name: str, input: Tensor, dim: int, dtype: Any) -> Tensor:
    d = _wrap_dim(dim, input.ndim)
    npd = ru.np_dtype(dtype)
    kind = (npd or input._data.dtype).kind
    if kind != "f" and (npd or input._data.dtype) not in EXTENSION_NP:  # (bfloat16: "V")
        kernel = "lastdim_kernel_impl" if d == builtins.max(input.ndim - 1, 0) else "kernel_impl"
        raise NotImplementedError(f'"{name}_{kernel}" not implemented for '
                                  f"'{type_name(npd or input._data.dtype)}'")
    return op.apply(input, dim=d if input.ndim else 0, dtype=npd)


@ru.axis_alias
def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``exp(input)`` normalised to sum to 1 along ``dim``; ``dtype`` casts the input first."""
    return _softmax_call(Softmax, "softmax", input, dim, dtype)


@ru.axis_alias
def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``log(softmax(input, dim))``, computed stably."""
    return _softmax_call(LogSoftmax, "log_softmax", input, dim, dtype)


# -- all, any, count_nonzero (no gradient) -------------------------------------------------------


def _logical(name: str, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    a = input._data
    xp = get_array_module(a)
    out_dtype = "uint8" if a.dtype == "uint8" else "bool"  # torch keeps uint8 for legacy reasons
    if isinstance(dim, (tuple, list, Size)) and len(dim) == 0:
        r = a != 0  # torch reduces over no dims here, not all of them
    else:
        r = getattr(xp, name)(a, axis=ru.reduce_axes(input, dim), keepdims=keepdim)
    return Tensor._make(xp.asarray(r).astype(out_dtype, copy=False))


@ru.axis_alias
def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether all elements are non-zero, over ``dim`` (everything when None)."""
    return _logical("all", input, dim, keepdim)


@ru.axis_alias
def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether any element is non-zero, over ``dim`` (everything when None)."""
    return _logical("any", input, dim, keepdim)


@ru.axis_alias
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of non-zero elements, over ``dim`` (everything when None)."""
    a = input._data
    xp = get_array_module(a)
    r = (a != 0).sum(axis=ru.reduce_axes(input, dim), dtype="int64")
    return Tensor._make(xp.asarray(r))


__all__ = [
    "sum", "mean", "prod", "nansum", "nanmean", "max", "min", "amax", "amin", "aminmax",
    "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "all", "any", "count_nonzero",
]
TENSOR_METHODS = {
    "sum": sum, "sum_to_size": sum_to_size, "mean": mean, "prod": prod, "nansum": nansum,
    "nanmean": nanmean, "max": max, "min": min, "amax": amax, "amin": amin, "aminmax": aminmax,
    "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp, "softmax": softmax,
    "log_softmax": log_softmax, "all": all, "any": any, "count_nonzero": count_nonzero,
}
