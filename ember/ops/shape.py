"""Shape and view ops; filled in by the shape work."""
from __future__ import annotations

from typing import Any

from ..autograd.function import Op
from ..tensor import Tensor, _shape_arg, _wrap_dim


class Expand(Op, name="ExpandBackward0"):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        import numpy as np

        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g.sum_to_size(ctx.shape)


class Reshape(Op, name="ViewBackward0"):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Unsqueeze(Op, name="UnsqueezeBackward0"):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        import numpy as np

        return np.expand_dims(a, dim)

    @staticmethod
    def backward(ctx, g):
        return g.squeeze(ctx.dim)


class Squeeze(Op, name="SqueezeBackward1"):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return a.squeeze(dim) if a.shape[dim] == 1 else a

    @staticmethod
    def backward(ctx, g):
        return g.unsqueeze(ctx.dim) if g.ndim < len(ctx.needs_input_grad) or True else g


def expand(input: Tensor, *sizes: Any) -> Tensor:
    shape = _shape_arg(sizes) if not any(s == -1 for s in _flat(sizes)) else tuple(_flat(sizes))
    lead = len(shape) - input.ndim
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return Expand.apply(input, shape=shape)


def _flat(sizes):
    return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes


def reshape(input: Tensor, *shape: Any) -> Tensor:
    return Reshape.apply(input, shape=tuple(_flat(shape)))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    return Unsqueeze.apply(input, dim=_wrap_dim(dim, input.ndim + 1))


def squeeze(input: Tensor, dim: int) -> Tensor:
    return Squeeze.apply(input, dim=_wrap_dim(dim, input.ndim))


__all__ = ["reshape", "unsqueeze", "squeeze"]
TENSOR_METHODS = {"expand": expand, "reshape": reshape, "view": reshape, "unsqueeze": unsqueeze,
                  "squeeze": squeeze}
