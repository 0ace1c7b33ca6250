"""Spread and size of a tensor: var, std, var_mean, std_mean, norm and linalg.vector_norm."""
from __future__ import annotations

import builtins
import warnings
from typing import Any

from ._op import Op
from ..backend import get_array_module
from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru
from .inplace import type_name

_INF = float("inf")


# -- var, std, var_mean, std_mean ----------------------------------------------------------------


def _var_forward(ctx, a, axes, correction, keepdim, name):
    """Returns (var, mean in keepdim form) of ``a`` over ``axes``."""
    ctx.axes, ctx.correction, ctx.keepdim = axes, correction, keepdim
    ctx.save_for_backward(a)
    xp = ctx.xp
    n = ru.count(a.shape, axes)
    if n - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=6)
    with ru.quiet(a):
        m = a.mean(axis=axes, keepdims=True, dtype=ru.acc_dtype(a.dtype))
        dev = a - m
        var = (dev * dev).sum(axis=axes, keepdims=keepdim) / builtins.max(0, n - correction)
        return xp.asarray(var, dtype=a.dtype), m.astype(a.dtype, copy=False)


def _var_backward(ctx, g: Tensor, x: Tensor) -> Tensor:
    """d var / dx = 2 (x - mean) / (N - correction)."""
    from .reduce import mean

    # unlike the forward's max(0, N - correction), torch's backward divides by N - correction
    dof = ru.count(x.shape, ctx.axes) - ctx.correction
    scale = 2.0 / dof if dof else _INF
    g = ru.keep(g, x.shape, ctx.axes, ctx.keepdim)
    return g * (x - mean(x, ctx.axes, True)) * scale


def _mean_backward(ctx, g: Tensor, x: Tensor) -> Tensor:
    return ru.keep(g, x.shape, ctx.axes, ctx.keepdim) / ru.count(x.shape, ctx.axes)


def _std_to_var_grad(g: Tensor, std: Tensor) -> Tensor:
    # d std = d var / (2 std); torch takes it as 0 where std == 0 (a constant input)
    return ru.safe_div(g, std * 2)


class Var(Op, name="VarBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdim):
        return _var_forward(ctx, a, axes, correction, keepdim, "var")[0]

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _var_backward(ctx, g, x)


class Std(Op, name="StdBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdim):
        var = _var_forward(ctx, a, axes, correction, keepdim, "std")[0]
        out = ctx.xp.asarray(ctx.xp.sqrt(var))  # ufuncs turn 0-d arrays into scalars
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, std = ctx.saved_tensors
        return _var_backward(ctx, _std_to_var_grad(g, std), x)


class VarMean(Op, name="VarMeanBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdim):
        var, m = _var_forward(ctx, a, axes, correction, keepdim, "var_mean")
        return var, m.reshape(var.shape)

    @staticmethod
    def backward(ctx, g_var, g_mean):
        (x,) = ctx.saved_tensors
        return _var_backward(ctx, g_var, x) + _mean_backward(ctx, g_mean, x)


class StdMean(Op, name="StdMeanBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, correction, keepdim):
        var, m = _var_forward(ctx, a, axes, correction, keepdim, "std_mean")
        std = ctx.xp.asarray(ctx.xp.sqrt(var))
        ctx.save_for_backward(a, std)
        return std, m.reshape(var.shape)

    @staticmethod
    def backward(ctx, g_std, g_mean):
        x, std = ctx.saved_tensors
        g = _var_backward(ctx, _std_to_var_grad(g_std, std), x)
        return g + _mean_backward(ctx, g_mean, x)


def _var_call(name: str, op: type, input: Tensor, dim: Any, unbiased: Any, keepdim: bool,
              correction: Any) -> Any:
    if isinstance(dim, bool):  # the legacy form var(unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: "
                        "'unbiased' and 'correction' cannot both be given")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if not input.is_floating_point():
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return op.apply(input, axes=ru.reduce_axes(input, dim), correction=correction,
                    keepdim=keepdim)


@ru.axis_alias
def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim``, dividing by ``N - correction`` (Bessel's correction by default)."""
    return _var_call("var", Var, input, dim, unbiased, keepdim, correction)


@ru.axis_alias
def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation over ``dim``, with ``correction`` as in :func:`var`."""
    return _var_call("std", Std, input, dim, unbiased, keepdim, correction)


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: float | None = None) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim`` in one pass."""
    return _var_call("var_mean", VarMean, input, dim, unbiased, keepdim, correction)


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: float | None = None) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim`` in one pass."""
    return _var_call("std_mean", StdMean, input, dim, unbiased, keepdim, correction)


# -- norms ---------------------------------------------------------------------------------------


class VectorNorm(Op, name="LinalgVectorNormBackward0"):
    @staticmethod
    def forward(ctx, a, *, ord, axes, keepdim, dtype):
        xp = ctx.xp
        ctx.ord, ctx.axes, ctx.keepdim = ord, axes, keepdim
        x = a if dtype is None else a.astype(dtype)
        with ru.quiet(x):
            if ord == 2 and x.dtype.char in "fd" and len(set(axes)) == x.ndim \
                    and x.flags.c_contiguous:
                # the whole of a real float array (clip_grad_norm_'s case): one BLAS dot, a
                # pass without the squares' temporary (5x faster on 262,144 floats, and closer
                # to the exact norm than torch's float32 reduction)
                flat = x.reshape(-1)
                out = xp.sqrt(xp.dot(flat, flat))
                if keepdim:
                    out = out.reshape((1,) * x.ndim)
            elif ord == 2:
                out = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
            elif ord == 0:
                out = (x != 0).sum(axis=axes, keepdims=keepdim)
            elif ord == _INF or ord == -_INF:
                out = (xp.amax if ord > 0 else xp.amin)(xp.abs(x), axis=axes, keepdims=keepdim)
            elif ord == 1:
                out = xp.abs(x).sum(axis=axes, keepdims=keepdim)
            else:
                out = (xp.abs(x)**ord).sum(axis=axes, keepdims=keepdim) ** (1.0 / ord)
        out = xp.asarray(out, dtype=x.dtype)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return _norm_backward(g, x, out, ctx.ord, ctx.axes, ctx.keepdim)


def _norm_backward(g: Tensor, x: Tensor, out: Tensor, p: float, axes: tuple,
                   keepdim: bool) -> Tensor | None:
    """The gradient of the p-norm; subgradient 0 at zero entries and at a zero norm, as torch."""
    from .compare import where

    if p == 0:
        return None  # piecewise constant: torch gives no gradient at all
    xp = get_array_module(x._data)
    g, out = ru.keep(g, x.shape, axes, keepdim), ru.keep(out, x.shape, axes, keepdim)
    sgn = ru.const(xp.nan_to_num(xp.sign(x._data), nan=0.0))
    if p == 1:
        return g * sgn
    if p == _INF or p == -_INF:
        absx, o = xp.abs(x._data), out._data
        mask = (absx == o) | xp.isnan(absx)
        with ru.quiet(absx):
            weights = mask / mask.sum(axis=axes, keepdims=True)
        return g * sgn * ru.const(weights, g)
    if p == 2:
        return x * ru.safe_div(g, out)
    absx = x * sgn  # |x| with sign(x) a constant: d|x| = sign(x) dx, 0 at x == 0
    if p < 1:  # |x|**(p - 1) blows up at 0, where torch takes the gradient as 0
        zero = ru.const(x._data == 0)
        scaled = where(zero, 0.0, sgn * where(zero, 1.0, absx) ** (p - 1))
        return scaled * g * out ** (1 - p)
    return sgn * absx ** (p - 1) * ru.safe_div(g, out ** (p - 1))


def vector_norm(x: Tensor, ord: float = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """The vector ``ord``-norm of ``x`` over ``dim`` (all elements when None)."""
    if not x.is_floating_point():
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {type_name(x)}")
    ord = float(ord)
    axes = ru.reduce_axes(x, dim)
    if abs(ord) == _INF and x.numel() == 0:
        name = "inf" if ord > 0 else "-inf"
        if dim is None or (not isinstance(dim, int) and len(dim) == 0):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on an empty "
                               "tensor because the operation does not have an identity")
        for d in [dim] if isinstance(dim, int) else dim:
            if x.shape[_wrap_dim(d, x.ndim)] == 0:  # (torch's message lacks the space)
                raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on the "
                                   f"dimension {d}because this dimension is empty and the "
                                   "operation does not have an identity")
    return VectorNorm.apply(x, ord=ord, axes=axes, keepdim=keepdim, dtype=ru.np_dtype(dtype))


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, out: Any = None,
         dtype: Any = None) -> Tensor:
    """The ``p``-norm of ``input`` over ``dim``; ``'fro'`` (the default) is the 2-norm."""
    if out is not None:
        raise NotImplementedError("ember.norm: out= is not supported")
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(f"ember.norm: p='{p}' is not supported yet")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


__all__ = ["var", "std", "var_mean", "std_mean", "norm"]
TENSOR_METHODS = {"var": var, "std": std, "norm": norm}
