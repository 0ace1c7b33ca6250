"""The remaining BLAS-style products, addr (``beta * input + alpha * outer(vec1, vec2)``) and
addbmm (``beta * input + alpha * sum_b batch1[b] @ batch2[b]``), and renorm (each slice along a
dim rescaled to a p-norm of at most ``maxnorm``), each one node as in torch."""
from __future__ import annotations

from typing import Any

from ._op import Op
from .. import dtypes as _dt
from ..tensor import Tensor, _wrap_dim
from . import _reduce_util as ru
from .inplace import _inplace_method, type_name
from .linalg import _check_expand, _need_tensors
from .stats import _norm_backward

Number = Any


def _scalars(kernel_dtype: Any, beta: Number, alpha: Number) -> tuple:
    """torch's checks of ``beta``/``alpha`` against the result dtype, as Python numbers."""
    beta = beta.item() if isinstance(beta, Tensor) else beta
    alpha = alpha.item() if isinstance(alpha, Tensor) else alpha
    if kernel_dtype.kind in "iub":
        for s in (beta, alpha):
            if isinstance(s, float) and kernel_dtype.kind != "b":
                raise RuntimeError("For integral input tensors, argument alpha must not be a "
                                   "floating point number.")
    return beta, alpha


class Addr(Op, name="AddrBackward0"):
    on_arrays = True
    _promote = True

    @staticmethod
    def forward(ctx, c, v1, v2, *, beta, alpha):
        xp = ctx.xp
        ctx.beta, ctx.alpha = beta, alpha
        _, need_v1, need_v2 = ctx.needs_input_grad
        ctx.save_for_backward(v1 if need_v2 else None, v2 if need_v1 else None)
        shape = (v1.shape[0], v2.shape[0])
        if c.dtype.kind == "b":  # logical: (beta and input) or (alpha and v1 & v2)
            out = xp.logical_and(v1[:, None], v2[None, :]) if alpha else xp.zeros(shape, bool)
            return xp.logical_or(out, c) if beta else xp.broadcast_to(out, shape).copy()
        out = xp.multiply.outer(v1, v2)
        if alpha != 1:
            out = out * alpha
        if beta != 0:  # beta == 0 ignores input, NaNs included
            out = out + (c if beta == 1 else c * beta)
        return xp.asarray(out, dtype=c.dtype)

    @staticmethod
    def backward(ctx, g):
        v1, v2 = ctx.saved
        need_c, need_v1, need_v2 = ctx.needs_input_grad
        beta, alpha = ctx.beta, ctx.alpha
        F = ctx.F
        gc = (g if beta == 1 else g * beta) if need_c else None
        g1 = g2 = None
        if need_v1:
            g1 = F.mm(g, v2)
            g1 = g1 if alpha == 1 else g1 * alpha
        if need_v2:
            g2 = F.mm(g, v1, True)
            g2 = g2 if alpha == 1 else g2 * alpha
        return gc, g1, g2


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Number = 1,
         alpha: Number = 1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``, with ``input`` broadcast to the product."""
    _need_tensors("addr", input=input, vec1=vec1, vec2=vec2)
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    rd = _dt.result_type(input, vec1, vec2)
    beta, alpha = _scalars(rd.np, beta, alpha)
    _check_expand(input, (vec1.shape[0], vec2.shape[0]))
    return Addr.apply(input, vec1, vec2, beta=beta, alpha=alpha)


class Addbmm(Op, name="AddbmmBackward0"):
    on_arrays = True

    @staticmethod
    def forward(ctx, c, b1, b2, *, beta, alpha):
        ctx.beta, ctx.alpha = beta, alpha
        _, need_b1, need_b2 = ctx.needs_input_grad
        ctx.save_for_backward(b1 if need_b2 else None, b2 if need_b1 else None)
        n, k, p = b1.shape[1], b1.shape[2], b2.shape[2]
        # the batch sum is one GEMM: (n, B*k) @ (B*k, p)
        out = ctx.xp.matmul(b1.transpose(1, 0, 2).reshape(n, -1), b2.reshape(-1, p)) \
            if b1.shape[0] * k else ctx.xp.zeros((n, p), b1.dtype)
        if out.dtype.kind != "f":
            beta, alpha = int(beta), int(alpha)
        if alpha != 1:
            out = out * alpha
        if beta != 0:
            out = out + (c if beta == 1 else c * beta)
        return ctx.xp.asarray(out, dtype=b1.dtype)

    @staticmethod
    def backward(ctx, g):
        b1, b2 = ctx.saved
        need_c, need_b1, need_b2 = ctx.needs_input_grad
        beta, alpha = ctx.beta, ctx.alpha
        F = ctx.F
        gc = (g if beta == 1 else g * beta) if need_c else None
        g1 = g2 = None
        if need_b1:  # every batch's product saw the same output gradient
            g1 = F.mm(g, b2, False, True)
            g1 = g1 if alpha == 1 else g1 * alpha
        if need_b2:
            g2 = F.mm(b1, g, True)
            g2 = g2 if alpha == 1 else g2 * alpha
        return gc, g1, g2


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Number = 1,
           alpha: Number = 1) -> Tensor:
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``: ``batch1`` (B, n, k), ``batch2``
    (B, k, p), ``input`` broadcast to (n, p)."""
    _need_tensors("addbmm", input=input, batch1=batch1, batch2=batch2)
    for t in (batch1, batch2):
        if t.ndim != 3:
            _wrap_dim(2, t.ndim)  # torch's IndexError for a missing dim
            raise RuntimeError(f"expected 3D tensor, got {t.ndim}D")
    s1, s2 = batch1.shape, batch2.shape
    if s1[0] != s2[0] or s1[2] != s2[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({s1[1]}x{s1[2]} and "
                           f"{s2[1]}x{s2[2]})")
    _check_expand(input, (s1[1], s2[2]))
    if batch1.dtype is not batch2.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{type_name(batch1)} and {type_name(batch2)}")
    if input.dtype is not batch1.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {type_name(input)} "
                           f"and {type_name(batch2)}")
    if batch1.dtype is _dt.bool:
        raise RuntimeError("\"addbmm_impl_cpu_\" not implemented for 'Bool'")
    beta, alpha = _scalars(batch1.dtype.np, beta, alpha)
    return Addbmm.apply(input, batch1, batch2, beta=beta, alpha=alpha)


# -- renorm --------------------------------------------------------------------------------------


class Renorm(Op, name="RenormBackward0"):
    @staticmethod
    def forward(ctx, a, *, p, dim, maxnorm):
        xp = ctx.xp
        ctx.p, ctx.maxnorm = p, maxnorm
        ctx.axes = tuple(d for d in range(a.ndim) if d != dim)
        ctx.save_for_backward(a)
        x = a.astype(ru.acc_dtype(a.dtype), copy=False)
        absx = xp.abs(x)
        with ru.quiet(x):
            if p == float("inf"):
                norm = (absx.max(axis=ctx.axes, keepdims=True) if absx.size
                        else xp.zeros([1 if d in ctx.axes else n for d, n in enumerate(a.shape)],
                                      absx.dtype))
            elif p == 1:
                norm = absx.sum(axis=ctx.axes, keepdims=True)
            elif p == 2:
                norm = xp.sqrt((x * x).sum(axis=ctx.axes, keepdims=True))
            else:
                norm = (absx ** p).sum(axis=ctx.axes, keepdims=True) ** (1.0 / p)
            factor = xp.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).astype(x.dtype)
        return (x * factor).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        # out = x * f(norm) where the norm exceeds maxnorm, f = maxnorm / (norm + eps):
        # d out = f dx + x f'(norm) d norm, f' = -f / (norm + eps)
        from .compare import where
        from .stats import vector_norm

        (x,) = ctx.saved_tensors
        axes = ctx.axes
        norm = vector_norm(x, ctx.p, axes, True)
        nb = _norm_backward((x * g).sum(axes, keepdim=True), x, norm, ctx.p, axes, True)
        inv = (norm + 1e-7).reciprocal()
        factor = inv * ctx.maxnorm
        return where(norm > ctx.maxnorm, factor * g - (factor * inv) * nb, g)


def renorm(input: Tensor, p: Number, dim: int, maxnorm: Number) -> Tensor:
    """``input`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down
    to norm ``maxnorm``."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    d = _wrap_dim(dim, input.ndim)
    if not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {type_name(input)}")
    return Renorm.apply(input, p=float(p), dim=d, maxnorm=float(maxnorm))


__all__ = ["addr", "addbmm", "renorm"]
TENSOR_METHODS: dict = {name: globals()[name] for name in __all__}
for _name in __all__:
    TENSOR_METHODS[_name + "_"] = _inplace_method(_name)
