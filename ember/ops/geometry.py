"""trace, cdist and torch.cross (recorded as torch records it, LinalgCrossBackward0)."""
from __future__ import annotations

import math
import warnings

from ._op import Op
from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru
from .compare import where
from ._util import broadcast_shape
from .inplace import type_name


class Trace(Op, name="TraceBackward0"):
    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        out = ru.int64_dtype(a, None)
        return ctx.xp.asarray(ctx.xp.trace(a, dtype=ru.acc_dtype(out))).astype(out, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g._data)
        eye = xp.eye(ctx.shape[0], ctx.shape[1], dtype=g._data.dtype)
        return g * ru.const(eye)


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-d tensor (int64 for integer inputs)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.dtype is _dt.bool:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return Trace.apply(input)


# -- cdist -------------------------------------------------------------------------------------

_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
          "donot_use_mm_for_euclid_dist")


class Cdist(Op, name="CdistBackward0"):
    @staticmethod
    def forward(ctx, a, b, *, p, use_mm):
        xp = ctx.xp
        ctx.p = p
        if p == 2 and use_mm:
            # |a|^2 + |b|^2 - 2 a.b, as torch's matrix-product path computes it
            sq = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :]
            out = xp.sqrt(xp.maximum(sq - 2 * (a @ xp.swapaxes(b, -1, -2)), 0))
        else:
            diff = xp.abs(a[..., :, None, :] - b[..., None, :, :])
            if p == 0:
                out = (diff != 0).sum(-1).astype(a.dtype)
            elif p == 1:
                out = diff.sum(-1)
            elif p == 2:
                out = xp.sqrt((diff * diff).sum(-1))
            elif math.isinf(p):
                out = diff.max(-1) if diff.shape[-1] else xp.zeros(diff.shape[:-1], a.dtype)
            else:
                out = (diff ** p).sum(-1) ** (1 / p)
        out = xp.asarray(out, dtype=a.dtype)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # d out_ij / d a_i = w(a_i - b_j) for each p, with w zero where the distance is zero
        a, b, out = ctx.saved_tensors
        p = ctx.p
        need_a, need_b = ctx.needs_input_grad
        diff = a.unsqueeze(-2) - b.unsqueeze(-3)
        zero = ru.const(out._data == 0).unsqueeze(-1)
        d = where(zero, 1.0, out.unsqueeze(-1))
        if p == 0:
            w = diff * 0
        elif p == 1:
            w = diff.sign()
        elif p == 2:
            w = diff / d
        elif math.isinf(p):
            hit = ru.const(diff.abs()._data == out.unsqueeze(-1)._data)
            w = diff.sign() * hit
        else:
            w = diff * diff.abs() ** (p - 2) / d ** (p - 1)
        w = where(zero, 0.0, w) * g.unsqueeze(-1)
        return (w.sum(-2) if need_a else None), (-w.sum(-3) if need_b else None)


class EuclideanDist(Cdist, name="EuclideanDistBackward0"):
    """cdist's matrix-product path, which torch records under its own name, then a view."""


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` (``... x P x M``) and each row of
    ``x2`` (``... x R x M``): a ``... x P x R`` tensor; batch dims broadcast."""
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} "
                           f"X2: {x2.shape[-1]}")
    for name, t in (("X1", x1), ("X2", x2)):
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{type_name(t)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if x1.dtype is _dt.float16:
        raise NotImplementedError("\"cdist\" not implemented for 'Half'")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"expected scalar type {type_name(x1)} but found {type_name(x2)}")
    batch = broadcast_shape(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    if tuple(x1.shape[:-2]) != batch:
        x1 = x1.expand(batch + tuple(x1.shape[-2:]))
    if tuple(x2.shape[:-2]) != batch:
        x2 = x2.expand(batch + tuple(x2.shape[-2:]))
    rows1, rows2 = x1.shape[-2], x2.shape[-2]
    use_mm = compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and (rows1 > 25 or rows2 > 25))
    if use_mm and p == 2:
        out = EuclideanDist.apply(x1, x2, p=2.0, use_mm=True)
        return out.view(out.shape)
    return Cdist.apply(x1, x2, p=float(p), use_mm=False)


# -- cross ----------------------------------------------------------------------------------------


class Cross(Op, name="LinalgCrossBackward0"):
    @staticmethod
    def forward(ctx, a, b, *, dim):
        ctx.dim = dim
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return ctx.xp.asarray(ctx.xp.cross(a, b, axis=dim))

    @staticmethod
    def backward(ctx, g):
        # a x b is linear in each: d(a x b) . g = a . (b x g) = b . (g x a)
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (Cross.apply(b, g, dim=ctx.dim) if need_a else None,
                Cross.apply(g, a, dim=ctx.dim) if need_b else None)


def _cross(input: Tensor, other: Tensor, dim: int) -> Tensor:
    if input.dtype is _dt.bool and other.dtype is _dt.bool:
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected scalar type {type_name(input)} but found "
                           f"{type_name(other)}")
    d = _wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    shape = broadcast_shape(tuple(input.shape), tuple(other.shape))
    a = input if tuple(input.shape) == shape else input.expand(shape)
    b = other if tuple(other.shape) == shape else other.expand(shape)
    return Cross.apply(a, b, dim=d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (without ``dim``: the first dim of size 3,
    deprecated in torch; ``linalg.cross`` defaults to the last)."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease "
                      "either pass the dim explicitly or simply use torch.linalg.cross.\nThe "
                      "default value of dim will change to agree with that of linalg.cross in a "
                      "future release.", UserWarning, stacklevel=2)
        shape = broadcast_shape(tuple(input.shape), tuple(other.shape)) \
            if input.ndim == other.ndim else tuple(input.shape)
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        dim = dims[0]
    return _cross(input, other, dim)


__all__ = ["trace", "cdist", "cross"]
TENSOR_METHODS = {"trace": trace, "cross": cross}
