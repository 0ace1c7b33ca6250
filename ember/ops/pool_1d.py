"""1-d pooling, power-average pooling and max unpooling.

1-d pooling is 2-d pooling over planes of height 1, as torch computes it (an unsqueeze, the 2-d
op, a squeeze: the same ``grad_fn``). Power-average pooling is torch's composite of average
pooling. Max unpooling writes each value at its flat index into a zero plane (a scatter over all
planes at once); its gradient gathers there.
"""
from __future__ import annotations

import math
from typing import Any

from ._op import Op
from ..tensor import Tensor
from .inplace import type_name
from . import pool as _pool
from .pool_nd import avg_pool3d, max_pool3d


class _Unpool(Op):
    """Max unpooling: ``x`` written at the flat plane indices ``idx`` of a zero output; the
    gradient gathers ``g`` there (and that gather's gradient is this op again)."""

    @staticmethod
    def forward(ctx, x, idx, *, size):
        xp = ctx.xp
        nd = len(size)
        ctx.nd_ = nd
        lead = x.shape[:-nd]
        planes, plane = math.prod(lead), math.prod(size)
        flat_idx = idx.reshape(planes, -1) if planes else idx.reshape(0, 0)
        bad = (flat_idx < 0) | (flat_idx >= plane)
        if bad.any():
            dims = "x".join(str(s) for s in size)
            raise RuntimeError(f"Found an invalid max index: {int(flat_idx[bad][0])} (output "
                               f"volumes are of size {dims})")
        ctx.save_for_backward(idx)
        out = xp.zeros((planes, plane), dtype=x.dtype)
        xp.put_along_axis(out, flat_idx, x.reshape(planes, -1), axis=1)
        return out.reshape(tuple(lead) + tuple(size))

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        lead = idx.shape[:-ctx.nd_]
        flat_idx = idx.reshape(*lead, math.prod(idx.shape[-ctx.nd_:]))
        return g.reshape(*lead, -1).gather(-1, flat_idx).reshape(idx.shape), None


class MaxUnpool2d(_Unpool, name="MaxUnpool2DBackward0"):
    pass


class MaxUnpool3d(_Unpool, name="MaxUnpool3DBackward0"):
    pass


# -- 1-d: the 2-d ops over planes of height 1 ------------------------------------------------------


def _single(value: Any, op: str, name: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise RuntimeError(f"{op}() {name} must be an int, list of ints or tuple of ints of "
                               f"size 1 but got size {len(value)}")
        return (1, int(value[0]))
    return (1, int(value))


def _check_1d(op: str, input: Tensor, message: bool = False) -> None:
    if input.ndim not in (2, 3):
        if message:
            raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                               f"batch size for input, but got:{list(input.shape)}")
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for {op})")


def _lift(out: Any) -> Any:
    if isinstance(out, tuple):
        return tuple(t.squeeze(-2) for t in out)
    return out.squeeze(-2)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-d max pooling over ``(N, C, L)`` or ``(C, L)``; indices index ``L``."""
    _check_1d("max_pool1d", input, message=True)
    if not return_indices and not input.is_floating_point():  # (torch's no-grad kernel)
        raise NotImplementedError(f"\"max_pool1d_impl\" not implemented for "
                                  f"'{type_name(input)}'")
    k = _single(kernel_size, "max_pool1d", "kernel_size")
    s = k if stride is None or stride == [] else _single(stride, "max_pool1d", "stride")
    p = (0, _single(padding, "max_pool1d", "padding")[1])
    d = _single(dilation, "max_pool1d", "dilation")
    n = input.shape[-1]
    out = _pool._pool_output(n, k[1], p[1], max(s[1], 1), d[1], ceil_mode)
    if s[1] > 0 and k[1] > 0 and d[1] > 0 and p[1] >= 0 and out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    return _lift(_pool.max_pool2d(input.unsqueeze(-2), k, s, p, d, ceil_mode, return_indices))


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None,
                            padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple:
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """1-d average pooling over ``(N, C, L)`` or ``(C, L)``."""
    _check_1d("avg_pool1d", input)
    k = _single(kernel_size, "avg_pool1d", "kernel_size")
    s = k if stride is None or stride == [] else _single(stride, "avg_pool1d", "stride")
    p = (0, _single(padding, "avg_pool1d", "padding")[1])
    return _pool.avg_pool2d(input.unsqueeze(-2), k, s, p, ceil_mode,
                            count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of ``(N, C, L)`` to ``output_size`` over torch's adaptive windows."""
    _check_1d("adaptive_avg_pool1d", input)
    size = _single(output_size, "adaptive_avg_pool1d", "output_size")
    return _pool.adaptive_avg_pool2d(input.unsqueeze(-2), size).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of ``(N, C, L)`` to ``output_size``."""
    _check_1d("adaptive_max_pool1d", input)
    size = _single(output_size, "adaptive_max_pool1d", "output_size")
    return _lift(_pool.adaptive_max_pool2d(input.unsqueeze(-2), size, return_indices))


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple:
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple:
    return _pool.adaptive_max_pool2d(input, output_size, True)


# -- power-average pooling -------------------------------------------------------------------------


def _lp(input: Tensor, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool,
        nd: int) -> Tensor:
    max_pool = {1: max_pool1d, 2: _pool.max_pool2d, 3: max_pool3d}[nd]
    if norm_type == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * nd
    avg = {1: avg_pool1d, 2: _pool.avg_pool2d, 3: avg_pool3d}[nd]
    out = avg(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    # torch's formula: sign(out) * relu(|out|) keeps the gradient 0 where a window sums to 0
    return (out.sign() * out.abs().relu()).mul(math.prod(k)).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: ``(sum over the window of x**p) ** (1/p)``."""
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """2-d power-average pooling."""
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """3-d power-average pooling."""
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, 3)


# -- max unpooling ---------------------------------------------------------------------------------


def _unpool_size(input: Tensor, kernel: tuple, stride: tuple, padding: tuple,
                 output_size: Any) -> list:
    nd = len(kernel)
    default = [(input.shape[-nd + d] - 1) * stride[d] + kernel[d] - 2 * padding[d]
               for d in range(nd)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == nd + 2:
        output_size = output_size[2:]
    if len(output_size) != nd:
        raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                         f"elements, but it has a length of '{len(output_size)}'")
    for d in range(nd):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between '
                             f"{lo} and {hi})")
    return [int(n) for n in output_size]


def _nd(value: Any, nd: int) -> tuple:
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * nd


def _unpool(op: type, input: Tensor, indices: Tensor, size: list) -> Tensor:
    if indices.dtype.name != "int64":
        raise RuntimeError(f"elements in indices should be type int64 but got: "
                           f"{type_name(indices)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    return op.apply(input, indices, size=tuple(size))


def _unpool_args(input: Tensor, kernel_size: Any, stride: Any, padding: Any, output_size: Any,
                 nd: int) -> list:
    kernel = _nd(kernel_size, nd)
    stride = kernel if stride is None else _nd(stride, nd)
    return _unpool_size(input, kernel, stride, _nd(padding, nd), output_size)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Partial inverse of ``max_pool1d``: each value written at its index, zeros elsewhere."""
    size = _unpool_args(input, kernel_size, stride, padding, output_size, 1)
    return _unpool(MaxUnpool2d, input.unsqueeze(-1), indices.unsqueeze(-1),
                   size + [1]).squeeze(-1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Partial inverse of ``max_pool2d`` (indices into each ``H*W`` plane)."""
    return _unpool(MaxUnpool2d, input, indices,
                   _unpool_args(input, kernel_size, stride, padding, output_size, 2))


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Partial inverse of ``max_pool3d`` (indices into each ``D*H*W`` volume)."""
    return _unpool(MaxUnpool3d, input, indices,
                   _unpool_args(input, kernel_size, stride, padding, output_size, 3))


# the names torch also has at top level (torch.max_pool1d, ...); the rest are nn.functional's
__all__ = ["max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
           "max_pool1d_with_indices"]
TENSOR_METHODS: dict = {}
