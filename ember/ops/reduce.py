"""Reductions; filled in by the reductions work. ``sum_to_size`` serves the engine's un-broadcast."""
from __future__ import annotations

from typing import Any

from ..autograd.function import Op
from ..tensor import Tensor, Size
from ._util import dims_arg


class Sum(Op, name="SumBackward0"):
    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.shape = a.shape
        return a.sum(dtype=dtype) if a.dtype.kind not in "biu" else a.sum(dtype="int64")

    @staticmethod
    def backward(ctx, g):
        return g.expand(ctx.shape)


class SumDim(Op, name="SumBackward1"):
    @staticmethod
    def forward(ctx, a, axes, keepdim=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if dtype is None and a.dtype.kind in "biu":
            dtype = "int64"
        return a.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            for ax in ctx.axes:
                g = g.unsqueeze(ax)
        return g.expand(ctx.shape)


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    """Sums ``input`` over ``dim`` (all dimensions when None)."""
    npd = None if dtype is None else dtype.np
    if dim is None:
        return Sum.apply(input, dtype=npd)
    return SumDim.apply(input, axes=dims_arg(dim, input.ndim), keepdim=keepdim, dtype=npd)


def sum_to_size(input: Tensor, *size: Any) -> Tensor:
    """Sums ``input`` down to ``size`` (the reverse of broadcasting ``size`` to input's shape)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, Size)) else size
    lead = input.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and input.shape[lead + i] != 1
    )
    if not axes:
        return input
    out = SumDim.apply(input, axes=axes, keepdim=True)
    return out.reshape(shape) if lead else out


__all__ = ["sum"]
TENSOR_METHODS = {"sum": sum, "sum_to_size": sum_to_size}
