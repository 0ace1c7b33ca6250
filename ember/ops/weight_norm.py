"""Weight normalisation: ``norm_except_dim`` and ``_weight_norm`` (w = g * v / ||v||), the op
behind ``nn.utils.weight_norm`` and ``nn.utils.parametrizations.weight_norm``."""
from __future__ import annotations

from typing import Any

from ._op import Op
from ..graph.grad_mode import state as _grad_state
from ..tensor import Tensor

__all__ = ["norm_except_dim", "_weight_norm"]


def _other_axes(ndim: int, dim: int) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i != dim)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dimension but ``dim``, kept with size 1 (``dim=-1``:
    over all of ``v``, a 0-d tensor)."""
    if dim == -1:
        return v.norm(pow)
    axes = _other_axes(v.ndim, dim if dim >= 0 else dim + v.ndim)
    return v.norm(pow, dim=axes, keepdim=True) if axes else v.abs() if pow != 0 else v.ne(0).to(
        v.dtype)


class WeightNormInterface(Op, name="WeightNormInterfaceBackward0"):
    """torch's fused CPU kernel for ``dim`` 0 or the last dimension: w = v * (g / ||v||)."""

    @staticmethod
    def forward(ctx, v, g, *, dim):
        xp = ctx.xp
        axes = _other_axes(v.ndim, dim)
        norm = xp.sqrt((v * v).sum(axis=axes, keepdims=True)) if axes else xp.abs(v)
        norm = norm.astype(v.dtype, copy=False)
        ctx.axes = axes
        ctx.save_for_backward(v, g, norm)
        return v * (g / norm)

    @staticmethod
    def backward(ctx, grad):
        v, g, norm = ctx.saved_tensors
        need_v, need_g = ctx.needs_input_grad
        axes = ctx.axes
        if _grad_state.enabled:  # create_graph: the norm as a function of v, for double backward
            norm = (v * v).sum(dim=axes, keepdim=True).sqrt() if axes else v.abs()
        # the component of grad along v, per slice: sum(grad * v) over the normed dims
        along = (grad * v).sum(dim=axes, keepdim=True) if axes else grad * v
        grad_g = along / norm if need_g else None
        grad_v = None
        if need_v:
            grad_v = (g / norm) * (grad - v * (along / (norm * norm)))
        return grad_v, grad_g


def _weight_norm(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """``v * (g / norm_except_dim(v, 2, dim))``: one fused node for ``dim`` 0 or the last
    dimension (torch's CPU kernel), the composition otherwise."""
    ndim = v.ndim
    if dim is not None and dim >= 0 and (dim == 0 or dim == ndim - 1) and ndim > 0:
        return WeightNormInterface.apply(v, g, dim=dim)
    if dim is not None and dim < -1:
        dim += ndim
    return v * (g / norm_except_dim(v, 2, -1 if dim is None else dim))


TENSOR_METHODS: dict[str, Any] = {}
